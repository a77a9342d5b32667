"""Speed benchmark of the compiled heat-bath (Gibbs) spin kernels.

Algorithm under test: single-site heat-bath Gibbs / colour-block Gibbs for
pairwise spin models (SPEC.md §2), ``samplers/_spin_kernels.py``.

Prints one JSON object per line:

* ``{"event": "env", ...}`` -- versions, CPU count, load average at start, pinning;
* one line per (case, threads): ``model``, ``path`` (fast table / general),
  ``scan``, ``n_sites``, ``chains``, ``threads``, ``sweeps``, ``median_s`` over
  ``repeats`` (>= 3) timed calls, ``spin_updates_per_s``, ``ns_per_update``,
  ``first_call_s`` (compile or cache load, excluded from the timings) and, for the
  128x128 lattice, ``ratio_vs_numpy`` against a vectorised numpy checkerboard
  heat-bath measured in the same process;
* ``{"model": "ising2d_Lscan_summary", ...}`` -- per-update cost flatness;
* ``{"case": "api", ...}`` -- ``samplers.sample`` beside the bare kernel (``run_plan``) on the
  128x128 lattice with 8 chains: the fixed cost of one call (one sweep, from a seed and from a
  thermalised ``ChainState``, minus one bare sweep) and the ratio of kernel to API time at 1000
  sweeps with thin 100 (states kept), both from thermalised states;
* ``{"event": "fresh_process", ...}`` -- import + first call in a fresh
  subprocess with a cold numba cache (a temporary ``NUMBA_CACHE_DIR``) and then
  again with that cache warm;
* ``{"event": "targets", ...}`` -- the speed targets and whether they were met.

Every timed kernel call starts from thermalised states (random spins, then
``min(1000, 1e8 / (chains n))`` sweeps): an all-ones start at the critical point flips few spins
and flatters branch prediction.  Each thread count ``k`` is measured in its own child process whose affinity is
set to CPUs ``0..k-1`` (``os.sched_setaffinity``, the equivalent of
``taskset -c 0`` for one thread; not set when ``k`` equals the CPU count)
before numba starts its thread pool; the
numpy baseline is re-measured in every child so that ``ratio_vs_numpy`` compares
numbers taken in the same process.

Run::

    python benchmarks/gibbs.py               # everything (~1-2 minutes)
    python benchmarks/gibbs.py --quick       # smoke run, tiny sizes
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import networkx as nx  # noqa: E402
import numba  # noqa: E402

import samplers  # noqa: E402
from samplers._rng import make_rng_state  # noqa: E402
from samplers._spin_kernels import (  # noqa: E402
    checkerboard_order,
    csr_from_edges,
    lattice_edges,
    make_plan,
    order_from_colouring,
    run_plan,
)


def emit(obj):
    print(json.dumps(obj), flush=True)


def _pin(cpus):
    """Restrict this process to ``cpus`` *before* numba starts its thread pool.

    Changing the affinity of a running OpenMP pool was found to leave the
    worker sleeping on the main thread's CPU (8 ms per call), so every thread
    count is measured in its own child process pinned at start-up.
    """
    if not hasattr(os, "sched_setaffinity"):
        return False
    try:
        os.sched_setaffinity(0, cpus)
        return True
    except OSError:
        return False


def time_calls(fn, repeats):
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts)), float(np.min(ts))


# ---------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------


def ising_plan(L, fast=None):
    ip, ix, w = csr_from_edges(L * L, lattice_edges(L), 1.0)
    return make_plan(ip, ix, w, 0.0, checkerboard_order(L), fast=fast)


def graph_plan(G, weights, fast=None):
    n = G.number_of_nodes()
    edges = np.array(G.edges(), dtype=np.int64)
    ip, ix, w = csr_from_edges(n, edges, weights)
    colours = nx.greedy_color(G, strategy="smallest_last")
    return make_plan(ip, ix, w, 0.0, order_from_colouring(colours), fast=fast), \
        max(colours.values()) + 1


# ---------------------------------------------------------------------------
# numpy baseline: vectorised checkerboard heat-bath on (chains, L, L)
# ---------------------------------------------------------------------------


def numpy_checkerboard(spins, beta, n_sweeps, rng):
    """Heat-bath over the two sublattices with np.roll neighbour sums (J=1, h=0)."""
    L = spins.shape[-1]
    r, c = np.indices((L, L))
    masks = [((r + c) % 2 == k) for k in (0, 1)]
    table = 1.0 / (1.0 + np.exp(-2.0 * beta * np.arange(-4, 5)))
    for _ in range(n_sweeps):
        for mask in masks:
            nb = (np.roll(spins, 1, -1) + np.roll(spins, -1, -1)
                  + np.roll(spins, 1, -2) + np.roll(spins, -1, -2))
            p = table[nb + 4]
            new = np.where(rng.random(spins.shape) < p, 1, -1).astype(np.int8)
            spins = np.where(mask, new, spins)
    return spins


def bench_numpy_baseline(L, chains, sweeps, beta, repeats):
    rng = np.random.default_rng(0)
    s0 = np.ones((chains, L, L), dtype=np.int8)
    numpy_checkerboard(s0, beta, 1, rng)
    med, mn = time_calls(lambda: numpy_checkerboard(s0, beta, sweeps, rng), repeats)
    rate = chains * L * L * sweeps / med
    return {"model": f"ising2d_{L}_numpy_baseline", "path": "numpy", "scan": "checkerboard",
            "n_sites": L * L, "chains": chains, "threads": 1, "sweeps": sweeps,
            "beta": beta, "repeats": repeats, "median_s": med, "min_s": mn,
            "spin_updates_per_s": rate, "ns_per_update": 1e9 / rate}


# ---------------------------------------------------------------------------
# Kernel cases
# ---------------------------------------------------------------------------

_first_call_done = set()


def thermalised(plan, beta, chains, seed=12345):
    """Random spins and streams, then ``min(1000, 1e8 / (chains n))`` (at least 20) sweeps."""
    spins = np.where(np.random.default_rng(seed).random((chains, plan.n)) < 0.5, 1, -1).astype(np.int8)
    rng = make_rng_state(seed, chains)
    run_plan(plan, spins, rng, beta, max(20, min(1000, int(1e8 / (chains * plan.n)))))
    return spins, rng


def bench_case(name, plan, beta, chains, sweeps, nthreads, repeats, random_scan=False,
               extra=None, ratio_to=None):
    with samplers.threads(nthreads):
        key = (plan.is_fast, random_scan)
        t0 = time.perf_counter()
        spins, rng = thermalised(plan, beta, chains)     # (includes compile / cache load)
        first = time.perf_counter() - t0
        first_is_compile = key not in _first_call_done
        _first_call_done.add(key)
        med, mn = time_calls(lambda: run_plan(plan, spins, rng, beta, sweeps, random_scan),
                             repeats)
    rate = chains * plan.n_free * sweeps / med
    out = {"model": name, "path": "fast" if plan.is_fast else "general",
           "scan": "random" if random_scan else "blocks", "n_sites": plan.n,
           "n_edges": int(plan.ptr[-1]) // 2, "max_degree": plan.max_degree,
           "chains": chains, "threads": nthreads, "sweeps": sweeps, "beta": beta,
           "repeats": repeats, "median_s": med, "min_s": mn, "spin_updates_per_s": rate,
           "ns_per_update": 1e9 / rate,
           "first_call_s": first if first_is_compile else None}
    if extra:
        out.update(extra)
    if ratio_to:
        out["ratio_vs_numpy"] = rate / ratio_to
    emit(out)
    return out


FRESH_SNIPPET = r"""
import json, sys, time
t0 = time.perf_counter()
sys.path.insert(0, {root!r})
import numpy as np
from samplers._rng import make_rng_state
from samplers._spin_kernels import (csr_from_edges, lattice_edges, checkerboard_order,
                                    make_plan, run_plan, sample_plan)
t1 = time.perf_counter()
ip, ix, w = csr_from_edges(64, lattice_edges(8), 1.0)
plan = make_plan(ip, ix, w, 0.0, checkerboard_order(8))
s = np.ones((2, 64), np.int8); st = make_rng_state(0, 2)
t2 = time.perf_counter()
run_plan(plan, s, st, 0.44, 10)
t3 = time.perf_counter()
sample_plan(plan, s, st, 0.44, 5, 2)
t4 = time.perf_counter()
gplan = make_plan(ip, ix, w, 0.0, checkerboard_order(8), fast=False)
run_plan(gplan, s, st, 0.44, 10)
t5 = time.perf_counter()
print(json.dumps({{"import_s": t1 - t0, "first_run_plan_fast_s": t3 - t2,
                  "first_sample_plan_fast_s": t4 - t3, "first_run_plan_general_s": t5 - t4,
                  "total_s": t5 - t0}}))
"""


def bench_fresh_process():
    code = FRESH_SNIPPET.format(root=ROOT)
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        for label in ("cold_cache", "warm_cache"):
            t0 = time.perf_counter()
            r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                               text=True, check=True)
            wall = time.perf_counter() - t0
            res = json.loads(r.stdout.strip().splitlines()[-1])
            emit({"event": "fresh_process", "cache": label, "process_wall_s": wall, **res})


def bench_api(L, beta, chains, k, repeats):
    """``samplers.sample`` against ``run_plan`` on the same lattice, order and states."""
    import pgm

    model = pgm.Ising.grid(L, L, beta=beta)
    plan = ising_plan(L)
    with samplers.threads(k):
        kw = dict(method="block_gibbs", chains=chains, progress=False)
        samplers.sample(model, draws=1, warmup=0, seed=0, **kw)            # compile
        state = samplers.sample(model, draws=1, warmup=max(20, min(1000, int(1e8 / (chains * L * L)))),
                                seed=1, keep_states=False, **kw).final_state
        spins = np.ascontiguousarray(state.x, dtype=np.int8)
        rng = state.rng_state.copy()
        reps = max(repeats, 11)
        kernel_1, _ = time_calls(lambda: run_plan(plan, spins, rng, beta, 1), reps)
        fresh_1, _ = time_calls(lambda: samplers.sample(model, draws=1, warmup=0, seed=0, **kw), reps)
        resumed_1, _ = time_calls(lambda: samplers.sample(model, draws=1, warmup=0, init=state, **kw), reps)
        kernel_1000, _ = time_calls(lambda: run_plan(plan, spins, rng, beta, 1000), repeats)
        api_1000, _ = time_calls(lambda: samplers.sample(model, draws=10, thin=100, warmup=0, init=state,
                                                         **kw), repeats)
    emit({"case": "api", "model": f"ising2d_{L}", "chains": chains, "threads": k, "repeats": reps,
          "kernel_one_sweep_ms": 1e3 * kernel_1, "api_one_sweep_from_seed_ms": 1e3 * fresh_1,
          "api_one_sweep_from_state_ms": 1e3 * resumed_1,
          "fixed_cost_from_seed_ms": 1e3 * (fresh_1 - kernel_1),
          "fixed_cost_from_state_ms": 1e3 * (resumed_1 - kernel_1),
          "kernel_1000_sweeps_s": kernel_1000, "api_1000_sweeps_thin_100_s": api_1000,
          "api_over_kernel_speed": kernel_1000 / api_1000})


def run_suite(k, repeats, quick):
    """All kernel cases with ``k`` numba threads, in this (pinned) process."""
    L0 = 16 if quick else 128
    chains = 8
    sweeps0 = 5 if quick else 200
    beta_ising = 0.44
    base = bench_numpy_baseline(L0, chains, max(2, sweeps0 // 4), beta_ising, repeats)
    base["threads_of_suite"] = k
    emit(base)

    plan128 = ising_plan(L0)
    bench_case(f"ising2d_{L0}", plan128, beta_ising, chains, sweeps0, k, repeats,
               extra={"case": "ising", "numpy_baseline_updates_per_s":
                      base["spin_updates_per_s"]}, ratio_to=base["spin_updates_per_s"])

    N = 200 if quick else 10_000
    G = nx.random_regular_graph(3, N, seed=1)
    w = np.random.default_rng(1).choice([-1.0, 1.0], G.number_of_edges())
    plan_rr, ncol = graph_plan(G, w)
    bench_case(f"random_3_regular_pm1_{N}", plan_rr, 0.5, chains, sweeps0, k, repeats,
               extra={"case": "rr3", "colours": ncol})
    G = nx.barabasi_albert_graph(N, 2, seed=1)
    plan_ba, ncol = graph_plan(G, 1.0)
    bench_case(f"barabasi_albert_m2_{N}", plan_ba, 0.5, chains, sweeps0, k, repeats,
               extra={"case": "ba", "colours": ncol})

    # other paths on the lattice: general float path and random scan
    bench_case(f"ising2d_{L0}", ising_plan(L0, fast=False), beta_ising, chains, sweeps0, k,
               repeats, extra={"case": "ising_general"})
    bench_case(f"ising2d_{L0}", plan128, beta_ising, chains, sweeps0, k, repeats,
               random_scan=True, extra={"case": "ising_random_scan"})

    bench_api(L0, beta_ising, chains, k, repeats)

    # L-scan: per-update cost flatness (~26M updates per timed call)
    Ls = [8, 16] if quick else [32, 64, 128, 256, 512, 1024]
    ns = {}
    for L in Ls:
        sweeps = max(3, int(round(sweeps0 * (L0 / L) ** 2)))
        r = bench_case(f"ising2d_{L}", ising_plan(L), beta_ising, chains, sweeps, k, repeats,
                       extra={"case": "Lscan"})
        ns[L] = r["ns_per_update"]
    vals = np.array(list(ns.values()))
    med = float(np.median(vals))
    emit({"model": "ising2d_Lscan_summary", "threads": k,
          "ns_per_update": {str(L): v for L, v in ns.items()},
          "max_over_min": float(vals.max() / vals.min()),
          "max_rel_dev_from_median": float(np.abs(vals / med - 1).max())})


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", default="1,2", help="comma-separated numba thread counts")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    ap.add_argument("--no-pin", action="store_true", help="do not set CPU affinity")
    ap.add_argument("--skip-fresh", action="store_true", help="skip the subprocess timings")
    ap.add_argument("--suite", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    repeats = max(3, args.repeats)
    ncpu = os.cpu_count() or 1

    if args.suite is not None:  # child: one thread count, pinned from the start
        run_suite(args.suite, repeats, args.quick)
        return

    thread_list = [int(t) for t in args.threads.split(",")]
    thread_list = [t for t in thread_list if t <= numba.config.NUMBA_NUM_THREADS]
    emit({"event": "env", "loadavg_start": os.getloadavg(), "cpu_count": ncpu,
          "numba": numba.__version__, "numpy": np.__version__,
          "python": platform.python_version(), "numba_max_threads":
          numba.config.NUMBA_NUM_THREADS, "threading_layer_config":
          numba.config.THREADING_LAYER, "pinned": not args.no_pin, "repeats": repeats,
          "note": "each thread count runs in a child process pinned to CPUs 0..k-1"})

    lines = []
    for k in thread_list:
        cmd = [sys.executable, os.path.abspath(__file__), "--suite", str(k),
               "--repeats", str(repeats)] + (["--quick"] if args.quick else [])
        if not args.no_pin and k < ncpu:
            # k == ncpu: no pinning (a mask equal to all CPUs changes nothing but
            # was seen to trigger the same 8 ms wake-up stalls)
            cmd += ["--pin-cpus", ",".join(str(c) for c in range(k))]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr)
            raise SystemExit(f"benchmark child for {k} threads failed")
        for line in proc.stdout.splitlines():
            if line.strip():
                print(line, flush=True)
                lines.append(json.loads(line))

    if not args.skip_fresh:
        bench_fresh_process()

    if args.quick:
        return

    def rate(case, k):
        for r in lines:
            if r.get("case") == case and r.get("threads") == k:
                return r["spin_updates_per_s"]
        return None

    checks = []

    def check(label, value, target, higher_is_better=True):
        if value is not None:
            ok = value >= target if higher_is_better else value <= target
            checks.append({"check": label, "value": value, "target": target, "ok": bool(ok)})

    check("ising2d_128 1 thread updates/s", rate("ising", 1), 2.2e8)
    check("random_3_regular 1 thread updates/s", rate("rr3", 1), 1.2e8)
    check("barabasi_albert 1 thread updates/s", rate("ba", 1), 1.0e8)
    for case in ("ising", "rr3", "ba"):
        if rate(case, 1) and rate(case, 2):
            check(f"{case} speed-up 2 vs 1 thread", rate(case, 2) / rate(case, 1), 1.8)
    for r in lines:
        if r.get("case") == "api":
            check(f"samplers.sample fixed cost per call, ms ({r['threads']} thread)",
                  r["fixed_cost_from_seed_ms"], 5.0, higher_is_better=False)
            check(f"samplers.sample / run_plan speed at 1000 sweeps, thin 100 ({r['threads']} thread)",
                  r["api_over_kernel_speed"], 0.9)
        if r.get("model") == "ising2d_Lscan_summary":
            check(f"Lscan max deviation from median ({r['threads']} thread)",
                  r["max_rel_dev_from_median"], 0.30, higher_is_better=False)
    emit({"event": "targets", "checks": checks, "loadavg_end": os.getloadavg()})


if __name__ == "__main__":
    if "--pin-cpus" in sys.argv:  # pin before numba creates any thread
        i = sys.argv.index("--pin-cpus")
        _pin({int(c) for c in sys.argv[i + 1].split(",")})
        del sys.argv[i:i + 2]
    main()
