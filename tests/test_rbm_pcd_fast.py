"""The fused PCD update of binary RBMs (``estimators/_rbm_pcd.py``, issue #6 learner speed) and
its sparse binary products (``estimators/_binary_products.py``).

* the row-sum products equal the dense products (to 1e-12) at every density, for sizes that are
  not multiples of the tile and block widths;
* the Bernoulli draws consume each chain's own xoshiro256 stream unit by unit (same decisions as
  ``u · e^{−a} < 1 − u`` on ``draw_doubles``) and list the ones correctly;
* the sparse and the dense (BLAS) paths of a whole update give the same chains, the same random
  streams and the same gradients (to 1e-12), which equal the PCD gradient
  ``mean ∂F(x) − mean ∂F(v⁻)`` computed by ``weighted_grad``;
* exactness (chi-square, 2 paths × 3 tests): chains started from exact draws of a 6×4 RBM's
  joint distribution still follow it after 3 updates;
* ``estimators.fit`` takes the fast path for PCD on a float64 RBM (only there) and a
  checkpointed run resumes bit for bit; results do not depend on the BLAS thread count.
"""

import numpy as np
import pytest

import estimators as E
import pgm
import samplers
from estimators import _rbm_pcd
from estimators._protocol import weighted_grad
from estimators._rbm_pcd import RBMPCDStep, fast_pcd_step
from estimators import _binary_products as K
from samplers._rng import draw_doubles, make_rng_state

from .test_boltzmann import all_bits, chi2_check, joint_table, layer_groups, rbm_6x4

ALPHA = 1e-5
N_STAT_TESTS = 6


def _lists(x):
    n, d = x.shape
    ri = np.empty((n, d), np.int32)
    rp = np.empty((n, K.blocks(d) + 1), np.int64)
    ci = np.empty((d, n), np.int32)
    cc = np.empty(d, np.int64)
    nnz = K.index_lists(x, ri, rp, ci, cc)
    return nnz, ri, rp, ci, cc


def _untile(t, n):
    return t.transpose(1, 0, 2).reshape(t.shape[1], -1)[:, :n]


def _tile(a, fill=0.0):
    rows, n = a.shape
    padded = np.full((rows, K.tiles(n) * K.TILE), fill)
    padded[:, :n] = a
    return np.ascontiguousarray(padded.reshape(rows, K.tiles(n), K.TILE).transpose(1, 0, 2))


@pytest.mark.parametrize("density", [0.0, 0.05, 0.5, 1.0])
def test_binary_products_equal_dense_products(density):
    rng = np.random.default_rng(1)
    n, d, m = 13, 300, 45            # 300 rows: 3 blocks; 45 columns: 2 tiles, the last partial
    x = (rng.random((n, d)) < density).astype(float)
    W = rng.normal(0, 1, (d, m))
    bias = np.zeros(K.tiles(m) * K.TILE)
    bias[:m] = rng.normal(0, 1, m)
    nnz, ri, rp, ci, cc = _lists(x)
    assert nnz == x.sum()
    for r in range(n):
        np.testing.assert_array_equal(ri[r, :rp[r, -1]], np.flatnonzero(x[r]))
        np.testing.assert_array_equal(rp[r], [np.count_nonzero(x[r, :k * K.BLOCK]) for k in range(K.blocks(d) + 1)])
    for i in range(d):
        np.testing.assert_array_equal(ci[i, :cc[i]], np.flatnonzero(x[:, i]))
    ref = x @ W + bias[:m]
    # x W: from W itself (+ its last partial tile) and from packed tiles
    out = np.full((K.tiles(m), n + 2, K.TILE), np.nan)
    tail = np.empty((d, K.TILE))
    K.pack_tail(W, tail)
    K.gather_rows(W, tail, ri, rp, bias, out, 2)      # rows 2.. of the output
    np.testing.assert_allclose(_untile(out, m)[2:], ref, rtol=0, atol=1e-12)
    packed = _tile(W)                                  # W's rows in tiles: (tiles, d, TILE)
    out2 = np.empty((K.tiles(m), n, K.TILE))
    K.gather_tiles(packed, ri, rp, bias, out2, 0)
    np.testing.assert_allclose(_untile(out2, m), ref, rtol=0, atol=1e-12)
    # h Wᵀ with h = x (n, d) and W (m, d) packed by columns
    Wt = np.ascontiguousarray(W.T)                     # (m, d)
    cols = np.empty((K.tiles(m), d, K.TILE))
    K.pack_col_tiles(Wt, cols)
    out3 = np.empty((K.tiles(m), n, K.TILE))
    K.gather_tiles(cols, ri, rp, bias, out3, 0)
    np.testing.assert_allclose(_untile(out3, m), x @ Wt.T + bias[:m], rtol=0, atol=1e-12)
    # xᵀ q (rows of q at the ones of each column), overwrite then accumulate
    q = rng.normal(0, 1, (n, m))
    qt = _tile(q)
    G = np.full((d, K.tiles(m) * K.TILE), np.nan)
    K.gather_tiles_to_rows(qt, ci, np.zeros(d, np.int64), cc, G, False)
    np.testing.assert_allclose(G[:, :m], x.T @ q, rtol=0, atol=1e-12)
    half = cc // 2
    G2 = np.zeros_like(G)
    K.gather_tiles_to_rows(qt, ci, np.zeros(d, np.int64), half, G2, False)
    K.gather_tiles_to_rows(qt, ci, half, cc, G2, True)
    np.testing.assert_allclose(G2[:, :m], x.T @ q, rtol=0, atol=1e-12)


def test_bernoulli_lists_use_each_chains_stream_in_unit_order():
    chains, n = 13, 70
    st = make_rng_state(5, chains)
    u = draw_doubles(st.copy(), n)
    e = np.exp(np.random.default_rng(0).normal(0, 2, (chains, n)))
    e[0, :5] = np.inf                                   # p = 0
    et = _tile(e, 1.0)
    out = np.empty((chains, n))
    ri = np.empty((chains, n), np.int32)
    rp = np.empty((chains, K.blocks(n) + 1), np.int64)
    ci = np.empty((n, chains + 4), np.int32)
    cc = np.full(n, 4, np.int64)                        # lists already hold 4 entries each
    S = st.copy()
    nnz = K.bernoulli_lists(et, n, S, out, ri, rp, ci, cc, 100)
    bits = (u * e < 1 - u).astype(float)
    np.testing.assert_array_equal(out, bits)
    assert nnz == bits.sum() and not bits[0, :5].any()
    for c in range(chains):
        np.testing.assert_array_equal(ri[c, :rp[c, -1]], np.flatnonzero(bits[c]))
    for j in range(n):
        np.testing.assert_array_equal(ci[j, 4:cc[j]], 100 + np.flatnonzero(bits[:, j]))
    after = st.copy()
    draw_doubles(after, n)
    np.testing.assert_array_equal(S, after)
    # a row-major array seen as tiles gives the same draws
    rowmajor = np.ones((chains, K.tiles(n) * K.TILE))
    rowmajor[:, :n] = e
    view = rowmajor.reshape(chains, K.tiles(n), K.TILE).transpose(1, 0, 2)
    out2 = np.empty((chains, n))
    K.bernoulli_lists(view, n, st.copy(), out2, ri, rp, np.empty((0, 0), np.int32), np.empty(0, np.int64), 0)
    np.testing.assert_array_equal(out2, bits)


def _rbm(n_v, n_h, seed=0, b_shift=-1.0):
    rng = np.random.default_rng(seed)
    return pgm.RBM(n_v, n_h, W=rng.normal(0, 0.5, (n_v, n_h)), b=rng.normal(b_shift, 0.5, n_v),
                   c=rng.normal(0, 0.5, n_h))


@pytest.mark.parametrize("k", [1, 2])
def test_sparse_and_dense_paths_give_the_same_chains_and_gradients(k):
    n_v, n_h, n, m = 150, 45, 13, 11
    rbm = _rbm(n_v, n_h)
    x = (np.random.default_rng(3).random((n, n_v)) < 0.2).astype(float)
    runs = {}
    for force in ("sparse", "dense"):
        obj = E.PCD(k=k, chains=m)
        step = RBMPCDStep(obj, n_v, n_h)
        step.force = force
        rng = np.random.default_rng(7)
        out = []
        for _ in range(3):
            g, stats = step(rbm, x, rng)
            assert stats == {}
            out.append(({key: np.array(val) for key, val in g.items()}, obj.state.x.copy(),
                        obj.state.rng_state.copy()))
        runs[force] = out
        assert step.last["sparse_x"] == (force == "sparse")
    for (ga, xa, sa), (gb, xb, sb) in zip(runs["sparse"], runs["dense"]):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(sa, sb)
        for key in ga:
            np.testing.assert_allclose(ga[key], gb[key], rtol=0, atol=1e-12)
    # the gradient is mean ∂F(x) − mean ∂F(v⁻) at the chains' new visible states
    g, v_neg, _ = runs["sparse"][-1]
    w = np.concatenate([np.full(n, 1 / n), np.full(m, -1 / m)])
    ref = weighted_grad(rbm, np.concatenate([x, v_neg[:, :n_v]]), w)
    for key in ref:
        np.testing.assert_allclose(g[key], ref[key], rtol=0, atol=1e-12)


@pytest.mark.parametrize("force", ["sparse", "dense"])
def test_fused_updates_leave_the_exact_joint_invariant(force):
    """Stat tests (2 × 3): joint (v, h), v and h of a 6x4 RBM after 3 fused updates (parameters
    fixed) from exact draws."""
    rbm = rbm_6x4(seed=7)
    states, p, _ = joint_table(rbm)
    N = 100_000
    rng = np.random.default_rng(12)
    x0 = states[rng.choice(len(p), size=N, p=p)]
    obj = E.PCD(k=1, chains=N)
    obj.state = samplers.ChainState(x0, make_rng_state(13, N))
    step = RBMPCDStep(obj, 6, 4)
    step.force = force
    data = all_bits(6)[:20]
    for _ in range(3):
        step(rbm, data, rng)
    chi2_check(obj.state.x, states, p, f"fused PCD ({force})", layer_groups([6, 4]))


def test_fit_takes_the_fast_path_only_for_pcd_on_float64_rbms(monkeypatch):
    x = (np.random.default_rng(0).random((40, 9)) < 0.3).astype(float)
    rbm = pgm.RBM(9, 5, seed=0)
    assert isinstance(fast_pcd_step(rbm, E.PCD()), RBMPCDStep)
    assert fast_pcd_step(rbm, E.FastPCD()) is None
    assert fast_pcd_step(rbm, E.CD()) is None
    assert fast_pcd_step(pgm.RBM(9, 5, dtype=np.float32), E.PCD()) is None
    assert fast_pcd_step(pgm.DBM([9, 5, 3]), E.PCD()) is None
    calls = []
    real = _rbm_pcd.RBMPCDStep._update

    def counting(self, *a):
        calls.append(a[3])             # the learning rate of a fused SGD step, else None
        return real(self, *a)

    monkeypatch.setattr(_rbm_pcd.RBMPCDStep, "_update", counting)
    E.fit(rbm, x, E.PCD(k=1, chains=7), E.SGD(0.05), epochs=2, batch_size=10, seed=0, progress=False)
    assert calls == [0.05] * 8
    calls.clear()
    E.fit(rbm, x, E.PCD(k=1, chains=7), E.Adam(0.01), epochs=1, batch_size=10, seed=0, progress=False)
    assert calls == [None] * 4
    E.fit(rbm, x, E.FastPCD(k=1, chains=7), E.SGD(0.05), epochs=1, batch_size=10, seed=0, progress=False)
    assert len(calls) == 4


def test_fused_sgd_step_equals_sgd_on_the_gradient():
    """The fused plain-SGD step (the gradient of W never stored) gives bit for bit the parameters
    of SGD.step on the gradient of the same update, in the sparse and the dense path."""
    n_v, n_h = 90, 37
    x = (np.random.default_rng(4).random((12, n_v)) < 0.2).astype(float)
    for force in ("sparse", "dense"):
        out = []
        for fused in (True, False):
            rbm = _rbm(n_v, n_h, seed=6)
            obj = E.PCD(k=1, chains=8)
            step = RBMPCDStep(obj, n_v, n_h)
            step.force = force
            rng = np.random.default_rng(1)
            for _ in range(3):
                if fused:
                    new, _, _ = step.descend(rbm, x, rng, 0.3)
                else:
                    g, _ = step(rbm, x, rng)
                    new = E.SGD(0.3).step(dict(rbm.params), g)
                rbm.set_params(**new)
            out.append(rbm.params)
        for key in out[0]:
            np.testing.assert_array_equal(out[0][key], out[1][key])


def test_fused_descend_equals_the_numpy_step_and_flags_non_finite_weights():
    """gather_tiles_descend writes W − lr·G (G = xᵀq from gather_tiles_to_rows) bit for bit and
    says whether it is all finite (what lets fit skip the finiteness pass over the new W)."""
    rng = np.random.default_rng(8)
    d, m, rows = 70, 45, 30
    x = (rng.random((rows, d)) < 0.3).astype(float)
    x[0] = 1.0                                        # no empty column list
    _, ri, rp, ci, cc = _lists(x)
    q = np.abs(rng.normal(size=(K.tiles(m), rows, K.TILE))) + 1.0
    W = rng.normal(size=(d, m))
    k0 = np.zeros(d, np.int64)
    for bad in (None, np.inf, -np.inf, np.nan, "overflow"):
        Wb, lr = W.copy(), 0.3
        if bad == "overflow":                         # finite inputs, 1.7e308 + 1e308·g = inf
            Wb[d - 1, m - 1], lr = 1.7e308, -1e308
        elif bad is not None:
            Wb[d - 1, m - 1] = bad
        G = np.empty((d, K.TILE * K.tiles(m)))
        K.gather_tiles_to_rows(q, ci, k0, cc, G, False)
        with np.errstate(over="ignore", invalid="ignore"):
            a = Wb - lr * G[:, :m]
        b = np.full((d, m), 7.0)
        ok = K.gather_tiles_descend(q, ci, k0, cc, Wb, lr, b)
        np.testing.assert_array_equal(a, b)
        assert ok == bool(np.all(np.isfinite(a)))
        assert ok == (bad is None)


def test_fast_path_resumes_exactly_and_matches_a_manual_loop(tmp_path):
    x = (np.random.default_rng(1).random((60, 40)) < 0.25).astype(float)

    def run(epochs, **kw):
        rbm = pgm.RBM(40, 20, seed=3)
        obj = E.PCD(k=1, chains=9)
        E.fit(rbm, x, obj, E.SGD(0.1, momentum=0.5), epochs=epochs, batch_size=16, seed=4, progress=False, **kw)
        return rbm, obj

    full, full_obj = run(4)
    run(2, checkpoint=tmp_path / "c.npz")
    part, part_obj = run(4, checkpoint=tmp_path / "c.npz", resume=True)
    for key in full.params:
        np.testing.assert_array_equal(full.params[key], part.params[key])
    np.testing.assert_array_equal(full_obj.state.x, part_obj.state.x)
    np.testing.assert_array_equal(full_obj.state.rng_state, part_obj.state.rng_state)
    # the same updates written out by hand (plain SGD, no shuffling)
    rbm, obj = pgm.RBM(40, 20, seed=3), E.PCD(k=1, chains=9)
    E.fit(rbm, x, obj, E.SGD(0.1), epochs=1, batch_size=16, seed=4, progress=False, shuffle=False)
    ref, robj = pgm.RBM(40, 20, seed=3), E.PCD(k=1, chains=9)
    step, rng = RBMPCDStep(robj, 40, 20), np.random.Generator(np.random.PCG64(4))
    for a in range(0, 60, 16):
        g, _ = step(ref, x[a:a + 16], rng)
        ref.set_params(**{key: ref.params[key] - 0.1 * g[key] for key in g})
    for key in rbm.params:
        np.testing.assert_array_equal(rbm.params[key], ref.params[key])


def test_results_do_not_depend_on_the_blas_thread_count():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    n_v, n_h = 120, 70
    x = (np.random.default_rng(2).random((30, n_v)) < 0.4).astype(float)
    runs = []
    for threads in (1, 2):
        with threadpoolctl.threadpool_limits(threads):
            for force in ("dense", "sparse"):
                rbm = _rbm(n_v, n_h, seed=5)
                obj = E.PCD(k=1, chains=20)
                step = RBMPCDStep(obj, n_v, n_h)
                step.force = force
                rng = np.random.default_rng(0)
                for _ in range(3):
                    g, _ = step(rbm, x, rng)
                runs.append((force, obj.state.x.copy(), np.array(g["W"])))
    for force in ("dense", "sparse"):
        a, b = [r for r in runs if r[0] == force]
        np.testing.assert_array_equal(a[1], b[1])
        np.testing.assert_array_equal(a[2], b[2])
