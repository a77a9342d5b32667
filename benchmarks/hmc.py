"""HMC on an MLP energy (issue #7, item 4): leapfrog steps per second against the matrix products.

Model: ``pgm.MLPEnergy(d, hidden=(64, 64), activation="swish")``; 1000 chains; HMC with a fixed
step size (no adaptation), ``n_leapfrog`` = 10.  Each leapfrog step evaluates the energy and its
gradient for all chains in one batched call: a forward pass (``x W₁``, ``h₁ W₂``) and a backward
pass (``δ₂ W₂ᵀ``, ``δ₁ W₁ᵀ``) — four matrix products.  The bound measured in the same process is
those four ``numpy.matmul`` calls on the same shapes and dtype, repeated once per gradient
evaluation of the run; the ratio ``HMC time / product time`` says how much the activations,
random numbers, leapfrog updates and accept steps add.

Run ``OPENBLAS_NUM_THREADS=1 python benchmarks/hmc.py`` (single-threaded BLAS: on a shared
2-core machine a multithreaded BLAS makes 1000×64 products erratic), ``--quick`` for a smoke
test.  Prints JSON lines: header, one line per (dim, dtype), medians of ``repeats``.
"""

import argparse
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import pgm  # noqa: E402
import samplers  # noqa: E402
from benchmarks._common import emit, header, median_time  # noqa: E402


def matmul_bound(model, chains, evaluations):
    """Seconds for the four products of ``evaluations`` energy-and-gradient passes."""
    dt = model.dtype
    x = np.ones((chains, model.dim), dt)
    W1, W2 = model.weights
    h1 = np.ones((chains, W1.shape[1]), dt)
    d2 = np.ones((chains, W2.shape[1]), dt)
    d1 = np.ones((chains, W1.shape[1]), dt)

    def products():
        for _ in range(evaluations):
            x @ W1
            h1 @ W2
            d2 @ W2.T
            d1 @ W1.T

    return products


def run(dim, dtype, chains, draws, n_leapfrog, repeats):
    model = pgm.MLPEnergy(dim, hidden=(64, 64), activation="swish", seed=0, quadratic=0.5, dtype=dtype)
    kwargs = dict(method="hmc", chains=chains, draws=draws, warmup=0, seed=1, progress=False,
                  step_size=0.1, adapt_step_size=False, n_leapfrog=n_leapfrog)
    t0 = time.perf_counter()
    samplers.sample(model, **{**kwargs, "draws": 2})
    first_call = time.perf_counter() - t0
    s = samplers.sample(model, **kwargs)
    evals = int(s.info["n_grad_evals"]) // chains      # batched calls (info counts per chain)
    t_hmc, _ = median_time(lambda: samplers.sample(model, **kwargs), repeats)
    t_mm, _ = median_time(matmul_bound(model, chains, evals), repeats)
    steps = chains * draws * n_leapfrog
    flops = 2 * chains * 2 * (dim * 64 + 64 * 64) * evals
    return {"dim": dim, "dtype": np.dtype(dtype).name, "chains": chains, "draws": draws,
            "n_leapfrog": n_leapfrog, "grad_evals_per_chain": evals, "first_call_s": round(first_call, 3),
            "hmc_s": round(t_hmc, 4), "matmul_s": round(t_mm, 4), "ratio_hmc_over_matmul": round(t_hmc / t_mm, 2),
            "leapfrog_steps_per_s": round(steps / t_hmc), "transitions_per_s": round(chains * draws / t_hmc),
            "matmul_gflops": round(flops / t_mm / 1e9, 2), "hmc_gflops": round(flops / t_hmc / 1e9, 2),
            "mean_acceptance": round(float(np.mean(s.sample_stats["acceptance_rate"])), 3),
            "divergences": int(np.sum(s.sample_stats["diverging"]))}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    header("hmc_mlp")
    emit({"blas_threads_env": os.environ.get("OPENBLAS_NUM_THREADS")})
    chains, draws = (50, 3) if args.quick else (1000, 40)
    for dim in (2, 64):
        for dtype in (np.float64, np.float32):
            emit(run(dim, dtype, chains, draws, 10, 1 if args.quick else args.repeats))


if __name__ == "__main__":
    main()
