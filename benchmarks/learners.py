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
  TESTING.md), minibatch 100, PCD-1 with 100 persistent chains: seconds per epoch, against a
  pure-numpy PCD-1 epoch (the same products and Bernoulli draws written directly) and, when
  scikit-learn is installed, ``sklearn.neural_network.BernoulliRBM(n_components=500,
  batch_size=100, n_iter=1)``.

Prints JSON lines (``header``, one line per measurement, ``ratios``).  Run
``OPENBLAS_NUM_THREADS=1 python benchmarks/learners.py`` (≈1 minute; single-threaded BLAS for
every contender — on a loaded 2-core machine a multithreaded BLAS makes 100×100 products 100×
slower and the figures meaningless) or ``--quick`` (smoke test).
"""

import argparse
import os
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
from benchmarks._common import emit, header, median_time  # noqa: E402


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


def rbm_epoch(n, n_v, n_h, batch, repeats, threads):
    rng = np.random.default_rng(1)
    x = (rng.random((n, n_v)) < 0.13).astype(float)
    res = {}

    def ours():
        rbm = pgm.RBM(n_v, n_h, seed=0)
        E.fit(rbm, x, E.PCD(k=1, chains=batch), E.SGD(0.05), epochs=1, batch_size=batch, seed=0, progress=False)

    with samplers.threads(threads):
        t0 = time.perf_counter()
        ours()
        first = time.perf_counter() - t0
        res["estimators.PCD"], times = median_time(ours, repeats)
    emit({"event": "rbm_epoch", "impl": "estimators.PCD-1", "shape": [n_v, n_h], "examples": n, "batch": batch,
          "threads": threads, "median_s": res["estimators.PCD"], "first_s": first, "times_s": [round(t, 4) for t in times]})
    res["numpy"], times = median_time(lambda: numpy_pcd_epoch(x, n_h, batch, 0.05, 0), repeats)
    emit({"event": "rbm_epoch", "impl": "numpy PCD-1 baseline", "median_s": res["numpy"],
          "times_s": [round(t, 4) for t in times]})
    try:
        from sklearn.neural_network import BernoulliRBM
    except ImportError:
        emit({"event": "rbm_epoch", "impl": "sklearn", "skipped": "scikit-learn not installed"})
    else:
        import sklearn

        def peer():
            BernoulliRBM(n_components=n_h, batch_size=batch, n_iter=1, learning_rate=0.05, random_state=0).fit(x)

        res["sklearn"], times = median_time(peer, repeats)
        emit({"event": "rbm_epoch", "impl": f"sklearn {sklearn.__version__} BernoulliRBM", "median_s": res["sklearn"],
              "times_s": [round(t, 4) for t in times]})
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="numba threads for the samplers")
    args = ap.parse_args(argv)
    header("learners")
    emit({"event": "config", "numba_threads_available": numba.config.NUMBA_NUM_THREADS,
          "sampler_threads": args.threads, "quick": args.quick,
          "blas_threads_env": {k: os.environ.get(k) for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                                              "MKL_NUM_THREADS")}})
    if args.quick:
        bm = bm_costs(d=12, n=40, batch=20, repeats=1, threads=args.threads)
        rbm = rbm_epoch(n=200, n_v=20, n_h=10, batch=20, repeats=1, threads=args.threads)
    else:
        bm = bm_costs(d=100, n=2000, batch=100, repeats=max(3, args.repeats), threads=args.threads)
        rbm = rbm_epoch(n=10_000, n_v=784, n_h=500, batch=100, repeats=max(3, args.repeats), threads=args.threads)
    ratios = {"PL_over_CD1_per_update": bm["PseudoLikelihood"] / bm["CD-1"],
              "RM_over_CD1_per_update": bm["RatioMatching"] / bm["CD-1"],
              "PCD1_over_CD1_per_update": bm["PCD-1"] / bm["CD-1"],
              "rbm_epoch_over_numpy": rbm["estimators.PCD"] / rbm["numpy"]}
    if "sklearn" in rbm:
        ratios["rbm_epoch_over_sklearn"] = rbm["estimators.PCD"] / rbm["sklearn"]
    emit({"event": "ratios", **ratios})
    return ratios


if __name__ == "__main__":
    main()
