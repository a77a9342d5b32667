"""Work on Dask workers against the local run (issue 17): AIS on Grids_11 (2 000 runs × 10 000 β)
and single-site Gibbs with 64 chains on Segmentation_12, each timed

* locally with the kernels' threads (all cores),
* on a ``LocalCluster`` of 1 worker process (1 thread) and of 2 worker processes (1 thread each),

in the same script; every distributed result is checked equal to the local one.  Also the fixed
overhead of one ``executor=`` call (a 2-chain, 1-draw run on a warm 2-worker cluster: shipping
the model, the start and the results).  Prints JSON lines; the speed-up from 1 to 2 workers is
the figure of merit (≥ 1.7× for jobs over 30 s).

Usage::

    python benchmarks/distributed.py [--quick] [--uai-dir ../shared/uai2014]
"""

import argparse
import os
import pathlib
import sys
import time

import numpy as np

HERE = str(pathlib.Path(__file__).resolve().parent)
sys.path.insert(0, HERE)
from _common import emit, header, median_time  # noqa: E402

# this file is called distributed.py: keep its folder off the path, or ``import distributed``
# (here and in the spawned workers, which inherit sys.path) would find it instead of Dask's
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != HERE]

import pgm  # noqa: E402
import samplers  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _cluster(workers):
    import distributed

    cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=40)
    return cluster, distributed.Client(cluster)


def _warm(client, job):
    """Compile / load the kernels on every worker before timing (numba's cache is on disk)."""
    client.run(lambda: __import__("samplers"))
    job(client, 2)


def _timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small jobs (a smoke test)")
    ap.add_argument("--uai-dir", default=str(ROOT.parent / "shared" / "uai2014"))
    args = ap.parse_args(argv)
    header("distributed")
    uai = pathlib.Path(args.uai_dir)
    grids = pgm.read_uai(uai / "Grids_11.uai", evidence=uai / "Grids_11.uai.evid")
    seg = pgm.read_uai(uai / "Segmentation_12.uai", evidence=uai / "Segmentation_12.uai.evid")
    runs, betas = (200, 1000) if args.quick else (2000, 10_000)
    chains, draws = 64, (500 if args.quick else 20_000)

    jobs = {
        f"ais Grids_11 {runs} runs x {betas} betas": lambda ex, g: samplers.ais(
            grids, betas=betas, runs=runs, seed=0, warn=False, progress=False,
            **({} if ex is None else {"executor": ex, "groups": g})).log_weights,
        f"gibbs Segmentation_12 {chains} chains x {draws} draws": lambda ex, g: samplers.sample(
            seg, chains=chains, draws=draws, seed=0, keep_states=False, warn=False, progress=False,
            **({} if ex is None else {"executor": ex, "groups": g})).sample_stats["lp"],
    }
    for job in jobs.values():                      # compile here
        job(None, None) if args.quick else None
    samplers.ais(grids, betas=10, runs=4, seed=0, warn=False)
    samplers.sample(seg, chains=2, draws=2, seed=0, warn=False, progress=False)

    results = {name: {} for name in jobs}
    for name, job in jobs.items():
        results[name]["local_s"], ref = _timed(lambda: job(None, None))
        results[name]["ref"] = ref
    for workers in (1, 2):
        cluster, client = _cluster(workers)
        try:
            _warm(client, list(jobs.values())[0] if args.quick else (lambda c, g: samplers.ais(
                grids, betas=10, runs=4, seed=0, warn=False, executor=c, groups=g)))
            for name, job in jobs.items():
                t, out = _timed(lambda: job(client, workers))
                results[name][f"workers_{workers}_s"] = t
                results[name][f"workers_{workers}_identical"] = bool(np.array_equal(out, results[name]["ref"]))
            if workers == 2:
                small = pgm.Ising.grid(8, 8, beta=0.3)
                local, _ = median_time(lambda: samplers.sample(small, chains=2, draws=1, warmup=0, seed=0,
                                                               warn=False, progress=False), 7)
                remote, _ = median_time(lambda: samplers.sample(small, chains=2, draws=1, warmup=0, seed=0,
                                                                warn=False, progress=False, executor=client,
                                                                groups=2), 7)
                emit({"case": "fixed overhead of one executor= call (2 chains, 1 draw, 2 workers)",
                      "local_ms": round(1e3 * local, 2), "dask_ms": round(1e3 * remote, 2),
                      "overhead_ms": round(1e3 * (remote - local), 1)})
        finally:
            client.close()
            cluster.close()
    for name, r in results.items():
        r.pop("ref")
        emit({"case": name, "threads_local": os.cpu_count(), **{k: (round(v, 2) if isinstance(v, float) else v)
                                                                for k, v in r.items()},
              "speedup_1_to_2_workers": round(r["workers_1_s"] / r["workers_2_s"], 2),
              "speedup_2_workers_vs_local": round(r["local_s"] / r["workers_2_s"], 2)})


if __name__ == "__main__":
    main()
