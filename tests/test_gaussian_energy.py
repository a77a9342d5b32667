"""pgm.GaussianEnergy: validation, closed forms against finite differences and scipy."""

import numpy as np
import pytest

import pgm
from pgm.errors import CardinalityError, EvidenceError, ModelError


def _model(d=3, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(d, d))
    return pgm.GaussianEnergy(rng.normal(size=d), A @ A.T / d + np.eye(d))


def _sym_directions(d):
    out = []
    for i in range(d):
        for j in range(i, d):
            D = np.zeros((d, d))
            D[i, j] = D[j, i] = 1.0
            out.append(D)
    return out


@pytest.mark.parametrize("precision, what", [
    ([[1.0, 0.5], [0.0, 1.0]], "symmetric"),
    ([[1.0, 2.0], [2.0, 1.0]], "positive definite"),
    ([[0.0, 0.0], [0.0, 1.0]], "positive definite"),
    ([[1.0, np.nan], [np.nan, 1.0]], "finite"),
])
def test_rejects_unnormalisable_precision(precision, what):
    with pytest.raises(ModelError, match=what):
        pgm.GaussianEnergy([0.0, 0.0], precision)


def test_rejects_bad_shapes_and_data():
    with pytest.raises(CardinalityError):
        pgm.GaussianEnergy([0.0, 0.0], np.eye(3))
    g = pgm.GaussianEnergy([0.0, 0.0], np.eye(2))
    with pytest.raises(CardinalityError, match=r"\(n, 2\)"):
        g.energy(np.zeros((4, 3)))
    with pytest.raises(EvidenceError, match="finite"):
        g.energy([np.inf, 0.0])


def test_set_params_validates_and_keeps_state_on_error():
    g = _model()
    before = {k: v.copy() for k, v in g.params.items()}
    with pytest.raises(ModelError, match="positive definite"):
        g.set_params(mean=np.zeros(3), precision=-np.eye(3))
    for k in before:
        np.testing.assert_array_equal(g.params[k], before[k])
    with pytest.raises(KeyError):
        g.set_params(W=np.eye(3))
    arr = g.precision
    g.set_params(precision=2 * np.eye(3))
    assert g.precision is arr and np.all(arr == 2 * np.eye(3))  # in place


def test_log_prob_matches_scipy():
    from scipy import stats

    g = _model()
    x = np.random.default_rng(1).normal(size=(5, 3))
    ref = stats.multivariate_normal(g.mean, np.linalg.inv(g.precision)).logpdf(x)
    np.testing.assert_allclose(g.log_prob(x), ref, rtol=1e-12)
    np.testing.assert_allclose(g.log_unnormalized(x), -g.energy(x))


def test_grad_x_and_laplacian_by_finite_differences():
    g = _model()
    x = np.random.default_rng(2).normal(size=3)
    h = 1e-5
    fd = np.array([(g.energy(x + h * e) - g.energy(x - h * e)) / (2 * h) for e in np.eye(3)])
    np.testing.assert_allclose(g.grad_x(x), fd, rtol=1e-7)
    second = sum((g.grad_x(x + h * e)[j] - g.grad_x(x - h * e)[j]) / (2 * h) for j, e in enumerate(np.eye(3)))
    np.testing.assert_allclose(g.laplacian(x), second, rtol=1e-7)


def _directional(f, g, name, D, h=1e-6):
    base = g.params[name].copy()
    g.set_params(**{name: base + h * D})
    up = f()
    g.set_params(**{name: base - h * D})
    down = f()
    g.set_params(**{name: base})
    return (up - down) / (2 * h)


def test_parameter_gradients_by_finite_differences():
    """∂E, ∂(v·∇ₓE), ∂ΔE and ∂log Z along every coordinate (symmetric directions for P)."""
    g = _model()
    rng = np.random.default_rng(3)
    x, v = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    quantities = {
        "energy": (lambda: g.energy(x).mean(), lambda: g.grad_energy(x)),
        "v.grad_x": (lambda: np.mean(np.sum(v * g.grad_x(x), axis=1)), lambda: g.grad_grad_x(x, v)),
        "laplacian": (lambda: g.laplacian(x).mean(), lambda: g.grad_laplacian(x)),
        "log Z": (g.exact_log_partition, g.grad_log_partition),
    }
    for label, (f, grad) in quantities.items():
        G = grad()
        for name, dirs in (("mean", list(np.eye(3))), ("precision", _sym_directions(3))):
            for D in dirs:
                fd = _directional(f, g, name, D)
                an = float(np.sum(G[name] * D))
                assert abs(fd - an) <= 1e-6 * max(1.0, abs(an)), (label, name, fd, an)


def test_weights_give_weighted_sums():
    g = _model()
    rng = np.random.default_rng(4)
    x, v, w = rng.normal(size=(5, 3)), rng.normal(size=(5, 3)), rng.normal(size=5)
    for fn, args in ((g.grad_energy, (x,)), (g.grad_grad_x, (x, v))):
        got = fn(*args, weights=w)
        ref = {k: sum(w[i] * fn(*(a[i:i + 1] for a in args))[k] for i in range(5)) for k in got}
        for k in got:
            np.testing.assert_allclose(got[k], ref[k], rtol=1e-12, atol=1e-12)


def test_exact_samples_have_the_model_moments():
    """20 000 draws: mean within 5 standard errors, covariance entries within 5 of theirs."""
    g = _model()
    x = g.sample(20_000, rng=5)
    cov = np.linalg.inv(g.precision)
    se = np.sqrt(np.diag(cov) / x.shape[0])
    assert np.all(np.abs(x.mean(0) - g.mean) < 5 * se)
    emp = np.cov(x.T, bias=True)
    se_cov = np.sqrt((cov ** 2 + np.outer(np.diag(cov), np.diag(cov))) / x.shape[0])
    assert np.all(np.abs(emp - cov) < 5 * se_cov)
