"""Simulated tempering (SPEC.md §2, "Tempering"): the chain also moves in β.

The joint target is ``π(x, k) ∝ p̃(x)^{β_k} e^{g_k}`` over states and ladder indices.  Each
step makes one sweep of the model's kernel at ``β_k`` and then proposes ``k → k ± 1`` (one
direction drawn at random; moves off the ladder are rejected), accepted with
``min(1, exp((β_{k'} − β_k) log p̃(x) + g_{k'} − g_k))``.  The log-weights ``g_k`` should be
``−log Z_{β_k}`` for uniform occupancy of the ladder; they are adapted during warm-up by a
Wang–Landau scheme (``g_k −= γ_t / chains`` at every visit, with ``γ_t = γ / (1 + 10 t / T)``
shrinking over the ``T`` warm-up steps) and then frozen, so the recorded draws come from a
fixed, exact kernel.  Draws at β = 1 are samples of ``p``; the adapted weights also estimate
``log Z_1 − log Z_{β_0}``.

:class:`SimulatedTempered` is a kernel (``samplers/_kernel.py``) wrapping any kernel that samples
tempered targets; the temperature moves use each chain's auxiliary stream, and the ladder index,
log-weights and move streams travel in ``ChainState.extra``, so a run resumes exactly.
"""

from typing import NamedTuple

import numpy as np

from ._driver import run
from pgm.errors import ModelError

from ._kernel import check_streams
from ._registry import find_kernel
from ._rng import draw_doubles, make_rng_state
from .results import ChainState
from .tempering import LadderKernel
from .threads import threads_for

__all__ = ["simulated_tempering", "SimulatedTempered"]


class SimulatedTemperedState(NamedTuple):
    """The wrapped kernel's state, each chain's ladder index, the shared log-weights ``g``, the
    visits per β after warm-up, and the temperature-move streams ``(chains, 4)``."""

    base: tuple
    index: np.ndarray
    log_weights: np.ndarray
    visits: np.ndarray
    move_rng: np.ndarray


class SimulatedTemperedInfo(NamedTuple):
    """Per-draw records: the wrapped kernel's Info and the draw's inverse temperature."""

    base: tuple
    beta: np.ndarray


class SimulatedTempered(LadderKernel):
    """Simulated tempering over ``base`` (a kernel with ``supports_beta``) on ladder ``betas``,
    with Wang–Landau weight adaptation of initial step ``gamma`` during warm-up."""

    what, stat = "simulated tempering", "beta"

    def __init__(self, base, betas, gamma=1.0):
        super().__init__(base, betas)
        if isinstance(gamma, bool) or not isinstance(gamma, (int, float)) or not (np.isfinite(gamma) and gamma > 0):
            raise ValueError(f"gamma must be a finite number > 0, got {gamma!r}")
        self.gamma = float(gamma)

    def init(self, chains, start, init):
        R = self.ladder.size
        if isinstance(start, ChainState):
            extra = start.extra
            missing = {"ladder_index", "log_weights", "visits", "move_rng_state"} - set(extra)
            if missing:
                raise ModelError(f"not a simulated-tempering ChainState: it lacks {sorted(missing)}")
            index = np.array(extra["ladder_index"], dtype=np.int64)
            g = np.array(extra["log_weights"], dtype=np.float64)
            visits = np.array(extra["visits"], dtype=np.float64)
            if index.shape != (chains,) or g.shape != (R,) or visits.shape != (R,) \
                    or index.min() < 0 or index.max() >= R:
                raise ModelError(f"the simulated-tempering ChainState does not match {chains} chains "
                                 f"and a ladder of {R} temperatures")
            move_rng = check_streams(extra["move_rng_state"], chains, "ChainState move_rng_state")
            base = self.base.init(chains, ChainState(start.x, start.rng_state), None)
        else:
            base = self.base.init(chains, start, init)
            index, g, visits = np.zeros(chains, dtype=np.int64), np.zeros(R), np.zeros(R)  # start hot
            move_rng = make_rng_state(start.extra, chains)
        base.beta[:] = self.ladder[index]
        return SimulatedTemperedState(base, index, g, visits, move_rng)

    def _step(self, state, record, warm_step=None, warm_total=None):
        """One sweep at each chain's β, then a temperature move; the sweep's Info if recorded."""
        ladder, R, k, g = self.ladder, self.ladder.size, state.index, state.log_weights
        base = state.base
        base.beta[:] = ladder[k]
        _, info = self.base.advance(base, 1, 1, record=True, keep=record)
        lp = info.lp[:, 0]
        u = draw_doubles(state.move_rng, 2)
        new = k + np.where(u[:, 0] < 0.5, -1, 1)
        inside = (new >= 0) & (new < R)
        newc = np.clip(new, 0, R - 1)
        with np.errstate(invalid="ignore"):
            log_acc = (ladder[newc] - ladder[k]) * lp + g[newc] - g[k]
        log_acc = np.where(np.isnan(log_acc), -np.inf, log_acc)
        with np.errstate(divide="ignore"):
            accept = inside & (np.log(u[:, 1]) < log_acc)
        before = ladder[k]
        k[:] = np.where(accept, newc, k)
        if warm_step is not None:
            np.subtract.at(g, k, self.gamma / (1.0 + 10.0 * warm_step / max(warm_total, 1)) / k.size)
        else:
            np.add.at(state.visits, k, 1)
        return info, before

    def advance(self, state, n, thin=1, record=False, keep=False, phase=None):
        with threads_for(self.record_width * state.index.size):
            if not record:
                first = phase.start if phase is not None else 0
                warm = phase is None or phase.warmup
                total = phase.total if phase is not None else n
                for t in range(first, first + n):
                    if warm:
                        self._step(state, False, t, total)
                    else:
                        self._step(state, False)
                return state, None
            infos, betas = [], []
            for _ in range(n):
                for _ in range(thin):
                    info, beta = self._step(state, keep)
                infos.append(info)
                betas.append(beta)
        return state, SimulatedTemperedInfo(self.concat(infos), np.stack(betas, axis=1))

    def to_user(self, state):
        inner = self.base.to_user(state.base)
        return ChainState(inner.x, inner.rng_state, extra={
            "ladder_index": state.index, "log_weights": state.log_weights, "visits": state.visits,
            "move_rng_state": state.move_rng})

    def info(self, state):
        g = state.log_weights - state.log_weights[0]
        visits = state.visits
        occupancy = visits / visits.sum() if visits.sum() > 0 else np.full(visits.size, np.nan)
        with np.errstate(divide="ignore"):
            log_z_ratio = float(-(g[-1] - g[0]) + np.log(occupancy[-1] / occupancy[0])) \
                if occupancy[0] > 0 and occupancy[-1] > 0 else float("nan")
        return {**self.base.info(state.base), "betas": self.ladder.tolist(), "log_weights": g.tolist(),
                "occupancy": occupancy.tolist(), "log_z_ratio": log_z_ratio}


def simulated_tempering(model, betas, method="gibbs", chains=None, draws=1000, warmup=None,
                        seed=None, gamma=1.0, progress=None, **kwargs):
    """Sample a discrete model with simulated tempering.

    Parameters
    ----------
    model : a discrete model accepted by :func:`samplers.sample`
    betas : array_like
        Increasing inverse temperatures in (0, 1] ending at 1.
    method : str
        Kernel run at each β (``"gibbs"``, ``"block_gibbs"``, ``"metropolis"``,
        ``"swendsen_wang"``, ``"wolff"``).
    chains, draws, warmup, seed
        As in :func:`samplers.sample` (one sweep and one temperature move per draw; warm-up
        default ``draws // 2``, during which the log-weights adapt).
    gamma : float
        Initial Wang–Landau step of the log-weights.
    **kwargs
        Passed on: ``thin``, ``init``, ``observables``, ``keep_states``, ``warn`` (the
        convergence check of :func:`samplers.sample`, over the draws of every β) and the kernel's options
        (``evidence``, ...).

    Returns
    -------
    Samples
        All draws; ``sample_stats["beta"]`` gives each draw's inverse temperature (select
        ``beta == 1`` for samples of the model).  ``info["log_weights"]`` (adapted ``g``),
        ``info["occupancy"]`` (fraction of post-warm-up steps per β) and ``info["log_z_ratio"]``
        (estimate of ``log Z_1 − log Z_{β_0}``).  ``final_state`` continues the run exactly.

    Examples
    --------
    >>> import pgm, samplers
    >>> s = samplers.simulated_tempering(pgm.Ising.grid(4, 4, beta=0.5), [0.2, 0.5, 1.0],
    ...                                  chains=2, draws=200, seed=0)
    >>> s.sample_stats["beta"].shape
    (2, 200)
    """
    driver = {k: kwargs.pop(k) for k in ("thin", "init", "observables", "keep_states", "warn")
              if k in kwargs}
    kernel = SimulatedTempered(find_kernel(model, method, **kwargs), betas, gamma)
    return run(kernel, chains=chains, draws=draws, warmup=warmup, seed=seed, progress=progress,
               what=f"simulated_tempering (method={method!r})", **driver)
