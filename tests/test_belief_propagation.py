"""Loopy belief propagation (pgm/belief_propagation.py): exact on trees, consistent on loops,
typed errors and honest non-convergence.

On tree-structured factor graphs (random trees with unary, pairwise and 3-way factors of 2–4
states; the polytree bnlearn networks *cancer* and *earthquake*) sum-product beliefs must equal
the exact marginals to 1e-10 and the Bethe log Z the exact log Z to 1e-10, for both schedules
and with evidence; max-product must return the exact MAP (by enumeration)."""

import warnings

import networkx as nx
import numpy as np
import pytest

import pgm
import samplers
from pgm.errors import ConvergenceWarning, EvidenceError
from pgm.inference import belief_propagation


def random_tree_model(seed, n=9, triples=2):
    rng = np.random.default_rng(seed)
    tree = nx.random_labeled_tree(n, seed=seed)
    cards = {f"x{i}": int(rng.integers(2, 5)) for i in range(n)}
    names = list(cards)
    edges = [tuple(sorted(e)) for e in tree.edges]
    factors = []
    used = set()
    for v in rng.permutation(n)[:triples]:             # merge two edges at v into a 3-way factor
        nb = [e for e in edges if v in e and e not in used]
        if len(nb) >= 2:
            a, b = nb[0], nb[1]
            used.update([a, b])
            scope = [names[u] for u in sorted({*a, *b})]
            factors.append(pgm.DiscreteFactor(scope, np.exp(rng.normal(0, 1, [cards[s] for s in scope]))))
    for e in edges:
        if e not in used:
            scope = [names[e[0]], names[e[1]]]
            factors.append(pgm.DiscreteFactor(scope, np.exp(rng.normal(0, 1, [cards[s] for s in scope]))))
    for v in names[: n // 2]:
        factors.append(pgm.DiscreteFactor([v], np.exp(rng.normal(0, 1, cards[v]))))
    return pgm.MarkovNetwork(factors, variables=names, cardinalities=cards)


def _max_err(result, exact):
    return max(float(np.max(np.abs(result.marginals[v] - exact[v]))) for v in exact)


@pytest.mark.parametrize("schedule", ["parallel", "residual"])
@pytest.mark.parametrize("seed", range(6))
def test_exact_on_random_trees(seed, schedule):
    m = random_tree_model(seed)
    evidence = {} if seed % 2 else {"x0": 1}
    r = belief_propagation(m, evidence=evidence, schedule=schedule, tol=1e-13)
    assert r.converged
    assert _max_err(r, pgm.exact.marginals(m, evidence=evidence)) < 1e-10
    assert abs(r.log_z - pgm.exact.log_partition(m, evidence=evidence)) < 1e-10
    e = pgm.exact.enumerate(m, evidence)
    best = e.states[int(np.argmax(e.prob))]
    mx = belief_propagation(m, evidence=evidence, mode="max", schedule=schedule, tol=1e-13)
    assert [mx.map_assignment[v] for v in m.variables] == list(best)
    assert abs(mx.map_log_score - (e.log_z + np.log(e.prob.max()))) < 1e-9


@pytest.mark.parametrize("name", ["cancer", "earthquake"])
def test_exact_on_polytree_bayesian_networks(name):
    bn = pgm.read_bif(pgm.example_path(name))
    for evidence in ({}, {bn.variables[-1]: 0}, {bn.variables[0]: 1, bn.variables[-1]: 1}):
        r = belief_propagation(bn, evidence=evidence, tol=1e-14)
        assert _max_err(r, pgm.exact.marginals(bn, evidence=evidence)) < 1e-10
        assert abs(r.log_z - pgm.exact.log_partition(bn, evidence=evidence)) < 1e-10


def test_loopy_fixed_point_damping_and_threads():
    """On a frustrated loopy grid: damped BP converges, the result does not depend on the thread
    count or the schedule (same fixed point), and is a fair approximation of the exact marginals
    (a weak check: BP is not exact on loops)."""
    rng = np.random.default_rng(3)
    ising = pgm.Ising.grid(5, 5, coupling=rng.normal(0, 0.5, 50), field=rng.normal(0, 0.3, 25), beta=1.0)
    runs = []
    for n in (1, 2):
        with samplers.threads(n):
            runs.append(belief_propagation(ising, damping=0.3, tol=1e-12, max_iter=2000))
    assert runs[0].converged and runs[0].iterations == runs[1].iterations
    for v in ising.variables:
        np.testing.assert_array_equal(runs[0].marginals[v], runs[1].marginals[v])
    res = belief_propagation(ising, schedule="residual", tol=1e-12, max_iter=2000)
    assert res.converged and abs(res.log_z - runs[0].log_z) < 1e-8
    assert _max_err(res, runs[0].marginals) < 1e-8
    exact = pgm.exact.marginals(ising)
    assert _max_err(runs[0], exact) < 0.1
    assert abs(runs[0].log_z - pgm.exact.log_partition(ising)) < 0.5


def test_non_convergence_is_reported_not_hidden():
    rng = np.random.default_rng(1)
    ising = pgm.Ising.grid(4, 4, coupling=-1.0, field=rng.normal(0, 0.3, 16), beta=1.0)
    frustrated = pgm.Ising(nx.complete_graph(6), coupling=rng.normal(0, 2.0, 15), field=rng.normal(0, 0.5, 6))
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        r = belief_propagation(frustrated, max_iter=3)
    assert not r.converged and r.iterations == 3 and r.residual > 1e-8
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert belief_propagation(ising, damping=0.5, max_iter=5000, tol=1e-10).converged


def test_bad_input_is_refused_with_typed_errors():
    m = random_tree_model(0)
    for kw, err, match in [({"mode": "product"}, ValueError, "mode"),
                           ({"schedule": "random"}, ValueError, "schedule"),
                           ({"damping": 1.0}, ValueError, "damping"), ({"damping": -0.1}, ValueError, "damping"),
                           ({"max_iter": 0}, ValueError, "max_iter"), ({"tol": 0.0}, ValueError, "tol"),
                           ({"evidence": {"nope": 0}}, KeyError, "nope"),
                           ({"evidence": {"x0": 7}}, EvidenceError, "x0")]:
        with pytest.raises(err, match=match):
            belief_propagation(m, **kw)
    with pytest.raises(TypeError):
        belief_propagation("not a model")
    zero = pgm.MarkovNetwork([pgm.DiscreteFactor(["a", "b"], [[1.0, 0.0], [0.0, 1.0]]),
                              pgm.DiscreteFactor(["b"], [1.0, 0.0])])
    with pytest.raises(EvidenceError, match="probability zero"):
        belief_propagation(zero, evidence={"a": 1})


@pytest.mark.parametrize("mode", ["sum", "max"])
def test_pairwise_paths_equal_the_general_kernel(mode):
    """Pairwise models of one cardinality run as numpy array operations (binary ones on
    log-odds, compiled); iteration by iteration they follow the same equations as the general
    compiled kernel."""
    from pgm.belief_propagation import _Graph
    from pgm._bp_pairwise import BinaryPairwiseGraph, PairwiseGraph, applies
    from pgm.exact import ReducedModel

    rng = np.random.default_rng(7)
    potts = pgm.Potts(pgm.Ising.grid(6, 7, periodic=False).graph, q=3, beta=0.8)
    ising = pgm.Ising.grid(6, 6, coupling=rng.normal(0, 0.6, 72), field=rng.normal(0, 0.4, 36))
    for model, path in ((potts, PairwiseGraph), (ising, PairwiseGraph), (ising, BinaryPairwiseGraph)):
        problem = ReducedModel(model, {3: 1})
        assert applies(problem)
        fast = path(problem)
        it_f, r_f = fast.run(mode, 0.3, 25, 1e-300)
        logb_f, fe_f = fast.beliefs(mode)
        it_g, r_g, logb_g, fe_g = _Graph(problem).run(mode, 0.3, 25, 1e-300, "parallel")
        assert it_f == it_g == 25
        if path is PairwiseGraph:
            assert abs(r_f - r_g) < 1e-9
        else:                                    # a log-odds change bounds the log messages' change
            assert r_f >= r_g - 1e-12
        np.testing.assert_allclose(np.array(logb_f), np.array(logb_g), atol=1e-10)
        if mode == "sum":
            assert abs(fe_f - fe_g) < 1e-9
