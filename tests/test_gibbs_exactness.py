"""Exactness of samplers.sample on every discrete family (TESTING.md, "stationarity from exact
starts"): N independent chains start from exact draws, take a few sweeps of the kernel, and the
N final joint states are chi-square-tested against enumeration.  A wrong conditional, a block
that is not conditionally independent or a biased stream shows up at once.

Significance: each test uses α = 1e-5; with the ~25 chi-square tests here the chance of a
spurious failure of a correct sampler is < 3e-4.
"""

import networkx as nx
import numpy as np
import pytest

import pgm
import samplers

from .conftest import chi_square_pvalue

ALPHA = 1e-5
N = 20000


def exact_states(model, evidence=None, n=N, seed=0):
    """Exact draws (state indices) and the exact joint over the free variables."""
    e = pgm.exact.enumerate(model, evidence)
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(e.prob), size=n, p=e.prob / e.prob.sum())
    return e, e.states[pick]


def joint_pvalue(e, final_idx, columns=None):
    """Chi-square of final states (state indices) against the enumeration ``e``."""
    cards = np.max(e.states, axis=0) + 1
    cols = np.arange(e.states.shape[1]) if columns is None else np.asarray(columns)
    code_e = np.ravel_multi_index(e.states[:, cols].T, cards[cols])
    size = int(np.prod(cards[cols]))
    expected = np.bincount(code_e, weights=e.prob, minlength=size) * len(final_idx)
    observed = np.bincount(np.ravel_multi_index(final_idx[:, cols].T, cards[cols]), minlength=size)
    return chi_square_pvalue(observed, expected)


def run_from(model, method, init, sweeps=3, scan="systematic", evidence=None, seed=1):
    s = samplers.sample(model, method=method, chains=len(init), draws=1, warmup=sweeps - 1,
                        init=init, scan=scan, evidence=evidence, seed=seed, progress=False)
    return s.states[:, -1]


METHODS = [("gibbs", "systematic"), ("gibbs", "random"), ("block_gibbs", "systematic"),
           ("metropolis", "systematic"), ("metropolis", "random")]


def ising_torus():
    rng = np.random.default_rng(3)
    g = nx.Graph()
    L = 3
    for r in range(L):
        for c in range(L):
            g.add_edge(r * L + c, r * L + (c + 1) % L)
            g.add_edge(r * L + c, ((r + 1) % L) * L + c)
    return pgm.Ising(g, coupling=rng.normal(0, 0.7, g.number_of_edges()),
                     field=rng.normal(0, 0.5, 9), beta=0.8)


@pytest.mark.parametrize("method, scan", METHODS)
def test_ising_with_fields_on_torus(method, scan):
    m = ising_torus()
    e, idx = exact_states(m)
    final = run_from(m, method, m.from_index(idx), scan=scan)
    assert set(np.unique(final)) <= {-1, 1}
    p = joint_pvalue(e, m.to_index(final))
    assert p > ALPHA, p


def test_ising_uniform_coupling_fast_path_and_convergence_from_bad_start():
    m = pgm.Ising.grid(3, 4, coupling=0.4, field=0.1, beta=1.0, periodic=False)
    e, idx = exact_states(m)
    final = run_from(m, "block_gibbs", m.from_index(idx))
    assert joint_pvalue(e, m.to_index(final)) > ALPHA
    # from all +1 after enough sweeps (mixing at this coupling is fast: TV < 1e-6 well before 60)
    init = np.ones((N, 12), dtype=np.int8)
    final = run_from(m, "gibbs", init, sweeps=60)
    assert joint_pvalue(e, m.to_index(final)) > ALPHA


@pytest.mark.parametrize("method, scan", METHODS)
def test_potts_q3(method, scan):
    rng = np.random.default_rng(4)
    g = nx.cycle_graph(6)
    g.add_edge(0, 3)
    m = pgm.Potts(g, q=3, coupling=rng.normal(0.5, 0.5, g.number_of_edges()),
                  field=rng.normal(0, 0.5, (6, 3)), beta=1.0)
    e, idx = exact_states(m)
    final = run_from(m, method, idx, scan=scan)
    assert joint_pvalue(e, final) > ALPHA


def factor_model():
    rng = np.random.default_rng(5)
    cards = {"a": 2, "b": 3, "c": 4, "d": 2, "e": 3, "f": 2}
    scopes = [("a", "b", "c"), ("c", "d", "e"), ("e", "f"), ("a", "f"), ("b",), ("d", "f", "b")]
    factors = [pgm.DiscreteFactor(s, rng.gamma(0.7, size=[cards[v] for v in s])) for s in scopes]
    return pgm.MarkovNetwork(factors)


@pytest.mark.parametrize("method, scan", METHODS)
def test_random_factor_graph_three_way_mixed_cardinalities(method, scan):
    m = factor_model()
    e, idx = exact_states(m)
    final = run_from(m, method, idx, scan=scan)
    assert joint_pvalue(e, final) > ALPHA


def boltzmann(n=7, hidden=3, seed=6):
    rng = np.random.default_rng(seed)
    W = rng.normal(0, 0.6, (n, n))
    W = np.triu(W, 1)
    W = W + W.T
    return pgm.BoltzmannMachine(W, rng.normal(0, 0.5, n), hidden=hidden)


@pytest.mark.parametrize("method", ["gibbs", "block_gibbs", "metropolis"])
def test_boltzmann_machine_with_hidden_units_visible_marginal(method):
    bm = boltzmann()
    e, idx = exact_states(bm)
    final = run_from(bm, method, idx.astype(np.int8))
    p = joint_pvalue(e, final.astype(np.int64), columns=bm.visible)
    assert p > ALPHA, p


@pytest.mark.parametrize("method", ["gibbs", "block_gibbs", "metropolis"])
def test_evidence_clamped(method):
    bm = boltzmann(n=8, hidden=4, seed=7)
    ev = {0: 1, 5: 0}
    e, idx = exact_states(bm, evidence=ev)
    final = run_from(bm, method, idx.astype(np.int8), evidence=ev)
    assert np.all(final[:, 0] == 1) and np.all(final[:, 5] == 0)
    assert joint_pvalue(e, final.astype(np.int64)) > ALPHA
    m = factor_model()
    ev2 = {"c": 2}
    e2, idx2 = exact_states(m, evidence=ev2)
    final2 = run_from(m, method if method != "block_gibbs" else "block_gibbs", idx2, evidence=ev2)
    assert np.all(final2[:, m.index("c")] == 2)
    assert joint_pvalue(e2, final2) > ALPHA


def test_bayesian_network_gibbs_with_evidence():
    bn = pgm.read_bif(pgm.example_path("asia"))
    ev = {"dysp": 0, "xray": 0}
    e, idx = exact_states(bn, evidence=ev)
    final = run_from(bn, "gibbs", idx, evidence=ev)
    assert joint_pvalue(e, final) > ALPHA


def test_user_blocks_are_validated_and_used():
    m = pgm.Ising.grid(3, 4, coupling=0.5, beta=1.0, periodic=False)
    blocks = [[i for i in range(12) if (i // 4 + i % 4) % 2 == 0],
              [i for i in range(12) if (i // 4 + i % 4) % 2 == 1]]
    e, idx = exact_states(m)
    s = samplers.sample(m, method="block_gibbs", blocks=blocks, chains=N, draws=1, warmup=2,
                        init=m.from_index(idx), seed=2, progress=False)
    assert joint_pvalue(e, m.to_index(s.states[:, -1])) > ALPHA
    with pytest.raises(pgm.errors.ModelError, match="not conditionally independent"):
        samplers.sample(m, method="block_gibbs", blocks=[[0, 1], list(range(2, 12))], progress=False)
    with pytest.raises(pgm.errors.ModelError, match="partition"):
        samplers.sample(m, method="block_gibbs", blocks=[[0]], progress=False)
