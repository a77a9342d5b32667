"""Pickle-free persistence: ``np.savez`` arrays plus a JSON header with a format version.

Load with ``allow_pickle=False`` only.  Variable names (str or int) and state names are kept.
"""

import json
import os

import numpy as np

from ..errors import ParseError

__all__ = ["save_model", "load", "FORMAT", "VERSION"]

FORMAT = "pgmc-model"
VERSION = 1


def _names(values):
    return [{"t": "int", "v": int(v)} if isinstance(v, (int, np.integer)) else {"t": "str", "v": v}
            for v in values]


def _unnames(items):
    out = []
    for it in items:
        if it.get("t") == "int":
            out.append(int(it["v"]))
        elif it.get("t") == "str":
            out.append(str(it["v"]))
        else:
            raise ParseError(f"bad variable name record {it!r}")
    return out


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


def _load_parametric(cls, meta, data, path):
    try:
        model = cls.from_settings(meta["settings"])
        model.set_params(**{k[len("param_"):]: data[k] for k in data.files if k.startswith("param_")})
    except (KeyError, TypeError, ValueError) as exc:
        raise ParseError(f"corrupt {meta.get('kind')} record: {exc}", str(path)) from None
    return model


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

    Examples
    --------
    >>> import pgm, tempfile, os
    >>> m = pgm.MarkovNetwork([pgm.DiscreteFactor(["a"], [1.0, 3.0])])
    >>> p = os.path.join(tempfile.mkdtemp(), "m.npz")
    >>> m.save(p)
    >>> pgm.load(p).variables
    ['a']
    """
    from ..bayesian import BayesianNetwork
    from ..cpd import LinearGaussianCPD, LogisticCPD, TabularCPD
    from ..discrete import FactorGraph, MarkovNetwork
    from ..factor import DiscreteFactor

    try:
        data = np.load(os.fspath(path), allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise ParseError(f"not a saved model: {exc}", str(path)) from None
    with data:
        if "__meta__" not in data.files:
            raise ParseError("not a saved model (no __meta__ record)", str(path))
        try:
            meta = json.loads(str(data["__meta__"]))
        except json.JSONDecodeError as exc:
            raise ParseError(f"corrupt metadata: {exc}", str(path)) from None
        if meta.get("format") != FORMAT:
            raise ParseError(f"unknown format {meta.get('format')!r}", str(path))
        if meta.get("version") != VERSION:
            raise ParseError(f"unsupported format version {meta.get('version')!r} (this "
                             f"library reads version {VERSION})", str(path))
        if meta.get("kind") in _parametric_kinds():
            return _load_parametric(_parametric_kinds()[meta["kind"]], meta, data, path)
        names = _unnames(meta["variables"])
        evidence = {names[i]: x for i, x in meta.get("evidence", [])}
        kind = meta.get("kind")
        if kind in ("MarkovNetwork", "FactorGraph"):
            cards = meta["cardinalities"]
            factors = [DiscreteFactor.from_log([names[j] for j in scope], data[f"factor_{i}"],
                                               [cards[j] for j in scope])
                       for i, scope in enumerate(meta["factors"])]
            cls = MarkovNetwork if kind == "MarkovNetwork" else FactorGraph
            return cls(factors, variables=names, cardinalities=cards, evidence=evidence)
        if kind == "BayesianNetwork":
            cpds = []
            card_of = {i: r.get("cardinality") for i, r in enumerate(meta["cpds"])}
            for i, rec in enumerate(meta["cpds"]):
                parents = [names[j] for j in rec["parents"]]
                arr = data[f"cpd_{i}"]
                if rec["type"] == "TabularCPD":
                    sn = {names[int(k)]: v for k, v in rec.get("state_names", {}).items()}
                    cpds.append(TabularCPD(names[i], rec["cardinality"], arr, parents,
                                           [card_of[j] for j in rec["parents"]], state_names=sn))
                elif rec["type"] == "LogisticCPD":
                    cpds.append(LogisticCPD(names[i], parents, arr, rec["bias"]))
                elif rec["type"] == "LinearGaussianCPD":
                    cpds.append(LinearGaussianCPD(names[i], parents, arr, rec["bias"], rec["variance"]))
                else:
                    raise ParseError(f"unknown CPD type {rec['type']!r}", str(path))
            return BayesianNetwork(cpds, nodes=names, evidence=evidence)
        raise ParseError(f"unknown model kind {kind!r}", str(path))
