"""Products of binary (0/1) matrices with dense float64 matrices, and Bernoulli draws that emit
the index lists those products need (private; used by the RBM PCD fast path,
``estimators/_rbm_pcd.py``).

Why: the products of a PCD update of a binary RBM are ``v W`` (data and negative visible
vectors, typically 10–30 % ones), ``h Wᵀ`` (hidden samples) and ``vᵀ q`` (gradient).  A 0/1 row
times a matrix is the sum of the matrix rows at the row's ones: with index lists instead of
dense 0/1 arrays it costs ``density × rows × n`` vector additions instead of ``rows × n``
multiply–adds.

Layout.  A dense operand is read in **tiles** of ``TILE = 32`` columns (four 8-double vectors)
from a packed array ``P[t, i, :]`` = columns ``32t … 32t+31`` of row ``i``, so the rows of one
tile are contiguous and every addend is four aligned vector loads.  The sums over a row's ones
are done in **blocks** of :data:`BLOCK` source rows (a ``BLOCK × TILE`` slab, 32 KiB, stays in
L1 while every output row visits it), which is why the row lists carry their block boundaries
(``pos[r, k]`` = number of ones of row ``r`` before source row ``k · BLOCK``).  Outputs are
tile-major, ``out[t, r, l]`` = column ``32t + l`` of output row ``r`` (columns past the true
width are padding).  ``h Wᵀ`` reads ``Wᵀ`` packed by :func:`pack_col_tiles`
(:func:`gather_tiles`); ``v W`` reads the tiles of ``W``'s rows in place (:func:`gather_rows`,
only the last, partial tile packed by :func:`pack_tail`) — packing ``W`` as well would cost
as much as it saves.  The gradient ``vᵀ q`` sums rows of a tile-major ``q`` over per-column
lists (:func:`gather_tiles_to_rows`, or :func:`gather_tiles_descend` fused with a plain
gradient step; :func:`gather_tiles_descend_checked` also checks the new weights are finite).

Alignment: the vector loads and stores are "aligned" only when the caller's arrays start on a
64-byte boundary (numpy's large arrays start 16 bytes past one, so every 64-byte access would
straddle two cache lines); ``estimators/_rbm_pcd.py`` allocates its work arrays so.

Exactness: plain float64 additions of the same terms as the dense product (summed in another
order, so results agree to rounding, ~1e-16 relative); no approximation.

:func:`_sum_rows` is an LLVM intrinsic: numba does not vectorise a short fixed-width
accumulation over an index list, so the loop is written in LLVM IR (four independent
accumulators per vector, combined pairwise at the end); LLVM lowers the 8-double vectors to
what the CPU has (one AVX-512 register, two AVX2 registers, ...).

Random draws (:func:`bernoulli_lists`) use each chain's xoshiro256 stream (:mod:`samplers.streams`),
one uniform per unit in unit order, and the comparison ``u · e^{−a} < 1 − u`` of
:func:`samplers._layered_kernels.bernoulli_block`.
"""

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from samplers.streams import TWO_POW_M53, xoshiro_step

__all__ = ["TILE", "BLOCK", "tiles", "blocks", "pack_col_tiles", "pack_tail",
           "index_lists", "gather_tiles", "gather_rows", "gather_tiles_to_rows",
           "gather_tiles_descend", "bernoulli_lists"]

_VW = 8                 # doubles per vector
_NV = 4                 # vectors per tile
_ACC = 4                # accumulators per vector (the _NV vectors are independent already)
TILE = _VW * _NV        # columns per tile
BLOCK = 128             # source rows per block (BLOCK × TILE doubles = 32 KiB)

_I64 = ir.IntType(64)
_VEC = ir.VectorType(ir.DoubleType(), _VW)


def tiles(n):
    """Number of tiles covering ``n`` columns."""
    return -(-int(n) // TILE)


def blocks(n):
    """Number of blocks covering ``n`` source rows."""
    return -(-int(n) // BLOCK)


def _data(context, builder, arrty, arr):
    return context.make_array(arrty)(context, builder, arr).data


def _vptr(builder, ptr, off):
    return builder.bitcast(builder.gep(ptr, [off]), _VEC.as_pointer())


def _const(v):
    return ir.Constant(_I64, v)


@intrinsic
def _sum_rows(typingctx, src, base, stride, idx, k0, k1, init, init_off, out, out_off):
    """``out[out_off : +TILE] = init[init_off : +TILE] + Σ_{k0 ≤ k < k1} src[base + stride·idx[k] : +TILE]``

    ``src``, ``init``, ``out``: 1-D contiguous float64 arrays (``init`` may be ``out``); ``idx``:
    1-D contiguous int32 array.  No bounds checks: the callers guarantee them."""
    sig = types.none(src, types.intp, types.intp, idx, types.intp, types.intp, init, types.intp,
                     out, types.intp)

    def codegen(context, builder, signature, args):
        srct, _, _, idxt, _, _, initt, _, outt, _ = signature.args
        src, base, stride, idx, k0, k1, init, init_off, out, out_off = args
        sp = _data(context, builder, srct, src)
        ip = _data(context, builder, idxt, idx)
        inp = _data(context, builder, initt, init)
        acc = [[cgutils.alloca_once(builder, _VEC) for _ in range(_NV)] for _ in range(_ACC)]
        for q in range(_NV):
            builder.store(builder.load(_vptr(builder, inp, builder.add(init_off, _const(q * _VW))), align=8),
                          acc[0][q])
            for u in range(1, _ACC):
                builder.store(ir.Constant(_VEC, [0.0] * _VW), acc[u][q])

        def add_row(u, k):
            i = builder.sext(builder.load(builder.gep(ip, [k])), _I64)
            off = builder.add(base, builder.mul(i, stride))
            for q in range(_NV):
                v = builder.load(_vptr(builder, sp, builder.add(off, _const(q * _VW))), align=8)
                builder.store(builder.fadd(builder.load(acc[u][q]), v), acc[u][q])

        groups = builder.udiv(builder.sub(k1, k0), _const(4))
        with cgutils.for_range(builder, groups) as loop:
            k = builder.add(k0, builder.mul(loop.index, _const(4)))
            for u in range(4):
                add_row(u % _ACC, builder.add(k, _const(u)))
        start = builder.add(k0, builder.mul(groups, _const(4)))
        with cgutils.for_range_slice(builder, start, k1, _const(1)) as (k, _):
            add_row(0, k)
        op = _data(context, builder, outt, out)
        for q in range(_NV):
            vals = [builder.load(acc[u][q]) for u in range(_ACC)]
            while len(vals) > 1:
                vals = [builder.fadd(vals[i], vals[i + 1]) for i in range(0, len(vals), 2)]
            builder.store(vals[0], _vptr(builder, op, builder.add(out_off, _const(q * _VW))), align=8)
        return context.get_dummy_value()

    return sig, codegen


# ---------------------------------------------------------------------------- packing
@numba.njit(cache=True, error_model="numpy")
def pack_col_tiles(W, out):
    """``out[t, j, l] = W[TILE·t + l, j]`` (0 past the last row): tiles of ``Wᵀ``;
    ``out`` (tiles(m), n, TILE)."""
    m, n = W.shape
    for t in range(out.shape[0]):
        o = out[t]
        i0 = TILE * t
        if i0 + TILE <= m:
            for j in range(n):          # contiguous stores; TILE row streams of loads
                oj = o[j]
                for ln in range(TILE):
                    oj[ln] = W[i0 + ln, j]
        else:
            for j in range(n):
                oj = o[j]
                for ln in range(TILE):
                    oj[ln] = W[i0 + ln, j] if i0 + ln < m else 0.0


# ---------------------------------------------------------------------------- index lists
@numba.njit(cache=True, error_model="numpy")
def _transpose_lists(rows_idx, rows_cnt, cols_idx, cols_cnt, value0):
    """Append ``value0 + r`` to the list of every column ``j`` of row ``r``'s list (rows in
    order, so each column's list stays increasing); ``cols_cnt[j]`` counts (and is advanced)."""
    for r in range(rows_idx.shape[0]):
        rr = rows_idx[r]
        v = value0 + r
        for q in range(rows_cnt[r]):
            j = rr[q]
            p = cols_cnt[j]
            cols_idx[j, p] = v
            cols_cnt[j] = p + 1


@numba.njit(cache=True, error_model="numpy")
def index_lists(x, rows_idx, rows_pos, cols_idx, cols_cnt):
    """Ones of a 0/1 matrix ``x`` (n, d).

    Per row ``r``: its columns ``rows_idx[r, :rows_pos[r, -1]]`` (increasing) with block
    boundaries ``rows_pos[r, k]`` = ones before column ``k · BLOCK``.  Per column ``i`` (when
    ``cols_idx`` has rows): its rows ``cols_idx[i, :cols_cnt[i]]``.  Returns the number of
    ones.  Branch-free (stores past a list's end are overwritten or ignored)."""
    n, d = x.shape
    nb = rows_pos.shape[1] - 1
    total = 0
    for r in range(n):
        xr = x[r]
        ir_ = rows_idx[r]
        pr = rows_pos[r]
        k = 0
        for b in range(nb):
            pr[b] = k
            for i in range(b * BLOCK, min(d, (b + 1) * BLOCK)):
                ir_[k] = i
                k += xr[i] != 0.0
        pr[nb] = k
        total += k
    if cols_idx.shape[0] > 0:
        cols_cnt[:] = 0
        _transpose_lists(rows_idx, rows_pos[:, nb], cols_idx, cols_cnt, 0)
    return total


# ---------------------------------------------------------------------------- products
@numba.njit(cache=True, error_model="numpy")
def gather_tiles(src, idx, pos, bias, out, row0):
    """``out[t, row0 + r, :] = bias[TILE·t : +TILE] + Σ_k src[t, idx[r, k], :]`` over the ones of
    row ``r`` (``k < pos[r, -1]``), block by block.

    With ``src`` = the tiles of ``W``'s rows and the lists of binary rows ``x`` this is
    ``x W + bias``; with :func:`pack_col_tiles` of ``W`` it is ``x Wᵀ + bias``.  ``bias`` has
    ``TILE · tiles`` entries (padding included); ``out`` is C-contiguous."""
    nt, ns, _ = src.shape
    n = idx.shape[0]
    rows = out.shape[1]
    nb = pos.shape[1] - 1
    flat = src.reshape(-1)
    of = out.reshape(-1)
    for t in range(nt):
        base = t * ns * TILE
        for b in range(nb):
            for r in range(n):
                o = (t * rows + row0 + r) * TILE
                if b == 0:
                    _sum_rows(flat, base, TILE, idx[r], pos[r, 0], pos[r, 1], bias, t * TILE, of, o)
                else:
                    _sum_rows(flat, base, TILE, idx[r], pos[r, b], pos[r, b + 1], of, o, of, o)


@numba.njit(cache=True, error_model="numpy")
def gather_rows(W, tail, idx, pos, bias, out, row0):
    """As :func:`gather_tiles` with ``src`` = the tiles of ``W``'s rows, reading the full tiles from
    ``W`` (m, n) itself (C-contiguous; unaligned vector loads) and the last, partial tile from
    ``tail`` (m, TILE) = its columns, zero-padded.

    Blocks outside, tiles inside: the ``BLOCK`` rows of ``W`` of a block (contiguous, 0.5 MB for
    500 columns) stay in L2 while all its tiles are summed, so ``W`` is read from memory once
    (tiles outside would stream all of ``W`` once per tile)."""
    m, ncol = W.shape
    nt = out.shape[0]
    full = ncol // TILE
    n = idx.shape[0]
    rows = out.shape[1]
    nb = pos.shape[1] - 1
    flat = W.reshape(-1)
    tflat = tail.reshape(-1)
    of = out.reshape(-1)
    for b in range(nb):
        for t in range(nt):
            for r in range(n):
                o = (t * rows + row0 + r) * TILE
                init = of
                init_off = o
                if b == 0:
                    init = bias
                    init_off = t * TILE
                if t < full:
                    _sum_rows(flat, t * TILE, ncol, idx[r], pos[r, b], pos[r, b + 1], init, init_off, of, o)
                else:
                    _sum_rows(tflat, 0, TILE, idx[r], pos[r, b], pos[r, b + 1], init, init_off, of, o)


@numba.njit(cache=True, error_model="numpy")
def pack_tail(W, tail):
    """``tail[i, l] = W[i, TILE·(n // TILE) + l]`` (0 past the last column)."""
    m, n = W.shape
    j0 = (n // TILE) * TILE
    for i in range(m):
        for ln in range(TILE):
            j = j0 + ln
            tail[i, ln] = W[i, j] if j < n else 0.0


@numba.njit(cache=True, error_model="numpy")
def gather_tiles_to_rows(src, idx, k0, k1, out, accumulate):
    """``out[i, TILE·t : +TILE] (+)= Σ_{k0[i] ≤ k < k1[i]} src[t, idx[i, k], :]``: row-major output
    (``out`` (d, TILE · tiles), C-contiguous, padding columns included).  With ``idx`` the
    per-column lists of a binary matrix ``x`` (n, d) and ``src`` tile-major rows ``q``, this is
    ``xᵀ q``.  ``accumulate``: add to ``out`` instead of overwriting it."""
    nt, ns, _ = src.shape
    d = idx.shape[0]
    width = out.shape[1]
    flat = src.reshape(-1)
    of = out.reshape(-1)
    zero = np.zeros(TILE)
    for t in range(nt):
        base = t * ns * TILE
        for i in range(d):
            o = i * width + t * TILE
            if accumulate:
                _sum_rows(flat, base, TILE, idx[i], k0[i], k1[i], of, o, of, o)
            else:
                _sum_rows(flat, base, TILE, idx[i], k0[i], k1[i], zero, 0, of, o)


@numba.njit(cache=True, error_model="numpy")
def gather_tiles_descend(src, idx, k0, k1, W, lr, out):
    """``out = W − lr · G`` with ``G[i, TILE·t : +TILE] = Σ_{k0[i] ≤ k < k1[i]} src[t, idx[i, k], :]``
    (the ``G`` of :func:`gather_tiles_to_rows`, never stored): a plain gradient step fused with
    the gradient's last product, bit for bit ``W − lr * G``.  ``W``, ``out`` (d, n) C-contiguous.

    Returns whether every entry of ``out`` is finite, checked while each is in a register
    (``o − o`` is 0 for a finite ``o`` and NaN for ±inf or NaN, so per-lane running sums decide
    it): the caller needs no pass over the new weights for it."""
    nt, ns, _ = src.shape
    d, n = W.shape
    flat = src.reshape(-1)
    zero = np.zeros(TILE)
    g = np.empty(TILE)
    bad = np.zeros(TILE)             # per lane: independent running sums (vectorised)
    for t in range(nt):
        base = t * ns * TILE
        j0 = t * TILE
        w = min(TILE, n - j0)
        for i in range(d):
            _sum_rows(flat, base, TILE, idx[i], k0[i], k1[i], zero, 0, g, 0)
            wi = W[i, j0:j0 + w]
            oi = out[i, j0:j0 + w]
            for ln in range(w):
                o = wi[ln] - lr * g[ln]
                oi[ln] = o
                bad[ln] += o - o
    return np.sum(bad) == 0.0


# ---------------------------------------------------------------------------- draws
@numba.njit(cache=True, inline="always")
def _uniform(s0, s1, s2, s3):
    plus, _, s0, s1, s2, s3 = xoshiro_step(s0, s1, s2, s3)
    return numba.float64(numba.int64(plus >> numba.uint64(11))) * TWO_POW_M53, s0, s1, s2, s3


@numba.njit(cache=True, error_model="numpy")
def bernoulli_lists(e, n, S, out, rows_idx, rows_pos, cols_idx, cols_cnt, cols_value0):
    """Draw a binary layer of every chain and list its ones.

    ``e``: ``exp(−a)`` for the pre-activations ``a`` of ``n`` units, tile-major ``(tiles, chains,
    TILE)`` (a row-major ``(chains, TILE · tiles)`` array enters as the view
    ``reshape(chains, tiles, TILE).transpose(1, 0, 2)``); ``S`` (chains, 4): the chains'
    xoshiro256 states, advanced in place.  Unit ``j`` of chain ``c`` is ``1{u · e < 1 − u}``
    (= ``1{u < σ(a)}``), ``u`` the chain's next uniform, units in order.

    Writes ``out[c, j]`` (0.0 / 1.0), the per-chain lists ``rows_idx[c]`` with block boundaries
    ``rows_pos[c]`` (as :func:`index_lists`) and, when ``cols_idx`` has rows, appends
    ``cols_value0 + c`` to the list of each unit ``j`` at position ``cols_cnt[j]`` (which it
    increments).  Chains are drawn two at a time (two independent xoshiro dependency chains
    per loop).  Returns the number of ones."""
    chains = S.shape[0]
    nb = rows_pos.shape[1] - 1
    for c in range(0, chains - 1, 2):
        d = c + 1
        a0, a1, a2, a3 = S[c, 0], S[c, 1], S[c, 2], S[c, 3]
        b0, b1, b2, b3 = S[d, 0], S[d, 1], S[d, 2], S[d, 3]
        ra, rb = rows_idx[c], rows_idx[d]
        ka = kb = 0
        for b in range(nb):
            rows_pos[c, b] = ka
            rows_pos[d, b] = kb
            for j in range(b * BLOCK, min(n, (b + 1) * BLOCK)):
                ua, a0, a1, a2, a3 = _uniform(a0, a1, a2, a3)
                ub, b0, b1, b2, b3 = _uniform(b0, b1, b2, b3)
                ra[ka] = j
                ka += ua * e[j // TILE, c, j % TILE] < 1.0 - ua
                rb[kb] = j
                kb += ub * e[j // TILE, d, j % TILE] < 1.0 - ub
        rows_pos[c, nb] = ka
        rows_pos[d, nb] = kb
        S[c, 0], S[c, 1], S[c, 2], S[c, 3] = a0, a1, a2, a3
        S[d, 0], S[d, 1], S[d, 2], S[d, 3] = b0, b1, b2, b3
    if chains % 2:
        c = chains - 1
        a0, a1, a2, a3 = S[c, 0], S[c, 1], S[c, 2], S[c, 3]
        ra = rows_idx[c]
        ka = 0
        for b in range(nb):
            rows_pos[c, b] = ka
            for j in range(b * BLOCK, min(n, (b + 1) * BLOCK)):
                ua, a0, a1, a2, a3 = _uniform(a0, a1, a2, a3)
                ra[ka] = j
                ka += ua * e[j // TILE, c, j % TILE] < 1.0 - ua
        rows_pos[c, nb] = ka
        S[c, 0], S[c, 1], S[c, 2], S[c, 3] = a0, a1, a2, a3
    total = 0
    for c in range(chains):
        oc = out[c]
        rc = rows_idx[c]
        k = rows_pos[c, nb]
        total += k
        for j in range(n):
            oc[j] = 0.0
        for q in range(k):
            oc[rc[q]] = 1.0
    if cols_idx.shape[0] > 0:
        _transpose_lists(rows_idx, rows_pos[:, nb], cols_idx, cols_cnt, cols_value0)
    return total
