"""AIS speed on an RBM 784×500, 100 runs, against the GEMM bound measured in the same run.

The bound is the time of the two matrix products per intermediate β that any block-Gibbs
AIS step needs (``(runs×n_v)·(n_v×n_h)`` and ``(runs×n_h)·(n_h×n_v)``) with numpy matmul on
the same shapes and dtype.  Reports wall/bound for float32 and float64 and the cost per β at
two schedule lengths (linearity).  Each repeat times the AIS run and then the bound, so a
change of machine load hits both; medians of ``--repeats`` (≥ 1; 3 for the issue figures).
Usage: ``OPENBLAS_NUM_THREADS=1 python benchmarks/ais.py [--betas 14500] [--repeats 3]``.
"""

import argparse
import os
import pathlib
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _common import emit, header, load_average, median_time  # noqa: E402

import pgm  # noqa: E402
import samplers  # noqa: E402


def gemm_bound(runs, n_v, n_h, dtype, steps, repeats=3):
    rng = np.random.default_rng(0)
    v = (rng.random((runs, n_v)) < 0.5).astype(dtype)
    h = (rng.random((runs, n_h)) < 0.5).astype(dtype)
    W = rng.normal(0, 0.01, (n_v, n_h)).astype(dtype)

    def work():
        for _ in range(50):
            v @ W
            h @ W.T

    t, _ = median_time(work, repeats)
    return t / 50 * steps


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--betas", type=int, default=14500)
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    header("ais")
    emit({"event": "config", "blas_threads_env": os.environ.get("OPENBLAS_NUM_THREADS"),
          "repeats": args.repeats})
    n_v, n_h = 784, 500
    rng = np.random.default_rng(1)
    data = (rng.random((1000, n_v)) < 0.13).astype(float)
    W = rng.normal(0, 0.01, (n_v, n_h))        # the same model in both precisions
    for dtype in (np.float32, np.float64):
        rbm = pgm.RBM(n_v, n_h, W=W, dtype=dtype)
        base = samplers.base_rate(data)
        samplers.ais(rbm, betas=samplers.linear_betas(10), runs=args.runs, base=base, seed=0)
        for n_b in (args.betas // 4, args.betas):
            betas = samplers.salakhutdinov_murray_betas() if n_b == 14500 else samplers.linear_betas(n_b)
            walls, bounds = [], []
            for _ in range(max(1, args.repeats)):
                t0 = time.perf_counter()
                r = samplers.ais(rbm, betas=betas, runs=args.runs, base=base, seed=0)
                walls.append(time.perf_counter() - t0)
                bounds.append(gemm_bound(args.runs, n_v, n_h, dtype, n_b - 1))
            wall, bound = statistics.median(walls), statistics.median(bounds)
            emit({"model": "RBM 784x500", "dtype": np.dtype(dtype).name, "runs": args.runs,
                  "betas": n_b, "seconds": round(wall, 3), "gemm_bound_seconds": round(bound, 3),
                  "ratio_to_bound": round(wall / bound, 3),
                  "ratios_per_repeat": [round(w / b, 3) for w, b in zip(walls, bounds)],
                  "ms_per_beta": round(1e3 * wall / n_b, 4),
                  "log_z": round(r.log_z, 4), "log_z_std": round(r.log_z_std, 4),
                  "load_average_1min": load_average()})


if __name__ == "__main__":
    main()
