"""Continuous samplers (``samplers/continuous.py``): HMC, MALA, unadjusted Langevin, random-walk MH.

* Exactness (TESTING.md §1): 40 000 independent chains started from exact draws of a 1-D double
  well ``E = x⁴/4 − x²`` (inverse CDF on a fine grid), 5 transitions with a fixed step, then a
  chi-square test of the final states against bin probabilities from numerical integration.
  Five such must-pass tests here (mh, mala, hmc, hmc with a mass, ULA's exact stationary law),
  α = 1e-4 each, so the file adds 5e-4 to the suite's false-alarm budget.  Sensitivity: ULA at
  MALA's step (MALA without its accept step) and an HMC whose momentum variance disagrees with
  its kinetic energy are rejected with p < 1e-10.
* Moments (TESTING.md "Moments from long chains"): a 10-D Gaussian with condition number 100.
  Mean and variance are checked along the 10 eigenvectors of the covariance only (20 checks
  per method instead of 10 + 55 for the full mean and covariance): each ``z = (estimate −
  exact) / MCSE`` (ArviZ) must be below 3 in absolute value.  Under correct code each z is
  about N(0, 1), so 60 checks at 3 MCSE would fail for roughly one seed in seven: the seeds are
  fixed (it then holds, max |z| ≈ 2–3); the decisive exactness evidence is the chi-square
  tests above.  R-hat < 1.01 on 4 chains.
"""

import functools

import arviz as az
import numpy as np
import pytest
from scipy import integrate

import pgm
import samplers
from pgm.errors import ModelError, SamplingError
from samplers import _continuous_moves as moves
from tests.conftest import chi_square_pvalue

ALPHA = 1e-4


# ---------------------------------------------------------------------------- test models
class DoubleWell:
    """``E(x) = Σ_j x_j⁴/4 − x_j²`` (row by row: no BLAS, so batches never change a row)."""

    sampler_family = "continuous"

    def __init__(self, dim=1):
        self.dim = dim

    def energy(self, x):
        return np.sum(x ** 4 / 4 - x ** 2, axis=1)

    def grad_x(self, x):
        return x ** 3 - 2 * x


class Quadratic:
    """``E = |x|²/2`` (no ``sampler_family``: detected by ``dim``/``energy``/``grad_x``), with
    optional defects: NaN gradient for ``x₀ > grad_nan_above``, ``+inf`` energy for
    ``x₀ > inf_above``, NaN energy for chain ``nan_chain`` on call number ``nan_call``."""

    def __init__(self, dim=1, grad_nan_above=np.inf, inf_above=np.inf, nan_call=None, nan_chain=1,
                 energy_shape=None, grad_shape=None):
        self.dim = dim
        self.grad_nan_above, self.inf_above = grad_nan_above, inf_above
        self.nan_call, self.nan_chain = nan_call, nan_chain
        self.energy_shape, self.grad_shape = energy_shape, grad_shape
        self.calls = 0

    def energy(self, x):
        self.calls += 1
        e = 0.5 * np.sum(x * x, axis=1)
        e[x[:, 0] > self.inf_above] = np.inf
        if self.calls == self.nan_call:
            e[self.nan_chain] = np.nan
        return e.reshape(self.energy_shape(x.shape[0])) if self.energy_shape else e

    def grad_x(self, x):
        g = x.copy()
        g[x[:, 0] > self.grad_nan_above] = np.nan
        return g.reshape(self.grad_shape(x.shape)) if self.grad_shape else g


# ---------------------------------------------------------------------------- exact double well
_GRID = np.linspace(-5.0, 5.0, 200_001)
_EDGES = np.concatenate([[-np.inf], np.linspace(-2.7, 2.7, 55), [np.inf]])
N_CHAINS = 40_000


def _density(x):
    return np.exp(-(x ** 4 / 4 - x ** 2))


@functools.lru_cache(maxsize=None)
def _double_well_bins():
    z = integrate.quad(_density, -np.inf, np.inf)[0]
    return np.array([integrate.quad(_density, a, b)[0] for a, b in zip(_EDGES[:-1], _EDGES[1:])]) / z


def _double_well_draws(n, seed):
    """Exact draws by inverse CDF (trapezoid CDF on a grid of spacing 5e-5)."""
    pdf = _density(_GRID)
    cdf = np.concatenate([[0.0], np.cumsum((pdf[1:] + pdf[:-1]) / 2)])
    return np.interp(np.random.default_rng(seed).random(n), cdf / cdf[-1], _GRID)


def _double_well_pvalue(x):
    return chi_square_pvalue(np.histogram(x, _EDGES)[0], x.size * _double_well_bins())


def test_exact_double_well_draws_pass_the_chi_square_test():
    assert _double_well_pvalue(_double_well_draws(N_CHAINS, 1)) > 0.01


EXACT_KERNELS = {
    "mh": dict(step_size=2.0),
    "mala": dict(step_size=0.4),
    "hmc": dict(step_size=0.6, n_leapfrog=5),
    "hmc_mass": dict(step_size=1.0, n_leapfrog=5, mass=[3.0]),
}


@pytest.mark.parametrize("name", sorted(EXACT_KERNELS))
def test_kernel_leaves_double_well_invariant(name):
    """40 000 chains from exact draws, 5 transitions, chi-square at α = 1e-4."""
    x0 = _double_well_draws(N_CHAINS, 1)
    s = samplers.sample(DoubleWell(), method=name.split("_")[0], chains=N_CHAINS, draws=5, warmup=0,
                        seed=2, init=x0[:, None], adapt_step_size=False, keep_states=False,
                        progress=False, **EXACT_KERNELS[name])
    acc = s.sample_stats["acceptance_rate"].mean()
    assert 0.3 < acc < 0.99, acc  # the kernel really moves
    p = _double_well_pvalue(s.final_state.x[:, 0])
    assert p > ALPHA, f"{name}: p = {p:.3g}"


def test_chi_square_detects_langevin_without_accept_step():
    """Sensitivity: ULA is MALA without its accept/reject; at MALA's step it is rejected."""
    x0 = _double_well_draws(N_CHAINS, 1)
    s = samplers.sample(DoubleWell(), method="langevin", chains=N_CHAINS, draws=5, warmup=0, seed=2,
                        init=x0[:, None], step_size=EXACT_KERNELS["mala"]["step_size"],
                        keep_states=False, progress=False)
    p = _double_well_pvalue(s.final_state.x[:, 0])
    assert p < 1e-10, f"p = {p:.3g}"


def test_chi_square_detects_hmc_with_inconsistent_kinetic_energy():
    """Sensitivity: momenta drawn from N(0, 4) with the kinetic energy of N(0, 1) break HMC."""
    x = _double_well_draws(N_CHAINS, 1)[:, None]
    ev = moves.Evaluator(DoubleWell(), need_grad=True)
    rng = np.random.default_rng(3)
    E, G = ev(x)
    eps = np.full(N_CHAINS, 0.3)
    for _ in range(5):
        mv = moves.hmc(ev, x, E, G, eps, rng.standard_normal((N_CHAINS, 1)), rng.random(N_CHAINS),
                       n_leapfrog=5, inv_mass=1.0, sqrt_mass=2.0)
        x, E, G = mv.x, mv.E, mv.G
    p = _double_well_pvalue(x[:, 0])
    assert p < 1e-10, f"p = {p:.3g}"


def test_ula_stationary_variance_on_standard_gaussian():
    """ULA on E = x²/2 with step h is exactly stationary at N(0, 1/(1 − h/2)); it leaves N(0, 1)."""
    from scipy import stats

    h, n = 0.5, N_CHAINS
    var = 1.0 / (1.0 - h / 2)
    edges = np.concatenate([[-np.inf], np.linspace(-3.5, 3.5, 41), [np.inf]])

    def pvalue(x, v):
        return chi_square_pvalue(np.histogram(x, edges)[0], n * np.diff(stats.norm.cdf(edges, scale=np.sqrt(v))))

    rng = np.random.default_rng(4)
    g = pgm.GaussianEnergy([0.0], [[1.0]])
    for start, expect_pass in ((np.sqrt(var), True), (1.0, False)):
        s = samplers.sample(g, method="langevin", chains=n, draws=5, warmup=0, seed=5, step_size=h,
                            init=start * rng.standard_normal((n, 1)), keep_states=False, progress=False)
        p = pvalue(s.final_state.x[:, 0], var if expect_pass else 1.0)
        assert (p > ALPHA) if expect_pass else (p < 1e-10), f"start sd {start}: p = {p:.3g}"


# ---------------------------------------------------------------------------- 10-D Gaussian
def _gaussian10():
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.standard_normal((10, 10)))
    lam = np.logspace(0, 2, 10)  # precision eigenvalues: condition number 100
    p = q @ np.diag(lam) @ q.T
    return pgm.GaussianEnergy(np.linspace(-1, 1, 10), (p + p.T) / 2), q, lam


#: (chains, warm-up, draws, thin) per method: MH and MALA need long runs for R-hat < 1.01
GAUSS_RUNS = {"hmc": (4, 2000, 2000, 1), "mala": (4, 2000, 10000, 5), "mh": (4, 2000, 20000, 10),
              "langevin": (4, 2000, 1000, 1)}


@functools.lru_cache(maxsize=None)
def _gauss_run(method):
    g, q, lam = _gaussian10()
    chains, warmup, draws, thin = GAUSS_RUNS[method]
    s = samplers.sample(g, method=method, chains=chains, draws=draws, warmup=warmup, thin=thin,
                        seed=11, init=g.sample(chains, rng=12), progress=False)
    y = (s.states - g.mean) @ q  # eigen-coordinates: mean 0, variance 1/λ
    return s, y, lam


@pytest.mark.parametrize("method", ["hmc", "mala", "mh"])
def test_gaussian_moments_along_eigenvectors_within_3_mcse(method):
    s, y, lam = _gauss_run(method)
    z_mean = [y[..., k].mean() / az.mcse(y[..., k]) for k in range(10)]
    z_var = [((y[..., k] ** 2).mean() - 1 / lam[k]) / az.mcse(y[..., k] ** 2) for k in range(10)]
    z = np.abs(np.concatenate([z_mean, z_var]))
    assert z.max() < 3, f"{method}: |z| = {np.round(z, 2)}"
    rhat = max(max(az.rhat(y[..., k]), az.rhat(y[..., k] ** 2)) for k in range(10))
    assert rhat < 1.01, f"{method}: R-hat {rhat:.4f}"
    assert not s.sample_stats["diverging"].any()


def test_ess_per_gradient_evaluation_hmc_beats_mh():
    """Minimum bulk ESS over the 20 eigen-statistics (y_k, y_k²), per model evaluation after
    warm-up (gradient evaluations for HMC and MALA, energy evaluations for MH)."""
    figures = {}
    for method in ("hmc", "mala", "mh"):
        s, y, _ = _gauss_run(method)
        ess = min(min(az.ess(y[..., k]), az.ess(y[..., k] ** 2)) for k in range(10))
        evals = s.info["n_grad_evals_sampling"] or s.info["n_energy_evals_sampling"]
        figures[method] = ess / evals
    print("ESS per gradient evaluation:", {k: f"{v:.2e}" for k, v in figures.items()})
    assert figures["hmc"] >= 5 * figures["mh"], figures


@pytest.mark.parametrize("method", ["hmc", "mala", "mh", "langevin"])
def test_dual_averaging_reaches_target_acceptance(method):
    s, _, _ = _gauss_run(method)
    target = {"hmc": 0.8, "mala": 0.574, "mh": 0.234, "langevin": 0.574}[method]
    assert s.info["target_accept"] == target
    acc = s.sample_stats["acceptance_rate"].mean()
    print(f"{method}: mean acceptance {acc:.3f} (target {target}), step sizes {np.round(s.info['step_size'], 4)}")
    assert abs(acc - target) < 0.05
    np.testing.assert_array_equal(s.final_state.step_size, s.info["step_size"])


def test_hmc_rhat_from_dispersed_starts():
    g, q, _ = _gaussian10()
    s = samplers.sample(g, method="hmc", chains=4, draws=1000, warmup=1000, seed=21,
                        init=g.mean + 3 * (g.sample(4, rng=22) - g.mean), progress=False)
    y = (s.states - g.mean) @ q
    rhat = max(max(az.rhat(y[..., k]), az.rhat(y[..., k] ** 2)) for k in range(10))
    assert rhat < 1.01


def test_to_arviz_summary_rhat_bfmi_on_hmc():
    s, _, _ = _gauss_run("hmc")
    idata = s.to_arviz()
    assert {"lp", "acceptance_rate", "step_size", "diverging", "energy", "n_steps"} <= set(idata.sample_stats.data_vars)
    summary = az.summary(idata, var_names=["x"])
    assert summary.shape[0] == 10 and (summary["r_hat"] < 1.01).all()
    assert float(az.rhat(idata)["x"].max()) < 1.01
    bfmi = az.bfmi(idata)
    if not isinstance(bfmi, np.ndarray):  # ArviZ ≥ 1: the sample_stats node, BFMI of "energy" per chain
        bfmi = np.asarray(bfmi["energy"].values)
    assert bfmi.shape == (4,) and np.all(bfmi > 0.5), bfmi


def test_recorded_statistics_are_consistent():
    s, _, _ = _gauss_run("hmc")
    g = _gaussian10()[0]
    flat = s.states.reshape(-1, 10)
    np.testing.assert_allclose(s.sample_stats["lp"].reshape(-1), -g.energy(flat), rtol=1e-12, atol=1e-12)
    assert np.all(s.sample_stats["energy"] >= -s.sample_stats["lp"])  # H = E + K ≥ E
    acc = s.sample_stats["acceptance_rate"]
    assert np.all((0 <= acc) & (acc <= 1))
    assert np.all(s.sample_stats["n_steps"] == 10)
    # jitter: the used step lies in ε(1 ± 0.5) around each chain's fixed step
    ratio = s.sample_stats["step_size"] / np.asarray(s.info["step_size"])[:, None]
    assert 0.5 <= ratio.min() and ratio.max() <= 1.5 and ratio.std() > 0.2
    assert s.info["n_grad_evals_sampling"] == 4 * 2000 * 10
    with pytest.raises(TypeError, match="continuous"):
        s.marginals()


# ---------------------------------------------------------------------------- reproducibility
METHODS = ["hmc", "mala", "langevin", "mh"]


@pytest.mark.parametrize("method", METHODS)
def test_one_and_two_threads_and_same_seed_are_bit_identical(method, monkeypatch):
    """The normals are drawn in a numba prange (forced here for a small run)."""
    from samplers import _continuous_kernels

    monkeypatch.setattr(_continuous_kernels, "PARALLEL_DRAWS", 1)
    runs = []
    for n in (1, 2, 2):
        with samplers.threads(n):
            runs.append(samplers.sample(DoubleWell(2), method=method, chains=50, draws=20,
                                        warmup=20, seed=42, progress=False))
    for other in runs[1:]:
        np.testing.assert_array_equal(runs[0].states, other.states)
        for k in runs[0].sample_stats:
            np.testing.assert_array_equal(runs[0].sample_stats[k], other.sample_stats[k])
    different = samplers.sample(DoubleWell(2), method=method, chains=5, draws=3, warmup=3, seed=43,
                                progress=False)
    assert not np.array_equal(different.states, runs[0].states[:5])


@pytest.mark.parametrize("method", METHODS)
def test_resume_from_final_state_equals_one_longer_run(method, tmp_path):
    g = _gaussian10()[0]
    kw = dict(method=method, chains=3, warmup=30, seed=7, progress=False)
    full = samplers.sample(g, draws=25, **kw)
    first = samplers.sample(g, draws=10, **kw)
    first.final_state.save(tmp_path / "state.npz")
    state = samplers.ChainState.load(tmp_path / "state.npz")
    np.testing.assert_array_equal(state.step_size, first.final_state.step_size)
    second = samplers.sample(g, method=method, draws=15, warmup=0, init=state, seed=999, progress=False)
    np.testing.assert_array_equal(np.concatenate([first.states, second.states], axis=1), full.states)
    for k in full.sample_stats:
        np.testing.assert_array_equal(
            np.concatenate([first.sample_stats[k], second.sample_stats[k]], axis=1), full.sample_stats[k])
    np.testing.assert_array_equal(second.final_state.rng_state, full.final_state.rng_state)
    np.testing.assert_array_equal(second.final_state.step_size, full.final_state.step_size)


@pytest.mark.parametrize("method", METHODS)
def test_a_chain_does_not_depend_on_the_number_of_chains(method):
    runs = [samplers.sample(DoubleWell(2), method=method, chains=c, draws=30, warmup=30, seed=5,
                            progress=False) for c in (2, 5)]
    np.testing.assert_array_equal(runs[0].states, runs[1].states[:2])
    np.testing.assert_array_equal(runs[0].info["step_size"], runs[1].info["step_size"][:2])


def test_chain_state_without_step_size_still_saves_and_loads(tmp_path):
    st = samplers.ChainState(np.zeros((2, 3), dtype=np.int64), np.ones((2, 4), dtype=np.uint64))
    st.save(tmp_path / "s.npz")
    back = samplers.ChainState.load(tmp_path / "s.npz")
    assert back.step_size is None and back.swap_rng_state is None


def test_observables_thin_and_keep_states_false():
    g = _gaussian10()[0]
    kw = dict(method="mala", chains=3, draws=25, warmup=10, thin=3, seed=1, progress=False)
    kept = samplers.sample(g, **kw)
    light = samplers.sample(g, keep_states=False, observables={"x0sq": lambda x: x[..., 0] ** 2}, **kw)
    assert light.states is None
    np.testing.assert_array_equal(light.observables["x0sq"], kept.states[..., 0] ** 2)
    np.testing.assert_array_equal(light.final_state.x, kept.final_state.x)
    assert kept.to_arviz().posterior["x"].shape == (3, 25, 10)


def test_energy_and_grad_is_used_when_present():
    class Both(Quadratic):
        sampler_family = "continuous"
        n_both = 0

        def energy_and_grad(self, x):
            self.n_both += 1
            return 0.5 * np.sum(x * x, axis=1), x.copy()

        def grad_x(self, x):
            raise AssertionError("grad_x called although energy_and_grad exists")

    m = Both(dim=2)
    s = samplers.sample(m, method="hmc", chains=2, draws=5, warmup=0, step_size=0.3, n_leapfrog=4,
                        seed=0, progress=False)
    assert m.n_both == 1 + 5 * 4 and m.calls == 0  # one call at the start, one per leapfrog step
    assert s.info["n_grad_evals"] == s.info["n_energy_evals"] == 2 * m.n_both


# ---------------------------------------------------------------------------- divergences & errors
@pytest.mark.parametrize("method", ["hmc", "mala"])
def test_nonfinite_gradient_region_is_divergent_and_rejected(method):
    m = Quadratic(dim=1, grad_nan_above=0.5)
    s = samplers.sample(m, method=method, chains=4, draws=400, warmup=100, seed=3, progress=False,
                        init=np.full((4, 1), -0.5))
    div = s.sample_stats["diverging"]
    assert div.any() and np.isfinite(s.states).all()
    assert s.states.max() <= 0.5  # every point of every accepted move had a finite gradient
    prev = np.concatenate([s.states[:, :1], s.states[:, :-1]], axis=1)[..., 0]
    assert np.all(s.states[..., 0][:, 1:][div[:, 1:]] == prev[:, 1:][div[:, 1:]])  # stayed put
    assert np.all(s.sample_stats["acceptance_rate"][div] == 0)
    assert s.info["n_divergent"] == div.sum()


def test_huge_step_diverges_and_leaves_the_chain_in_place():
    g = _gaussian10()[0]
    x0 = g.sample(3, rng=1)
    s = samplers.sample(g, method="hmc", chains=3, draws=20, warmup=0, step_size=50.0,
                        adapt_step_size=False, init=x0, seed=2, progress=False)
    assert s.sample_stats["diverging"].all()
    np.testing.assert_array_equal(s.states, np.broadcast_to(x0[:, None], s.states.shape))
    assert np.all(s.sample_stats["n_steps"] < 10)  # trajectories stop at the divergence


def test_mh_infinite_proposal_energy_is_a_plain_rejection():
    m = Quadratic(dim=1, inf_above=0.0)
    s = samplers.sample(m, method="mh", chains=3, draws=300, warmup=100, seed=4, progress=False,
                        init=np.full((3, 1), -1.0))
    assert not s.sample_stats["diverging"].any()
    assert s.states.max() <= 0.0 and np.isfinite(s.sample_stats["lp"]).all()


@pytest.mark.parametrize("warmup, call, where", [(2, 3, "warm-up iteration 1"), (2, 5, "draw 1"),
                                                 (0, 2, "draw 0")])
def test_nan_energy_at_a_finite_point_names_the_draw_and_chain(warmup, call, where):
    m = Quadratic(dim=2, nan_call=call, nan_chain=1)
    with pytest.raises(SamplingError, match="nan") as info:
        samplers.sample(m, method="mh", chains=3, draws=5, warmup=warmup, step_size=0.5, seed=0,
                        progress=False)
    assert info.value.where == where and info.value.chain == 1
    assert f"{where}, chain 1" in str(info.value)


def test_wrong_output_shapes_are_clear_errors():
    bad_e = Quadratic(dim=2, energy_shape=lambda n: (n, 1))
    with pytest.raises(SamplingError, match=r"energy returned shape \(3, 1\).*expected \(3,\)"):
        samplers.sample(bad_e, method="mh", chains=3, draws=2, seed=0, progress=False)
    bad_g = Quadratic(dim=2, grad_shape=lambda s: (s[0] * s[1],))
    with pytest.raises(SamplingError, match=r"grad_x returned shape \(6,\), expected \(3, 2\)"):
        samplers.sample(bad_g, method="hmc", chains=3, draws=2, seed=0, progress=False)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(init=np.zeros((3, 5))), ModelError, r"shape \(3, 2\)"),
    (dict(init=[[0.0, np.nan]] * 3), ModelError, "finite"),
    (dict(init=[[2.0, 0.0]] * 3, model=Quadratic(2, inf_above=1.0)), ModelError, r"chain 0 has energy \+inf"),
    (dict(step_size=0.0), ValueError, "step_size"),
    (dict(step_size=-1.0), ValueError, "step_size"),
    (dict(step_size=np.nan), ValueError, "step_size"),
    (dict(step_size=np.inf), ValueError, "step_size"),
    (dict(step_size=[0.1, 0.2]), ValueError, r"shape \(3,\)"),
    (dict(n_leapfrog=0), ValueError, "n_leapfrog"),
    (dict(n_leapfrog=2.5), ValueError, "n_leapfrog"),
    (dict(target_accept=0.0), ValueError, "target_accept"),
    (dict(target_accept=1.0), ValueError, "target_accept"),
    (dict(target_accept=1.5), ValueError, "target_accept"),
    (dict(jitter=1.0), ValueError, "jitter"),
    (dict(mass=[1.0, -1.0]), ValueError, "mass"),
    (dict(method="nuts"), ValueError, "unknown method 'nuts'"),
    (dict(method="gibbs"), ValueError, "discrete"),
    (dict(method="mala", n_leapfrog=5), ValueError, "n_leapfrog applies to method='hmc'"),
    (dict(evidence={7: 1.0}), KeyError, "evidence names 7"),
    (dict(evidence={0: np.nan}), ValueError, "finite"),
    (dict(scan="random"), ValueError, "scan"),
])
def test_bad_arguments_raise_typed_errors(kwargs, error, match):
    kw = dict(method="hmc", chains=3, draws=2, seed=0, progress=False)
    kw.update(kwargs)
    model = kw.pop("model", Quadratic(2))
    with pytest.raises(error, match=match):
        samplers.sample(model, **kw)


def test_chain_state_of_the_wrong_shape_is_rejected():
    g = _gaussian10()[0]
    s = samplers.sample(g, method="mh", chains=3, draws=2, seed=0, progress=False)
    with pytest.raises(ModelError, match="rng_state"):
        samplers.sample(g, method="mh", chains=2, draws=2, init=s.final_state, progress=False)


def test_discrete_models_reject_continuous_methods_and_options():
    ising = pgm.Ising.grid(3, 3, beta=0.3)
    with pytest.raises(ValueError, match="continuous"):
        samplers.sample(ising, method="hmc", draws=2, progress=False)
    with pytest.raises(ValueError, match="step_size"):
        samplers.sample(ising, step_size=0.1, draws=2, progress=False)
    with pytest.raises(ValueError, match="adapt_step_size"):
        samplers.sample(ising, adapt_step_size=False, draws=2, progress=False)
    assert samplers.sample(ising, draws=2, seed=0, progress=False).info["method"] == "gibbs"
    assert set(samplers.CONTINUOUS_METHODS) == {"hmc", "mala", "langevin", "mh"}
    assert "hmc" not in samplers.METHODS
