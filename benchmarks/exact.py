"""Exact inference: the UAI-2014 problems, a large Bayesian network against pgmpy, and a
problem whose largest clique needs gigabytes.

* UAI-2014: time and error of ln Z and all marginals of the 12 problems (target < 60 s in all).
* ``munin1`` (bundled, 186 nodes) with evidence on its first four leaves (state 0): ``log P(e)``,
  one-variable queries (median over 20 variables) and all marginals, beside pgmpy's
  ``VariableElimination`` (its ``query`` per variable, which prunes barren and d-separated nodes;
  run from the Python given by ``--pgmpy-python``, which must have pgmpy installed; medians).
* ``big clique``: a fully connected pairwise model of 7 variables with 16 states (the largest
  clique of the UAI problem ObjectDetection_13: 16⁷ entries, 2 GiB per table) — ``log Z`` with
  the default ``memory_limit`` (half of the available memory), which the former fixed 4 GiB
  default refused.

Usage: ``python benchmarks/exact.py [--uai-dir ../shared/uai2014] [--repeats 1]
[--pgmpy-python PATH] [--skip-uai] [--skip-big]``.  Prints JSON lines.
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _common import emit, header  # noqa: E402

import pgm  # noqa: E402


def uai(d, repeats):
    ref = json.load(open(d / "reference.json"))
    total = 0.0
    for name in sorted(ref):
        f = str(d / f"{name}.uai")
        best = None
        for _ in range(repeats):
            t0 = time.perf_counter()
            model = pgm.read_uai(f, evidence=f + ".evid")
            t1 = time.perf_counter()
            log_z = pgm.exact.log_partition(model)
            t2 = time.perf_counter()
            mar = pgm.exact.marginals(model)
            t3 = time.perf_counter()
            rec = (t3 - t0, t1 - t0, t2 - t1, t3 - t2)
            best = rec if best is None or rec[0] < best[0] else best
        expected = pgm.read_marginals(f + ".MAR")
        err = max(float(np.abs(mar[v] - expected[v]).max()) for v in model.variables)
        total += best[0]
        emit({"problem": name, "variables": len(model.variables), "evidence": len(model.evidence),
              "seconds_total": round(best[0], 3), "seconds_parse": round(best[1], 3),
              "seconds_log_partition": round(best[2], 3), "seconds_marginals": round(best[3], 3),
              "lnZ_abs_error": abs(log_z - ref[name]["lnZ"]), "marginal_max_abs_error": err})
    emit({"problem": "ALL", "seconds_total": round(total, 2), "target_seconds": 60})


PGMPY_SCRIPT = r"""
import json, sys, time, statistics
from pgmpy.readwrite import BIFReader
from pgmpy.inference import VariableElimination
path, evidence, names = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
model = BIFReader(path).get_model()
ve = VariableElimination(model)
ev = {k: model.get_cpds(k).state_names[k][v] for k, v in evidence.items()}
ve.query([names[0]], evidence=ev, show_progress=False)
single = []
for v in names:
    t = time.perf_counter(); ve.query([v], evidence=ev, show_progress=False); single.append(time.perf_counter() - t)
t = time.perf_counter()
for v in model.nodes():
    if v not in ev:
        ve.query([v], evidence=ev, show_progress=False)
loop = time.perf_counter() - t
q = ve.query([names[0]], evidence=ev, show_progress=False)
import pgmpy
print(json.dumps({"single_query_s": statistics.median(single), "all_nodes_loop_s": loop,
                  "first_query": [float(x) for x in q.values], "pgmpy": pgmpy.__version__}))
"""


def munin(pgmpy_python, repeats):
    path = pgm.example_path("munin1")
    bn = pgm.read_bif(path)
    leaves = [v for v in bn.variables if not bn.children(v)][:4]
    ev = {v: 0 for v in leaves}
    names = [v for v in bn.variables if v not in ev][:20]
    pgm.exact.query(bn, [names[0]], evidence=ev)
    t_lz = min(_timed(lambda: pgm.exact.log_partition(bn, evidence=ev)) for _ in range(repeats))
    single = float(np.median([_timed(lambda v=v: pgm.exact.query(bn, [v], evidence=ev)) for v in names]))
    t_all = min(_timed(lambda: pgm.exact.marginals(bn, evidence=ev)) for _ in range(repeats))
    out = {"case": "munin1", "evidence": ev, "log_p_e_s": t_lz, "single_query_s": single, "all_marginals_s": t_all}
    if pgmpy_python:
        import gzip

        with tempfile.TemporaryDirectory() as d:
            script, plain = os.path.join(d, "pgmpy_ve.py"), os.path.join(d, "munin1.bif")
            open(script, "w").write(PGMPY_SCRIPT)
            with gzip.open(path, "rb") as src, open(plain, "wb") as dst:   # pgmpy reads plain BIF
                dst.write(src.read())
            r = subprocess.run([pgmpy_python, script, plain, json.dumps(ev), json.dumps(names)],
                               capture_output=True, text=True)
        if r.returncode == 0:
            pm = json.loads(r.stdout.strip().splitlines()[-1])
            ours_first = pgm.exact.query(bn, [names[0]], evidence=ev)
            out.update({"pgmpy": pm["pgmpy"], "pgmpy_single_query_s": pm["single_query_s"],
                        "pgmpy_all_nodes_loop_s": pm["all_nodes_loop_s"],
                        "single_query_over_pgmpy": single / pm["single_query_s"],
                        "all_marginals_over_pgmpy_loop": t_all / pm["all_nodes_loop_s"],
                        "max_abs_difference_first_query": float(np.max(np.abs(ours_first - np.array(pm["first_query"]))))})
        else:
            out["pgmpy_error"] = (r.stderr.strip().splitlines() or ["failed"])[-1]
    emit(out)


def big_clique():
    rng = np.random.default_rng(0)
    names = [f"x{i}" for i in range(7)]
    factors = [pgm.DiscreteFactor.from_log([a, b], rng.normal(0, 0.3, (16, 16)))
               for i, a in enumerate(names) for b in names[i + 1:]]
    mn = pgm.MarkovNetwork(factors, variables=names, cardinalities={v: 16 for v in names})
    limit, why = pgm.exact.default_memory_limit()
    t = time.perf_counter()
    try:
        lz = pgm.exact.log_partition(mn)
        emit({"case": "big_clique", "largest_table_entries": 16 ** 7, "default_limit": why,
              "log_z": lz, "seconds": time.perf_counter() - t,
              "refused_by_old_4GiB_default": _refused(mn, 4 * 2**30)})
    except pgm.errors.TooLargeError as exc:
        emit({"case": "big_clique", "default_limit": why, "refused": str(exc)})


def _refused(model, limit):
    try:
        pgm.exact.log_partition(pgm.MarkovNetwork([pgm.DiscreteFactor(["a"], [1.0, 1.0])]), memory_limit=limit)
        p = pgm.exact.ReducedModel(model, None)
        order = pgm.exact._resolve_order(p, None)
        pgm.exact._CliqueTree(p, order, (), limit, store=False)
        return False
    except pgm.errors.TooLargeError:
        return True


def _timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main():
    root = pathlib.Path(__file__).resolve().parents[1]
    ap = argparse.ArgumentParser()
    ap.add_argument("--uai-dir", default=os.environ.get("PGM_UAI_DIR", root.parent / "shared" / "uai2014"))
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--pgmpy-python", default=None)
    ap.add_argument("--skip-uai", action="store_true")
    ap.add_argument("--skip-big", action="store_true")
    args = ap.parse_args()
    header("exact")
    if not args.skip_uai:
        uai(pathlib.Path(args.uai_dir), args.repeats)
    munin(args.pgmpy_python, max(1, args.repeats))
    if not args.skip_big:
        big_clique()


if __name__ == "__main__":
    main()
