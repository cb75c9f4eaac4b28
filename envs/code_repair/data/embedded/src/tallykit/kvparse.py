"""An INI-style key/value configuration parser.

The format::

    # a comment            ; also a comment
    name = tallykit        # top-level keys live in the section ""
    [server]
    port = 8080
    hosts = alpha, beta
    motd = first line
      second line          (an indented line continues the previous value)
    url = http://${host}:${server:port}/

Section names and keys are case-insensitive (stored lower-case); values are stripped strings.
Typed access goes through :meth:`Config.get_int`, :meth:`Config.get_bool` and
:meth:`Config.get_list`; ``${key}`` and ``${section:key}`` references are resolved by
:meth:`Config.expand`.
"""

from __future__ import annotations

TRUE_WORDS = frozenset({"1", "yes", "true", "on"})
FALSE_WORDS = frozenset({"0", "no", "false", "off"})
MAX_EXPANSION_DEPTH = 10


class ParseError(ValueError):
    """A line that is neither a header, a pair, a comment nor a continuation."""

    def __init__(self, line_number: int, message: str) -> None:
        super().__init__(f"line {line_number}: {message}")
        self.line_number = line_number


class Config:
    """Parsed configuration: an ordered mapping of sections to ordered key/value pairs."""

    def __init__(self) -> None:
        self._sections: dict[str, dict[str, str]] = {"": {}}

    def sections(self) -> list[str]:
        """Named sections in order of first appearance (the top-level section is not listed)."""
        return [name for name in self._sections if name]

    def add_section(self, section: str) -> None:
        """Create ``section`` if it does not exist yet."""
        self._sections.setdefault(section.lower(), {})

    def has(self, section: str, key: str) -> bool:
        """Whether ``key`` is set in ``section``."""
        return key.lower() in self._sections.get(section.lower(), {})

    def get(self, section: str, key: str, default: str | None = None) -> str | None:
        """The raw value of ``key`` in ``section``, or ``default``."""
        return self._sections.get(section.lower(), {}).get(key.lower(), default)

    def set(self, section: str, key: str, value: object) -> None:
        """Set ``key`` in ``section`` (created if needed) to ``str(value)``."""
        self._sections.setdefault(section.lower(), {})[key.lower()] = str(value)

    def items(self, section: str) -> list[tuple[str, str]]:
        """The pairs of ``section`` in the order they were set."""
        return list(self._sections.get(section.lower(), {}).items())

    def get_int(self, section: str, key: str, default: int | None = None) -> int | None:
        """The value as an int (decimal, or hexadecimal with ``0x``), or ``default`` if unset."""
        raw = self.get(section, key)
        if raw is None:
            return default
        text = raw.strip().lower()
        digits = text[1:] if text.startswith("-") else text
        if digits.startswith("0x"):
            return int(text, 16)
        return int(text)

    def get_bool(self, section: str, key: str, default: bool | None = None) -> bool | None:
        """The value as a bool (yes/no, true/false, on/off, 1/0), or ``default`` if unset."""
        raw = self.get(section, key)
        if raw is None:
            return default
        word = raw.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ValueError(f"expected a boolean word for {section}:{key}, got {raw!r}")

    def get_list(self, section: str, key: str, separator: str = ",") -> list[str]:
        """The value split on ``separator``, items stripped, empty items dropped."""
        raw = self.get(section, key)
        if raw is None:
            return []
        return [item.strip() for item in raw.split(separator) if item.strip()]

    def expand(self, section: str, key: str) -> str:
        """The value with every ``${key}`` / ``${section:key}`` reference replaced.

        A bare ``${key}`` is looked up in the same section first, then at top level.

        Raises:
            KeyError: the key or a referenced key is not set.
            ValueError: a reference is unclosed or references nest too deeply (a cycle).
        """
        value = self.get(section, key)
        if value is None:
            raise KeyError(f"{section}:{key}")
        return self._expand(value, section.lower(), 0)

    def _expand(self, value: str, section: str, depth: int) -> str:
        if depth >= MAX_EXPANSION_DEPTH:
            raise ValueError("references nest too deeply (is there a cycle?)")
        pieces: list[str] = []
        start = 0
        while True:
            open_at = value.find("${", start)
            if open_at < 0:
                pieces.append(value[start:])
                break
            close_at = value.find("}", open_at + 2)
            if close_at < 0:
                raise ValueError(f"unclosed reference in {value!r}")
            pieces.append(value[start:open_at])
            reference = value[open_at + 2 : close_at]
            ref_section, colon, ref_key = reference.rpartition(":")
            if not colon:
                ref_section = section
                target = self.get(section, ref_key)
                if target is None:
                    ref_section = ""
                    target = self.get("", ref_key)
            else:
                target = self.get(ref_section, ref_key)
            if target is None:
                raise KeyError(reference)
            pieces.append(self._expand(target, ref_section.lower(), depth + 1))
            start = close_at + 1
        return "".join(pieces)

    def to_text(self) -> str:
        """Serialise back to the format :func:`parse` reads (comments are not kept)."""
        lines: list[str] = []
        for name, pairs in self._sections.items():
            if name:
                if lines:
                    lines.append("")
                lines.append(f"[{name}]")
            for key, value in pairs.items():
                first, *rest = value.split("\n")
                lines.append(f"{key} = {first}")
                lines.extend(f"    {line}" for line in rest)
        return "\n".join(lines) + "\n" if lines else ""


def _split_pair(line: str) -> tuple[str, str, str]:
    """Split at the first ``=`` or ``:``; the separator is ``""`` when there is neither."""
    positions = [index for index in (line.find("="), line.find(":")) if index >= 0]
    if not positions:
        return line, "", ""
    cut = min(positions)
    return line[:cut], line[cut], line[cut + 1 :]


def _strip_inline_comment(value: str) -> str:
    """Drop a ``#`` or ``;`` comment that follows whitespace."""
    for index, char in enumerate(value):
        if char in "#;" and index > 0 and value[index - 1] in " \t":
            return value[:index]
    return value


def parse(text: str, *, strict: bool = True) -> Config:
    """Parse configuration text.

    Args:
        text: the configuration.
        strict: reject a key set twice in one section (otherwise the last value wins).

    Raises:
        ParseError: a malformed line, with its 1-based number.
    """
    config = Config()
    section = ""
    last_key: str | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped:
            last_key = None
            continue
        if stripped[0] in "#;":
            continue
        if raw[0] in " \t" and last_key is not None:
            previous = config.get(section, last_key) or ""
            joined = f"{previous}\n{stripped}" if previous else stripped
            config.set(section, last_key, joined)
            continue
        if stripped.startswith("["):
            if not stripped.endswith("]"):
                raise ParseError(number, f"unclosed section header {stripped!r}")
            name = stripped[1:-1].strip()
            if not name:
                raise ParseError(number, "empty section name")
            section = name.lower()
            config.add_section(section)
            last_key = None
            continue
        key, separator, value = _split_pair(stripped)
        key = key.strip()
        if not separator:
            raise ParseError(number, f"expected 'key = value', got {stripped!r}")
        if not key:
            raise ParseError(number, "empty key")
        if strict and config.has(section, key):
            raise ParseError(number, f"duplicate key {key!r} in section {section!r}")
        config.set(section, key, _strip_inline_comment(value.strip()).strip())
        last_key = key
    return config
