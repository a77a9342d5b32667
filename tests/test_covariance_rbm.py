"""pgm.MeanCovarianceRBM (mcRBM) and pgm.MPoT (SPEC.md §5: models of the conditional covariance,
sampled by HMC).

Checks: ``grad_x`` and the parameter gradients of ``F`` against central finite differences
(float64, relative 1e-5); ``F`` is the papers' joint energy with the hiddens summed out
(enumerated binary units, numerically integrated Gamma units); ``p(v | h)`` is the Gaussian whose
precision ``conditional_visible`` returns; HMC leaves ``p(v) ∝ e^{−F(v)}`` invariant on 2-D models
— 20 000 chains started from exact draws (rejection sampling from a fine grid of the normalised
density), three HMC transitions with a fixed step size, chi-square of the 24 × 24 bins of width
0.25 on [−3, 3]² (+ outside) against the grid probabilities at α = 1e-5; the same test rejects
HMC that targets a slightly different model (power); gradient training (PCD + HMC) keeps the
sign constraints; typed errors.
"""

import numpy as np
import pytest
from scipy import integrate

import samplers
from pgm.covariance_rbm import MeanCovarianceRBM, MPoT
from pgm.errors import CardinalityError, EvidenceError, ModelError

from .conftest import chi_square_pvalue

ALPHA = 1e-5
REL = 1e-5


def mcrbm(d=3, f=4, k=2, m=2, seed=0):
    rng = np.random.default_rng(seed)
    return MeanCovarianceRBM(d, f, k, m, C=rng.normal(0, 0.8, (d, f)), P=-rng.uniform(0.2, 1.5, (f, k)),
                             b_c=rng.normal(0, 1, k), W=rng.normal(0, 1, (d, m)), b_m=rng.normal(0, 1, m),
                             b_v=rng.normal(0, 0.5, d))


def mpot(d=3, f=4, k=2, m=2, seed=0):
    rng = np.random.default_rng(seed)
    return MPoT(d, f, k, m, C=rng.normal(0, 0.8, (d, f)), P=rng.uniform(0.2, 1.5, (f, k)),
                gamma=rng.uniform(0.5, 2.5, k), W=rng.normal(0, 1, (d, m)), b_m=rng.normal(0, 1, m),
                b_v=rng.normal(0, 0.5, d))


MODELS = {"mcrbm": mcrbm, "mpot": mpot}


def fd_grad(fun, params, eps=1e-6):
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


def rel_err(a, b):
    return np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-12)


# ---------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("kind", sorted(MODELS))
def test_parameter_gradients_match_finite_differences(kind):
    model = MODELS[kind](seed=1)
    rng = np.random.default_rng(2)
    v, w = rng.normal(0, 1.5, (6, 3)), rng.normal(size=6)
    fd = fd_grad(lambda: float(w @ model.free_energy(v)), model.params)
    g = model.grad_free_energy(v, weights=w)
    assert sorted(g) == sorted(model.param_names)
    for k in fd:
        assert rel_err(g[k], fd[k]) < REL, f"{kind}: ∂F/∂{k} relative error {rel_err(g[k], fd[k]):.2e}"
    g_mean = model.grad_free_energy(v)
    assert all(np.allclose(g_mean[k], model.grad_free_energy(v, weights=np.full(6, 1 / 6))[k],
                           rtol=1e-14, atol=0) for k in g_mean)


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_grad_x_matches_finite_differences(kind):
    model = MODELS[kind](seed=3)
    v = np.random.default_rng(4).normal(0, 1.5, (5, 3))
    eps = 1e-6
    fd = np.stack([(model.free_energy(v + eps * e) - model.free_energy(v - eps * e)) / (2 * eps)
                   for e in np.eye(3)], axis=1)
    g = model.grad_x(v)
    assert rel_err(g, fd) < REL
    f2, g2 = model.energy_and_grad(v)
    assert np.array_equal(f2, model.energy(v)) and np.array_equal(g2, g)
    assert model.sampler_family == "continuous" and model.dim == 3


# ---------------------------------------------------------------------------- the papers' energies
def test_mcrbm_free_energy_sums_the_joint_energy_over_the_hiddens():
    model = mcrbm(d=3, f=4, k=2, m=3, seed=5)
    v = np.random.default_rng(6).normal(0, 1.5, (4, 3))
    hs = ((np.arange(32)[:, None] >> np.arange(5)) & 1).astype(float)     # (h^c, h^m)
    for row in v:
        e = model.joint_energy(row, hs[:, :2], hs[:, 2:])
        assert np.isclose(-np.logaddexp.reduce(-e), model.free_energy(row), rtol=1e-12, atol=1e-12)
    hc, hm = model.conditional_hidden(v)
    # p(h^c_k = 1 | v) from the joint energy: enumerate and marginalise
    row = v[0]
    p = np.exp(-model.joint_energy(row, hs[:, :2], hs[:, 2:]) + model.free_energy(row))
    assert np.allclose(p @ hs[:, :2], hc[0], rtol=1e-12) and np.allclose(p @ hs[:, 2:], hm[0], rtol=1e-12)


def test_mpot_free_energy_integrates_the_gamma_units():
    """``∫ e^{−E} dh^c`` factorises over the Gamma units: with ``G_k(h) = E(v, h^c = 1 except
    h^c_k = h, h^m) − E(v, 1, h^m)``, ``Σ_{h^m} e^{−E(v, 1, h^m)} Π_k ∫₀^∞ e^{−G_k(h)} dh = e^{−F(v)}``
    (each integral by quadrature in ``log h``)."""
    model = mpot(d=2, f=3, k=2, m=2, seed=7)
    v = np.array([0.7, -1.3])
    ones = np.ones(2)
    total = 0.0
    for hm in ((np.arange(4)[:, None] >> np.arange(2)) & 1).astype(float):
        e1 = float(model.joint_energy(v, ones, hm))
        val = np.exp(-e1)
        for k in range(2):
            def integrand(t, k=k, hm=hm):
                hc = ones.copy()
                hc[k] = np.exp(t)
                return np.exp(-(float(model.joint_energy(v, hc, hm)) - e1) + t)
            val *= integrate.quad(integrand, -80, 8, epsabs=0, epsrel=1e-11, limit=200)[0]
        total += val
    assert np.isclose(-np.log(total), model.free_energy(v), rtol=1e-9, atol=0)
    r = 1 + 0.5 * (v @ model.C) ** 2 @ model.P
    assert np.allclose(model.conditional_hidden(v)[0], model.gamma / r, rtol=1e-14)   # Gamma mean


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_conditional_visible_is_the_gaussian_of_the_joint_energy(kind):
    """For fixed hiddens ``E(v, h) − E(0, h) = ½ vᵀΛv − vᵀΛμ`` with ``(μ, Λ)`` from
    ``conditional_visible``; ``Λ`` is symmetric positive definite."""
    model = MODELS[kind](seed=8)
    rng = np.random.default_rng(9)
    hc = rng.uniform(0.05, 1.0, (4, 2))
    hm = rng.integers(0, 2, (4, 2)).astype(float)
    mu, lam = model.conditional_visible(hc, hm)
    assert np.allclose(lam, np.swapaxes(lam, 1, 2)) and np.all(np.linalg.eigvalsh(lam) >= 1 - 1e-12)
    v = rng.normal(0, 1.5, (4, 3))
    lhs = model.joint_energy(v, hc, hm) - model.joint_energy(np.zeros(3), hc, hm)
    rhs = 0.5 * np.einsum("ni,nij,nj->n", v, lam, v) - np.einsum("ni,nij,nj->n", v, lam, mu)
    assert np.allclose(lhs, rhs, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------- HMC invariance
def model_2d(kind, shift=0.0):
    C = np.array([[1.0, 0.0, 0.7], [0.0, 1.0, -0.7]])
    pool = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    common = dict(W=[[2.0, -2.0], [0.5, 0.5]], b_m=[-1.0, -1.0], b_v=[0.3 + shift, 0.0])
    if kind == "mcrbm":
        return MeanCovarianceRBM(2, 3, 2, 2, C=1.5 * C, P=-pool, b_c=[2.0, 2.0], **common)
    return MPoT(2, 3, 2, 2, C=2.0 * C, P=pool, gamma=[1.5, 0.8], **common)


L, N_FINE, BIN = 6.0, 480, 0.25          # box [−L, L]², fine grid cell 0.025, chi-square bins 0.25
N_CHAINS = 20_000


def fine_grid(model):
    h = 2 * L / N_FINE
    mids = -L + h * (np.arange(N_FINE) + 0.5)
    pts = np.stack(np.meshgrid(mids, mids, indexing="ij"), axis=-1).reshape(-1, 2)
    f, g = model.energy_and_grad(pts)
    return h, pts, f, g


def exact_draws(model, grid, n, rng):
    """Exact draws from ``e^{−F}`` on the box by rejection: a cell ``c`` is proposed with
    probability ∝ ``M_c = e^{−F(mid_c) + δ_c}``, a point uniformly inside it, accepted with
    probability ``e^{−F(x)}/M_c``; ``δ_c = ‖∇F(mid_c)‖ r + H r²`` (``r`` the half-diagonal,
    ``H`` twice the largest gradient change per unit length between neighbouring midpoints)
    bounds ``F(mid_c) − F(x)`` in the cell — checked on every proposal."""
    h, pts, f, g = grid
    gg = g.reshape(N_FINE, N_FINE, 2)
    lip = max(np.linalg.norm(np.diff(gg, axis=0), axis=2).max(), np.linalg.norm(np.diff(gg, axis=1), axis=2).max()) / h
    r = h / np.sqrt(2)
    log_m = -(f - f.min()) + np.linalg.norm(g, axis=1) * r + 2 * lip * r * r
    q = np.exp(log_m - log_m.max())
    q /= q.sum()
    out = []
    while sum(len(o) for o in out) < n:
        cells = rng.choice(len(q), size=int(1.3 * n), p=q)
        x = pts[cells] + rng.uniform(-h / 2, h / 2, (len(cells), 2))
        log_ratio = -(model.free_energy(x) - f.min()) - log_m[cells]
        assert log_ratio.max() <= 0, "the rejection envelope is not a bound"
        out.append(x[np.log(rng.random(len(cells))) < log_ratio])
    return np.concatenate(out)[:n]


def bin_probabilities(grid):
    """Probabilities of the 0.25 × 0.25 bins of [−3, 3]² and of the rest (midpoint rule on the
    fine grid, whose cells tile the bins)."""
    h, pts, f, _ = grid
    p = np.exp(-(f - f.min()))
    p /= p.sum()
    return np.bincount(bin_index(pts), weights=p, minlength=N_BINS + 1)


N_SIDE = int(round(6.0 / BIN))
N_BINS = N_SIDE * N_SIDE


def bin_index(x):
    idx = np.floor((x + 3.0) / BIN).astype(np.int64)
    inside = np.all((idx >= 0) & (idx < N_SIDE), axis=1)
    return np.where(inside, idx[:, 0] * N_SIDE + idx[:, 1], N_BINS)


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_hmc_leaves_the_exact_density_invariant(kind):
    """Stat test (α = 1e-5): 20 000 exact draws → 3 HMC transitions (ε = 0.3, 5 leapfrog steps,
    no adaptation) → chi-square of 577 bins (cells of expected count < 5 pooled) against the
    grid probabilities.  The exact draws themselves pass; HMC targeting the model with ``b_v``
    shifted by 0.2 fails from the same starts (power)."""
    model = model_2d(kind)
    grid = fine_grid(model)
    probs = bin_probabilities(grid)
    x0 = exact_draws(model, grid, N_CHAINS, np.random.default_rng(30))
    p_start = chi_square_pvalue(np.bincount(bin_index(x0), minlength=N_BINS + 1), N_CHAINS * probs)
    assert p_start > ALPHA, f"exact draws: p = {p_start:.3g}"
    kw = dict(method="hmc", chains=N_CHAINS, draws=3, warmup=0, init=x0, step_size=0.3, n_leapfrog=5,
              adapt_step_size=False, keep_states=False, progress=False)
    s = samplers.sample(model, seed=31, **kw)
    acc = float(np.mean(s.sample_stats["acceptance_rate"]))
    assert 0.5 < acc < 0.999, acc
    final = s.final_state.x
    assert np.mean(np.linalg.norm(final - x0, axis=1)) > 0.3           # the chains really move
    pval = chi_square_pvalue(np.bincount(bin_index(final), minlength=N_BINS + 1), N_CHAINS * probs)
    assert pval > ALPHA, f"{kind}: HMC final states p = {pval:.3g} (acceptance {acc:.2f})"
    wrong = samplers.sample(model_2d(kind, shift=0.2), seed=31, **kw).final_state.x
    assert chi_square_pvalue(np.bincount(bin_index(wrong), minlength=N_BINS + 1), N_CHAINS * probs) < ALPHA


# ---------------------------------------------------------------------------- errors and protocol
def test_typed_errors_and_constraints():
    with pytest.raises(ValueError, match="n_factors"):
        MeanCovarianceRBM(2, 0, 1, 1)
    with pytest.raises(ValueError, match="n_mean_hidden"):
        MPoT(2, 2, 1, -1)
    with pytest.raises(ModelError, match="P must be <= 0"):
        MeanCovarianceRBM(2, 2, 2, 1, P=np.eye(2))
    with pytest.raises(ModelError, match="P must be >= 0"):
        MPoT(2, 2, 2, 1, P=-np.eye(2))
    with pytest.raises(ModelError, match="gamma must be > 0"):
        MPoT(2, 2, 2, 1, gamma=[1.0, 0.0])
    m = mcrbm(seed=10)
    old = {k: v.copy() for k, v in m.params.items()}
    with pytest.raises(ModelError, match="finite"):
        m.set_params(b_v=np.ones(3), Q=np.full((4, 2), np.nan))
    assert all(np.array_equal(old[k], m.params[k]) for k in old)       # all or nothing
    with pytest.raises(KeyError):
        m.set_params(P=-np.ones((4, 2)))                                # learned through Q
    with pytest.raises(KeyError):
        m.set_params(log_gamma=np.ones(2))
    with pytest.raises(CardinalityError, match="C must have shape"):
        m.set_params(C=np.ones((2, 2)))
    with pytest.raises(ModelError, match="finite"):
        m.set_params(b_c=[np.inf, 0.0])
    with pytest.raises(CardinalityError, match="v must have shape"):
        m.free_energy(np.zeros((2, 4)))
    with pytest.raises(EvidenceError, match="finite"):
        m.grad_x([[0.0, np.nan, 1.0]])
    with pytest.raises(EvidenceError, match="h_cov"):
        mpot(seed=11).conditional_visible([[0.0, 1.0]], [[0, 1]])
    with pytest.raises(EvidenceError, match="h_mean"):
        m.conditional_visible([[0.5, 0.5]], [[0, 2]])


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_gradient_training_keeps_the_model_normalisable(kind):
    """PCD with an HMC negative phase and a large Adam step: ``P`` keeps its sign, ``γ > 0``, the
    zeros of the default pooling pattern stay zero, and the fit ends finite."""
    import estimators

    x = np.random.default_rng(14).multivariate_normal([0.0, 0.0], [[1.0, 0.8], [0.8, 1.0]], size=200)
    model = MeanCovarianceRBM(2, 4, 2, 2, seed=15) if kind == "mcrbm" else MPoT(2, 4, 2, 2, seed=15)
    pattern = model.Q != 0
    pcd = estimators.PCD(k=1, chains=50, method="hmc", sampler_options={"step_size": 0.2, "n_leapfrog": 5})
    estimators.fit(model, x, pcd, estimators.Adam(lr=0.1), epochs=3, batch_size=50, seed=16, progress=False)
    sign = -1 if kind == "mcrbm" else 1
    assert np.all(sign * model.P >= 0) and np.array_equal(model.Q != 0, pattern)
    assert np.all(np.isfinite(model.free_energy(x)))
    if kind == "mpot":
        assert np.all(model.gamma > 0)


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_settings_round_trip(kind):
    model = MODELS[kind](seed=12)
    clone = type(model).from_settings(model.settings())
    clone.set_params(**model.params)
    v = np.random.default_rng(13).normal(size=(4, 3))
    assert np.array_equal(clone.free_energy(v), model.free_energy(v))
    assert repr(clone) == repr(model)
