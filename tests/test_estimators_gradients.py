"""Gradients of every objective (TESTING.md "Learners"): central finite differences of the loss
on small float64 models, relative error ‖g_fd − g‖₂ / ‖g‖₂ ≤ 1e-5 over every parameter
coordinate (symmetric matrices along symmetric directions); the sampling objectives (CD, PCD,
fast PCD), which have no loss, are checked against the exact ML gradient statistically and
structurally."""

import numpy as np
import pytest

import estimators as E
import pgm
import samplers

RTOL = 1e-5
H = 1e-5
RESULTS = {}


def _bm(d=5, seed=0):
    rng = np.random.default_rng(seed)
    W = np.triu(rng.normal(0, 0.5, (d, d)), 1)
    return pgm.BoltzmannMachine(W + W.T, rng.normal(0, 0.5, d))


def _rbm(seed=0):
    rng = np.random.default_rng(seed)
    return pgm.RBM(5, 3, W=rng.normal(0, 0.5, (5, 3)), b=rng.normal(0, 0.5, 5), c=rng.normal(0, 0.5, 3))


def _gauss(seed=0):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(3, 3))
    return pgm.GaussianEnergy(rng.normal(size=3), A @ A.T / 3 + np.eye(3))


def _mlp(domain="real", seed=0):
    f = pgm.MLPEnergy(3, hidden=(4, 3), activation="swish", seed=seed, quadratic=0.2, domain=domain)
    f.biases[0][...] = np.random.default_rng(seed).normal(0, 0.5, 4)
    return f


def _gbrbm(learn_sigma=False, seed=0):
    rng = np.random.default_rng(seed)
    return pgm.GaussianBernoulliRBM(3, 2, W=rng.normal(0, 1.0, (3, 2)), b=rng.normal(0, 0.5, 3),
                                    c=rng.normal(0, 0.5, 2), sigma=rng.uniform(0.6, 1.4, 3),
                                    learn_sigma=learn_sigma)


def _binary(n=30, d=5, seed=1):
    return np.random.default_rng(seed).integers(0, 2, (n, d)).astype(float)


def _real(n=30, seed=1):
    return np.random.default_rng(seed).normal(size=(n, 3))


def _directions(model, objective):
    """(kind, name, direction) covering every free coordinate once."""
    out = []
    for name, value in model.params.items():
        shape = np.shape(value)
        symmetric = (isinstance(model, pgm.BoltzmannMachine) and name == "W") or name == "precision"
        if symmetric:
            d = shape[0]
            for i in range(d):
                for j in range(i if name == "precision" else i + 1, d):
                    D = np.zeros(shape)
                    D[i, j] = D[j, i] = 1.0
                    out.append(("model", name, D))
        else:
            for k in range(int(np.prod(shape))):
                D = np.zeros(int(np.prod(shape)))
                D[k] = 1.0
                out.append(("model", name, D.reshape(shape)))
    for name, value in objective.own_params.items():
        out.append(("own", name, np.ones(np.shape(value))))
    return out


def _shift(model, objective, kind, name, value):
    if kind == "model":
        model.set_params(**{name: value})
    else:
        objective.set_own_params(**{name: value})


def check_gradient(label, model, objective, x, seed=7):
    objective.setup(model, x)
    grads, _ = objective.grad(model, x, rng=seed)
    fd, an = [], []
    for kind, name, D in _directions(model, objective):
        base = (model.params if kind == "model" else objective.own_params)[name].copy()
        _shift(model, objective, kind, name, base + H * D)
        up = objective.loss(model, x, rng=seed)
        _shift(model, objective, kind, name, base - H * D)
        down = objective.loss(model, x, rng=seed)
        _shift(model, objective, kind, name, base)
        fd.append((up - down) / (2 * H))
        key = name if kind == "model" else "objective." + name
        an.append(float(np.sum(grads[key] * D)))
    fd, an = np.array(fd), np.array(an)
    rel = float(np.linalg.norm(fd - an) / np.linalg.norm(an))
    RESULTS[label] = rel
    print(f"gradient check {label}: relative error {rel:.2e} over {fd.size} coordinates")
    assert rel <= RTOL, (label, rel)


CASES = {
    "ExactML/BM": lambda: (_bm(), E.ExactML(), _binary()),
    "ExactML/RBM": lambda: (_rbm(), E.ExactML(), _binary()),
    "ExactML/Gaussian": lambda: (_gauss(), E.ExactML(), _real()),
    "PL/BM": lambda: (_bm(), E.PseudoLikelihood(), _binary()),
    "PL/RBM": lambda: (_rbm(), E.PseudoLikelihood(), _binary()),
    "GPL-blocks/BM": lambda: (_bm(), E.PseudoLikelihood(blocks=[[0, 1], [2, 3, 4], [1, 3]]), _binary()),
    "PL-stochastic/BM": lambda: (_bm(), E.PseudoLikelihood(blocks=[[0, 1], [2, 3, 4]], stochastic=True), _binary()),
    "RM/BM": lambda: (_bm(), E.RatioMatching(), _binary()),
    "RM/RBM": lambda: (_rbm(), E.RatioMatching(), _binary()),
    "SM/Gaussian": lambda: (_gauss(), E.ScoreMatching(), _real()),
    "DSM/Gaussian": lambda: (_gauss(), E.DenoisingScoreMatching(0.3, n_noise=3), _real()),
    "DSM-antithetic/Gaussian": lambda: (_gauss(), E.DenoisingScoreMatching(0.3, n_noise=2, antithetic=True), _real()),
    "NCE/Gaussian": lambda: (_gauss(), E.NCE(E.GaussianNoise(np.zeros(3), 2 * np.eye(3)), ratio=3, c=-2.0), _real()),
    "NCE/BM": lambda: (_bm(), E.NCE(E.BernoulliNoise(np.full(5, 0.4)), ratio=2, c=-3.0), _binary()),
    "NCE/RBM": lambda: (_rbm(), E.NCE(ratio=2, c=-3.0), _binary()),
    "SM/MLP": lambda: (_mlp(), E.ScoreMatching(), _real()),
    "DSM/MLP": lambda: (_mlp(), E.DenoisingScoreMatching(0.3, n_noise=2, antithetic=True), _real()),
    "SM/GBRBM": lambda: (_gbrbm(), E.ScoreMatching(), _real()),
    "SM/GBRBM-learn-sigma": lambda: (_gbrbm(learn_sigma=True), E.ScoreMatching(), _real()),
    "DSM/GBRBM": lambda: (_gbrbm(), E.DenoisingScoreMatching(0.3, n_noise=3), _real()),
    "DSM/GBRBM-learn-sigma": lambda: (_gbrbm(learn_sigma=True),
                                      E.DenoisingScoreMatching(0.3, n_noise=2, antithetic=True), _real()),
    "NCE/MLP": lambda: (_mlp(), E.NCE(E.GaussianNoise(np.zeros(3), 2 * np.eye(3)), ratio=3, c=-2.0), _real()),
    "PL/binary-MLP": lambda: (_mlp(domain="binary"), E.PseudoLikelihood(), _binary(d=3)),
}


@pytest.mark.parametrize("label", list(CASES))
def test_gradient_matches_finite_differences(label):
    model, objective, x = CASES[label]()
    check_gradient(label, model, objective, x)


def test_sampling_objectives_have_no_loss():
    for obj in (E.CD(), E.PCD(chains=3), E.FastPCD(chains=3)):
        assert not obj.has_loss
        with pytest.raises(TypeError, match="no loss"):
            obj.loss(_bm(), _binary())


def _visible_distribution(model, d):
    states = ((np.arange(2**d)[:, None] >> np.arange(d)) & 1).astype(float)
    lp = -model.free_energy(states)
    p = np.exp(lp - lp.max())
    return states, p / p.sum()


@pytest.mark.parametrize("kind", ["BM", "RBM"])
def test_cd_gradient_on_model_samples_equals_exact_gradient(kind):
    """Data drawn exactly from the model: the CD-1 negative samples are then exact samples too
    (p is invariant under the Gibbs kernel), so CD-1's gradient differs from the exact ML
    gradient only by the Monte-Carlo error of a mean of n i.i.d. ∂F values, whose variance is
    computed exactly by enumeration.  Every coordinate within 5 of its standard errors."""
    model = _bm() if kind == "BM" else _rbm()
    states, p = _visible_distribution(model, 5)
    n = 20_000
    rng = np.random.default_rng(11)
    x = states[rng.choice(len(p), size=n, p=p)]
    with samplers.threads(1):
        g_cd, _ = E.CD(k=1).grad(model, x, rng=3)
    g_ml, _ = E.ExactML().grad(model, x, rng=3)
    per_state = [model.grad_free_energy(s[None]) for s in states]
    for k in g_ml:
        vals = np.stack([g[k] for g in per_state])
        mean = np.tensordot(p, vals, axes=1)
        var = np.tensordot(p, (vals - mean) ** 2, axes=1)
        diff = g_cd[k] - g_ml[k]
        se = np.sqrt(var / n)
        ok = se > 0
        z = np.abs(diff[ok]) / se[ok]
        assert np.all(np.abs(diff[~ok]) < 1e-12)
        assert z.max() < 5, (k, z.max())


def test_pcd_chains_persist_exactly():
    """Two PCD-1 updates with a fixed model equal one 2-sweep sampler run from the same seed."""
    model = _bm()
    x = _binary()
    pcd = E.PCD(k=1, chains=7)
    rng = np.random.default_rng(5)
    seed = int(np.random.default_rng(5).integers(2**63))
    pcd.grad(model, x, rng)
    pcd.grad(model, x, rng)
    ref = samplers.sample(model, method="gibbs", chains=7, draws=1, warmup=1, seed=seed, progress=False)
    np.testing.assert_array_equal(pcd.state.x, ref.final_state.x)
    np.testing.assert_array_equal(pcd.state.rng_state, ref.final_state.rng_state)


def test_fast_pcd_without_fast_weights_is_pcd():
    x = _binary(60)
    runs = []
    for obj in (E.PCD(k=1, chains=10), E.FastPCD(k=1, chains=10, fast_lr=0.0, fast_decay=0.5)):
        m = _bm()
        E.fit(m, x, obj, E.SGD(0.05), epochs=3, batch_size=20, seed=2, progress=False)
        runs.append((m.W.copy(), m.b.copy()))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])


def test_fast_pcd_fast_weights_follow_their_rule():
    """θ_fast ← decay·θ_fast − fast_lr·g, with the gradient returned to the optimiser."""
    m, x = _rbm(), _binary()
    f = E.FastPCD(k=1, chains=4, fast_lr=0.3, fast_decay=0.9)
    g1, _ = f.grad(m, x, rng=0)
    first = {k: v.copy() for k, v in f.fast.items()}
    for k in g1:
        np.testing.assert_allclose(first[k], -0.3 * g1[k])
    g2, _ = f.grad(m, x, rng=1)
    for k in g2:
        np.testing.assert_allclose(f.fast[k], 0.9 * first[k] - 0.3 * g2[k])
