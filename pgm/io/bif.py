"""Reader and writer of the Bayesian Interchange Format (BIF), plain or gzip-compressed.

The subset used by the bnlearn repository: ``network``, ``variable`` blocks with
``type discrete [ k ] { states };`` and ``property`` lines, and ``probability ( child | parents )``
blocks with ``table`` lines (child state slowest, last parent fastest), per-configuration rows
``(parent states) p_1, …, p_k;`` and ``default`` rows.  Comments ``//`` and ``/* */`` are skipped.
"""

import gzip
import itertools
import math
import re

import numpy as np

from ..errors import ParseError
from ._tokens import MAX_TOKEN, Lines, plain_floats, short, strict_int

__all__ = ["read_bif", "write_bif", "MIN_TABLE_BUDGET"]

#: table entries a BIF text may declare in all, at least: the budget is the larger of this and the
#: length of the text (every number written out takes two characters or more, so only ``default``
#: rows can fill more entries than that).  Checked before each table is allocated.
MIN_TABLE_BUDGET = 2**20

_QUOTED = re.compile(r'"[^"\n]*"')
_WORD = re.compile(r'(?:[^\s{}()\[\];,|"/]|/(?![/*]))+')
_SPACES = re.compile(r"\s+")
_PUNCT = frozenset("{}()[];,|")


class _Lexer:
    """Tokens of BIF text, found on demand (comments are whitespace; no list of every token)."""

    def __init__(self, text, path):
        self.text, self.path = text, path
        self.line = Lines(text)
        self.pos = 0
        self.last_line = None
        self._tok = self._scan()

    def _scan(self):
        """``(token, offset)`` of the next token after ``self.pos``, or None at the end."""
        text, i, n = self.text, self.pos, len(self.text)
        while True:
            m = _SPACES.match(text, i)
            if m:
                i = m.end()
            if i >= n:
                self.pos = n
                return None
            if text.startswith("//", i):
                j = text.find("\n", i)
                i = n if j < 0 else j + 1
            elif text.startswith("/*", i):
                j = text.find("*/", i + 2)
                if j < 0:
                    raise ParseError("unterminated /* comment", self.path, self.line(i))
                i = j + 2
            else:
                break
        if text[i] in _PUNCT:
            self.pos = i + 1
            return text[i], i
        m = (_QUOTED if text[i] == '"' else _WORD).match(text, i)
        if m is None:
            raise ParseError("unterminated quoted name (a '\"' without its closing '\"' on the line)",
                             self.path, self.line(i))
        if m.end() - i > MAX_TOKEN:
            raise ParseError(f"a token of {m.end() - i} characters ({short(text[i:i + 40])})", self.path,
                             self.line(i))
        self.pos = m.end()
        return m.group(), i

    def error(self, msg, line=None):
        if line is None:
            line = self.last_line if self.last_line is not None or self._tok is None else \
                self.line(self._tok[1])
        return ParseError(msg, self.path, line)

    def peek(self):
        return self._tok[0] if self._tok is not None else None

    def next(self, what):
        if self._tok is None:
            raise self.error(f"unexpected end of file: expected {what}")
        tok, at = self._tok
        self.last_line = self.line(at)
        self._tok = self._scan()
        return tok, self.last_line

    def expect(self, sym):
        tok, line = self.next(repr(sym))
        if tok != sym:
            raise self.error(f"expected {sym!r}, got {short(tok)}", line)

    def name(self, what):
        tok, line = self.next(what)
        if tok in "{}()[];,|":
            raise self.error(f"expected {what}, got {short(tok)}", line)
        return tok.strip('"')

    def skip_statement(self):
        while True:
            tok, _ = self.next("';'")
            if tok == ";":
                return

    def skip_block(self):
        depth = 0
        while True:
            tok, _ = self.next("'}'")
            if tok == "{":
                depth += 1
            elif tok == "}":
                depth -= 1
                if depth == 0:
                    return

    def numbers(self, what):
        toks = []
        while True:
            tok, line = self.next(what)
            if tok == ";":
                break
            if tok != ",":
                toks.append((tok, line))
        try:
            vals = plain_floats([t for t, _ in toks])
            if all(map(math.isfinite, vals)):
                return vals
        except ValueError:
            pass
        for tok, line in toks:  # report the first bad one
            try:
                v = plain_floats([tok])[0]
            except ValueError:
                raise self.error(f"expected a number in {what}, got {short(tok)}", line) from None
            if not math.isfinite(v):
                raise self.error(f"expected a finite number in {what}, got {short(tok)}", line)
        raise AssertionError("unreachable")


def parse_bif(text, path=None, tolerance=1e-4):
    from ..bayesian import BayesianNetwork
    from ..cpd import TabularCPD

    lx = _Lexer(text, path)
    budget = max(len(text), MIN_TABLE_BUDGET)
    states = {}
    index = {}  # variable -> {state name: index}
    order = []
    tables = {}
    while lx.peek() is not None:
        kw, line = lx.next("a block keyword")
        if kw == "network":
            lx.name("the network name")
            if lx.peek() == "{":
                lx.skip_block()
        elif kw == "variable":
            var = lx.name("a variable name")
            if var in states:
                raise lx.error(f"variable {var!r} is declared twice", line)
            lx.expect("{")
            found = None
            while True:
                tok, ln = lx.next("'type', 'property' or '}'")
                if tok == "}":
                    break
                if tok == "type":
                    t, ln2 = lx.next("'discrete'")
                    if t != "discrete":
                        raise lx.error(f"only discrete variables are supported, got type {short(t)}", ln2)
                    lx.expect("[")
                    ktok, ln3 = lx.next("the number of states")
                    try:
                        k = strict_int(ktok)
                    except ValueError:
                        raise lx.error(f"expected the number of states, got {short(ktok)}", ln3) from None
                    if k < 1:
                        raise lx.error(f"variable {var!r} must have >= 1 states, got {k}", ln3)
                    lx.expect("]")
                    lx.expect("{")
                    names = []
                    while True:
                        s, ln4 = lx.next("a state name")
                        if s == "}":
                            break
                        if s == ",":
                            continue
                        if s in "{()[];|":
                            raise lx.error(f"expected a state name, got {short(s)}", ln4)
                        names.append(s.strip('"'))
                    lx.expect(";")
                    if len(names) != k or len(set(names)) != k:
                        raise lx.error(
                            f"variable {var!r} declares {k} states but lists {len(names)} distinct "
                            f"names {names}", ln
                        )
                    found = names
                elif tok == "property":
                    lx.skip_statement()
                else:
                    raise lx.error(f"unexpected {short(tok)} in variable block of {var!r}", ln)
            if found is None:
                raise lx.error(f"variable {var!r} has no 'type discrete' declaration", line)
            states[var] = found
            index[var] = {name: i for i, name in enumerate(found)}
            order.append(var)
        elif kw == "probability":
            lx.expect("(")
            child = lx.name("the child variable")
            parents = []
            tok, ln = lx.next("'|' or ')'")
            if tok == "|":
                while True:
                    tok, ln = lx.next("a parent name")
                    if tok == ")":
                        break
                    if tok == ",":
                        continue
                    parents.append(tok.strip('"'))
            elif tok != ")":
                raise lx.error(f"expected '|' or ')', got {short(tok)}", ln)
            for v in [child] + parents:
                if v not in states:
                    raise lx.error(f"probability block uses undeclared variable {v!r}", line)
            if child in tables:
                raise lx.error(f"two probability blocks for {child!r}", line)
            if len(set(parents)) != len(parents) or child in parents:
                raise lx.error(f"invalid parents {parents} of {child!r}", line)
            k = len(states[child])
            pcards = [len(states[p]) for p in parents]
            configs = math.prod(pcards)
            if k * configs > budget:
                raise lx.error(
                    f"the table of {child!r} has {k * configs} entries ({k} states x {configs} parent "
                    f"configurations), more than a file of {len(text)} characters can describe "
                    f"(at most {budget} entries in all; pgm.io.bif.MIN_TABLE_BUDGET)", line)
            budget -= k * configs
            values = np.full([k] + pcards, np.nan)
            default = None
            lx.expect("{")
            while True:
                tok, ln = lx.next("a table row or '}'")
                if tok == "}":
                    break
                if tok == "table":
                    vals = lx.numbers(f"the table of {child!r}")
                    if len(vals) != values.size:
                        raise lx.error(f"table of {child!r} needs {values.size} numbers, got {len(vals)}", ln)
                    values = np.array(vals).reshape(values.shape)
                elif tok == "default":
                    default = lx.numbers(f"the default row of {child!r}")
                    if len(default) != k:
                        raise lx.error(f"default row of {child!r} needs {k} numbers, got {len(default)}", ln)
                elif tok == "(":
                    idx = []
                    while True:
                        s, ln2 = lx.next("a parent state")
                        if s == ")":
                            break
                        if s == ",":
                            continue
                        j = len(idx)
                        if j >= len(parents):
                            raise lx.error(f"too many parent states in a row of {child!r}", ln2)
                        s = s.strip('"')
                        if s not in index[parents[j]]:
                            raise lx.error(f"{short(s)} is not a state of {parents[j]!r}", ln2)
                        idx.append(index[parents[j]][s])
                    if len(idx) != len(parents):
                        raise lx.error(f"row of {child!r} names {len(idx)} parent states, needs {len(parents)}", ln)
                    vals = lx.numbers(f"a row of {child!r}")
                    if len(vals) != k:
                        raise lx.error(f"row of {child!r} needs {k} numbers, got {len(vals)}", ln)
                    values[(slice(None),) + tuple(idx)] = vals
                elif tok == "property":
                    lx.skip_statement()
                else:
                    raise lx.error(f"unexpected {short(tok)} in probability block of {child!r}", ln)
            if np.isnan(values).any():
                if default is None:
                    first = int(np.argmax(np.isnan(values[0]).reshape(-1)))
                    missing = np.unravel_index(first, values.shape[1:])
                    cfg = tuple(states[p][int(i)] for p, i in zip(parents, missing))
                    raise lx.error(f"probability block of {child!r} gives no row for parent states {cfg}", line)
                fill = np.isnan(values[0])
                values[:, fill] = np.asarray(default)[:, None]
            tables[child] = (parents, values)
        else:
            raise lx.error(f"expected 'network', 'variable' or 'probability', got {short(kw)}", line)
    missing = [v for v in order if v not in tables]
    if missing:
        raise ParseError(f"no probability block for variables {missing}", path)
    cpds = []
    for v in order:
        parents, values = tables[v]
        sn = {u: states[u] for u in [v] + parents}
        try:
            cpds.append(TabularCPD(v, len(states[v]), values, parents,
                                   [len(states[p]) for p in parents], state_names=sn,
                                   tolerance=tolerance))
        except ValueError as exc:
            raise ParseError(str(exc), path) from None
    try:
        return BayesianNetwork(cpds, nodes=order)
    except ValueError as exc:
        raise ParseError(str(exc), path) from None


def read_bif(path, tolerance=1e-4):
    """Read a discrete Bayesian network from a ``.bif`` or ``.bif.gz`` file.

    State names are kept in each CPD's ``state_names``; states are the indices ``0..k-1``.

    Examples
    --------
    >>> import pgm
    >>> bn = pgm.read_bif(pgm.example_path("asia"))
    >>> bn.n_variables
    8
    """
    from .files import read_text

    return parse_bif(read_text(path), str(path), tolerance)


def _quoted(name):
    """``name`` as a BIF token: plain when it is one word, else in double quotes (names with a
    double quote or a line break cannot be written so that they read back: ``ValueError``)."""
    s = str(name)
    if _WORD.fullmatch(s) and s not in ("network", "variable", "probability", "property", "table",
                                        "default", "type", "discrete"):
        return s
    if '"' in s or any(c in s for c in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"):
        raise ValueError(f"cannot write the name {s!r} in BIF: it holds a double quote or a line break")
    return f'"{s}"'


def write_bif(model, path, name="network"):
    """Write a discrete Bayesian network as BIF (gzip-compressed when ``path`` ends in ``.gz``).

    Names (of the network, variables and states) that are not single words are written in
    double quotes, so that :func:`read_bif` reads the same names back (as strings).
    """
    from ..cpd import TabularCPD

    model._require_discrete("BIF")
    names = {}
    for v in model.variables:
        sn = None
        for c in model.cpds.values():
            if v in getattr(c, "state_names", {}):
                sn = c.state_names[v]
                break
        names[v] = [_quoted(x) for x in (sn or [f"s{i}" for i in range(model.cardinalities[v])])]
    var = {v: _quoted(v) for v in model.variables}
    lines = [f"network {_quoted(name)} {{", "}"]
    for v in model.variables:
        lines += [f"variable {var[v]} {{",
                  f"  type discrete [ {len(names[v])} ] {{ {', '.join(names[v])} }};", "}"]
    for v in model.variables:
        c = model.cpds[v]
        if not isinstance(c, TabularCPD):
            c = _as_tabular(c, model.cardinalities)
        table = c.probabilities()
        if c.parents:
            lines.append(f"probability ( {var[v]} | {', '.join(var[p] for p in c.parents)} ) {{")
            for cfg in itertools.product(*[range(k) for k in c.parent_cardinalities]):
                row = ", ".join(repr(float(x)) for x in table[(slice(None),) + cfg])
                labels = ", ".join(names[p][i] for p, i in zip(c.parents, cfg))
                lines.append(f"  ({labels}) {row};")
        else:
            lines.append(f"probability ( {var[v]} ) {{")
            lines.append("  table " + ", ".join(repr(float(x)) for x in table) + ";")
        lines.append("}")
    data = ("\n".join(lines) + "\n").encode()
    if str(path).endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    with open(path, "wb") as fh:
        fh.write(data)


def _as_tabular(cpd, cards):
    from ..cpd import TabularCPD

    f = cpd.log_factor(cards)
    return TabularCPD(cpd.variable, 2, np.moveaxis(np.exp(f.log_table), -1, 0), cpd.parents,
                      [cards[p] for p in cpd.parents])
