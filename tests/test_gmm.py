"""Gaussian mixtures by EM and generalised EM (issue 12 item 3: the book's GEM example).

Data: 6 000 draws from a known 3-component 2-D mixture (full covariances; a diagonal one for
the ``"diag"`` model).  Asserted: recovered means within 5 standard errors of the truth per
coordinate (``5·sqrt(Σ_ii / (n π_k))``), weights within 5 standard errors
(``5·sqrt(π_k(1 − π_k)/n)``); the log-likelihood never decreases (1e-9 relative) for the
closed-form M-step and for gradient M-steps; generalised EM reaches the closed-form fit; the
gradient of the expected complete log-likelihood ``Q`` matches central finite differences to
relative error ≤ 1e-5, and ``Q`` itself matches a direct ``scipy.stats`` evaluation.
"""

import itertools

import numpy as np
import pytest
from scipy import stats

from estimators.gmm import (GaussianMixtureResult, expected_complete_log_likelihood,
                            gaussian_mixture_em, pack_parameters, unpack_parameters)
from pgm.errors import CardinalityError, EvidenceError, ModelError

N = 6000
WEIGHTS = np.array([0.5, 0.3, 0.2])
MEANS = np.array([[-4.0, 0.0], [3.0, 3.0], [3.0, -3.0]])
FULL = np.array([[[1.0, 0.3], [0.3, 0.5]], [[0.6, -0.2], [-0.2, 1.2]], [[1.5, 0.0], [0.0, 0.4]]])
DIAG = np.array([[1.0, 0.5], [0.6, 1.2], [1.5, 0.4]])


def _sample(covariance, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.choice(3, size=N, p=WEIGHTS)
    cov = FULL if covariance == "full" else np.stack([np.diag(c) for c in DIAG])
    chol = np.linalg.cholesky(cov)
    return MEANS[z] + np.einsum("nij,nj->ni", chol[z], rng.standard_normal((N, 2)))


def _match(means):
    """The permutation of fitted components closest to the true means."""
    return min(itertools.permutations(range(3)),
               key=lambda p: np.sum((means[list(p)] - MEANS) ** 2))


def _assert_monotone(ll):
    steps = np.diff(ll)
    assert np.all(steps >= -1e-9 * np.abs(ll[1:])), steps[steps < 0]


def _check_recovery(res, covariance):
    p = list(_match(res.means))
    var = np.stack([np.diag(c) for c in FULL]) if covariance == "full" else DIAG
    se_mu = np.sqrt(var / (N * WEIGHTS[:, None]))
    se_w = np.sqrt(WEIGHTS * (1 - WEIGHTS) / N)
    err_mu = np.abs(res.means[p] - MEANS)
    err_w = np.abs(res.weights[p] - WEIGHTS)
    assert np.all(err_mu <= 5 * se_mu), (err_mu / se_mu).max()
    assert np.all(err_w <= 5 * se_w), (err_w / se_w).max()
    return (err_mu / se_mu).max()


@pytest.mark.parametrize("covariance", ["full", "diag"])
def test_em_recovers_the_mixture(covariance):
    x = _sample(covariance)
    res = gaussian_mixture_em(x, 3, covariance=covariance, seed=1, tol=1e-13, max_iter=500)
    assert isinstance(res, GaussianMixtureResult) and res.converged
    _assert_monotone(res.log_likelihood)
    z = _check_recovery(res, covariance)
    print(f"\nGMM {covariance} EM: {res.iterations} iterations, worst mean error {z:.2f} SE")
    assert res.log_prob(x).sum() == pytest.approx(res.log_likelihood[-1], rel=1e-12)
    r = res.responsibilities(x)
    np.testing.assert_allclose(r.sum(axis=1), 1.0, atol=1e-12)
    # a fixed point of the closed-form M-step, computed here from the responsibilities
    nk = r.sum(axis=0)
    np.testing.assert_allclose(res.weights, nk / N, rtol=1e-7)
    mu = (r.T @ x) / nk[:, None]
    np.testing.assert_allclose(res.means, mu, rtol=0, atol=1e-6)
    for k in range(3):
        d = x - mu[k]
        cov = (d * r[:, k:k + 1]).T @ d / nk[k]
        want = cov if covariance == "full" else np.diag(cov)
        np.testing.assert_allclose(res.covariances[k], want, rtol=0, atol=1e-6)


@pytest.mark.parametrize("covariance", ["full", "diag"])
@pytest.mark.parametrize("steps", [1, 5])
def test_generalised_em_is_monotone_and_reaches_the_em_fit(covariance, steps):
    x = _sample(covariance)
    em = gaussian_mixture_em(x, 3, covariance=covariance, seed=1, tol=1e-12, max_iter=500)
    gem = gaussian_mixture_em(x, 3, covariance=covariance, seed=1, gradient_steps=steps,
                              tol=1e-12, max_iter=2000)
    _assert_monotone(gem.log_likelihood)
    z = _check_recovery(gem, covariance)
    gap = em.log_likelihood[-1] - gem.log_likelihood[-1]
    p, q = list(_match(em.means)), list(_match(gem.means))
    print(f"\nGMM {covariance} GEM ({steps} gradient steps): {gem.iterations} iterations "
          f"(EM {em.iterations}), log-likelihood gap to EM {gap:.2e}, worst mean error {z:.2f} SE")
    assert abs(gap) <= 1e-6 * abs(em.log_likelihood[-1])
    np.testing.assert_allclose(gem.means[q], em.means[p], atol=1e-3)


@pytest.mark.parametrize("covariance", ["full", "diag"])
def test_q_gradient_matches_central_differences(covariance):
    rng = np.random.default_rng(3)
    x = _sample(covariance)[:400]
    resp = rng.dirichlet(np.ones(3), size=len(x))
    cov = np.array([[[1.3, -0.4], [-0.4, 0.9]], [[0.7, 0.1], [0.1, 0.5]], [[2.0, 0.6], [0.6, 1.1]]])
    if covariance == "diag":
        cov = np.stack([np.diag(c) for c in cov])
    theta = pack_parameters([0.2, 0.5, 0.3], MEANS + rng.normal(0, 0.5, MEANS.shape), cov,
                            covariance)
    q, g = expected_complete_log_likelihood(theta, x, resp, covariance)
    h = 1e-5
    fd = np.empty_like(theta)
    for i in range(len(theta)):
        e = np.zeros_like(theta)
        e[i] = h
        fd[i] = (expected_complete_log_likelihood(theta + e, x, resp, covariance)[0]
                 - expected_complete_log_likelihood(theta - e, x, resp, covariance)[0]) / (2 * h)
    rel = np.linalg.norm(g - fd) / np.linalg.norm(fd)
    print(f"\nGMM {covariance} dQ/dθ vs central differences: relative error {rel:.2e}")
    assert rel <= 1e-5
    assert np.all(np.abs(g - fd) <= 1e-5 * np.maximum(np.abs(fd), np.linalg.norm(fd) / len(fd)))
    # the value itself against a direct evaluation
    w, mu, c = unpack_parameters(theta, 3, 2, covariance)
    direct = sum(resp[:, k] @ (np.log(w[k]) + stats.multivariate_normal(
        mu[k], c[k] if covariance == "full" else np.diag(c[k])).logpdf(x)) for k in range(3))
    assert q == pytest.approx(direct, rel=1e-12)
    np.testing.assert_allclose(unpack_parameters(pack_parameters(w, mu, c, covariance), 3, 2,
                                                 covariance)[2], c, rtol=1e-12)


def test_errors():
    x = _sample("full")[:50]
    with pytest.raises(CardinalityError, match=r"\(n, d\)"):
        gaussian_mixture_em(x[:, 0], 2)
    bad = x.copy()
    bad[7, 1] = np.nan
    with pytest.raises(EvidenceError, match="row 7, column 1"):
        gaussian_mixture_em(bad, 2)
    with pytest.raises(CardinalityError, match="1..50"):
        gaussian_mixture_em(x, 51)
    with pytest.raises(ValueError, match="covariance"):
        gaussian_mixture_em(x, 2, covariance="spherical")
    with pytest.raises(ValueError, match="gradient_steps"):
        gaussian_mixture_em(x, 2, gradient_steps=-1)
    with pytest.raises(CardinalityError, match="init"):
        gaussian_mixture_em(x, 2, init=(np.ones(2) / 2, np.zeros((3, 2)),
                                         np.stack([np.eye(2)] * 2)))
    # three distinct points for three full-covariance components in 2-D: a component collapses
    pts = np.repeat(np.array([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0]]), 10, axis=0)
    with pytest.raises(ModelError, match="component"):
        gaussian_mixture_em(pts, 3, seed=0)
