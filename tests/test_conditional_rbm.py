"""pgm.ConditionalRBM and its learners estimators.ConditionalCD / ConditionalML (SPEC.md §5
"Conditional RBM": biases that depend on context).

Checks: parameter gradients against central finite differences (float64, relative 1e-5);
exactness — ``log p(v | u)`` normalised over all visible states for several contexts, two
independent enumerations of ``Z(u)`` agree, ``given(u)`` is the same distribution as a
``pgm.RBM`` (conditionals, free energy, ``log Z``), and block Gibbs on ``given(u)`` from exact
starts passes a chi-square test against the enumerated ``p(v | u)`` (α = 1e-5, 20 000 chains;
the same test rejects the conditional of another context); CD-1 with per-row conditioned
biases has zero mean gradient on data drawn from the model itself; training on a noisy
periodic sequence improves the held-out predictive log-likelihood well beyond its standard
error; typed errors.
"""

import numpy as np
import pytest

import pgm
import samplers
import estimators
from estimators.conditional import ConditionalCD, ConditionalML
from pgm.conditional_rbm import ConditionalRBM
from pgm.errors import CardinalityError, EvidenceError, ModelError, TooLargeError

from .conftest import chi_square_pvalue

ALPHA = 1e-5
REL = 1e-5


def random_crbm(d=4, h=3, c=2, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    return ConditionalRBM(d, h, c, W=rng.normal(0, scale, (d, h)), A=rng.normal(0, scale, (d, c)),
                          B=rng.normal(0, scale, (h, c)), b=rng.normal(0, 0.5, d), c=rng.normal(0, 0.5, h))


def all_states(d):
    k = np.arange(2 ** d)
    return ((k[:, None] >> np.arange(d)) & 1).astype(float)


def fd_grad(fun, params, eps=1e-6):
    """Central finite differences of the scalar ``fun()`` w.r.t. every entry of ``params``."""
    out = {}
    for name, arr in params.items():
        g = np.zeros_like(arr)
        for i in np.ndindex(arr.shape):
            old = arr[i]
            arr[i] = old + eps
            a = fun()
            arr[i] = old - eps
            b = fun()
            arr[i] = old
            g[i] = (a - b) / (2 * eps)
        out[name] = g
    return out


def assert_grads_close(g, fd, what):
    for k in fd:
        err = np.max(np.abs(g[k] - fd[k])) / max(np.max(np.abs(fd[k])), 1e-12)
        assert err < REL, f"{what}: ∂/∂{k} relative error {err:.2e}"


# ---------------------------------------------------------------------------- gradients
def test_free_energy_gradient_matches_finite_differences():
    m = random_crbm(seed=1)
    rng = np.random.default_rng(2)
    v, u, w = rng.integers(0, 2, (6, 4)), rng.normal(size=(6, 2)), rng.normal(size=6)
    fd = fd_grad(lambda: float(w @ m.free_energy(v, u)), m.params)
    assert_grads_close(m.grad_free_energy(v, u, weights=w), fd, "free energy")
    # the default weights are 1/n (the batch mean)
    g_mean = m.grad_free_energy(v, u)
    g_w = m.grad_free_energy(v, u, weights=np.full(6, 1 / 6))
    assert all(np.allclose(g_mean[k], g_w[k], rtol=1e-14, atol=0) for k in g_w)


@pytest.mark.parametrize("layer", ["visible", "hidden"])
def test_log_prob_gradient_matches_finite_differences(layer):
    m = random_crbm(d=4, h=3, seed=3)
    rng = np.random.default_rng(4)
    v, u, w = rng.integers(0, 2, (5, 4)), rng.normal(size=(5, 2)), rng.normal(size=5)
    fd = fd_grad(lambda: float(w @ m.log_prob(v, u, layer=layer)), m.params)
    assert_grads_close(m.grad_log_prob(v, u, weights=w, layer=layer), fd, f"log p(v|u), {layer}")


def test_chunked_enumeration_gives_the_same_numbers(monkeypatch):
    """Row blocks and several state blocks per row (two passes) agree with one block."""
    import pgm.conditional_rbm as mod

    m = random_crbm(d=5, h=4, c=2, seed=25)
    rng = np.random.default_rng(26)
    v, u, w = rng.integers(0, 2, (9, 5)), rng.normal(size=(9, 2)), rng.normal(size=9)
    ref = {layer: m.log_prob_and_grad(v, u, weights=w, layer=layer) for layer in ("visible", "hidden")}
    monkeypatch.setattr(mod, "_CHUNK_ELEMENTS", 40)
    for layer, (lp, g) in ref.items():
        lp2, g2 = m.log_prob_and_grad(v, u, weights=w, layer=layer)
        assert np.allclose(lp2, lp, rtol=1e-13, atol=1e-13)
        assert all(np.allclose(g2[k], g[k], rtol=1e-12, atol=1e-13) for k in g)
        assert np.allclose(m.log_partition(u, layer=layer), m.log_partition(u, layer="visible"), atol=1e-12)


def test_conditional_ml_objective_gradient_matches_its_loss():
    m = random_crbm(d=3, h=2, c=2, seed=5)
    rng = np.random.default_rng(6)
    x = np.hstack([rng.integers(0, 2, (7, 3)), rng.normal(size=(7, 2))])
    obj = ConditionalML()
    g, stats = obj.grad(m, x)
    fd = fd_grad(lambda: obj.loss(m, x), m.params)
    assert_grads_close(g, fd, "ConditionalML loss")
    assert np.isclose(stats["loss"], -np.mean(m.log_prob(x[:, :3], x[:, 3:])), rtol=1e-14)


# ---------------------------------------------------------------------------- exactness
def test_log_prob_is_normalised_for_every_context_and_both_enumerations_agree():
    m = random_crbm(d=5, h=3, c=2, seed=7, scale=1.5)
    states = all_states(5)
    contexts = np.random.default_rng(8).normal(0, 2, (6, 2))
    for u in contexts:
        lp = m.log_prob(states, u)
        assert abs(np.logaddexp.reduce(lp)) < 1e-12
    z_v, z_h = m.log_partition(contexts, layer="visible"), m.log_partition(contexts, layer="hidden")
    assert np.allclose(z_v, z_h, rtol=0, atol=1e-11)
    # the predictive table agrees with log_prob, row by row
    s, probs = m.predictive_distribution(contexts)
    assert np.array_equal(s, states)
    assert np.allclose(probs, np.exp([m.log_prob(states, u) for u in contexts]), rtol=1e-12, atol=0)
    # brute force over (v, h): Z(u) = Σ exp(−E)
    hs = all_states(3)
    u = contexts[0]
    vv, hh = np.repeat(states, 8, axis=0), np.tile(hs, (32, 1))
    assert np.isclose(np.logaddexp.reduce(-m.energy(vv, hh, u)), m.log_partition(u), rtol=0, atol=1e-12)


def test_given_is_the_same_distribution_as_an_rbm():
    m = random_crbm(d=5, h=4, c=3, seed=9)
    states = all_states(5)
    for u in np.random.default_rng(10).normal(size=(3, 3)):
        rbm = m.given(u)
        assert isinstance(rbm, pgm.RBM)
        hs = np.random.default_rng(11).integers(0, 2, (32, 4))
        assert np.allclose(rbm.mean_h(states), m.conditional_hidden(states, u), rtol=1e-14, atol=0)
        assert np.allclose(rbm.mean_v(hs), m.conditional_visible(hs, u), rtol=1e-14, atol=0)
        assert np.allclose(rbm.free_energy(states), m.free_energy(states, u), rtol=1e-13, atol=1e-13)
        assert np.isclose(pgm.exact.log_partition(rbm), m.log_partition(u), rtol=1e-12)
        assert np.allclose(rbm.exact_log_likelihood(states), m.log_prob(states, u), rtol=1e-12)
    # the RBM holds copies: training the CRBM later does not change it
    rbm = m.given(np.zeros(3))
    m.W[...] += 1.0
    assert not np.allclose(rbm.W, m.W)


def _codes(x):
    return (x.astype(np.int64) << np.arange(x.shape[1])).sum(1)


def test_block_gibbs_on_given_leaves_the_exact_conditional_invariant():
    """Stat test (α = 1e-5): 20 000 chains from exact draws of p(v | u), 3 block-Gibbs sweeps on
    ``crbm.given(u)``, chi-square of the 32 visible states against the enumeration; the same
    draws fail against the conditional of another context (power)."""
    m = random_crbm(d=5, h=4, c=2, seed=12, scale=1.2)
    n = 20_000
    u, other = np.array([1.0, -0.5]), np.array([-1.0, 0.8])
    states, p = m.predictive_distribution(u)
    rng = np.random.default_rng(13)
    x0 = states[rng.choice(len(p), size=n, p=p)]
    s = samplers.sample(m.given(u), method="block_gibbs", chains=n, draws=1, warmup=2, init=x0,
                        seed=14, progress=False)
    final = np.asarray(s.states[:, 0, :])
    assert np.mean(np.any(final != x0, axis=1)) > 0.3          # the chains really move
    obs = np.bincount(_codes(final), minlength=32)
    pval = chi_square_pvalue(obs, n * p)
    assert pval > ALPHA, f"chi-square p = {pval:.3g}"
    p_other = m.predictive_distribution(other)[1]
    assert chi_square_pvalue(obs, n * p_other) < ALPHA


def test_cd_gradient_vanishes_on_data_from_the_model():
    """CD-1 from exact draws of p(v | u_k) (each row its own context) keeps them exact, so the
    bias gradient ``mean v⁻ − mean v`` is 0 within 5 standard errors (bound √(2·¼/n)); on data
    from another model it is far from 0."""
    m = random_crbm(d=4, h=3, c=2, seed=15, scale=1.2)
    rng = np.random.default_rng(16)
    n = 20_000
    u = rng.normal(0, 1.5, (n, 2))
    states, probs = m.predictive_distribution(u)
    cum = probs.cumsum(1)
    v = states[(rng.random((n, 1)) > cum).sum(1)]
    g, stats = ConditionalCD(k=1).grad(m, np.hstack([v, u]), np.random.default_rng(17))
    se = np.sqrt(0.5 / n)
    assert np.max(np.abs(g["b"])) < 5 * se, (g["b"], se)
    assert stats["recon_error"] > 0.05                            # the chains moved
    other = random_crbm(d=4, h=3, c=2, seed=18, scale=1.2)
    g_bad, _ = ConditionalCD(k=1).grad(other, np.hstack([v, u]), np.random.default_rng(17))
    assert np.max(np.abs(g_bad["b"])) > 20 * se


# ---------------------------------------------------------------------------- training
def bar_sequence(t, d, eps, rng):
    """A bar moving one pixel per frame (period d) with each pixel flipped with probability eps."""
    phase = (np.arange(t) + rng.integers(d)) % d
    clean = np.eye(d)[phase]
    return np.abs(clean - (rng.random(clean.shape) < eps)), np.eye(d)


def oracle_log_prob(y, patterns, eps):
    """Bayes-optimal ``log p(y_t | y_{t−1})`` of the bar process (uniform phase prior)."""
    def lik(x):   # (T, P): p(frame | clean pattern)
        flips = np.abs(x[:, None, :] - patterns[None])
        return np.prod(np.where(flips > 0, eps, 1 - eps), axis=2)

    prev, nxt = lik(y[:-1]), lik(y[1:])
    post = prev / prev.sum(1, keepdims=True)                       # phase of y_{t−1}
    return np.log((post * np.roll(nxt, -1, axis=1)).sum(1))        # next phase = phase + 1


@pytest.mark.parametrize("objective", ["cd", "ml"])
def test_training_on_a_noisy_sequence_beats_the_independent_pixel_baseline(objective):
    """A 4-pixel moving bar with 10 % flips, context = the previous frame.  After training, the
    held-out predictive log-likelihood per frame exceeds the independent-pixel baseline by more
    than 5 standard errors (paired over the 400 test frames) and closes more than half of the
    gap between that baseline and the Bayes-optimal predictor."""
    d, eps = 4, 0.1
    rng = np.random.default_rng(19)
    y, patterns = bar_sequence(1001, d, eps, rng)
    train, test = y[:601], y[600:]
    rows = np.hstack([train[1:], train[:-1]])
    m = ConditionalRBM(d, 8, d, seed=20)
    before = m.log_prob(test[1:], test[:-1])
    if objective == "cd":
        estimators.fit(m, rows, ConditionalCD(k=1), estimators.Adam(lr=0.05), epochs=15,
                       batch_size=50, seed=21, progress=False)
    else:
        estimators.fit(m, rows, ConditionalML(), estimators.Adam(lr=0.05), epochs=15,
                       batch_size=50, seed=21, progress=False)
    after = m.log_prob(test[1:], test[:-1])
    rate = train.mean(0)
    base = (test[1:] * np.log(rate) + (1 - test[1:]) * np.log(1 - rate)).sum(1)
    oracle = oracle_log_prob(test, patterns, eps)
    diff = after - base
    se = diff.std(ddof=1) / np.sqrt(diff.size)
    msg = (f"{objective}: before {before.mean():.3f}, after {after.mean():.3f}, baseline {base.mean():.3f}, "
           f"oracle {oracle.mean():.3f} nats/frame, SE {se:.3f}")
    assert diff.mean() > 5 * se, msg
    assert after.mean() - base.mean() > 0.5 * (oracle.mean() - base.mean()), msg
    assert after.mean() > before.mean() + 5 * se, msg


# ---------------------------------------------------------------------------- errors and protocol
def test_typed_errors():
    m = ConditionalRBM(3, 2, 2, seed=0)
    with pytest.raises(ValueError, match="n_context"):
        ConditionalRBM(3, 2, 0)
    with pytest.raises(ValueError, match="n_hidden"):
        ConditionalRBM(3, 2.5, 1)
    with pytest.raises(CardinalityError, match="v must have shape"):
        m.free_energy([[1, 0]], [[0.0, 0.0]])
    with pytest.raises(CardinalityError, match="context must have shape"):
        m.log_prob([[1, 0, 1]], [[0.0, 0.0, 1.0]])
    with pytest.raises(EvidenceError, match="context must be finite"):
        m.free_energy([[1, 0, 1]], [[np.nan, 0.0]])
    with pytest.raises(EvidenceError, match="binary"):
        m.free_energy([[1, 0.5, 1]], [[0.0, 0.0]])
    with pytest.raises(CardinalityError, match="rows"):
        m.free_energy(np.ones((3, 3)), np.zeros((2, 2)))
    with pytest.raises(CardinalityError, match="one context row"):
        m.given(np.zeros((2, 2)))
    with pytest.raises(KeyError):
        m.set_params(V=np.zeros((3, 2)))
    old = {k: v.copy() for k, v in m.params.items()}
    with pytest.raises(ModelError, match="finite"):
        m.set_params(b=np.zeros(3) + 1, c=[np.nan, 0.0])
    assert all(np.array_equal(old[k], m.params[k]) for k in old)        # all or nothing
    with pytest.raises(TooLargeError):
        ConditionalRBM(26, 26, 1).log_partition([0.0])
    with pytest.raises(ValueError, match="layer"):
        m.log_partition([0.0, 0.0], layer="both")


def test_fit_checks_the_row_layout():
    m = ConditionalRBM(3, 2, 2, seed=0)
    ok = np.hstack([np.random.default_rng(0).integers(0, 2, (10, 3)), np.zeros((10, 2))])
    for bad, error in ((ok[:, :4], CardinalityError), (np.where(ok == 1, np.nan, ok), EvidenceError),
                       (ok + np.array([0, 0.5, 0, 0, 0]), EvidenceError)):
        for obj in (ConditionalCD(), ConditionalML()):
            with pytest.raises(error):
                estimators.fit(m, bad, obj, epochs=1, progress=False)
            with pytest.raises(error):
                obj.grad(m, bad)
    # the context may be real: fit accepts it
    real = ok + np.array([0, 0, 0, 0.25, -3.0])
    h = estimators.fit(m, real, ConditionalML(), epochs=2, progress=False)
    assert np.isfinite(h["loss"]).all()


def test_settings_round_trip_and_data_width():
    m = random_crbm(d=3, h=2, c=4, seed=22)
    assert m.data_width == 7
    clone = ConditionalRBM.from_settings(m.settings())
    clone.set_params(**m.params)
    x = np.random.default_rng(23).integers(0, 2, (5, 3))
    u = np.random.default_rng(24).normal(size=(5, 4))
    assert np.array_equal(clone.log_prob(x, u), m.log_prob(x, u))
    assert ConditionalCD(k=3).config() == {"type": "ConditionalCD", "k": 3}
