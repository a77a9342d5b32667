"""Variational autoencoder, the reparametrised ELBO / IWAE objective and the pathwise gradient
estimator (SPEC.md §5 "VAE", "reparametrisation").

* gradients against central finite differences (relative 1e-5, float64) with the noise ε held
  fixed (the loss is a deterministic function of the parameters for a fixed seed): ELBO and IWAE,
  Bernoulli and Gaussian decoders, encoder and decoder parameters; ``reparameterize`` itself;
* the pathwise estimator is unbiased: mean of 10⁵ draws within 4 standard errors of the exact
  gradient of ``E_q[f]`` (``f = exp``, quadratic);
* the IWAE bound increases with k (paired differences, k = 1, 10, 100, 1000, each > 3 standard
  errors) and reaches ``log p(x)`` computed by quadrature over z (Bernoulli: a 2-D trapezoid grid,
  converged to 1e-8; Gaussian linear decoder: closed form) within 4 standard errors;
* ancestral samples: chi-square against the quadrature marginal over the 2⁴ patterns (α = 1e-5,
  one test in this file); Gaussian samples: Kolmogorov–Smirnov of Mahalanobis distances (α = 1e-5);
* training with the ELBO raises it by more than 4 paired standard errors;
* typed errors at the boundary.
"""

import json

import numpy as np
import pytest

import estimators
import pgm
import samplers
from estimators.elbo import ELBO
from estimators.reparameterization import reparameterize, reparameterized_sample
from pgm.errors import CardinalityError, EvidenceError, ModelError
from pgm.vae import VAE

from .conftest import chi_square_pvalue

ALPHA = 1e-5


def all_states(d):
    return ((np.arange(2**d)[:, None] >> np.arange(d)[::-1]) & 1).astype(np.float64)


def codes(x):
    return (x @ (2 ** np.arange(x.shape[1])[::-1])).astype(np.int64)


def randomize(vae, seed, enc_scale=0.3, dec_scale=1.0):
    rng = np.random.default_rng(seed)
    for name, arr in vae.params.items():
        scale = enc_scale if name.startswith("encoder") else dec_scale
        arr[...] = rng.normal(0.0, scale, arr.shape) if name != "decoder_log_var" else \
            rng.normal(0.0, 0.3, arr.shape)
    return vae


def grid_log_marginal(vae, x, h, radius=9.0):
    """``log p(x) = log ∫ p(x, z) dz`` by the trapezoid rule on a grid of step ``h`` over
    ``[−radius, radius]^L`` (exponentially accurate for this smooth, Gaussian-tailed integrand)."""
    t = np.arange(-radius, radius + h / 2, h)
    L = vae.n_latent
    z = np.stack([g.ravel() for g in np.meshgrid(*[t] * L, indexing="ij")], axis=-1)
    lj = vae.log_joint(x, z[:, None, :])          # (grid, rows)
    top = lj.max(axis=0)
    return top + np.log(np.exp(lj - top).sum(axis=0)) + L * np.log(h)


@pytest.fixture(scope="module")
def tiny():
    """A 4-pixel, 2-latent Bernoulli VAE with a broad encoder and its exact marginal."""
    vae = randomize(VAE(4, 2, hidden=(6,), seed=0), 0)
    x = all_states(4)
    exact = grid_log_marginal(vae, x, 0.1)
    check = grid_log_marginal(vae, x, 0.08)
    assert np.abs(exact - check).max() < 1e-8          # the quadrature has converged
    assert abs(np.exp(exact).sum() - 1.0) < 1e-10
    return vae, x, exact


def finite_difference(model, f, eps=1e-5):
    out = {}
    for name, arr in model.params.items():
        g = np.zeros(arr.shape)
        for idx in np.ndindex(arr.shape):
            old = arr[idx]
            arr[idx] = old + eps
            up = f()
            arr[idx] = old - eps
            down = f()
            arr[idx] = old
            g[idx] = (up - down) / (2 * eps)
        out[name] = g
    return out


def assert_grads_close(g, fd, rtol=1e-5):
    assert set(g) == set(fd)
    for k in fd:
        scale = max(1.0, float(np.abs(fd[k]).max()))
        err = float(np.abs(np.asarray(g[k]) - fd[k]).max())
        assert err <= rtol * scale, (k, err, scale)


def small_data(likelihood, rng, n=7, d=5):
    if likelihood == "bernoulli":
        return (rng.random((n, d)) < 0.5).astype(float)
    return rng.normal(0.0, 1.0, (n, d))


# ---------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
@pytest.mark.parametrize("k, samples", [(1, 3), (4, 2)])
def test_bound_gradient_matches_finite_differences(likelihood, k, samples):
    rng = np.random.default_rng(1)
    vae = randomize(VAE(5, 2, hidden=(4, 3), likelihood=likelihood, seed=0), 2, enc_scale=0.7)
    x = small_data(likelihood, rng)
    obj = ELBO(k=k, samples=samples)
    g, stats = obj.grad(vae, x, rng=5)                      # ε fixed by the seed
    assert list(g) == list(vae.params)
    fd = finite_difference(vae, lambda: obj.loss(vae, x, rng=5))
    assert_grads_close(g, fd)
    assert stats["loss"] == pytest.approx(obj.loss(vae, x, rng=5), rel=1e-12)


def test_reparameterize_matches_finite_differences():
    rng = np.random.default_rng(0)
    mu, log_var = rng.normal(size=(3, 2)), rng.normal(0.0, 0.5, (3, 2))
    eps = rng.standard_normal((5, 3, 2))                    # 5 draws per (μ, σ)
    c = rng.normal(size=(3, 2))

    def f(m, lv):
        z = reparameterized_sample(m, lv, eps)
        return float(np.sum(c * np.sin(z) + 0.5 * z * z))

    z = reparameterized_sample(mu, log_var, eps)
    g_mu, g_lv = reparameterize(mu, log_var, eps, c * np.cos(z) + z)
    h = 1e-6
    for arr, g in ((mu, g_mu), (log_var, g_lv)):
        fd = np.zeros(arr.shape)
        for idx in np.ndindex(arr.shape):
            old = arr[idx]
            arr[idx] = old + h
            up = f(mu, log_var)
            arr[idx] = old - h
            down = f(mu, log_var)
            arr[idx] = old
            fd[idx] = (up - down) / (2 * h)
        assert np.abs(g - fd).max() <= 1e-5 * max(1.0, np.abs(fd).max())


@pytest.mark.parametrize("kind", ["exp", "quadratic"])
def test_reparameterized_gradient_is_unbiased(kind):
    """Mean of 10⁵ per-draw pathwise gradients within 4 standard errors of ∇ E_q[f]."""
    mu = np.array([0.3, -0.5, 1.0])
    log_var = np.log(np.array([0.5, 1.0, 2.0]))
    a = np.array([0.7, -1.1, 0.4])
    var = np.exp(log_var)
    n = 100_000
    eps = np.random.default_rng(11).standard_normal((n, 3))
    z = reparameterized_sample(mu, log_var, eps)
    if kind == "exp":                      # f = Σ exp(a z), E f = Σ exp(aμ + a²σ²/2)
        e = np.exp(a * mu + 0.5 * a * a * var)
        exact_mu, exact_lv = a * e, 0.5 * a * a * var * e
        grad_z = a * np.exp(a * z)
    else:                                  # f = Σ a z², E f = Σ a (μ² + σ²)
        exact_mu, exact_lv = 2 * a * mu, a * var
        grad_z = 2 * a * z
    per_mu, per_lv = reparameterize(np.broadcast_to(mu, (n, 3)), np.broadcast_to(log_var, (n, 3)),
                                    eps, grad_z)                       # one gradient per draw
    for per, exact in ((per_mu, exact_mu), (per_lv, exact_lv)):
        se = per.std(axis=0, ddof=1) / np.sqrt(n)
        dev = np.abs(per.mean(axis=0) - exact) / se
        assert np.all(dev < 4.0), dev
    # summed over the sample axis in one call: n times the mean
    s_mu, s_lv = reparameterize(mu, log_var, eps, grad_z)
    np.testing.assert_allclose(s_mu, per_mu.sum(axis=0), rtol=1e-10)
    np.testing.assert_allclose(s_lv, per_lv.sum(axis=0), rtol=1e-10)


def test_user_networks_plug_in_and_give_the_same_gradients():
    class Wrapped:                          # the network protocol, not a pgm.Network
        def __init__(self, net):
            self.net, self.n_in, self.n_out = net, net.n_in, net.n_out
            self.params = net.params

        def set_params(self, **v):
            self.net.set_params(**v)

        def forward(self, x):
            return self.net.forward(x)

        def forward_cache(self, x):
            return self.net.forward_cache(x)

        def backward(self, cache, grad_y):
            return self.net.backward(cache, grad_y)

    ref = randomize(VAE(5, 2, hidden=(4,), seed=0), 3, enc_scale=0.7)
    enc = pgm.Network((5, 4, 4), seed=0)
    dec = pgm.Network((2, 4, 5), seed=0)
    vae = VAE(5, 2, encoder=Wrapped(enc), decoder=Wrapped(dec))
    vae.set_params(**ref.params)
    x = small_data("bernoulli", np.random.default_rng(0))
    g_ref, _ = ELBO(k=3).grad(ref, x, rng=1)
    g, _ = ELBO(k=3).grad(vae, x, rng=1)
    for name in g_ref:
        np.testing.assert_allclose(g[name], g_ref[name], rtol=1e-12, atol=1e-14)
    with pytest.raises(TypeError, match="pgm.Network"):
        vae.settings()


# ---------------------------------------------------------------------------- bounds
def test_bounds_agree_with_the_objective_and_chunking(tiny, monkeypatch):
    vae, x, _ = tiny
    xr = np.repeat(x, 3, axis=0)
    assert ELBO(k=7).loss(vae, xr, rng=4) == pytest.approx(-vae.iwae_bound(xr, 7, seed=4).mean(),
                                                             rel=1e-12)
    elbo = vae.elbo(xr, seed=4, samples=5)
    assert ELBO(samples=5).loss(vae, xr, rng=4) == pytest.approx(-elbo.mean(), rel=1e-12)
    whole = vae.iwae_bound(xr, 50, seed=2)
    monkeypatch.setattr("pgm.vae._CHUNK_ELEMENTS", 500)     # many chunks of draws
    np.testing.assert_allclose(vae.iwae_bound(xr, 50, seed=2), whole, rtol=1e-12)
    # log p(x, z) = log p(x|z) + log p(z); log q is a normalised Gaussian density
    z = np.random.default_rng(0).normal(size=(xr.shape[0], 2))
    np.testing.assert_allclose(vae.log_joint(xr, z), vae.log_likelihood(xr, z) + vae.log_prior(z))
    mu, lv = vae.encode(xr)
    ref = -0.5 * np.sum(np.log(2 * np.pi) + lv + (z - mu) ** 2 / np.exp(lv), axis=1)
    np.testing.assert_allclose(vae.log_q(z, xr), ref, rtol=1e-12)


def test_iwae_bound_increases_with_k():
    """Paired differences (nested draws: the same seed) of a badly matched q on 320 rows."""
    vae = randomize(VAE(4, 2, hidden=(6,), seed=0), 0, enc_scale=0.6)
    x = np.repeat(all_states(4), 20, axis=0)
    ks = [1, 10, 100, 1000]
    b = {k: vae.iwae_bound(x, k, seed=7) for k in ks}
    for k0, k1 in zip(ks[:-1], ks[1:]):
        d = b[k1] - b[k0]
        se = d.std(ddof=1) / np.sqrt(d.size)
        assert d.mean() > 3 * se, (k0, k1, d.mean(), se)


def test_iwae_bound_reaches_the_exact_log_likelihood(tiny):
    vae, x, exact = tiny
    reps = 20
    gap = vae.iwae_bound(np.repeat(x, reps, axis=0), 5000, seed=1) - np.repeat(exact, reps)
    se = gap.std(ddof=1) / np.sqrt(gap.size)
    assert abs(gap.mean()) < 4 * se + 1e-12, (gap.mean(), se)
    assert se < 0.01
    # the one-sample ELBO is a strictly looser bound
    elbo = vae.elbo(np.repeat(x, reps, axis=0), seed=3, samples=20) - np.repeat(exact, reps)
    assert elbo.mean() + 4 * elbo.std(ddof=1) / np.sqrt(elbo.size) < gap.mean()


def test_gaussian_iwae_bound_reaches_the_closed_form():
    """A linear Gaussian decoder is factor analysis: p(x) = N(b, WᵀW + diag e^λ)."""
    from scipy import stats

    vae = randomize(VAE(3, 2, hidden=(), likelihood="gaussian", seed=0), 4)
    W, b = vae.decoder.weights[0], vae.decoder.biases[0]              # x = z W + b + noise
    noise_prec = np.exp(-vae.decoder_log_var)
    cov = W.T @ W + np.diag(1.0 / noise_prec)
    # q(z|x): the exact posterior mean, the exact marginal variances widened by e^0.3
    post = np.linalg.inv(np.eye(2) + (W * noise_prec) @ W.T)
    gain = (noise_prec[:, None] * W.T) @ post                           # μ = (x − b) · gain
    vae.set_params(**{"encoder.W1": np.concatenate([gain, np.zeros((3, 2))], axis=1),
                      "encoder.b1": np.concatenate([-b @ gain, np.log(np.diag(post)) + 0.3])})
    x = np.random.default_rng(0).multivariate_normal(b, cov, 200)
    exact = stats.multivariate_normal(b, cov).logpdf(x)
    gap = vae.iwae_bound(x, 2000, seed=0) - exact
    se = gap.std(ddof=1) / np.sqrt(gap.size)
    assert abs(gap.mean()) < 4 * se + 1e-12 and se < 0.01, (gap.mean(), se)
    # ancestral samples: Mahalanobis distances are χ²_3
    s = samplers.ancestral(vae, 20_000, seed=2)
    r = s - b
    m = np.einsum("ij,ij->i", r @ np.linalg.inv(cov), r)
    p = stats.kstest(m, stats.chi2(3).cdf).pvalue
    assert p > ALPHA, p


def test_iwae_k5000_on_digits_sized_model():
    from sklearn.datasets import load_digits

    x = (load_digits().data[:20] >= 8).astype(np.float64)
    vae = VAE(64, 8, hidden=(64,), seed=0)
    b = vae.iwae_bound(x, 5000, seed=0)
    assert b.shape == (20,) and np.all(np.isfinite(b))
    assert b.mean() > vae.iwae_bound(x, 1, seed=0).mean()


# ---------------------------------------------------------------------------- sampling
def test_ancestral_samples_match_the_exact_marginal(tiny):
    vae, x, exact = tiny
    n = 100_000
    s = samplers.ancestral(vae, n, seed=3)
    assert s.shape == (n, 4) and s.dtype == np.float64 and set(np.unique(s)) <= {0.0, 1.0}
    observed = np.bincount(codes(s), minlength=16)
    p = chi_square_pvalue(observed, n * np.exp(exact))
    assert p > ALPHA, p
    xs, z = samplers.ancestral(vae, 5, seed=3, layers=True)
    assert xs.shape == (5, 4) and z.shape == (5, 2)
    np.testing.assert_array_equal(xs, samplers.ancestral(vae, 5, seed=3))


# ---------------------------------------------------------------------------- training
def test_training_raises_the_elbo():
    rng = np.random.default_rng(0)
    protos = np.array([[1, 1, 1, 1, 0, 0, 0, 0], [0, 0, 0, 0, 1, 1, 1, 1], [1, 0, 1, 0, 1, 0, 1, 0]])
    x = protos[rng.integers(0, 3, 300)]
    x = np.abs(x - (rng.random(x.shape) < 0.05)).astype(np.float64)
    vae = VAE(8, 2, hidden=(16,), seed=0)
    before = vae.elbo(x, seed=1, samples=20)
    h = estimators.fit(vae, x, ELBO(), estimators.Adam(lr=0.02), epochs=25, batch_size=50, seed=0,
                       progress=False)
    after = vae.elbo(x, seed=1, samples=20)
    d = after - before
    se = d.std(ddof=1) / np.sqrt(d.size)
    assert d.mean() > 4 * se and d.mean() > 1.0, (d.mean(), se)
    assert {"loss", "kl", "reconstruction"} <= set(h.keys())
    # the logged loss is −ELBO (one draw per row): its decline matches the measured gain
    assert h["loss"][0] - h["loss"][-1] > 0.5 * d.mean()


# ---------------------------------------------------------------------------- protocol, errors
def test_params_settings_and_persistence(tmp_path):
    vae = randomize(VAE(5, 2, hidden=(4,), likelihood="gaussian", seed=0), 1)
    assert vae.domain is None and VAE(5, 2).domain == (0, 1)
    assert list(vae.params) == ["encoder.W1", "encoder.b1", "encoder.W2", "encoder.b2",
                                "decoder.W1", "decoder.b1", "decoder.W2", "decoder.b2",
                                "decoder_log_var"]
    x = np.random.default_rng(0).normal(size=(4, 5))
    clone = VAE.from_settings(json.loads(json.dumps(vae.settings())))
    clone.set_params(**vae.params)
    np.testing.assert_array_equal(clone.iwae_bound(x, 10, seed=0), vae.iwae_bound(x, 10, seed=0))
    path = tmp_path / "vae.npz"
    vae.save(path)
    loaded = pgm.load(path)
    np.testing.assert_array_equal(loaded.reconstruct(x, mean=True), vae.reconstruct(x, mean=True))
    # set_params: typed errors, all or nothing
    old = vae.params["decoder.b1"].copy()
    with pytest.raises(KeyError):
        vae.set_params(bogus=1.0)
    with pytest.raises(CardinalityError):
        vae.set_params(**{"decoder.b1": np.zeros(3)})
    with pytest.raises(ModelError):
        vae.set_params(**{"decoder.b1": np.zeros(4), "decoder_log_var": [np.nan] * 5})
    np.testing.assert_array_equal(vae.params["decoder.b1"], old)


def test_typed_errors():
    vae = VAE(4, 2, hidden=(3,), seed=0)
    gauss = VAE(4, 2, hidden=(3,), likelihood="gaussian", seed=0)
    good = np.zeros((2, 4))
    for bad_ctor in (lambda: VAE(0, 2), lambda: VAE(4, 2, likelihood="poisson"),
                     lambda: VAE(4, 2, hidden=(0,))):
        with pytest.raises(ValueError):
            bad_ctor()
    with pytest.raises(CardinalityError, match="encoder"):
        VAE(4, 2, encoder=pgm.Network((4, 3)))
    with pytest.raises(TypeError, match="decoder"):
        VAE(4, 2, decoder=object())
    with pytest.raises(EvidenceError, match="binary"):
        vae.iwae_bound([[0, 0.5, 1, 1]], 5)
    with pytest.raises(EvidenceError, match="finite"):
        gauss.elbo([[0, np.nan, 1, 1]])
    with pytest.raises(CardinalityError):
        vae.encode(np.zeros((2, 5)))
    with pytest.raises(CardinalityError):
        vae.decode(np.zeros((2, 3)))
    with pytest.raises(EvidenceError):
        vae.decode([[0.0, np.inf]])
    with pytest.raises(CardinalityError):
        vae.log_joint(good, np.zeros((3, 2)))            # 3 latent rows for 2 data rows
    for k in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="k"):
            vae.iwae_bound(good, k)
        with pytest.raises(ValueError, match="k"):
            ELBO(k=k)
    with pytest.raises(ValueError, match="samples"):
        ELBO(samples=0)
    with pytest.raises(EvidenceError, match="binary"):
        estimators.fit(vae, [[0, 2, 1, 1]], ELBO(), epochs=1, progress=False)
    with pytest.raises(EvidenceError, match="finite"):
        estimators.fit(gauss, [[0, np.nan, 1, 1]], ELBO(), epochs=1, progress=False)
    with pytest.raises(CardinalityError):
        estimators.fit(vae, np.zeros((3, 5)), ELBO(), epochs=1, progress=False)
    with pytest.raises(TypeError, match="encode_vjp"):
        estimators.fit(pgm.RBM(4, 2, seed=0), good, ELBO(), epochs=1, progress=False)
    with pytest.raises(CardinalityError):
        reparameterize(np.zeros(2), np.zeros(3), np.zeros(2), np.zeros(2))
    with pytest.raises(CardinalityError):
        reparameterize(np.zeros(2), np.zeros(2), np.zeros((4, 3)), np.zeros((4, 3)))
    with pytest.raises(CardinalityError):
        vae.ancestral_pass({"normal": np.zeros((3, 2)), "uniform": np.zeros((3, 5))})
    with pytest.raises(TypeError):
        vae.ancestral_pass({"uniform": np.zeros((3, 4))})
