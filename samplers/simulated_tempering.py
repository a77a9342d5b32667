"""Simulated tempering (SPEC.md §2, "Tempering"): the chain also moves in β.

The joint target is ``π(x, k) ∝ p̃(x)^{β_k} e^{g_k}`` over states and ladder indices.  Each
round makes one sweep of the model's kernel at ``β_k`` and then proposes ``k → k ± 1`` (one
direction drawn at random; moves off the ladder are rejected), accepted with
``min(1, exp((β_{k'} − β_k) log p̃(x) + g_{k'} − g_k))``.  The log-weights ``g_k`` should be
``−log Z_{β_k}`` for uniform occupancy of the ladder; they are adapted during warm-up by a
Wang–Landau scheme (``g_k −= γ`` at every visit, with ``γ`` shrinking over the warm-up) and
then frozen, so the recorded draws come from a fixed, exact kernel.  Draws at β = 1 are
samples of ``p``; the adapted weights also estimate ``log Z_1 − log Z_{β_0}``.
"""

import numpy as np

from ._rng import draw_doubles
from .results import Samples

__all__ = ["simulated_tempering"]


def simulated_tempering(model, betas, method="gibbs", chains=None, draws=1000, warmup=None,
                        seed=None, evidence=None, gamma=1.0, progress=False):
    """Sample a discrete model with simulated tempering.

    Parameters
    ----------
    model : a discrete model accepted by :func:`samplers.sample`
    betas : array_like
        Increasing inverse temperatures in (0, 1] ending at 1.
    method : {"gibbs", "block_gibbs", "metropolis"}
    chains, draws, warmup, seed, evidence
        As in :func:`samplers.sample` (one sweep per draw; ``warmup`` default ``draws``).
    gamma : float
        Initial Wang–Landau step of the log-weights.

    Returns
    -------
    Samples
        All draws; ``sample_stats["beta"]`` gives each draw's inverse temperature (select
        ``beta == 1`` for samples of the model).  ``info["log_weights"]`` (adapted ``g``),
        ``info["occupancy"]`` (fraction of recorded draws per β) and ``info["log_z_ratio"]``
        (estimate of ``log Z_1 − log Z_{β_0}``).

    Examples
    --------
    >>> import pgm, samplers
    >>> s = samplers.simulated_tempering(pgm.Ising.grid(4, 4, beta=0.5), [0.2, 0.5, 1.0],
    ...                                  chains=2, draws=200, seed=0)
    >>> s.sample_stats["beta"].shape
    (2, 200)
    """
    from .sample import _count, _Prepared
    from .tempering import check_ladder

    ladder = check_ladder(betas)
    chains = _count(4 if chains is None else chains, "chains", 1)
    draws = _count(draws, "draws", 1)
    warmup = draws if warmup is None else _count(warmup, "warmup", 0)
    if not (np.isfinite(gamma) and gamma > 0):
        raise ValueError(f"gamma must be a finite number > 0, got {gamma!r}")
    prep = _Prepared(model, method, chains, seed, evidence)
    engine, state, rng = prep.engine, prep.state, prep.rng_state
    move_rng = np.random.SeedSequence(seed).spawn(4)[3] if not isinstance(seed, np.random.SeedSequence) \
        else seed.spawn(1)[0]
    from ._rng import make_rng_state

    move_state = make_rng_state(move_rng, chains)
    R = ladder.size
    k = np.zeros(chains, dtype=np.int64)  # start hot
    g = np.zeros(R)
    visits = np.zeros(R)
    keep_x = np.empty((chains, draws, prep.target.n), dtype=state.dtype)
    beta_out = np.empty((chains, draws))
    lp_out = np.empty((chains, draws))
    energy_out = np.empty((chains, draws))
    from .threads import threads_for

    with threads_for(state.shape[0] * state.shape[1]):
        for t in range(warmup + draws):
            _, obs, stats = engine.run(state, rng, 1, 1, record=True, keep=False, betas=ladder[k])
            lp = stats["lp"][:, 0]
            if t >= warmup:
                d = t - warmup
                keep_x[:, d] = state
                beta_out[:, d] = ladder[k]
                lp_out[:, d] = lp
                energy_out[:, d] = obs["energy"][:, 0]
            u = draw_doubles(move_state, 2)
            step = np.where(u[:, 0] < 0.5, -1, 1)
            new = k + step
            inside = (new >= 0) & (new < R)
            newc = np.clip(new, 0, R - 1)
            with np.errstate(invalid="ignore"):
                log_acc = (ladder[newc] - ladder[k]) * lp + g[newc] - g[k]
            log_acc = np.where(np.isnan(log_acc), -np.inf, log_acc)
            with np.errstate(divide="ignore"):
                accept = inside & (np.log(u[:, 1]) < log_acc)
            k = np.where(accept, newc, k)
            if t < warmup:
                step_size = gamma / (1.0 + 10.0 * t / max(warmup, 1))
                np.subtract.at(g, k, step_size / chains)
            else:
                np.add.at(visits, k, 1)
    g -= g[0]
    occupancy = visits / visits.sum()
    with np.errstate(divide="ignore"):
        log_z_ratio = float(-(g[-1] - g[0]) + np.log(occupancy[-1] / occupancy[0])) \
            if occupancy[0] > 0 and occupancy[-1] > 0 else float("nan")
    user = engine.to_user(keep_x)
    from .results import ChainState

    info = {"method": method, "betas": ladder.tolist(), "log_weights": g.tolist(),
            "occupancy": occupancy.tolist(), "log_z_ratio": log_z_ratio, "chains": chains,
            "draws": draws, "warmup": warmup, "domain": prep.target.domain,
            "cardinalities": prep.target.cards.tolist(), "engine": type(engine).__name__}
    return Samples(user, {"energy": energy_out}, {"lp": lp_out, "beta": beta_out},
                   prep.target.variables, ChainState(engine.to_user(state), rng), info)
