"""Lazy whitespace tokenizer with line numbers and strict number syntax (private).

Tokens are found on demand from an offset into the text (no list of every token: a file of
``n`` characters costs its text and what the parser keeps, not ``n`` Python objects), and line
numbers are counted incrementally (``\\n`` ends a line).  Tables of numbers are read a window of
text at a time into a preallocated array whose size the text can actually hold.

Numbers are ASCII only: integers ``[+-]?[0-9]+``; reals ``[+-]?`` then digits with an optional
fraction and exponent, or ``inf`` / ``infinity`` / ``nan`` (any case) — what the files' writers
produce.  Python's ``int()`` / ``float()`` alone would also take ``1_0`` and non-ASCII digits
(``'٢'``, full-width ``'２'``), which no UAI, BIF or result file contains.
"""

import itertools
import re

import numpy as np

from ..errors import ParseError

_TOKEN = re.compile(r"\S+")
_SPACE = re.compile(r"\s")
INT = re.compile(r"[+-]?[0-9]+\Z")
FLOAT = re.compile(r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|infinity|nan)\Z",
                   re.IGNORECASE)
#: characters of text read at once by :meth:`Tokens.floats`
WINDOW = 1 << 16
#: longest token accepted (no number, keyword or name is anywhere near; a megabyte-long "token"
#: of a corrupt file is refused instead of being copied into messages)
MAX_TOKEN = 1 << 16


def strict_int(tok):
    """``int(tok)`` for an ASCII integer token, else ``ValueError``."""
    if not INT.match(tok):
        raise ValueError(f"not an integer: {tok!r}")
    return int(tok)


def strict_float(tok):
    """``float(tok)`` for an ASCII real-number token, else ``ValueError``."""
    if not FLOAT.match(tok):
        raise ValueError(f"not a number: {tok!r}")
    return float(tok)


def plain_floats(tokens):
    """``[float(t) for t in tokens]`` for ASCII number tokens, else ``ValueError``.

    For tokens without whitespace, ``float()`` on ASCII text without ``_`` accepts exactly the
    :data:`FLOAT` syntax, so one ``isascii`` / ``_`` test of the joined tokens replaces a regular
    expression per token (tables hold millions of numbers)."""
    joined = "".join(tokens)
    if not joined.isascii() or "_" in joined:
        for t in tokens:
            strict_float(t)
    return [float(t) for t in tokens]


class Lines:
    """Line number of an offset into ``text``, counted incrementally from the last question."""

    def __init__(self, text):
        self.text = text
        self._at, self._line = 0, 1

    def __call__(self, offset):
        if offset < self._at:
            self._at, self._line = 0, 1
        self._line += self.text.count("\n", self._at, offset)
        self._at = offset
        return self._line


class Tokens:
    """Sequential reader of whitespace-separated tokens with typed accessors."""

    def __init__(self, text, path=None):
        self.text = text
        self.path = path
        self.offset = 0              # where the search for the next token starts
        self.line = Lines(text)
        self._last = None            # offset of the token returned last
        self._next = _TOKEN.search(text, 0)

    @property
    def last_line(self):
        """Line of the token returned last (None before the first and after a table)."""
        return None if self._last is None else self.line(self._last)

    def error(self, message, line=None):
        if line is None:
            line = self.last_line if self._next is None else self.line(self._next.start())
        return ParseError(message, self.path, line)

    def _take(self, what):
        m = self._next
        if m is None:
            raise self.error(f"unexpected end of file: expected {what}")
        self._last = m.start()
        if m.end() - m.start() > MAX_TOKEN:
            raise self.error(f"expected {what}, got a token of {m.end() - m.start()} characters "
                             f"({short(self.text[m.start():m.start() + 40])})", self.last_line)
        self.offset = m.end()
        self._next = _TOKEN.search(self.text, self.offset)
        return m.group()

    def next(self, what):
        """``(token, line)``."""
        tok = self._take(what)
        return tok, self.last_line

    def int(self, what, minimum=None):
        tok = self._take(what)
        try:
            val = strict_int(tok)
        except ValueError:
            raise self.error(f"expected {what} (an integer), got {short(tok)}", self.last_line) from None
        if minimum is not None and val < minimum:
            raise self.error(f"{what} must be >= {minimum}, got {val}", self.last_line)
        return val

    def float(self, what):
        tok = self._take(what)
        try:
            return strict_float(tok)
        except ValueError:
            raise self.error(f"expected {what} (a number), got {short(tok)}", self.last_line) from None

    def floats(self, count, what):
        """The next ``count`` numbers as a float64 array, read a window of text at a time.

        The array is allocated only when the rest of the text could hold ``count`` numbers
        (each takes a character and a separator)."""
        text = self.text
        start = self._next.start() if self._next is not None else len(text)
        if count > (len(text) - start + 1) // 2:
            raise self.error(f"unexpected end of file: {what} needs {count} numbers, more than the "
                             f"{len(text) - start} characters left can hold")
        if count <= 256:
            return self._few_floats(count, what, start)
        out = np.empty(count)
        filled, at = 0, start
        while filled < count:
            # about as much text as the numbers still needed take (a table of 2 numbers must not
            # split a megabyte), at most WINDOW characters
            end = min(len(text), at + min(WINDOW, 64 + 24 * (count - filled)))
            if end < len(text):
                m = _SPACE.search(text, end)
                end = m.start() if m else len(text)
            toks = text[at:end].split()
            need = count - filled
            if len(toks) > need:
                for j, m in enumerate(_TOKEN.finditer(text, at, end)):
                    if j == need - 1:
                        end = m.end()
                        break
                toks = toks[:need]
            if not toks and end >= len(text):
                self.offset, self._next = len(text), None
                raise self.error(f"unexpected end of file: {what} needs {count} numbers, only "
                                 f"{filled} left", self.line(len(text)))
            try:
                out[filled:filled + len(toks)] = plain_floats(toks)
            except ValueError:
                self._first_non_number(_TOKEN.finditer(text, at, end), what)
                raise
            filled += len(toks)
            at = end
        self.offset = at
        self._next = _TOKEN.search(text, at)
        self._last = None
        return out

    def _first_non_number(self, matches, what):
        """Raise the parse error naming the first of ``matches`` that is not a number."""
        for m in matches:
            try:
                strict_float(m.group())
            except ValueError:
                raise self.error(f"expected a number in {what}, got {short(m.group())}",
                                 self.line(m.start())) from None

    def _few_floats(self, count, what, start):
        it = _TOKEN.finditer(self.text, start)
        found = list(itertools.islice(it, count))
        if len(found) < count:
            self.offset, self._next = len(self.text), None
            raise self.error(f"unexpected end of file: {what} needs {count} numbers, only "
                             f"{len(found)} left", self.line(len(self.text)))
        toks = [m.group() for m in found]
        try:
            out = np.array(plain_floats(toks), dtype=np.float64)
        except ValueError:
            self._first_non_number(found, what)
            raise
        self.offset = found[-1].end() if found else start
        self._next = next(it, None) if found else self._next
        self._last = None
        return out

    def done(self):
        return self._next is None


def short(tok):
    """``repr(tok)``, cut to 40 characters."""
    return repr(tok) if len(tok) <= 40 else repr(tok[:37] + "...")
