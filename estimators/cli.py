"""Command-line entry point ``pgm``.

``pgm solve FILE --task MAR|PR|MAP --method auto|exact|gibbs|pt|ais|bp|mf|anneal`` answers a UAI
inference-competition task on a UAI (``.uai``, evidence ``.evid``) or BIF (``.bif``, ``.bif.gz``,
a bundled name) model and writes the competition's output file (``.MAR``, ``.PR`` = log10 of the
partition function / probability of evidence, ``.MAP``); ``--reference`` prints the error
against a reference answer.
``pgm info FILE`` summarises a model (variables, factors, cardinalities, treewidth estimate and
the memory exact inference would need).
``pgm sample FILE -o run.nc`` draws MCMC samples and writes them as ArviZ netCDF.
``pgm exact [NETWORK]`` runs exact inference on a bundled example network (default ``alarm``)
or on a ``.bif``/``.bif.gz``/``.uai`` file and prints ``ln Z`` and a few marginals.
``pgm demo`` samples a 2-D Ising lattice at the critical point with Swendsen–Wang cluster moves
(the sampler that converges there: single-site and checkerboard Gibbs suffer critical slowing
down) and prints an ArviZ summary (energy per site, magnetisation, |magnetisation|) with R-hat
and ESS explained.

Evidence is given as ``NAME=STATE`` pairs (state names of a BIF model, or state indices), a JSON
object or list, or a file (UAI ``.evid``, ``.json``, or ``NAME=STATE`` text).  Every user error
is one line ``pgm: error: ...`` on stderr with exit status 2 (``--debug`` shows the traceback);
a time limit reached with no answer exits with status 3; an internal error with status 1.

The console script lives in ``estimators`` — the one package allowed to import all three
(``estimators → samplers → pgm``).
"""

import argparse
import contextlib
import difflib
import glob
import json
import math
import os
import re
import signal
import sys
import threading
import time
import warnings

TASKS = ("MAR", "PR", "MAP")
METHODS = ("auto", "exact", "gibbs", "pt", "ais", "bp", "mf", "anneal")
#: which methods answer which task
TASK_METHODS = {
    "MAR": ("auto", "exact", "gibbs", "pt", "bp", "mf"),
    "PR": ("auto", "exact", "ais", "bp", "mf"),
    "MAP": ("auto", "exact", "bp", "anneal"),
}
SAMPLE_METHODS = ("gibbs", "block_gibbs", "metropolis", "pt")
EXIT_USAGE = 2
EXIT_TIME = 3


class UserError(Exception):
    """A mistake in the command line or its inputs: one line on stderr, exit status 2."""


class TimeLimitReached(Exception):
    """The ``--time-limit`` ran out before an answer was found (exit status 3)."""


# ---------------------------------------------------------------------------- argument types
def _int_type(name, minimum):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be an integer >= {minimum}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{name} must be an integer >= {minimum}, got {text!r}")
        return value
    parse.__name__ = name
    return parse


def _float_type(name, low=None, high=None, low_open=True, high_open=True):
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        ok = math.isfinite(value)
        if ok and low is not None:
            ok = value > low if low_open else value >= low
        if ok and high is not None:
            ok = value < high if high_open else value <= high
        if not ok:
            bounds = []
            if low is not None:
                bounds.append(f"{'>' if low_open else '>='} {low:g}")
            if high is not None:
                bounds.append(f"{'<' if high_open else '<='} {high:g}")
            raise argparse.ArgumentTypeError(f"{name} must be a number {' and '.join(bounds)}, got {text!r}")
        return value
    parse.__name__ = name
    return parse


_SIZE_UNITS = {"": 1, "B": 1, "K": 2**10, "KB": 10**3, "KIB": 2**10, "M": 2**20, "MB": 10**6, "MIB": 2**20,
               "G": 2**30, "GB": 10**9, "GIB": 2**30, "T": 2**40, "TB": 10**12, "TIB": 2**40}


def memory_size(text):
    """``"4G"``, ``"512MiB"``, ``"1.5GB"`` or a number of bytes → bytes (int)."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*", text)
    unit = m.group(2).upper() if m else None
    if not m or unit not in _SIZE_UNITS or float(m.group(1)) <= 0:
        raise argparse.ArgumentTypeError(
            f"memory limit must be a positive size such as 2G, 512M or 1e9 (bytes), got {text!r}")
    return int(float(m.group(1)) * _SIZE_UNITS[unit])


positive = _int_type
seed_type = _int_type("seed", 0)


# ---------------------------------------------------------------------------- model loading
def bundled_examples():
    import pgm

    folder = os.path.join(os.path.dirname(pgm.__file__), "data")
    return sorted(os.path.basename(p)[: -len(".bif.gz")] for p in glob.glob(os.path.join(folder, "*.bif.gz")))


def _looks_like_path(spec):
    return (os.sep in spec or (os.altsep and os.altsep in spec) or "." in os.path.basename(spec))


def _sniff(path):
    """``"uai"`` or ``"bif"`` from the first word of a file (plain or gzip)."""
    import gzip
    import zlib

    with open(path, "rb") as fh:
        head = fh.read(4096)
    if head[:2] == b"\x1f\x8b":
        try:
            with gzip.open(path, "rb") as fh:
                head = fh.read(4096)
        except (OSError, EOFError, zlib.error):
            return None
    text = head.decode("utf-8", "replace")
    text = re.sub(r"//[^\n]*|/\*.*?\*/|#[^\n]*", " ", text, flags=re.S)
    words = text.split()
    first = words[0].upper() if words else ""
    if first in ("MARKOV", "BAYES"):
        return "uai"
    if first == "NETWORK":
        return "bif"
    return None


def load_model(spec):
    """``(model, display name, stem)`` of a model file or bundled example name.

    A file is read by its extension (``.uai``, ``.uai.gz``, ``.bif``, ``.bif.gz``, ``.npz``), else
    by its first word (``MARKOV``/``BAYES``: UAI; ``network``: BIF)."""
    import pgm

    if os.path.isdir(spec):
        raise UserError(f"{spec!r} is a directory, not a model file")
    if os.path.exists(spec):
        low = spec.lower()
        base = os.path.basename(spec)
        stem = re.sub(r"(\.uai|\.bif|\.npz)?(\.gz)?$", "", base, flags=re.I)
        if low.endswith((".uai", ".uai.gz")):
            kind = "uai"
        elif low.endswith((".bif", ".bif.gz")):
            kind = "bif"
        elif low.endswith(".npz"):
            kind = "npz"
        else:
            kind = _sniff(spec)
            if kind is None:
                raise UserError(f"cannot tell the format of {spec!r}: expected a .uai, .bif, .bif.gz or .npz "
                                "file (a UAI file starts with MARKOV or BAYES, a BIF file with 'network')")
        if kind == "uai":
            return pgm.read_uai(spec), spec, stem
        if kind == "bif":
            return pgm.read_bif(spec), spec, stem
        model = pgm.load(spec)
        if not hasattr(model, "log_factors"):
            raise UserError(f"{spec!r} holds a {type(model).__name__}, not a discrete graphical model")
        return model, spec, stem
    if _looks_like_path(spec):
        raise UserError(f"model file {spec!r} not found")
    names = bundled_examples()
    if spec not in names:
        close = difflib.get_close_matches(spec, names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UserError(f"no model file or bundled example named {spec!r}{hint}; bundled: {', '.join(names)}")
    return pgm.read_bif(pgm.example_path(spec)), spec, spec


def state_names(model):
    """``{variable: [state names]}`` of the variables that have them (BIF models)."""
    out = {}
    for v, cpd in (getattr(model, "cpds", None) or {}).items():
        names = (getattr(cpd, "state_names", None) or {}).get(v)
        if names:
            out[v] = [str(s) for s in names]
    return out


# ---------------------------------------------------------------------------- evidence
def _variable(model, name, by_name):
    if name in by_name:
        return by_name[name]
    shown = list(by_name)
    close = difflib.get_close_matches(str(name), shown, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    if all(isinstance(v, int) for v in model.variables):
        raise UserError(f"evidence names unknown variable {name!r}: the model's variables are 0..{len(shown) - 1}{hint}")
    more = ", ..." if len(shown) > 8 else ""
    raise UserError(f"evidence names unknown variable {name!r}{hint} (variables: {', '.join(shown[:8])}{more})")


def _state(model, var, state, names):
    card = model.cardinalities[var]
    labels = names.get(var)
    if labels is not None and not isinstance(state, int):
        text = str(state)
        if text in labels:
            return labels.index(text)
        folded = [i for i, s in enumerate(labels) if s.lower() == text.lower()]
        if len(folded) == 1:
            return folded[0]
    if isinstance(state, bool):
        state = str(state)
    if isinstance(state, int) or re.fullmatch(r"[+-]?\d+", str(state).strip()):
        x = int(state)
        if 0 <= x < card:
            return x
        raise UserError(f"evidence state {x} of {var!r} is outside its domain 0..{card - 1}")
    allowed = f"one of {', '.join(labels)} or an index 0..{card - 1}" if labels else f"a state index 0..{card - 1}"
    raise UserError(f"evidence state {state!r} of {var!r} is not {allowed}")


def _pairs_from_text(text, where):
    """``NAME=STATE`` pairs separated by whitespace, commas or semicolons."""
    pairs = []
    for token in re.split(r"[\s,;]+", text.strip()):
        if not token:
            continue
        if "=" not in token:
            raise UserError(f"{where}: expected NAME=STATE, got {token!r}")
        name, state = token.split("=", 1)
        if not name or not state:
            raise UserError(f"{where}: expected NAME=STATE, got {token!r}")
        pairs.append((name, state))
    return pairs


def _pairs_from_json(obj, where):
    if isinstance(obj, dict):
        items = list(obj.items())
    elif isinstance(obj, list):
        items = []
        for it in obj:
            if isinstance(it, str):
                items.extend(_pairs_from_text(it, where))
            elif isinstance(it, (list, tuple)) and len(it) == 2:
                items.append(tuple(it))
            else:
                raise UserError(f"{where}: a JSON evidence list holds \"NAME=STATE\" strings or [name, state] pairs, got {it!r}")
    else:
        raise UserError(f"{where}: JSON evidence must be an object {{name: state}} or a list, got {type(obj).__name__}")
    out = []
    for name, state in items:
        if not isinstance(state, (int, str)) or isinstance(state, bool):
            raise UserError(f"{where}: the state of {name!r} must be a name or an integer, got {state!r}")
        out.append((str(name), state))
    return out


def _pairs_from_file(model, path):
    import pgm

    if path.lower().endswith(".json"):
        try:
            with open(path) as fh:
                return _pairs_from_json(json.load(fh), path), None
        except json.JSONDecodeError as exc:
            raise UserError(f"{path}: not valid JSON evidence ({exc})") from None
    with open(path, "rb") as fh:
        raw = fh.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{path}: evidence file is not UTF-8 text") from None
    words = text.split()
    if not words or re.fullmatch(r"\d+", words[0]):          # UAI .evid: count, then index pairs
        variables = list(model.variables)
        cards = [model.cardinalities[v] for v in variables]
        ev = pgm.read_evidence(path, len(variables), cards)
        return None, {variables[i]: x for i, x in ev.items()}
    if text.lstrip().startswith(("{", "[")):
        try:
            return _pairs_from_json(json.loads(text), path), None
        except json.JSONDecodeError as exc:
            raise UserError(f"{path}: not valid JSON evidence ({exc})") from None
    return _pairs_from_text(text, path), None


def parse_evidence(model, items):
    """Evidence ``{variable: state index}`` from command-line items: ``NAME=STATE`` pairs, JSON
    text, or files (UAI ``.evid``, ``.json``, ``NAME=STATE`` text)."""
    names = state_names(model)
    by_name = {str(v): v for v in model.variables}
    evidence = {}

    def put(var, x, where):
        if var in evidence and evidence[var] != x:
            label = names.get(var, list(range(model.cardinalities[var])))
            raise UserError(f"{where}: evidence gives {var!r} two states ({label[evidence[var]]} and {label[x]})")
        evidence[var] = x

    for item in items or ():
        text = item.strip()
        pairs = direct = None
        if text.startswith(("{", "[")):
            try:
                pairs = _pairs_from_json(json.loads(text), "evidence")
            except json.JSONDecodeError as exc:
                raise UserError(f"evidence {item!r} is not valid JSON ({exc})") from None
        elif os.path.isfile(item):
            pairs, direct = _pairs_from_file(model, item)
        elif os.path.isdir(item):
            raise UserError(f"evidence file {item!r} is a directory")
        elif "=" in text:
            pairs = _pairs_from_text(text, "evidence")
        else:
            raise UserError(f"evidence file {item!r} not found (evidence is a file, NAME=STATE pairs or JSON)")
        for var, x in (direct or {}).items():
            put(var, x, item)
        for name, state in pairs or ():
            var = _variable(model, name, by_name)
            put(var, _state(model, var, state, names), item)
    return evidence


def evidence_items(args, model_path):
    """The evidence items of a command, and a note when a UAI model's ``FILE.evid`` is used."""
    items = list(getattr(args, "evidence_pairs", None) or []) + [e for group in (args.evidence or []) for e in group]
    if items or getattr(args, "no_evidence", False):
        return items, None
    for cand in (model_path + ".evid",):
        if model_path.lower().endswith((".uai", ".uai.gz")) and os.path.isfile(cand):
            return [cand], f"(from {cand}; --no-evidence ignores it)"
    return [], None


# ---------------------------------------------------------------------------- output helpers
def fmt_num(x, digits=9):
    """Fixed-point with ``digits`` decimals, never ``-0.000…``."""
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    s = f"{x:.{digits}f}"
    return s[1:] if re.fullmatch(r"-0\.?0*", s) else s


def fmt_marginal(var, p, names, precision=4):
    import numpy as np

    labels = names.get(var)
    if labels and len(labels) == len(p):
        body = "  ".join(f"{lab} {fmt_num(float(x), precision)}" for lab, x in zip(labels, p))
        return f"P({var}) = {body}"
    body = " ".join(fmt_num(float(x), precision) for x in np.asarray(p).reshape(-1))
    return f"P({var}) = [{body}]"


def fmt_state(var, x, names):
    labels = names.get(var)
    return f"{var}={labels[x]}" if labels and x < len(labels) else f"{var}={x}"


def _plural(n, word):
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _bytes(n):
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{int(n)} B"


# ---------------------------------------------------------------------------- time limit
class Deadline:
    """Wall-clock budget of a command (``None``: unlimited)."""

    def __init__(self, seconds):
        self.seconds = seconds
        self.end = None if seconds is None else time.monotonic() + seconds

    def left(self):
        return math.inf if self.end is None else self.end - time.monotonic()

    def share(self, fraction):
        """A deadline ending after ``fraction`` of the time left."""
        if self.end is None:
            return Deadline(None)
        return Deadline(max(0.0, self.left() * fraction))


@contextlib.contextmanager
def hard_limit(deadline, what):
    """Raise :class:`TimeLimitReached` in the main thread when ``deadline`` passes (SIGALRM; a
    no-op without a limit, off the main thread or where SIGALRM does not exist)."""
    if deadline.end is None or not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return
    left = deadline.left()
    if left <= 0:
        raise TimeLimitReached(f"time limit of {deadline.seconds:g} s reached before {what}")

    def on_alarm(signum, frame):
        raise TimeLimitReached(f"time limit of {deadline.seconds:g} s reached during {what}")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, left)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


# ---------------------------------------------------------------------------- inference runners
class Answer:
    """What a method found: ``marginals`` ({var: probs}), ``log_z`` (natural log), ``assignment``
    ({var: state}), and notes for the user."""

    def __init__(self, method, **kw):
        self.method = method
        self.marginals = kw.get("marginals")
        self.log_z = kw.get("log_z")
        self.assignment = kw.get("assignment")
        self.notes = list(kw.get("notes", []))
        self.exact = kw.get("exact", False)
        self.converged = kw.get("converged", True)


def run_exact(model, evidence, task, args, deadline):
    import pgm

    with hard_limit(deadline, "exact inference"):
        if task == "MAR":
            return Answer("exact", marginals=pgm.exact.marginals(model, evidence=evidence, memory_limit=args.memory_limit),
                          exact=True)
        if task == "PR":
            return Answer("exact", log_z=pgm.exact.log_partition(model, evidence=evidence, memory_limit=args.memory_limit),
                          exact=True)
        r = pgm.exact.map_assignment(model, evidence=evidence, memory_limit=args.memory_limit)
        return Answer("exact", assignment=r.assignment, exact=True)


def run_bp(model, evidence, task, args, deadline):
    import pgm

    mode = "max" if task == "MAP" else "sum"
    notes = []
    with hard_limit(deadline, "belief propagation"), warnings.catch_warnings():
        warnings.simplefilter("ignore", pgm.errors.ConvergenceWarning)
        r = pgm.inference.belief_propagation(model, evidence=evidence, mode=mode, damping=args.damping,
                                             max_iter=args.max_iter)
        if not r.converged:
            notes.append(f"flooding BP did not converge in {args.max_iter} iterations (residual {r.residual:.3g}); "
                         "retrying with the residual schedule")
            r2 = pgm.inference.belief_propagation(model, evidence=evidence, mode=mode, damping=args.damping,
                                                  schedule="residual", max_iter=args.max_iter)
            if r2.converged or mode == "max" and r2.map_log_score > r.map_log_score:
                r = r2
    notes.append("BP converged" if r.converged else
                 f"BP did not converge (residual {r.residual:.3g}): the answer is a non-fixed point")
    if mode == "max":
        return Answer("bp", assignment=r.map_assignment, notes=notes, converged=r.converged)
    return Answer("bp", marginals=r.marginals, log_z=r.log_z, notes=notes, converged=r.converged)


def run_mf(model, evidence, task, args, deadline):
    import numpy as np

    import pgm

    with hard_limit(deadline, "mean field"):
        r = pgm.inference.mean_field(model, evidence=evidence, iterations=args.max_iter)
    notes = ["mean field converged" if r.converged else f"mean field did not converge (residual {r.residual:.3g})"]
    if task == "PR":
        notes.append("the mean-field ELBO is a lower bound on ln Z")
        return Answer("mf", log_z=float(r.elbo), notes=notes)
    mar = {}
    for v in model.variables:
        if v in r.mu:
            mar[v] = np.asarray(r.mu[v], dtype=float)
        else:
            mar[v] = np.zeros(model.cardinalities[v])
            mar[v][evidence[v]] = 1.0
    return Answer("mf", marginals=mar, notes=notes)


def run_chains(model, evidence, args, deadline, tempering=None, kernel="gibbs"):
    """Marginals from MCMC, in chunks continued exactly from ``final_state`` when there is a time
    limit (stopping early, with the draws so far, when it runs out)."""
    import numpy as np

    import samplers

    label = "pt" if tempering is not None else kernel
    total = args.draws
    warmup = args.warmup if args.warmup is not None else total // 2
    counts, done, state, notes = None, 0, None, []
    chunk = total if deadline.end is None else max(1, min(total, 50))
    while done < total:
        n = min(chunk, total - done)
        t0 = time.monotonic()
        try:
            with hard_limit(deadline, f"{label} sampling"):
                s = samplers.sample(model, method=kernel, chains=args.chains, draws=n, thin=args.thin,
                                    warmup=warmup if state is None else 0, seed=args.seed, progress=False,
                                    init=state, tempering=tempering, evidence=evidence,
                                    warn=n == total)      # chunks of a timed run: too short to judge
        except TimeLimitReached:
            if counts is None:
                raise
            notes.append(f"time limit reached: {done} of {total} draws per chain used")
            break
        state = s.final_state
        mar = s.marginals()
        counts = {v: mar[v] * n for v in mar} if counts is None else {v: counts[v] + mar[v] * n for v in mar}
        done += n
        dt = max(time.monotonic() - t0, 1e-3)
        left = deadline.left()
        if left <= 0 and done < total:
            notes.append(f"time limit reached: {done} of {total} draws per chain used")
            break
        chunk = max(1, int(n / dt * min(2.0, 0.8 * left))) if deadline.end is not None else total
    marg = {v: counts[v] / done for v in counts}
    if tempering is not None:
        rt = s.info.get("round_trips")
        if rt is not None:
            notes.append(f"replica round trips per chain (last chunk): mean {float(np.mean(rt)):.1f}")
    notes.insert(0, f"{_plural(args.chains, 'chain')} x {done} draws (thin {args.thin}, warm-up {warmup} sweeps)"
                 + (f", {len(tempering)} replicas from beta {tempering[0]:g}" if tempering is not None else ""))
    return Answer(label, marginals={v: marg[v] for v in model.variables}, notes=notes)


def _pt_betas(args):
    import samplers

    return samplers.geometric_betas(args.beta_min, args.replicas)


def run_ais(model, evidence, args, deadline):
    """``log Z`` by AIS, in chunks of runs (own seeds) so that a time limit keeps what is done."""
    import numpy as np
    from scipy.special import logsumexp

    import samplers

    from samplers.ais import warn_if_few_effective

    runs = args.runs
    chunk = min(runs, 32)
    seeds = np.random.SeedSequence(args.seed).spawn(-(-runs // chunk))
    logw, base, notes = [], None, []
    for k, ss in enumerate(seeds):
        n = min(chunk, runs - k * chunk)
        try:
            with hard_limit(deadline, "annealed importance sampling"):
                r = samplers.ais(model, betas=args.betas, runs=n, seed=ss, evidence=evidence, warn=False)
        except TimeLimitReached:
            if not logw:
                raise
            notes.append(f"time limit reached: {len(logw)} of {runs} runs used")
            break
        logw.extend(np.asarray(r.log_weights, dtype=float).tolist())
        base = r.log_z_base
    w = np.asarray(logw)
    log_z = float(base + logsumexp(w) - math.log(w.size))
    rel = np.exp(w - w.max())
    ess = float(rel.sum() ** 2 / (rel ** 2).sum())
    std = float(np.std(rel) / (np.mean(rel) * math.sqrt(w.size))) if w.size > 1 else math.inf
    notes.insert(0, f"{w.size} runs x {args.betas} temperatures: ln Z std error {std:.3g}, weight ESS {ess:.1f}")
    warn_if_few_effective(ess, w.size, args.betas)
    return Answer("ais", log_z=log_z, notes=notes)


def run_anneal(model, evidence, args, deadline, init=None):
    import numpy as np

    import samplers

    betas = samplers.annealing_betas(args.betas)
    chunk = min(args.chains, 4)
    seeds = np.random.SeedSequence(args.seed).spawn(-(-args.chains // chunk))
    best, used = None, 0
    for k, ss in enumerate(seeds):
        n = min(chunk, args.chains - k * chunk)
        try:
            with hard_limit(deadline, "simulated annealing"):
                # (n, vars) rows: a 1-D init fails on binary models mapped to spins (samplers bug)
                start = None if init is None else np.tile(np.asarray(init, dtype=np.int64), (n, 1))
                r = samplers.simulated_annealing(model, betas=betas, chains=n, seed=ss, evidence=evidence,
                                                 init=start)
        except TimeLimitReached:
            if best is None:
                raise
            break
        used += n
        if best is None or r.log_score > best.log_score:
            best = r
    notes = [f"{_plural(used, 'annealing chain')} x {len(betas)} temperatures"]
    return Answer("anneal", assignment=best.assignment, notes=notes)


def score(model, assignment, evidence):
    """``log p̃(x)`` of a full assignment (evidence states imposed)."""
    import numpy as np

    x = dict(assignment)
    x.update(evidence)
    return float(model.log_unnormalized(np.array([int(x[v]) for v in model.variables])))


def solve(model, evidence, task, method, args, deadline, say):
    """Run ``method`` (resolving ``auto``) and return an :class:`Answer`."""
    import pgm

    if method == "exact":
        return run_exact(model, evidence, task, args, deadline)
    if method == "bp":
        return run_bp(model, evidence, task, args, deadline)
    if method == "mf":
        return run_mf(model, evidence, task, args, deadline)
    if method == "gibbs":
        return run_chains(model, evidence, args, deadline)
    if method == "pt":
        return run_chains(model, evidence, args, deadline, tempering=_pt_betas(args))
    if method == "ais":
        return run_ais(model, evidence, args, deadline)
    if method == "anneal":
        return run_anneal(model, evidence, args, deadline)
    # auto: exact when the memory guard allows it (and it ends in time), else BP / a sampler
    limit, why = (args.memory_limit, f"--memory-limit {_bytes(args.memory_limit)}") if args.memory_limit \
        else pgm.exact.default_memory_limit()
    try:
        exact_deadline = deadline.share(0.5)
        a = run_exact(model, evidence, task, args, exact_deadline)
        say(f"auto: exact inference (variable elimination fits {why})")
        return a
    except pgm.errors.TooLargeError as exc:
        reason = f"exact inference is too large ({str(exc).split(';')[0]})"
    except TimeLimitReached:
        reason = "exact inference did not finish in half the time limit"
    if task == "MAR":
        a = run_bp(model, evidence, task, args, deadline)
        if a.converged:
            say(f"auto: loopy belief propagation, since {reason}")
            return a
        say(f"auto: parallel tempering, since {reason} and BP did not converge")
        return run_chains(model, evidence, args, deadline, tempering=_pt_betas(args))
    if task == "PR":
        a = run_bp(model, evidence, task, args, deadline)
        if a.converged:
            say(f"auto: Bethe free energy of converged BP, since {reason}")
            return a
        say(f"auto: annealed importance sampling, since {reason} and BP did not converge")
        return run_ais(model, evidence, args, deadline)
    a = run_bp(model, evidence, task, args, deadline)
    b = run_anneal(model, evidence, args, deadline, init=[a.assignment[v] for v in model.variables])
    best = b if score(model, b.assignment, evidence) > score(model, a.assignment, evidence) else a
    kept = "annealing improved on it" if best is b else "annealing did not improve on it"
    say(f"auto: max-product BP, then simulated annealing from its decoding ({kept}), since {reason}")
    best.notes = a.notes + b.notes
    return best


# ---------------------------------------------------------------------------- reference answers
def read_reference(path, stem):
    """``(kind, value)``: ``("MAR", [arrays])``, ``("PR", ln Z)`` or ``("MAP", states)``.

    A JSON reference holds ``{"lnZ": x}`` or ``{stem: {"lnZ": x}}`` (natural log, as in the
    UAI-2014 ``reference.json``); a ``.PR`` file holds log10."""
    import pgm

    if not os.path.isfile(path):
        raise UserError(f"reference file {path!r} not found")
    if path.lower().endswith(".json"):
        try:
            with open(path) as fh:
                data = json.load(fh)
        except json.JSONDecodeError as exc:
            raise UserError(f"{path}: not valid JSON ({exc})") from None
        entry = data.get(stem, data) if isinstance(data, dict) else None
        if not isinstance(entry, dict) or not isinstance(entry.get("lnZ"), (int, float)):
            raise UserError(f"{path} has no lnZ for {stem!r} (expected {{\"lnZ\": x}} or {{\"{stem}\": {{\"lnZ\": x}}}})")
        return "PR", float(entry["lnZ"])
    with open(path, "rb") as fh:
        head = fh.read(64).split()
    kind = head[0].decode("utf-8", "replace").upper() if head else ""
    if kind == "MAR":
        return "MAR", pgm.read_marginals(path)
    if kind == "PR":
        return "PR", pgm.read_pr(path) * math.log(10)
    if kind in ("MAP", "MPE"):
        return "MAP", pgm.read_map(path)
    raise UserError(f"{path}: a reference starts with MAR, PR or MAP (or is a reference.json), got {kind[:20]!r}")


def compare(model, evidence, task, answer, ref_kind, ref, say):
    import numpy as np

    if ref_kind != task:
        raise UserError(f"the reference is a {ref_kind} answer but the task is {task}")
    variables = list(model.variables)
    if task == "MAR":
        if len(ref) != len(variables):
            raise UserError(f"the reference has marginals of {len(ref)} variables, the model has {len(variables)}")
        errs = []
        for v, r in zip(variables, ref):
            p = np.asarray(answer.marginals[v])
            if len(r) != len(p):
                raise UserError(f"the reference marginal of {v!r} has {len(r)} states, the model {len(p)}")
            errs.append(float(np.abs(p - r).max()))
        worst = int(np.argmax(errs))
        say(f"max-abs marginal error vs reference: {errs[worst]:.3g} (at {variables[worst]!r}); "
            f"mean over variables {float(np.mean(errs)):.3g}")
        return errs[worst]
    if task == "PR":
        err = answer.log_z - ref
        rel = abs(err) / abs(ref) if ref else math.inf
        say(f"ln Z error vs reference: {err:+.3g} nats (reference ln Z {fmt_num(ref)}; relative {rel:.3g}); "
            f"log10 error {err / math.log(10):+.3g}")
        return abs(err)
    if len(ref) != len(variables):
        raise UserError(f"the reference MAP assignment has {len(ref)} states, the model has {len(variables)} variables")
    for v, x in zip(variables, ref):
        if x >= model.cardinalities[v]:
            raise UserError(f"the reference MAP gives {v!r} state {x}, outside 0..{model.cardinalities[v] - 1}")
    mine = score(model, answer.assignment, evidence)
    theirs = score(model, dict(zip(variables, (int(x) for x in ref))), evidence)
    verdict = "reaches or beats it" if mine >= theirs - 1e-9 * max(1.0, abs(theirs)) else "falls short of it"
    say(f"MAP log-score {fmt_num(mine)} vs reference {fmt_num(theirs)}: difference {mine - theirs:+.6g} ({verdict})")
    return mine - theirs


# ---------------------------------------------------------------------------- commands
def _compute_context(args):
    """Thread count for the numba kernels, as a context manager."""
    import numba

    import samplers

    n = getattr(args, "threads", None)
    if n is None:
        return contextlib.nullcontext()
    if not 1 <= n <= numba.config.NUMBA_NUM_THREADS:
        raise UserError(f"--threads must be in 1..{numba.config.NUMBA_NUM_THREADS} on this machine, got {n}")
    return samplers.threads(n)


def _default_output(base, task):
    """The competition's convention: the model file's name plus ``.MAR`` / ``.PR`` / ``.MAP``."""
    return f"{base}.{task}"


def cmd_solve(args):
    import pgm

    task = args.task.upper()
    method = args.method
    if method not in TASK_METHODS[task]:
        raise UserError(f"--method {method} does not answer --task {task}; use one of {', '.join(TASK_METHODS[task])}")
    deadline = Deadline(args.time_limit)
    compute = _compute_context(args)
    model, name, stem = load_model(args.model)
    items, ev_note = evidence_items(args, args.model)
    evidence = parse_evidence(model, items)
    names = state_names(model)
    ref = read_reference(args.reference, stem) if args.reference else None
    if ref is not None and ref[0] != task:
        raise UserError(f"--reference {args.reference} is a {ref[0]} answer but the task is {task}")
    out = args.output or _default_output(os.path.basename(args.model) if os.path.exists(args.model) else stem, task)
    quiet = args.quiet
    stream = sys.stderr if out == "-" else sys.stdout      # stdout carries the answer itself

    def say(line):
        if not quiet:
            print(line, file=stream)

    say(f"model: {name}  ({type(model).__name__}, {_plural(len(model.variables), 'variable')}, "
        f"evidence on {len(evidence)}{' ' + ev_note if ev_note and evidence else ''})")
    t0 = time.perf_counter()
    with compute:
        answer = solve(model, evidence, task, method, args, deadline, say)
    dt = time.perf_counter() - t0
    say(f"method: {answer.method}; {dt:.3f} s")
    for note in answer.notes:
        say(f"  {note}")
    if task == "MAR":
        for v in list(model.variables)[: args.show]:
            say("  " + fmt_marginal(v, answer.marginals[v], names))
        write = lambda path: pgm.write_marginals(path, answer.marginals, variables=model.variables)  # noqa: E731
    elif task == "PR":
        log10 = answer.log_z / math.log(10) if math.isfinite(answer.log_z) else answer.log_z
        say(f"ln Z = {fmt_num(answer.log_z)}   log10 Z = {fmt_num(log10)}"
            + ("   (ln Z = ln P(evidence) for a Bayesian network)" if hasattr(model, "cpds") else ""))
        write = lambda path: pgm.write_pr(path, log10)  # noqa: E731
    else:
        s = score(model, answer.assignment, evidence)
        say(f"log-score ln p~(x*) = {fmt_num(s)}")
        shown = [fmt_state(v, answer.assignment[v], names) for v in list(model.variables)[: args.show]]
        if shown:
            say("  " + " ".join(shown) + (" ..." if len(model.variables) > args.show else ""))
        write = lambda path: pgm.write_map(path, answer.assignment, variables=model.variables)  # noqa: E731
    if out == "-":
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "answer")
            write(path)
            with open(path) as fh:
                sys.stdout.write(fh.read())
    else:
        try:
            write(out)
        except OSError as exc:
            raise UserError(f"cannot write {out!r}: {exc.strerror or exc}") from None
        say(f"wrote {out}")
    if ref is not None:
        compare(model, evidence, task, answer, ref[0], ref[1], lambda line: print(line, file=stream))
    return 0


def exact_cost(model, evidence):
    """``(free variables, treewidth estimate, total entries, largest table entries)`` of exact
    inference with the best heuristic elimination order."""
    import pgm
    from pgm.elimination import best_order, order_cost
    from pgm.exact import ReducedModel

    p = ReducedModel(model, evidence)
    g = p.graph()
    if not p.variables:
        return 0, 0, 0, 0
    order = best_order(g, p.cards)
    total, largest = order_cost(g, order, p.cards)
    return len(p.variables), pgm.induced_width(g, order), total, largest


def cmd_info(args):
    import collections

    import pgm

    model, name, stem = load_model(args.model)
    items, ev_note = evidence_items(args, args.model)
    evidence = parse_evidence(model, items)
    names = state_names(model)
    cards = [model.cardinalities[v] for v in model.variables]
    print(f"model: {name}")
    print(f"kind: {type(model).__name__}")
    print(f"variables: {len(cards)}")
    if hasattr(model, "cpds"):
        print(f"factors: {len(model.cpds)} CPDs, {model.graph.number_of_edges()} arcs; "
              f"parameters: {model.parameter_count()}")
        scopes = [len(c.parents) + 1 for c in model.cpds.values()]
    else:
        factors = getattr(model, "factors", [])
        scopes = [len(f.scope) for f in factors]
        print(f"factors: {len(factors)}")
    hist = collections.Counter(cards)
    print("cardinalities: " + ", ".join(f"{k}: {hist[k]}" for k in sorted(hist))
          + f"  (min {min(cards, default=0)}, max {max(cards, default=0)})")
    if scopes:
        sh = collections.Counter(scopes)
        print("factor scope sizes: " + ", ".join(f"{k}: {sh[k]}" for k in sorted(sh)))
    print(f"state names: {'yes' if names else 'no'}")
    print(f"evidence: {len(evidence)} observed{' ' + ev_note if ev_note and evidence else ''}")
    free, width, total, largest = exact_cost(model, evidence)
    limit, why = pgm.exact.default_memory_limit()
    print(f"treewidth estimate: {width} (induced width of the best heuristic elimination order, "
          f"{free} free variables)")
    need_mar, need_pr = 8 * total, 8 * 3 * largest
    fits = "fits" if need_mar <= limit else "does NOT fit"
    print(f"exact inference memory: largest table {largest} entries; marginals/MAP ~{_bytes(need_mar)}, "
          f"ln Z ~{_bytes(need_pr)}; {fits} {why}")
    if hasattr(model, "cpds"):
        print("  (Bayesian networks: queries run on requisite sub-networks, so usually less)")
    return 0


def cmd_sample(args):
    import numpy as np

    import samplers

    compute = _compute_context(args)
    model, name, stem = load_model(args.model)
    items, ev_note = evidence_items(args, args.model)
    evidence = parse_evidence(model, items)
    names = state_names(model)
    kernel, tempering = (("gibbs", _pt_betas(args)) if args.method == "pt" else (args.method, None))
    if args.output and not args.output.endswith((".nc", ".nc4", ".netcdf")):
        raise UserError(f"-o {args.output!r}: the output is ArviZ netCDF; name it *.nc")
    t0 = time.perf_counter()
    with compute:
        s = samplers.sample(model, method=kernel, chains=args.chains, draws=args.draws, thin=args.thin,
                            warmup=args.warmup, seed=args.seed, progress=False, tempering=tempering,
                            evidence=evidence)
    dt = time.perf_counter() - t0
    warmup = args.warmup if args.warmup is not None else args.draws // 2
    print(f"model: {name}  ({_plural(len(model.variables), 'variable')}, evidence on {len(evidence)})")
    print(f"{args.method}: {_plural(args.chains, 'chain')} x {args.draws} draws (thin {args.thin}, warm-up {warmup} "
          f"sweeps), seed {args.seed}; {dt:.3f} s")
    import arviz as az

    idata = s.to_arviz()
    obs = [k for k in idata.posterior.data_vars if k != "x"]
    if obs:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            print(az.summary(idata, var_names=obs).to_string())
    mar = s.marginals()
    for v in list(model.variables)[: args.show]:
        print("  " + fmt_marginal(v, np.asarray(mar[v]), names))
    if args.output:
        try:
            idata.to_netcdf(args.output)
        except (OSError, PermissionError) as exc:
            raise UserError(f"cannot write {args.output!r}: {exc}") from None
        print(f"wrote {args.output} (ArviZ InferenceData: posterior x[chain, draw, variable] and observables)")
    return 0


def cmd_exact(args):
    import pgm

    model, name, stem = load_model(args.model)
    items, ev_note = evidence_items(args, args.model)
    evidence = parse_evidence(model, items)
    names = state_names(model)
    t0 = time.perf_counter()
    log_z = pgm.exact.log_partition(model, evidence=evidence)
    mar = pgm.exact.marginals(model, evidence=evidence)
    dt = time.perf_counter() - t0
    print(f"model: {name}  variables: {len(model.variables)}  evidence: {len(evidence)}")
    what = "ln P(evidence)" if hasattr(model, "cpds") and evidence else "ln Z"
    print(f"{what} = {fmt_num(log_z)}   (exact, variable elimination, {dt:.3f} s)")
    for v in list(mar)[: args.show]:
        print("  " + fmt_marginal(v, mar[v], names))
    return 0


RHAT_ESS = ("R-hat compares the spread between chains with the spread within them (1.00: they agree; "
            "above 1.01: not converged); ESS is how many independent draws the correlated ones are worth "
            "(Monte Carlo error of a mean ≈ sd/√ESS).")


def cmd_demo(args):
    import numpy as np

    import pgm
    import samplers

    beta_c = math.log(1 + math.sqrt(2)) / 2
    L = args.size
    model = pgm.Ising.grid(L, L, coupling=1.0, beta=beta_c)
    warmup = args.draws // 5
    print(f"2-D Ising model, {L}x{L} torus, J = 1, h = 0, beta = beta_c = {beta_c:.6f}")
    moves = args.method
    if args.method == "block_gibbs":
        moves += (" (checkerboard: two colour classes)" if L % 2 == 0 else
                  " (greedy colouring: an odd torus has no two-colouring)")
    print(f"{moves}, {_plural(args.chains, 'chain')} x {args.draws} draws (thin {args.thin}), "
          f"warm-up {warmup} sweeps, seed {args.seed}")
    t0 = time.perf_counter()
    s = samplers.sample(model, method=args.method, chains=args.chains, draws=args.draws, thin=args.thin,
                        warmup=warmup, seed=args.seed, keep_states=False)
    dt = time.perf_counter() - t0
    s.observables["energy_per_site"] = s.observables.pop("energy") / (L * L)
    s.observables["abs_magnetization"] = np.abs(s.observables["magnetization"])
    import arviz as az

    idata = s.to_arviz()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")           # one chain: ArviZ warns that R-hat needs two
        summary = az.summary(idata, var_names=["energy_per_site", "magnetization", "abs_magnetization"])
        rhat = float(az.rhat(idata, var_names=["abs_magnetization"])["abs_magnetization"]) if args.chains > 1 else math.nan
    print(summary.to_string())
    print(RHAT_ESS)
    if args.chains > 1:
        verdict = "converged" if rhat <= 1.01 else "NOT converged (run longer)"
        print(f"R-hat of |m| = {rhat:.3f}: {verdict}; sampling took {dt:.2f} s; exact infinite-lattice energy "
              f"per site at beta_c: -{math.sqrt(2):.4f}")
    else:
        print(f"R-hat needs at least 2 chains (run with --chains 2 or more); sampling took {dt:.2f} s; exact "
              f"infinite-lattice energy per site at beta_c: -{math.sqrt(2):.4f}")
    return 0


# ---------------------------------------------------------------------------- parser
class _Parser(argparse.ArgumentParser):
    """Usage errors as one line ``pgm: error: ...`` (exit status 2)."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"pgm: error: {message} (see '{self.prog} --help')\n")


def _evidence_args(p):
    p.add_argument("evidence_pairs", nargs="*", metavar="NAME=STATE",
                   help="evidence pairs (state names of a BIF model, or state indices)")
    p.add_argument("--evidence", "-e", nargs="+", action="append", metavar="EVIDENCE",
                   help="evidence file (UAI .evid, .json, or NAME=STATE text), NAME=STATE pairs, or a JSON "
                        "object/list; for FILE.uai, FILE.uai.evid is used when present and no evidence is given")
    p.add_argument("--no-evidence", action="store_true", help="ignore FILE.uai.evid beside a UAI model")


def _debug_arg(p):
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                   help="show the traceback of an error")


def build_parser():
    import pgm

    parser = _Parser(prog="pgm", description="Probabilistic graphical models and Monte Carlo: answer UAI inference "
                     "tasks (solve), summarise (info), sample and explore models.",
                     epilog="Exit status: 0 success, 2 a user error (one line 'pgm: error: ...' on stderr; "
                            "--debug shows the traceback), 3 a time limit reached with no answer, 1 an internal error.")
    parser.add_argument("--version", action="version", version=f"pgm {pgm.__version__}")
    _debug_arg(parser)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    s = sub.add_parser("solve", help="answer a UAI task (MAR, PR, MAP) and write the competition output",
                       description="Answer a UAI inference-competition task and write its output file "
                                   "(.MAR marginals, .PR log10 Z, .MAP assignment).")
    s.add_argument("model", metavar="FILE", help="a .uai, .bif or .bif.gz file, or a bundled example name")
    _evidence_args(s)
    s.add_argument("--task", type=str.upper, choices=TASKS, default="MAR",
                   help="MAR (marginals), PR (log10 partition function / probability of evidence), MAP")
    s.add_argument("--method", choices=METHODS, default="auto",
                   help="auto: exact when the memory guard allows, else BP or a sampler (default)")
    s.add_argument("--chains", type=positive("chains", 1), default=None,
                   help="MCMC chains / annealing runs (default 4 / 8)")
    s.add_argument("--draws", type=positive("draws", 1), default=2000, help="recorded draws per chain (gibbs, pt)")
    s.add_argument("--warmup", type=positive("warmup", 0), default=None, help="warm-up sweeps (default draws/2)")
    s.add_argument("--thin", type=positive("thin", 1), default=1, help="sweeps per recorded draw")
    s.add_argument("--replicas", type=positive("replicas", 2), default=10, help="pt: replicas per chain")
    s.add_argument("--beta-min", type=_float_type("beta-min", 0, 1), default=0.2,
                   help="pt: smallest inverse temperature of the geometric ladder")
    s.add_argument("--runs", type=positive("runs", 1), default=100, help="ais: annealing runs")
    s.add_argument("--betas", type=positive("betas", 2), default=1000,
                   help="ais / anneal: number of inverse temperatures in the schedule")
    s.add_argument("--damping", type=_float_type("damping", 0, 1, low_open=False), default=0.5,
                   help="bp: message damping in [0, 1)")
    s.add_argument("--max-iter", type=positive("max-iter", 1), default=200, help="bp / mf: iterations")
    s.add_argument("--seed", type=seed_type, default=0, help="random seed (non-negative integer)")
    s.add_argument("--threads", type=positive("threads", 1), default=None, help="threads of the compiled kernels")
    s.add_argument("--time-limit", type=_float_type("time-limit", 0), default=None, metavar="SECONDS",
                   help="wall-clock limit: samplers stop early with the draws so far; exact/BP/MF give up")
    s.add_argument("--memory-limit", type=memory_size, default=None, metavar="SIZE",
                   help="largest memory exact inference may allocate (e.g. 2G); default half the available memory")
    s.add_argument("-o", "--output", default=None, metavar="OUT",
                   help="output file (default: FILE's name + .MAR/.PR/.MAP in the current folder; - for stdout)")
    s.add_argument("--reference", default=None, metavar="FILE",
                   help="reference answer (.MAR, .PR, .MAP, or a reference.json with lnZ): print the error")
    s.add_argument("--show", type=positive("show", 0), default=8, help="marginals / states to print")
    s.add_argument("-q", "--quiet", action="store_true", help="print only the comparison with --reference")
    _debug_arg(s)
    s.set_defaults(func=cmd_solve)

    i = sub.add_parser("info", help="variables, factors, treewidth estimate and exact-inference memory of a model")
    i.add_argument("model", metavar="FILE", help="a .uai, .bif or .bif.gz file, or a bundled example name")
    _evidence_args(i)
    _debug_arg(i)
    i.set_defaults(func=cmd_info)

    m = sub.add_parser("sample", help="MCMC samples of a model, written as ArviZ netCDF")
    m.add_argument("model", metavar="FILE", help="a .uai, .bif or .bif.gz file, or a bundled example name")
    _evidence_args(m)
    m.add_argument("--method", choices=SAMPLE_METHODS, default="gibbs")
    m.add_argument("--chains", type=positive("chains", 1), default=4)
    m.add_argument("--draws", type=positive("draws", 1), default=1000)
    m.add_argument("--warmup", type=positive("warmup", 0), default=None, help="warm-up sweeps (default draws/2)")
    m.add_argument("--thin", type=positive("thin", 1), default=1)
    m.add_argument("--replicas", type=positive("replicas", 2), default=10, help="pt: replicas per chain")
    m.add_argument("--beta-min", type=_float_type("beta-min", 0, 1), default=0.2, help="pt: smallest beta")
    m.add_argument("--seed", type=seed_type, default=0)
    m.add_argument("--threads", type=positive("threads", 1), default=None)
    m.add_argument("--show", type=positive("show", 0), default=8, help="marginals to print")
    m.add_argument("-o", "--output", default=None, metavar="RUN.nc", help="write ArviZ InferenceData (netCDF)")
    _debug_arg(m)
    m.set_defaults(func=cmd_sample)

    p = sub.add_parser("exact", help="exact inference on a bundled example or a model file")
    p.add_argument("model", nargs="?", default="alarm",
                   help="bundled example name (alarm, asia, child, insurance, ...) or a file path")
    _evidence_args(p)
    p.add_argument("--show", type=positive("show", 0), default=8, help="number of marginals to print")
    _debug_arg(p)
    p.set_defaults(func=cmd_exact)

    d = sub.add_parser("demo", help="sample a 2-D Ising lattice at the critical point")
    d.add_argument("--size", type=_int_type("size", 3), default=64, help="lattice side L >= 3 (default 64)")
    d.add_argument("--method", default="swendsen_wang",
                   choices=["swendsen_wang", "wolff", "block_gibbs", "gibbs", "metropolis"])
    d.add_argument("--chains", type=positive("chains", 1), default=4)
    d.add_argument("--draws", type=positive("draws", 1), default=4000)
    d.add_argument("--thin", type=positive("thin", 1), default=1, help="sweeps per recorded draw")
    d.add_argument("--seed", type=seed_type, default=2026)
    _debug_arg(d)
    d.set_defaults(func=cmd_demo)
    return parser


def _one_line(exc):
    text = str(exc.args[0]) if type(exc) is KeyError and exc.args else str(exc)
    if isinstance(exc, OSError) and exc.filename is not None:
        text = f"{exc.strerror or exc}: {exc.filename!r}"
        if isinstance(exc, FileNotFoundError):
            text = f"file {exc.filename!r} not found"
    return " ".join(text.split()) or type(exc).__name__


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """Warnings as one line on stderr: ``pgm: warning: …`` (the category unless it is a
    convergence warning, which says what it is)."""
    kind = "" if category.__name__ == "ConvergenceWarning" else f"{category.__name__}: "
    print(f"pgm: warning: {kind}{_one_line(message)}", file=sys.stderr)


def main(argv=None):
    """Run the ``pgm`` command line; returns the exit status (0 ok, 2 user error, 3 time limit
    reached without an answer, 1 internal error)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        # NAME=STATE evidence pairs may also come after the options
        pairs = [t for t in extra if re.fullmatch(r"[^-=][^=]*=.+", t)]
        if pairs and hasattr(args, "evidence_pairs"):
            args.evidence_pairs = list(args.evidence_pairs or []) + pairs
            extra = [t for t in extra if t not in pairs]
        if extra:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as exc:                    # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else EXIT_USAGE)
    debug = getattr(args, "debug", False)
    if args.command == "solve" and args.chains is None:
        args.chains = 8 if args.method == "anneal" else 4
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            return args.func(args)
    except KeyboardInterrupt:
        print("pgm: interrupted", file=sys.stderr)
        return 130
    except (UserError, TimeLimitReached, ValueError, KeyError, OSError, EOFError) as exc:
        if debug:
            raise
        code = EXIT_TIME if isinstance(exc, TimeLimitReached) else EXIT_USAGE
        print(f"pgm: error: {_one_line(exc)}", file=sys.stderr)
        return code
    except Exception as exc:                     # a bug: say so in one line, unless --debug
        if debug:
            raise
        print(f"pgm: error: internal error {type(exc).__name__}: {_one_line(exc)} (rerun with --debug for the "
              "traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
