"""Cost of the learners (issue #6): pseudolikelihood and ratio matching per update relative to
CD-1 on a 100-unit Boltzmann machine, and one PCD-1 epoch of a 784×500 RBM.

Algorithms under test (SPEC.md §3): ``estimators.CD``, ``PCD``, ``PseudoLikelihood``,
``RatioMatching`` driven by ``estimators.fit`` with plain SGD.

* Fully visible BM, 100 units, minibatch 100: time per update (gradient + optimiser step +
  ``set_params``) = epoch time / updates, median of ``repeats`` epochs after one warm-up epoch
  (compilation excluded).  PL and RM evaluate the free energy of ``d = 100`` flipped copies of
  every example, so they are expected to cost O(d) CD-1 updates' worth of free-energy work; CD-1
  is one Gibbs sweep of 100 chains (compiled kernel).  Ratios are measured in this process.
* RBM 784×500 (float64), 10 000 random binary examples (density 0.13, as in the peer figure of
  TESTING.md), minibatch 100, PCD-1 with 100 persistent chains: seconds per epoch (model
  construction and ``fit``'s validation included, as scikit-learn's ``fit`` includes its own),
  for ours — ``estimators.fit`` takes the fused update of ``estimators/_rbm_pcd.py`` — started
  with visible biases 0 (as scikit-learn) and with ``b = logit(mean x)`` (Hinton's practical
  guide), a pure-numpy PCD-1 epoch (the same products and Bernoulli draws written directly)
  and, when scikit-learn is installed, ``sklearn.neural_network.BernoulliRBM(n_components=500,
  batch_size=100, n_iter=1)``.  The contenders run interleaved, repeat after repeat, so that a
  change of machine load hits all of them; medians; first (compiling) runs reported apart.
  GFLOP/s: dense-equivalent (the five ``2·100·784·500`` products of a PCD-1 update, what
  scikit-learn computes) and actual (additions of the row sums plus the BLAS products ours
  did), against a BLAS peak (a 1500³ float64 product) measured in the same run.
* ``--crossover``: time of each product of the fused update as row sums and by BLAS against
  the density of its binary operand (the basis of ``SPARSE_MAX_DENSITY``).

Prints JSON lines (``header``, one line per measurement, ``ratios``).  Run
``OPENBLAS_NUM_THREADS=1 python benchmarks/learners.py`` (≈2 minutes; single-threaded BLAS for
every contender — on a loaded 2-core machine a multithreaded BLAS makes 100×100 products 100×
slower and the figures meaningless; ``--blas-threads 2`` with ``OPENBLAS_NUM_THREADS=2`` for the
two-thread figure) or ``--quick`` (smoke test).
"""

import argparse
import contextlib
import os
import statistics
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import numba  # noqa: E402

import estimators as E  # noqa: E402
import pgm  # noqa: E402
import samplers  # noqa: E402
from benchmarks._common import emit, header, load_average, median_time  # noqa: E402


def bm_costs(d, n, batch, repeats, threads):
    rng = np.random.default_rng(0)
    W = np.triu(rng.normal(0, 0.05, (d, d)), 1)
    x = (rng.random((n, d)) < 0.3).astype(float)
    out = {}
    for name, make in (("CD-1", lambda: E.CD(k=1)), ("PCD-1", lambda: E.PCD(k=1, chains=batch)),
                       ("PseudoLikelihood", E.PseudoLikelihood), ("RatioMatching", E.RatioMatching)):
        model = pgm.BoltzmannMachine(W + W.T, np.zeros(d))
        obj, opt = make(), E.SGD(1e-3)
        updates = -(-n // batch)

        def epoch():
            E.fit(model, x, obj, opt, epochs=1, batch_size=batch, seed=0, progress=False)

        with samplers.threads(threads):
            t0 = time.perf_counter()
            epoch()
            first = time.perf_counter() - t0
            med, times = median_time(epoch, repeats)
        out[name] = med / updates
        emit({"event": "bm_update", "objective": name, "units": d, "batch": batch, "threads": threads,
              "seconds_per_update": med / updates, "first_epoch_s": first,
              "epoch_times_s": [round(t, 5) for t in times]})
    return out


def numpy_pcd_epoch(x, n_h, batch, lr, seed):
    """PCD-1 in plain numpy: the baseline (same maths as estimators.PCD + SGD)."""
    rng = np.random.default_rng(seed)
    n, n_v = x.shape
    W = 0.01 * rng.standard_normal((n_v, n_h))
    b, c = np.zeros(n_v), np.zeros(n_h)
    v_neg = (rng.random((batch, n_v)) < 0.5).astype(float)
    sig = lambda a: 1.0 / (1.0 + np.exp(-a))  # noqa: E731
    for a in range(0, n, batch):
        v = x[a:a + batch]
        ph = sig(v @ W + c)
        h_neg = (rng.random((batch, n_h)) < sig(v_neg @ W + c)).astype(float)
        v_neg = (rng.random((batch, n_v)) < sig(h_neg @ W.T + b)).astype(float)
        ph_neg = sig(v_neg @ W + c)
        W += lr * (v.T @ ph - v_neg.T @ ph_neg) / batch
        b += lr * (v.mean(0) - v_neg.mean(0))
        c += lr * (ph.mean(0) - ph_neg.mean(0))
    return W


def blas_peak(n=1500, repeats=3):
    """GFLOP/s of one large float64 matrix product (the BLAS peak this process reaches now)."""
    rng = np.random.default_rng(0)
    a, b = rng.random((n, n)), rng.random((n, n))
    a @ b
    med, _ = median_time(lambda: a @ b, repeats)
    return 2.0 * n ** 3 / med / 1e9


def _blas_limits(threads):
    try:
        import threadpoolctl
    except ImportError:
        return contextlib.nullcontext(), None
    info = [{k: d.get(k) for k in ("internal_api", "num_threads", "architecture")}
            for d in threadpoolctl.threadpool_info()]
    if threads is None:
        return contextlib.nullcontext(), info
    return threadpoolctl.threadpool_limits(threads), info


def rbm_epoch(n, n_v, n_h, batch, repeats, threads, blas_threads=None):
    """One PCD-1 epoch: ours (b = 0 as scikit-learn starts, and b = logit of the data means as
    Hinton's guide recommends), the numpy baseline and scikit-learn, interleaved repeat by repeat
    (so load changes hit all alike), medians; GFLOP/s against a BLAS peak of the same run."""
    from estimators import _rbm_pcd

    rng = np.random.default_rng(1)
    x = (rng.random((n, n_v)) < 0.13).astype(float)
    mean = np.clip(x.mean(0), 1e-3, 1 - 1e-3)
    b_data = np.log(mean / (1 - mean))
    limits, blas_info = _blas_limits(blas_threads)
    stats = {}
    real_call = _rbm_pcd.RBMPCDStep._update

    def recording(self, *args):
        out = real_call(self, *args)
        for key, val in self.last.items():
            stats.setdefault(key, []).append(float(val))
        return out

    def ours(b):
        def run():
            rbm = pgm.RBM(n_v, n_h, seed=0, b=b)
            E.fit(rbm, x, E.PCD(k=1, chains=batch), E.SGD(0.05), epochs=1, batch_size=batch, seed=0,
                  progress=False)
        return run

    contenders = {"ours (b=0)": ours(None), "ours (b=logit mean)": ours(b_data),
                  "numpy": lambda: numpy_pcd_epoch(x, n_h, batch, 0.05, 0)}
    try:
        import sklearn
        from sklearn.neural_network import BernoulliRBM
    except ImportError:
        sklearn = None
    else:
        contenders[f"sklearn {sklearn.__version__}"] = lambda: BernoulliRBM(
            n_components=n_h, batch_size=batch, n_iter=1, learning_rate=0.05, random_state=0).fit(x)
    times = {name: [] for name in contenders}
    with limits, samplers.threads(threads):
        peak = blas_peak(400 if n_v < 100 else 1500)
        first = {}
        for name, fn in contenders.items():      # warm-up (compilation, caches), timed apart
            t0 = time.perf_counter()
            fn()
            first[name] = time.perf_counter() - t0
        _rbm_pcd.RBMPCDStep._update = recording
        try:
            for _ in range(repeats):
                for name, fn in contenders.items():
                    if name.startswith("ours"):
                        stats.clear()
                    t0 = time.perf_counter()
                    fn()
                    times[name].append(time.perf_counter() - t0)
                    if name.startswith("ours"):
                        times.setdefault(name + " stats", []).append(dict(
                            flops=sum(stats["flops"]), **{k: float(np.mean(stats[k])) for k in stats if k != "flops"}))
        finally:
            _rbm_pcd.RBMPCDStep._update = real_call
        peak = max(peak, blas_peak(400 if n_v < 100 else 1500))
    updates = -(-n // batch)
    dense_flops = updates * 5 * 2.0 * batch * n_v * n_h      # the five dense products of PCD-1
    res = {}
    for name in contenders:
        med = statistics.median(times[name])
        res[name] = med
        rec = {"event": "rbm_epoch", "impl": name, "shape": [n_v, n_h], "examples": n, "batch": batch,
               "median_s": med, "times_s": [round(t, 4) for t in times[name]], "first_s": round(first[name], 4),
               "dense_equivalent_gflops": dense_flops / med / 1e9,
               "dense_equivalent_fraction_of_peak": dense_flops / med / 1e9 / peak}
        if name.startswith("ours"):
            st = times[name + " stats"][-1]
            rec.update({"actual_gflops": st["flops"] / med / 1e9, "actual_flops_over_dense": st["flops"] / dense_flops,
                        "mean_density": {k[8:]: round(st[k], 4) for k in st if k.startswith("density_")},
                        "sparse_fraction": {k[7:]: round(st[k], 3) for k in st if k.startswith("sparse_")}})
        emit(rec)
    out = {"estimators.PCD": res["ours (b=0)"], "estimators.PCD (b=logit mean)": res["ours (b=logit mean)"],
           "numpy": res["numpy"]}
    summary = {"event": "rbm_epoch_summary", "blas_peak_gflops": peak, "blas": blas_info,
               "blas_threads_limit": blas_threads, "load_average_1min": load_average(),
               "ours_over_numpy": res["ours (b=0)"] / res["numpy"]}
    if sklearn is not None:
        sk = res[f"sklearn {sklearn.__version__}"]
        out["sklearn"] = sk
        summary.update({"sklearn_over_ours": sk / res["ours (b=0)"],
                        "sklearn_over_ours_b_logit_mean": sk / res["ours (b=logit mean)"]})
    emit(summary)
    return out


def crossover(n_v=784, n_h=500, rows=100, repeats=5):
    """Cost of each product of the fused PCD update as index-list row sums and by BLAS, against
    the density of its binary operand (``estimators._rbm_pcd.SPARSE_MAX_DENSITY``)."""
    from estimators import _binary_products as K

    rng = np.random.default_rng(0)
    W = rng.normal(0, 0.01, (n_v, n_h))
    th, tv = K.tiles(n_h), K.tiles(n_v)
    tail, cols = np.empty((n_v, K.TILE)), np.empty((tv, n_h, K.TILE))
    c_pad, b_pad = np.zeros(th * K.TILE), np.zeros(tv * K.TILE)
    for d in (0.05, 0.13, 0.25, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
        x = (rng.random((rows, n_v)) < d).astype(float)
        h = (rng.random((rows, n_h)) < d).astype(float)
        ri, rp = np.empty((rows, n_v), np.int32), np.empty((rows, K.blocks(n_v) + 1), np.int64)
        ci, cc = np.empty((n_v, rows), np.int32), np.empty(n_v, np.int64)
        K.index_lists(x, ri, rp, ci, cc)
        hi, hp = np.empty((rows, n_h), np.int32), np.empty((rows, K.blocks(n_h) + 1), np.int64)
        K.index_lists(h, hi, hp, np.empty((0, 0), np.int32), np.empty(0, np.int64))
        out_h, out_v = np.empty((th, rows, K.TILE)), np.empty((tv, rows, K.TILE))
        G = np.empty((n_v, th * K.TILE))
        q = rng.random((rows, n_h))
        k0 = np.zeros(n_v, np.int64)

        def vw_sparse():
            K.pack_tail(W, tail)
            K.gather_rows(W, tail, ri, rp, c_pad, out_h, 0)

        def hw_sparse():
            K.pack_col_tiles(W, cols)
            K.gather_tiles(cols, hi, hp, b_pad, out_v, 0)

        rec = {"event": "crossover", "density": d}
        for name, fn in (("vW_sparse", vw_sparse), ("vW_blas", lambda: x @ W),
                         ("hWT_sparse", hw_sparse), ("hWT_blas", lambda: h @ W.T),
                         ("vTq_sparse", lambda: K.gather_tiles_to_rows(out_h, ci, k0, cc, G, False)),
                         ("vTq_blas", lambda: x.T @ q)):
            fn()
            rec[name + "_us"] = round(median_time(fn, repeats)[0] * 1e6, 1)
        emit(rec)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="numba threads for the samplers")
    ap.add_argument("--blas-threads", type=int, default=None,
                    help="limit BLAS threads for the RBM epoch (threadpoolctl), e.g. 2")
    ap.add_argument("--crossover", action="store_true",
                    help="only measure row sums against BLAS per density (SPARSE_MAX_DENSITY)")
    args = ap.parse_args(argv)
    header("learners")
    emit({"event": "config", "numba_threads_available": numba.config.NUMBA_NUM_THREADS,
          "sampler_threads": args.threads, "quick": args.quick,
          "blas_threads_env": {k: os.environ.get(k) for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                                              "MKL_NUM_THREADS")}})
    if args.crossover:
        crossover(repeats=max(3, args.repeats))
        return {}
    if args.quick:
        bm = bm_costs(d=12, n=40, batch=20, repeats=1, threads=args.threads)
        rbm = rbm_epoch(n=200, n_v=20, n_h=10, batch=20, repeats=1, threads=args.threads,
                        blas_threads=args.blas_threads)
    else:
        bm = bm_costs(d=100, n=2000, batch=100, repeats=max(3, args.repeats), threads=args.threads)
        rbm = rbm_epoch(n=10_000, n_v=784, n_h=500, batch=100, repeats=max(3, args.repeats), threads=args.threads,
                        blas_threads=args.blas_threads)
    ratios = {"PL_over_CD1_per_update": bm["PseudoLikelihood"] / bm["CD-1"],
              "RM_over_CD1_per_update": bm["RatioMatching"] / bm["CD-1"],
              "PCD1_over_CD1_per_update": bm["PCD-1"] / bm["CD-1"],
              "rbm_epoch_over_numpy": rbm["estimators.PCD"] / rbm["numpy"]}
    if "sklearn" in rbm:
        ratios["rbm_epoch_over_sklearn"] = rbm["estimators.PCD"] / rbm["sklearn"]
        ratios["sklearn_over_rbm_epoch"] = rbm["sklearn"] / rbm["estimators.PCD"]
        ratios["sklearn_over_rbm_epoch_b_logit_mean"] = rbm["sklearn"] / rbm["estimators.PCD (b=logit mean)"]
    emit({"event": "ratios", **ratios})
    return ratios


if __name__ == "__main__":
    main()
