"""Implicit generators — GAN and GMMN (pgm/generators.py) — and their objectives, adversarial
training (estimators/adversarial.py) and moment matching by the MMD (estimators/mmd.py)
(SPEC.md §5 "GAN", "Generative moment matching").

* gradients against central finite differences (relative 1e-5, float64) with the noise held
  fixed (a fixed ``rng`` makes every loss a deterministic function of the parameters): MMD²
  with respect to a GMMN's and a GAN's generator parameters (unbiased and biased), ``mmd2``'s
  gradient with respect to the samples, the discriminator loss with respect to the
  discriminator's parameters and both generator losses with respect to the generator's
  parameters (with and without instance noise), the networks' vector–Jacobian products;
* the unbiased MMD² estimator: its mean over 3 000 repeats (n = m = 20, 2-D Gaussians) lies
  within 4 standard errors of the exact population MMD² (Gaussian–Gaussian convolution, closed
  form); the biased V-statistic's mean lies within 4 standard errors of exact + its known bias
  ``(S − E k(x,x'))/n + (S − E k(y,y'))/m``, which is > 10 standard errors;
* short training runs on a 1-D Gaussian target N(2, 0.5²) from a generator started near 0 (its
  last layer shrunk tenfold): GMMN by MMD, a GAN by the adversarial objective, a GAN's generator
  by MMD — the sample mean and standard deviation (2·10⁴ samples) move toward the data's far
  beyond their standard errors and end within 0.25 (mean) and 0.15 (std) of it (measured over
  seeds 0–5: at most 0.13 and 0.06);
* the noise protocol (``samplers.ancestral``), settings round trip, user networks, a checkpointed
  adversarial run resumed bit for bit with ``discriminator_steps = 2``;
* typed errors at the boundary.
"""

import json

import numpy as np
import pytest

import estimators
import samplers
from estimators.adversarial import Adversarial
from estimators.mmd import MMD, mmd2
from pgm.errors import CardinalityError, EvidenceError, ModelError
from pgm.generators import GAN, GMMN
from pgm.network import Network

RTOL = 1e-5


def finite_difference(model, f, names=None, eps=1e-6):
    out = {}
    for name, arr in model.params.items():
        if names is not None and not name.startswith(names):
            continue
        g = np.zeros(arr.shape)
        for idx in np.ndindex(arr.shape):
            old = arr[idx]
            arr[idx] = old + eps
            fp = f()
            arr[idx] = old - eps
            fm = f()
            arr[idx] = old
            g[idx] = (fp - fm) / (2 * eps)
        out[name] = g
    return out


def assert_close(analytic, numeric):
    assert set(numeric) <= set(analytic)
    for k, num in numeric.items():
        err = np.abs(np.asarray(analytic[k]) - num).max() / max(np.abs(num).max(), 1e-8)
        assert err < RTOL, f"{k}: relative error {err:.2e}"


def tiny_gan(seed=0, **kw):
    return GAN(2, 3, generator_hidden=(5,), discriminator_hidden=(4,), seed=seed, **kw)


@pytest.fixture(scope="module")
def batch():
    return np.random.default_rng(0).normal(0.5, 1.0, (7, 2))


# ---------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("unbiased", [True, False])
def test_mmd_gradient_gmmn(batch, unbiased):
    model = GMMN(2, 3, hidden=(5, 4), seed=1)
    obj = MMD(bandwidths=(0.5, 1.0, 2.0), samples=6, unbiased=unbiased)
    grads, stats = obj.grad(model, batch, rng=3)
    assert stats["loss"] == obj.loss(model, batch, rng=3)
    assert_close(grads, finite_difference(model, lambda: obj.loss(model, batch, rng=3)))


def test_mmd_one_row_batch(batch):
    """The last batch of an epoch may hold one row: no data–data pair, same gradient formula."""
    model = GMMN(2, 3, hidden=(4,), seed=2)
    obj = MMD(bandwidths=(0.5, 2.0), samples=5)
    grads, _ = obj.grad(model, batch[:1], rng=1)
    assert_close(grads, finite_difference(model, lambda: obj.loss(model, batch[:1], rng=1)))
    y = model.generate(np.random.default_rng(1).standard_normal((5, 3)))
    want = _pair_mean(y, (0.5, 2.0)) - 2 * _k(batch[:1], y, (0.5, 2.0)).mean()   # brute force
    assert obj.loss(model, batch[:1], rng=1) == pytest.approx(want, rel=1e-10)
    estimators.fit(model, batch, obj, estimators.Adam(lr=0.01), epochs=1, batch_size=6, seed=0,
                   progress=False)                                        # batches of 6 and 1 rows


def _k(a, b, bws):
    d2 = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
    return sum(np.exp(-d2 / (2 * s * s)) for s in bws)


def _pair_mean(y, bws):
    """Mean kernel over the pairs i ≠ j."""
    m = len(y)
    return sum(_k(y[i:i + 1], y[j:j + 1], bws)[0, 0] for i in range(m) for j in range(m) if i != j) \
        / (m * (m - 1))


def test_mmd_gradient_gan_generator_only(batch):
    gan = tiny_gan(2)
    obj = MMD(bandwidths=(0.3, 1.0))
    grads, _ = obj.grad(gan, batch, rng=4)
    assert sorted(grads) == sorted(k for k in gan.params if k.startswith("generator."))
    assert_close(grads, finite_difference(gan, lambda: obj.loss(gan, batch, rng=4), "generator."))


@pytest.mark.parametrize("unbiased", [True, False])
def test_mmd2_gradient_wrt_samples(batch, unbiased):
    y = np.random.default_rng(5).normal(size=(5, 2))
    value, g = mmd2(batch, y, (0.3, 1.0), unbiased=unbiased, gradient=True)
    assert value == mmd2(batch, y, (0.3, 1.0), unbiased=unbiased)
    if unbiased:                                                     # brute-force U-statistic
        want = _pair_mean(batch, (0.3, 1.0)) + _pair_mean(y, (0.3, 1.0))
    else:                                                            # V-statistic
        want = _k(batch, batch, (0.3, 1.0)).mean() + _k(y, y, (0.3, 1.0)).mean()
    assert value == pytest.approx(want - 2 * _k(batch, y, (0.3, 1.0)).mean(), rel=1e-10)
    num = np.zeros_like(y)
    for idx in np.ndindex(y.shape):
        yp, ym = y.copy(), y.copy()
        yp[idx] += 1e-6
        ym[idx] -= 1e-6
        num[idx] = (mmd2(batch, yp, (0.3, 1.0), unbiased=unbiased)
                    - mmd2(batch, ym, (0.3, 1.0), unbiased=unbiased)) / 2e-6
    assert np.abs(g - num).max() / np.abs(num).max() < RTOL


@pytest.mark.parametrize("loss", ["minimax", "non_saturating"])
@pytest.mark.parametrize("noise", [0.0, 0.1])
def test_adversarial_gradients(batch, loss, noise):
    gan = tiny_gan(3)
    obj = Adversarial(loss=loss, samples=6, instance_noise=noise)
    grads, stats = obj.grad(gan, batch, rng=4)
    assert sorted(grads) == sorted(gan.params)
    assert stats == obj.losses(gan, batch, rng=4)
    d_num = finite_difference(gan, lambda: obj.losses(gan, batch, rng=4)["discriminator_loss"],
                              "discriminator.")
    g_num = finite_difference(gan, lambda: obj.losses(gan, batch, rng=4)["generator_loss"], "generator.")
    assert_close(grads, d_num)
    assert_close(grads, g_num)
    # the two losses at these values (d = σ(D)): definitions, not the code's own numbers
    rng = np.random.default_rng(4)
    z = rng.standard_normal((6, 3))
    y = gan.generate(z)
    x = batch
    if noise:
        x = x + noise * rng.standard_normal(x.shape)
        y = y + noise * rng.standard_normal(y.shape)
    dx, dy = gan.discriminate(x), gan.discriminate(y)
    assert stats["discriminator_loss"] == pytest.approx(-np.mean(np.log(dx)) - np.mean(np.log1p(-dy)), rel=1e-12)
    want = np.mean(np.log1p(-dy)) if loss == "minimax" else -np.mean(np.log(dy))
    assert stats["generator_loss"] == pytest.approx(want, rel=1e-12)
    assert stats["d_data"] == pytest.approx(dx.mean()) and stats["d_generated"] == pytest.approx(dy.mean())
    # a discriminator-only step has the same discriminator gradient
    d_only, _ = obj.discriminator_grad(gan, batch, rng=4)
    assert sorted(d_only) == sorted(k for k in gan.params if k.startswith("discriminator."))
    for k in d_only:
        np.testing.assert_array_equal(d_only[k], grads[k])


def test_network_vjps(batch):
    gan = tiny_gan(4, output="sigmoid")
    w = np.random.default_rng(6).normal(size=batch.shape[0])
    a, vjp = gan.discriminator_vjp(batch)
    np.testing.assert_allclose(a, gan.discriminate(batch, logits=True))
    gx, grads = vjp(w)
    assert_close(grads, finite_difference(gan, lambda: w @ gan.discriminator_vjp(batch)[0], "discriminator."))
    num = np.zeros_like(batch)
    for idx in np.ndindex(batch.shape):
        xp, xm = batch.copy(), batch.copy()
        xp[idx] += 1e-6
        xm[idx] -= 1e-6
        num[idx] = (w @ gan.discriminate(xp, logits=True) - w @ gan.discriminate(xm, logits=True)) / 2e-6
    assert np.abs(gx - num).max() / np.abs(num).max() < RTOL
    z = np.random.default_rng(7).normal(size=(4, 3))
    gy = np.random.default_rng(8).normal(size=(4, 2))
    y, gvjp = gan.generate_vjp(z)
    assert np.all((y > 0) & (y < 1))
    assert_close(gvjp(gy), finite_difference(gan, lambda: np.sum(gy * gan.generate(z)), "generator."))


# ---------------------------------------------------------------------------- MMD² estimator
def _expected_kernel(mean, cov, bandwidths):
    """``E Σ_s exp(−‖u‖²/(2s²))`` for ``u ~ N(mean, cov)``."""
    d = len(mean)
    out = 0.0
    for s in bandwidths:
        c = cov + s * s * np.eye(d)
        out += np.linalg.det(np.eye(d) + cov / s**2) ** -0.5 * np.exp(-0.5 * mean @ np.linalg.solve(c, mean))
    return out


def test_mmd2_unbiased_matches_population_value_biased_does_not():
    bw = (0.5, 1.0, 2.0)
    mu1, mu2 = np.array([0.0, 0.0]), np.array([0.6, -0.3])
    A = np.array([[1.0, 0.3], [0.3, 0.5]])
    B = np.array([[0.7, -0.2], [-0.2, 1.2]])
    kxx = _expected_kernel(np.zeros(2), 2 * A, bw)
    kyy = _expected_kernel(np.zeros(2), 2 * B, bw)
    kxy = _expected_kernel(mu1 - mu2, A + B, bw)
    exact = kxx + kyy - 2 * kxy
    n = m = 20
    bias = (len(bw) - kxx) / n + (len(bw) - kyy) / m
    rng = np.random.default_rng(11)
    R = 3000
    La, Lb = np.linalg.cholesky(A), np.linalg.cholesky(B)
    xs = mu1 + rng.standard_normal((R, n, 2)) @ La.T
    ys = mu2 + rng.standard_normal((R, m, 2)) @ Lb.T
    u = np.array([mmd2(x, y, bw) for x, y in zip(xs, ys)])
    v = np.array([mmd2(x, y, bw, unbiased=False) for x, y in zip(xs, ys)])
    se_u, se_v = u.std(ddof=1) / np.sqrt(R), v.std(ddof=1) / np.sqrt(R)
    assert abs(u.mean() - exact) < 4 * se_u, (u.mean(), exact, se_u)
    assert abs(v.mean() - (exact + bias)) < 4 * se_v, (v.mean(), exact + bias, se_v)
    assert bias > 10 * se_v


def test_mmd2_zero_for_identical_distribution_and_grows_with_shift():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(400, 2)), rng.normal(size=(400, 2))
    values = [mmd2(x, y + t, (0.5, 1.0, 2.0)) for t in (0.0, 0.3, 1.0)]
    assert values[0] < values[1] < values[2]
    assert mmd2(x, x, 1.0, unbiased=False) == pytest.approx(0.0, abs=1e-12)


# ---------------------------------------------------------------------------- training
DATA = np.random.default_rng(0).normal(2.0, 0.5, (512, 1))


def _moments(model, seed=9):
    s = samplers.ancestral(model, 20000, seed=seed)[:, 0]
    return s.mean(), s.std(), s.std() / np.sqrt(s.size)


def _check_moved(model, train):
    model.generator.weights[-1] *= 0.1          # start far from the data: mean ≈ 0, std ≈ 0.05
    m0, s0, _ = _moments(model)
    train(model)
    m1, s1, se = _moments(model)
    mu, sigma = DATA.mean(), DATA.std()
    assert abs(m1 - mu) + 10 * se < abs(m0 - mu), (m0, m1)
    assert abs(s1 - sigma) + 10 * se < abs(s0 - sigma), (s0, s1)
    assert abs(m1 - mu) < 0.25 and abs(s1 - sigma) < 0.15, (m1, s1)


def test_gmmn_learns_gaussian_by_mmd():
    _check_moved(GMMN(1, 1, hidden=(8,), seed=0), lambda g: estimators.fit(
        g, DATA, MMD(bandwidths=(0.25, 0.5, 1.0, 2.0)), estimators.Adam(lr=0.03), epochs=30,
        batch_size=128, seed=0, progress=False))


def test_gan_generator_alone_learns_by_mmd():
    gan = GAN(1, 1, generator_hidden=(8,), discriminator_hidden=(8,), seed=1)
    before = {k: v.copy() for k, v in gan.params.items() if k.startswith("discriminator.")}
    _check_moved(gan, lambda g: estimators.fit(
        g, DATA, MMD(bandwidths=(0.25, 0.5, 1.0, 2.0)), estimators.Adam(lr=0.03), epochs=30,
        batch_size=128, seed=1, progress=False))
    for k, v in before.items():
        np.testing.assert_array_equal(gan.params[k], v)


def test_gan_learns_gaussian_adversarially():
    def train(gan):
        h = estimators.fit(gan, DATA, Adversarial(), estimators.Adam(
            lr=estimators.CosineDecay(0.01, 400, final=5e-4), beta1=0.0, beta2=0.9),
            epochs=100, batch_size=128, seed=0, progress=False)
        assert {"discriminator_loss", "generator_loss", "d_data", "d_generated"} <= set(h.keys())
        assert "loss" not in h.keys()

    _check_moved(GAN(1, 2, generator_hidden=(16,), discriminator_hidden=(16,), seed=0), train)


def test_discriminator_steps_and_resume(tmp_path):
    x = DATA[:64]

    def run(epochs, ckpt, resume=False, gan=None):
        gan = gan or tiny_gan_1d()
        opt = estimators.Adam(lr=0.01)
        estimators.fit(gan, x, Adversarial(loss="minimax", discriminator_steps=2), opt, epochs=epochs,
                       batch_size=32, seed=5, progress=False, checkpoint=ckpt, resume=resume)
        return gan, opt

    def tiny_gan_1d():
        return GAN(1, 1, generator_hidden=(4,), discriminator_hidden=(4,), seed=3)

    straight, opt = run(4, str(tmp_path / "a.npz"))
    assert opt.t == 4 * 2 * 2                       # 2 batches × (1 extra + 1 joint) steps per epoch
    half, _ = run(2, str(tmp_path / "b.npz"))
    resumed, _ = run(4, str(tmp_path / "b.npz"), resume=True, gan=half)
    for k, v in straight.params.items():
        np.testing.assert_array_equal(resumed.params[k], v)


# ---------------------------------------------------------------------------- protocol
def test_noise_protocol_settings_and_user_networks():
    gan = tiny_gan(5)
    assert gan.noise_shapes(4) == {"normal": (4, 3)} and gan.domain is None and gan.n_visible == 2
    s = samplers.ancestral(gan, 6, seed=8)
    np.testing.assert_array_equal(s, gan.generate(np.random.default_rng(8).standard_normal((6, 3))))
    for model in (gan, GMMN(2, 3, hidden=(4,), output="sigmoid", seed=1)):
        settings = json.loads(json.dumps(model.settings()))
        clone = type(model).from_settings(settings)
        clone.set_params(**model.params)
        np.testing.assert_array_equal(samplers.ancestral(clone, 5, seed=1), samplers.ancestral(model, 5, seed=1))

    class Wrapped:                                  # the network protocol without pgm.Network
        def __init__(self, net):
            self.net, self.n_in, self.n_out = net, net.n_in, net.n_out

        params = property(lambda self: self.net.params)

        def set_params(self, **v):
            self.net.set_params(**v)

        def forward(self, x):
            return self.net.forward(x)

        def forward_cache(self, x):
            return self.net.forward_cache(x)

        def backward(self, cache, grad_y):
            return self.net.backward(cache, grad_y)

    user = GAN(2, 3, generator=Wrapped(Network((3, 4, 2), seed=0)),
               discriminator=Wrapped(Network((2, 4, 1), seed=1)))
    x = np.random.default_rng(0).normal(size=(5, 2))
    obj = Adversarial(samples=4)
    grads, _ = obj.grad(user, x, rng=1)
    assert_close(grads, finite_difference(user, lambda: obj.losses(user, x, rng=1)["discriminator_loss"],
                                          "discriminator."))
    with pytest.raises(TypeError, match="settings"):
        user.settings()


# ---------------------------------------------------------------------------- errors
def test_typed_errors():
    with pytest.raises(ValueError, match="n_visible"):
        GAN(0, 2)
    with pytest.raises(ValueError, match="output"):
        GMMN(2, 2, output="softmax")
    with pytest.raises(CardinalityError, match="generator"):
        GAN(2, 3, generator=Network((3, 4, 3)))
    with pytest.raises(CardinalityError, match="discriminator"):
        GAN(2, 3, discriminator=Network((2, 4, 2)))
    with pytest.raises(TypeError, match="discriminator"):
        GAN(2, 3, discriminator=object())
    gan = tiny_gan(0)
    with pytest.raises(CardinalityError):
        gan.generate(np.zeros((2, 4)))
    with pytest.raises(EvidenceError):
        gan.generate(np.full((2, 3), np.nan))
    with pytest.raises(CardinalityError):
        gan.discriminate(np.zeros((2, 3)))
    with pytest.raises(EvidenceError):
        gan.discriminate([[0.0, np.nan]])
    with pytest.raises(TypeError, match="layers"):
        gan.ancestral_pass({"normal": np.zeros((2, 3))}, layers=True)
    with pytest.raises(KeyError):
        gan.set_params(**{"generator.W9": np.zeros(1)})
    with pytest.raises(CardinalityError):
        gan.set_params(**{"generator.W1": np.zeros((2, 2))})
    with pytest.raises(ModelError):
        gan.set_params(**{"discriminator.b1": np.full(4, np.inf)})
    bad = np.ones((10, 2))
    bad[3, 1] = np.nan
    with pytest.raises(EvidenceError, match="finite"):
        estimators.fit(gan, bad, Adversarial(), epochs=1, progress=False)
    with pytest.raises(CardinalityError):
        estimators.fit(GMMN(2, 2, hidden=(3,)), np.ones((10, 3)), MMD(), epochs=1, progress=False)
    for bws in ((1.0, 0.0), -2.0, (1.0, float("nan"))):
        with pytest.raises(ValueError, match="bandwidth"):
            MMD(bandwidths=bws)
    with pytest.raises(ValueError, match=r"-0\.5"):
        mmd2(np.zeros((3, 2)), np.ones((3, 2)), (1.0, -0.5))
    with pytest.raises(CardinalityError):
        mmd2(np.zeros((3, 2)), np.ones((3, 1)), 1.0)
    with pytest.raises(CardinalityError):
        mmd2(np.zeros((1, 2)), np.ones((3, 2)), 1.0)
    with pytest.raises(EvidenceError):
        mmd2(np.zeros((3, 2)), np.full((3, 2), np.inf), 1.0)
    with pytest.raises(ValueError, match="wasserstein"):
        Adversarial(loss="wasserstein")
    with pytest.raises(ValueError, match="discriminator_steps"):
        Adversarial(discriminator_steps=0)
    with pytest.raises(ValueError, match="instance_noise"):
        Adversarial(instance_noise=-1.0)
    with pytest.raises(TypeError, match="discriminator_vjp"):
        estimators.fit(GMMN(2, 2, hidden=(3,)), np.ones((10, 2)), Adversarial(), epochs=1, progress=False)
    with pytest.raises(TypeError, match="loss"):
        Adversarial().loss(gan, np.ones((4, 2)))
