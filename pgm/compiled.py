"""Flat array forms of models that compiled kernels read (ARCHITECTURE: "compiled forms").

* :class:`FactorArrays` — any discrete factor model: factor scopes as CSR with per-variable
  strides into one concatenated array of log-tables, and the variable→factor incidence as CSR.
  A Gibbs update of variable ``i`` touches only its own factors: O(Σ sizes touched), no padding.
* :class:`SpinArrays` — pairwise ±1 spin models (Ising, Boltzmann machines in spin form):
  symmetric CSR couplings and per-site fields, ``E(s) = −Σ_{i<j} w_ij s_i s_j − Σ_i h_i s_i``.

Only numpy here: ``pgm`` does not depend on the samplers.
"""

from typing import NamedTuple

import numpy as np

__all__ = ["FactorArrays", "SpinArrays", "compile_factors", "spin_csr"]


class FactorArrays(NamedTuple):
    """Compiled discrete factor model (all arrays C-contiguous, fixed dtypes).

    Attributes
    ----------
    cards : int64 (n,)
    f_offset : int64 (F,)       start of each factor's table in ``tables``
    f_ptr : int64 (F + 1,)      CSR pointers into ``f_var`` / ``f_stride``
    f_var : int64 (nnz,)        scope variables (column indices)
    f_stride : int64 (nnz,)     stride of each scope variable in its factor's flat table
    v_ptr : int64 (n + 1,)      CSR pointers of the variable→factor incidence
    v_factor : int64 (nnz,)     factors touching each variable
    v_stride : int64 (nnz,)     stride of the variable inside that factor
    tables : float64            concatenated log-tables (``-inf`` for zeros), C order
    """

    cards: np.ndarray
    f_offset: np.ndarray
    f_ptr: np.ndarray
    f_var: np.ndarray
    f_stride: np.ndarray
    v_ptr: np.ndarray
    v_factor: np.ndarray
    v_stride: np.ndarray
    tables: np.ndarray


class SpinArrays(NamedTuple):
    """Compiled pairwise spin model: symmetric CSR couplings and fields (``β`` kept apart)."""

    indptr: np.ndarray   # int64 (n + 1,)
    indices: np.ndarray  # int64 (nnz,)
    weights: np.ndarray  # float64 (nnz,)
    field: np.ndarray    # float64 (n,)


def compile_factors(variables, cardinalities, factors):
    """Build :class:`FactorArrays` from variables, ``{var: k}`` and ``DiscreteFactor`` objects."""
    index = {v: i for i, v in enumerate(variables)}
    n = len(variables)
    cards = np.array([cardinalities[v] for v in variables], dtype=np.int64)
    f_offset, f_ptr, f_var, f_stride, tables = [], [0], [], [], []
    incid = [[] for _ in range(n)]
    off = 0
    for fi, f in enumerate(factors):
        shape = f.cardinalities
        strides = np.ones(len(shape), dtype=np.int64)
        for j in range(len(shape) - 2, -1, -1):
            strides[j] = strides[j + 1] * shape[j + 1]
        f_offset.append(off)
        for v, st in zip(f.scope, strides):
            f_var.append(index[v])
            f_stride.append(int(st))
            incid[index[v]].append((fi, int(st)))
        f_ptr.append(len(f_var))
        flat = np.ascontiguousarray(f.log_table, dtype=np.float64).reshape(-1)
        tables.append(flat)
        off += flat.size
    v_ptr = np.zeros(n + 1, dtype=np.int64)
    v_ptr[1:] = np.cumsum([len(x) for x in incid])
    v_factor = np.array([fi for x in incid for fi, _ in x], dtype=np.int64)
    v_stride = np.array([st for x in incid for _, st in x], dtype=np.int64)
    return FactorArrays(
        cards=cards,
        f_offset=np.array(f_offset, dtype=np.int64),
        f_ptr=np.array(f_ptr, dtype=np.int64),
        f_var=np.array(f_var, dtype=np.int64),
        f_stride=np.array(f_stride, dtype=np.int64),
        v_ptr=v_ptr,
        v_factor=v_factor,
        v_stride=v_stride,
        tables=np.concatenate(tables) if tables else np.zeros(0),
    )


def spin_csr(n, rows, cols, weights, field):
    """Symmetric CSR from undirected edge lists ``(rows[k], cols[k], weights[k])``."""
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    w = np.asarray(weights, dtype=np.float64)
    r = np.concatenate([rows, cols])
    c = np.concatenate([cols, rows])
    ww = np.concatenate([w, w])
    order = np.lexsort((c, r))
    r, c, ww = r[order], c[order], ww[order]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.add.at(indptr, r + 1, 1)
    np.cumsum(indptr, out=indptr)
    return SpinArrays(indptr, c, ww, np.ascontiguousarray(field, dtype=np.float64))


def pairwise_binary_to_spin(variables, cardinalities, factors):
    """Exact spin form of a model whose factors are unary/pairwise over binary variables.

    With ``s = 2x − 1`` every log-table of arity ≤ 2 is ``c + h_i s_i + h_j s_j + J s_i s_j``;
    the sums give ``log p̃(x) = Σ J s_i s_j + Σ h_i s_i + C``.  Returns ``(SpinArrays, C)``, or
    ``None`` when some factor has arity > 2, a variable is not binary, or a table has zeros
    (``−inf`` logs cannot be written as finite couplings).
    """
    index = {v: i for i, v in enumerate(variables)}
    n = len(variables)
    if any(cardinalities[v] != 2 for v in variables):
        return None
    field = np.zeros(n)
    pairs = {}
    const = 0.0
    for f in factors:
        t = f.log_table
        if len(f.scope) > 2 or not np.all(np.isfinite(t)):
            return None
        if len(f.scope) == 0:
            const += float(t)
        elif len(f.scope) == 1:
            i = index[f.scope[0]]
            field[i] += (t[1] - t[0]) / 2
            const += (t[0] + t[1]) / 2
        else:
            i, j = index[f.scope[0]], index[f.scope[1]]
            field[i] += (t[1, 0] + t[1, 1] - t[0, 0] - t[0, 1]) / 4
            field[j] += (t[0, 1] + t[1, 1] - t[0, 0] - t[1, 0]) / 4
            const += t.sum() / 4
            key = (min(i, j), max(i, j))
            pairs[key] = pairs.get(key, 0.0) + (t[0, 0] + t[1, 1] - t[0, 1] - t[1, 0]) / 4
    rows = np.array([k[0] for k in pairs], dtype=np.int64)
    cols = np.array([k[1] for k in pairs], dtype=np.int64)
    weights = np.array(list(pairs.values()), dtype=np.float64)
    return spin_csr(n, rows, cols, weights, field), const
