"""Sparse coding by proximal gradient (ISTA / FISTA) and mean field for binary sparse coding
(SPEC.md §4, "MAP inference ... sparse coding" and "Mean field ... binary sparse coding").

**Sparse coding** (MAP inference of a Laplace-prior linear-Gaussian model).  One convention,
used everywhere in this module and in :func:`estimators.dictionary.dictionary_learning`: data ``V`` is
``(n, d)`` (one example per row), the dictionary ``W`` is ``(d, k)`` (one atom per *column*),
codes ``H`` are ``(n, k)`` and

    ``J(H) = λ Σ_{r,i} |H_ri| + β ‖V − H Wᵀ‖²_F``      (no ½; sums over rows, not means).

The rows are independent problems ``λ‖h‖₁ + β‖v − W h‖²``.  Mapping to scikit-learn: its
``SparseCoder(dictionary=D, transform_algorithm="lasso_cd", transform_alpha=α)`` (and
``sparse_encode``) minimises ``½‖x − Dᵀh‖² + α‖h‖₁`` per row with atoms as the rows of ``D``;
with ``D = Wᵀ`` and ``α = λ / (2β)`` it has the same minimiser, and ``J = 2β × (its objective
summed over rows)``.

:func:`sparse_code` minimises ``J`` for all rows at once (one ``(n, k) × (k, k)`` product per
iteration) by ISTA — ``H ← S_{λ/L}(H − ∇/L)`` with ``∇ = 2β (H WᵀW − V W)``, soft thresholding
``S_τ(x) = sign(x) max(|x| − τ, 0)`` and step ``1/L``, ``L = 2β σ_max(W)²`` (computed once) — or
FISTA (Beck & Teboulle 2009: the same step from an extrapolated point, momentum
``(t_k − 1)/t_{k+1}``) with the gradient-based adaptive restart of O'Donoghue & Candès (2015),
each row with its own momentum.  Because the gradient is affine in ``H``, the gradient at the
extrapolated point is the same combination of the gradients at the two last iterates, so an
iteration costs one matrix product and also yields the optimality residual of the new iterate.
A row stops (and is frozen) when its fixed-point residual
``max_i |h_i − S_{λ/L}(h_i − ∇_i/L)|`` — zero exactly at the minimiser — falls below
``tol × max(max|h|, max|2β (vW)|/L)``.

**Binary sparse coding** (book ch. 19): ``p(h_i = 1) = σ(b_i)``, ``p(v | h) = N(v; W h, β⁻¹ I)``
(``β`` a precision, scalar or one per visible unit).  :func:`binary_sparse_coding_mean_field`
iterates the book's fixed point

    ``ĥ_i = σ(b_i + (v − Σ_{j≠i} W_{:,j} ĥ_j)ᵀ β W_{:,i} − ½ W_{:,i}ᵀ β W_{:,i})``

— each unit is driven by the residual of ``v`` after the other units' predictions, so units whose
atoms explain the same part of ``v`` inhibit one another ("explaining away").  Sequential updates
maximise the ELBO exactly in one ``ĥ_i`` (it is linear in ``ĥ_i`` plus the entropy), so the ELBO
never decreases; parallel (block) updates of all units from the previous iterate can oscillate
when atoms overlap (two units that explain the same part of ``v`` switch on together, then off
together, ...); damping ``ĥ ← d ĥ + (1 − d) update(ĥ)`` pulls the iteration's eigenvalues
towards ``d``, which (with ``d`` large enough) makes it converge; the fixed points are the same.
The ELBO is exact in closed form:

    ``L = Σ_i [ĥ_i b_i − ζ(b_i)] + ½ Σ_j log(β_j / 2π)
    − ½ [(v − Wĥ)ᵀ β (v − Wĥ) + Σ_i ĥ_i (1 − ĥ_i) W_{:,i}ᵀ β W_{:,i}] + Σ_i H(ĥ_i) ≤ log p(v)``.

Examples
--------
>>> import numpy as np
>>> from pgm.sparse_coding import sparse_code
>>> W = np.eye(3)
>>> r = sparse_code([[2.0, -0.1, 0.5]], W, lam=0.4)   # closed form: S_{λ/2β}(v) for W = I
>>> (np.round(r.H, 6) + 0.0).tolist(), r.converged
([[1.8, 0.0, 0.3]], True)
"""

import numbers
import warnings

import numpy as np

from ._layered import entropy_bernoulli, sigmoid, softplus
from .errors import CardinalityError, ConvergenceWarning, ModelError
from .inference import MeanFieldResult, check_settings, iterate
from .validation import as_batch, as_float_array

__all__ = [
    "sparse_code", "sparse_coding_objective", "SparseCodeResult", "soft_threshold",
    "binary_sparse_coding_mean_field", "binary_sparse_coding_elbo", "BinarySparseCodingResult",
]

METHODS = ("fista", "ista")


# ---------------------------------------------------------------------------- validation
def _check_real(x, name, low=None, low_open=False, high=None, high_open=False):
    if isinstance(x, bool) or not isinstance(x, numbers.Real) or not np.isfinite(x):
        raise ModelError(f"{name} must be a finite real number, got {x!r}")
    if low is not None and (x <= low if low_open else x < low):
        raise ModelError(f"{name} must be {'>' if low_open else '>='} {low}, got {x!r}")
    if high is not None and (x >= high if high_open else x > high):
        raise ModelError(f"{name} must be {'<' if high_open else '<='} {high}, got {x!r}")
    return float(x)


def _check_int(x, name, low=1):
    if isinstance(x, bool) or not isinstance(x, numbers.Integral) or x < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {x!r}")
    return int(x)


def _check_dictionary(W, name="W"):
    arr = as_float_array(W, name)
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise CardinalityError(f"{name} must be a 2-D array (d, k) with one atom per column, got shape {np.shape(W)}")
    if not np.all(np.isfinite(arr)):
        raise ModelError(f"{name} must be finite, found {arr[~np.isfinite(arr)].flat[0].item()!r}")
    return np.ascontiguousarray(arr)


def _check_codes(H, n, k, one, name):
    arr = as_float_array(H, name)
    want = (k,) if one else (n, k)
    if arr.shape != want and not (arr.ndim == 2 and arr.shape == (n, k)):
        raise CardinalityError(f"{name} must have shape {want} (rows of V × atoms of W), got {np.shape(H)}")
    if not np.all(np.isfinite(arr)):
        raise ModelError(f"{name} must be finite, found {arr[~np.isfinite(arr)].flat[0].item()!r}")
    return np.array(arr.reshape(n, k), dtype=np.float64)


# ---------------------------------------------------------------------------- sparse coding
def soft_threshold(x, tau):
    """``S_τ(x) = sign(x) · max(|x| − τ, 0)``, the proximal operator of ``τ‖·‖₁``.

    Examples
    --------
    >>> soft_threshold([-2.0, 0.3, 1.5], 0.5).tolist()
    [-1.5, 0.0, 1.0]
    """
    x = np.asarray(x, dtype=np.float64)
    return np.sign(x) * np.maximum(np.abs(x) - tau, 0.0)


def sparse_coding_objective(V, W, H, lam, beta=1.0, per_row=False):
    """``J(H) = λ Σ|H| + β ‖V − H Wᵀ‖²_F`` (SPEC §4; see the module docstring for the convention).

    Parameters
    ----------
    V : array_like (n, d) or (d,)
    W : array_like (d, k)
        Dictionary, one atom per column.
    H : array_like (n, k) or (k,)
    lam : float >= 0
    beta : float > 0
    per_row : bool
        Return the ``(n,)`` terms of the sum instead of the total.

    Returns
    -------
    float or ndarray (n,)

    Examples
    --------
    >>> sparse_coding_objective([[1.0, 2.0]], [[1.0], [0.0]], [[1.0]], lam=0.5, beta=2.0)
    8.5
    """
    W = _check_dictionary(W)
    d, k = W.shape
    V, one = as_batch(V, d, "V")
    H = _check_codes(H, V.shape[0], k, one, "H")
    lam = _check_real(lam, "lam", low=0)
    beta = _check_real(beta, "beta", low=0, low_open=True)
    out = _objective_rows(V, W, H, lam, beta)
    return out if per_row else float(out.sum())


def _objective_rows(V, W, H, lam, beta):
    R = V - H @ W.T
    return lam * np.abs(H).sum(axis=1) + beta * np.einsum("ij,ij->i", R, R)


class SparseCodeResult:
    """Codes and diagnostics returned by :func:`sparse_code`.

    Attributes
    ----------
    H : ndarray (n, k) or (k,)
        The codes (1-D when ``V`` was one row).
    objective : float
        ``J(H) = λ Σ|H| + β ‖V − H Wᵀ‖²_F`` at the returned codes.
    iterations : int
        Iterations performed (the slowest row's count).
    converged : bool
        Whether every row met the tolerance.
    residual : float
        Largest fixed-point residual ``max |H − S_{λ/L}(H − ∇J/L)|`` over rows at the returned
        codes (in the units of ``H``; zero exactly at the minimiser).
    lipschitz : float
        ``L = 2β σ_max(W)²``, the Lipschitz constant of the gradient (step ``1/L``).
    row_iterations : ndarray (n,) of int
        Iterations each row took.
    """

    def __init__(self, H, objective, iterations, converged, residual, lipschitz, row_iterations):
        self.H, self.objective, self.iterations = H, objective, iterations
        self.converged, self.residual, self.lipschitz = converged, residual, lipschitz
        self.row_iterations = row_iterations

    def __repr__(self):
        return (f"SparseCodeResult(objective={self.objective:.6g}, iterations={self.iterations}, "
                f"converged={self.converged}, residual={self.residual:.3g})")


def sparse_code(V, W, lam, beta=1.0, method="fista", max_iter=1000, tol=1e-8, H0=None, warn=True):
    """Sparse codes ``H = argmin λ Σ|H| + β ‖V − H Wᵀ‖²_F`` by FISTA or ISTA (SPEC.md §4).

    All rows are solved at once (one ``(n, k) × (k, k)`` matrix product per iteration, float64);
    each row keeps its own FISTA momentum (restarted when it points uphill) and is frozen as
    soon as it meets the tolerance.

    Parameters
    ----------
    V : array_like (n, d) or (d,)
        Data, one example per row.
    W : array_like (d, k)
        Dictionary, one atom per column (need not be normalised).
    lam : float >= 0
        ``λ``, weight of the L1 penalty.
    beta : float > 0
        ``β``, weight of the squared error.  scikit-learn's ``transform_alpha`` is ``λ / (2β)``.
    method : {"fista", "ista"}
    max_iter : int
        Most iterations.
    tol : float
        A row stops when its fixed-point residual ``max |h − S_{λ/L}(h − ∇/L)|`` is at most
        ``tol × max(max|h|, max|2β v W| / L)``.
    H0 : array_like (n, k) or (k,), optional
        Starting codes (warm start); default zeros.
    warn : bool
        Issue a :class:`~pgm.errors.ConvergenceWarning` (a ``RuntimeWarning``) when some row
        did not converge.

    Returns
    -------
    SparseCodeResult

    Raises
    ------
    CardinalityError
        ``V``, ``W`` or ``H0`` shapes disagree.
    ModelError
        ``lam < 0``, ``beta <= 0`` or non-finite values (``EvidenceError`` for ``V``).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> W = rng.normal(size=(8, 12)); W /= np.linalg.norm(W, axis=0)
    >>> V = rng.normal(size=(5, 8))
    >>> r = sparse_code(V, W, lam=0.5)
    >>> r.H.shape, r.converged, r.residual < 1e-6
    ((5, 12), True, True)
    >>> slow = sparse_code(V, W, lam=0.5, method="ista", max_iter=20000)
    >>> bool(abs(slow.objective - r.objective) <= 1e-9 * r.objective)
    True
    """
    W = _check_dictionary(W)
    d, k = W.shape
    V, one = as_batch(V, d, "V")
    n = V.shape[0]
    lam = _check_real(lam, "lam", low=0)
    beta = _check_real(beta, "beta", low=0, low_open=True)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    max_iter = _check_int(max_iter, "max_iter")
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not tol >= 0:
        raise ValueError(f"tol must be a real number >= 0, got {tol!r}")
    H = np.zeros((n, k)) if H0 is None else _check_codes(H0, n, k, one, "H0")

    sigma = float(np.linalg.norm(W, 2))
    L = 2.0 * beta * sigma * sigma
    if L == 0.0:  # W = 0: the data term is constant, the L1 term is minimised by H = 0
        if lam > 0:
            H[:] = 0.0
        row_its, residual, converged = np.zeros(n, dtype=np.int64), 0.0, True
    else:
        G = (2.0 * beta) * (W.T @ W)
        B = (2.0 * beta) * (V @ W)
        H, row_res, row_its, row_ok = _proximal_gradient(H, G, B, lam, L, max_iter, float(tol),
                                                         method == "fista")
        residual, converged = float(row_res.max(initial=0.0)), bool(row_ok.all())
    its = int(row_its.max(initial=0))
    objective = float(_objective_rows(V, W, H, lam, beta).sum())
    if warn and not converged:
        warnings.warn(f"sparse_code ({method}) stopped after max_iter={max_iter} iterations with "
                      f"fixed-point residual {residual:.3g} (tol={tol:g}); increase max_iter",
                      ConvergenceWarning, stacklevel=2)
    return SparseCodeResult(H[0] if one else H, objective, its, converged, residual, L, row_its)


def _shrink(x, thr):
    """Soft thresholding ``x − clip(x, −τ, τ)`` (equal to ``sign(x) max(|x| − τ, 0)``)."""
    return x - np.clip(x, -thr, thr)


def _row_residual(X, g, thr, inv_l):
    """``max_i |x_i − S_τ(x_i − g_i / L)|`` per row."""
    return np.max(np.abs(X - _shrink(X - g * inv_l, thr)), axis=1, initial=0.0)


def _row_absmax(X):
    return np.max(np.abs(X), axis=1, initial=0.0)


def _proximal_gradient(H, G, B, lam, L, max_iter, tol, accelerate):
    """ISTA / FISTA with per-row momentum, restart and freezing.  ``∇ = H G − B``.

    Rows that meet the tolerance are recorded at once and dropped from the working arrays
    when they make up a quarter of them (until then they keep iterating, unrecorded).
    Returns the codes, each row's fixed-point residual, iteration count and convergence flag."""
    n = H.shape[0]
    out = H.copy()
    res_out = np.zeros(n)
    its_out = np.zeros(n, dtype=np.int64)
    ok_out = np.ones(n, dtype=bool)
    inv_l = 1.0 / L
    thr = lam * inv_l
    X = H.copy()
    gX = X @ G - B
    scale = np.max(np.abs(B), axis=1, initial=0.0) * inv_l
    res_out[:] = _row_residual(X, gX, thr, inv_l)
    active = res_out > tol * np.maximum(_row_absmax(X), scale)
    rows, X, gX, Bc, scale = np.flatnonzero(active), X[active], gX[active], B[active], scale[active]
    Xp, gXp = X, gX
    t = np.ones(rows.size)
    live = np.ones(rows.size, dtype=bool)
    it = 0
    while rows.size and it < max_iter:
        it += 1
        if accelerate:
            t_new = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
            m = ((t - 1.0) / t_new)[:, None]
            Y = X + m * (X - Xp)
            gY = gX + m * (gX - gXp)
        else:
            t_new, Y, gY = t, X, gX
        Xn = _shrink(Y - gY * inv_l, thr)
        gn = Xn @ G - Bc
        res = _row_residual(Xn, gn, thr, inv_l)
        if accelerate:
            # gradient restart: the step Xn − X points against the proximal-gradient direction
            uphill = np.einsum("ij,ij->i", Y - Xn, Xn - X) > 0
            t_new = np.where(uphill, 1.0, t_new)
        Xp, gXp, X, gX, t = X, gX, Xn, gn, t_new
        done = live & (res <= tol * np.maximum(_row_absmax(X), scale))
        if it == max_iter:
            ok_out[rows[live & ~done]] = False
            done = live
        if done.any():
            idx = rows[done]
            out[idx], res_out[idx], its_out[idx] = X[done], res[done], it
            live = live & ~done
            if 4 * np.count_nonzero(~live) >= live.size:
                rows, X, Xp, gX, gXp, Bc, scale, t = (a[live] for a in (rows, X, Xp, gX, gXp, Bc, scale, t))
                live = live[live]
    return out, res_out, its_out, ok_out


# ---------------------------------------------------------------------------- binary sparse coding
class BinarySparseCodingResult(MeanFieldResult):
    """Mean-field parameters and bound returned by :func:`binary_sparse_coding_mean_field`.

    Attributes
    ----------
    mu : ndarray (n, k) or (k,)
        ``ĥ_i = q(h_i = 1 | v)``.
    elbo : ndarray (n,) or float
        Exact ELBO at ``mu`` (a lower bound on ``log p(v)``).
    history : ndarray (iterations + 1, n) or (iterations + 1,)
        ELBO at the start and after every iteration.
    iterations : int
        Iterations performed (one iteration updates every unit once).
    converged : bool
        Whether the largest change of an iteration fell below ``tol``.
    residual : float
        ``max |ĥ − update(ĥ)|`` of the fixed-point equations at the returned point.
    """


class _BSC:
    """Binary sparse coding problem: precomputed ``WᵀβW`` and the constant part of the input."""

    def __init__(self, v, W, b, beta):
        self.W = _check_dictionary(W)
        d, k = self.W.shape
        self.v, self.one = as_batch(v, d, "v")
        b = as_float_array(b, "b")
        if b.shape != (k,):
            raise CardinalityError(f"b must have shape ({k},) (one bias per atom of W), got {np.shape(b)}")
        if not np.all(np.isfinite(b)):
            raise ModelError(f"b must be finite, found {b[~np.isfinite(b)].flat[0].item()!r}")
        beta_arr = as_float_array(beta, "beta")
        if beta_arr.ndim > 1 or (beta_arr.ndim == 1 and beta_arr.shape != (d,)):
            raise CardinalityError(f"beta must be a scalar or have shape ({d},) (one precision per "
                                   f"visible unit), got {np.shape(beta)}")
        if not np.all(np.isfinite(beta_arr) & (beta_arr > 0)):
            bad = beta_arr[~(np.isfinite(beta_arr) & (beta_arr > 0))].flat[0].item()
            raise ModelError(f"beta (the precision) must be finite and > 0, found {bad!r}")
        self.b, self.beta = b, np.broadcast_to(beta_arr, (d,)).astype(np.float64)
        BW = self.beta[:, None] * self.W
        self.G = self.W.T @ BW                      # WᵀβW (k, k)
        self.a = np.diag(self.G).copy()             # W_iᵀ β W_i
        self.c = self.b + self.v @ BW - 0.5 * self.a  # input not depending on the other units
        self.k = k

        self.blocks = range(k)              # the protocol of pgm.inference.iterate: μ = [M]

    def fixed_point_map(self, mu):
        M = mu[0]
        return [sigmoid(self.c - M @ self.G + M * self.a)]

    def step(self, mu, i, damping):
        """Update unit ``i`` in place; returns its largest change."""
        M = mu[0]
        old = M[:, i].copy()
        pre = self.c[:, i] - M @ self.G[:, i] + self.a[i] * old
        M[:, i] = damping * old + (1.0 - damping) * sigmoid(pre)
        return float(np.max(np.abs(M[:, i] - old), initial=0.0))

    def elbo(self, mu):
        mu = mu[0]
        r = self.v - mu @ self.W.T
        quad = (r * r) @ self.beta + (mu * (1.0 - mu)) @ self.a
        const = 0.5 * float(np.sum(np.log(self.beta / (2.0 * np.pi))))
        prior = mu @ self.b - float(np.sum(softplus(self.b)))
        return prior + const - 0.5 * quad + entropy_bernoulli(mu)


def binary_sparse_coding_elbo(v, mu, W, b, beta):
    """Exact ELBO ``E_q[log p(v, h)] + H(q)`` of ``q(h) = Π Bernoulli(μ_i)`` in the binary sparse
    coding model ``p(h_i=1) = σ(b_i)``, ``p(v|h) = N(v; W h, β⁻¹ I)`` (closed form, see module
    docstring).

    Parameters
    ----------
    v : array_like (n, d) or (d,)
    mu : array_like (n, k) or (k,)
        Probabilities in [0, 1].
    W : array_like (d, k)
    b : array_like (k,)
    beta : float or array_like (d,)
        Precision (per visible unit).

    Returns
    -------
    ndarray (n,) or float

    Examples
    --------
    >>> import numpy as np
    >>> e = binary_sparse_coding_elbo([0.0], [0.0], [[1.0]], [0.0], 1.0)   # q = δ(h = 0)
    >>> bool(np.isclose(e, np.log(0.5) - 0.5 * np.log(2 * np.pi)))
    True
    """
    prob = _BSC(v, W, b, beta)
    m = _check_mu(mu, prob, "mu")
    out = prob.elbo([m])
    return float(out[0]) if prob.one else out


def _check_mu(mu, prob, name):
    n, k = prob.v.shape[0], prob.k
    arr = as_float_array(mu, name)
    if arr.ndim == 1 and arr.shape == (k,):
        arr = np.broadcast_to(arr, (n, k))
    if arr.shape != (n, k):
        raise CardinalityError(f"{name} must have shape ({n}, {k}) or ({k},), got {np.shape(mu)}")
    if not np.all((arr >= 0) & (arr <= 1)):
        bad = arr[~((arr >= 0) & (arr <= 1))].flat[0].item()
        raise ModelError(f"{name} must hold probabilities in [0, 1], found {bad!r}")
    return np.array(arr, dtype=np.float64)


def binary_sparse_coding_mean_field(v, W, b, beta, damping=0.0, iterations=500, tol=1e-10,
                                    update="sequential", init=None, warn=True):
    """Mean field ``q(h | v) = Π Bernoulli(ĥ_i)`` for binary sparse coding (SPEC.md §4, book ch. 19).

    Model: ``p(h_i = 1) = σ(b_i)``, ``p(v | h) = N(v; W h, β⁻¹ I)``.  Fixed point
    ``ĥ_i = σ(b_i + (v − Σ_{j≠i} W_{:,j} ĥ_j)ᵀ β W_{:,i} − ½ W_{:,i}ᵀ β W_{:,i})``, all rows of
    ``v`` at once.

    Parameters
    ----------
    v : array_like (n, d) or (d,)
        Observed real vectors.
    W : array_like (d, k)
        Atoms as columns.
    b : array_like (k,)
        Prior logits, ``p(h_i = 1) = σ(b_i)``.
    beta : float or array_like (d,)
        Noise precision (``β⁻¹`` is the noise variance), per visible unit if an array.
    damping : float in [0, 1)
        ``ĥ ← damping·ĥ + (1 − damping)·update(ĥ)``; the book's remedy for the oscillation of
        block (parallel) updates.
    iterations : int
        Most iterations (one iteration updates every unit once).
    tol : float
        Stop when no ``ĥ_i`` changed by more than ``tol`` in an iteration.
    update : {"sequential", "parallel"}
        One unit at a time with the newest values (coordinate ascent: the ELBO never
        decreases) or all units from the previous iterate (Jacobi; may oscillate undamped).
    init : array_like (n, k) or (k,), optional
        Starting ``ĥ``; default the prior ``σ(b)``.
    warn : bool
        Issue a :class:`~pgm.errors.ConvergenceWarning` when ``tol`` was not met.

    Returns
    -------
    BinarySparseCodingResult

    Examples
    --------
    >>> import numpy as np
    >>> W = np.array([[1.0, 1.0], [0.0, 1.0]])
    >>> r = binary_sparse_coding_mean_field([1.0, 0.0], W, b=[0.0, 0.0], beta=8.0)
    >>> r.converged, r.residual < 1e-8, bool(r.mu[0] > 0.9 > 0.1 > r.mu[1])   # atom 0 explains v
    (True, True, True)
    """
    check_settings(iterations, tol, update, damping)
    prob = _BSC(v, W, b, beta)
    n = prob.v.shape[0]
    mu = np.tile(sigmoid(prob.b), (n, 1)) if init is None else _check_mu(init, prob, "init")
    (mu,), history, it, converged, residual = iterate(prob, [mu], iterations, tol, update, damping)
    elbo = history[-1]
    if warn and not converged:
        warnings.warn(f"binary sparse coding mean field ({update}, damping={damping:g}) did not meet "
                      f"tol={tol:g} in {iterations} iterations (residual {residual:.3g})",
                      ConvergenceWarning, stacklevel=2)
    if prob.one:
        mu, elbo, history = mu[0], float(elbo[0]), history[:, 0]
    return BinarySparseCodingResult(mu, elbo, history, it, converged, residual)
