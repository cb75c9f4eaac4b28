"""tallykit: small everyday helpers (config parsing, intervals, caching, text, coding, schedules).

Each module stands alone; import the one you need, e.g. ``from tallykit.intervals import merge``.
"""

__version__ = "1.0.0"

__all__ = ["__version__"]
