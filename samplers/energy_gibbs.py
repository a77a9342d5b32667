"""Single-site Gibbs for energies over ``{0, 1}^d`` given only as a function (SPEC.md §2, Gibbs).

For a model with no factor structure to compile — e.g. :class:`pgm.MLPEnergy` with
``domain="binary"`` — the heat-bath conditional of unit ``j`` follows from one energy difference:
``p(x_j = 1 | x_{−j}) = σ(−[E(x^{j←1}) − E(x^{j←0})])``.  A systematic sweep visits
``j = 0 … d−1`` and evaluates that difference for every chain at once (``model.energy_delta(x, j)``
when the model offers it, else two ``energy`` calls), so the cost per sweep is ``d`` batched
energy evaluations.

Randomness and resumption follow the discrete driver: per-chain xoshiro256 streams (one uniform
per unit per sweep), ``SeedSequence(seed).spawn(3)`` → (initial states, chain streams, spare),
``Samples.final_state`` continues a run exactly.
"""

import time

import numpy as np

from pgm.errors import ModelError, SamplingError

from ._rng import draw_doubles, make_rng_state
from .results import ChainState, Samples

__all__ = ["sample_binary_energy"]


def _energy_delta(model, x, j):
    if hasattr(model, "energy_delta"):
        return np.asarray(model.energy_delta(x, j), dtype=np.float64)
    hi, lo = x.copy(), x.copy()
    hi[:, j], lo[:, j] = 1, 0
    return np.asarray(model.energy(hi), np.float64) - np.asarray(model.energy(lo), np.float64)


def _initial(init, chains, d, rng):
    if isinstance(init, ChainState):
        arr = init.x
    elif init is None:
        return rng.integers(0, 2, size=(chains, d)).astype(np.int8)
    else:
        arr = np.asarray(init)
        if arr.ndim == 1:
            arr = np.broadcast_to(arr, (chains, d))
    if arr.shape != (chains, d):
        raise ModelError(f"init must have shape ({chains}, {d}) or ({d},), got {np.shape(arr)}")
    if not np.isin(arr, (0, 1)).all():
        raise ModelError(f"init must be binary (0 or 1), found {arr[~np.isin(arr, (0, 1))].flat[0]!r}")
    return np.array(arr, dtype=np.int8)


def _sweep(model, x, rng_state, where):
    u = draw_doubles(rng_state, x.shape[1])
    for j in range(x.shape[1]):
        delta = _energy_delta(model, x, j)
        if delta.shape != (x.shape[0],):
            raise SamplingError(f"energy difference of unit {j} has shape {delta.shape}, expected "
                                f"({x.shape[0]},) ({where})")
        if np.isnan(delta).any():
            c = int(np.flatnonzero(np.isnan(delta))[0])
            raise SamplingError(f"energy difference of unit {j} is NaN for chain {c} ({where})")
        # σ(−Δ) without overflow: 1 / (1 + e^{Δ}) with e^{Δ} = inf → 0
        with np.errstate(over="ignore"):
            p1 = 1.0 / (1.0 + np.exp(delta))
        x[:, j] = u[:, j] < p1


def sample_binary_energy(model, method="gibbs", chains=None, draws=1000, warmup=None, thin=1,
                         seed=None, init=None, observables=None, keep_states=True, progress=True):
    """Gibbs sampling of a binary energy model (``samplers.sample`` dispatches here).

    Parameters are those of :func:`samplers.sample`; only ``method="gibbs"`` (systematic scan)
    applies.  ``sample_stats["lp"]`` is ``−E(x)`` of each recorded state.

    Examples
    --------
    >>> import pgm, samplers
    >>> f = pgm.MLPEnergy(6, hidden=(4,), domain="binary", seed=0)
    >>> s = samplers.sample(f, chains=3, draws=20, seed=1, progress=False)
    >>> s.states.shape, s.states.dtype.name
    ((3, 20, 6), 'int8')
    """
    from .sample import _Progress, run_settings

    if method != "gibbs":
        raise ValueError(f"binary energy models are sampled with method='gibbs', got {method!r}")
    chains, draws, warmup, thin, observables = run_settings(init, chains, draws, warmup, thin, observables)
    d = int(model.dim)
    if isinstance(init, ChainState):
        x = _initial(init, chains, d, None)
        rng_state = np.array(init.rng_state, dtype=np.uint64)
    else:
        ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        init_ss, chain_ss, _ = ss.spawn(3)
        x = _initial(init, chains, d, np.random.default_rng(init_ss))
        rng_state = make_rng_state(chain_ss, chains)
    bar = _Progress(warmup + draws * thin, progress)
    t0 = time.perf_counter()
    for it in range(warmup):
        _sweep(model, x, rng_state, f"warm-up sweep {it}")
        bar.update(1, "warmup")
    t_warm = time.perf_counter() - t0
    kept = np.empty((chains, draws, d), dtype=np.int8) if keep_states else None
    lp = np.empty((chains, draws))
    obs = {name: np.empty((chains, draws)) for name in observables}
    for k in range(draws):
        for t in range(thin):
            _sweep(model, x, rng_state, f"draw {k}")
        lp[:, k] = -np.asarray(model.energy(x), dtype=np.float64)
        if keep_states:
            kept[:, k] = x
        for name, f in observables.items():
            val = np.asarray(f(x[:, None, :]))
            if val.shape != (chains, 1):
                raise ModelError(f"observable {name!r} returned shape {val.shape}, expected ({chains}, 1)")
            obs[name][:, k] = val[:, 0]
        bar.update(thin, "sampling")
    bar.close()
    obs["energy"] = -lp
    info = {"method": "gibbs", "scan": "systematic", "chains": chains, "draws": draws,
            "warmup": warmup, "thin": thin, "seed": seed if isinstance(seed, (int, type(None))) else None,
            "domain": (0, 1), "cardinalities": [2] * d, "evidence": {},
            "seconds_warmup": t_warm, "seconds_sampling": time.perf_counter() - t0 - t_warm,
            "engine": "energy_gibbs"}
    return Samples(kept, obs, {"lp": lp}, list(range(d)), ChainState(x, rng_state), info)
