"""Critical slowing down: cluster moves against checkerboard heat bath on the 2-D Ising model.

Algorithms under test (SPEC.md §2): ``samplers.sample(model, method=...)`` with
``"block_gibbs"`` (checkerboard heat bath), ``"swendsen_wang"`` and ``"wolff"``
(``samplers/_cluster.py``) on ``pgm.Ising.grid(L, L)`` (periodic, J = 1, h = 0) at
``β_c = ½ log(1 + √2)``.

For each ``L`` and method: every chain starts from an equilibrium state (200 Swendsen–Wang
sweeps from a random start, the same for all methods), then one timed ``samplers.sample`` call
records ``|m|`` (``keep_states=False``).  ArviZ's bulk ESS of ``|m|`` over all chains gives
Sokal's integrated autocorrelation time ``τ_int = ½ + Σ_t ρ_t = chains × sweeps / (2 ESS)`` (in
sweeps; a Wolff step of one cluster counts as ``⟨|C|⟩ / L²`` of a sweep) and the effective samples per CPU second
(``time.process_time`` of the call).  Run lengths aim at ``≥ 200 τ_int`` per chain (a pilot
estimate, extrapolated from the smaller lattice with the method's dynamic exponent, sets them).
The summary fits ``τ_int ∝ L^z`` (least squares in log–log) per method and reports the ratio of
effective samples per CPU second of each cluster method to the heat bath's at ``L = 64``
(issue 11: Swendsen–Wang ≥ 20×).

Run::

    python benchmarks/cluster.py                 # L = 16, 32, 64, 128 (several minutes)
    python benchmarks/cluster.py --quick         # smoke run
"""

import argparse
import math
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import arviz as az  # noqa: E402

import pgm  # noqa: E402
import samplers  # noqa: E402
from benchmarks._common import emit, header  # noqa: E402

BETA_C = math.log(1 + math.sqrt(2)) / 2
METHODS = ("block_gibbs", "swendsen_wang", "wolff")
#: dynamic exponents used only to extrapolate run lengths (literature values)
Z_GUESS = {"block_gibbs": 2.17, "swendsen_wang": 0.3, "wolff": 0.3}


def equilibrium_state(model, chains, seed):
    s = samplers.sample(model, method="swendsen_wang", chains=chains, draws=1, warmup=200, seed=seed,
                        keep_states=False, progress=False)
    return s.final_state


def measure(model, method, chains, sweeps, seed, max_draws):
    """One timed run of ``sweeps`` sweeps (Wolff: as many cluster steps as make them on
    average) from equilibrium; returns the result record."""
    L2 = model.n_variables
    start = equilibrium_state(model, chains, seed)
    steps, per_sweep = sweeps, 1.0
    if method == "wolff":      # steps per sweep from a short pilot's mean cluster size
        pilot = samplers.sample(model, method="wolff", draws=200, warmup=0, init=start,
                                keep_states=False, progress=False)
        per_sweep = L2 / pilot.info["mean_cluster_size"]
        steps = int(math.ceil(sweeps * per_sweep))
        start = pilot.final_state
    thin = max(1, steps // max_draws)
    draws = max(10, steps // thin)
    c0, t0 = time.process_time(), time.perf_counter()
    s = samplers.sample(model, method=method, draws=draws, thin=thin, warmup=0, init=start,
                        keep_states=False, progress=False)
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    absm = np.abs(s.observables["magnetization"])
    idata = az.from_dict(posterior={"abs_m": absm}) if int(az.__version__.split(".")[0]) < 1 else \
        az.from_dict({"posterior": {"abs_m": absm}})
    ess = float(az.ess(idata, var_names=["abs_m"])["abs_m"])
    rhat = float(az.rhat(idata, var_names=["abs_m"])["abs_m"])
    if method == "wolff":
        per_sweep = model.n_variables / s.info["mean_cluster_size"]
    sweeps_done = chains * draws * thin / per_sweep
    return {"L": int(round(math.sqrt(L2))), "method": method, "chains": chains, "draws": draws,
            "thin": thin, "sweeps_per_chain": sweeps_done / chains, "ess_abs_m": ess, "rhat_abs_m": rhat,
            "tau_int_sweeps": sweeps_done / (2 * ess), "cpu_s": cpu, "wall_s": wall,
            "ess_per_cpu_s": ess / cpu, "mean_abs_m": float(absm.mean()),
            "mean_cluster_size": s.info.get("mean_cluster_size"),
            "run_over_tau": 2 * ess / chains}


def fit_slope(Ls, taus):
    x, y = np.log(np.asarray(Ls, float)), np.log(np.asarray(taus, float))
    z, c = np.polyfit(x, y, 1)
    return float(z), float(math.exp(c))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="16,32,64,128")
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1, help="numba threads (default 1: per-CPU figures)")
    ap.add_argument("--run-over-tau", type=float, default=200.0, help="target run length per chain in τ_int")
    ap.add_argument("--max-draws", type=int, default=20000, help="recorded draws per chain at most (thinning)")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    sizes = [8, 16] if args.quick else [int(v) for v in args.sizes.split(",")]
    header("cluster")
    emit({"beta": BETA_C, "chains": args.chains, "threads": args.threads, "sizes": sizes,
          "note": "tau_int of |m| from ArviZ bulk ESS; ESS per process-CPU second"})
    results = {m: [] for m in METHODS}
    with samplers.threads(args.threads):
        for method in METHODS:
            samplers.sample(pgm.Ising.grid(4, 4, beta=BETA_C), method=method, draws=2, progress=False)  # compile
            tau_prev, L_prev = None, None
            for L in sizes:
                model = pgm.Ising.grid(L, L, beta=BETA_C)
                guess = 2.5 if tau_prev is None else tau_prev * (L / L_prev) ** Z_GUESS[method]
                sweeps = int(max(2000 if not args.quick else 200, args.run_over_tau * guess))
                rec = measure(model, method, args.chains, sweeps, seed=L, max_draws=args.max_draws)
                if not args.quick and rec["run_over_tau"] < 0.5 * args.run_over_tau:  # guess too short
                    sweeps = int(args.run_over_tau * rec["tau_int_sweeps"])
                    rec = measure(model, method, args.chains, sweeps, seed=L + 1, max_draws=args.max_draws)
                emit(rec)
                results[method].append(rec)
                tau_prev, L_prev = rec["tau_int_sweeps"], L
    summary = {"event": "summary"}
    for method, recs in results.items():
        if len(recs) >= 2:
            z, c = fit_slope([r["L"] for r in recs], [r["tau_int_sweeps"] for r in recs])
            summary[f"z_{method}"] = z
        summary[f"tau_{method}"] = {str(r["L"]): r["tau_int_sweeps"] for r in recs}
    at = 64 if 64 in sizes else sizes[-1]
    hb = next(r for r in results["block_gibbs"] if r["L"] == at)
    for method in ("swendsen_wang", "wolff"):
        r = next(r for r in results[method] if r["L"] == at)
        summary[f"ess_per_cpu_s_ratio_{method}_vs_heat_bath_L{at}"] = r["ess_per_cpu_s"] / hb["ess_per_cpu_s"]
    summary["target"] = "swendsen_wang ESS/CPU-s >= 20x heat bath at L = 64"
    emit(summary)


if __name__ == "__main__":
    main()
