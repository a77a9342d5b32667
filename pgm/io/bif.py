"""Reader and writer of the Bayesian Interchange Format (BIF), plain or gzip-compressed.

The subset used by the bnlearn repository: ``network``, ``variable`` blocks with
``type discrete [ k ] { states };`` and ``property`` lines, and ``probability ( child | parents )``
blocks with ``table`` lines (child state slowest, last parent fastest), per-configuration rows
``(parent states) p_1, …, p_k;`` and ``default`` rows.  Comments ``//`` and ``/* */`` are skipped.
"""

import gzip
import itertools
import re

import numpy as np

from ..errors import ParseError

__all__ = ["read_bif", "write_bif"]

_TOKEN = re.compile(r'"[^"\n]*"|[{}()\[\];,|]|[^\s{}()\[\];,|"]+')


class _Lexer:
    def __init__(self, text, path):
        self.path = path
        text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group().count("\n"), text, flags=re.S)
        self.toks = []
        for lineno, line in enumerate(text.splitlines(), start=1):
            line = line.split("//", 1)[0]
            for m in _TOKEN.finditer(line):
                self.toks.append((m.group(), lineno))
        self.i = 0

    def error(self, msg, line=None):
        if line is None and self.toks:
            line = self.toks[min(self.i, len(self.toks) - 1)][1]
        return ParseError(msg, self.path, line)

    def peek(self):
        return self.toks[self.i][0] if self.i < len(self.toks) else None

    def next(self, what):
        if self.i >= len(self.toks):
            raise self.error(f"unexpected end of file: expected {what}")
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def expect(self, sym):
        tok, line = self.next(repr(sym))
        if tok != sym:
            raise self.error(f"expected {sym!r}, got {tok!r}", line)

    def name(self, what):
        tok, line = self.next(what)
        if tok in "{}()[];,|":
            raise self.error(f"expected {what}, got {tok!r}", line)
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
        vals = []
        while True:
            tok, line = self.next(what)
            if tok == ";":
                return vals
            if tok == ",":
                continue
            try:
                vals.append(float(tok))
            except ValueError:
                raise self.error(f"expected a number in {what}, got {tok!r}", line) from None


def parse_bif(text, path=None, tolerance=1e-4):
    from ..bayesian import BayesianNetwork
    from ..cpd import TabularCPD

    lx = _Lexer(text, path)
    states = {}
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
                        raise lx.error(f"only discrete variables are supported, got type {t!r}", ln2)
                    lx.expect("[")
                    ktok, ln3 = lx.next("the number of states")
                    try:
                        k = int(ktok)
                    except ValueError:
                        raise lx.error(f"expected the number of states, got {ktok!r}", ln3) from None
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
                            raise lx.error(f"expected a state name, got {s!r}", ln4)
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
                    raise lx.error(f"unexpected {tok!r} in variable block of {var!r}", ln)
            if found is None:
                raise lx.error(f"variable {var!r} has no 'type discrete' declaration", line)
            states[var] = found
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
                raise lx.error(f"expected '|' or ')', got {tok!r}", ln)
            for v in [child] + parents:
                if v not in states:
                    raise lx.error(f"probability block uses undeclared variable {v!r}", line)
            if child in tables:
                raise lx.error(f"two probability blocks for {child!r}", line)
            if len(set(parents)) != len(parents) or child in parents:
                raise lx.error(f"invalid parents {parents} of {child!r}", line)
            k = len(states[child])
            pcards = [len(states[p]) for p in parents]
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
                        if s not in states[parents[j]]:
                            raise lx.error(f"{s!r} is not a state of {parents[j]!r}", ln2)
                        idx.append(states[parents[j]].index(s))
                    if len(idx) != len(parents):
                        raise lx.error(f"row of {child!r} names {len(idx)} parent states, needs {len(parents)}", ln)
                    vals = lx.numbers(f"a row of {child!r}")
                    if len(vals) != k:
                        raise lx.error(f"row of {child!r} needs {k} numbers, got {len(vals)}", ln)
                    values[(slice(None),) + tuple(idx)] = vals
                elif tok == "property":
                    lx.skip_statement()
                else:
                    raise lx.error(f"unexpected {tok!r} in probability block of {child!r}", ln)
            if np.isnan(values).any():
                if default is None:
                    missing = np.argwhere(np.isnan(values[0]))[0]
                    cfg = tuple(states[p][i] for p, i in zip(parents, missing))
                    raise lx.error(f"probability block of {child!r} gives no row for parent states {cfg}", line)
                fill = np.isnan(values[0])
                values[:, fill] = np.asarray(default)[:, None]
            tables[child] = (parents, values)
        else:
            raise lx.error(f"expected 'network', 'variable' or 'probability', got {kw!r}", line)
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
    from .uai import _read_text

    return parse_bif(_read_text(path), str(path), tolerance)


def write_bif(model, path, name="network"):
    """Write a discrete Bayesian network as BIF (gzip-compressed when ``path`` ends in ``.gz``)."""
    from ..cpd import TabularCPD

    model._require_discrete("BIF")
    names = {}
    for v in model.variables:
        sn = None
        for c in model.cpds.values():
            if v in getattr(c, "state_names", {}):
                sn = c.state_names[v]
                break
        names[v] = sn or [f"s{i}" for i in range(model.cardinalities[v])]
    lines = [f"network {name} {{", "}"]
    for v in model.variables:
        lines += [f"variable {v} {{",
                  f"  type discrete [ {len(names[v])} ] {{ {', '.join(names[v])} }};", "}"]
    for v in model.variables:
        c = model.cpds[v]
        if not isinstance(c, TabularCPD):
            c = _as_tabular(c, model.cardinalities)
        table = c.probabilities()
        if c.parents:
            lines.append(f"probability ( {v} | {', '.join(map(str, c.parents))} ) {{")
            for cfg in itertools.product(*[range(k) for k in c.parent_cardinalities]):
                row = ", ".join(repr(float(x)) for x in table[(slice(None),) + cfg])
                labels = ", ".join(names[p][i] for p, i in zip(c.parents, cfg))
                lines.append(f"  ({labels}) {row};")
        else:
            lines.append(f"probability ( {v} ) {{")
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
