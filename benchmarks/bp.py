"""Loopy belief propagation: accuracy on the UAI-2014 problems and speed against PGMax.

Algorithm under test (SPEC.md §4b): ``pgm.inference.belief_propagation``.

* ``uai``: all 12 problems of ``../shared/uai2014`` with their evidence, sum-product, flooding
  schedule, damping 0.5, at most 1000 iterations, tol 1e-8 (then residual BP from scratch when
  that does not converge): convergence, iterations, seconds, max-abs error of the beliefs
  against the competition's ``.MAR``, and Bethe ``log Z`` minus the reference ``lnZ``.
* ``speed``: message updates per second — factor→variable messages of the pairwise (resp.
  3-way) factors times iterations over the seconds of the message loop — for the same number of
  iterations (100) and the same damping (0.5) as PGMax (a peer, not a dependency: run from the
  Python given by ``--pgmax-python``, e.g. a venv with ``pip install pgmax "jax==0.4.30"
  "jaxlib==0.4.30"``; PGMax 0.6.1 does not run with current JAX: ``jax.lib.xla_bridge`` is
  gone).  Models: a 200×200 binary Ising grid (open boundary, couplings and fields N(0, 1));
  a random factor graph of 1000 binary variables and 1000 3-way factors (log-potentials
  N(0, 1)) plus unary ones.  Ours is timed as the iteration loop (``run``) and as the whole
  call (compilation of the model's factors included); PGMax as ``bp.run`` after a warm-up run
  of the same length (compilation excluded), ``jax.block_until_ready``.  Medians of repeats.

Prints JSON lines.  Run ``python benchmarks/bp.py [--pgmax-python PATH] [--quick]``.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import pgm  # noqa: E402
import samplers  # noqa: E402
from benchmarks._common import emit, header, median_time  # noqa: E402
from pgm.errors import ConvergenceWarning  # noqa: E402

UAI = os.path.join(os.path.dirname(ROOT), "shared", "uai2014")


def uai_report(names=None):
    ref = json.load(open(os.path.join(UAI, "reference.json")))
    for name in sorted(ref) if names is None else names:
        path = os.path.join(UAI, f"{name}.uai")
        model = pgm.read_uai(path, evidence=path + ".evid")
        mar = pgm.read_marginals(path + ".MAR")
        out = {"case": "uai", "problem": name, "variables": len(model.variables)}
        for schedule in ("parallel", "residual"):
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                r = pgm.inference.belief_propagation(model, damping=0.5 if schedule == "parallel" else 0.0,
                                                     schedule=schedule, max_iter=1000, tol=1e-8)
            dt = time.perf_counter() - t0
            err = max(float(np.max(np.abs(r.marginals[v] - mar[i]))) for i, v in enumerate(model.variables))
            out.update({"schedule": schedule, "converged": r.converged, "iterations": r.iterations,
                        "residual": r.residual, "seconds": dt, "max_abs_marginal_error": err,
                        "bethe_log_z": r.log_z, "reference_log_z": ref[name]["lnZ"],
                        "log_z_error": r.log_z - ref[name]["lnZ"]})
            if r.converged:
                break
        emit(out)


def ising_grid(L, seed=0):
    rng = np.random.default_rng(seed)
    J = rng.normal(0, 1, 2 * L * (L - 1))
    h = rng.normal(0, 1, L * L)
    return pgm.Ising.grid(L, L, coupling=J, field=h, periodic=False), J, h


def random_triples(n=1000, m=1000, seed=0):
    rng = np.random.default_rng(seed)
    scopes = [rng.choice(n, 3, replace=False) for _ in range(m)]
    tables = rng.normal(0, 1, (m, 2, 2, 2))
    unary = rng.normal(0, 1, (n, 2))
    factors = [pgm.DiscreteFactor.from_log([int(v) for v in s], t) for s, t in zip(scopes, tables)]
    factors += [pgm.DiscreteFactor.from_log([i], unary[i]) for i in range(n)]
    mn = pgm.MarkovNetwork(factors, variables=list(range(n)), cardinalities={i: 2 for i in range(n)})
    return mn, scopes, tables, unary


PGMAX_SCRIPT = r"""
import json, sys, time
import numpy as np
import jax
from pgmax import fgraph, fgroup, infer, vgroup
spec = json.load(open(sys.argv[1]))
iters, damping, repeats = spec["iters"], spec["damping"], spec["repeats"]
if spec["model"] == "grid":
    L = spec["L"]; J = np.array(spec["J"]); h = np.array(spec["h"])
    variables = vgroup.NDVarArray(num_states=2, shape=(L * L,))
    fg = fgraph.FactorGraph(variable_groups=variables)
    pairs, k = [], 0
    for r in range(L):
        for c in range(L):
            i = r * L + c
            if c + 1 < L: pairs.append((i, i + 1))
            if r + 1 < L: pairs.append((i, i + L))
    # pgm.Ising.grid edge order: networkx insertion order (right, then down per site)
    lp = np.stack([np.array([[j, -j], [-j, j]]) for j in J])
    fg.add_factors(fgroup.PairwiseFactorGroup(variables_for_factors=[[variables[a], variables[b]] for a, b in pairs],
                                              log_potential_matrix=lp))
    evidence = np.stack([-h, h], axis=-1)
    n_msgs = 2 * len(pairs)
else:
    n = spec["n"]; scopes = spec["scopes"]; tables = np.array(spec["tables"]); unary = np.array(spec["unary"])
    variables = vgroup.NDVarArray(num_states=2, shape=(n,))
    fg = fgraph.FactorGraph(variable_groups=variables)
    configs = np.array([[a, b, c] for a in (0, 1) for b in (0, 1) for c in (0, 1)])
    fg.add_factors(fgroup.EnumFactorGroup(variables_for_factors=[[variables[int(v)] for v in s] for s in scopes],
                                          factor_configs=configs,
                                          log_potentials=tables.reshape(len(scopes), 8)))
    evidence = unary
    n_msgs = 3 * len(scopes)
bp = infer.build_inferer(fg.bp_state, backend="bp")
arrays = bp.init(evidence_updates={variables: evidence})
out = bp.run(arrays, num_iters=iters, damping=damping, temperature=1.0)
jax.block_until_ready(out.ftov_msgs)
ts = []
for _ in range(repeats):
    t = time.perf_counter()
    out = bp.run(arrays, num_iters=iters, damping=damping, temperature=1.0)
    jax.block_until_ready(out.ftov_msgs)
    ts.append(time.perf_counter() - t)
beliefs = bp.get_beliefs(out)[variables]
marg = np.exp(np.asarray(beliefs) - np.asarray(jax.scipy.special.logsumexp(beliefs, axis=-1, keepdims=True)))
print(json.dumps({"seconds": sorted(ts)[len(ts) // 2], "times": ts, "messages_per_iteration": n_msgs,
                  "p1": marg[:, 1].tolist(), "jax": jax.__version__}))
"""


def run_pgmax(python, spec):
    with tempfile.TemporaryDirectory() as d:
        sp, script = os.path.join(d, "spec.json"), os.path.join(d, "pgmax_bp.py")
        json.dump(spec, open(sp, "w"))
        open(script, "w").write(PGMAX_SCRIPT)
        r = subprocess.run([python, script, sp], capture_output=True, text=True)
        if r.returncode != 0:
            return {"error": r.stderr.strip().splitlines()[-1] if r.stderr.strip() else "failed"}
        return json.loads(r.stdout.strip().splitlines()[-1])


def speed(pgmax_python, quick, repeats, threads):
    from pgm._bp_pairwise import BinaryPairwiseGraph
    from pgm.belief_propagation import _Graph
    from pgm.exact import ReducedModel

    iters, damping = (10 if quick else 100), 0.5
    L = 20 if quick else 200
    model, J, h = ising_grid(L)
    n_msgs = 2 * J.size
    problem = ReducedModel(model, None)
    g = BinaryPairwiseGraph(problem)
    out = {"case": "speed", "model": f"ising_grid_{L}x{L}", "iterations": iters, "damping": damping,
           "messages_per_iteration": n_msgs, "threads": threads}
    with samplers.threads(threads):
        g.run("sum", damping, 2, 1e-300)
        t_loop, _ = median_time(lambda: g.run("sum", damping, iters, 1e-300), repeats)
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            ours = pgm.inference.belief_propagation(model, damping=damping, max_iter=iters, tol=1e-300)
        t_call = time.perf_counter() - t0
    out.update({"ours_loop_s": t_loop, "ours_call_s": t_call, "ours_messages_per_s": n_msgs * iters / t_loop})
    if pgmax_python:
        pm = run_pgmax(pgmax_python, {"model": "grid", "L": L, "J": J.tolist(), "h": h.tolist(),
                                      "iters": iters, "damping": damping, "repeats": repeats})
        if "seconds" in pm:
            p1 = np.array([ours.marginals[i][1] for i in range(L * L)])
            out.update({"pgmax_s": pm["seconds"], "pgmax_messages_per_s": n_msgs * iters / pm["seconds"],
                        "ours_over_pgmax_speed": pm["seconds"] / t_loop, "jax": pm["jax"],
                        "max_abs_belief_difference": float(np.max(np.abs(p1 - np.array(pm["p1"]))))})
        else:
            out["pgmax_error"] = pm["error"]
    emit(out)

    n = 100 if quick else 1000
    mn, scopes, tables, unary = random_triples(n, n)
    problem = ReducedModel(mn, None)
    gg = _Graph(problem)
    out = {"case": "speed", "model": f"random_3way_{n}", "iterations": iters, "damping": damping,
           "messages_per_iteration": 3 * n, "threads": threads}
    with samplers.threads(threads):
        gg.run("sum", damping, 2, 1e-300, "parallel")
        t_loop, _ = median_time(lambda: gg.run("sum", damping, iters, 1e-300, "parallel"), repeats)
    out.update({"ours_loop_s": t_loop, "ours_messages_per_s": 3 * n * iters / t_loop})
    if pgmax_python:
        pm = run_pgmax(pgmax_python, {"model": "triples", "n": n, "scopes": [s.tolist() for s in scopes],
                                      "tables": tables.tolist(), "unary": unary.tolist(), "iters": iters,
                                      "damping": damping, "repeats": repeats})
        if "seconds" in pm:
            out.update({"pgmax_s": pm["seconds"], "pgmax_messages_per_s": 3 * n * iters / pm["seconds"],
                        "ours_over_pgmax_speed": pm["seconds"] / t_loop})
        else:
            out["pgmax_error"] = pm["error"]
    emit(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pgmax-python", default=None, help="a Python with pgmax installed")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--skip-uai", action="store_true")
    args = ap.parse_args(argv)
    header("bp")
    if not args.skip_uai and os.path.exists(os.path.join(UAI, "reference.json")):
        uai_report(["Grids_11", "Segmentation_11"] if args.quick else None)
    for k in [int(t) for t in args.threads.split(",")]:
        speed(args.pgmax_python, args.quick, max(3, args.repeats), k)


if __name__ == "__main__":
    main()
