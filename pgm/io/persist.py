"""Pickle-free persistence: ``np.savez`` arrays plus a JSON header with a format version.

Loaded without pickle through :func:`pgm.io.files.read_npz` (sizes checked before allocation,
object arrays refused); every record is validated — JSON types, indices, array names, shapes
and dtypes, and for models saved as settings the parameter count those settings imply (checked
before ``from_settings`` allocates it) — so that any malformed file raises
:class:`pgm.errors.ParseError` naming it.  Variable names (str or int) and state names are kept.
"""

import json
import math
import os

import numpy as np

from ..errors import ParseError
from .files import read_meta, read_npz

__all__ = ["save_model", "load", "FORMAT", "VERSION"]

FORMAT = "pgmc-model"
VERSION = 1


def _names(values):
    return [{"t": "int", "v": int(v)} if isinstance(v, (int, np.integer)) else {"t": "str", "v": v}
            for v in values]


def _unnames(items, path=None):
    if not isinstance(items, list):
        raise ParseError(f"'variables' must be a list of name records, got {type(items).__name__}", path)
    out, seen = [], set()
    for it in items:
        if isinstance(it, dict) and it.get("t") == "int" and _is_int(it.get("v")):
            name = int(it["v"])
        elif isinstance(it, dict) and it.get("t") == "str" and isinstance(it.get("v"), str):
            name = it["v"]
        else:
            raise ParseError(f"bad variable name record {_short(it)} (expected {{'t': 'int' or 'str', "
                             "'v': the name})", path)
        if name in seen:
            raise ParseError(f"variable {_short(name)} is named twice", path)
        seen.add(name)
        out.append(name)
    return out


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _get(rec, key, path, where="the model record"):
    if not isinstance(rec, dict) or key not in rec:
        raise ParseError(f"{where} has no {key!r} entry", path)
    return rec[key]


def _int_list(value, what, path, low=0, high=None):
    """A JSON list of integers in ``low..high-1``."""
    if not isinstance(value, list) or not all(_is_int(v) and v >= low and (high is None or v < high)
                                              for v in value):
        rng = f"{low}..{high - 1}" if high is not None else f">= {low}"
        raise ParseError(f"{what} must be a list of integers {rng}, got {_short(value)}", path)
    return value


def _short(value):
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _real(value, what, path, positive=False):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or (positive and value <= 0):
        raise ParseError(f"{what} must be a finite{' positive' if positive else ''} number, got "
                         f"{_short(value)}", path)
    return float(value)


def _match(declared, expected, path, what=None):
    """The arrays a record implies (``expected``: name → shape) must be exactly the arrays the
    file declares (``declared``: name → ``(shape, dtype)``), of real numbers."""
    for key, shape in expected.items():
        label = what(key) if what else f"array {key!r}"
        if key not in declared:
            raise ParseError(f"{label} is missing", path)
        have, dtype = declared[key]
        if dtype.kind not in "biuf":
            raise ParseError(f"{label} must hold real numbers, got dtype {dtype}", path)
        if tuple(have) != tuple(shape):
            raise ParseError(f"{label} has shape {tuple(have)}, expected {tuple(shape)}", path)
    extra = sorted(set(declared) - set(expected) - {"__meta__"})
    if extra:
        raise ParseError(f"unexpected arrays {extra[:5]} (the record describes {len(expected)})", path)


def _parametric_kinds():
    """Models saved as constructor settings (JSON) + parameter arrays: kind → class."""
    from ..gaussian import GaussianEnergy
    from ..mlp import MLPEnergy
    from ..autoencoder_chain import DAEChain, GSN
    from ..autoregressive import FVSBN, NADE
    from ..conditional_rbm import ConditionalRBM
    from ..covariance_rbm import MeanCovarianceRBM, MPoT
    from ..generators import GAN, GMMN
    from ..network import Network
    from ..sigmoid_belief import Recognition, SigmoidBeliefNet
    from ..vae import VAE

    return {"MLPEnergy": MLPEnergy, "GaussianEnergy": GaussianEnergy, "Network": Network,
            "FVSBN": FVSBN, "NADE": NADE, "VAE": VAE,
            "SigmoidBeliefNet": SigmoidBeliefNet, "Recognition": Recognition,
            "DAEChain": DAEChain, "GSN": GSN, "ConditionalRBM": ConditionalRBM,
            "MeanCovarianceRBM": MeanCovarianceRBM, "MPoT": MPoT, "GAN": GAN, "GMMN": GMMN}


def _save_parametric(model, path):
    meta = {"format": FORMAT, "version": VERSION, "kind": type(model).__name__,
            "settings": model.settings()}
    arrays = {f"param_{k}": np.asarray(v) for k, v in model.params.items()}
    arrays["__meta__"] = np.array(json.dumps(meta))
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def _size(v):
    """A size as a constructor would read it from JSON (``int()`` of a number or numeric string);
    0 for anything else, a huge number for an infinite one."""
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, float) and not math.isfinite(v):
        return 2**63 if v > 0 or math.isnan(v) else 0
    if isinstance(v, (int, float)):
        return max(int(v), 0)
    if isinstance(v, str):
        try:
            return max(int(v), 0)
        except ValueError:
            return 0
    return 0


def _sizes(v):
    if isinstance(v, list):
        return [_size(x) for x in v]
    return [_size(v)] if isinstance(v, (int, float)) else []


def _chain(sizes):
    """Weights and biases of dense layers ``sizes[0] → sizes[1] → …``."""
    return sum(a * b + b for a, b in zip(sizes, sizes[1:]))


def _net(s):
    return _chain(_sizes(s.get("sizes"))) if isinstance(s, dict) else 0


def _implied_elements(kind, s):
    """How many parameter numbers a ``kind`` built from settings ``s`` allocates (what
    ``from_settings`` would allocate), computed from the settings alone."""
    g = lambda key: _size(s.get(key))  # noqa: E731
    # a learned variance: one per visible unit (VAE) or one in all (DAE chain, GSN)
    learned_var = 1 if s.get("likelihood") == "gaussian" and s.get("variance") is None else 0
    if kind == "GaussianEnergy":
        return g("dim") ** 2 + g("dim")
    if kind == "MLPEnergy":
        hidden = _sizes(s.get("hidden"))
        return _chain([g("dim")] + hidden) + (hidden[-1] if hidden else 0) + 1
    if kind == "Network":
        return _net(s)
    if kind == "FVSBN":
        return g("n_visible") ** 2 + g("n_visible")
    if kind == "NADE":
        v, h = g("n_visible"), g("n_hidden")
        return 2 * v * h + v + h
    if kind == "VAE":
        return _net(s.get("encoder")) + _net(s.get("decoder")) + learned_var * g("n_visible")
    if kind == "SigmoidBeliefNet":
        sizes = _sizes(s.get("layer_sizes"))
        return _chain(sizes) + (sizes[0] if sizes else 0)
    if kind == "Recognition":
        return _chain(_sizes(s.get("layer_sizes")))
    if kind == "DAEChain":
        own = _chain([g("n_visible")] + _sizes(s.get("hidden")) + [g("n_visible")])
        return (_net(s["network"]) if isinstance(s.get("network"), dict) else own) + learned_var
    if kind == "GSN":
        d, h = g("n_visible"), g("n_hidden")
        return _chain([d + h, h]) + _chain([h] + _sizes(s.get("hidden")) + [d]) + learned_var
    if kind == "ConditionalRBM":
        v, h, c = g("n_visible"), g("n_hidden"), g("n_context")
        return v * h + v * c + h * c + v + h
    if kind in ("MeanCovarianceRBM", "MPoT"):
        v, f = g("n_visible"), g("n_factors")
        h = g("n_covariance_hidden" if kind == "MeanCovarianceRBM" else "n_hidden")
        m = h if kind == "MPoT" and s.get("n_mean_hidden") is None else g("n_mean_hidden")
        return v * f + f * h + h + v * m + m + v
    if kind == "GAN":
        return _net(s.get("generator")) + _net(s.get("discriminator"))
    if kind == "GMMN":
        return _net(s.get("generator"))
    # a kind without a formula: every size it declares, multiplied out pairwise
    total = sum(_size(v) for v in _numbers(s))
    return total * total


def _numbers(obj, depth=0):
    if depth > 20:
        return
    if isinstance(obj, dict):
        obj = list(obj.values())
    if isinstance(obj, list):
        for v in obj:
            yield from _numbers(v, depth + 1)
    elif isinstance(obj, (int, float)):
        yield obj


#: numbers a parametric model's settings may imply beyond those its file stores (small
#: discrepancies between a settings formula and a class are not worth a refusal)
_SETTINGS_SLACK = 1024


def save_model(model, path):
    """Write ``model`` (MarkovNetwork, FactorGraph, BayesianNetwork, MLPEnergy or
    GaussianEnergy) to ``path``."""
    from ..bayesian import BayesianNetwork
    from ..cpd import LinearGaussianCPD, LogisticCPD, TabularCPD
    from ..discrete import DiscreteModel

    if type(model).__name__ in _parametric_kinds():
        return _save_parametric(model, path)
    arrays = {}
    meta = {"format": FORMAT, "version": VERSION, "kind": type(model).__name__,
            "variables": _names(model.variables)}
    index = {v: i for i, v in enumerate(model.variables)}
    meta["evidence"] = [[index[v], int(x)] for v, x in model.evidence.items()]
    if isinstance(model, DiscreteModel):
        meta["cardinalities"] = [model.cardinalities[v] for v in model.variables]
        meta["factors"] = []
        for i, f in enumerate(model.factors):
            meta["factors"].append([index[v] for v in f.scope])
            arrays[f"factor_{i}"] = f.log_table
    elif isinstance(model, BayesianNetwork):
        meta["cpds"] = []
        for i, v in enumerate(model.variables):
            c = model.cpds[v]
            rec = {"parents": [index[p] for p in c.parents], "type": type(c).__name__}
            if isinstance(c, TabularCPD):
                rec["cardinality"] = c.cardinality
                rec["state_names"] = {str(index[k]): n for k, n in c.state_names.items()}
                arrays[f"cpd_{i}"] = c.values
            elif isinstance(c, LogisticCPD):
                rec["bias"] = c.bias
                arrays[f"cpd_{i}"] = c.weights
            elif isinstance(c, LinearGaussianCPD):
                rec["bias"], rec["variance"] = c.bias, c.variance
                arrays[f"cpd_{i}"] = c.weights
            meta["cpds"].append(rec)
    else:
        raise TypeError(f"cannot save objects of type {type(model).__name__}")
    arrays["__meta__"] = np.array(json.dumps(meta))
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def load(path):
    """Load a model written by ``model.save(path)``.

    The header record is read and checked first; arrays are read only when their declared
    shapes are those the record implies (for a model saved as settings: when the settings do
    not ask for more parameter numbers than the file stores — ``from_settings`` allocates them).

    Raises
    ------
    ParseError
        Anything wrong with the file — not an ``.npz`` archive, corrupt or truncated data,
        arrays over :data:`pgm.io.files.MAX_NPZ_BYTES`, a ``__meta__`` record of another
        format, version or structure, missing, unexpected or mis-shaped arrays, settings that
        would allocate more than the file stores, a model its class refuses — naming the file.
    OSError
        The file cannot be opened.

    Examples
    --------
    >>> import pgm, tempfile, os
    >>> m = pgm.MarkovNetwork([pgm.DiscreteFactor(["a"], [1.0, 3.0])])
    >>> p = os.path.join(tempfile.mkdtemp(), "m.npz")
    >>> m.save(p)
    >>> pgm.load(p).variables
    ['a']
    """
    name = os.fspath(path)
    plan = {}

    def check(first, declared):
        plan["meta"] = read_meta(first, name, "a saved model", FORMAT, VERSION)
        plan["layout"] = _layout(plan["meta"], declared, name)

    arrays = read_npz(name, "a saved model", check=check)
    return _build(plan["meta"], arrays, name, plan["layout"])


def _layout(meta, declared, path=None):
    """Check a model record against the arrays a file declares (``name → (shape, dtype)``)
    before their data is read; returns what :func:`_build` needs."""
    kind = meta.get("kind")
    kinds = _parametric_kinds()
    if isinstance(kind, str) and kind in kinds:
        return _parametric_layout(kind, meta, declared, path)
    if kind in ("MarkovNetwork", "FactorGraph"):
        return _discrete_layout(meta, declared, path)
    if kind == "BayesianNetwork":
        return _bayesian_layout(meta, declared, path)
    raise ParseError(f"unknown model kind {_short(kind)}", path)


def _build(meta, arrays, path=None, layout=None):
    """The model described by a checked ``__meta__`` record and its arrays."""
    if layout is None:
        layout = _layout(meta, {k: (v.shape, v.dtype) for k, v in arrays.items()}, path)
    kind = meta["kind"]
    try:
        if layout[0] == "parametric":
            return _parametric(kind, layout, arrays, path)
        if layout[0] == "discrete":
            return _discrete(kind, layout, arrays)
        return _bayesian(layout, arrays)
    except ParseError:
        raise
    except (KeyError, TypeError, ValueError, IndexError) as exc:  # the model classes' own checks
        raise ParseError(f"corrupt {kind} record: {exc}", path) from None


# ---------------------------------------------------------------------------- models as settings
def _parametric_layout(kind, meta, declared, path):
    settings = _get(meta, "settings", path)
    if not isinstance(settings, dict):
        raise ParseError(f"the settings of a {kind} must be a JSON object, got {_short(settings)}", path)
    params = {k: shape for k, (shape, _) in declared.items() if k.startswith("param_")}
    _match(declared, params, path, what=lambda k: f"parameter {k[len('param_'):]!r} of the {kind}")
    stored = sum(math.prod(shape) for shape in params.values())
    implied = _implied_elements(kind, settings)
    if implied > stored + _SETTINGS_SLACK:
        raise ParseError(f"the settings of this {kind} ({_short(settings)}) declare {implied} parameter "
                         f"numbers, but the file stores {stored}", path)
    return ("parametric", settings)


def _parametric(kind, layout, arrays, path):
    """A model saved as settings + ``param_*`` arrays: built from its settings (whose size
    :func:`_parametric_layout` bounded), then names and shapes must match."""
    settings = layout[1]
    params = {k[len("param_"):]: v for k, v in arrays.items() if k.startswith("param_")}
    try:
        model = _parametric_kinds()[kind].from_settings(settings)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, OverflowError) as exc:
        raise ParseError(f"corrupt {kind} settings: {type(exc).__name__}: {exc}", path) from None
    want = {k: np.shape(v) for k, v in model.params.items()}
    if set(want) != set(params):
        missing, extra = sorted(set(want) - set(params)), sorted(set(params) - set(want))
        raise ParseError(f"a {kind} with these settings has parameters {sorted(want)}; the file "
                         f"{'lacks ' + str(missing) if missing else ''}"
                         f"{' and ' if missing and extra else ''}"
                         f"{'has the unknown ' + str(extra) if extra else ''}", path)
    for k, shape in want.items():
        if params[k].shape != shape:
            raise ParseError(f"parameter {k!r} of the {kind} has shape {params[k].shape}, expected {shape}",
                             path)
    try:
        model.set_params(**params)
    except (KeyError, TypeError, ValueError) as exc:
        raise ParseError(f"corrupt {kind} parameters: {exc}", path) from None
    return model


# ---------------------------------------------------------------------------- discrete models
def _evidence(meta, names, cards, path):
    pairs = meta.get("evidence", [])
    if not isinstance(pairs, list):
        raise ParseError(f"'evidence' must be a list of [variable index, state] pairs, got {_short(pairs)}",
                         path)
    ev = {}
    for pair in pairs:
        if not (isinstance(pair, list) and len(pair) == 2 and all(_is_int(v) for v in pair)
                and 0 <= pair[0] < len(names) and pair[1] >= 0):
            raise ParseError(f"evidence entry {_short(pair)} is not a [variable index 0..{len(names) - 1}, "
                             "state >= 0] pair", path)
        i, x = pair
        if cards[i] is not None and x >= cards[i]:
            raise ParseError(f"evidence gives variable {names[i]!r} the state {x}, outside its domain "
                             f"0..{cards[i] - 1}", path)
        if names[i] in ev and ev[names[i]] != x:
            raise ParseError(f"evidence gives variable {names[i]!r} two states", path)
        ev[names[i]] = x
    return ev


def _discrete_layout(meta, declared, path):
    names = _unnames(_get(meta, "variables", path), path)
    n = len(names)
    cards = _int_list(_get(meta, "cardinalities", path), "'cardinalities'", path, low=1)
    if len(cards) != n:
        raise ParseError(f"{len(cards)} cardinalities for {n} variables", path)
    scopes = _get(meta, "factors", path)
    if not isinstance(scopes, list):
        raise ParseError(f"'factors' must be a list of scopes, got {_short(scopes)}", path)
    for i, scope in enumerate(scopes):
        _int_list(scope, f"the scope of factor {i}", path, high=n)
        if len(set(scope)) != len(scope):
            raise ParseError(f"the scope of factor {i} repeats a variable: {scope}", path)
    _match(declared, {f"factor_{i}": [cards[j] for j in scope] for i, scope in enumerate(scopes)}, path,
           what=lambda k: f"the table of factor {k[len('factor_'):]}")
    return ("discrete", names, cards, scopes, _evidence(meta, names, cards, path))


def _discrete(kind, layout, arrays):
    from ..discrete import FactorGraph, MarkovNetwork
    from ..factor import DiscreteFactor

    _, names, cards, scopes, evidence = layout
    factors = [DiscreteFactor.from_log([names[j] for j in scope], arrays[f"factor_{i}"],
                                       [cards[j] for j in scope]) for i, scope in enumerate(scopes)]
    cls = MarkovNetwork if kind == "MarkovNetwork" else FactorGraph
    return cls(factors, variables=names, cardinalities=cards, evidence=evidence)


# ---------------------------------------------------------------------------- Bayesian networks
def _bayesian_layout(meta, declared, path):
    names = _unnames(_get(meta, "variables", path), path)
    recs = _get(meta, "cpds", path)
    if not isinstance(recs, list) or len(recs) != len(names) or not all(isinstance(r, dict) for r in recs):
        raise ParseError(f"'cpds' must be a list of {len(names)} CPD records (one per variable)", path)
    card_of = [r.get("cardinality") if r.get("type") == "TabularCPD" else None for r in recs]
    for i, c in enumerate(card_of):
        if c is not None and not (_is_int(c) and c >= 1):
            raise ParseError(f"the cardinality of variable {names[i]!r} must be an integer >= 1, got "
                             f"{_short(c)}", path)
    specs, expected = [], {}
    for i, rec in enumerate(recs):
        where = f"the CPD of {names[i]!r}"
        parents = _int_list(_get(rec, "parents", path, where), f"the parents of {names[i]!r}", path,
                            high=len(names))
        if len(set(parents)) != len(parents) or i in parents:
            raise ParseError(f"invalid parents {parents} of variable {names[i]!r}", path)
        kind = rec.get("type")
        spec = {"type": kind, "parents": parents}
        if kind == "TabularCPD":
            for j in parents:
                if card_of[j] is None:
                    raise ParseError(f"{where} has the non-discrete parent {names[j]!r}", path)
            spec["pcards"] = [card_of[j] for j in parents]
            expected[f"cpd_{i}"] = [card_of[i]] + spec["pcards"]
            sn = rec.get("state_names", {})
            if not isinstance(sn, dict):
                raise ParseError(f"the state names of {where} must be a JSON object", path)
            states = {}
            for k, v in sn.items():
                j = int(k) if k.isascii() and k.isdigit() else -1
                if not 0 <= j < len(names) or not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                    raise ParseError(f"bad state names {_short({k: v})} in {where}", path)
                states[names[j]] = v
            spec["state_names"] = states
        elif kind in ("LogisticCPD", "LinearGaussianCPD"):
            expected[f"cpd_{i}"] = [len(parents)]
            spec["bias"] = _real(_get(rec, "bias", path, where), f"the bias of {where}", path)
            if kind == "LinearGaussianCPD":
                spec["variance"] = _real(_get(rec, "variance", path, where), f"the variance of {where}", path,
                                         positive=True)
        else:
            raise ParseError(f"unknown CPD type {_short(kind)} of variable {names[i]!r}", path)
        specs.append(spec)
    _match(declared, expected, path, what=lambda k: f"the array of the CPD of {names[int(k[4:])]!r}")
    return ("bayes", names, card_of, specs, _evidence(meta, names, card_of, path))


def _bayesian(layout, arrays):
    from ..bayesian import BayesianNetwork
    from ..cpd import LinearGaussianCPD, LogisticCPD, TabularCPD

    _, names, card_of, specs, evidence = layout
    cpds = []
    for i, spec in enumerate(specs):
        arr, pnames = arrays[f"cpd_{i}"], [names[j] for j in spec["parents"]]
        if spec["type"] == "TabularCPD":
            cpds.append(TabularCPD(names[i], card_of[i], arr, pnames, spec["pcards"],
                                   state_names=spec["state_names"]))
        elif spec["type"] == "LogisticCPD":
            cpds.append(LogisticCPD(names[i], pnames, arr, spec["bias"]))
        else:
            cpds.append(LinearGaussianCPD(names[i], pnames, arr, spec["bias"], spec["variance"]))
    return BayesianNetwork(cpds, nodes=names, evidence=evidence)
