"""Bayesian networks, Markov networks, factor graphs: structure, separation, conversions."""

import itertools

import networkx as nx
import numpy as np
import pytest

import pgm
from pgm.errors import CardinalityError, CycleError, ModelError, NormalizationError, UnknownVariableError

from .conftest import random_bayesian_network, random_markov_network


def uniform_cpd(v, parents=(), k=2):
    pc = [2] * len(parents)
    return pgm.TabularCPD(v, k, np.full([k] + pc, 1.0 / k), parents, pc)


def joint(model):
    e = pgm.exact.enumerate(model)
    order = np.lexsort(e.states.T[::-1])
    return e.states[order], e.prob[order]


# ----------------------------------------------------------------------------- book examples
def test_relay_race_parameter_count():
    """Three runners, 2000 time values each: the chain t0 → t1 → t2 versus the full joint."""
    k = 2000
    rng = np.random.default_rng(0)
    t0 = pgm.TabularCPD("t0", k, rng.dirichlet(np.ones(k)))
    t1 = pgm.TabularCPD("t1", k, np.full((k, k), 1.0 / k), ["t0"], [k])
    t2 = pgm.TabularCPD("t2", k, np.full((k, k), 1.0 / k), ["t1"], [k])
    chain = pgm.BayesianNetwork([t0, t1, t2])
    assert chain.parameter_count() == (k - 1) + 2 * k * (k - 1) == 7_997_999
    assert k**3 - 1 == 7_999_999_999  # the full joint table: ~1000x more


def test_colds_example_undirected_separation():
    """Your health, your roommate's, your colleague's: a ⟂ c | b in the chain a – b – c."""
    f = lambda a, b: pgm.DiscreteFactor([a, b], [[3.0, 1.0], [1.0, 3.0]])
    m = pgm.MarkovNetwork([f("you", "roommate"), f("roommate", "colleague")])
    assert not m.is_separated("you", "colleague")
    assert m.is_separated("you", "colleague", given=["roommate"])
    assert m.markov_blanket("roommate") == {"you", "colleague"}
    # and the distribution agrees: p(you, colleague | roommate) factorises
    for r in (0, 1):
        q = pgm.exact.query(m, ["you", "colleague"], evidence={"roommate": r})
        np.testing.assert_allclose(q, np.outer(q.sum(1), q.sum(0)), atol=1e-12)


def test_collider_explaining_away():
    bn = pgm.BayesianNetwork([
        pgm.TabularCPD("burglary", 2, [0.9, 0.1]),
        pgm.TabularCPD("earthquake", 2, [0.8, 0.2]),
        pgm.TabularCPD("alarm", 2, [[0.99, 0.1, 0.3, 0.05], [0.01, 0.9, 0.7, 0.95]],
                       ["burglary", "earthquake"], [2, 2]),
        pgm.TabularCPD("call", 2, [[0.9, 0.2], [0.1, 0.8]], ["alarm"], [2]),
    ])
    assert bn.is_d_separated("burglary", "earthquake")
    assert not bn.is_d_separated("burglary", "earthquake", given=["alarm"])
    assert not bn.is_d_separated("burglary", "earthquake", given=["call"])  # descendant of collider
    assert bn.is_d_separated("burglary", "call", given=["alarm"])
    assert bn.markov_blanket("burglary") == {"alarm", "earthquake"}
    # numerically: observing the alarm makes an earthquake explain away a burglary
    p_b_given_a = pgm.exact.marginals(bn, evidence={"alarm": 1})["burglary"][1]
    p_b_given_a_e = pgm.exact.marginals(bn, evidence={"alarm": 1, "earthquake": 1})["burglary"][1]
    assert p_b_given_a_e < p_b_given_a
    q = pgm.exact.query(bn, ["burglary", "earthquake"])
    np.testing.assert_allclose(q, np.outer(q.sum(1), q.sum(0)), atol=1e-12)


def test_chain_and_fork_blocking():
    bn = pgm.BayesianNetwork([uniform_cpd("a"), uniform_cpd("m", ["a"]), uniform_cpd("b", ["m"]),
                              uniform_cpd("c", ["m"])])
    assert not bn.is_d_separated("a", "b")
    assert bn.is_d_separated("a", "b", given="m")  # chain
    assert bn.is_d_separated("b", "c", given="m")  # fork
    assert not bn.is_d_separated("b", "c")


def test_d_separation_agrees_with_networkx_on_random_dags():
    rng = np.random.default_rng(1)
    checked = 0
    for _ in range(100):
        n = int(rng.integers(5, 12))
        perm = rng.permutation(n)
        edges = [(int(perm[i]), int(perm[j])) for i in range(n) for j in range(i + 1, n)
                 if rng.random() < 0.3]
        g = nx.DiGraph()
        g.add_nodes_from(range(n))
        g.add_edges_from(edges)
        bn = pgm.BayesianNetwork([uniform_cpd(v, list(g.predecessors(v))) for v in range(n)])
        for _ in range(50):
            nodes = rng.permutation(n)
            a, b, c = (int(s) for s in rng.integers(1, 4, size=3))
            xs, ys = set(nodes[:a].tolist()), set(nodes[a:a + b].tolist())
            zs = set(nodes[a + b:a + b + c - 1].tolist())
            assert bn.is_d_separated(xs, ys, zs) == nx.is_d_separator(g, xs, ys, zs)
            checked += 1
    assert checked == 5000


# ----------------------------------------------------------------------------- conversions
@pytest.mark.parametrize("seed", range(8))
def test_bayesian_to_markov_preserves_distribution(seed):
    bn = random_bayesian_network(np.random.default_rng(seed), n_vars=7)
    mn = bn.to_markov_network()
    s1, p1 = joint(bn)
    s2, p2 = joint(mn)
    np.testing.assert_array_equal(s1, s2)
    np.testing.assert_allclose(p1, p2, atol=1e-14)
    assert set(map(frozenset, mn.graph.edges)) == set(map(frozenset, bn.moral_graph().edges))


@pytest.mark.parametrize("seed", range(8))
def test_markov_to_bayesian_preserves_distribution(seed):
    rng = np.random.default_rng(50 + seed)
    mn = random_markov_network(rng, n_vars=7, n_factors=8, zeros=seed % 2 == 0)
    orders = [None, list(rng.permutation(mn.variables))]
    s1, p1 = joint(mn)
    for order in orders:
        bn = mn.to_bayesian_network(order=order)
        assert nx.is_directed_acyclic_graph(bn.graph)
        s2, p2 = joint(bn)
        np.testing.assert_array_equal(s1, s2)
        np.testing.assert_allclose(p1, p2, atol=1e-12)
        if order is not None:  # edges go from earlier to later in the given order
            pos = {v: i for i, v in enumerate(order)}
            assert all(pos[a] < pos[b] for a, b in bn.graph.edges)
        # the BN's moral graph is chordal and contains the Markov network's graph
        moral = bn.moral_graph()
        assert nx.is_chordal(moral)
        assert set(map(frozenset, mn.graph.edges)) <= set(map(frozenset, moral.edges))


@pytest.mark.parametrize("seed", range(5))
def test_markov_factor_graph_round_trip(seed):
    mn = random_markov_network(np.random.default_rng(90 + seed))
    fg = mn.to_factor_graph()
    assert isinstance(fg, pgm.FactorGraph)
    assert nx.is_bipartite(fg.graph)
    assert fg.graph.number_of_nodes() == mn.n_variables + len(mn.factors)
    back = fg.to_markov_network()
    for a, b in [(mn, fg), (mn, back)]:
        s1, p1 = joint(a)
        s2, p2 = joint(b)
        np.testing.assert_array_equal(s1, s2)
        np.testing.assert_allclose(p1, p2, atol=1e-15)
    assert fg.markov_blanket(mn.variables[0]) == mn.markov_blanket(mn.variables[0])


def test_factor_graph_distinguishes_triangle_factorisations():
    tri = pgm.FactorGraph([pgm.DiscreteFactor(["a", "b", "c"], np.ones((2, 2, 2)))])
    pairs = pgm.FactorGraph([pgm.DiscreteFactor(s, np.ones((2, 2))) for s in (["a", "b"], ["b", "c"], ["a", "c"])])
    assert tri.to_markov_network().graph.edges == pairs.to_markov_network().graph.edges or \
        set(map(frozenset, tri.to_markov_network().graph.edges)) == set(map(frozenset, pairs.to_markov_network().graph.edges))
    assert tri.graph.number_of_nodes() == 4 and pairs.graph.number_of_nodes() == 6


def test_triangulate_is_chordal_and_deterministic():
    import networkx as nx

    g = nx.cycle_graph(6)
    mn = pgm.MarkovNetwork([pgm.DiscreteFactor([a, b], np.ones((2, 2))) for a, b in g.edges])
    t1, t2 = mn.triangulate(), mn.triangulate()
    assert nx.is_chordal(t1)
    assert sorted(t1.edges) == sorted(t2.edges)
    assert t1.number_of_edges() == 6 + 3  # a 6-cycle needs exactly 3 chords
    assert nx.is_chordal(mn.triangulate(heuristic="min_degree"))


# ----------------------------------------------------------------------------- densities
def test_log_prob_sums_to_one_and_mixed_cpds():
    bn = random_bayesian_network(np.random.default_rng(4), n_vars=6)
    e = pgm.exact.enumerate(bn)
    np.testing.assert_allclose(np.exp(bn.log_prob(e.states)).sum(), 1.0, atol=1e-12)
    np.testing.assert_allclose(bn.log_prob(e.states), e.log_prob, atol=1e-12)
    sbn = pgm.BayesianNetwork([
        pgm.TabularCPD("a", 2, [0.3, 0.7]),
        pgm.TabularCPD("b", 3, [0.2, 0.5, 0.3]),
        pgm.LogisticCPD("c", ["a", "b"], [1.5, -0.7], bias=0.2),
    ])
    states = np.array(list(itertools.product(range(2), range(3), range(2))))
    np.testing.assert_allclose(np.exp(sbn.log_prob(states)).sum(), 1.0, atol=1e-12)
    assert sbn.parameter_count() == 1 + 2 + 3
    lg = pgm.BayesianNetwork([pgm.LinearGaussianCPD("x", (), (), 1.0, 4.0),
                              pgm.LinearGaussianCPD("y", ["x"], [0.5], -1.0, 1.0)])
    from scipy import stats

    x = np.array([[0.3, -0.2], [2.0, 1.0]])
    expected = stats.norm(1, 2).logpdf(x[:, 0]) + stats.norm(-1 + 0.5 * x[:, 0], 1).logpdf(x[:, 1])
    np.testing.assert_allclose(lg.log_prob(x), expected, atol=1e-12)
    with pytest.raises(TypeError, match="continuous"):
        pgm.exact.log_partition(lg)


def test_markov_network_energy_matches_factor_product():
    m = random_markov_network(np.random.default_rng(8))
    e = pgm.exact.enumerate(m)
    lp = m.log_unnormalized(e.states)
    np.testing.assert_allclose(lp - e.log_z, e.log_prob, atol=1e-12)
    np.testing.assert_allclose(m.energy(e.states[3]), -lp[3])


# ----------------------------------------------------------------------------- bad input
def test_cycle_error_names_the_cycle():
    with pytest.raises(CycleError) as info:
        pgm.BayesianNetwork([uniform_cpd("a", ["c"]), uniform_cpd("b", ["a"]), uniform_cpd("c", ["b"])])
    assert set(info.value.cycle) == {"a", "b", "c"}
    assert "'a'" in str(info.value) and "->" in str(info.value)


def test_cpd_validation_errors():
    with pytest.raises(NormalizationError, match="sums to"):
        pgm.TabularCPD("a", 2, [0.5, 0.6])
    with pytest.raises(NormalizationError, match="negative"):
        pgm.TabularCPD("a", 2, [1.5, -0.5])
    with pytest.raises(CardinalityError, match="shape"):
        pgm.TabularCPD("a", 2, [[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]], ["b"], [2])
    with pytest.raises(CardinalityError):
        pgm.TabularCPD("a", 2, [0.5, 0.5], ["b"], [])
    with pytest.raises(CardinalityError):
        pgm.TabularCPD("a", 0, [])
    with pytest.raises(TypeError):
        pgm.TabularCPD("a", 2, ["x", "y"])
    with pytest.raises(ModelError):
        pgm.LinearGaussianCPD("a", variance=0.0)
    with pytest.raises(CardinalityError):
        pgm.LogisticCPD("a", ["b"], [1.0, 2.0])
    with pytest.raises(CardinalityError, match="cardinality 3"):
        pgm.BayesianNetwork([pgm.TabularCPD("b", 2, [0.5, 0.5]),
                             pgm.TabularCPD("a", 2, np.full((2, 3), 0.5), ["b"], [3])])
    with pytest.raises(UnknownVariableError, match="'zz'"):
        pgm.BayesianNetwork([uniform_cpd("a", ["zz"])])
    with pytest.raises(ModelError, match="two CPDs"):
        pgm.BayesianNetwork([uniform_cpd("a"), uniform_cpd("a")])


def test_markov_network_validation_errors():
    with pytest.raises(ModelError, match="negative"):
        pgm.DiscreteFactor(["a"], [1.0, -1.0])
    with pytest.raises(ModelError, match="non-finite"):
        pgm.DiscreteFactor(["a"], [1.0, np.inf])
    with pytest.raises(CardinalityError):
        pgm.DiscreteFactor(["a", "b"], [1.0, 2.0])
    with pytest.raises(CardinalityError, match="cardinality"):
        pgm.MarkovNetwork([pgm.DiscreteFactor(["a"], [1.0, 2.0]), pgm.DiscreteFactor(["a"], [1.0, 2.0, 3.0])])
    with pytest.raises(TypeError):
        pgm.DiscreteFactor([1.5], [1.0, 2.0])
    m = pgm.MarkovNetwork([pgm.DiscreteFactor(["a", "b"], np.ones((2, 3)))])
    with pytest.raises(ModelError, match="outside"):
        m.log_unnormalized([[0, 3]])
    with pytest.raises(CardinalityError, match="shape"):
        m.log_unnormalized([[0, 1, 1]])
    with pytest.raises(TypeError, match="integers"):
        m.log_unnormalized([[0.5, 1]])
    with pytest.raises(UnknownVariableError):
        m.is_separated("a", "zz")
    with pytest.raises(UnknownVariableError):
        m.markov_blanket("zz")
