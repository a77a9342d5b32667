"""Whitespace tokenizer that remembers line numbers (private)."""

import re

from ..errors import ParseError

_TOKEN = re.compile(r"\S+")


class Tokens:
    """Sequential reader of whitespace-separated tokens with typed accessors."""

    def __init__(self, text, path=None):
        self.path = path
        self.items = []
        for lineno, line in enumerate(text.splitlines(), start=1):
            for m in _TOKEN.finditer(line):
                self.items.append((m.group(), lineno))
        self.pos = 0

    def error(self, message, line=None):
        if line is None:
            line = self.items[min(self.pos, len(self.items) - 1)][1] if self.items else None
        return ParseError(message, self.path, line)

    def next(self, what):
        if self.pos >= len(self.items):
            raise self.error(f"unexpected end of file: expected {what}")
        tok, line = self.items[self.pos]
        self.pos += 1
        return tok, line

    def int(self, what, minimum=None):
        tok, line = self.next(what)
        try:
            val = int(tok)
        except ValueError:
            raise self.error(f"expected {what} (an integer), got {tok!r}", line) from None
        if minimum is not None and val < minimum:
            raise self.error(f"{what} must be >= {minimum}, got {val}", line)
        return val

    def float(self, what):
        tok, line = self.next(what)
        try:
            return float(tok)
        except ValueError:
            raise self.error(f"expected {what} (a number), got {tok!r}", line) from None

    def floats(self, count, what):
        """``count`` numbers as a list (fast path for large tables)."""
        end = self.pos + count
        if end > len(self.items):
            raise self.error(
                f"unexpected end of file: {what} needs {count} numbers, only "
                f"{len(self.items) - self.pos} left"
            )
        chunk = self.items[self.pos:end]
        try:
            vals = [float(t) for t, _ in chunk]
        except ValueError:
            for t, line in chunk:
                try:
                    float(t)
                except ValueError:
                    raise self.error(f"expected a number in {what}, got {t!r}", line) from None
        self.pos = end
        return vals

    def done(self):
        return self.pos >= len(self.items)
