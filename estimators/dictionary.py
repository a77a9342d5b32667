"""Dictionary learning for sparse coding by alternating minimisation (SPEC.md §4).

Objective (the convention of :mod:`pgm.sparse_coding`; ``V`` is ``(n, d)``, the dictionary ``W``
is ``(d, k)`` with one atom per column, codes ``H`` are ``(n, k)``):

    ``J(H, W) = λ Σ|H| + β ‖V − H Wᵀ‖²_F``   subject to ``‖W_{:,j}‖₂ ≤ 1`` for every atom.

Every iteration of :func:`dictionary_learning` does three things, each of which can only lower
``J``:

1. **Codes**: :func:`pgm.sparse_coding.sparse_code` (FISTA) for all rows, warm-started from the
   previous codes; a row whose new codes are worse than its warm start (possible only when the
   inner solver stops at ``code_max_iter``: FISTA is not monotone) keeps its previous codes.
2. **Dictionary**: block coordinate descent over the atoms (Mairal, Bach, Ponce & Sapiro 2009,
   *Online dictionary learning for sparse coding*, Algorithm 2).  With ``A = HᵀH`` and
   ``B = VᵀH``, the subproblem in atom ``j`` is the isotropic quadratic
   ``β A_jj ‖w_j − u_j‖² + const`` with ``u_j = w_j + (B_{:,j} − W A_{:,j}) / A_jj``, so its
   exact minimiser on the unit ball is ``u_j / max(‖u_j‖, 1)``.
3. **Unit norms**: an atom left with ``0 < ‖w_j‖ < 1`` is rescaled to unit norm and its code
   column multiplied by ``‖w_j‖``: ``H Wᵀ`` is unchanged and ``λ Σ|H|`` can only shrink, so the
   returned dictionary has unit-norm columns exactly.  An atom no row uses (``A_jj = 0``) does
   not enter ``J``; it is replaced by the normalised residual of the worst-reconstructed row
   (a deterministic restart that changes nothing in ``J``).

So ``J`` is non-increasing from iteration to iteration (up to rounding); iterations stop when
the relative decrease of an iteration falls below ``tol``.  Initial atoms: ``W0``, or ``k``
distinct data rows drawn with ``numpy.random.default_rng(seed)`` and normalised — the result is
deterministic given ``seed``.

Examples
--------
>>> import numpy as np
>>> from estimators.dictionary import dictionary_learning
>>> rng = np.random.default_rng(0)
>>> V = rng.laplace(size=(200, 3)) @ rng.normal(size=(3, 8))
>>> r = dictionary_learning(V, n_atoms=3, lam=0.1, iterations=30, seed=0, warn=False)
>>> r.W.shape, r.H.shape, bool(np.allclose(np.linalg.norm(r.W, axis=0), 1))
((8, 3), (200, 3), True)
>>> bool(np.all(np.diff(r.objective) <= 1e-12 * r.objective[:-1]))
True
"""

import numbers
import warnings

import numpy as np

from pgm.errors import CardinalityError, ConvergenceWarning, ModelError
from pgm.sparse_coding import sparse_code, sparse_coding_objective
from pgm.validation import as_float_array

__all__ = ["dictionary_learning", "DictionaryResult"]


class DictionaryResult:
    """Dictionary, codes and objective trace returned by :func:`dictionary_learning`.

    Attributes
    ----------
    W : ndarray (d, k)
        The dictionary, one unit-norm atom per column.
    H : ndarray (n, k)
        Codes of the rows of ``V`` (consistent with ``W``: the last step rescaled them).
    objective : ndarray (iterations + 1,)
        ``J(H, W) = λ Σ|H| + β ‖V − H Wᵀ‖²_F``: at the start (``H = 0``, i.e. ``β‖V‖²``) and
        after every iteration; non-increasing.
    iterations : int
        Iterations performed.
    converged : bool
        Whether the last relative decrease was at most ``tol``.
    code_iterations : ndarray (iterations,) of int
        Inner (FISTA) iterations of each coding step.
    replaced_atoms : int
        How many times an unused atom was restarted.
    """

    def __init__(self, W, H, objective, iterations, converged, code_iterations, replaced_atoms):
        self.W, self.H, self.objective = W, H, objective
        self.iterations, self.converged = iterations, converged
        self.code_iterations, self.replaced_atoms = code_iterations, replaced_atoms

    def __repr__(self):
        return (f"DictionaryResult(atoms={self.W.shape[1]}, objective={self.objective[-1]:.6g}, "
                f"iterations={self.iterations}, converged={self.converged})")


def dictionary_learning(V, n_atoms, lam, beta=1.0, iterations=100, seed=None, W0=None, tol=1e-5,
                        code_max_iter=50, code_tol=1e-4, dict_passes=10, warn=True):
    """Learn a dictionary with unit-norm atoms and sparse codes by alternating minimisation of
    ``λ Σ|H| + β ‖V − H Wᵀ‖²_F`` (SPEC.md §4): FISTA codes, block-coordinate-descent atoms.

    Parameters
    ----------
    V : array_like (n, d)
        Data, one example per row.
    n_atoms : int
        ``k``, the number of atoms (columns of ``W``).
    lam : float >= 0
        ``λ``, weight of the L1 penalty on the codes.
    beta : float > 0
        ``β``, weight of the squared reconstruction error.
    iterations : int
        Most outer iterations (codes + dictionary).
    seed : int, SeedSequence or None
        Seed of the initial atoms (ignored when ``W0`` is given).
    W0 : array_like (d, k), optional
        Initial dictionary (columns are normalised; none may be zero).
    tol : float
        Stop when an iteration lowers ``J`` by at most ``tol × J``.
    code_max_iter, code_tol : int, float
        ``max_iter`` and ``tol`` of each warm-started :func:`pgm.sparse_coding.sparse_code` call.
    dict_passes : int
        Block-coordinate-descent sweeps over the atoms per iteration.
    warn : bool
        Issue a :class:`~pgm.errors.ConvergenceWarning` when ``tol`` was not met.

    Returns
    -------
    DictionaryResult

    Raises
    ------
    CardinalityError
        ``V`` is not 2-D or ``W0`` has the wrong shape.
    ModelError
        ``lam < 0``, ``beta <= 0``, non-finite values, a zero atom in ``W0``.

    Examples
    --------
    >>> import numpy as np
    >>> V = np.random.default_rng(1).normal(size=(50, 6))
    >>> a = dictionary_learning(V, 4, lam=0.5, iterations=5, seed=3, warn=False)
    >>> b = dictionary_learning(V, 4, lam=0.5, iterations=5, seed=3, warn=False)
    >>> bool(np.array_equal(a.W, b.W)), a.iterations
    (True, 5)
    """
    V = as_float_array(V, "V")
    if V.ndim != 2 or V.shape[0] < 1 or V.shape[1] < 1:
        raise CardinalityError(f"V must be a 2-D array (n, d) with one example per row, got shape {V.shape}")
    if not np.all(np.isfinite(V)):
        raise ModelError(f"V must be finite, found {V[~np.isfinite(V)].flat[0].item()!r}")
    n, d = V.shape
    if isinstance(n_atoms, bool) or not isinstance(n_atoms, numbers.Integral) or n_atoms < 1:
        raise ValueError(f"n_atoms must be an integer >= 1, got {n_atoms!r}")
    k = int(n_atoms)
    for name, x, low_open in (("lam", lam, False), ("beta", beta, True)):
        if isinstance(x, bool) or not isinstance(x, numbers.Real) or not np.isfinite(x) \
                or (x <= 0 if low_open else x < 0):
            raise ModelError(f"{name} must be a finite real number {'>' if low_open else '>='} 0, got {x!r}")
    lam, beta = float(lam), float(beta)
    for name, x in (("iterations", iterations), ("code_max_iter", code_max_iter), ("dict_passes", dict_passes)):
        if isinstance(x, bool) or not isinstance(x, numbers.Integral) or x < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {x!r}")
    for name, x in (("tol", tol), ("code_tol", code_tol)):
        if isinstance(x, bool) or not isinstance(x, numbers.Real) or not x >= 0:
            raise ValueError(f"{name} must be a real number >= 0, got {x!r}")
    V = np.ascontiguousarray(V, dtype=np.float64)
    W = _initial_dictionary(V, k, seed, W0)

    H = np.zeros((n, k))
    J_rows = beta * np.einsum("ij,ij->i", V, V)          # J at H = 0, row by row
    objective = [float(J_rows.sum())]
    code_its, replaced, converged, it = [], 0, False, 0
    for it in range(1, iterations + 1):
        # 1. codes (warm start; keep the old row where the new one is worse)
        r = sparse_code(V, W, lam, beta, max_iter=code_max_iter, tol=code_tol, H0=H, warn=False)
        code_its.append(r.iterations)
        new_rows = sparse_coding_objective(V, W, r.H, lam, beta, per_row=True)
        better = new_rows <= J_rows
        H = np.where(better[:, None], r.H, H)
        # 2. dictionary: block coordinate descent on the unit ball
        A, B = H.T @ H, V.T @ H
        for _ in range(dict_passes):
            _update_atoms(W, A, B)
        # 3. unit norms (codes absorb the scale); restart unused atoms
        norms = np.linalg.norm(W, axis=0)
        used = (np.diag(A) > 0) & (norms > 0)
        scale = np.where(used, norms, 1.0)
        W /= scale
        H *= scale
        H[:, ~used] = 0.0
        if not used.all():
            replaced += int((~used).sum())
            _restart_atoms(V, W, H, np.flatnonzero(~used))
        J_rows = sparse_coding_objective(V, W, H, lam, beta, per_row=True)
        objective.append(float(J_rows.sum()))
        if objective[-2] - objective[-1] <= tol * abs(objective[-2]):
            converged = True
            break
    if warn and not converged:
        warnings.warn(f"dictionary_learning did not meet tol={tol:g} in {iterations} iterations "
                      f"(last relative decrease {(objective[-2] - objective[-1]) / objective[-2]:.3g})",
                      ConvergenceWarning, stacklevel=2)
    return DictionaryResult(W, H, np.array(objective), it, converged, np.array(code_its, dtype=np.int64),
                            replaced)


def _initial_dictionary(V, k, seed, W0):
    n, d = V.shape
    if W0 is not None:
        W = as_float_array(W0, "W0")
        if W.shape != (d, k):
            raise CardinalityError(f"W0 must have shape ({d}, {k}) (features of V × n_atoms), got {np.shape(W0)}")
        if not np.all(np.isfinite(W)):
            raise ModelError(f"W0 must be finite, found {W[~np.isfinite(W)].flat[0].item()!r}")
        norms = np.linalg.norm(W, axis=0)
        if np.any(norms == 0):
            raise ModelError(f"W0 has a zero atom (column {int(np.flatnonzero(norms == 0)[0])})")
        return np.array(W / norms, dtype=np.float64)
    rng = np.random.default_rng(seed)
    rows = rng.choice(n, size=k, replace=k > n)
    W = V[rows].T.copy()
    norms = np.linalg.norm(W, axis=0)
    zero = norms == 0
    if zero.any():  # zero data rows: random directions instead
        W[:, zero] = rng.normal(size=(d, int(zero.sum())))
        norms = np.linalg.norm(W, axis=0)
    return W / norms


def _update_atoms(W, A, B):
    """One block-coordinate-descent sweep (Mairal et al. 2009, Alg. 2) in place."""
    for j in range(W.shape[1]):
        if A[j, j] <= 0:
            continue
        u = W[:, j] + (B[:, j] - W @ A[:, j]) / A[j, j]
        W[:, j] = u / max(float(np.linalg.norm(u)), 1.0)


def _restart_atoms(V, W, H, atoms):
    """Unused atoms ← normalised residuals of the worst-reconstructed rows (``J`` unchanged)."""
    R = V - H @ W.T
    err = np.einsum("ij,ij->i", R, R)
    order = np.argsort(-err, kind="stable")
    for j, row in zip(atoms, order):
        norm = np.sqrt(err[row])
        if norm > 0:
            W[:, j] = R[row] / norm
        else:  # perfect fit everywhere: any unit vector will do
            W[:, j] = 0.0
            W[j % W.shape[0], j] = 1.0
