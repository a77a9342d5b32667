"""Variable elimination against brute-force enumeration, evidence, queries, memory limit."""

import networkx as nx
import numpy as np
import pytest

import pgm
from pgm.elimination import HEURISTICS, best_order, elimination_order, induced_width
from pgm.errors import EvidenceError, TooLargeError, UnknownVariableError

from .conftest import random_bayesian_network, random_markov_network


def enum_marginals(model, evidence=None):
    e = pgm.exact.enumerate(model, evidence)
    out = {}
    for j, v in enumerate(e.variables):
        out[v] = np.bincount(e.states[:, j], weights=e.prob, minlength=model.cardinalities[v])
    return e.log_z, out


@pytest.mark.parametrize("seed", range(12))
def test_ve_matches_enumeration_on_random_models(seed):
    rng = np.random.default_rng(seed)
    m = random_markov_network(rng, n_vars=7, n_factors=8, zeros=seed % 3 == 0)
    log_z, mar = enum_marginals(m)
    for order in ["auto", *HEURISTICS, list(rng.permutation(m.variables))]:
        assert pgm.exact.log_partition(m, order=order) == pytest.approx(log_z, abs=1e-10)
    got = pgm.exact.marginals(m)
    for v in m.variables:
        np.testing.assert_allclose(got[v], mar[v], atol=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_evidence_and_query_match_enumeration(seed):
    rng = np.random.default_rng(100 + seed)
    m = random_markov_network(rng, n_vars=7, n_factors=9)
    ev = {m.variables[1]: 1, m.variables[4]: 0}
    log_z, mar = enum_marginals(m, ev)
    assert pgm.exact.log_partition(m, evidence=ev) == pytest.approx(log_z, abs=1e-10)
    got = pgm.exact.marginals(m, evidence=ev)
    for v in m.variables:
        np.testing.assert_allclose(got[v], mar[v], atol=1e-12)
    # joint query of three variables (one observed) against enumeration
    e = pgm.exact.enumerate(m, ev)
    q = [m.variables[5], m.variables[1], m.variables[0]]
    cols = [e.variables.index(v) for v in q]
    expected = np.zeros([m.cardinalities[v] for v in q])
    np.add.at(expected, tuple(e.states[:, cols].T), e.prob)
    np.testing.assert_allclose(pgm.exact.query(m, q, evidence=ev), expected, atol=1e-12)


def test_bayesian_network_log_partition_is_log_probability_of_evidence():
    rng = np.random.default_rng(7)
    bn = random_bayesian_network(rng, n_vars=7)
    assert pgm.exact.log_partition(bn) == pytest.approx(0.0, abs=1e-12)
    ev = {bn.variables[0]: 1, bn.variables[3]: 0}
    e = pgm.exact.enumerate(bn)
    mask = np.all([e.states[:, bn.index(v)] == x for v, x in ev.items()], axis=0)
    assert pgm.exact.log_partition(bn, evidence=ev) == pytest.approx(np.log(e.prob[mask].sum()), abs=1e-12)


def test_model_evidence_attribute_is_default():
    rng = np.random.default_rng(3)
    m = random_markov_network(rng)
    ev = {m.variables[0]: 1}
    m2 = pgm.MarkovNetwork(m.factors, variables=m.variables, cardinalities=m.cardinalities, evidence=ev)
    assert pgm.exact.log_partition(m2) == pytest.approx(pgm.exact.log_partition(m, evidence=ev))
    assert pgm.exact.log_partition(m2, evidence={}) == pytest.approx(pgm.exact.log_partition(m))


def test_memory_limit_refuses_large_work_before_allocating():
    g = nx.grid_2d_graph(30, 30)
    factors = [pgm.DiscreteFactor([f"{a}", f"{b}"], np.ones((2, 2))) for a, b in g.edges]
    m = pgm.MarkovNetwork(factors)
    with pytest.raises(TooLargeError, match="memory_limit"):
        pgm.exact.log_partition(m, memory_limit=2**20)
    with pytest.raises(TooLargeError):
        pgm.exact.enumerate(m)
    with pytest.raises(ValueError):  # TooLargeError is a ValueError
        pgm.exact.marginals(m, memory_limit=2**20)


def test_zero_probability_evidence_is_reported():
    m = pgm.MarkovNetwork([pgm.DiscreteFactor(["a", "b"], [[1.0, 0.0], [0.0, 1.0]])])
    assert pgm.exact.log_partition(m, evidence={"a": 0, "b": 1}) == -np.inf
    with pytest.raises(ValueError, match="probability zero"):
        pgm.exact.marginals(m, evidence={"a": 0, "b": 1})


def test_bad_queries_raise_typed_errors():
    m = pgm.MarkovNetwork([pgm.DiscreteFactor(["a", "b"], np.ones((2, 3)))])
    with pytest.raises(UnknownVariableError, match="'zz'"):
        pgm.exact.query(m, ["zz"])
    with pytest.raises(UnknownVariableError):
        pgm.exact.marginals(m, evidence={"zz": 0})
    with pytest.raises(EvidenceError, match="outside"):
        pgm.exact.marginals(m, evidence={"b": 3})
    with pytest.raises(EvidenceError):
        pgm.exact.log_partition(m, evidence={"b": -1})
    with pytest.raises(ValueError, match="unknown elimination order"):
        pgm.exact.log_partition(m, order="best")
    with pytest.raises(TypeError, match="discrete model"):
        pgm.exact.log_partition(object())


def test_alarm_min_fill_width_matches_networkx_and_orders_are_deterministic():
    bn = pgm.read_bif(pgm.example_path("alarm"))
    moral = bn.moral_graph()
    nx_width, _ = nx.algorithms.approximation.treewidth_min_fill_in(moral)
    order = elimination_order(moral, "min_fill")
    assert nx_width == 4
    assert induced_width(moral, order) == nx_width
    for h in HEURISTICS:
        assert elimination_order(moral, h, bn.cardinalities) == elimination_order(moral, h, bn.cardinalities)
    assert best_order(moral, bn.cardinalities) == best_order(moral, bn.cardinalities)


def test_compiled_orders_and_costs_equal_the_pure_python_ones():
    """The compiled greedy orders (graphs up to ``DENSE_UP_TO`` nodes) are the pure-Python
    incremental ones, tie-breaking included, and their cluster costs are the symbolic ones."""
    import math

    from pgm import elimination

    rng = np.random.default_rng(3)
    for trial in range(40):
        n = int(rng.integers(1, 40))
        g = nx.gnp_random_graph(n, rng.uniform(0.05, 0.3), seed=int(rng.integers(2**31)))
        g = nx.relabel_nodes(g, {i: f"x{(7 * i) % n}_{i}" for i in range(n)})  # order ≠ name order
        card = {v: int(rng.integers(2, 5)) for v in g.nodes}
        nodes = None if trial % 2 else [v for v in g.nodes if rng.random() < 0.6]
        for h in HEURISTICS:
            reference = elimination._python_order(g, h, card, nodes)
            assert elimination_order(g, h, card, nodes) == reference
            sizes = [math.prod(card[u] for u in c) for c in elimination.eliminate_symbolically(g, reference)[0]]
            assert elimination.order_cost(g, reference, card) == (sum(sizes), max(sizes, default=1))


def test_bandwidth_candidate_reaches_grid_treewidth():
    g = nx.convert_node_labels_to_integers(nx.grid_2d_graph(20, 20))
    assert induced_width(g, best_order(g)) == 20  # greedy min-fill alone gives ~28


def test_evidence_by_state_name_on_a_bif_network():
    """Every BN entry point takes ``{"CVP": "HIGH"}`` as well as the state index."""
    import samplers

    bn = pgm.read_bif(pgm.example_path("alarm"))
    high = bn.state_names["CVP"].index("HIGH")
    by_index = pgm.exact.marginals(bn, evidence={"CVP": high})["HYPOVOLEMIA"]
    np.testing.assert_array_equal(pgm.exact.marginals(bn, evidence={"CVP": "HIGH"})["HYPOVOLEMIA"], by_index)
    assert abs(by_index[0] - 0.2) > 0.5                     # the evidence matters (prior 0.2)
    s1 = samplers.sample(bn, evidence={"CVP": "HIGH"}, draws=20, seed=0, warn=False, progress=False)
    s2 = samplers.sample(bn, evidence={"CVP": high}, draws=20, seed=0, warn=False, progress=False)
    np.testing.assert_array_equal(s1.states, s2.states)
    x1, w1 = samplers.likelihood_weighting(bn, 50, {"CVP": "HIGH"}, seed=0)
    x2, w2 = samplers.likelihood_weighting(bn, 50, {"CVP": high}, seed=0)
    np.testing.assert_array_equal(x1, x2)
    with pytest.raises(pgm.errors.EvidenceError, match=r"'HUGE' for 'CVP' is not one of its states"):
        pgm.exact.marginals(bn, evidence={"CVP": "HUGE"})
    mn = pgm.Ising.grid(3, 3).to_markov_network()          # no state names
    with pytest.raises(pgm.errors.EvidenceError, match="has no state names"):
        pgm.exact.marginals(mn, evidence={0: "up"})
