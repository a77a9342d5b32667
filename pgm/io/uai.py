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
from ._tokens import Tokens, short, strict_float
from .files import read_text as _read_text

__all__ = ["read_uai", "write_uai", "read_evidence", "read_marginals", "write_marginals", "read_map", "write_map",
           "read_pr", "write_pr"]


def parse_uai(text, path=None):
    """Parse UAI text into ``(kind, cardinalities, scopes, tables)``."""
    tk = Tokens(text, path)
    kind, line = tk.next("the preamble MARKOV or BAYES")
    kind = kind.upper()
    if kind not in ("MARKOV", "BAYES"):
        raise tk.error(f"expected preamble MARKOV or BAYES, got {short(kind)}", line)
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
            scope.append(v)
        if len(set(scope)) != len(scope):
            v = next(v for i, v in enumerate(scope) if v in scope[:i])
            raise tk.error(f"factor {f} repeats variable {v} in its scope", tk.last_line)
        scopes.append(scope)
    tables = []
    for f, scope in enumerate(scopes):
        size = math.prod(cards[v] for v in scope)
        count = tk.int(f"the number of entries of factor {f}", minimum=0)
        if count != size:
            raise tk.error(
                f"factor {f} over variables {scope} needs {size} entries, the file says {count}"
            )
        vals = tk.floats(count, f"the table of factor {f}")
        if not np.all(np.isfinite(vals)) or np.any(vals < 0):
            raise tk.error(f"factor {f} has negative or non-finite entries")
        tables.append(vals.reshape([cards[v] for v in scope]))
    if not tk.done():
        tok, line = tk.next("")
        raise tk.error(f"unexpected trailing content {short(tok)} after the last table", line)
    if kind == "BAYES":
        for f, scope in enumerate(scopes):
            if not scope:
                raise ParseError(f"BAYES factor {f} has an empty scope (no child variable)", path)
    return kind, cards, scopes, tables


def _evidence_source(path_or_text):
    """``(path, text)``: a path-like, an existing file or a string that looks like a file name
    (one word that is not a number) is read as a file; any other string is the evidence."""
    if isinstance(path_or_text, os.PathLike) or (
            isinstance(path_or_text, str) and (os.path.exists(path_or_text) or (
                len(path_or_text.split()) == 1 and not path_or_text.strip().isdigit()))):
        return os.fspath(path_or_text), _read_text(path_or_text)
    if not isinstance(path_or_text, str):
        raise TypeError(f"evidence must be a file name or the text of an evidence file, got "
                        f"{type(path_or_text).__name__}")
    return None, path_or_text


def read_evidence(path_or_text, n_variables=None, cardinalities=None):
    """Read a UAI ``.evid`` file (or its text) into ``{variable: state}``.

    Parameters
    ----------
    path_or_text : str or path-like
        A file name (a path-like, an existing file, or one word that is not a number — a
        missing file then raises ``FileNotFoundError``) or the evidence text itself.
    n_variables : int or model, optional
        Variables must be ``0..n_variables-1``.  A model (anything with ``variables`` and
        ``cardinalities``, e.g. what :func:`read_uai` returns) sets both checks.
    cardinalities : sequence of int, optional
        States must be ``0..cardinalities[v]-1``; ``n_variables`` defaults to its length.

    Raises
    ------
    ParseError
        Text that is not a count followed by that many ``variable state`` pairs of ASCII
        integers (with the file name and line).
    EvidenceError
        A variable or state outside the model, or one variable with two states (naming the
        variable, the value and the domain).

    Examples
    --------
    >>> read_evidence("2 0 1 3 0", cardinalities=[2, 2, 2, 2])
    {0: 1, 3: 0}
    """
    if hasattr(n_variables, "variables") and hasattr(n_variables, "cardinalities"):
        model = n_variables
        cardinalities = [model.cardinalities[v] for v in model.variables]
        n_variables = None
    if cardinalities is not None:
        cardinalities = list(cardinalities)
        if n_variables is None or n_variables > len(cardinalities):
            n_variables = len(cardinalities)
    path, text = _evidence_source(path_or_text)
    where = f" in {path}" if path is not None else ""
    tk = Tokens(text, path)
    if tk.done():
        return {}
    count = tk.int("the number of evidence pairs", minimum=0)
    pending = []  # integers already read, with their lines
    if count == 1:
        # "1 v x" (one pair) or the older "1 k v_1 x_1 ... v_k x_k" (one sample of k pairs)
        pending.append((tk.int("an evidence variable", minimum=0), tk.last_line))
        if tk.done() and pending[0][0] == 0:
            return {}
        pending.append((tk.int("an evidence value", minimum=0), tk.last_line))
        if not tk.done():
            count = pending.pop(0)[0]

    def take(what):
        return pending.pop(0) if pending else (tk.int(what, minimum=0), tk.last_line)

    ev = {}
    for j in range(count):
        v, line = take(f"the variable of evidence pair {j + 1} of {count}")
        x, _ = take(f"the value of evidence pair {j + 1} of {count}")
        at = f"{where}:{line}" if path is not None else where
        if n_variables is not None and v >= n_variables:
            raise EvidenceError(f"evidence{at} names variable {v}, but the model's variables are "
                                f"0..{n_variables - 1}")
        if cardinalities is not None and x >= cardinalities[v]:
            raise EvidenceError(f"evidence{at}: value {x} of variable {v} is outside its domain "
                                f"0..{cardinalities[v] - 1}")
        if v in ev and ev[v] != x:
            raise EvidenceError(f"evidence{at} gives variable {v} two values ({ev[v]} and {x})")
        ev[v] = x
    if not tk.done():
        tok, line = tk.next("")
        raise tk.error(f"evidence must be a count followed by that many 'variable value' pairs; "
                       f"unexpected {short(tok)} after {count} pairs", line)
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


def read_marginals(path, tolerance=1e-3):
    """Read a UAI ``.MAR`` file: a list with one probability array per variable.

    Parameters
    ----------
    path : str or path-like
    tolerance : float
        How far each variable's probabilities may sum from one (``.MAR`` files are rounded).

    Raises
    ------
    ParseError
        Not ``MAR``, the number of variables, then per variable its cardinality and that many
        probabilities — finite, in ``[0, 1]`` and summing to one within ``tolerance`` — and
        nothing after (the message names the file, line and variable).

    Examples
    --------
    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "m.MAR")
    >>> _ = open(p, "w").write("MAR 2 2 0.25 0.75 1 1.0")
    >>> [m.tolist() for m in read_marginals(p)]
    [[0.25, 0.75], [1.0]]
    """
    tolerance = _tolerance(tolerance)
    tk = Tokens(_last_solution(_read_text(path)), str(path))
    head, line = tk.next("the preamble MAR")
    if head != "MAR":
        raise tk.error(f"expected preamble MAR, got {short(head)}", line)
    n = tk.int("the number of variables", minimum=0)
    out = []
    for v in range(n):
        k = tk.int(f"the cardinality of variable {v}", minimum=1)
        line = tk.last_line
        p = tk.floats(k, f"the marginal of variable {v}")
        if not np.all(np.isfinite(p)) or np.any(p < 0) or np.any(p > 1):
            bad = p[~(np.isfinite(p) & (p >= 0) & (p <= 1))][0]
            raise tk.error(f"the marginal of variable {v} holds {float(bad)!r}; probabilities must be "
                           "finite numbers in [0, 1]", line)
        total = float(p.sum())
        if abs(total - 1.0) > tolerance:
            raise tk.error(f"the marginal of variable {v} sums to {total!r}, not 1 (tolerance "
                           f"{tolerance})", line)
        out.append(p)
    _expect_end(tk, f"the {n} marginals")
    return out


def _tolerance(tolerance):
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float, np.floating, np.integer)) \
            or not math.isfinite(tolerance) or tolerance < 0:
        raise ValueError(f"tolerance must be a finite number >= 0, got {tolerance!r}")
    return float(tolerance)


def _expect_end(tk, what):
    if not tk.done():
        tok, line = tk.next("")
        raise tk.error(f"unexpected trailing content {short(tok)} after {what}", line)


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
        if t.size == 0 or not np.all(np.isfinite(t)) or np.any(t < 0) or np.any(t > 1):
            raise ValueError(f"marginal {k} must be a non-empty array of probabilities (finite, in "
                             f"[0, 1]), got {t.tolist()[:5]}")
        if abs(float(t.sum()) - 1.0) > 1e-6:
            raise ValueError(f"marginal {k} must sum to 1, sums to {float(t.sum())!r}")
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
        raise ParseError(f"expected preamble PR, got {short((words or [''])[0])}", str(path))
    if len(words) != 2:
        raise ParseError(f"a .PR file holds one number after PR, got {len(words) - 1} values", str(path))
    try:
        value = strict_float(words[1])
    except ValueError:
        raise ParseError(f"expected the log10 of the partition function, got {short(words[1])}", str(path)) from None
    if math.isnan(value) or value == math.inf:
        raise ParseError(f"expected a finite log10 value or -inf, got {short(words[1])}", str(path))
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
        raise tk.error(f"expected preamble MAP or MPE, got {short(head)}", line)
    n = tk.int("the number of variables", minimum=0)
    states = [tk.int(f"the state of variable {v}", minimum=0) for v in range(n)]
    _expect_end(tk, f"the {n} states")
    try:
        return np.array(states, dtype=np.int64)
    except OverflowError:
        big = max(states)
        raise ParseError(f"state {big} of variable {states.index(big)} does not fit a 64-bit integer",
                         str(path)) from None


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

