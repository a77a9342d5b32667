"""Parallel tempering (replica exchange) over the compiled engines (SPEC.md §2, "Tempering").

Each chain is a group of ``R`` replicas at inverse temperatures ``0 < β_0 < … < β_{R−1} = 1``,
each sampling ``p_β ∝ p̃^β`` with the model's own kernel.  Every ``swap_interval`` sweeps,
neighbouring replicas of a group exchange states with probability
``min(1, exp((β_k − β_{k+1}) (log p̃(x_{k+1}) − log p̃(x_k))))`` — the SPEC's
``min(1, exp((β_i − β_j)(E(x_i) − E(x_j))))`` with ``E = −log p̃`` — alternating the even
pairs ``(0,1), (2,3), …`` and the odd pairs ``(1,2), …`` (deterministic even/odd scheme, which
maximises round trips).  Only the β = 1 replica's states are returned.

Swap decisions use one extra xoshiro256 stream per chain group, so tempered runs are as
reproducible and resumable as plain ones.
"""

import numbers

import numpy as np

from ._rng import draw_doubles

__all__ = ["parallel_tempering", "geometric_betas", "check_ladder", "TemperedRun"]


def geometric_betas(beta_min, n):
    """``n`` inverse temperatures from ``beta_min`` to 1, geometrically spaced (increasing).

    Examples
    --------
    >>> geometric_betas(0.25, 3).tolist()
    [0.25, 0.5, 1.0]
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 2:
        raise ValueError(f"a ladder needs n >= 2 temperatures, got {n!r}")
    if not (isinstance(beta_min, numbers.Real) and 0 < beta_min < 1):
        raise ValueError(f"beta_min must lie in (0, 1), got {beta_min!r}")
    b = np.geomspace(float(beta_min), 1.0, int(n))
    b[-1] = 1.0
    return b


def check_ladder(betas):
    """Validate a tempering ladder: finite, strictly increasing, in (0, 1], ending at 1."""
    b = np.asarray(betas, dtype=np.float64).reshape(-1)
    if b.size < 2:
        raise ValueError(f"a tempering ladder needs at least 2 inverse temperatures, got {b.size}")
    if not np.all(np.isfinite(b)) or np.any(b <= 0) or np.any(b > 1):
        raise ValueError(f"inverse temperatures must lie in (0, 1], got {b.tolist()}")
    if np.any(np.diff(b) <= 0):
        raise ValueError(f"inverse temperatures must be strictly increasing, got {b.tolist()}")
    if b[-1] != 1.0:
        raise ValueError(f"the ladder must end at beta = 1 (the target), got {b[-1]!r}")
    return b


def swap_log_ratio(beta_i, beta_j, lp_i, lp_j):
    """Log acceptance ratio of exchanging ``x_i`` (at ``β_i``) and ``x_j`` (at ``β_j``):
    ``(β_i − β_j)(log p̃(x_j) − log p̃(x_i))``; ``−inf`` where it is undefined (both −inf)."""
    with np.errstate(invalid="ignore"):
        r = (beta_i - beta_j) * (lp_j - lp_i)
    return np.where(np.isnan(r), -np.inf, r)


class TemperedRun:
    """Replica bookkeeping for ``chains`` groups of ``R`` replicas (row ``g·R + k`` at ``β_k``)."""

    def __init__(self, betas, chains, swap_rng, swap_interval):
        self.ladder = betas
        self.R = betas.size
        self.chains = chains
        self.row_betas = np.tile(betas, chains)
        self.swap_rng = swap_rng
        self.swap_interval = swap_interval
        self.labels = np.tile(np.arange(self.R), chains).reshape(chains, self.R)
        self.last_end = np.where(self.labels == 0, 0, -1)  # 0: last end visited was β_min
        self.round_trips = np.zeros(chains, dtype=np.int64)
        self.attempts = np.zeros(self.R - 1, dtype=np.int64)
        self.accepts = np.zeros(self.R - 1, dtype=np.int64)
        self.round = 0

    def set_ladder(self, betas):
        self.ladder = betas
        self.row_betas = np.tile(betas, self.chains)

    @property
    def cold_rows(self):
        return np.arange(self.chains) * self.R + self.R - 1

    def swap(self, state, lp):
        """One even/odd swap round; permutes the rows of ``state`` in place.

        Returns ``(perm, rate)``: new row ``i`` holds what row ``perm[i]`` held; ``rate`` is the
        fraction of attempted swaps accepted in each group.
        """
        R, C = self.R, self.chains
        perm = np.arange(R * C)
        u = draw_doubles(self.swap_rng, R)  # one stream per group; R draws keeps them aligned
        lp = lp.reshape(C, R)
        ks = np.arange(self.round % 2, R - 1, 2)
        self.round += 1
        if ks.size == 0:
            return perm, np.zeros(C)
        b = self.ladder
        log_acc = swap_log_ratio(b[ks][None, :], b[ks + 1][None, :], lp[:, ks], lp[:, ks + 1])
        with np.errstate(divide="ignore"):
            acc = np.log(u[:, ks]) < log_acc
        self.attempts[ks] += C
        self.accepts[ks] += acc.sum(axis=0)
        g, j = np.nonzero(acc)
        if g.size:
            k = ks[j]
            a, c = g * R + k, g * R + k + 1
            perm[a], perm[c] = c, a
            state[:] = state[perm]
            self.labels[g, k], self.labels[g, k + 1] = self.labels[g, k + 1].copy(), self.labels[g, k].copy()
        rate = acc.mean(axis=1)
        # round trips: a walker that reached β = 1 and comes back to β_min completes one
        hot = self.labels[:, 0]
        cold = self.labels[:, R - 1]
        gi = np.arange(C)
        back = self.last_end[gi, hot] == 1
        self.round_trips += back
        self.last_end[gi, hot] = 0
        self.last_end[gi, cold] = np.where(self.last_end[gi, cold] == 0, 1, self.last_end[gi, cold])
        return perm, rate

    def info(self):
        with np.errstate(invalid="ignore"):
            rates = np.where(self.attempts > 0, self.accepts / np.maximum(self.attempts, 1), np.nan)
        return {"betas": self.ladder.tolist(), "swap_acceptance": rates.tolist(),
                "round_trips": self.round_trips.tolist(), "swap_interval": self.swap_interval}


def respace_ladder(betas, acceptance, floor=1e-3):
    """Move the interior β's so that every neighbouring pair gets the same "distance"
    ``−log(acceptance)``; the ends stay fixed.  Spacing is interpolated in ``log β``."""
    d = -np.log(np.clip(acceptance, floor, 1.0)) + 1e-6
    cum = np.concatenate([[0.0], np.cumsum(d)])
    targets = np.linspace(0.0, cum[-1], betas.size)
    new = np.exp(np.interp(targets, cum, np.log(betas)))
    new[0], new[-1] = betas[0], 1.0
    return new


def run_tempered(engine, state, rng_state, tr, warmup, draws, thin, keep, observables, bar,
                 adapt=False):
    from .threads import threads_for

    with threads_for(state.shape[0] * state.shape[1] * tr.swap_interval):
        return _run_tempered(engine, state, rng_state, tr, warmup, draws, thin, keep,
                             observables, bar, adapt)


def _run_tempered(engine, state, rng_state, tr, warmup, draws, thin, keep, observables, bar,
                  adapt):
    """Warm-up and recorded rounds of replica exchange; returns (states, observables, stats).

    With ``adapt``, the warm-up is split into 5 stages; after each of the first 4 the interior
    inverse temperatures are respaced toward equal swap acceptance (:func:`respace_ladder`).
    Only the final ladder is used for the recorded draws, so detailed balance holds there.
    """
    rounds_warm = -(-warmup // tr.swap_interval)
    stages = 5 if adapt and rounds_warm >= 50 else 1
    bounds = np.linspace(0, rounds_warm, stages + 1).astype(int)
    for stage in range(stages):
        tr.attempts[:] = 0
        tr.accepts[:] = 0
        for _ in range(bounds[stage + 1] - bounds[stage]):
            _, _, stats = engine.run(state, rng_state, 1, tr.swap_interval, record=True,
                                     keep=False, betas=tr.row_betas)
            tr.swap(state, stats["lp"][:, 0])
            bar.update(tr.swap_interval, "warmup")
        if stage < stages - 1:
            rates = tr.accepts / np.maximum(tr.attempts, 1)
            tr.set_ladder(respace_ladder(tr.ladder, rates))
    tr.attempts[:] = 0
    tr.accepts[:] = 0
    cold = tr.cold_rows
    kept = None
    obs_out, stats_out = {}, {}
    for d in range(draws):
        for _ in range(thin):
            _, obs, stats = engine.run(state, rng_state, 1, tr.swap_interval, record=True,
                                       keep=False, betas=tr.row_betas)
            perm, rate = tr.swap(state, stats["lp"][:, 0])
        x = engine.to_user(state[cold])
        rec_obs = {k: v[perm[cold], 0] for k, v in obs.items()}
        rec_stats = {"lp": stats["lp"][perm[cold], 0], "swap_rate": rate}
        for name, f in observables.items():
            rec_obs[name] = np.asarray(f(x[:, None, :])).reshape(-1)
        if keep:
            if kept is None:
                kept = np.empty((tr.chains, draws, x.shape[1]), dtype=x.dtype)
            kept[:, d] = x
        for dst, src in ((obs_out, rec_obs), (stats_out, rec_stats)):
            for name, val in src.items():
                if name not in dst:
                    dst[name] = np.empty((tr.chains, draws))
                dst[name][:, d] = val
        bar.update(thin * tr.swap_interval, "sampling")
    return kept, obs_out, stats_out


def parallel_tempering(model, betas, method="gibbs", chains=None, draws=1000, warmup=None,
                       swap_interval=1, seed=None, **kwargs):
    """Replica-exchange MCMC: ``samplers.sample(model, tempering=betas, ...)``.

    Parameters
    ----------
    model : discrete model accepted by :func:`samplers.sample`
    betas : array_like
        Increasing inverse temperatures in (0, 1], the last equal to 1
        (e.g. :func:`geometric_betas`).
    method : {"gibbs", "block_gibbs", "metropolis"}
        Kernel run at every temperature.
    **kwargs
        Passed to :func:`samplers.sample` (``thin``, ``evidence``, ``init``, ``observables``…).

    Returns
    -------
    Samples
        States of the β = 1 replicas; ``info["swap_acceptance"]`` (per neighbouring pair) and
        ``info["round_trips"]`` (per chain), ``sample_stats["swap_rate"]``.

    Examples
    --------
    >>> import pgm, samplers
    >>> s = samplers.parallel_tempering(pgm.Ising.grid(6, 6, beta=0.6), samplers.geometric_betas(0.3, 4),
    ...                                 chains=2, draws=50, seed=0, progress=False)
    >>> len(s.info["swap_acceptance"])
    3
    """
    from .sample import sample

    return sample(model, method=method, chains=chains, draws=draws, warmup=warmup, seed=seed,
                  tempering=betas, swap_interval=swap_interval, **kwargs)
