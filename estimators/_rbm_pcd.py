"""PCD-k of a binary RBM as one fused step (private): the update ``estimators.PCD`` makes on a
float64 :class:`pgm.RBM` (``PCD.fast_step``; issue #6, learner speed).

What one update needs, and nothing more (``x`` the minibatch, ``n`` rows; ``m`` persistent
chains whose state ``(v, h)`` is ``objective.state``):

1. positive phase ``p⁺ = σ(x W + c)``;
2. ``k`` sweeps of every chain, each ``v ~ p(v | h)`` then ``h ~ p(h | v)``; the last sweep
   leaves ``v⁻`` and ``p⁻ = p(h = 1 | v⁻)``, from which ``h`` was just drawn — so ``p(h | v⁻)``
   is computed once, for both the chains and the negative statistics (the generic path, a
   ``samplers.sample`` call then ``weighted_grad``, computes it twice);
3. the gradient of ``mean F(x) − mean F(v⁻)``: ``∂W = −xᵀp⁺/n + v⁻ᵀp⁻/m``,
   ``∂b = −mean x + mean v⁻``, ``∂c = −mean p⁺ + mean p⁻``;
4. with plain SGD (:meth:`RBMPCDStep.descend`, what ``fit`` uses for ``SGD`` without momentum
   or weight decay) the step ``W − lr·∂W`` is fused with the last product, so ``∂W`` is never
   stored (bit for bit ``SGD.step``'s result), and each new weight is checked to be finite as
   it is written (:attr:`RBMPCDStep.new_W_finite`), so ``fit`` needs no pass over the new ``W``
   for that.

``x W`` does not depend on the chains, so (both sparse) it is done with the last sweep's
``v⁻ W``: one pass over ``W`` for the two products (the same sums, so the same numbers).  Work
arrays and the new ``W`` start on 64-byte boundaries (:data:`ALIGN`).

The chains' state (a :class:`samplers.ChainState` this object creates from
``objective.state`` on its first update) is advanced in place.

A sweep in this order (visible layer first) is the same block-Gibbs kernel as the sampler's
(hidden first) composed the other way round: each half-step draws a layer exactly from its
conditional, so the chains leave the model's joint distribution invariant; the first update of
a fit starts the chains exactly as the generic path does (same seed use, same random initial
layers, same per-chain xoshiro256 streams).

Each product with a binary operand (``x``, ``v⁻``, ``h``) is done one of two ways, chosen per
update from the operand's density (fraction of ones):

* **sparse** (density ≤ :data:`SPARSE_MAX_DENSITY`): sums of rows of ``W`` (or of ``Wᵀ``, or
  of ``p``) at the operand's ones — :mod:`estimators._binary_products`, tile-major, no
  multiplications, ``density × `` the additions of the dense product;
* **dense**: one BLAS product, as the generic path.

Both compute the same conditionals and gradients (to rounding: the same float64 terms, summed in
another order) and draw the same uniforms, so the choice does not change the distribution, and a
run is reproducible (the same seed gives the same numbers for any thread count; the kernels are
serial and BLAS products do not depend on the thread count for these shapes).
"""

import numpy as np

from samplers import ChainState
from ._binary_products import (TILE, bernoulli_lists, blocks, gather_rows, gather_tiles,
                                       gather_tiles_descend,
                                       gather_tiles_to_rows, index_lists, pack_col_tiles, pack_tail,
                                       tiles)
from samplers.streams import make_rng_state

__all__ = ["SPARSE_MAX_DENSITY", "fast_pcd_step", "RBMPCDStep"]

#: Largest density (fraction of ones) of a binary operand for which its products are done as
#: row sums rather than by BLAS.  Measured on the 784×500 RBM, 100 rows, float64, one BLAS
#: thread (``benchmarks/learners.py --crossover``, OpenBLAS Haswell kernels on a Zen 5 core):
#: row sums cost as much as the BLAS product at density ≈ 0.7 for ``v W``, ≈ 0.62 for ``h Wᵀ``
#: (which packs ``Wᵀ`` first) and ≈ 0.8 for ``vᵀ q``; at 0.13 they take 0.37×, 0.42× and 0.23×.
SPARSE_MAX_DENSITY = 0.6


def fast_pcd_step(model, objective, reuse=None):
    """A :class:`RBMPCDStep` when ``objective`` is plain :class:`estimators.PCD` (its ``fusable``
    says so; not a subclass, whose update may differ) with block Gibbs on a float64 binary
    :class:`pgm.RBM` without evidence; else None (generic path).  ``reuse``: a step built before,
    returned when it fits (its buffers are kept)."""
    if not getattr(objective, "fusable", False) or objective.method not in (None, "block_gibbs", "gibbs"):
        return None
    if getattr(model, "sampler_family", None) != "layered" or getattr(model, "layered_kind", None) != "rbm":
        return None
    if tuple(getattr(model, "layer_kinds", ())) != ("binary", "binary") or tuple(model.param_names) != ("W", "b", "c"):
        return None
    if np.dtype(model.dtype) != np.float64 or getattr(model, "evidence", None):
        return None
    n_v, n_h = model.layer_sizes
    if reuse is not None and reuse.objective is objective and (reuse.n_v, reuse.n_h) == (n_v, n_h):
        return reuse
    return RBMPCDStep(objective, n_v, n_h)


#: Alignment (bytes) of every float64 work array and of the new ``W`` of a fused step: a tile row
#: (256 bytes) then starts on a cache line, so that none of the 64-byte vector loads and stores
#: of the kernels straddles two lines (numpy's large arrays start 16 bytes past a line, which
#: makes every one of them straddle; the rows of a new ``W`` with an odd number of 32-byte
#: halves per row alternate between straddling and not).
ALIGN = 64


def _aligned(shape, zero=True):
    """A C-contiguous float64 array of ``shape`` starting on an :data:`ALIGN`-byte boundary (a
    view of a slightly larger buffer); zero-filled unless ``zero`` is False."""
    size = int(np.prod(shape, dtype=np.int64))
    buf = (np.zeros if zero else np.empty)(size + ALIGN // 8)
    off = (-buf.ctypes.data % ALIGN) // 8
    return buf[off:off + size].reshape(shape)


def _as_tiles(rows_padded):
    """Row-major ``(rows, TILE·tiles)`` seen as tile-major ``(tiles, rows, TILE)`` (a view)."""
    r, w = rows_padded.shape
    return rows_padded.reshape(r, w // TILE, TILE).transpose(1, 0, 2)


class RBMPCDStep:
    """Callable ``step(model, x, rng) -> (grads, stats)`` doing one PCD-k update of ``objective``
    (its chains advance in ``objective.state``).

    Every ``q`` below lies in ``[−1/n, 0]`` or ``[0, 1/m]`` unless a pre-activation is NaN (finite
    parameters whose sums overflow), and then ``grads["c"]``, a sum of all of them per hidden
    unit, is NaN too: checking ``grads["c"]`` is finite covers ``grads["W"]`` (``fit`` does so).
    With ``copy_grads=False`` ``grads["W"]`` is a buffer the next update overwrites."""

    def __init__(self, objective, n_v, n_h):
        self.objective = objective
        self.n_v, self.n_h = n_v, n_h = int(n_v), int(n_h)
        self.th, self.tv = th, tv = tiles(n_h), tiles(n_v)
        m = objective.chains
        self.W_tail = _aligned((n_v, TILE))          # last (partial) tile of W's columns (for v W)
        self.W_cols = _aligned((tv, n_h, TILE))      # Wᵀ in tiles of visible units (for h Wᵀ)
        self.c_pad = _aligned(th * TILE)
        self.b_pad = _aligned(tv * TILE)
        self.G = self.G_tmp = None                   # gradient buffers (allocated when needed)
        # chains: lists of v and h (with block boundaries), products
        self.h_idx = np.empty((m, n_h), dtype=np.int32)
        self.h_pos = np.empty((m, blocks(n_h) + 1), dtype=np.int64)
        self.av_tiles = _aligned((tv, m, TILE))       # h Wᵀ + b, sparse path
        self.av_rows = np.zeros((m, tv * TILE))       # dense path
        self.hv_rows = np.zeros((m, th * TILE))       # v⁻ W + c, dense path
        self.per_n = {}
        self.owned = None            # the ChainState this step created (advanced in place)
        self.force = None            # tests: "sparse" or "dense" for every product
        self.last = {}               # densities and paths of the last update (benchmarks)
        # whether the new W of the last descend is finite, checked as it was written (o − o is 0
        # for a finite o); False when unchecked (fit then checks it as usual)
        self.new_W_finite = False
        self._no_idx = np.empty((0, 0), dtype=np.int32)
        self._no_cnt = np.empty(0, dtype=np.int64)

    def _buffers(self, n):
        """Work arrays that depend on the number of data rows ``n``."""
        if n not in self.per_n:
            n_v, th, m = self.n_v, self.th, self.objective.chains
            xv_idx = np.empty((n + m, n_v), dtype=np.int32)
            xv_pos = np.empty((n + m, blocks(n_v) + 1), dtype=np.int64)
            self.per_n[n] = {
                # lists of the data rows, then of the chains' visible vectors: the last sweep's
                # v⁻ W and x W are one gather_rows call over all n + m lists (one pass over W)
                "xv_idx": xv_idx, "xv_pos": xv_pos,
                "x_idx": xv_idx[:n], "x_pos": xv_pos[:n], "v_idx": xv_idx[n:], "v_pos": xv_pos[n:],
                # per visible unit: data rows r, then chains as n + c
                "cols": np.empty((n_v, n + m), dtype=np.int32),
                "cnt_x": np.empty(n_v, dtype=np.int64),
                "cnt": np.empty(n_v, dtype=np.int64),
                "zeros": np.zeros(n_v, dtype=np.int64),
                "Q": _aligned((th, n + m, TILE)),          # p⁺ rows, then p⁻ rows (sparse path)
                "hx_rows": np.zeros((n, th * TILE)),      # x W + c, dense path
            }
        return self.per_n[n]

    def _sparse(self, density):
        if self.force is not None:
            return self.force == "sparse"
        return density <= SPARSE_MAX_DENSITY

    def _state(self, rng):
        obj = self.objective
        m, n_v, n_h = obj.chains, self.n_v, self.n_h
        if obj.state is None:
            # as samplers.sample(init=None, seed=...) seeds a layered run: SeedSequence(seed)
            # .spawn(2) → random fair-coin layers from the first child, streams from the second
            seed = int(rng.integers(2**63))
            init_ss, chain_ss = np.random.SeedSequence(seed).spawn(2)
            r = np.random.default_rng(init_ss)
            layers = [r.integers(0, 2, size=(m, n)).astype(np.float64) for n in (n_v, n_h)]
            obj.state = ChainState(np.concatenate(layers, axis=1), make_rng_state(chain_ss, m))
        if obj.state is not self.owned:
            st = obj.state
            if st.x.shape != (m, n_v + n_h) or st.rng_state.shape != (m, 4):
                raise ValueError(f"PCD chain state has shape {st.x.shape}, expected ({m}, {n_v + n_h})")
            if not np.all((st.x == 0) | (st.x == 1)):
                raise ValueError("PCD chain state of a binary RBM must hold 0/1 values")
            obj.state = ChainState(np.ascontiguousarray(st.x, dtype=np.float64), st.rng_state)
            self.owned = obj.state
        return obj.state

    # ------------------------------------------------------------------ the update
    def __call__(self, model, x, rng, copy_grads=True):
        """``(grads, stats)`` of one update (the chains advance)."""
        return self._update(model, x, rng, None, copy_grads)

    def descend(self, model, x, rng, lr):
        """One update followed by a plain gradient step ``θ − lr·g``: ``(new params, grads of
        b and c, stats)``.  The step on ``W`` is fused with the gradient's last product (the
        gradient of ``W`` is never stored); the new arrays are bit for bit
        ``SGD(lr).step(params, grads)`` of :meth:`__call__`'s gradient."""
        return self._update(model, x, rng, float(lr))

    def _update(self, model, x, rng, lr, copy_grads=True):
        obj = self.objective
        n_v, n_h, m, k = self.n_v, self.n_h, obj.chains, obj.k
        W = np.ascontiguousarray(model.W, dtype=np.float64)
        self.new_W_finite = False
        b = np.asarray(model.b, dtype=np.float64)
        c = np.asarray(model.c, dtype=np.float64)
        self.c_pad[:n_h] = c
        self.b_pad[:n_v] = b
        st = self._state(rng)
        X, S = st.x, st.rng_state
        v, h = X[:, :n_v], X[:, n_v:]
        n = x.shape[0]
        B = self._buffers(n)
        Q, cols, cnt_x, cnt = B["Q"], B["cols"], B["cnt_x"], B["cnt"]
        packed_rows = packed_cols = False
        with np.errstate(over="ignore"):      # exp(−a) = inf is meaningful (p = 0)
            # positive phase: p⁺ = σ(x W + c)
            nnz = index_lists(x, B["x_idx"], B["x_pos"], cols, cnt_x)
            dens_x = nnz / (n * n_v)
            x_sparse = self._sparse(dens_x)
            pos_exp = False          # pos holds exp(−a⁺) already
            if x_sparse:             # x W is done with the last sweep's v⁻ W (or alone, below)
                pos = Q[:, :n]
            else:
                pos = B["hx_rows"]
                np.matmul(x, W, out=pos[:, :n_h])
                pos[:, :n_h] += c
            # k sweeps: v ~ p(v|h), then h ~ p(h|v)
            nnz = index_lists(h, self.h_idx, self.h_pos, self._no_idx, self._no_cnt)
            for sweep in range(k):
                dens_h = nnz / (m * n_h)
                if self._sparse(dens_h):
                    if not packed_cols:
                        pack_col_tiles(W, self.W_cols)
                        packed_cols = True
                    av = av_t = self.av_tiles
                    gather_tiles(self.W_cols, self.h_idx, self.h_pos, self.b_pad, av, 0)
                else:
                    av = self.av_rows
                    np.matmul(h, W.T, out=av[:, :n_v])
                    av[:, :n_v] += b
                    av_t = _as_tiles(av)
                np.negative(av, out=av)
                np.exp(av, out=av)
                last = sweep == k - 1
                if last:
                    cnt[:] = cnt_x
                nnz = bernoulli_lists(av_t, n_v, S, v, B["v_idx"], B["v_pos"],
                                      cols if last else self._no_idx, cnt, n)
                dens_v = nnz / (m * n_v)
                v_sparse = self._sparse(dens_v)
                if not packed_rows and (x_sparse or v_sparse):
                    pack_tail(W, self.W_tail)
                    packed_rows = True
                if last and x_sparse:
                    # x W + c (rows 0..n−1 of Q), with v⁻ W + c when that is sparse too
                    rows = n + m if v_sparse else n
                    gather_rows(W, self.W_tail, B["xv_idx"][:rows], B["xv_pos"][:rows], self.c_pad, Q, 0)
                if v_sparse:
                    if not (last and x_sparse):
                        gather_rows(W, self.W_tail, B["v_idx"], B["v_pos"], self.c_pad, Q, n)
                    neg, neg_t = Q[:, n:], Q[:, n:]
                else:
                    neg = self.hv_rows
                    np.matmul(v, W, out=neg[:, :n_h])
                    neg[:, :n_h] += c
                    neg_t = _as_tiles(neg)
                if last and x_sparse and v_sparse:     # both halves of Q at once
                    np.negative(Q, out=Q)
                    np.exp(Q, out=Q)
                    pos_exp = True
                else:
                    np.negative(neg, out=neg)
                    np.exp(neg, out=neg)
                nnz = bernoulli_lists(neg_t, n_h, S, h, self.h_idx, self.h_pos, self._no_idx, self._no_cnt, 0)
            # q⁺ = −p⁺/n = 1 / (−n − n e⁺),  q⁻ = p⁻/m = 1 / (m + m e⁻)
            if not pos_exp:
                np.negative(pos, out=pos)
                np.exp(pos, out=pos)
            pos *= -n
            pos -= n
            np.reciprocal(pos, out=pos)
            neg *= m
            neg += m
            np.reciprocal(neg, out=neg)
        # gradient ∂W = xᵀq⁺ + v⁻ᵀq⁻ (row sums over the per-unit lists, or BLAS)
        if self.G is None:
            self.G, self.G_tmp = _aligned((n_v, self.th * TILE)), np.zeros((n_v, n_h))
        G = self.G
        Gv = G[:, :n_h]
        new_W = None
        if x_sparse and v_sparse and lr is not None:
            new_W = _aligned((n_v, n_h), zero=False)
            self.new_W_finite = gather_tiles_descend(Q, cols, B["zeros"], cnt, W, lr, new_W)
        elif x_sparse and v_sparse:       # each unit's list: its data rows, then its chains
            gather_tiles_to_rows(Q, cols, B["zeros"], cnt, G, False)
        elif x_sparse:
            gather_tiles_to_rows(Q, cols, B["zeros"], cnt_x, G, False)
        else:
            np.matmul(x.T, pos[:, :n_h], out=Gv)
        if v_sparse:
            if not x_sparse:
                gather_tiles_to_rows(Q, cols, cnt_x, cnt, G, True)
        else:
            np.matmul(v.T, neg[:, :n_h], out=self.G_tmp)
            Gv += self.G_tmp
        sum_pos = (pos.sum(axis=1).reshape(-1) if x_sparse else pos.sum(axis=0))[:n_h]
        sum_neg = (neg.sum(axis=1).reshape(-1) if v_sparse else neg.sum(axis=0))[:n_h]
        grads = {"b": (cnt - cnt_x) / m - cnt_x / n, "c": sum_pos + sum_neg}
        if lr is None:
            grads["W"] = Gv.copy() if copy_grads else Gv
        # floating-point operations done: additions for the row sums, 2·rows·inner·outer for BLAS
        nx, nh_, nv_ = dens_x * n * n_v, dens_h * m * n_h, dens_v * m * n_v
        flops = ((2 * nx * n_h if x_sparse else 4 * n * n_v * n_h)
                 + k * (nh_ * n_v if packed_cols else 2 * m * n_h * n_v)
                 + k * (nv_ * n_h if v_sparse else 2 * m * n_v * n_h)
                 + (nv_ * n_h if v_sparse else 2 * m * n_v * n_h))
        self.last = {"density_x": dens_x, "density_h": dens_h, "density_v": dens_v,
                     "sparse_x": x_sparse, "sparse_h": packed_cols, "sparse_v": v_sparse, "flops": flops}
        if lr is None:
            return grads, {}
        if new_W is None:
            new_W = W - lr * Gv
        return {"W": new_W, "b": b - lr * grads["b"], "c": c - lr * grads["c"]}, grads, {}
