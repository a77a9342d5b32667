"""pgm.MLPEnergy: analytic derivatives against finite differences, binary domain, bad input.

Issue 7, acceptance item 1: ``grad_x``, the Laplacian (Hessian diagonal) and every parameter
gradient (of ``E``, of ``v·∇ₓE`` and of ``ΔE``) match central finite differences to a relative
1e-5 for every activation; the Gibbs sampler of a binary MLP energy leaves the exact
distribution invariant (chi-square from exact starts).
"""

import itertools

import numpy as np
import pytest

import pgm
import samplers
from pgm.errors import CardinalityError, EvidenceError, ModelError, SamplingError, TooLargeError
from pgm.mlp import ACTIVATIONS

from .conftest import chi_square_pvalue

ARCHS = [(5,), (4, 3), (3, 4, 2)]


def _model(act, hidden, dim=3, q=0.25):
    f = pgm.MLPEnergy(dim, hidden=hidden, activation=act, seed=7, quadratic=q)
    rng = np.random.default_rng(3)
    for b in f.biases:          # non-zero biases so every derivative order is exercised
        b[...] = rng.normal(0, 0.5, b.shape)
    f.offset[...] = 0.3
    return f


def _rel_err(a, b):
    return float(np.max(np.abs(a - b)) / max(1.0, float(np.max(np.abs(b)))))


@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
@pytest.mark.parametrize("hidden", ARCHS, ids=str)
def test_input_derivatives_match_finite_differences(act, hidden):
    f = _model(act, hidden)
    x = np.random.default_rng(0).normal(size=(7, 3))
    h = 1e-6
    eye = np.eye(3)
    g_fd = np.stack([(f.energy(x + h * eye[i]) - f.energy(x - h * eye[i])) / (2 * h) for i in range(3)], 1)
    e, g = f.energy_and_grad(x)
    assert _rel_err(g, g_fd) < 1e-5
    np.testing.assert_array_equal(e, f.energy(x))
    np.testing.assert_array_equal(g, f.grad_x(x))
    # Hessian diagonal: central differences of the analytic gradient
    hd_fd = np.stack([(f.grad_x(x + h * eye[i])[:, i] - f.grad_x(x - h * eye[i])[:, i]) / (2 * h)
                      for i in range(3)], 1)
    assert _rel_err(f.hessian_diag(x), hd_fd) < 1e-5
    assert _rel_err(f.laplacian(x), hd_fd.sum(1)) < 1e-5


@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
@pytest.mark.parametrize("hidden", ARCHS, ids=str)
@pytest.mark.parametrize("quantity", ["energy", "grad_x", "laplacian"])
def test_parameter_gradients_match_finite_differences(act, hidden, quantity):
    f = _model(act, hidden)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(6, 3))
    w = rng.normal(size=6)
    v = rng.normal(size=(6, 3))
    if quantity == "energy":
        scalar, grads = lambda: w @ f.energy(x), f.grad_energy(x, weights=w)
    elif quantity == "grad_x":
        scalar, grads = lambda: w @ np.sum(v * f.grad_x(x), 1), f.grad_grad_x(x, v, weights=w)
    else:
        scalar, grads = lambda: w @ f.laplacian(x), f.grad_laplacian(x, weights=w)
    assert sorted(grads) == sorted(f.param_names)
    h = 1e-6
    for name, arr in f.params.items():
        fd = np.zeros(arr.shape)
        for idx in np.ndindex(arr.shape):
            old = arr[idx]
            arr[idx] = old + h
            up = scalar()
            arr[idx] = old - h
            down = scalar()
            arr[idx] = old
            fd[idx] = (up - down) / (2 * h)
        assert _rel_err(grads[name], fd) < 1e-5, (name, np.max(np.abs(grads[name] - fd)))


def test_default_weights_are_the_batch_mean_and_chunking_changes_nothing(monkeypatch):
    f = _model("softplus", (6, 5), dim=4)
    x = np.random.default_rng(2).normal(size=(50, 4))
    v = np.random.default_rng(3).normal(size=(50, 4))
    full = [f.grad_energy(x), f.grad_grad_x(x, v), f.grad_laplacian(x), f.laplacian(x)]
    mean = f.grad_energy(x, weights=np.full(50, 1 / 50))
    for k in mean:
        np.testing.assert_allclose(full[0][k], mean[k], rtol=1e-12, atol=1e-15)
    monkeypatch.setattr("pgm.mlp._CHUNK_ELEMENTS", 64)      # ~3 rows per chunk
    chunked = [f.grad_energy(x), f.grad_grad_x(x, v), f.grad_laplacian(x), f.laplacian(x)]
    for a, b in zip(full[:3], chunked[:3]):
        for k in a:
            np.testing.assert_allclose(a[k], b[k], rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(full[3], chunked[3], rtol=1e-13)


def test_float32_model_agrees_with_float64():
    f64 = _model("tanh", (8, 8), dim=3)
    f32 = pgm.MLPEnergy(3, hidden=(8, 8), activation="tanh", quadratic=0.25, dtype=np.float32)
    f32.set_params(**f64.params)
    x = np.random.default_rng(0).normal(size=(10, 3))
    e32, g32 = f32.energy_and_grad(x)
    assert e32.dtype == np.float32 and g32.dtype == np.float32
    e64, g64 = f64.energy_and_grad(x)
    np.testing.assert_allclose(e32, e64, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(g32, g64, rtol=1e-4, atol=1e-5)


def _enumerate(d):
    return np.array(list(itertools.product((0, 1), repeat=d)), dtype=np.int8)


def test_binary_energy_delta_and_exact_log_partition():
    f = pgm.MLPEnergy(5, hidden=(6, 4), activation="swish", domain="binary", seed=2, quadratic=0.1)
    assert f.domain == (0, 1) and f.sampler_family == "binary_energy"
    states = _enumerate(5)
    e = f.energy(states)
    logz = np.log(np.sum(np.exp(-e)))
    assert abs(f.exact_log_partition() - logz) < 1e-12
    for j in range(5):
        hi, lo = states.copy(), states.copy()
        hi[:, j], lo[:, j] = 1, 0
        np.testing.assert_allclose(f.energy_delta(states, j), f.energy(hi) - f.energy(lo), atol=1e-12)
    with pytest.raises(EvidenceError, match="binary"):
        f.energy([[0, 1, 2, 0, 1]])
    with pytest.raises(TooLargeError):
        pgm.MLPEnergy(30, hidden=(2,), domain="binary").exact_log_partition()
    with pytest.raises(TypeError, match="binary"):
        pgm.MLPEnergy(2, hidden=(2,)).exact_log_partition()


def test_binary_mlp_gibbs_leaves_the_exact_distribution_invariant():
    """20 000 chains from exact draws, 2 Gibbs sweeps, chi-square over all 2^5 states (α = 1e-5)."""
    f = pgm.MLPEnergy(5, hidden=(8,), activation="tanh", domain="binary", seed=4)
    f.set_params(W1=3 * f.weights[0], w_out=3 * f.readout)          # strong interactions
    states = _enumerate(5)
    p = np.exp(-f.energy(states) - f.exact_log_partition())
    rng = np.random.default_rng(11)
    n = 20_000
    start = states[rng.choice(len(states), size=n, p=p)]
    s = samplers.sample(f, method="gibbs", chains=n, draws=1, warmup=1, init=start, seed=5, progress=False)
    codes = s.states[:, 0, :].astype(np.int64) @ (1 << np.arange(4, -1, -1))
    pval = chi_square_pvalue(np.bincount(codes, minlength=32), n * p)
    assert pval > 1e-5, pval
    # the same test detects a 10 % error in the energy used by the sampler
    wrong = pgm.MLPEnergy(5, hidden=(8,), activation="tanh", domain="binary")
    wrong.set_params(**{k: 1.1 * v for k, v in f.params.items()})
    s = samplers.sample(wrong, method="gibbs", chains=n, draws=1, warmup=1, init=start, seed=5, progress=False)
    codes = s.states[:, 0, :].astype(np.int64) @ (1 << np.arange(4, -1, -1))
    assert chi_square_pvalue(np.bincount(codes, minlength=32), n * p) < 1e-8


def test_binary_gibbs_resume_and_bad_energies():
    f = pgm.MLPEnergy(4, hidden=(3,), domain="binary", seed=0)
    one = samplers.sample(f, chains=3, draws=20, warmup=5, seed=9, progress=False)
    a = samplers.sample(f, chains=3, draws=8, warmup=5, seed=9, progress=False)
    b = samplers.sample(f, draws=12, warmup=0, init=a.final_state, progress=False)
    np.testing.assert_array_equal(one.states, np.concatenate([a.states, b.states], axis=1))

    class NaNEnergy:
        dim, domain, sampler_family = 3, (0, 1), "binary_energy"

        def energy(self, x):
            e = np.zeros(len(x))
            e[x[:, 0] == 1] = np.nan
            return e

    with pytest.raises(SamplingError, match="chain"):
        samplers.sample(NaNEnergy(), chains=2, draws=2, seed=0, progress=False)

    class WrongShape(NaNEnergy):
        def energy(self, x):
            return np.zeros((len(x), 2))

    with pytest.raises(SamplingError, match="shape"):
        samplers.sample(WrongShape(), chains=2, draws=2, seed=0, progress=False)


def test_bad_construction_and_parameters():
    with pytest.raises(ValueError, match="activation"):
        pgm.MLPEnergy(2, activation="relu")
    with pytest.raises(ValueError, match="hidden"):
        pgm.MLPEnergy(2, hidden=(3, 0))
    with pytest.raises(ValueError, match="dim"):
        pgm.MLPEnergy(0)
    with pytest.raises(ValueError, match="quadratic"):
        pgm.MLPEnergy(2, quadratic=-1.0)
    with pytest.raises(ValueError, match="domain"):
        pgm.MLPEnergy(2, domain="integer")
    f = pgm.MLPEnergy(2, hidden=(3,), seed=0)
    with pytest.raises(CardinalityError, match=r"\(n, 2\)"):
        f.energy(np.zeros((4, 3)))
    with pytest.raises(EvidenceError, match="finite"):
        f.grad_x([[np.nan, 0.0]])
    with pytest.raises(KeyError, match="unknown"):
        f.set_params(W9=np.zeros((2, 3)))
    before = f.weights[0].copy()
    with pytest.raises(ModelError, match="finite"):
        f.set_params(W1=np.ones((2, 3)), b1=[np.inf, 0, 0])
    np.testing.assert_array_equal(f.weights[0], before)      # all or nothing


def test_save_and_load_round_trip(tmp_path):
    for f in (_model("swish", (4, 3)), pgm.MLPEnergy(3, hidden=(2,), domain="binary", dtype=np.float32, seed=1),
              pgm.GaussianEnergy([1.0, -1.0], [[2.0, 0.3], [0.3, 1.0]])):
        path = tmp_path / "m.npz"
        f.save(path)
        g = pgm.load(path)
        assert type(g) is type(f) and repr(g) == repr(f)
        for k, v in f.params.items():
            np.testing.assert_array_equal(g.params[k], v)
            assert g.params[k].dtype == v.dtype
    with np.load(path, allow_pickle=False) as data:      # plain arrays + JSON, no pickle
        assert "__meta__" in data.files
