"""Speed of RBM block Gibbs against the GEMM lower bound (issue #4, acceptance 4).

Algorithm under test: layered block Gibbs (SPEC.md §1 RBM, §2 block Gibbs),
``samplers/_layered.py`` — per chain step one ``(chains × n_v) @ (n_v × n_h)`` and one
``(chains × n_h) @ (n_h × n_v)`` BLAS product plus one compiled pass per layer (biases,
logistic, per-chain xoshiro256 uniforms).

The bound: those two products are ``4·n_v·n_h`` FLOP per chain step; their time is measured
here with ``numpy.matmul`` on arrays of the same shapes and dtype (``out=`` buffers, the same
BLAS) in the same process, alternating with the sampler, in both orientations — chain-major
``(V W, H Wᵀ)`` and unit-major ``(Wᵀ V, W H)``, the sampler's — and the faster one is the
bound: ``fraction_of_gemm_bound`` = (sampler chain-steps/s) / (GEMM-only chain-steps/s).  No
sampler can beat 1.0 without a faster matmul.

Prints JSON lines:

* ``{"benchmark": "boltzmann", ...}`` — versions, CPUs, thread counts, load average at start;
* one line per (dtype, chains): ``first_call_s`` (compile or cache load, excluded), medians
  over ``repeats`` (≥ 3) timed runs of ``sweeps`` sweeps each — the GEMM work, then
  ``samplers.sample(..., keep_states=False)`` (recording ``energy``/``lp`` every sweep), then
  warm-up sweeps (nothing recorded), alternating within each repeat — as
  ``*_chain_steps_per_s``, ``gemm_gflops``, ``fraction_of_gemm_bound`` (medians; the ratio of
  best times is ``fraction_of_gemm_bound_best``) and ``other_processes_busy_cpus`` (CPUs kept
  busy by other processes meanwhile, from ``/proc``: figures taken with it above ~0.1 are
  disturbed);
* optional peer line (``sklearn.neural_network.BernoulliRBM.gibbs``) when scikit-learn is
  installed;
* ``{"event": "targets", ...}`` — ≥ 70 % of the bound at 1000 chains, met or not.

Run ``python benchmarks/boltzmann.py`` (≈1–2 minutes on 2 cores) or ``--quick`` (smoke test).
"""

import argparse
import os
import platform
import statistics
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import numba  # noqa: E402

import pgm  # noqa: E402
import samplers  # noqa: E402
from benchmarks._common import emit, load_average, median_time  # noqa: E402


def _cpu_ticks():
    """(busy ticks of the whole machine, ticks of this process) from /proc, or None."""
    try:
        with open("/proc/stat") as fh:
            f = [int(x) for x in fh.readline().split()[1:]]
        with open("/proc/self/stat") as fh:
            g = fh.read().rsplit(")", 1)[1].split()
        return sum(f) - f[3] - f[4], int(g[11]) + int(g[12])  # minus idle, iowait; utime + stime
    except (OSError, ValueError, IndexError):
        return None


def foreign_load(before, after, seconds):
    """Average number of CPUs kept busy by *other* processes between two ``_cpu_ticks``."""
    if before is None or after is None or seconds <= 0:
        return None
    tick = os.sysconf("SC_CLK_TCK")
    return round(((after[0] - before[0]) - (after[1] - before[1])) / tick / seconds, 3)


def gemm_fns(n_v, n_h, chains, dtype, sweeps):
    """The GEMM lower bound's work, ``sweeps`` × the two products of a sweep with ``out=``
    buffers, in both orientations: chain-major ``(V W, H Wᵀ)`` and unit-major ``(Wᵀ V, W H)``
    (the sampler's).  BLAS speed differs between them; the bound is the faster."""
    rng = np.random.default_rng(0)
    W = (0.01 * rng.standard_normal((n_v, n_h))).astype(dtype)
    v = (rng.random((chains, n_v)) < 0.5).astype(dtype)
    h = np.empty((chains, n_h), dtype=dtype)
    vt, ht = np.ascontiguousarray(v.T), np.empty((n_h, chains), dtype=dtype)

    def chain_major():
        t = time.perf_counter()
        for _ in range(sweeps):
            np.matmul(v, W, out=h)
            np.matmul(h, W.T, out=v)
        return time.perf_counter() - t

    def unit_major():
        t = time.perf_counter()
        for _ in range(sweeps):
            np.matmul(W.T, vt, out=ht)
            np.matmul(W, ht, out=vt)
        return time.perf_counter() - t

    return {"gemm_chain_major": chain_major, "gemm_unit_major": unit_major}


def case(n_v, n_h, chains, dtype, sweeps, repeats):
    """GEMM bound, ``samplers.sample`` (recording every sweep) and warm-up-only sweeps, timed
    alternately in each repeat so that load from other processes hits all three alike."""
    rbm = pgm.RBM(n_v, n_h, seed=0, dtype=dtype)
    t = time.perf_counter()
    samplers.sample(rbm, chains=chains, draws=1, warmup=1, seed=0, keep_states=False, progress=False)
    first = time.perf_counter() - t
    gemms = gemm_fns(n_v, n_h, chains, dtype, sweeps)
    for f in gemms.values():
        f()
    times = {**{k: [] for k in gemms}, "sample": [], "warmup": []}
    ticks, t_start = _cpu_ticks(), time.perf_counter()
    for r in range(repeats):
        for k, f in gemms.items():
            times[k].append(f())
        s = samplers.sample(rbm, chains=chains, draws=sweeps, warmup=0, seed=r, keep_states=False, progress=False)
        times["sample"].append(s.info["seconds_sampling"])
        s = samplers.sample(rbm, chains=chains, draws=1, warmup=sweeps, seed=r, keep_states=False, progress=False)
        times["warmup"].append(s.info["seconds_warmup"])
    foreign = foreign_load(ticks, _cpu_ticks(), time.perf_counter() - t_start)
    med = {k: statistics.median(v) for k, v in times.items()}
    gemm_key = min(gemms, key=med.__getitem__)
    med["gemm"] = med[gemm_key]
    rate = {k: chains * sweeps / v for k, v in med.items()}
    flops = 4 * n_v * n_h * chains * sweeps
    out = {"model": f"RBM {n_v}x{n_h}", "dtype": np.dtype(dtype).name, "chains": chains, "sweeps": sweeps,
           "repeats": repeats, "first_call_s": round(first, 3),
           "gemm_bound": gemm_key, "gemm_median_s": med["gemm"], "gemm_gflops": flops / med["gemm"] / 1e9,
           "gemm_gflops_by_orientation": {k: flops / med[k] / 1e9 for k in gemms},
           "gemm_chain_steps_per_s": rate["gemm"],
           "sample_median_s": med["sample"], "sample_chain_steps_per_s": rate["sample"],
           "fraction_of_gemm_bound": rate["sample"] / rate["gemm"],
           "warmup_median_s": med["warmup"], "warmup_chain_steps_per_s": rate["warmup"],
           "warmup_fraction_of_gemm_bound": rate["warmup"] / rate["gemm"],
           "fraction_of_gemm_bound_best": min(min(times[k]) for k in gemms) / min(times["sample"]),
           "other_processes_busy_cpus": foreign,
           "times_s": times}
    emit(out)
    return out


def peer_sklearn(n_v, n_h, chains, sweeps, repeats):
    try:
        from sklearn.neural_network import BernoulliRBM
    except ImportError:
        emit({"peer": "sklearn BernoulliRBM.gibbs", "skipped": "scikit-learn not installed"})
        return
    rng = np.random.default_rng(0)
    X = (rng.random((chains, n_v)) < 0.13).astype(np.float64)
    model = BernoulliRBM(n_components=n_h, n_iter=1, batch_size=100, random_state=0).fit(X[:100])

    def run():
        v = X
        for _ in range(sweeps):
            v = model.gibbs(v)

    med, _ = median_time(run, repeats)
    emit({"peer": "sklearn BernoulliRBM.gibbs", "dtype": "float64", "chains": chains, "sweeps": sweeps,
          "median_s": med, "chain_steps_per_s": chains * sweeps / med})


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    repeats = max(3, args.repeats)
    n_v, n_h = (64, 32) if args.quick else (784, 500)
    plan = [(100, 5 if args.quick else 200), (1000, 3 if args.quick else 40)]
    emit({"benchmark": "boltzmann", "python": sys.version.split()[0], "numpy": np.__version__,
          "numba": numba.__version__, "machine": platform.machine(), "cpus": os.cpu_count(),
          "numba_threads": numba.get_num_threads(),
          "blas_threads_env": os.environ.get("OPENBLAS_NUM_THREADS", "default (all cores)"),
          "load_average_1min": load_average()})
    results = [case(n_v, n_h, chains, dtype, sweeps, repeats)
               for dtype in (np.float32, np.float64) for chains, sweeps in plan]
    peer_sklearn(n_v, n_h, 1000, 3 if args.quick else 20, 3)
    at_1000 = {r["dtype"]: round(r["fraction_of_gemm_bound"], 3) for r in results if r["chains"] == 1000}
    emit({"event": "targets", "target": "fraction_of_gemm_bound >= 0.7 at 1000 chains",
          "fraction_at_1000_chains": at_1000, "met": all(f >= 0.7 for f in at_1000.values()),
          "load_average_1min_end": load_average()})


if __name__ == "__main__":
    main()
