"""Marginals of UAI-2014 problems from samplers.sample (parallel tempering over compiled Gibbs)
against the official .MAR files: max-abs error and wall time at a documented budget, for
several seeds.  Usage: ``python benchmarks/uai_sampling.py [--seeds 0 1 2]``.
"""

import argparse
import os
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _common import emit, header  # noqa: E402

import pgm  # noqa: E402
import samplers  # noqa: E402

#: problem -> (replicas, beta_min, chains, draws, thin, warmup); one sweep per swap round
BUDGETS = {
    "DBN_11": (12, 0.2, 16, 2500, 2, 1000),
    "Segmentation_11": (12, 0.25, 16, 10000, 4, 2000),
    "Segmentation_12": (12, 0.25, 16, 2500, 2, 1000),
    "ObjectDetection_11": (12, 0.2, 16, 2500, 2, 1000),
}


def run(model, budget, seed):
    R, bmin, chains, draws, thin, warmup = budget
    return samplers.sample(model, method="gibbs", tempering=samplers.geometric_betas(bmin, R),
                           chains=chains, draws=draws, thin=thin, warmup=warmup, seed=seed,
                           progress=False)


def max_error(samples, reference):
    mar = samples.marginals()
    return max(float(np.abs(mar[v] - reference[v]).max()) for v in mar)


def main():
    root = pathlib.Path(__file__).resolve().parents[1]
    ap = argparse.ArgumentParser()
    ap.add_argument("--uai-dir", default=os.environ.get("PGM_UAI_DIR", root.parent / "shared" / "uai2014"))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = ap.parse_args()
    header("uai_sampling")
    for name, budget in BUDGETS.items():
        f = str(pathlib.Path(args.uai_dir) / f"{name}.uai")
        model = pgm.read_uai(f, evidence=f + ".evid")
        ref = pgm.read_marginals(f + ".MAR")
        for seed in args.seeds:
            t = time.perf_counter()
            s = run(model, budget, seed)
            R, bmin, chains, draws, thin, warmup = budget
            emit({"problem": name, "seed": seed, "replicas": R, "beta_min": bmin, "chains": chains,
                  "sweeps": warmup + draws * thin, "seconds": round(time.perf_counter() - t, 2),
                  "max_abs_error": round(max_error(s, ref), 5),
                  "mean_round_trips": float(np.mean(s.info["round_trips"]))})


if __name__ == "__main__":
    main()
