"""Ancestral sampling and likelihood weighting for Bayesian networks (SPEC.md §1, §2) and for
the directed generative models of SPEC.md §5 (sigmoid belief nets, FVSBN, NADE, VAE).

Ancestral sampling visits the nodes in topological order and draws each from its conditional
given the already-drawn parents — vectorised over all samples at once (one inverse-CDF lookup
per node).  A directed generative model (``pgm.SigmoidBeliefNet``, ``pgm.NADE``, …) says what
noise one pass needs (``noise_shapes(n)``: ``{"uniform": shape, "normal": shape}``) and turns
that noise into samples deterministically (``ancestral_pass(noise, layers=False)``); the noise
is drawn here, from the caller's seed.  Likelihood weighting clamps the evidence nodes and accumulates
``log w = Σ_{e ∈ evidence} log p(e | pa(e))``, an importance sampler whose self-normalised
estimates are consistent for any evidence.
"""

import numbers

import numpy as np

from pgm.bayesian import BayesianNetwork
from pgm.errors import EvidenceError, UnknownVariableError

__all__ = ["ancestral", "likelihood_weighting"]


def _check(bn, n):
    if not isinstance(bn, BayesianNetwork):
        raise TypeError(f"ancestral sampling needs a BayesianNetwork, got {type(bn).__name__}")
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"number of samples must be an integer >= 1, got {n!r}")


def _run(bn, n, rng, evidence):
    dtype = np.int64 if bn.is_discrete else np.float64
    out = np.empty((n, bn.n_variables), dtype=dtype)
    log_w = np.zeros(n)
    u = rng.random((bn.n_variables, n))
    for v in bn.topological_order:
        j = bn.index(v)
        cpd = bn.cpds[v]
        pa = out[:, [bn.index(p) for p in cpd.parents]]
        if v in evidence:
            out[:, j] = evidence[v]
            log_w += cpd.log_prob(np.full(n, evidence[v]), pa)
        elif cpd.is_discrete:
            out[:, j] = cpd.sample(pa, u[j])
        else:
            out[:, j] = cpd.sample(pa, rng.standard_normal(n))
    return out, log_w


def ancestral(bn, n, seed=None, layers=False):
    """Draw ``n`` independent samples of a Bayesian network or a directed generative model.

    Parameters
    ----------
    bn : pgm.BayesianNetwork or a directed generative model
        A model with ``noise_shapes`` / ``ancestral_pass`` (``pgm.SigmoidBeliefNet``,
        ``pgm.FVSBN``, ``pgm.NADE``, ``pgm.VAE``).
    n : int
    seed : int, numpy.random.Generator or None
    layers : bool
        Layered models only: return every layer ``[v, h¹, …, h^L]`` instead of ``v``.

    Returns
    -------
    numpy.ndarray
        Shape ``(n, bn.n_variables)``, columns in ``bn.variables`` order; int64 state indices
        when every node is discrete, float64 otherwise.  Directed generative models: float64
        visible samples ``(n, n_visible)``.

    Examples
    --------
    >>> import pgm, samplers
    >>> x = samplers.ancestral(pgm.read_bif(pgm.example_path("asia")), 1000, seed=0)
    >>> x.shape
    (1000, 8)
    """
    if hasattr(bn, "ancestral_pass") and not isinstance(bn, BayesianNetwork):
        return _directed(bn, n, seed, layers)
    if layers:
        raise TypeError("layers=True is for layered directed models (pgm.SigmoidBeliefNet)")
    _check(bn, n)
    return _run(bn, n, np.random.default_rng(seed), {})[0]


def _directed(model, n, seed, layers):
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"number of samples must be an integer >= 1, got {n!r}")
    rng = np.random.default_rng(seed)
    noise = {}
    for kind, shape in sorted(model.noise_shapes(int(n)).items()):
        if kind == "uniform":
            noise[kind] = rng.random(shape)
        elif kind == "normal":
            noise[kind] = rng.standard_normal(shape)
        else:
            raise TypeError(f"{type(model).__name__}.noise_shapes names unknown noise {kind!r}")
    return model.ancestral_pass(noise, layers=layers) if layers else model.ancestral_pass(noise)


def likelihood_weighting(bn, n, evidence, seed=None):
    """Importance samples with the evidence clamped and their log-weights.

    Returns
    -------
    samples : numpy.ndarray, shape (n, n_vars)
    log_weights : numpy.ndarray, shape (n,)
        ``log p(evidence | parents)`` summed over evidence nodes; ``logmeanexp(log_weights)``
        estimates ``ln P(evidence)`` without bias in ``P``.

    Examples
    --------
    >>> import pgm, samplers
    >>> bn = pgm.read_bif(pgm.example_path("asia"))
    >>> x, lw = samplers.likelihood_weighting(bn, 2000, {"dysp": 0}, seed=1)
    >>> bool((x[:, bn.index("dysp")] == 0).all())
    True
    """
    _check(bn, n)
    if not isinstance(evidence, dict):
        raise TypeError(f"evidence must be a dict {{variable: value}}, got {type(evidence).__name__}")
    ev = {}
    for v, x in evidence.items():
        if v not in bn.cpds:
            raise UnknownVariableError(f"evidence names unknown variable {v!r}")
        k = bn.cardinalities[v]
        if k is not None and isinstance(x, str) and x in bn.state_names.get(v, ()):
            x = bn.state_names[v].index(x)         # a state name
        if k is not None and (isinstance(x, bool) or not isinstance(x, numbers.Integral) or not 0 <= x < k):
            raise EvidenceError(f"evidence value {x!r} for {v!r} is outside 0..{k - 1}")
        ev[v] = x
    return _run(bn, n, np.random.default_rng(seed), ev)
