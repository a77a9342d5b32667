"""Ratios of partition functions from samples (SPEC.md §3, "Estimating Z") and test-set
log-likelihood with the uncertainty of ``log Z`` propagated.

* :func:`importance_sampling` — ``Z_1 / Z_0 ≈ (1/K) Σ p̃_1(x_k) / p̃_0(x_k)``, ``x_k ~ p_0``,
  with the delta-method standard error of the log and the effective sample size of the weights.
* :func:`bridge_sampling` — Meng & Wong's iterative optimal bridge
  ``p* ∝ p̃_0 p̃_1 / (s_0 r p̃_0 + s_1 p̃_1)``: with ``l = p̃_1/p̃_0``,
  ``r ← [mean_{x~p0} l/(s_1 l + s_0 r)] / [mean_{x~p1} 1/(s_1 l + s_0 r)]`` until it settles.
  Everything in log space.
* :func:`log_likelihood` — mean ``log p̃(v) − log Z`` over a data set.

Models only need ``log_unnormalized(x)`` (or ``-free_energy``) over the same variables.
"""

import math

import numpy as np

__all__ = ["importance_sampling", "bridge_sampling", "log_likelihood", "RatioEstimate"]


class RatioEstimate:
    """``log(Z_1 / Z_0)`` with its standard error and diagnostics."""

    def __init__(self, log_ratio, log_ratio_std, ess=None, iterations=None):
        self.log_ratio = float(log_ratio)
        self.log_ratio_std = float(log_ratio_std)
        self.ess = ess
        self.iterations = iterations

    def __repr__(self):
        return f"RatioEstimate(log_ratio={self.log_ratio:.6f}, log_ratio_std={self.log_ratio_std:.3g}, ess={self.ess})"


def _log_density(model, x):
    x = np.asarray(x)
    if hasattr(model, "log_unnormalized"):
        return np.asarray(model.log_unnormalized(x), dtype=np.float64)
    if callable(model):
        return np.asarray(model(x), dtype=np.float64)
    raise TypeError(f"expected a model with log_unnormalized(x) or a callable, got {type(model).__name__}")


def _samples(x, name):
    x = np.asarray(x)
    if x.ndim == 3:  # (chain, draw, vars) from Samples.states
        x = x.reshape(-1, x.shape[-1])
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"{name} must be an array of at least 2 states, shape (n, n_vars); got {np.shape(x)}")
    return x


def _lme(a):
    m = np.max(a)
    return m + math.log(np.mean(np.exp(a - m))) if np.isfinite(m) else -math.inf


def importance_sampling(model_1, model_0, samples_0):
    """``log(Z_1 / Z_0)`` from exact samples of ``p_0``.

    Examples
    --------
    >>> import numpy as np, pgm
    >>> m0 = pgm.MarkovNetwork([pgm.DiscreteFactor(["a"], [1.0, 1.0])])
    >>> m1 = pgm.MarkovNetwork([pgm.DiscreteFactor(["a"], [1.0, 3.0])])
    >>> x = np.random.default_rng(0).integers(0, 2, size=(4000, 1))
    >>> r = importance_sampling(m1, m0, x)
    >>> bool(abs(r.log_ratio - np.log(2.0)) < 4 * r.log_ratio_std)
    True
    """
    x = _samples(samples_0, "samples_0")
    lw = _log_density(model_1, x) - _log_density(model_0, x)
    if np.any(np.isnan(lw)):
        raise ValueError("log-weights are NaN: p̃_0 is zero where p̃_1 is zero too")
    m = lw.max()
    w = np.exp(lw - m)
    mean = w.mean()
    std = w.std(ddof=1) / mean / math.sqrt(w.size)
    return RatioEstimate(m + math.log(mean), std, ess=float(w.sum() ** 2 / np.sum(w * w)))


def bridge_sampling(model_0, model_1, samples_0, samples_1, tol=1e-10, max_iter=1000):
    """``log(Z_1 / Z_0)`` by iterated optimal bridge sampling (Meng & Wong 1996).

    ``samples_0 ~ p_0`` and ``samples_1 ~ p_1`` (independent draws; for MCMC draws the reported
    standard error is optimistic by the autocorrelation).  The standard error is the
    asymptotic formula of Frühwirth-Schnatter (2004) for independent samples.

    Examples
    --------
    >>> import numpy as np, pgm
    >>> m0 = pgm.MarkovNetwork([pgm.DiscreteFactor(["a"], [1.0, 1.0])])
    >>> m1 = pgm.MarkovNetwork([pgm.DiscreteFactor(["a"], [1.0, 3.0])])
    >>> rng = np.random.default_rng(0)
    >>> x0 = rng.integers(0, 2, size=(4000, 1)); x1 = (rng.random((4000, 1)) < 0.75).astype(int)
    >>> r = bridge_sampling(m0, m1, x0, x1)
    >>> bool(abs(r.log_ratio - np.log(2.0)) < 4 * r.log_ratio_std)
    True
    """
    x0 = _samples(samples_0, "samples_0")
    x1 = _samples(samples_1, "samples_1")
    l0 = _log_density(model_1, x0) - _log_density(model_0, x0)  # log l on p0 draws
    l1 = _log_density(model_1, x1) - _log_density(model_0, x1)  # log l on p1 draws
    n0, n1 = l0.size, l1.size
    ls0, ls1 = math.log(n0 / (n0 + n1)), math.log(n1 / (n0 + n1))
    log_r = importance_sampling(model_1, model_0, x0).log_ratio
    if not np.isfinite(log_r):
        log_r = 0.0
    for it in range(1, max_iter + 1):
        den0 = np.logaddexp(ls1 + l0, ls0 + log_r)
        den1 = np.logaddexp(ls1 + l1, ls0 + log_r)
        new = _lme(l0 - den0) - _lme(-den1)
        if abs(new - log_r) < tol:
            log_r = new
            break
        log_r = new
    else:
        raise RuntimeError(f"bridge sampling did not converge in {max_iter} iterations")
    # asymptotic relative variance (independent samples)
    f0 = np.exp(l0 - np.logaddexp(ls1 + l0, ls0 + log_r))   # p*/p0 up to the common factor
    f1 = np.exp(-np.logaddexp(ls1 + l1, ls0 + log_r))      # p*/p1
    var = f0.var(ddof=1) / (n0 * f0.mean() ** 2) + f1.var(ddof=1) / (n1 * f1.mean() ** 2)
    return RatioEstimate(log_r, math.sqrt(var), iterations=it)


class LogLikelihood:
    """Mean test log-likelihood and its uncertainty.

    Attributes
    ----------
    mean : float
        ``mean_i log p̃(v_i) − log Z``.
    std_data : float
        Standard error from the finite data set, ``std_i / √n``.
    std_log_z : float
        Uncertainty carried over from ``log Z`` (it shifts every example alike).
    std : float
        ``√(std_data² + std_log_z²)``.
    per_example : ndarray
    """

    def __init__(self, per_example, log_z, log_z_std):
        self.per_example = per_example
        self.mean = float(per_example.mean())
        self.std_data = float(per_example.std(ddof=1) / math.sqrt(per_example.size)) if per_example.size > 1 else 0.0
        self.std_log_z = float(log_z_std)
        self.std = math.hypot(self.std_data, self.std_log_z)
        self.log_z = log_z

    def __repr__(self):
        return f"LogLikelihood(mean={self.mean:.4f} ± {self.std:.3g} (data {self.std_data:.3g}, log Z {self.std_log_z:.3g}))"


def log_likelihood(model, data, log_z, log_z_std=0.0):
    """Average log-likelihood of ``data`` given an estimate of ``log Z``.

    ``log_z`` may be a number or an :class:`~samplers.ais.AISResult` (its ``log_z_std`` is then
    used).  Latent-variable models use ``−free_energy(v)`` as ``log p̃(v)``.

    Examples
    --------
    >>> import numpy as np, pgm
    >>> m = pgm.MarkovNetwork([pgm.DiscreteFactor(["a"], [1.0, 3.0])])
    >>> round(log_likelihood(m, np.array([[1], [1]]), log_z=np.log(4.0)).mean, 6)
    -0.287682
    """
    if hasattr(log_z, "log_z"):
        log_z, log_z_std = log_z.log_z, log_z.log_z_std
    x = np.asarray(data)
    if hasattr(model, "free_energy"):
        lp = -np.asarray(model.free_energy(x), dtype=np.float64)
    else:
        lp = _log_density(model, x)
    if lp.ndim != 1 or lp.size < 1:
        raise ValueError("data must be a non-empty batch of states")
    return LogLikelihood(lp - float(log_z), float(log_z), float(log_z_std))
