"""Exact inference on the UAI-2014 problems: time and error of ln Z and all marginals.

Usage: ``python benchmarks/exact.py [--uai-dir ../shared/uai2014] [--repeats 1]``.
Prints one JSON line per problem and a total; the acceptance target is < 60 s for all 12.
"""

import argparse
import json
import os
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _common import emit, header  # noqa: E402

import pgm  # noqa: E402


def main():
    root = pathlib.Path(__file__).resolve().parents[1]
    ap = argparse.ArgumentParser()
    ap.add_argument("--uai-dir", default=os.environ.get("PGM_UAI_DIR", root.parent / "shared" / "uai2014"))
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args()
    d = pathlib.Path(args.uai_dir)
    ref = json.load(open(d / "reference.json"))
    header("exact")
    total = 0.0
    for name in sorted(ref):
        f = str(d / f"{name}.uai")
        best = None
        for _ in range(args.repeats):
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


if __name__ == "__main__":
    main()
