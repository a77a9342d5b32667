"""Score matching for the Gaussian–Bernoulli RBM (SPEC.md §3, §5; TESTING.md "Learners").

* Input derivatives of the free energy ``F(v)`` (``grad_x``, ``laplacian``) and their parameter
  gradients (``grad_laplacian``, ``grad_grad_x``, with arbitrary row weights) against central
  finite differences, relative error ≤ 1e-5 in float64, with σ fixed and learned.
* The ScoreMatching / DenoisingScoreMatching gradients of a GB-RBM against finite differences of
  their losses (cases ``SM/GBRBM*``, ``DSM/GBRBM*`` of tests/test_estimators_gradients.py).
* Learning: data drawn exactly from a GB-RBM with 2 visible and 3 hidden units and learned σ
  (``h`` from its exact marginal by enumeration, then ``v | h ~ N(b + Wh, diag σ²)``),
  20 000 training and 20 000 held-out points; score matching with full-batch L-BFGS from a
  small random initialisation.  Measured: held-out exact log-likelihood −1.65898 nats vs
  −1.65874 for the true model (deficit 2.4e-4; tolerance 0.01) and −4.635 for the initial model.
"""

import numpy as np
import pytest

import estimators as E
import pgm
from pgm._layered import bits

H = 1e-5
RTOL = 1e-5


def _model(learn_sigma, seed=0, n_v=3, n_h=2):
    rng = np.random.default_rng(seed)
    return pgm.GaussianBernoulliRBM(n_v, n_h, W=rng.normal(0, 1.0, (n_v, n_h)), b=rng.normal(0, 1, n_v),
                                    c=rng.normal(0, 1, n_h), sigma=rng.uniform(0.6, 1.4, n_v),
                                    learn_sigma=learn_sigma)


def _rel(fd, an):
    fd, an = np.asarray(fd, float), np.asarray(an, float)
    return float(np.linalg.norm(fd - an) / np.linalg.norm(an))


@pytest.mark.parametrize("learn_sigma", [False, True])
def test_input_derivatives_match_finite_differences(learn_sigma):
    m = _model(learn_sigma)
    v = np.random.default_rng(1).normal(size=(7, 3))
    d = v.shape[1]
    eye = np.eye(d)
    fd_grad = np.stack([(m.free_energy(v + H * eye[i]) - m.free_energy(v - H * eye[i])) / (2 * H)
                        for i in range(d)], axis=1)
    gx = m.grad_x(v)
    assert gx.shape == (7, 3)
    assert _rel(fd_grad, gx) <= RTOL
    # Laplacian: central differences of the (verified) analytic gradient
    fd_lap = sum((m.grad_x(v + H * eye[i])[:, i] - m.grad_x(v - H * eye[i])[:, i]) / (2 * H) for i in range(d))
    lap = m.laplacian(v)
    assert lap.shape == (7,)
    assert _rel(fd_lap, lap) <= RTOL
    # one row in, one row out
    assert m.grad_x(v[0]).shape == (3,) and np.ndim(m.laplacian(v[0])) == 0
    np.testing.assert_allclose(m.laplacian(v[0]), lap[0], rtol=1e-12)


@pytest.mark.parametrize("learn_sigma", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_parameter_gradients_match_finite_differences(learn_sigma, weighted):
    m = _model(learn_sigma)
    rng = np.random.default_rng(2)
    v, u = rng.normal(size=(6, 3)), rng.normal(size=(6, 3))
    w = rng.normal(size=6) if weighted else np.full(6, 1 / 6)
    arg = w if weighted else None
    targets = {
        "grad_laplacian": (lambda: float(w @ m.laplacian(v)), m.grad_laplacian(v, weights=arg)),
        "grad_grad_x": (lambda: float(w @ np.sum(u * m.grad_x(v), axis=1)), m.grad_grad_x(v, u, weights=arg)),
    }
    for label, (fn, an) in targets.items():
        assert set(an) == set(m.params), label
        fd, ana = [], []
        for name, value in m.params.items():
            assert an[name].shape == value.shape and an[name].dtype == value.dtype
            for idx in np.ndindex(value.shape):
                base = value.copy()
                up_v, dn_v = base.copy(), base.copy()
                up_v[idx] += H
                dn_v[idx] -= H
                m.set_params(**{name: up_v})
                up = fn()
                m.set_params(**{name: dn_v})
                down = fn()
                m.set_params(**{name: base})
                fd.append((up - down) / (2 * H))
                ana.append(an[name][idx])
        rel = _rel(fd, ana)
        print(f"{label} learn_sigma={learn_sigma} weighted={weighted}: relative error {rel:.2e}")
        assert rel <= RTOL, (label, rel)


def test_protocol_details():
    m = _model(False)
    assert not E._protocol.visible_is_binary(m)  # score matching accepts it
    E.ScoreMatching().setup(m, np.zeros((1, 3)))
    with pytest.raises(pgm.errors.CardinalityError, match="weights"):
        m.grad_laplacian(np.zeros((3, 3)), weights=[1.0, 2.0])
    m32 = pgm.GaussianBernoulliRBM(3, 2, seed=0, learn_sigma=True, dtype=np.float32)
    x = np.random.default_rng(0).normal(size=(4, 3))
    assert m32.grad_x(x).dtype == np.float32 and m32.laplacian(x).dtype == np.float32
    assert all(g.dtype == np.float32 for g in m32.grad_grad_x(x, x).values())
    m64 = pgm.GaussianBernoulliRBM(3, 2, W=m32.W, learn_sigma=True)
    np.testing.assert_allclose(m32.laplacian(x), m64.laplacian(x), rtol=1e-5)


def _draw(model, n, rng):
    """Exact draws: h from its marginal p(h) ∝ exp(c·h + Σ_i ((Wh)_i² + 2b_i(Wh)_i)/(2σ_i²)),
    then v | h ~ N(b + Wh, diag σ²)."""
    n_h = model.layer_sizes[1]
    hs = bits(0, 2**n_h, n_h)
    mean = hs @ model.W.T
    log_w = hs @ model.c + ((mean * mean + 2 * model.b * mean) / (2 * model.sigma**2)).sum(1)
    p = np.exp(log_w - log_w.max())
    k = rng.choice(len(hs), size=n, p=p / p.sum())
    return model.b + mean[k] + model.sigma * rng.standard_normal((n, model.n_visible))


def test_score_matching_recovers_a_gbrbm():
    rng = np.random.default_rng(0)
    true = pgm.GaussianBernoulliRBM(2, 3, W=rng.normal(0, 1.5, (2, 3)), b=rng.normal(0, 0.5, 2),
                                    c=rng.normal(0, 1, 3), sigma=rng.uniform(0.4, 0.8, 2), learn_sigma=True)
    train, test = _draw(true, 20000, rng), _draw(true, 20000, rng)
    student = pgm.GaussianBernoulliRBM(2, 3, W=np.random.default_rng(10).normal(0, 0.1, (2, 3)),
                                       sigma=1.0, learn_sigma=True)
    ll_true = float(np.mean(true.exact_log_likelihood(test)))
    ll_init = float(np.mean(student.exact_log_likelihood(test)))
    h = E.fit(student, train, E.ScoreMatching(), E.LBFGS(maxiter=1000), epochs=1, progress=False)
    ll_fit = float(np.mean(student.exact_log_likelihood(test)))
    print({"true": round(ll_true, 5), "initial": round(ll_init, 5), "fitted": round(ll_fit, 5),
           "iterations": h.last["iterations"]})
    assert h.last["converged"]
    assert abs(ll_fit - ll_true) < 0.01, (ll_fit, ll_true)
    assert ll_fit > ll_init + 2.0
