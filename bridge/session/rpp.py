"""A lossless REAPER project (.RPP) document.

``parse(data).to_bytes() == data`` for every file REAPER writes, and for anything else that
parses: each physical line keeps its own text and line ending, so untouched lines come back
byte for byte, whatever their spacing, quoting, encoding or line endings. Edits rewrite only
the lines they touch, and new lines follow REAPER's own quoting rules (:func:`quote`)::

    >>> doc = parse(b'<REAPER_PROJECT 0.1 "7.0"\\n  <TRACK {A}\\n    NAME "Audio 1"\\n  >\\n>\\n')
    >>> track = doc.root.find("TRACK")
    >>> track.set("NAME", "Kick")
    <Line 3: 'NAME Kick'>
    >>> doc.to_bytes().splitlines()[2]
    b'    NAME Kick'

The structure: a line whose trimmed text starts with ``<`` opens a chunk (``<TAG args``), a
line that is ``>`` alone closes it; every other line belongs to the innermost open chunk.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

ENCODING = "utf-8"
_ERRORS = "surrogateescape"  # undecodable bytes survive the round trip untouched
_QUOTES = "\"'`"
_FLOAT = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


class RppParseError(ValueError):
    """The data is not a well-formed REAPER project.

    ``line`` is 1-based; ``chunk`` names the chunk concerned (e.g. the one left unclosed).
    """

    def __init__(self, message: str, line: int | None = None, chunk: str | None = None,
                 source: str | None = None) -> None:
        self.line = line
        self.chunk = chunk
        self.source = source
        self.message = message
        super().__init__(self._text())

    def _text(self) -> str:
        where = self.source or "project"
        if self.line is not None:
            where += f", line {self.line}"
        return f"{where}: {self.message}"

    def with_source(self, source: str) -> RppParseError:
        return RppParseError(self.message, self.line, self.chunk, source)


def tokenize(text: str) -> list[str]:
    """Split one line into tokens, keeping quote characters out of the values.

    REAPER has no escapes: a token opened by ``"``, ``'`` or a backtick runs to the next
    same character. An unterminated quote runs to the end of the line.
    """
    tokens: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in " \t":
            i += 1
            continue
        if ch in _QUOTES:
            end = text.find(ch, i + 1)
            if end < 0:
                tokens.append(text[i + 1:])
                break
            tokens.append(text[i + 1:end])
            i = end + 1
        else:
            end = i
            while end < n and text[end] not in " \t":
                end += 1
            tokens.append(text[i:end])
            i = end
    return tokens


def quote(value: str) -> str:
    """Quote a token the way REAPER does.

    Bare when it can be (no whitespace, not empty, not starting with a quote); otherwise in
    ``"``, or ``'`` if it holds ``"``, or backticks if it holds both. A value that holds all
    three gets its backticks turned into ``'`` first, as REAPER does.
    """
    if value and not any(c in " \t" for c in value) and value[0] not in _QUOTES:
        return value
    if '"' not in value:
        return f'"{value}"'
    if "'" not in value:
        return f"'{value}'"
    if "`" not in value:
        return f"`{value}`"
    return "`" + value.replace("`", "'") + "`"


def format_number(value: float | int | bool) -> str:
    """A number as REAPER writes it: integers bare, floats with up to 14 significant digits."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    text = f"{value:.14f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def format_token(value: object) -> str:
    """A value as one token: numbers in REAPER's number format, anything else quoted."""
    if isinstance(value, (int, float)):  # bool is an int too: written as 0/1
        return format_number(value)
    return quote(str(value))


@dataclass(eq=False)
class Line:
    """One physical line: its text (without the line ending) and its own line ending."""

    text: str
    eol: str = "\n"
    number: int = 0
    """1-based line number in the parsed input (0 for lines added by edits)."""
    _tokens: list[str] | None = field(default=None, repr=False)

    @property
    def tokens(self) -> list[str]:
        if self._tokens is None:
            self._tokens = tokenize(self.text)
        return self._tokens

    @property
    def key(self) -> str:
        toks = self.tokens
        return toks[0] if toks else ""

    @property
    def values(self) -> list[str]:
        return self.tokens[1:]

    @property
    def indent(self) -> str:
        return self.text[: len(self.text) - len(self.text.lstrip(" \t"))]

    def set_tokens(self, tokens: Sequence[str]) -> None:
        """Rewrite this line from already-formatted token texts, keeping indent and ending."""
        self.text = self.indent + " ".join(tokens)
        self._tokens = None

    def set_value(self, position: int, value: object) -> None:
        """Change one value (0 = the first after the key); other tokens keep their text."""
        raw = _raw_tokens(self.text)
        while len(raw) <= position + 1:
            raw.append("0")
        raw[position + 1] = format_token(value)
        self.set_tokens(raw)

    def __repr__(self) -> str:
        return f"<Line {self.number}: {self.text.strip()[:60]!r}>"


@dataclass(eq=False)
class Chunk:
    """``<TAG args`` ... ``>``: an opening line, children (lines and chunks), a closing line."""

    open: Line
    children: list[Line | Chunk] = field(default_factory=list)
    close: Line | None = None
    """None only for a chunk left unclosed in a file loaded with ``recover=True``."""

    @property
    def tag(self) -> str:
        return self.open.tokens[0][1:] if self.open.tokens else ""

    @property
    def args(self) -> list[str]:
        return self.open.tokens[1:]

    @property
    def indent(self) -> str:
        return self.open.indent

    def __repr__(self) -> str:
        return f"<Chunk {self.tag} line {self.open.number}, {len(self.children)} children>"

    # -- reading ---------------------------------------------------------------------------
    def chunks(self, tag: str | None = None) -> Iterator[Chunk]:
        """Direct child chunks, optionally only those with ``tag``."""
        for child in self.children:
            if isinstance(child, Chunk) and (tag is None or child.tag == tag):
                yield child

    def find(self, tag: str) -> Chunk | None:
        return next(self.chunks(tag), None)

    def walk(self, tag: str | None = None) -> Iterator[Chunk]:
        """This chunk and all chunks below it, depth first, in file order."""
        if tag is None or self.tag == tag:
            yield self
        for child in self.children:
            if isinstance(child, Chunk):
                yield from child.walk(tag)

    def lines(self, key: str | None = None) -> Iterator[Line]:
        """Direct child lines, optionally only those whose first token is ``key``."""
        for child in self.children:
            if isinstance(child, Line) and (key is None or child.key == key):
                yield child

    def get(self, key: str) -> Line | None:
        return next(self.lines(key), None)

    def values(self, key: str) -> list[str] | None:
        line = self.get(key)
        return None if line is None else line.values

    # -- editing ---------------------------------------------------------------------------
    def child_indent(self) -> str:
        """The indentation of this chunk's children (two spaces deeper when it has none)."""
        for child in self.children:
            text = child.open.text if isinstance(child, Chunk) else child.text
            if text.strip():
                return (child.open if isinstance(child, Chunk) else child).indent
        return self.indent + "  "

    def _eol(self) -> str:
        return self.open.eol or "\n"

    def set(self, key: str, *values: object, after: Sequence[str] = ()) -> Line:
        """Set ``KEY v1 v2 ...``: rewrite the first such line, or add one.

        A new line goes after the last line whose key is in ``after`` when there is one,
        else right after the opening line. Only that one line changes.
        """
        tokens = [key, *(format_token(v) for v in values)]
        line = self.get(key)
        if line is not None:
            line.set_tokens(tokens)
            return line
        line = Line(self.child_indent() + " ".join(tokens), self._eol())
        index = 0
        for i, child in enumerate(self.children):
            if isinstance(child, Line) and child.key in after:
                index = i + 1
        self.children.insert(index, line)
        return line

    def set_value(self, key: str, position: int, value: object) -> Line:
        """Change one value of an existing ``KEY`` line (0 = first value), others untouched.

        Untouched tokens keep their original text (quotes and number format included).
        """
        line = self.get(key)
        if line is None:
            raise KeyError(f"<{self.tag}> has no {key} line")
        line.set_value(position, value)
        return line

    def remove(self, key: str) -> int:
        """Remove every direct ``KEY`` line; returns how many went."""
        before = len(self.children)
        self.children = [c for c in self.children if not (isinstance(c, Line) and c.key == key)]
        return before - len(self.children)

    def add_chunk(self, tag: str, *args: object, lines: Sequence[Sequence[object]] = (),
                  index: int | None = None) -> Chunk:
        """Add a child chunk ``<TAG args`` with simple ``KEY values`` lines inside it."""
        indent, eol = self.child_indent(), self._eol()
        head = " ".join([f"<{tag}", *(format_token(a) for a in args)])
        chunk = Chunk(Line(indent + head, eol), close=Line(indent + ">", eol))
        for entry in lines:
            key, *vals = entry
            chunk.children.append(
                Line(indent + "  " + " ".join([str(key), *(format_token(v) for v in vals)]), eol)
            )
        self.children.insert(len(self.children) if index is None else index, chunk)
        return chunk


def _raw_tokens(text: str) -> list[str]:
    """Tokens with their quotes kept, for rewriting one value of a line losslessly."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        if text[i] in " \t":
            i += 1
            continue
        if text[i] in _QUOTES:
            end = text.find(text[i], i + 1)
            end = n if end < 0 else end + 1
        else:
            end = i
            while end < n and text[end] not in " \t":
                end += 1
        out.append(text[i:end])
        i = end
    return out


@dataclass(eq=False)
class Document:
    """A parsed project: lines before the header, the ``REAPER_PROJECT`` chunk, lines after."""

    root: Chunk
    prefix: list[Line] = field(default_factory=list)
    suffix: list[Line] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        tracks = sum(1 for _ in self.root.chunks("TRACK"))
        return f"<Document REAPER_PROJECT {' '.join(self.root.args)} {tracks} tracks>"

    @property
    def tracks(self) -> list[Chunk]:
        return list(self.root.chunks("TRACK"))

    def track(self, guid: str) -> Chunk:
        """The ``<TRACK>`` whose GUID (``<TRACK {GUID}`` or its ``TRACKID`` line) is ``guid``."""
        for chunk in self.root.chunks("TRACK"):
            ids = chunk.args[:1] or (chunk.values("TRACKID") or [])[:1]
            if ids and ids[0].upper() == guid.upper():
                return chunk
        raise KeyError(f"no <TRACK {guid}> in this project")

    def to_bytes(self) -> bytes:
        return self.to_text().encode(ENCODING, _ERRORS)

    def to_text(self) -> str:
        parts: list[str] = []
        for line in self.prefix:
            parts.append(line.text + line.eol)
        _emit(self.root, parts)
        for line in self.suffix:
            parts.append(line.text + line.eol)
        return "".join(parts)


def _emit(chunk: Chunk, parts: list[str]) -> None:
    # an explicit stack: deep nesting in hostile input must not hit Python's recursion limit
    stack: list[tuple[Chunk, int]] = [(chunk, -1)]
    while stack:
        node, i = stack.pop()
        if i < 0:
            parts.append(node.open.text + node.open.eol)
            i = 0
        while i < len(node.children):
            child = node.children[i]
            i += 1
            if isinstance(child, Chunk):
                stack.append((node, i))
                stack.append((child, -1))
                break
            parts.append(child.text + child.eol)
        else:
            if node.close is not None:
                parts.append(node.close.text + node.close.eol)


def _split_lines(text: str) -> list[Line]:
    lines: list[Line] = []
    pieces = text.split("\n")
    for number, piece in enumerate(pieces, start=1):
        last = number == len(pieces)
        if last and piece == "":
            break
        if piece.endswith("\r"):
            lines.append(Line(piece[:-1], "\r\n" if not last else "\r", number))
        else:
            lines.append(Line(piece, "" if last else "\n", number))
    return lines


def parse(data: bytes | str, *, recover: bool = False, source: str | None = None) -> Document:
    """Parse a REAPER project.

    Raises :class:`RppParseError` (with line number and chunk) on a missing header, a stray
    ``>`` or chunks left open at the end of the file. With ``recover=True`` unclosed chunks are
    accepted, each with a warning (``warnings.warn`` and ``Document.warnings``); the bytes still
    round-trip exactly, no closing lines are invented.
    """
    text = data.decode(ENCODING, _ERRORS) if isinstance(data, bytes) else data
    lines = _split_lines(text)
    prefix: list[Line] = []
    index = 0
    while index < len(lines) and not lines[index].text.lstrip(" \t").startswith("<REAPER_PROJECT"):
        prefix.append(lines[index])
        index += 1
    if index == len(lines):
        raise RppParseError("no <REAPER_PROJECT header: not a REAPER project", None, None, source)

    root = Chunk(lines[index])
    stack = [root]
    suffix: list[Line] = []
    for line in lines[index + 1:]:
        if not stack:
            suffix.append(line)
            continue
        stripped = line.text.strip(" \t\r")
        if stripped.startswith("<"):
            chunk = Chunk(line)
            stack[-1].children.append(chunk)
            stack.append(chunk)
        elif stripped == ">":
            stack.pop().close = line
        else:
            stack[-1].children.append(line)

    doc = Document(root, prefix, suffix)
    if stack:
        innermost = stack[-1]
        names = " > ".join(f"<{c.tag}> (line {c.open.number})" for c in stack)
        message = (
            f"file ends with {len(stack)} chunk(s) still open: {names}; "
            "the project looks truncated"
        )
        if not recover:
            raise RppParseError(message, innermost.open.number, innermost.tag, source)
        doc.warnings.append(message)
        warnings.warn(f"{source or 'project'}: {message} (loaded with recover=True)",
                      stacklevel=2)
    for line in suffix:
        if line.text.strip(" \t\r"):
            stripped = line.text.strip(" \t\r")
            raise RppParseError(
                f"text after the project's closing '>': {stripped[:40]!r}",
                line.number, "REAPER_PROJECT", source,
            )
    return doc


def read(path: str | bytes, *, recover: bool = False) -> Document:
    """Parse the project file at ``path``; errors name the file."""
    from pathlib import Path

    p = Path(path.decode() if isinstance(path, bytes) else path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise RppParseError(f"cannot read: {exc.strerror}", None, None, str(p)) from None
    return parse(data, recover=recover, source=str(p))


def is_number(token: str) -> bool:
    return bool(_FLOAT.match(token))
