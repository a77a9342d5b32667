"""Importance and bridge sampling of partition-function ratios against exact values; the
reported standard errors are checked against the spread of repeated estimates."""

import numpy as np
import pytest

import pgm
import samplers

from .conftest import random_markov_network


def exact_draws(model, n, seed):
    e = pgm.exact.enumerate(model)
    rng = np.random.default_rng(seed)
    return e.states[rng.choice(len(e.prob), size=n, p=e.prob / e.prob.sum())]


def pair(seed=0):
    rng = np.random.default_rng(seed)
    m0 = random_markov_network(rng, n_vars=5, n_factors=5)
    # m1: same variables, perturbed tables (so the two distributions overlap but differ)
    factors = [pgm.DiscreteFactor(f.scope, f.table * rng.uniform(0.5, 2.0, f.table.shape) + 0.01)
               for f in m0.factors]
    m1 = pgm.MarkovNetwork(factors, variables=m0.variables, cardinalities=m0.cardinalities)
    return m0, m1, pgm.exact.log_partition(m1) - pgm.exact.log_partition(m0)


@pytest.mark.parametrize("estimator", ["importance", "bridge"])
def test_ratio_estimators_are_accurate_with_honest_errors(estimator):
    m0, m1, truth = pair()
    estimates, stds = [], []
    for rep in range(40):
        x0 = exact_draws(m0, 2000, 10 + rep)
        if estimator == "importance":
            r = samplers.importance_sampling(m1, m0, x0)
        else:
            r = samplers.bridge_sampling(m0, m1, x0, exact_draws(m1, 2000, 500 + rep))
        estimates.append(r.log_ratio)
        stds.append(r.log_ratio_std)
    estimates = np.array(estimates)
    assert abs(estimates.mean() - truth) < 4 * estimates.std(ddof=1) / np.sqrt(40) + 1e-3
    ratio = np.mean(stds) / estimates.std(ddof=1)
    assert 1 / 1.5 < ratio < 1.5, ratio


def test_bridge_beats_importance_when_overlap_is_poor():
    m = pgm.Ising.grid(3, 3, coupling=0.3, beta=1.0)
    far = pgm.Ising.grid(3, 3, coupling=0.3, field=1.5, beta=1.0)
    truth = pgm.exact.log_partition(far) - pgm.exact.log_partition(m)
    x0 = m.from_index(exact_draws(m, 3000, 1))
    x1 = far.from_index(exact_draws(far, 3000, 2))
    b = samplers.bridge_sampling(m, far, x0, x1)
    i = samplers.importance_sampling(far, m, x0)
    assert abs(b.log_ratio - truth) < 4 * b.log_ratio_std
    assert b.log_ratio_std < i.log_ratio_std


def test_log_likelihood_propagates_log_z_error():
    m = pgm.Ising.grid(3, 3, coupling=0.5, beta=1.0)
    data = m.from_index(exact_draws(m, 500, 3))
    exact = pgm.exact.log_partition(m)
    ll = samplers.log_likelihood(m, data, exact)
    np.testing.assert_allclose(ll.mean, np.mean(m.log_unnormalized(data)) - exact)
    assert ll.std_log_z == 0.0
    r = samplers.ais(m, betas=200, runs=50, seed=1)
    ll2 = samplers.log_likelihood(m, data, r)
    assert ll2.std_log_z == r.log_z_std and ll2.std > ll2.std_data
    assert abs(ll2.mean - ll.mean) < 5 * r.log_z_std + 0.02


def test_bad_input():
    m0, m1, _ = pair()
    with pytest.raises(ValueError):
        samplers.importance_sampling(m1, m0, np.zeros((1, 5), dtype=int))
    with pytest.raises(TypeError):
        samplers.importance_sampling(m1, "nope", np.zeros((4, 5), dtype=int))
    with pytest.raises(ValueError):
        samplers.log_likelihood(m0, np.zeros((0, 5), dtype=int), 0.0)
