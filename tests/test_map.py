"""MAP / MPE: exact max-product variable elimination against enumeration, the UAI-2014 MAP
problems it can solve within its memory guard against their reference scores, and the .MAP
reader/writer."""

import pathlib

import numpy as np
import pytest

import pgm
from pgm.errors import EvidenceError, TooLargeError

from .conftest import ROOT, random_bayesian_network, random_markov_network

MAP_DIR = ROOT.parent / "shared" / "uai2014map"
#: reference log-scores of the competition's .MAP assignments (shared/uai2014map/README.md)
REFERENCE = {"Segmentation_12": -52.525366817, "ProteinFolding_11": 4513.137982843}


def _best_by_enumeration(model, evidence=None):
    e = pgm.exact.enumerate(model, evidence)
    k = int(np.argmax(e.prob))
    return e.states[k], e.log_z + np.log(e.prob[k])


@pytest.mark.parametrize("seed", range(8))
def test_exact_map_equals_enumeration(seed):
    rng = np.random.default_rng(seed)
    model = random_markov_network(rng, n_vars=7, n_factors=7, zeros=seed % 2 == 1) if seed < 5 else \
        random_bayesian_network(rng, n_vars=7)
    evidence = {} if seed % 3 else {model.variables[0]: 1}
    try:
        best, score = _best_by_enumeration(model, evidence)
    except (ValueError, ZeroDivisionError):
        pytest.skip("evidence of probability zero in this random model")
    r = pgm.exact.map_assignment(model, evidence=evidence)
    assert abs(r.log_score - score) < 1e-9
    x = np.array([[r.assignment[v] for v in model.variables]])
    assert abs(float(model.log_unnormalized(x)[0]) - r.log_score) < 1e-9   # the score is the assignment's
    for v, s in evidence.items():
        assert r.assignment[v] == s


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_exact_map_on_uai2014_problems_within_the_memory_guard(name, tmp_path):
    path = MAP_DIR / f"{name}.uai"
    if not path.exists():
        pytest.skip(f"{path} not found")
    model = pgm.read_uai(str(path), evidence=str(path) + ".evid")
    ref = pgm.read_map(str(path) + ".MAP")
    ref_score = float(model.log_unnormalized(ref[None, :])[0])
    assert abs(ref_score - REFERENCE[name]) < 1e-6                  # our scoring = the README's
    r = pgm.exact.map_assignment(model)
    assert r.log_score >= ref_score - 1e-9 * abs(ref_score)          # exact: never worse
    pgm.write_map(tmp_path / "out.MAP", r.assignment, model.variables)
    back = pgm.read_map(tmp_path / "out.MAP")
    assert abs(float(model.log_unnormalized(back[None, :])[0]) - r.log_score) < 1e-6


def test_map_memory_guard_and_bad_input():
    grid = pgm.Ising.grid(12, 12).to_markov_network()
    with pytest.raises(TooLargeError, match="memory_limit"):
        pgm.exact.map_assignment(grid, memory_limit=2**20)
    zero = pgm.MarkovNetwork([pgm.DiscreteFactor(["a", "b"], [[1.0, 0.0], [0.0, 1.0]]),
                              pgm.DiscreteFactor(["b"], [1.0, 0.0])])
    with pytest.raises(EvidenceError, match="probability zero"):
        pgm.exact.map_assignment(zero, evidence={"a": 1})
    with pytest.raises(EvidenceError):
        pgm.write_map("/tmp/never.MAP", [0, -1])
    with pytest.raises(EvidenceError, match="no state"):
        pgm.write_map("/tmp/never.MAP", {"a": 0}, variables=["a", "b"])


def test_simulated_annealing_finds_the_exact_map_of_small_models():
    """Annealed Gibbs chains on random 8-variable models (3-way factors, evidence): the best state
    found has the exact MAP score (by max-product elimination); the score reported is the state's
    own log p̃; one seed gives the same answer with 1 or 2 threads."""
    import samplers

    hits = 0
    for seed in range(5):
        rng = np.random.default_rng(seed)
        model = random_markov_network(rng, n_vars=8, n_factors=9)
        ev = {model.variables[1]: 0}
        exact = pgm.exact.map_assignment(model, evidence=ev)
        with samplers.threads(1):
            r = samplers.simulated_annealing(model, betas=samplers.annealing_betas(300, 0.1, 30), chains=8,
                                             seed=seed, evidence=ev)
        with samplers.threads(2):
            r2 = samplers.simulated_annealing(model, betas=samplers.annealing_betas(300, 0.1, 30), chains=8,
                                              seed=seed, evidence=ev)
        assert r.assignment == r2.assignment and np.array_equal(r.chain_scores, r2.chain_scores)
        x = np.array([[r.assignment[v] for v in model.variables]])
        assert abs(float(model.log_unnormalized(x)[0]) - r.log_score) < 1e-9
        assert r.log_score <= exact.log_score + 1e-9 and r.assignment[model.variables[1]] == 0
        hits += abs(r.log_score - exact.log_score) < 1e-9
    assert hits == 5


def test_simulated_annealing_bad_input():
    import samplers

    m = pgm.Ising.grid(3, 3)
    for kw in ({"betas": [1.0, 0.5]}, {"betas": [0.0, 1.0]}, {"betas": [np.inf]}, {"chains": 0},
               {"sweeps": 0}):
        with pytest.raises(ValueError):
            samplers.simulated_annealing(m, **kw)
    with pytest.raises(ValueError, match="tempered"):
        samplers.simulated_annealing(pgm.RBM(3, 2), method="block_gibbs")
    with pytest.raises(ValueError):
        samplers.annealing_betas(10, beta_min=2.0, beta_max=1.0)


def test_local_search_never_lowers_the_score_and_solves_whole_models_exactly():
    """Large-neighbourhood search with exact sub-problems: from random starts on random models
    the score never goes down; a neighbourhood as large as the model reaches the exact MAP in one
    step; evidence stays fixed."""
    rng = np.random.default_rng(4)
    for seed in range(4):
        model = random_markov_network(np.random.default_rng(seed), n_vars=9, n_factors=10)
        ev = {model.variables[2]: 1}
        exact = pgm.exact.map_assignment(model, evidence=ev)
        start = {v: int(rng.integers(0, model.cardinalities[v])) for v in model.variables if v not in ev}
        x0 = dict(start, **ev)
        s0 = float(model.log_unnormalized(np.array([[x0[v] for v in model.variables]]))[0])
        small = pgm.map_search.local_search(model, start, evidence=ev, neighbourhood=3, iterations=30, seed=seed)
        assert small.log_score >= s0 - 1e-12 and small.assignment[model.variables[2]] == 1
        x = np.array([[small.assignment[v] for v in model.variables]])
        assert abs(float(model.log_unnormalized(x)[0]) - small.log_score) < 1e-9
        whole = pgm.map_search.local_search(model, start, evidence=ev, neighbourhood=9, iterations=1, seed=seed)
        assert abs(whole.log_score - exact.log_score) < 1e-9


def test_local_search_bad_input():
    m = pgm.Ising.grid(3, 3)
    full = {v: 0 for v in m.variables}
    with pytest.raises(EvidenceError, match="no state"):
        pgm.map_search.local_search(m, {0: 0})
    with pytest.raises(EvidenceError, match="outside"):
        pgm.map_search.local_search(m, {**full, 4: 2})
    with pytest.raises(ValueError):
        pgm.map_search.local_search(m, full, neighbourhood=0)
    with pytest.raises(TypeError):
        pgm.map_search.local_search(m, [0] * 9)
