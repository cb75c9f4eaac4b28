"""Training recipes (one readable file each, runnable with ``python -m``).

The recipes arrive with the trainer-bridge work; the package exists now so that the layout of
DESIGN.md holds and the wheel test covers it.
"""
