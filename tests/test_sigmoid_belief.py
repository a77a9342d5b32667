"""Sigmoid belief nets, their recognition networks, wake–sleep and NVIL (SPEC.md §4, §5).

* gradients against central finite differences (relative 1e-5, float64): the SBN joint, the
  recognition network, the exact pieces of the wake–sleep and NVIL updates;
* exact likelihood: the enumerated visible marginal sums to 1 and equals the brute-force sum of
  the joint over every hidden configuration (1e-12), also for three hidden layers;
* ancestral samples: chi-square against the joint enumerated over all (v, h) (1 test at
  α = 1e-5 in this file);
* importance bound with k = 1: its exponential is an unbiased estimate of p(v) (within 4 SE);
* NVIL's recognition gradient is unbiased for the exact ELBO gradient (enumeration; within
  4.5 SE over 100 independent batches);
* training: wake–sleep and NVIL on data from a known SBN raise the exact log-likelihood over the
  initial model by > 10 paired standard errors and beat the best independent-pixel model by
  > 5 paired standard errors (so the hidden units carry the dependence), and the trained
  recognition network's KL(q(h|v) ‖ p(h|v)) (enumerated) is < 0.2 × that of the initial one;
* typed errors for bad input, checkpoint resume of NVIL's running statistics.
"""

import numpy as np
import pytest

import estimators
import pgm
import samplers
from estimators.wake_sleep import NVIL, WakeSleep
from pgm.errors import CardinalityError, EvidenceError, ModelError, TooLargeError
from pgm.network import Network
from pgm.sigmoid_belief import Recognition, SigmoidBeliefNet

from .conftest import chi_square_pvalue

ALPHA = 1e-5
EPS = 1e-6


def all_states(d):
    return ((np.arange(2**d)[:, None] >> np.arange(d)) & 1).astype(np.float64)


def codes(x):
    return (x @ (2 ** np.arange(x.shape[1]))).astype(np.int64)


def random_sbn(sizes, seed, scale=1.5):
    m = SigmoidBeliefNet(sizes, seed=seed, scale=scale)
    rng = np.random.default_rng(seed + 100)
    m.set_params(**{k: rng.normal(0, 1.0, np.shape(v)) for k, v in m.params.items() if k.startswith("b")})
    return m


def random_layers(sizes, n, rng):
    return [(rng.random((n, s)) < 0.5).astype(float) for s in sizes]


def fd_check(params, f, grads, what):
    """Central differences of the scalar ``f()`` in every entry of every array in ``params``
    (perturbed in place) against ``grads``; relative error ≤ 1e-5 per parameter."""
    for name, arr in params.items():
        fd = np.zeros(arr.shape)
        for idx in np.ndindex(arr.shape):
            old = arr[idx]
            arr[idx] = old + EPS
            up = f()
            arr[idx] = old - EPS
            down = f()
            arr[idx] = old
            fd[idx] = (up - down) / (2 * EPS)
        g = np.asarray(grads[name])
        err = np.max(np.abs(g - fd)) / max(np.max(np.abs(fd)), 1e-8)
        assert err < 1e-5, f"{what} {name}: relative error {err:.2e}\n{g}\n{fd}"


# ---------------------------------------------------------------------------- gradients
def test_sbn_joint_gradient_matches_finite_differences():
    sizes = (4, 3, 2)
    m = random_sbn(sizes, 0)
    rng = np.random.default_rng(1)
    v, h1, h2 = random_layers(sizes, 7, rng)
    w = rng.normal(size=7)
    lp, g = m.log_prob_and_grad(v, [h1, h2], weights=w)
    assert np.allclose(lp, m.log_prob(v, [h1, h2]))
    assert sorted(g) == sorted(m.params) == ["W1", "W2", "b0", "b1", "b2"]
    fd_check(m.params, lambda: float(w @ m.log_prob(v, [h1, h2])), g, "SBN")
    # default weights: the gradient of the mean
    g_mean = m.grad_log_prob(v, [h1, h2])
    g_w = m.grad_log_prob(v, [h1, h2], weights=np.full(7, 1 / 7))
    assert all(np.allclose(g_mean[k], g_w[k], atol=1e-14) for k in g_mean)


def test_recognition_gradient_and_scores():
    sizes = (4, 3, 2)
    q = Recognition(sizes, seed=0, scale=1.0)
    rng = np.random.default_rng(2)
    q.set_params(r1=rng.normal(size=3), r2=rng.normal(size=2))
    v, h1, h2 = random_layers(sizes, 6, rng)
    w = rng.normal(size=6)
    lq, g = q.log_prob_and_grad(v, [h1, h2], weights=w)
    fd_check(q.params, lambda: float(w @ q.log_prob(v, [h1, h2])), g, "recognition")
    scores = q.score(v, [h1, h2])
    for k in g:
        assert scores[k].shape == (6,) + q.params[k].shape
        assert np.allclose(np.tensordot(w, scores[k], axes=(0, 0)), g[k], atol=1e-12)
    u = rng.random(q.noise_shapes(6)["uniform"])
    drawn, lq_drawn = q.sample_and_log_prob(v, u)
    assert all(np.array_equal(a, b) for a, b in zip(drawn, q.sample(v, u)))
    assert np.allclose(lq_drawn, q.log_prob(v, drawn), atol=1e-13)
    # q(h | v) is normalised over every hidden configuration
    hs = all_states(5)
    vv = np.repeat(v[:1], 32, axis=0)
    assert abs(np.exp(q.log_prob(vv, [hs[:, :3], hs[:, 3:]])).sum() - 1) < 1e-12


def test_wake_sleep_pieces_match_finite_differences():
    sizes = (4, 3, 2)
    m = random_sbn(sizes, 3)
    x = (np.random.default_rng(4).random((9, 4)) < 0.5).astype(float)
    ws = WakeSleep(sleep_samples=11, seed=5)
    ws.setup(m, x)
    grads, stats = ws.grad(m, x, rng=7)
    assert sorted(grads) == sorted(list(m.params) + ["objective.recognition." + k for k in ws.recognition.params])

    def ev():
        return ws._evaluate(m, x, np.random.default_rng(7), need_grad=False)

    # wake: ∂(−bound)/∂θ at the recognised codes; sleep: ∂ sleep_loss/∂φ on the dreams
    fd_check(m.params, lambda: ev()[0], grads, "wake")
    rec = {"objective.recognition." + k: v for k, v in ws.recognition.params.items()}
    fd_check(rec, lambda: ev()[2]["sleep_loss"], grads, "sleep")
    assert np.isclose(stats["loss"], -stats["bound"])


def test_nvil_pieces_match_finite_differences():
    sizes = (4, 3, 2)
    m = random_sbn(sizes, 6)
    x = (np.random.default_rng(7).random((9, 4)) < 0.5).astype(float)
    net = Network((4, 3, 1), activation="tanh", seed=8)
    nvil = NVIL(baseline=net, seed=9)
    nvil.setup(m, x)
    q = nvil.recognition
    q.set_params(r1=np.random.default_rng(10).normal(size=3))
    state = {"signal_mean": np.array(-5.0), "signal_var": np.array(4.0)}    # scale max(1, 2) = 2

    def ev():
        nvil.load_state_dict(state)
        return nvil._evaluate(m, x, np.random.default_rng(11), need_grad=False)

    loss0, _, stats0 = ev()
    nvil.load_state_dict(state)
    loss, grads, stats = nvil._evaluate(m, x, np.random.default_rng(11), need_grad=True)
    assert loss == loss0 and stats == stats0
    # the running statistics advanced after the update: α·old + (1 − α)·batch
    assert np.isclose(float(nvil.signal_mean), 0.8 * -5.0 + 0.2 * (stats["elbo"] - np.mean(net.forward(x))))
    # generative parameters: ∂(−mean l)/∂θ at the drawn h (exact)
    fd_check(m.params, lambda: ev()[0], grads, "NVIL generative")
    # baseline: ∂(½ mean (l − μ − b)² / scale)/∂ψ
    base = {"objective.baseline." + k: v for k, v in net.params.items()}
    fd_check(base, lambda: ev()[2]["baseline_loss"], grads, "NVIL baseline")
    # recognition: −(1/n) Σ a_k ∂ log q(h_k|v_k)/∂φ, a = (l − b − μ)/scale with a held fixed;
    # h replays the objective's first use of the generator (its draw of h ~ q(h|v))
    h = q.sample(x, np.random.default_rng(11).random(q.noise_shapes(9)["uniform"]))
    a = (m.log_prob(x, h) - q.log_prob(x, h) - net.forward(x)[:, 0] + 5.0) / 2.0
    rec = {"objective.recognition." + k: v for k, v in q.params.items()}
    fd_check(rec, lambda: -float(a @ q.log_prob(x, h)) / 9, grads, "NVIL REINFORCE")


# ---------------------------------------------------------------------------- exactness
@pytest.mark.parametrize("sizes", [(3, 2), (3, 2, 2), (3, 2, 3, 2)])
def test_log_likelihood_is_the_normalised_hidden_sum(sizes):
    m = random_sbn(sizes, 12)
    v = all_states(sizes[0])
    ll = m.log_likelihood(v)
    assert abs(np.exp(ll).sum() - 1.0) < 1e-12
    H = sum(sizes[1:])
    hs = all_states(H)
    edges = np.cumsum((0,) + tuple(sizes[1:]))
    brute = []
    for row in v:
        lp = m.log_prob(np.repeat(row[None], 2**H, axis=0), [hs[:, a:b] for a, b in zip(edges[:-1], edges[1:])])
        brute.append(np.logaddexp.reduce(lp))
    assert np.allclose(ll, brute, atol=1e-12, rtol=0)
    assert isinstance(m.log_likelihood(v[3]), float)


def test_ancestral_samples_match_the_enumerated_joint():
    sizes = (3, 2, 2)
    m = random_sbn(sizes, 13)
    n = 100_000
    v, h1, h2 = samplers.ancestral(m, n, seed=14, layers=True)
    x = np.hstack([v, h1, h2])
    obs = np.bincount(codes(x), minlength=2**7)
    states = all_states(7)
    expected = n * np.exp(m.log_prob(states[:, :3], [states[:, 3:5], states[:, 5:]]))
    assert abs(expected.sum() - n) < 1e-6
    p = chi_square_pvalue(obs, expected)
    assert p > ALPHA, f"chi-square p = {p:.3g}"
    assert np.array_equal(samplers.ancestral(m, 50, seed=14), v[:50])


def test_importance_bound_is_unbiased_for_the_likelihood():
    sizes = (4, 3)
    m, q = random_sbn(sizes, 15), Recognition(sizes, seed=16, scale=1.0)
    v = np.array([1.0, 0.0, 1.0, 1.0])
    n = 20_000
    w = np.exp(m.importance_bound(np.repeat(v[None], n, axis=0), q, k=1, seed=17))
    p = np.exp(m.log_likelihood(v))
    se = w.std(ddof=1) / np.sqrt(n)
    assert abs(w.mean() - p) < 4 * se, (w.mean(), p, se)
    big = m.importance_bound(v, q, k=50_000, seed=18)
    assert abs(big - np.log(p)) < 0.02


def test_nvil_recognition_gradient_is_unbiased():
    """E[REINFORCE gradient] = −∂ELBO/∂φ, the ELBO enumerated exactly over h (4 states)."""
    sizes = (3, 2)
    m = random_sbn(sizes, 19)
    q = Recognition(sizes, seed=20, scale=1.0)
    v = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    hs = all_states(2)

    def elbo():
        out = 0.0
        for row in v:
            vv = np.repeat(row[None], 4, axis=0)
            lq = q.log_prob(vv, [hs])
            out += np.sum(np.exp(lq) * (m.log_prob(vv, [hs]) - lq))
        return out / len(v)

    exact = {}
    for k, arr in q.params.items():
        g = np.zeros(arr.shape)
        for idx in np.ndindex(arr.shape):
            old = arr[idx]
            arr[idx] = old + EPS
            up = elbo()
            arr[idx] = old - EPS
            g[idx] = (up - elbo()) / (2 * EPS)
            arr[idx] = old
        exact[k] = -g
    nvil = NVIL(recognition=q, baseline=False, normalise=False)
    x = np.repeat(v, 500, axis=0)
    rng = np.random.default_rng(21)
    reps = np.array([np.concatenate([np.ravel(nvil.grad(m, x, rng)[0]["objective.recognition." + k])
                                     for k in q.params]) for _ in range(100)])
    target = np.concatenate([np.ravel(exact[k]) for k in q.params])
    se = reps.std(axis=0, ddof=1) / np.sqrt(len(reps))
    z = (reps.mean(axis=0) - target) / se
    assert np.all(np.abs(z) < 4.5), z


# ---------------------------------------------------------------------------- training
@pytest.fixture(scope="module")
def sbn_data():
    true = SigmoidBeliefNet((8, 3), seed=1, scale=2.5)
    x = samplers.ancestral(true, 2000, seed=0)
    p = x.mean(axis=0)
    independent = (x * np.log(p) + (1 - x) * np.log1p(-p)).sum(axis=1)     # the best factorial model
    return true, x, independent


@pytest.mark.parametrize("make", [lambda: WakeSleep(seed=0), lambda: NVIL(baseline_hidden=16, seed=0)],
                         ids=["wake_sleep", "nvil"])
def test_training_improves_the_exact_likelihood(sbn_data, make):
    true, x, independent = sbn_data
    m = SigmoidBeliefNet((8, 3), seed=10)
    before = m.log_likelihood(x)
    objective = make()
    h = estimators.fit(m, x, objective, estimators.Adam(lr=0.03), epochs=10, batch_size=50, seed=0,
                       progress=False)
    after = m.log_likelihood(x)
    n = len(x)
    gain = after - before
    vs_ind = after - independent
    se_gain, se_ind = gain.std(ddof=1) / np.sqrt(n), vs_ind.std(ddof=1) / np.sqrt(n)
    assert gain.mean() > 10 * se_gain, (gain.mean(), se_gain)
    assert vs_ind.mean() > 5 * se_ind, (vs_ind.mean(), se_ind, true.log_likelihood(x).mean())
    assert np.all(np.isfinite(h["loss"])) and h["loss"][-1] < h["loss"][0]
    # the recognition network learned the posterior: KL(q(h|v) ‖ p(h|v)) = log p(v) − ELBO(v),
    # enumerated over the 8 hidden states, against the same model with the initial recognition
    kl_after = _posterior_kl(m, objective.recognition, x, after)
    kl_before = _posterior_kl(m, Recognition((8, 3), seed=0), x, after)
    d = kl_before - kl_after
    assert kl_after.mean() < 0.2 * kl_before.mean() and d.mean() > 10 * d.std(ddof=1) / np.sqrt(n), \
        (kl_before.mean(), kl_after.mean())


def _posterior_kl(m, q, x, log_px):
    hs = all_states(3)
    n = len(x)
    v, h = np.repeat(x, 8, axis=0), np.tile(hs, (n, 1))
    lq = q.log_prob(v, h).reshape(n, 8)
    elbo = np.sum(np.exp(lq) * (m.log_prob(v, h).reshape(n, 8) - lq), axis=1)
    return log_px - elbo


def test_nvil_checkpoint_resumes_running_statistics(tmp_path, sbn_data):
    _, x, _ = sbn_data
    x = x[:200]
    ref = SigmoidBeliefNet((8, 3), seed=3)
    estimators.fit(ref, x, NVIL(baseline_hidden=4), estimators.Adam(lr=0.02), epochs=4, batch_size=50,
                   seed=1, progress=False)
    m = SigmoidBeliefNet((8, 3), seed=3)
    path = tmp_path / "ck.npz"
    estimators.fit(m, x, NVIL(baseline_hidden=4), estimators.Adam(lr=0.02), epochs=2, batch_size=50, seed=1,
                   checkpoint=estimators.Checkpoint(path), progress=False)
    m2 = SigmoidBeliefNet((8, 3), seed=99)
    obj = NVIL(baseline_hidden=4)
    estimators.fit(m2, x, obj, estimators.Adam(lr=0.02), epochs=4, batch_size=50, seed=1,
                   checkpoint=estimators.Checkpoint(path), resume=True, progress=False)
    assert all(np.array_equal(ref.params[k], m2.params[k]) for k in ref.params)
    assert "signal_mean" in obj.state_dict()


def test_settings_and_persistence_round_trip(tmp_path):
    import json

    for cls in (SigmoidBeliefNet, Recognition):
        m = cls((3, 2, 2), seed=0)
        clone = cls.from_settings(json.loads(json.dumps(m.settings())))
        clone.set_params(**m.params)
        assert all(np.array_equal(clone.params[k], m.params[k]) for k in m.params)
        path = tmp_path / f"{cls.__name__}.npz"
        m.save(path)
        back = pgm.load(path)
        assert type(back) is cls
        assert all(np.array_equal(back.params[k], m.params[k]) for k in m.params)


# ---------------------------------------------------------------------------- errors
def test_typed_errors():
    with pytest.raises(ValueError):
        SigmoidBeliefNet((3,))
    with pytest.raises(ValueError):
        SigmoidBeliefNet((3, 0))
    with pytest.raises(ValueError):
        SigmoidBeliefNet((3, 2.5))
    with pytest.raises(TypeError):
        SigmoidBeliefNet(3)
    with pytest.raises(ValueError):
        Recognition((3, -1))
    m = SigmoidBeliefNet((3, 2, 2), seed=0)
    h = [np.zeros((2, 2)), np.zeros((2, 2))]
    with pytest.raises(EvidenceError, match="binary"):
        m.log_prob([[0, 1, 2], [0, 0, 0]], h)
    with pytest.raises(EvidenceError, match="finite"):
        m.log_prob([[0, 1, np.nan], [0, 0, 0]], h)
    with pytest.raises(CardinalityError):
        m.log_prob(np.zeros((2, 4)), h)
    with pytest.raises(CardinalityError):
        m.log_prob(np.zeros((2, 3)), h[:1])                     # one layer missing
    with pytest.raises(CardinalityError):
        m.log_prob(np.zeros((2, 3)), [np.zeros((3, 2)), np.zeros((2, 2))])    # row counts differ
    with pytest.raises(EvidenceError):
        m.log_prob(np.zeros((2, 3)), [np.full((2, 2), 0.5), np.zeros((2, 2))])
    with pytest.raises(EvidenceError):
        m.log_likelihood([0.5, 0, 1])
    with pytest.raises(TooLargeError):
        SigmoidBeliefNet((2, 21)).log_likelihood([0, 1])
    with pytest.raises(TooLargeError):
        m.log_likelihood([0, 1, 1], max_states=8)              # 2 + 2 hidden units: 16 states
    with pytest.raises(KeyError):
        m.set_params(c=np.zeros(2))
    with pytest.raises(CardinalityError):
        m.set_params(W1=np.zeros((2, 3)))
    with pytest.raises(ModelError):
        m.set_params(b0=[0.0, np.inf, 0.0])
    with pytest.raises(TypeError):
        m.ancestral_pass(np.zeros((2, 7)))
    with pytest.raises(CardinalityError):
        m.ancestral_pass({"uniform": np.zeros((2, 6))})
    q = Recognition((3, 2, 2))
    with pytest.raises(CardinalityError):
        q.sample(np.zeros((2, 3)), np.zeros((3, 4)))
    with pytest.raises(EvidenceError):
        q.sample(np.full((2, 3), 2.0), np.zeros((2, 4)))
    with pytest.raises(CardinalityError):
        m.importance_bound([0, 1, 1], Recognition((3, 2)))
    # learners
    x = np.zeros((10, 3))
    with pytest.raises(EvidenceError):
        estimators.fit(m, x + 0.5, WakeSleep(), epochs=1, progress=False)
    with pytest.raises(EvidenceError):
        estimators.fit(m, np.where(np.eye(10, 3) > 0, np.nan, x), NVIL(baseline_hidden=2), epochs=1,
                       progress=False)
    with pytest.raises(CardinalityError):
        estimators.fit(m, np.zeros((10, 4)), WakeSleep(), epochs=1, progress=False)
    with pytest.raises(CardinalityError):
        estimators.fit(m, x, WakeSleep(recognition=Recognition((3, 2))), epochs=1, progress=False)
    with pytest.raises(CardinalityError):
        estimators.fit(m, x, NVIL(baseline=Network((4, 2, 1))), epochs=1, progress=False)
    with pytest.raises(CardinalityError):
        NVIL(baseline=Network((3, 2, 2)))
    with pytest.raises(TypeError):
        WakeSleep(recognition=Network((3, 2)))
    with pytest.raises(ValueError):
        WakeSleep(sleep_samples=0)
    with pytest.raises(ValueError):
        NVIL(alpha=1.0)
    with pytest.raises(TypeError, match="layer_sizes"):
        from pgm.autoregressive import FVSBN
        estimators.fit(FVSBN(3), x, WakeSleep(), epochs=1, progress=False)
    with pytest.raises(TypeError):
        WakeSleep().loss(m, x)                                 # no single loss
