"""Gaussian mixtures by EM and by generalised EM — the book's example (SPEC.md §4: "EM: E-step
``q = p(h|v; θ_old)``, M-step maximise ``Σ L(v_i, θ, q)``; generalised EM takes gradient steps").

Model: ``p(x) = Σ_k π_k N(x | μ_k, Σ_k)`` with full (``covariance="full"``) or diagonal
(``"diag"``) covariances.  E-step: responsibilities ``r_nk = p(h = k | x_n; θ_old)``.  M-step on
the expected complete-data log-likelihood

    ``Q(θ) = Σ_n Σ_k r_nk [log π_k + log N(x_n | μ_k, Σ_k)]``

either in closed form (``π_k = N_k / N``, ``μ_k = x̄_k``, ``Σ_k = C_k / N_k`` with
``N_k = Σ_n r_nk``) or, with ``gradient_steps = m``, by ``m`` steps of gradient ascent on ``Q``
(generalised EM).  The gradient steps use unconstrained parameters — softmax logits ``a`` for
``π``, the means, and per component the Cholesky factor ``L_k`` of ``Σ_k`` with its diagonal as
logs (``"full"``) or the log-variances (``"diag"``) — a positive-definite preconditioner
(``1/N`` for the logits, ``Σ_k / N_k`` for the means, ``1/N_k`` or ``2/N_k`` for the covariance
parameters), and an Armijo backtracking line search, so every step raises ``Q``.  Since
``log p(X; θ) − log p(X; θ_old) ≥ Q(θ) − Q(θ_old)``, the log-likelihood never decreases,
for either M-step; it is reported per iteration.

No covariance regularisation is added (it would break the monotone guarantee): a component that
collapses onto fewer than ``d + 1`` points raises :class:`pgm.errors.ModelError`.
"""

import math
import numbers

import numpy as np
from scipy.special import logsumexp

from pgm.errors import CardinalityError, EvidenceError, ModelError

__all__ = ["gaussian_mixture_em", "GaussianMixtureResult", "expected_complete_log_likelihood",
           "pack_parameters", "unpack_parameters"]

_LOG_2PI = math.log(2 * math.pi)


# ---------------------------------------------------------------------------- parameters
def _n_cov(d, covariance):
    return d * (d + 1) // 2 if covariance == "full" else d


def pack_parameters(weights, means, covariances, covariance="full"):
    """Unconstrained parameter vector ``[a (k), μ (k·d), covariance parameters (k·c)]``.

    ``a = log π`` (softmax logits); per component the strictly lower entries of the Cholesky
    factor ``L_k`` (row-major) and then ``log diag L_k`` (``"full"``, ``c = d(d+1)/2``), or the
    log-variances (``"diag"``, ``c = d``).

    Examples
    --------
    >>> import numpy as np
    >>> th = pack_parameters([0.5, 0.5], [[0.0], [1.0]], [[[4.0]], [[1.0]]])
    >>> [round(float(v), 6) for v in unpack_parameters(th, 2, 1)[2].ravel()]
    [4.0, 1.0]
    """
    w = np.asarray(weights, dtype=np.float64)
    mu = np.asarray(means, dtype=np.float64)
    cov = np.asarray(covariances, dtype=np.float64)
    k, d = mu.shape
    if covariance == "full":
        il = np.tril_indices(d, -1)
        parts = []
        for c in cov:
            L = np.linalg.cholesky(c)
            parts.append(np.concatenate([L[il], np.log(np.diag(L))]))
        cpar = np.concatenate(parts)
    else:
        cpar = np.log(cov).reshape(-1)
    return np.concatenate([np.log(w), mu.reshape(-1), cpar])


def _unpack_raw(theta, k, d, covariance):
    a = theta[:k]
    mu = theta[k:k + k * d].reshape(k, d)
    rest = theta[k + k * d:].reshape(k, _n_cov(d, covariance))
    return a, mu, rest


def _tri_inv(L):
    """``L⁻¹`` of a lower-triangular factor (numpy's LAPACK: scipy's triangular solver can stall
    for milliseconds per tiny call on a busy machine)."""
    return np.tril(np.linalg.solve(L, np.eye(len(L))))


def _chol(rest_k, d):
    L = np.zeros((d, d))
    L[np.tril_indices(d, -1)] = rest_k[:d * (d - 1) // 2]
    L[np.diag_indices(d)] = np.exp(rest_k[d * (d - 1) // 2:])
    return L


def unpack_parameters(theta, n_components, dim, covariance="full"):
    """``(weights, means, covariances)`` of an unconstrained vector (see :func:`pack_parameters`);
    covariances have shape ``(k, d, d)`` (``"full"``) or ``(k, d)`` (``"diag"``)."""
    theta = np.asarray(theta, dtype=np.float64)
    a, mu, rest = _unpack_raw(theta, n_components, dim, covariance)
    w = np.exp(a - logsumexp(a))
    if covariance == "full":
        cov = np.stack([(lambda L: L @ L.T)(_chol(r, dim)) for r in rest])
    else:
        cov = np.exp(rest)
    return w, mu.copy(), cov


# ---------------------------------------------------------------------------- Q and its gradient
def _stats(x, resp, covariance):
    """``N_k``, ``x̄_k`` and the scatter ``C_k = Σ_n r_nk (x_n − x̄_k)(x_n − x̄_k)ᵀ``
    (or its diagonal)."""
    # einsum without BLAS: these products are small, and threaded BLAS calls on tiny outputs
    # stall on a busy machine
    nk = resp.sum(axis=0)
    xbar = np.einsum("nk,nd->kd", resp, x) / np.maximum(nk, 1e-300)[:, None]
    dev = x[:, None, :] - xbar[None]                                   # (n, k, d)
    if covariance == "full":
        C = np.einsum("nk,nkd,nke->kde", resp, dev, dev)
    else:
        C = np.einsum("nk,nkd->kd", resp, dev * dev)
    return nk, xbar, C


def _q_grad(theta, stats, covariance, need_grad=True):
    nk, xbar, C = stats
    k, d = xbar.shape
    a, mu, rest = _unpack_raw(theta, k, d, covariance)
    n = nk.sum()
    logw = a - logsumexp(a)
    q = float(nk @ logw) - 0.5 * n * d * _LOG_2PI
    if need_grad:
        g_a = nk - n * np.exp(logw)
        g_mu = np.empty((k, d))
        g_c = np.empty_like(rest)
    diff = xbar - mu
    for j in range(k):
        if covariance == "full":
            L = _chol(rest[j], d)
            S = C[j] + nk[j] * np.outer(diff[j], diff[j])
            Li = _tri_inv(L)   # L⁻¹
            M = Li @ S @ Li.T                                   # L⁻¹ S L⁻ᵀ
            logdet_half = float(np.sum(rest[j][d * (d - 1) // 2:]))
            q += -nk[j] * logdet_half - 0.5 * float(np.trace(M))
            if need_grad:
                g_mu[j] = nk[j] * (Li.T @ (Li @ diff[j]))        # Σ⁻¹ N_k (x̄ − μ)
                G = np.tril(Li.T @ M)                             # tril(L⁻ᵀ M)
                gd = np.diag(G) * np.diag(L) - nk[j]
                g_c[j] = np.concatenate([G[np.tril_indices(d, -1)], gd])
        else:
            s = rest[j]
            S = C[j] + nk[j] * diff[j] ** 2
            q += -0.5 * nk[j] * float(np.sum(s)) - 0.5 * float(np.sum(S * np.exp(-s)))
            if need_grad:
                g_mu[j] = nk[j] * diff[j] * np.exp(-s)
                g_c[j] = -0.5 * nk[j] + 0.5 * S * np.exp(-s)
    if not need_grad:
        return float(q)
    return float(q), np.concatenate([g_a, g_mu.reshape(-1), g_c.reshape(-1)])


def expected_complete_log_likelihood(theta, x, resp, covariance="full"):
    """``Q(θ) = Σ_n Σ_k r_nk [log π_k + log N(x_n | μ_k, Σ_k)]`` and its gradient.

    Parameters
    ----------
    theta : array_like
        Unconstrained parameters (:func:`pack_parameters`).
    x : array_like, shape (n, d)
    resp : array_like, shape (n, k)
        Responsibilities (any non-negative weights).
    covariance : {"full", "diag"}

    Returns
    -------
    value : float
    gradient : numpy.ndarray
        ``∂Q/∂θ``, same layout as ``theta``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[0.0], [2.0]])
    >>> th = pack_parameters([1.0], [[1.0]], [[[1.0]]])
    >>> q, g = expected_complete_log_likelihood(th, x, np.ones((2, 1)))
    >>> round(q, 6), g.round(6).tolist()      # the MLE: zero gradient
    (-2.837877, [0.0, 0.0, 0.0])
    """
    x = np.asarray(x, dtype=np.float64)
    resp = np.asarray(resp, dtype=np.float64)
    return _q_grad(np.asarray(theta, dtype=np.float64), _stats(x, resp, covariance), covariance)


# ---------------------------------------------------------------------------- E-step
def _log_joint(x, w, mu, cov, covariance):
    """``log π_k + log N(x_n | μ_k, Σ_k)``, shape (n, k)."""
    n, d = x.shape
    out = np.empty((n, len(w)))
    with np.errstate(divide="ignore"):
        logw = np.log(w)
    for j in range(len(w)):
        if covariance == "full":
            try:
                L = np.linalg.cholesky(cov[j])
            except np.linalg.LinAlgError:
                raise ModelError(f"covariance of component {j} is not positive definite "
                                 "(the component collapsed)") from None
            z = np.einsum("de,ne->nd", _tri_inv(L), x - mu[j])
            out[:, j] = -0.5 * np.sum(z * z, axis=1) - np.sum(np.log(np.diag(L)))
        else:
            if not np.all(cov[j] > 0):
                raise ModelError(f"variances of component {j} are not positive "
                                 "(the component collapsed)")
            out[:, j] = (-0.5 * np.sum((x - mu[j]) ** 2 / cov[j], axis=1)
                         - 0.5 * np.sum(np.log(cov[j])))
        out[:, j] += logw[j] - 0.5 * d * _LOG_2PI
    return out


def _estep(x, w, mu, cov, covariance):
    lj = _log_joint(x, w, mu, cov, covariance)
    lse = logsumexp(lj, axis=1)
    return float(lse.sum()), np.exp(lj - lse[:, None])


# ---------------------------------------------------------------------------- M-steps
def _mstep_closed(stats, covariance, n):
    nk, xbar, C = stats
    if np.any(nk <= 0):
        raise ModelError(f"component {int(np.argmin(nk))} has no responsibility left")
    cov = C / (nk[:, None, None] if covariance == "full" else nk[:, None])
    return nk / n, xbar, cov


def _precondition(g, theta, stats, covariance):
    """A positive-definite scaling of the gradient: a natural ascent direction."""
    nk, xbar, _ = stats
    k, d = xbar.shape
    n = nk.sum()
    _, _, rest = _unpack_raw(theta, k, d, covariance)
    g_a, g_mu, g_c = _unpack_raw(g, k, d, covariance)
    nks = np.maximum(nk, 1e-12)
    if covariance == "full":
        d_mu = np.stack([(lambda L: L @ (L.T @ g_mu[j]))(_chol(rest[j], d)) / nks[j]
                         for j in range(k)])
        d_c = g_c / nks[:, None]
    else:
        d_mu = g_mu * np.exp(rest) / nks[:, None]
        d_c = 2.0 * g_c / nks[:, None]
    return np.concatenate([g_a / n, d_mu.reshape(-1), d_c.reshape(-1)])


def _mstep_gradient(theta, stats, covariance, steps, c1=1e-4, max_halvings=60):
    q, g = _q_grad(theta, stats, covariance)
    for _ in range(steps):
        direction = _precondition(g, theta, stats, covariance)
        slope = float(g @ direction)
        if not slope > 0:
            break
        t = 1.0
        for _ in range(max_halvings):
            trial = theta + t * direction
            q_new = _q_grad(trial, stats, covariance, need_grad=False)
            if np.isfinite(q_new) and q_new >= q + c1 * t * slope:
                break
            t *= 0.5
        else:
            break  # no ascent found: stationary to working precision
        theta = trial
        q, g = _q_grad(theta, stats, covariance)
    return theta


# ---------------------------------------------------------------------------- driver
class GaussianMixtureResult:
    """What :func:`gaussian_mixture_em` returns.

    Attributes
    ----------
    weights : numpy.ndarray, shape (k,)
    means : numpy.ndarray, shape (k, d)
    covariances : numpy.ndarray, shape (k, d, d) (``"full"``) or (k, d) (``"diag"``)
    covariance : str
    log_likelihood : numpy.ndarray
        ``Σ_n log p(x_n; θ_t)`` at the start (``t = 0``) and after every M-step.
    iterations : int
        Number of M-steps.
    converged : bool
        Whether the last increase was at most ``tol · |log_likelihood|``.
    """

    def __init__(self, weights, means, covariances, covariance, log_likelihood, iterations,
                 converged):
        self.weights, self.means, self.covariances = weights, means, covariances
        self.covariance = covariance
        self.log_likelihood, self.iterations, self.converged = log_likelihood, iterations, converged

    def _x(self, x):
        return _check_x(x, self.means.shape[1])

    def log_prob(self, x):
        """``log p(x_n)`` per row."""
        lj = _log_joint(self._x(x), self.weights, self.means, self.covariances, self.covariance)
        return logsumexp(lj, axis=1)

    def responsibilities(self, x):
        """``p(h = k | x_n)``, shape (n, k)."""
        return _estep(self._x(x), self.weights, self.means, self.covariances, self.covariance)[1]

    def __repr__(self):
        return (f"GaussianMixtureResult(k={len(self.weights)}, covariance={self.covariance!r}, "
                f"iterations={self.iterations}, log_likelihood={self.log_likelihood[-1]:.6g})")


def _check_x(x, d=None):
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"data must be numeric, got {type(x).__name__}: {exc}") from None
    if arr.ndim != 2 or (d is not None and arr.shape[1] != d):
        want = f"(n, {d})" if d is not None else "(n, d)"
        raise CardinalityError(f"data must have shape {want}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        r, c = np.argwhere(~np.isfinite(arr))[0]
        raise EvidenceError(f"data must be finite, found {arr[r, c]!r} at row {r}, column {c}")
    return arr


def _kmeans_pp(x, k, rng):
    centres = [x[rng.integers(len(x))]]
    d2 = np.sum((x - centres[0]) ** 2, axis=1)
    for _ in range(1, k):
        p = d2 / d2.sum() if d2.sum() > 0 else None
        centres.append(x[rng.choice(len(x), p=p)])
        d2 = np.minimum(d2, np.sum((x - centres[-1]) ** 2, axis=1))
    return np.array(centres)


def gaussian_mixture_em(x, n_components, covariance="full", max_iter=200, tol=1e-8,
                        gradient_steps=0, seed=None, init=None):
    """Fit a mixture of Gaussians by EM (closed-form M-step) or generalised EM (gradient M-step).

    Parameters
    ----------
    x : array_like, shape (n, d)
    n_components : int
    covariance : {"full", "diag"}
    max_iter : int
        Most EM iterations (M-steps).
    tol : float
        Stop when an iteration raises the log-likelihood by at most ``tol · |log-likelihood|``.
    gradient_steps : int
        ``0``: closed-form M-step.  ``m > 0``: generalised EM, ``m`` preconditioned gradient
        ascent steps on ``Q`` with backtracking per M-step.
    seed : int, numpy.random.Generator or None
        Seeds the k-means++ choice of initial means.
    init : tuple (weights, means, covariances), optional
        Starting parameters instead of k-means++ means, the data covariance and equal weights.

    Returns
    -------
    GaussianMixtureResult

    Raises
    ------
    pgm.errors.CardinalityError
        ``x`` not two-dimensional, fewer rows than components, or ``init`` of the wrong shape.
    pgm.errors.EvidenceError
        Non-finite data.
    pgm.errors.ModelError
        A component collapsed (singular covariance).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = np.concatenate([rng.normal(-3, 1, (300, 2)), rng.normal(3, 1, (300, 2))])
    >>> res = gaussian_mixture_em(x, 2, seed=0)
    >>> sorted(np.round(res.means[:, 0]).tolist()), bool(np.all(np.diff(res.log_likelihood) >= 0))
    ([-3.0, 3.0], True)
    >>> g = gaussian_mixture_em(x, 2, seed=0, gradient_steps=3, covariance="diag")
    >>> bool(np.all(np.diff(g.log_likelihood) >= 0)), sorted(np.round(g.means[:, 1]).tolist())
    (True, [-3.0, 3.0])
    """
    x = _check_x(x)
    n, d = x.shape
    if isinstance(n_components, bool) or not isinstance(n_components, numbers.Integral) \
            or not 1 <= n_components <= n:
        raise CardinalityError(f"n_components must be an integer in 1..{n} (the number of rows), "
                               f"got {n_components!r}")
    k = int(n_components)
    if covariance not in ("full", "diag"):
        raise ValueError(f"covariance must be 'full' or 'diag', got {covariance!r}")
    for name, val in (("max_iter", max_iter), ("gradient_steps", gradient_steps)):
        if isinstance(val, bool) or not isinstance(val, numbers.Integral) or val < 0:
            raise ValueError(f"{name} must be an integer >= 0, got {val!r}")
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not tol >= 0:
        raise ValueError(f"tol must be a number >= 0, got {tol!r}")
    if init is None:
        mu = _kmeans_pp(x, k, np.random.default_rng(seed))
        full = np.atleast_2d(np.cov(x.T, bias=True))
        cov = np.repeat((full if covariance == "full" else np.diag(full))[None], k, 0)
        w = np.full(k, 1.0 / k)
    else:
        w, mu, cov = (np.asarray(a, dtype=np.float64) for a in init)
        want = [(k,), (k, d), (k, d, d) if covariance == "full" else (k, d)]
        if [w.shape, mu.shape, cov.shape] != want:
            raise CardinalityError(f"init must be (weights, means, covariances) of shapes {want}, "
                                   f"got {[w.shape, mu.shape, cov.shape]}")
        if np.any(w <= 0) or abs(w.sum() - 1) > 1e-8:
            raise ModelError(f"initial weights must be positive and sum to one, got {w.tolist()}")
    lls = []
    converged = False
    for it in range(int(max_iter) + 1):
        ll, resp = _estep(x, w, mu, cov, covariance)
        lls.append(ll)
        if it > 0 and lls[-1] - lls[-2] <= tol * abs(lls[-1]):
            converged = True
            break
        if it == max_iter:
            break
        stats = _stats(x, resp, covariance)
        if gradient_steps == 0:
            w, mu, cov = _mstep_closed(stats, covariance, n)
        else:
            theta = pack_parameters(w, mu, cov, covariance)
            theta = _mstep_gradient(theta, stats, covariance, int(gradient_steps))
            w, mu, cov = unpack_parameters(theta, k, d, covariance)
    return GaussianMixtureResult(w, mu, cov, covariance, np.array(lls), len(lls) - 1, converged)
