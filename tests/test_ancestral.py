"""Ancestral sampling and likelihood weighting against exact answers (chi-square, fixed seeds).

Significance: 40 chi-square tests in this file at α = 1e-5 each, so a correct sampler fails
the file with probability < 4e-4.
"""

import numpy as np
import pytest

import pgm
import samplers
from pgm.errors import EvidenceError, UnknownVariableError

from .conftest import chi_square_pvalue, random_bayesian_network

ALPHA = 1e-5


def test_alarm_marginals_chi_square():
    bn = pgm.read_bif(pgm.example_path("alarm"))
    n = 20000
    x = samplers.ancestral(bn, n, seed=11)
    assert x.shape == (n, 37) and x.dtype == np.int64
    exact = pgm.exact.marginals(bn)
    for v in bn.variables:
        counts = np.bincount(x[:, bn.index(v)], minlength=bn.cardinalities[v])
        p = chi_square_pvalue(counts, n * exact[v])
        assert p > ALPHA, (v, p)


def test_small_network_joint_chi_square():
    bn = random_bayesian_network(np.random.default_rng(5), n_vars=5, max_card=3)
    n = 50000
    x = samplers.ancestral(bn, n, seed=3)
    e = pgm.exact.enumerate(bn)
    cards = bn.cardinality_array
    code = np.ravel_multi_index(x.T, cards)
    counts = np.bincount(code, minlength=int(np.prod(cards)))
    expected = np.zeros_like(counts, dtype=float)
    expected[np.ravel_multi_index(e.states.T, cards)] = n * e.prob
    assert chi_square_pvalue(counts, expected) > ALPHA


def test_logistic_and_gaussian_nodes():
    bn = pgm.BayesianNetwork([
        pgm.TabularCPD("a", 2, [0.3, 0.7]),
        pgm.LogisticCPD("c", ["a"], [2.0], bias=-1.0),
        pgm.LinearGaussianCPD("g", ["c"], [3.0], bias=1.0, variance=0.25),
    ])
    n = 40000
    x = samplers.ancestral(bn, n, seed=9)
    assert x.dtype == np.float64
    sig = lambda z: 1 / (1 + np.exp(-z))
    p_c = 0.3 * sig(-1.0) + 0.7 * sig(1.0)
    assert chi_square_pvalue(np.bincount(x[:, 1].astype(int), minlength=2), n * np.array([1 - p_c, p_c])) > ALPHA
    # E[g] = 1 + 3 p_c; Var[g] = 0.25 + 9 p_c (1 - p_c); compare within 5 standard errors
    mean, var = 1 + 3 * p_c, 0.25 + 9 * p_c * (1 - p_c)
    assert abs(x[:, 2].mean() - mean) < 5 * np.sqrt(var / n)


def test_likelihood_weighting_estimates_evidence_probability_and_posterior():
    bn = pgm.read_bif(pgm.example_path("asia"))
    ev = {"dysp": 0, "xray": 0}
    n = 40000
    x, lw = samplers.likelihood_weighting(bn, n, ev, seed=4)
    assert np.all(x[:, bn.index("dysp")] == 0)
    w = np.exp(lw)
    p_e = np.exp(pgm.exact.log_partition(bn, evidence=ev))
    assert abs(w.mean() - p_e) < 5 * w.std() / np.sqrt(n)
    post = pgm.exact.marginals(bn, evidence=ev)["lung"][0]
    wn = w / w.sum()
    est = np.sum(wn * (x[:, bn.index("lung")] == 0))
    ess = 1 / np.sum(wn**2)
    assert abs(est - post) < 5 * np.sqrt(post * (1 - post) / ess)


def test_seed_reproducibility_and_bad_input():
    bn = pgm.read_bif(pgm.example_path("asia"))
    np.testing.assert_array_equal(samplers.ancestral(bn, 100, seed=1), samplers.ancestral(bn, 100, seed=1))
    assert not np.array_equal(samplers.ancestral(bn, 100, seed=1), samplers.ancestral(bn, 100, seed=2))
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="samples"):
            samplers.ancestral(bn, bad)
    with pytest.raises(TypeError):
        samplers.ancestral(bn.to_markov_network(), 10)
    with pytest.raises(UnknownVariableError):
        samplers.likelihood_weighting(bn, 10, {"nope": 0})
    with pytest.raises(EvidenceError):
        samplers.likelihood_weighting(bn, 10, {"dysp": 2})
