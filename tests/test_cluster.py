"""Swendsen–Wang and Wolff cluster moves (samplers/_cluster.py) against enumeration.

Stationarity from exact starts (TESTING.md): N = 20 000 independent chains start from exact
draws of a 3×3 torus, take a few cluster steps, and the N final joint states (2⁹ cells) are
chi-square-tested against the exact distribution, α = 1e-5 per test (14 such tests here: a
spurious failure of a correct sampler has probability < 2e-4).  Convergence from one fixed
state catches a kernel that does not move; a model with a 25 % coupling error is rejected
(the test can fail).  Cases: uniform couplings without field, random ferromagnetic couplings
with a field of both signs (ghost spin), clamped sites, antiferromagnetic / frustrated random
couplings (the generalised bond rule), a Boltzmann machine (0/1 units) and a binary pairwise
Markov network through their spin forms.
"""

import networkx as nx
import numpy as np
import pytest

import pgm
import samplers
from pgm.errors import ModelError

from .test_gibbs_exactness import ALPHA, exact_states, joint_pvalue

N = 20000
METHODS = ["swendsen_wang", "wolff"]
#: steps per test: a Wolff step is one cluster (a fraction of the lattice)
STEPS = {"swendsen_wang": 3, "wolff": 12}


def torus(coupling, field=0.0, beta=1.0):
    g = nx.Graph()
    for r in range(3):
        for c in range(3):
            g.add_edge(r * 3 + c, r * 3 + (c + 1) % 3)
            g.add_edge(r * 3 + c, ((r + 1) % 3) * 3 + c)
    return pgm.Ising(g, coupling=coupling, field=field, beta=beta)


def cases():
    rng = np.random.default_rng(11)
    return {
        "uniform_no_field": (torus(1.0, 0.0, beta=0.45), None),
        "ferro_with_field": (torus(rng.uniform(0.2, 1.0, 18), rng.normal(0, 0.4, 9), beta=0.9), None),
        "clamped_sites": (torus(rng.uniform(0.2, 1.0, 18), 0.0, beta=0.7), {0: 1, 4: -1}),
        "frustrated_with_field": (torus(rng.normal(0, 0.8, 18), rng.normal(0, 0.4, 9), beta=1.0), None),
    }


def run_from(model, method, init, steps, evidence=None, seed=1):
    kw = {} if evidence is None else {"evidence": evidence}
    s = samplers.sample(model, method=method, chains=len(init), draws=1, warmup=steps - 1,
                        init=init, seed=seed, progress=False, **kw)
    return s.states[:, -1]


@pytest.mark.parametrize("case", sorted(cases()))
@pytest.mark.parametrize("method", METHODS)
def test_stationary_from_exact_starts(method, case):
    model, evidence = cases()[case]
    idx_ev = None if evidence is None else {k: model.domain.index(v) for k, v in evidence.items()}
    e, idx = exact_states(model, idx_ev)
    final = run_from(model, method, model.from_index(idx), STEPS[method], evidence)
    if evidence:
        for k, v in evidence.items():
            assert np.all(final[:, k] == v)
    p = joint_pvalue(e, model.to_index(final))
    assert p > ALPHA, p
    assert np.mean(np.any(final != model.from_index(idx), axis=1)) > 0.3  # the chains moved


@pytest.mark.parametrize("method", METHODS)
def test_converges_from_one_state(method):
    model, _ = cases()["ferro_with_field"]
    e, _ = exact_states(model)
    init = np.ones((N, 9), dtype=np.int8)
    init[:, ::2] = -1
    final = run_from(model, method, init, {"swendsen_wang": 40, "wolff": 200}[method])
    p = joint_pvalue(e, model.to_index(final))
    assert p > ALPHA, p


@pytest.mark.parametrize("method", METHODS)
def test_a_wrong_coupling_is_detected(method):
    model, _ = cases()["uniform_no_field"]
    e, idx = exact_states(model)
    wrong = torus(1.25, 0.0, beta=model.beta)
    final = run_from(wrong, method, wrong.from_index(idx), 3 * STEPS[method])
    p = joint_pvalue(e, model.to_index(final))
    assert p < 1e-8, p


@pytest.mark.parametrize("method", METHODS)
def test_boltzmann_machine_and_binary_markov_network(method):
    rng = np.random.default_rng(5)
    W = rng.normal(0, 0.6, (7, 7))
    W = np.triu(W, 1) + np.triu(W, 1).T
    bm = pgm.BoltzmannMachine(W, rng.normal(0, 0.5, 7))
    e, idx = exact_states(bm)
    final = run_from(bm, method, idx.astype(np.int8), STEPS[method])
    assert set(np.unique(final)) <= {0, 1}
    assert joint_pvalue(e, final) > ALPHA
    mn = bm.to_markov_network()
    e, idx = exact_states(mn)
    final = run_from(mn, method, idx, STEPS[method])
    assert joint_pvalue(e, final) > ALPHA


@pytest.mark.parametrize("method", METHODS)
def test_reproducible_for_any_thread_count_and_resumable(method, tmp_path):
    m = pgm.Ising.grid(6, 6, coupling=1.0, field=0.05, beta=0.44)
    kw = dict(method=method, chains=5, seed=4, progress=False, evidence={7: 1})
    runs = []
    for n in (1, 2):
        with samplers.threads(n):
            runs.append(samplers.sample(m, draws=30, warmup=5, thin=2, **kw))
    np.testing.assert_array_equal(runs[0].states, runs[1].states)
    np.testing.assert_array_equal(runs[0].sample_stats["lp"], runs[1].sample_stats["lp"])
    full = samplers.sample(m, draws=40, warmup=5, thin=2, **kw)
    first = samplers.sample(m, draws=15, warmup=5, thin=2, **kw)
    first.final_state.save(tmp_path / "state.npz")
    rest = samplers.sample(m, draws=25, warmup=0, thin=2, init=samplers.ChainState.load(tmp_path / "state.npz"),
                           **{k: v for k, v in kw.items() if k != "seed"})
    np.testing.assert_array_equal(np.concatenate([first.states, rest.states], axis=1), full.states)
    np.testing.assert_array_equal(rest.final_state.rng_state, full.final_state.rng_state)
    flat = full.states.reshape(-1, 36)
    np.testing.assert_allclose(full.observables["energy"].reshape(-1), m.energy(flat), atol=1e-9)
    np.testing.assert_allclose(full.sample_stats["lp"].reshape(-1), m.log_unnormalized(flat), atol=1e-9)
    np.testing.assert_allclose(full.observables["magnetization"].reshape(-1), flat.mean(1))


@pytest.mark.parametrize("method", METHODS)
def test_tempering_and_ais_drive_the_cluster_kernels(method):
    model, _ = cases()["ferro_with_field"]
    e, idx = exact_states(model, n=4000)
    ladder = samplers.geometric_betas(0.4, 3)
    s = samplers.parallel_tempering(model, ladder, method=method, chains=4000, draws=1,
                                    warmup=10 * STEPS[method], seed=2, progress=False)
    assert joint_pvalue(e, model.to_index(s.states[:, -1])) > ALPHA
    r = samplers.ais(model, betas=200, runs=400, transition=method, seed=3)
    assert abs(r.log_z - pgm.exact.log_partition(model)) < 5 * r.log_z_std + 0.02


def test_bad_input_is_refused_with_typed_errors():
    potts = pgm.Potts(pgm.Ising.grid(3, 3).graph, q=3)
    for method in METHODS:
        with pytest.raises(ModelError, match="pairwise binary"):
            samplers.sample(potts, method=method, draws=2, progress=False)
        with pytest.raises(ValueError, match="scan"):
            samplers.sample(pgm.Ising.grid(3, 3), method=method, scan="random", draws=2, progress=False)
    with pytest.raises(ValueError, match="clusters"):
        samplers.sample(pgm.Ising.grid(3, 3), method="wolff", clusters=0, draws=2, progress=False)
    with pytest.raises(ValueError, match="swendsen_wang"):
        samplers.sample(pgm.RBM(3, 2), method="swendsen_wang", draws=2, progress=False)


def test_cluster_benchmark_smoke(tmp_path):
    """benchmarks/cluster.py runs on tiny lattices and prints its JSON summary (no timing asserts)."""
    import json
    import pathlib
    import subprocess
    import sys

    path = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "cluster.py"
    out = subprocess.run([sys.executable, str(path), "--quick"], capture_output=True, text=True, check=True,
                         timeout=600).stdout
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["event"] == "summary" and "z_swendsen_wang" in summary
    assert summary["ess_per_cpu_s_ratio_swendsen_wang_vs_heat_bath_L16"] > 0
