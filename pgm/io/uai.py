"""Reader and writer of the UAI inference-competition model format (MARKOV and BAYES preambles).

Format: preamble (``MARKOV`` or ``BAYES``), number of variables, their cardinalities, number of
factors, one scope line per factor (``k v_1 … v_k``), then per factor the number of entries and
the entries, the last scope variable changing fastest.  In a ``BAYES`` file each factor is the
CPD of the last variable of its scope.  Evidence files hold a count and ``variable value`` pairs.
Variables are named by their integer index.
"""

import math
import os

import numpy as np

from ..errors import EvidenceError, ParseError
from ._tokens import Tokens

__all__ = ["read_uai", "write_uai", "read_evidence", "read_marginals", "write_marginals", "read_map", "write_map",
           "read_pr", "write_pr"]


def _read_text(path):
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise exc
    if raw[:2] == b"\x1f\x8b":
        import gzip

        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise ParseError(f"corrupt gzip data: {exc}", str(path)) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError(f"not UTF-8 text: {exc}", str(path)) from None


def parse_uai(text, path=None):
    """Parse UAI text into ``(kind, cardinalities, scopes, tables)``."""
    tk = Tokens(text, path)
    kind, line = tk.next("the preamble MARKOV or BAYES")
    kind = kind.upper()
    if kind not in ("MARKOV", "BAYES"):
        raise tk.error(f"expected preamble MARKOV or BAYES, got {kind!r}", line)
    n = tk.int("the number of variables", minimum=0)
    cards = [tk.int(f"the cardinality of variable {i}", minimum=1) for i in range(n)]
    m = tk.int("the number of factors", minimum=0)
    scopes = []
    for f in range(m):
        k = tk.int(f"the scope size of factor {f}", minimum=0)
        scope = []
        for _ in range(k):
            v = tk.int(f"a variable of factor {f}", minimum=0)
            if v >= n:
                raise tk.error(f"factor {f} names variable {v}, but there are only {n} variables")
            if v in scope:
                raise tk.error(f"factor {f} repeats variable {v} in its scope")
            scope.append(v)
        scopes.append(scope)
    tables = []
    for f, scope in enumerate(scopes):
        size = math.prod(cards[v] for v in scope)
        count = tk.int(f"the number of entries of factor {f}", minimum=0)
        if count != size:
            raise tk.error(
                f"factor {f} over variables {scope} needs {size} entries, the file says {count}"
            )
        vals = np.array(tk.floats(count, f"the table of factor {f}"))
        if not np.all(np.isfinite(vals)) or np.any(vals < 0):
            raise tk.error(f"factor {f} has negative or non-finite entries")
        tables.append(vals.reshape([cards[v] for v in scope]))
    if not tk.done():
        tok, line = tk.next("")
        raise tk.error(f"unexpected trailing content {tok!r} after the last table", line)
    if kind == "BAYES":
        for f, scope in enumerate(scopes):
            if not scope:
                raise ParseError(f"BAYES factor {f} has an empty scope (no child variable)", path)
    return kind, cards, scopes, tables


def read_evidence(path_or_text, n_variables=None, cardinalities=None):
    """Read a UAI ``.evid`` file (or its text) into ``{variable: state}``."""
    if isinstance(path_or_text, (str, os.PathLike)) and os.path.exists(path_or_text):
        path, text = str(path_or_text), _read_text(path_or_text)
    else:
        path, text = None, str(path_or_text)
    tk = Tokens(text, path)
    if tk.done():
        return {}
    ints = []
    while not tk.done():
        ints.append(tk.int("an evidence integer", minimum=0))
    if len(ints) == 1 + 2 * ints[0]:
        pairs = ints[1:]
    elif ints[0] == 1 and len(ints) >= 2 and len(ints) == 2 + 2 * ints[1]:
        pairs = ints[2:]  # older format with a leading number of samples
    else:
        raise ParseError(
            f"evidence must be a count followed by that many 'variable value' pairs; got "
            f"{len(ints)} integers starting with {ints[0]}", path
        )
    ev = {}
    for v, x in zip(pairs[::2], pairs[1::2]):
        if n_variables is not None and v >= n_variables:
            raise EvidenceError(f"evidence names variable {v}, but the model has {n_variables}")
        if cardinalities is not None and x >= cardinalities[v]:
            raise EvidenceError(
                f"evidence value {x} of variable {v} is outside 0..{cardinalities[v] - 1}"
            )
        if v in ev and ev[v] != x:
            raise EvidenceError(f"evidence gives variable {v} two values ({ev[v]} and {x})")
        ev[v] = x
    return ev


def read_uai(path, evidence=None, tolerance=1e-4):
    """Read a UAI model file (plain or gzip).

    Parameters
    ----------
    path : str or path-like
    evidence : str, path-like or dict, optional
        A ``.evid`` file or ``{variable: state}``; attached as ``model.evidence``.
    tolerance : float
        For ``BAYES`` files, how far each CPD column may be from summing to one.

    Returns
    -------
    MarkovNetwork or BayesianNetwork
        Variables are the integers ``0..n-1``.

    Examples
    --------
    >>> import pgm, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "t.uai")
    >>> _ = open(p, "w").write("MARKOV 2 2 2 1 2 0 1 4 1 2 3 4")
    >>> round(pgm.exact.log_partition(pgm.read_uai(p)), 6)
    2.302585
    """
    from ..bayesian import BayesianNetwork
    from ..cpd import TabularCPD
    from ..discrete import MarkovNetwork
    from ..factor import DiscreteFactor

    text = _read_text(path)
    kind, cards, scopes, tables = parse_uai(text, str(path))
    if isinstance(evidence, dict) or evidence is None:
        ev = evidence or {}
    else:
        ev = read_evidence(evidence, len(cards), cards)
    variables = list(range(len(cards)))
    if kind == "MARKOV":
        factors = [DiscreteFactor(s, t) for s, t in zip(scopes, tables)]
        return MarkovNetwork(factors, variables=variables, cardinalities=cards, evidence=ev)
    children = [s[-1] for s in scopes]
    dup = {c for c in children if children.count(c) > 1}
    if dup:
        raise ParseError(f"BAYES file gives more than one CPD for variables {sorted(dup)}", str(path))
    if len(children) != len(cards):
        missing = sorted(set(variables) - set(children))
        raise ParseError(f"BAYES file has no CPD for variables {missing}", str(path))
    cpds = []
    for s, t in zip(scopes, tables):
        parents, child = s[:-1], s[-1]
        # UAI table axes: parents..., child  ->  TabularCPD values (card, *parent_cards)
        values = np.moveaxis(t, -1, 0)
        try:
            cpds.append(TabularCPD(child, cards[child], values, parents,
                                   [cards[p] for p in parents], tolerance=tolerance))
        except ValueError as exc:
            raise ParseError(str(exc), str(path)) from None
    try:
        return BayesianNetwork(cpds, nodes=variables, evidence=ev)
    except ValueError as exc:
        raise ParseError(str(exc), str(path)) from None


def write_uai(model, path, evidence_path=None):
    """Write a discrete model as UAI (``BAYES`` for a Bayesian network, else ``MARKOV``).

    Variables are written in ``model.variables`` order as indices ``0..n-1``.  When
    ``evidence_path`` is given, ``model.evidence`` is written there.
    """
    from ..bayesian import BayesianNetwork

    variables = list(model.variables)
    idx = {v: i for i, v in enumerate(variables)}
    cards = [model.cardinalities[v] for v in variables]
    lines = []
    if isinstance(model, BayesianNetwork):
        lines.append("BAYES")
        entries = []
        for v in variables:
            cpd = model.cpds[v]
            table = np.moveaxis(cpd.probabilities(), 0, -1)  # parents..., child
            entries.append(([idx[p] for p in cpd.parents] + [idx[v]], table))
    else:
        lines.append("MARKOV")
        entries = [([idx[u] for u in f.scope], f.table) for f in model.factors]
    lines.append(str(len(variables)))
    lines.append(" ".join(map(str, cards)))
    lines.append(str(len(entries)))
    for scope, _ in entries:
        lines.append(" ".join(map(str, [len(scope)] + scope)))
    for _, table in entries:
        lines.append("")
        lines.append(str(table.size))
        lines.append(" ".join(repr(float(x)) for x in table.reshape(-1)))
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    if evidence_path is not None:
        ev = model.evidence
        with open(evidence_path, "w") as fh:
            fh.write(" ".join([str(len(ev))] + [f"{idx[v]} {x}" for v, x in ev.items()]) + "\n")


def read_marginals(path):
    """Read a UAI ``.MAR`` file: a list with one probability array per variable.

    Examples
    --------
    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "m.MAR")
    >>> _ = open(p, "w").write("MAR 2 2 0.25 0.75 1 1.0")
    >>> [m.tolist() for m in read_marginals(p)]
    [[0.25, 0.75], [1.0]]
    """
    tk = Tokens(_last_solution(_read_text(path)), str(path))
    head, line = tk.next("the preamble MAR")
    if head != "MAR":
        raise tk.error(f"expected preamble MAR, got {head!r}", line)
    n = tk.int("the number of variables", minimum=0)
    out = []
    for v in range(n):
        k = tk.int(f"the cardinality of variable {v}", minimum=1)
        out.append(np.array(tk.floats(k, f"the marginal of variable {v}")))
    return out


def _last_solution(text):
    """A competition result file may hold several solutions, each after ``-BEGIN-``; the last
    one counts (the preamble line stays)."""
    if "-BEGIN-" not in text:
        return text
    head, *_, last = text.split("-BEGIN-")
    return head.split(None, 1)[0] + "\n" + last if head.split() else last


def write_marginals(path, marginals, variables=None):
    """Write marginals as a UAI ``.MAR`` file: ``MAR``, then on one line the number of variables
    and, per variable, its cardinality and probabilities (the UAI-2014 result format).

    Parameters
    ----------
    path : str or path-like
    marginals : dict {variable: probabilities} or sequence of arrays
        E.g. ``pgm.exact.marginals(model)``.
    variables : sequence, optional
        Order of the variables in the file (default: the dict's order); a UAI model's variables
        are ``0..n−1``.

    Examples
    --------
    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "m.MAR")
    >>> write_marginals(p, {0: [0.25, 0.75], 1: [1.0]})
    >>> open(p).read()
    'MAR\\n2 2 0.25 0.75 1 1\\n'
    >>> [m.tolist() for m in read_marginals(p)]
    [[0.25, 0.75], [1.0]]
    """
    if isinstance(marginals, dict):
        keys = list(marginals) if variables is None else list(variables)
        missing = [v for v in keys if v not in marginals]
        if missing:
            raise EvidenceError(f"no marginal for variables {missing[:5]}")
        tables = [marginals[v] for v in keys]
    else:
        tables = list(marginals)
    parts = [str(len(tables))]
    for k, t in enumerate(tables):
        t = np.asarray(t, dtype=float).reshape(-1)
        if t.size == 0 or not np.all(np.isfinite(t)) or np.any(t < 0):
            raise ValueError(f"marginal {k} must be a non-empty array of finite non-negative numbers")
        parts.append(str(t.size))
        parts.extend(f"{float(x):.12g}" for x in t)
    with open(path, "w") as fh:
        fh.write("MAR\n" + " ".join(parts) + "\n")


def write_pr(path, log10_z):
    """Write a UAI ``.PR`` file: ``PR``, then ``log10`` of the partition function (or of the
    probability of evidence), as in the UAI-2014 result format.  Pass ``ln Z / ln 10``.

    Examples
    --------
    >>> import math, os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "m.PR")
    >>> write_pr(p, math.log10(0.5))
    >>> open(p).read()
    'PR\\n-0.301029995664\\n'
    >>> round(read_pr(p), 6)
    -0.30103
    """
    value = float(log10_z)
    if math.isnan(value) or value == math.inf:
        raise ValueError(f"log10 Z must be a number or -inf, got {log10_z!r}")
    with open(path, "w") as fh:
        fh.write("PR\n" + ("-inf" if value == -math.inf else f"{value:.12g}") + "\n")


def read_pr(path):
    """Read a UAI ``.PR`` file: the ``log10`` value it holds (the last solution when there are
    several, as the competition scores)."""
    text = _last_solution(_read_text(path))
    words = text.split()
    if not words or words[0].upper() != "PR":
        raise ParseError(f"expected preamble PR, got {(words or [''])[0]!r}", str(path))
    if len(words) != 2:
        raise ParseError(f"a .PR file holds one number after PR, got {len(words) - 1} values", str(path))
    try:
        value = float(words[1])
    except ValueError:
        raise ParseError(f"expected the log10 of the partition function, got {words[1]!r}", str(path)) from None
    if math.isnan(value) or value == math.inf:
        raise ParseError(f"expected a finite log10 value or -inf, got {words[1]!r}", str(path))
    return value


def read_map(path):
    """Read a UAI ``.MAP`` (or ``.MPE``) file: the preamble, the number of variables, then one
    state per variable.  Returns an int64 array of states (variables in file order).

    Examples
    --------
    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "m.MAP")
    >>> _ = open(p, "w").write("MAP 3 0 2 1")
    >>> read_map(p).tolist()
    [0, 2, 1]
    """
    tk = Tokens(_last_solution(_read_text(path)), str(path))
    head, line = tk.next("the preamble MAP")
    if head not in ("MAP", "MPE"):
        raise tk.error(f"expected preamble MAP or MPE, got {head!r}", line)
    n = tk.int("the number of variables", minimum=0)
    return np.array([tk.int(f"the state of variable {v}", minimum=0) for v in range(n)], dtype=np.int64)


def write_map(path, assignment, variables=None):
    """Write an assignment as a UAI ``.MAP`` file (``MAP``, then the number of variables and one
    state per variable).

    Parameters
    ----------
    path : str or path-like
    assignment : dict {variable: state} or sequence of states
        E.g. ``pgm.exact.map_assignment(model).assignment`` or a BP ``map_assignment``.
    variables : sequence, optional
        Order of the variables in the file (default: the dict's order); a UAI model's variables
        are ``0..n−1``.

    Examples
    --------
    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "m.MAP")
    >>> write_map(p, {0: 1, 1: 0})
    >>> read_map(p).tolist()
    [1, 0]
    """
    if isinstance(assignment, dict):
        keys = list(assignment) if variables is None else list(variables)
        missing = [v for v in keys if v not in assignment]
        if missing:
            raise EvidenceError(f"the assignment has no state for variables {missing[:5]}")
        states = [assignment[v] for v in keys]
    else:
        states = list(assignment)
    bad = [s for s in states if isinstance(s, bool) or not float(s).is_integer() or s < 0]
    if bad:
        raise EvidenceError(f"states must be non-negative integers, got {bad[0]!r}")
    with open(path, "w") as fh:
        fh.write("MAP\n" + " ".join([str(len(states))] + [str(int(s)) for s in states]) + "\n")

