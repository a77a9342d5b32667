"""Conditional sampling with clamped units (inpainting, SPEC.md §5) through the ``evidence``
option of ``samplers.sample``, for the kernels that gained it: binary energy Gibbs and the
continuous samplers (HMC, MALA, MH).  (Layered models and discrete Gibbs have their own
evidence tests in test_boltzmann.py / test_gibbs_exactness.py; the DBN case is here.)

Exactness from exact starts (TESTING.md §1): N independent chains start from draws of the exact
conditional, take a few transitions, and the N final states are compared with that conditional
(chi-square, α = 1e-5 per test; moments within 4 standard errors of independent draws).  Clamped
units must never change (exact equality over every recorded draw).
"""

import itertools

import numpy as np
import pytest
from scipy import stats

import pgm
import samplers
from pgm.errors import EvidenceError, UnknownVariableError


def _chi2_p(counts, probs):
    n = counts.sum()
    expected = n * probs
    small = expected < 5
    if small.any():
        counts = np.append(counts[~small], counts[small].sum())
        expected = np.append(expected[~small], expected[small].sum())
    return stats.chisquare(counts, expected).pvalue


def test_binary_energy_gibbs_with_clamped_units_leaves_the_exact_conditional_invariant():
    f = pgm.MLPEnergy(5, hidden=(6,), activation="tanh", domain="binary", seed=3)
    f.set_params(W1=2.0 * f.params["W1"], w_out=3.0 * f.params["w_out"])
    ev = {0: 1, 3: 0}
    free = [1, 2, 4]
    states = np.array([s for s in itertools.product((0, 1), repeat=5) if s[0] == 1 and s[3] == 0])
    logp = -f.energy(states)
    p = np.exp(logp - logp.max())
    p /= p.sum()
    n = 20000
    rng = np.random.default_rng(0)
    start = states[rng.choice(len(states), size=n, p=p)]
    s = samplers.sample(f, chains=n, draws=2, warmup=0, init=start, evidence=ev, seed=1, progress=False)
    assert np.all(s.states[:, :, 0] == 1) and np.all(s.states[:, :, 3] == 0)
    final = s.states[:, -1, :]
    code = final[:, free] @ np.array([4, 2, 1])
    counts = np.bincount(code, minlength=8)
    expected = np.zeros(8)
    np.add.at(expected, states[:, free] @ np.array([4, 2, 1]), p)
    pval = _chi2_p(counts, expected)
    assert pval > 1e-5, pval
    # the sampler really moves the free units (not a frozen chain that trivially passes)
    assert np.mean(s.states[:, 0, free] != start[:, free]) > 0.1
    assert s.info["evidence"] == ev


@pytest.mark.parametrize("method", ["hmc", "mala", "mh"])
def test_continuous_samplers_with_clamped_variables_sample_the_gaussian_conditional(method):
    cov = np.array([[1.0, 0.6, 0.3], [0.6, 2.0, -0.5], [0.3, -0.5, 0.8]])
    mean = np.array([0.5, -1.0, 2.0])
    g = pgm.GaussianEnergy(mean, np.linalg.inv(cov))
    c, f = [1], [0, 2]
    value = 0.7
    S_fc = cov[np.ix_(f, c)]
    cond_mean = mean[f] + (S_fc @ np.linalg.solve(cov[np.ix_(c, c)], [value - mean[1]]))
    cond_cov = cov[np.ix_(f, f)] - S_fc @ np.linalg.solve(cov[np.ix_(c, c)], S_fc.T)
    n = 4000
    rng = np.random.default_rng(2)
    start = np.empty((n, 3))
    start[:, f] = rng.multivariate_normal(cond_mean, cond_cov, size=n)
    start[:, 1] = value
    step = {"hmc": 0.4, "mala": 0.4, "mh": 0.8}[method]
    s = samplers.sample(g, method=method, chains=n, draws=3, warmup=0, init=start, evidence={1: value},
                        step_size=step, adapt_step_size=False, seed=3, progress=False)
    assert np.all(s.states[:, :, 1] == value)
    final = s.states[:, -1, f]
    assert np.mean(s.sample_stats["acceptance_rate"]) > 0.3     # it moves
    se_mean = np.sqrt(np.diag(cond_cov) / n)
    assert np.all(np.abs(final.mean(0) - cond_mean) < 4 * se_mean), (final.mean(0) - cond_mean) / se_mean
    emp = np.cov(final.T)
    # standard error of a sample covariance entry of independent Gaussian draws
    se_cov = np.sqrt((cond_cov**2 + np.outer(np.diag(cond_cov), np.diag(cond_cov))) / (n - 1))
    assert np.all(np.abs(emp - cond_cov) < 4 * se_cov), (emp - cond_cov) / se_cov


def test_dbn_with_clamped_visibles_converges_to_the_exact_conditional():
    """Convergence from one fixed start (TESTING.md §2): 4 000 chains, 300 warm-up sweeps on a
    4-3-2 DBN (exact conditional by enumeration of every visible state)."""
    dbn = pgm.DBN([4, 3, 2], seed=0)
    rng = np.random.default_rng(0)
    dbn.set_params(**{k: 1.5 * rng.standard_normal(np.shape(v)) for k, v in dbn.params.items()})
    ev = {1: 1}
    vs = np.array([s for s in itertools.product((0, 1), repeat=4) if s[1] == 1])
    lp = pgm.exact.log_likelihood(dbn, vs)
    p = np.exp(lp - lp.max())
    p /= p.sum()
    s = samplers.sample(dbn, chains=4000, draws=1, warmup=300, evidence=ev, init=np.ones(4), seed=5,
                        progress=False)
    final = s.states[:, -1, :]
    assert np.all(final[:, 1] == 1)
    code = final[:, [0, 2, 3]] @ np.array([4, 2, 1])
    pval = _chi2_p(np.bincount(code, minlength=8), np.bincount(vs[:, [0, 2, 3]] @ np.array([4, 2, 1]),
                                                                weights=p, minlength=8))
    assert pval > 1e-5, pval


def test_clamps_outside_the_model_are_typed_errors():
    g = pgm.GaussianEnergy(np.zeros(2), np.eye(2))
    with pytest.raises(UnknownVariableError, match="evidence names 2"):
        samplers.sample(g, method="hmc", evidence={2: 0.0}, chains=2, draws=2, progress=False)
    with pytest.raises(EvidenceError, match="disagrees"):
        samplers.sample(g, method="hmc", evidence={0: 1.0}, init=np.zeros((2, 2)), chains=2, draws=2,
                        progress=False)
    f = pgm.MLPEnergy(3, hidden=(2,), domain="binary", seed=0)
    with pytest.raises(EvidenceError, match="0 or 1"):
        samplers.sample(f, evidence={0: 0.5}, chains=2, draws=2, progress=False)
    with pytest.raises(TypeError, match="evidence must be a dict"):
        samplers.sample(f, evidence=[0, 1], chains=2, draws=2, progress=False)
