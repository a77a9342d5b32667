"""Compiled heat-bath (Gibbs) kernels for pairwise binary spin models.

Model and algorithm
-------------------
Spins ``s_i in {-1, +1}`` with symmetric couplings ``w_ij`` (CSR neighbour
lists, no padding to the maximum degree) and fields ``h_i``::

    E(s) = - sum_{i<j} w_ij s_i s_j - sum_i h_i s_i,      p(s) ∝ exp(-beta E(s)).

Each update is a **heat-bath (Gibbs) single-site update** (SPEC.md §2, "Gibbs
sampling"; the Boltzmann-machine conditional of SPEC.md §5 in spin form)::

    p(s_i = +1 | s_-i) = 1 / (1 + exp(-2 beta (sum_j w_ij s_j + h_i)))

drawn as ``s_i = +1 if u < p else -1`` with one uniform ``u`` (53 bits) from the
chain's own xoshiro256 stream (``samplers._rng``).

Site orders (all share one kernel):

* **systematic scan** -- ``order`` is a permutation of the sites visited in
  sequence; one sweep = ``len(order)`` updates;
* **block Gibbs with a graph colouring** (SPEC.md §2, "Block Gibbs") -- pass the
  colour classes one after another as ``order`` (see :func:`order_from_colouring`,
  :func:`checkerboard_order`).  Sites of one colour class are conditionally
  independent, so updating them in sequence is the same kernel as updating them
  simultaneously;
* **random scan** -- ``random_scan=True``: each sweep makes ``len(order)``
  updates at sites drawn uniformly (with replacement) from ``order``, using the
  chain's stream (exact Lemire multiply-shift with rejection).

**Evidence (clamped spins)**: clamped sites are simply left out of ``order``
(:func:`exclude_clamped`); they keep the values they have in ``spins`` and
still act on their neighbours and in the energy.  No special kernel exists.

Two paths
---------
* **Fast (table) path** -- when every coupling is ``±J`` for one ``J`` and the
  field is uniform ``h``, the local field is ``J * m + h`` with an integer
  ``m in [-deg, deg]``; the kernel builds ``p_table[m + D] = 1/(1+exp(-2 beta
  (J m + h)))`` once per call (``D`` = maximum degree) and the inner loop is an
  ``int8`` sum of ``sign_ij * s_j`` followed by one table lookup and one
  comparison -- no ``exp``.
* **General path** -- float64 weights, per-site fields, one ``exp`` per update.

:func:`make_plan` chooses the path (:func:`detect_uniform_couplings`).  Both paths
make the same decision ``u < p`` from the same ``u``; they can differ only when
``u`` falls between two floating-point evaluations of the same ``p``.

Compiled layout (the "plan")
----------------------------
At the public boundary the CSR arrays (``indptr`` int64, ``indices`` int32,
``weights`` float64, ``field`` float64) are checked once and **re-laid out in
sweep order**: row ``k`` of the plan holds the neighbours of site
``sites[k]``, with ``sites[:m]`` = ``order`` (the ``m`` free sites) followed by
the clamped sites (used only for the energy).  Neighbour indices are stored as
``uint32`` and row pointers as ``uint64`` (unsigned: no negative-index
wrap-around code in the inner loop), coupling signs as ``int8``.  A systematic
sweep then streams all plan arrays sequentially, which keeps the per-update
cost flat from 32x32 to 1024x1024 lattices.

Parallelism and reproducibility
-------------------------------
Kernels are ``numba.njit(parallel=True, cache=True)`` with ``prange`` over
chains.  Chain ``c`` reads and writes only ``spins[c]`` and ``rng_state[c]``
(its RNG state is kept in four local variables and written back at the end of
the call), so results are bit-identical for any number of threads, and
``n`` sweeps followed by ``m`` sweeps from the returned ``(spins, rng_state)``
equals ``n + m`` sweeps.  No ``fastmath``.  Per-chain inverse temperatures
(``beta`` of shape ``(chains,)``) are supported for tempering.

Examples
--------
>>> import numpy as np
>>> from samplers._rng import make_rng_state
>>> from samplers._spin_kernels import (csr_from_edges, checkerboard_order,
...     lattice_edges, make_plan, run_plan, sample_plan)
>>> L = 8
>>> indptr, indices, w = csr_from_edges(L * L, lattice_edges(L), 1.0)
>>> plan = make_plan(indptr, indices, w, 0.0, checkerboard_order(L))
>>> plan.is_fast
True
>>> spins = np.ones((4, L * L), dtype=np.int8)
>>> rng = make_rng_state(0, 4)
>>> run_plan(plan, spins, rng, beta=0.44, n_sweeps=10)
>>> states, energy, mag = sample_plan(plan, spins, rng, 0.44, n_draws=5, thin=2)
>>> energy.shape, mag.shape, states
((4, 5), (4, 5), None)
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np
from numba import prange, uint64

from ._rng import TWO_POW_M53, uniform_index, xoshiro_step

__all__ = [
    "SpinPlan",
    "csr_from_edges",
    "detect_uniform_couplings",
    "lattice_edges",
    "checkerboard_order",
    "order_from_colouring",
    "exclude_clamped",
    "make_plan",
    "run_plan",
    "sample_plan",
    "run_sweeps",
    "sample_chunk",
    "plan_energy",
]

_U32_MAX = np.iinfo(np.uint32).max


# --------------------------------------------------------------------------
# Python-level helpers: graph construction, orders
# --------------------------------------------------------------------------


def csr_from_edges(n, edges, weights):
    """Symmetric CSR arrays of an undirected weighted graph.

    Parameters
    ----------
    n : int
        Number of sites.
    edges : array_like of int, shape (E, 2)
        Undirected edges ``(i, j)``, ``i != j``, each pair at most once (in
        either orientation).
    weights : float or array_like of float, shape (E,)
        Coupling ``w_ij`` of each edge (a scalar is broadcast).

    Returns
    -------
    indptr : ndarray of int64, shape (n + 1,)
    indices : ndarray of int32, shape (2E,)
        Neighbours of site ``i`` are ``indices[indptr[i]:indptr[i+1]]``, sorted.
    weights : ndarray of float64, shape (2E,)
        ``weights[e]`` is the coupling to ``indices[e]``.

    Raises
    ------
    ValueError
        On self-loops, duplicate edges, out-of-range sites or non-finite weights.

    Examples
    --------
    >>> indptr, indices, w = csr_from_edges(3, [(0, 1), (1, 2)], [0.5, -1.0])
    >>> indptr.tolist(), indices.tolist(), w.tolist()
    ([0, 1, 3, 4], [1, 0, 2, 1], [0.5, 0.5, -1.0, -1.0])
    """
    n = int(n)
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if n > _U32_MAX:
        raise ValueError(f"n must be < 2**32, got {n}")
    e = np.asarray(edges)
    if e.size == 0:
        e = np.zeros((0, 2), dtype=np.int64)
    if e.ndim != 2 or e.shape[1] != 2:
        raise ValueError(f"edges must have shape (E, 2), got {e.shape}")
    if not np.issubdtype(e.dtype, np.integer):
        raise ValueError(f"edges must be integers, got dtype {e.dtype}")
    e = e.astype(np.int64)
    w = np.broadcast_to(np.asarray(weights, dtype=np.float64), (e.shape[0],))
    if e.size and (e.min() < 0 or e.max() >= n):
        raise ValueError(f"edge endpoints must lie in [0, {n}), got range "
                         f"[{e.min()}, {e.max()}]")
    if np.any(e[:, 0] == e[:, 1]):
        k = int(np.flatnonzero(e[:, 0] == e[:, 1])[0])
        raise ValueError(f"self-loop at edge {k}: {tuple(e[k])}")
    if not np.all(np.isfinite(w)):
        raise ValueError("weights must be finite")
    lo, hi = np.minimum(e[:, 0], e[:, 1]), np.maximum(e[:, 0], e[:, 1])
    key = lo * n + hi
    if np.unique(key).size != key.size:
        raise ValueError("duplicate edges (each undirected pair must appear once)")
    rows = np.concatenate([e[:, 0], e[:, 1]])
    cols = np.concatenate([e[:, 1], e[:, 0]])
    ww = np.concatenate([w, w])
    perm = np.lexsort((cols, rows))
    rows, cols, ww = rows[perm], cols[perm], ww[perm]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    return indptr, cols.astype(np.int32), np.ascontiguousarray(ww, dtype=np.float64)


def detect_uniform_couplings(weights, field):
    """Whether the fast table path applies: all ``|w_ij| == J`` and ``h_i == h``.

    Parameters
    ----------
    weights : array_like of float
        CSR coupling values (any order).
    field : float or array_like of float
        Per-site field (or one scalar).

    Returns
    -------
    is_fast : bool
    J : float
        The common ``|w|`` (``0.0`` when there are no couplings).
    h : float
        The common field (``0.0`` when there are no sites).  ``J`` and ``h``
        are meaningful only when ``is_fast``.

    Examples
    --------
    >>> detect_uniform_couplings([1.0, -1.0, 1.0], [0.2, 0.2])
    (True, 1.0, 0.2)
    >>> detect_uniform_couplings([1.0, 0.5], 0.0)[0]
    False
    """
    w = np.asarray(weights, dtype=np.float64).ravel()
    f = np.asarray(field, dtype=np.float64).ravel()
    J = float(abs(w[0])) if w.size else 0.0
    h = float(f[0]) if f.size else 0.0
    fast = bool(np.all(np.abs(w) == J) and np.all(f == h))
    return fast, J, h


def lattice_edges(L, periodic=True):
    """Edges of the ``L x L`` square lattice, site ``(r, c) -> r * L + c``.

    Examples
    --------
    >>> lattice_edges(3).shape
    (18, 2)
    """
    L = int(L)
    idx = np.arange(L * L, dtype=np.int64).reshape(L, L)
    if periodic:
        if L < 3:
            raise ValueError("periodic lattice needs L >= 3 (no double edges)")
        right = np.stack([idx.ravel(), np.roll(idx, -1, axis=1).ravel()], axis=1)
        down = np.stack([idx.ravel(), np.roll(idx, -1, axis=0).ravel()], axis=1)
    else:
        right = np.stack([idx[:, :-1].ravel(), idx[:, 1:].ravel()], axis=1)
        down = np.stack([idx[:-1, :].ravel(), idx[1:, :].ravel()], axis=1)
    return np.concatenate([right, down])


def checkerboard_order(L):
    """Two-colour block order of an ``L x L`` lattice (``L`` even if periodic).

    Black sites (``(r + c)`` even) first, then white sites.

    Examples
    --------
    >>> checkerboard_order(2).tolist()
    [0, 3, 1, 2]
    """
    L = int(L)
    r, c = np.divmod(np.arange(L * L, dtype=np.int64), L)
    colour = (r + c) % 2
    return order_from_colouring(colour)


def order_from_colouring(colours):
    """Block-Gibbs sweep order from a colouring: colour classes one after another.

    Parameters
    ----------
    colours : dict {site: colour} or array_like of int, shape (n,)
        e.g. ``networkx.greedy_color(G, strategy="smallest_last")``.  Adjacent
        sites must have different colours (not checked here; the kernel result
        is the same either way, only the block interpretation needs it).

    Returns
    -------
    ndarray of int64
        Sites sorted by colour (stable, so by site index within a colour).

    Examples
    --------
    >>> order_from_colouring({0: 1, 1: 0, 2: 1}).tolist()
    [1, 0, 2]
    """
    if isinstance(colours, dict):
        n = len(colours)
        col = np.empty(n, dtype=np.int64)
        for k, v in colours.items():
            col[int(k)] = v
    else:
        col = np.asarray(colours, dtype=np.int64)
    return np.argsort(col, kind="stable").astype(np.int64)


def exclude_clamped(order, clamped):
    """Drop clamped (evidence) sites from a sweep order.

    Parameters
    ----------
    order : array_like of int
        Sweep order over all sites.
    clamped : array_like of bool or int8, shape (n,)
        Nonzero where the site is observed (its spin stays as set in ``spins``).

    Examples
    --------
    >>> exclude_clamped([0, 2, 1, 3], [False, True, False, False]).tolist()
    [0, 2, 3]
    """
    order = np.asarray(order, dtype=np.int64)
    mask = np.asarray(clamped).astype(bool)
    return order[~mask[order]]


# --------------------------------------------------------------------------
# The plan: CSR re-laid out in sweep order
# --------------------------------------------------------------------------


class SpinPlan(NamedTuple):
    """Compiled, sweep-ordered arrays of a spin model (see module docstring).

    Attributes
    ----------
    n : int
        Number of sites.
    n_free : int
        Number of updated sites (``len(order)``).
    sites : uint32 (n,)
        ``sites[:n_free]`` is the sweep order, then the clamped sites.
    ptr : uint64 (n + 1,)
        Row pointers of the sweep-ordered CSR.
    nbr : uint32 (nnz,)
        Neighbour site indices.
    signs : int8 (nnz,)
        ``sign(w)`` (fast path; empty otherwise).
    weights : float64 (nnz,)
        Couplings (general path; empty otherwise).
    field : float64 (n,)
        ``field[sites[k]]`` (general path; empty otherwise).
    is_fast : bool
    J, h : float
        Fast-path coupling magnitude and uniform field.
    max_degree : int
    """

    n: int
    n_free: int
    sites: np.ndarray
    ptr: np.ndarray
    nbr: np.ndarray
    signs: np.ndarray
    weights: np.ndarray
    field: np.ndarray
    is_fast: bool
    J: float
    h: float
    max_degree: int


def make_plan(indptr, indices, weights, field, order, fast=None, check_symmetric=True):
    """Validate a symmetric CSR spin model and lay it out in sweep order.

    Parameters
    ----------
    indptr : array_like of int, shape (n + 1,)
    indices : array_like of int, shape (nnz,)
        Converted to ``int32``-range-checked ``uint32``.
    weights : array_like of float, shape (nnz,)
        Symmetric couplings, zero diagonal.
    field : float or array_like of float, shape (n,)
    order : array_like of int
        Sweep order: distinct sites; sites not in it are clamped.
    fast : bool or None
        ``None`` picks the table path when :func:`detect_uniform_couplings`
        allows it; ``False`` forces the general path; ``True`` requires the
        table path (``ValueError`` if it does not apply).
    check_symmetric : bool
        Check ``w_ij == w_ji`` and no self-loops (O(nnz log nnz)).

    Returns
    -------
    SpinPlan

    Examples
    --------
    >>> indptr, indices, w = csr_from_edges(3, [(0, 1), (1, 2)], [1.0, -1.0])
    >>> p = make_plan(indptr, indices, w, 0.1, [0, 1, 2])
    >>> p.is_fast, p.J, p.h, p.max_degree
    (True, 1.0, 0.1, 2)
    """
    indptr = np.asarray(indptr)
    indices = np.asarray(indices)
    if indptr.ndim != 1 or indptr.size < 1 or not np.issubdtype(indptr.dtype, np.integer):
        raise ValueError("indptr must be a 1-D integer array of length n + 1")
    indptr = indptr.astype(np.int64)
    n = indptr.size - 1
    if n > _U32_MAX:
        raise ValueError(f"at most 2**32 - 1 sites are supported, got {n}")
    if indptr[0] != 0 or np.any(np.diff(indptr) < 0):
        raise ValueError("indptr must start at 0 and be non-decreasing")
    nnz = int(indptr[-1])
    if indices.ndim != 1 or indices.size != nnz or not np.issubdtype(indices.dtype, np.integer):
        raise ValueError(f"indices must be a 1-D integer array of length indptr[-1] = {nnz}")
    if nnz and (indices.min() < 0 or indices.max() >= n):
        raise ValueError(f"indices must lie in [0, {n})")
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (nnz,):
        raise ValueError(f"weights must have shape ({nnz},), got {w.shape}")
    if not np.all(np.isfinite(w)):
        raise ValueError("weights must be finite")
    f = np.asarray(field, dtype=np.float64)
    if f.ndim == 0:
        f = np.full(n, float(f))
    if f.shape != (n,):
        raise ValueError(f"field must be a scalar or have shape ({n},), got {f.shape}")
    if not np.all(np.isfinite(f)):
        raise ValueError("field must be finite")
    if check_symmetric and nnz:
        rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
        cols = indices.astype(np.int64)
        if np.any(rows == cols):
            raise ValueError("self-couplings (diagonal entries) are not allowed")
        fwd = np.lexsort((cols, rows))
        bwd = np.lexsort((rows, cols))
        if not (np.array_equal(rows[fwd], cols[bwd]) and np.array_equal(cols[fwd], rows[bwd])
                and np.array_equal(w[fwd], w[bwd])):
            raise ValueError("couplings must be symmetric: w_ij == w_ji for every stored pair")
    o = np.asarray(order)
    if o.ndim != 1 or (o.size and not np.issubdtype(o.dtype, np.integer)):
        raise ValueError("order must be a 1-D integer array")
    o = o.astype(np.int64)
    if o.size and (o.min() < 0 or o.max() >= n):
        raise ValueError(f"order entries must lie in [0, {n})")
    seen = np.zeros(n, dtype=bool)
    seen[o] = True
    if int(seen.sum()) != o.size:
        raise ValueError("order must not repeat a site")
    sites = np.concatenate([o, np.flatnonzero(~seen)]).astype(np.int64)

    is_fast, J, h = detect_uniform_couplings(w, f)
    if fast is True and not is_fast:
        raise ValueError("fast=True needs all |w| equal and a uniform field")
    if fast is False:
        is_fast = False

    deg = np.diff(indptr)[sites]
    ptr = np.zeros(n + 1, dtype=np.uint64)
    np.cumsum(deg, out=ptr[1:])
    if nnz:
        starts = indptr[sites]
        sel = np.repeat(starts - ptr[:-1].astype(np.int64), deg) + np.arange(nnz, dtype=np.int64)
    else:
        sel = np.zeros(0, dtype=np.int64)
    nbr = np.ascontiguousarray(indices[sel].astype(np.uint32))
    ws = w[sel]
    empty_f = np.zeros(0, dtype=np.float64)
    if is_fast:
        signs = np.where(ws < 0, -1, 1).astype(np.int8)
        wts, fld = empty_f, empty_f
    else:
        signs = np.zeros(0, dtype=np.int8)
        wts, fld = np.ascontiguousarray(ws), np.ascontiguousarray(f[sites])
    return SpinPlan(n=n, n_free=int(o.size), sites=sites.astype(np.uint32), ptr=ptr,
                    nbr=nbr, signs=signs, weights=wts, field=fld, is_fast=bool(is_fast),
                    J=float(J), h=float(h), max_degree=int(deg.max()) if n else 0)


def _check_state(plan, spins, rng_state):
    if not isinstance(spins, np.ndarray) or spins.dtype != np.int8 or spins.ndim != 2 \
            or not spins.flags.c_contiguous or not spins.flags.writeable:
        raise TypeError("spins must be a writeable C-contiguous int8 array of shape "
                        "(chains, n) (it is updated in place)")
    if spins.shape[1] != plan.n:
        raise ValueError(f"spins has {spins.shape[1]} sites, the model has {plan.n}")
    if not isinstance(rng_state, np.ndarray) or rng_state.dtype != np.uint64 \
            or rng_state.shape != (spins.shape[0], 4) or not rng_state.flags.c_contiguous \
            or not rng_state.flags.writeable:
        raise TypeError(f"rng_state must be a writeable C-contiguous uint64 array of shape "
                        f"({spins.shape[0]}, 4) (see samplers._rng.make_rng_state)")
    if spins.size and not np.all(np.abs(spins) == 1):
        raise ValueError("spins must be -1 or +1")


def _betas(beta, chains):
    b = np.asarray(beta, dtype=np.float64)
    if b.ndim == 0:
        b = np.full(chains, float(b))
    if b.shape != (chains,):
        raise ValueError(f"beta must be a scalar or have shape ({chains},), got {b.shape}")
    if not np.all(np.isfinite(b)):
        raise ValueError("beta must be finite")
    return np.ascontiguousarray(b)


def run_plan(plan, spins, rng_state, beta, n_sweeps, random_scan=False):
    """Advance ``spins`` and ``rng_state`` in place by ``n_sweeps`` sweeps.

    Parameters
    ----------
    plan : SpinPlan
    spins : int8 ndarray, shape (chains, n), C-contiguous, values ±1
    rng_state : uint64 ndarray, shape (chains, 4)
    beta : float or float ndarray of shape (chains,)
    n_sweeps : int
    random_scan : bool
        ``False``: visit ``order`` in sequence; ``True``: ``len(order)`` updates
        per sweep at uniformly drawn sites of ``order``.

    Examples
    --------
    >>> import numpy as np
    >>> from samplers._rng import make_rng_state
    >>> ip, ix, w = csr_from_edges(4, [(0, 1), (1, 2), (2, 3), (3, 0)], 1.0)
    >>> plan = make_plan(ip, ix, w, 0.0, [0, 2, 1, 3])
    >>> s = np.ones((2, 4), np.int8); st = make_rng_state(1, 2)
    >>> run_plan(plan, s, st, 0.5, 3)
    >>> s.shape
    (2, 4)
    """
    _check_state(plan, spins, rng_state)
    n_sweeps = int(n_sweeps)
    if n_sweeps < 0:
        raise ValueError(f"n_sweeps must be >= 0, got {n_sweeps}")
    betas = _betas(beta, spins.shape[0])
    if plan.is_fast:
        _sweeps_fast(spins, rng_state, plan.sites, plan.ptr, plan.nbr, plan.signs,
                     plan.n_free, plan.J, plan.h, plan.max_degree, betas, n_sweeps,
                     bool(random_scan))
    else:
        _sweeps_general(spins, rng_state, plan.sites, plan.ptr, plan.nbr, plan.weights,
                        plan.field, plan.n_free, betas, n_sweeps, bool(random_scan))


def sample_plan(plan, spins, rng_state, beta, n_draws, thin=1, random_scan=False,
                record_states=False, out_states=None, out_energy=None, out_mag=None):
    """Run ``n_draws * thin`` sweeps, recording observables every ``thin`` sweeps.

    Draw ``d`` is taken after ``(d + 1) * thin`` sweeps.  ``spins`` and
    ``rng_state`` are advanced in place, so consecutive chunks continue the
    same chains and streams exactly.

    Parameters
    ----------
    plan, spins, rng_state, beta, random_scan
        As in :func:`run_plan`.
    n_draws, thin : int
    record_states : bool
        Also store whole states in ``out_states``.
    out_states : int8 ndarray (chains, n_draws, n), optional
    out_energy, out_mag : float64 ndarray (chains, n_draws), optional
        Pre-allocated outputs (allocated when ``None``).  ``out_energy`` is the
        potential energy ``E(s)`` (beta-free); ``out_mag`` the mean spin over all
        ``n`` sites (clamped ones included).

    Returns
    -------
    states : ndarray or None
    energy, mag : ndarray

    Examples
    --------
    >>> import numpy as np
    >>> from samplers._rng import make_rng_state
    >>> ip, ix, w = csr_from_edges(3, [(0, 1), (1, 2)], [0.3, -0.7])
    >>> plan = make_plan(ip, ix, w, [0.1, 0.0, -0.2], [0, 1, 2])
    >>> s = np.ones((2, 3), np.int8); st = make_rng_state(5, 2)
    >>> x, e, m = sample_plan(plan, s, st, 1.0, n_draws=4, record_states=True)
    >>> x.shape, e.shape
    ((2, 4, 3), (2, 4))
    """
    _check_state(plan, spins, rng_state)
    chains = spins.shape[0]
    n_draws, thin = int(n_draws), int(thin)
    if n_draws < 0 or thin < 1:
        raise ValueError(f"need n_draws >= 0 and thin >= 1, got {n_draws}, {thin}")
    betas = _betas(beta, chains)

    def _out(arr, shape, dtype, name):
        if arr is None:
            return np.empty(shape, dtype=dtype)
        if not isinstance(arr, np.ndarray) or arr.dtype != dtype or arr.shape != shape \
                or not arr.flags.c_contiguous or not arr.flags.writeable:
            raise TypeError(f"{name} must be a writeable C-contiguous {np.dtype(dtype).name} "
                            f"array of shape {shape}")
        return arr

    if record_states:
        states = _out(out_states, (chains, n_draws, plan.n), np.int8, "out_states")
    else:
        states = np.empty((chains, 0, plan.n), dtype=np.int8)
    energy = _out(out_energy, (chains, n_draws), np.float64, "out_energy")
    mag = _out(out_mag, (chains, n_draws), np.float64, "out_mag")
    if plan.is_fast:
        _chunk_fast(spins, rng_state, plan.sites, plan.ptr, plan.nbr, plan.signs,
                    plan.n_free, plan.J, plan.h, plan.max_degree, betas, n_draws, thin,
                    bool(random_scan), bool(record_states), states, energy, mag)
    else:
        _chunk_general(spins, rng_state, plan.sites, plan.ptr, plan.nbr, plan.weights,
                       plan.field, plan.n_free, betas, n_draws, thin, bool(random_scan),
                       bool(record_states), states, energy, mag)
    return (states if record_states else None), energy, mag


def run_sweeps(spins, rng_state, indptr, indices, weights, field, beta, order, n_sweeps,
               random_scan=False, fast=None):
    """One-call form of :func:`make_plan` + :func:`run_plan` (in place).

    The fast table path is chosen automatically when all ``|w| == J`` and the
    field is uniform.  For repeated short calls build the plan once instead.

    Examples
    --------
    >>> import numpy as np
    >>> from samplers._rng import make_rng_state
    >>> ip, ix, w = csr_from_edges(3, [(0, 1), (1, 2)], [1.0, 1.0])
    >>> s = np.ones((2, 3), np.int8); st = make_rng_state(0, 2)
    >>> run_sweeps(s, st, ip, ix, w, 0.0, 0.3, [0, 2, 1], 5)
    """
    plan = make_plan(indptr, indices, weights, field, order, fast=fast)
    run_plan(plan, spins, rng_state, beta, n_sweeps, random_scan)


def sample_chunk(spins, rng_state, indptr, indices, weights, field, beta, order, n_draws,
                 thin=1, random_scan=False, record_states=False, out_states=None,
                 out_energy=None, out_mag=None, fast=None):
    """One-call form of :func:`make_plan` + :func:`sample_plan`.

    Examples
    --------
    >>> import numpy as np
    >>> from samplers._rng import make_rng_state
    >>> ip, ix, w = csr_from_edges(3, [(0, 1), (1, 2)], [1.0, 1.0])
    >>> s = np.ones((2, 3), np.int8); st = make_rng_state(0, 2)
    >>> _, e, m = sample_chunk(s, st, ip, ix, w, 0.0, 0.3, [0, 2, 1], n_draws=3)
    >>> e.shape
    (2, 3)
    """
    plan = make_plan(indptr, indices, weights, field, order, fast=fast)
    return sample_plan(plan, spins, rng_state, beta, n_draws, thin, random_scan,
                       record_states, out_states, out_energy, out_mag)


def plan_energy(plan, spins):
    """Energies ``E(s)`` (shape ``(chains,)``) of the states in ``spins``.

    Examples
    --------
    >>> import numpy as np
    >>> ip, ix, w = csr_from_edges(2, [(0, 1)], [2.0])
    >>> plan = make_plan(ip, ix, w, [0.5, 0.0], [0, 1])
    >>> plan_energy(plan, np.array([[1, 1], [1, -1]], np.int8)).tolist()
    [-2.5, 1.5]
    """
    s = np.ascontiguousarray(spins, dtype=np.int8)
    if s.ndim != 2 or s.shape[1] != plan.n:
        raise ValueError(f"spins must have shape (chains, {plan.n})")
    out = np.empty(s.shape[0], dtype=np.float64)
    for c in range(s.shape[0]):
        if plan.is_fast:
            out[c] = _energy_fast(s[c], plan.sites, plan.ptr, plan.nbr, plan.signs,
                                  plan.J, plan.h)
        else:
            out[c] = _energy_general(s[c], plan.sites, plan.ptr, plan.nbr, plan.weights,
                                     plan.field)
    return out


# --------------------------------------------------------------------------
# Compiled kernels
# --------------------------------------------------------------------------
# Conventions: ``s`` is one chain's int8 row; (s0, s1, s2, s3) its xoshiro
# state in locals; the plan arrays are unsigned so that indexing needs no
# negative-index wrap-around.  Per-chain helpers are plain njit functions
# called (not passed) from the parallel kernels.


@numba.njit(cache=True)
def _prob_table(J, h, beta, D):
    """``p(+1 | m) = 1 / (1 + exp(-2 beta (J m + h)))`` for ``m = -D..D``."""
    tab = np.empty(2 * D + 1, dtype=np.float64)
    for t in range(2 * D + 1):
        x = J * (t - D) + h
        tab[t] = 1.0 / (1.0 + np.exp(-2.0 * beta * x))
    return tab


@numba.njit(cache=True)
def _chain_fast(s, s0, s1, s2, s3, sites, ptr, nbr, signs, m, tab, D, n_sweeps,
                random_scan):
    if m == 0:
        return s0, s1, s2, s3
    one = uint64(1)
    sh = uint64(11)
    if not random_scan:
        for _ in range(n_sweeps):
            e0 = ptr[0]
            for k in range(m):
                e1 = ptr[k + 1]
                acc = D
                e = e0
                while e < e1:
                    acc += signs[e] * s[nbr[e]]
                    e += one
                e0 = e1
                r, _u, s0, s1, s2, s3 = xoshiro_step(s0, s1, s2, s3)
                u = np.float64(r >> sh) * TWO_POW_M53
                s[sites[k]] = 1 if u < tab[uint64(acc)] else -1
    else:
        for _ in range(n_sweeps):
            for _t in range(m):
                ok = False
                j = 0
                while not ok:
                    _p, x, s0, s1, s2, s3 = xoshiro_step(s0, s1, s2, s3)
                    j, ok = uniform_index(x, m)
                e = ptr[j]
                e1 = ptr[j + 1]
                acc = D
                while e < e1:
                    acc += signs[e] * s[nbr[e]]
                    e += one
                r, _u, s0, s1, s2, s3 = xoshiro_step(s0, s1, s2, s3)
                u = np.float64(r >> sh) * TWO_POW_M53
                s[sites[j]] = 1 if u < tab[uint64(acc)] else -1
    return s0, s1, s2, s3


@numba.njit(cache=True)
def _chain_general(s, s0, s1, s2, s3, sites, ptr, nbr, w, field, m, beta, n_sweeps,
                   random_scan):
    if m == 0:
        return s0, s1, s2, s3
    one = uint64(1)
    sh = uint64(11)
    tb = -2.0 * beta
    if not random_scan:
        for _ in range(n_sweeps):
            e0 = ptr[0]
            for k in range(m):
                e1 = ptr[k + 1]
                acc = 0.0
                e = e0
                while e < e1:
                    acc += w[e] * s[nbr[e]]
                    e += one
                e0 = e1
                p = 1.0 / (1.0 + np.exp(tb * (acc + field[k])))
                r, _u, s0, s1, s2, s3 = xoshiro_step(s0, s1, s2, s3)
                u = np.float64(r >> sh) * TWO_POW_M53
                s[sites[k]] = 1 if u < p else -1
    else:
        for _ in range(n_sweeps):
            for _t in range(m):
                ok = False
                j = 0
                while not ok:
                    _p, x, s0, s1, s2, s3 = xoshiro_step(s0, s1, s2, s3)
                    j, ok = uniform_index(x, m)
                e = ptr[j]
                e1 = ptr[j + 1]
                acc = 0.0
                while e < e1:
                    acc += w[e] * s[nbr[e]]
                    e += one
                p = 1.0 / (1.0 + np.exp(tb * (acc + field[j])))
                r, _u, s0, s1, s2, s3 = xoshiro_step(s0, s1, s2, s3)
                u = np.float64(r >> sh) * TWO_POW_M53
                s[sites[j]] = 1 if u < p else -1
    return s0, s1, s2, s3


@numba.njit(cache=True)
def _energy_fast(s, sites, ptr, nbr, signs, J, h):
    n = sites.shape[0]
    one = uint64(1)
    pair = 0
    tot = 0
    for k in range(n):
        si = np.int64(s[sites[k]])
        acc = 0
        e = ptr[k]
        e1 = ptr[k + 1]
        while e < e1:
            acc += signs[e] * s[nbr[e]]
            e += one
        pair += si * acc
        tot += si
    return -0.5 * J * pair - h * tot


@numba.njit(cache=True)
def _energy_general(s, sites, ptr, nbr, w, field):
    n = sites.shape[0]
    one = uint64(1)
    pair = 0.0
    lin = 0.0
    for k in range(n):
        si = np.float64(s[sites[k]])
        acc = 0.0
        e = ptr[k]
        e1 = ptr[k + 1]
        while e < e1:
            acc += w[e] * s[nbr[e]]
            e += one
        pair += si * acc
        lin += field[k] * si
    return -0.5 * pair - lin


@numba.njit(cache=True)
def _mean_spin(s):
    tot = 0
    for i in range(s.shape[0]):
        tot += s[i]
    return tot / s.shape[0] if s.shape[0] else 0.0


@numba.njit(parallel=True, cache=True)
def _sweeps_fast(spins, rng, sites, ptr, nbr, signs, m, J, h, D, betas, n_sweeps,
                 random_scan):
    chains = spins.shape[0]
    for c in prange(chains):
        tab = _prob_table(J, h, betas[c], D)
        s0, s1, s2, s3 = _chain_fast(spins[c], rng[c, 0], rng[c, 1], rng[c, 2], rng[c, 3],
                                     sites, ptr, nbr, signs, m, tab, D, n_sweeps,
                                     random_scan)
        rng[c, 0] = s0
        rng[c, 1] = s1
        rng[c, 2] = s2
        rng[c, 3] = s3


@numba.njit(parallel=True, cache=True)
def _sweeps_general(spins, rng, sites, ptr, nbr, w, field, m, betas, n_sweeps,
                    random_scan):
    chains = spins.shape[0]
    for c in prange(chains):
        s0, s1, s2, s3 = _chain_general(spins[c], rng[c, 0], rng[c, 1], rng[c, 2],
                                        rng[c, 3], sites, ptr, nbr, w, field, m, betas[c],
                                        n_sweeps, random_scan)
        rng[c, 0] = s0
        rng[c, 1] = s1
        rng[c, 2] = s2
        rng[c, 3] = s3


@numba.njit(parallel=True, cache=True)
def _chunk_fast(spins, rng, sites, ptr, nbr, signs, m, J, h, D, betas, n_draws, thin,
                random_scan, record_states, out_states, out_energy, out_mag):
    chains = spins.shape[0]
    for c in prange(chains):
        tab = _prob_table(J, h, betas[c], D)
        s = spins[c]
        s0, s1, s2, s3 = rng[c, 0], rng[c, 1], rng[c, 2], rng[c, 3]
        for d in range(n_draws):
            s0, s1, s2, s3 = _chain_fast(s, s0, s1, s2, s3, sites, ptr, nbr, signs, m, tab,
                                         D, thin, random_scan)
            out_energy[c, d] = _energy_fast(s, sites, ptr, nbr, signs, J, h)
            out_mag[c, d] = _mean_spin(s)
            if record_states:
                out_states[c, d, :] = s
        rng[c, 0] = s0
        rng[c, 1] = s1
        rng[c, 2] = s2
        rng[c, 3] = s3


@numba.njit(parallel=True, cache=True)
def _chunk_general(spins, rng, sites, ptr, nbr, w, field, m, betas, n_draws, thin,
                   random_scan, record_states, out_states, out_energy, out_mag):
    chains = spins.shape[0]
    for c in prange(chains):
        s = spins[c]
        s0, s1, s2, s3 = rng[c, 0], rng[c, 1], rng[c, 2], rng[c, 3]
        for d in range(n_draws):
            s0, s1, s2, s3 = _chain_general(s, s0, s1, s2, s3, sites, ptr, nbr, w, field, m,
                                            betas[c], thin, random_scan)
            out_energy[c, d] = _energy_general(s, sites, ptr, nbr, w, field)
            out_mag[c, d] = _mean_spin(s)
            if record_states:
                out_states[c, d, :] = s
        rng[c, 0] = s0
        rng[c, 1] = s1
        rng[c, 2] = s2
        rng[c, 3] = s3
