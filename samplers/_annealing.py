"""AIS results and annealing schedules (SPEC.md §3, "AIS"), shared by ``samplers/ais.py`` (any
kernel with tempered targets) and ``samplers/ais_rbm.py`` (RBM and DBM schemes)."""

import math

import numpy as np

from ._kernel import count

__all__ = ["AISResult", "linear_betas", "sigmoid_betas", "check_schedule"]


class AISResult:
    """Outcome of :func:`ais`.

    Attributes
    ----------
    log_z : float
        ``log Z_0 + log mean(w)``.
    log_z_std : float
        Delta-method standard error of ``log_z``: ``std(w) / (mean(w) √runs)``.
    log_weights : ndarray (runs,)
    log_z_base : float
    ess : float
        Effective sample size of the weights, ``(Σw)² / Σw²``; below 10 % of the runs
        ``log_z_std`` is unreliable (:attr:`reliable`, :meth:`interval`, and :func:`ais` warns).
    betas : ndarray
    """

    def __init__(self, log_weights, log_z_base, betas):
        lw = np.asarray(log_weights, dtype=np.float64)
        self.log_weights = lw
        self.log_z_base = float(log_z_base)
        self.betas = betas
        m = lw.max()
        w = np.exp(lw - m)
        mean = w.mean()
        self.log_z = float(self.log_z_base + m + math.log(mean))
        self.log_z_std = float(w.std(ddof=1) / mean / math.sqrt(lw.size)) if lw.size > 1 else math.inf
        self.ess = float(w.sum() ** 2 / np.sum(w * w))

    @property
    def runs(self):
        return self.log_weights.size

    @property
    def reliable(self):
        """Whether the weights' ESS is at least 10 % of the runs, so that ``log_z_std`` (a
        delta-method estimate from the weights themselves) can be trusted."""
        return self.ess >= 0.1 * self.runs

    def interval(self, level=0.95):
        """An interval for ``log Z`` at confidence ``level``.

        When :attr:`reliable`: ``log_z ± z·log_z_std`` (normal quantile ``z``).  Otherwise the
        weights cannot estimate their own spread and only the one-sided bound that holds for any
        unbiased ``Ẑ`` is given: by Markov's inequality ``P(Ẑ ≥ Z / α) ≤ α``, so
        ``log Z ≥ log_z + log α`` with probability ``≥ 1 − α`` (``α = 1 − level``); the upper end
        is ``inf``.

        Examples
        --------
        >>> import pgm, samplers
        >>> m = pgm.Ising.grid(4, 4, beta=0.3)
        >>> lo, hi = samplers.ais(m, betas=300, runs=50, seed=0).interval()
        >>> bool(lo < pgm.exact.log_partition(m) < hi)
        True
        """
        if not 0 < level < 1:
            raise ValueError(f"level must be in (0, 1), got {level!r}")
        if self.reliable:
            from scipy.special import ndtri

            z = float(ndtri(0.5 + level / 2))
            return self.log_z - z * self.log_z_std, self.log_z + z * self.log_z_std
        return self.log_z + math.log(1 - level), math.inf

    def __repr__(self):
        return (f"AISResult(log_z={self.log_z:.6f}, log_z_std={self.log_z_std:.3g}, runs={self.runs}, "
                f"ess={self.ess:.1f}, n_betas={len(self.betas)})")


def linear_betas(n):
    """``n`` equally spaced inverse temperatures from 0 to 1."""
    return np.linspace(0.0, 1.0, count(n, "n", 2))


def sigmoid_betas(n, scale=4.0):
    """``n`` inverse temperatures from 0 to 1, dense at both ends (a rescaled logistic)."""
    t = np.linspace(-scale, scale, count(n, "n", 2))
    s = 1.0 / (1.0 + np.exp(-t))
    return (s - s[0]) / (s[-1] - s[0])


def check_schedule(betas):
    b = np.asarray(betas, dtype=np.float64).reshape(-1)
    if b.size < 2:
        raise ValueError(f"an AIS schedule needs at least 2 inverse temperatures, got {b.size}")
    if not np.all(np.isfinite(b)):
        raise ValueError("AIS inverse temperatures must be finite")
    if b[0] != 0.0 or b[-1] != 1.0:
        raise ValueError(f"an AIS schedule must go from 0 to 1, got {b[0]!r} … {b[-1]!r}")
    if np.any(np.diff(b) <= 0):
        raise ValueError("AIS inverse temperatures must be strictly increasing")
    return b
