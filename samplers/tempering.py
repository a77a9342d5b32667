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

:class:`Tempered` is a kernel (``samplers/_kernel.py``) wrapping any kernel that samples tempered
targets (``supports_beta``): one step is ``swap_interval`` sweeps of every replica followed by
one swap round, so the driver runs it like any other kernel
(``samplers.sample(model, tempering=betas)``, :func:`samplers.parallel_tempering`).
"""

import numbers
from typing import NamedTuple

import numpy as np

from pgm.errors import ModelError

from ._kernel import Kernel, check_streams, count
from ._rng import draw_doubles, make_rng_state
from .results import ChainState
from .threads import threads_for

__all__ = ["geometric_betas", "check_ladder", "TemperedRun", "Tempered", "TemperedState",
           "TemperedInfo", "LadderKernel", "respace_ladder", "swap_log_ratio"]


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
        self.last_swapped = False

    def set_ladder(self, betas):
        self.ladder = betas
        self.row_betas = np.tile(betas, self.chains)

    @property
    def cold_rows(self):
        return np.arange(self.chains) * self.R + self.R - 1

    def swap(self, state, lp):
        """One even/odd swap round on the states' log densities ``lp`` (one per row); permutes
        the rows of ``state`` in place unless it is None.

        Returns ``(perm, rate)``: new row ``i`` holds what row ``perm[i]`` held; ``rate`` is the
        fraction of attempted swaps accepted in each group.  ``last_swapped`` tells whether any
        swap was accepted.
        """
        R, C = self.R, self.chains
        perm = np.arange(R * C)
        u = draw_doubles(self.swap_rng, R)  # one stream per group; R draws keeps them aligned
        lp = lp.reshape(C, R)
        ks = np.arange(self.round % 2, R - 1, 2)
        self.round += 1
        self.last_swapped = False
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
            self.last_swapped = True
            if state is not None:
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


class LadderKernel(Kernel):
    """Base of the kernels that run a kernel with tempered targets (``supports_beta``) along a
    ladder of inverse temperatures: validation, and the wrapped kernel's names and storage."""

    #: what the subclass does, in words (error messages), and the sample statistic it adds
    what, stat = None, None

    def __init__(self, base, betas):
        if not base.supports_beta:
            raise ValueError(f"{self.what} is not implemented for {type(base.model).__name__} "
                             f"(method {base.method!r})")
        super().__init__(base.model, base.method)
        self.base = base
        self.ladder = check_ladder(betas)
        self.name = f"{self.what.replace(' ', '_')}_{base.name}"
        self.sample_stats = tuple(base.sample_stats) + (self.stat,)
        self.variables = base.variables
        self.record_width, self.record_dtype = base.record_width, base.record_dtype

    @staticmethod
    def concat(infos):
        """One Info from per-draw Infos (each field joined along the draw axis)."""
        return type(infos[0])(*(None if v is None else np.concatenate([i[f] for i in infos], axis=1)
                                for f, v in enumerate(infos[0])))


class TemperedState(NamedTuple):
    """Replica exchange: the wrapped kernel's state over ``chains × R`` rows (row ``g·R + k`` at
    ``β_k``) and the replica bookkeeping with the swap streams."""

    base: tuple
    run: TemperedRun


class TemperedInfo(NamedTuple):
    """Per-draw records: the wrapped kernel's Info for the β = 1 replicas, and the fraction of
    swaps accepted in the draw's last round."""

    base: tuple
    swap_rate: np.ndarray


class Tempered(LadderKernel):
    """Parallel tempering over ``base`` (a kernel with ``supports_beta``).

    Parameters
    ----------
    base : Kernel
    betas : array_like
        Increasing inverse temperatures in (0, 1], the last equal to 1.
    swap_interval : int
        Sweeps between swap rounds.
    adapt : bool
        During warm-up (at least 50 rounds), respace the interior β's toward equal swap
        acceptance after each of the first 4 of 5 stages (:func:`respace_ladder`); the recorded
        draws use the final, fixed ladder.
    """

    what, stat = "parallel tempering", "swap_rate"

    def __init__(self, base, betas, swap_interval=1, adapt=False):
        super().__init__(base, betas)
        self.swap_interval = count(swap_interval, "swap_interval", 1)
        if not isinstance(adapt, bool):
            raise TypeError(f"adapt_ladder must be True or False, got {adapt!r}")
        self.adapt = adapt
        self.sweeps_per_step = self.swap_interval

    def init(self, chains, start, init):
        R = self.ladder.size
        rows = chains * R
        if isinstance(start, ChainState):
            if start.swap_rng_state is None:
                raise ModelError("a tempered run continues only from a tempered ChainState (and vice versa)")
            swap_rng = check_streams(start.swap_rng_state, chains, "ChainState swap_rng_state")
            base = self.base.init(rows, ChainState(start.x, start.rng_state), None)
        else:
            if init is not None and np.ndim(init) == 2:
                init = np.repeat(np.asarray(init), R, axis=0)
            base = self.base.init(rows, start, init)
            swap_rng = make_rng_state(start.extra, chains)
        run = TemperedRun(self.ladder, chains, swap_rng, self.swap_interval)
        base.beta[:] = run.row_betas
        return TemperedState(base, run)

    def _round(self, state, keep=False):
        """``swap_interval`` sweeps of every replica, then a swap round: ``(perm, rate, info)``."""
        tr = state.run
        _, info = self.base.advance(state.base, 1, tr.swap_interval, record=True, keep=keep)
        perm, rate = tr.swap(None, info.lp[:, 0])
        if tr.last_swapped:
            self.base.permute_rows(state.base, perm)
        return perm, rate, info

    def advance(self, state, n, thin=1, record=False, keep=False, phase=None):
        tr = state.run
        with threads_for(tr.chains * tr.R * self.record_width * tr.swap_interval):
            if not record:
                first = phase.start if phase is not None else 0
                total = phase.total if phase is not None else n
                stages = 5 if self.adapt and total >= 50 else 1
                bounds = np.linspace(0, total, stages + 1).astype(int)
                for r in range(first, first + n):
                    if r in bounds[:-1]:      # a stage starts: count its swaps afresh
                        tr.attempts[:] = 0
                        tr.accepts[:] = 0
                    self._round(state)
                    if r + 1 in bounds[1:-1]:
                        tr.set_ladder(respace_ladder(tr.ladder, tr.accepts / np.maximum(tr.attempts, 1)))
                        state.base.beta[:] = tr.row_betas
                return state, None
            cold = tr.cold_rows
            infos, rates = [], []
            for _ in range(n):
                for _ in range(thin):
                    perm, rate, info = self._round(state, keep)
                rows = perm[cold]                 # where the β = 1 states came from
                infos.append(type(info)(*(None if v is None else v[rows] for v in info)))
                rates.append(rate)
        return state, TemperedInfo(self.concat(infos), np.stack(rates, axis=1))

    def end_warmup(self, state):
        state.run.attempts[:] = 0
        state.run.accepts[:] = 0
        return state

    def to_user(self, state):
        inner = self.base.to_user(state.base)
        return ChainState(inner.x, inner.rng_state, swap_rng_state=state.run.swap_rng)

    def info(self, state):
        return {**self.base.info(state.base), **state.run.info()}
