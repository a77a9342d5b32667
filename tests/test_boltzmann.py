"""The Boltzmann family: RBM, Gaussian–Bernoulli RBM, spike-and-slab RBM, DBM, DBN.

Follows /work/shared/TESTING.md.

* Exactness of block Gibbs: **stationarity from exact starts** — N = 100 000 independent chains
  start from exact draws of the target (by enumeration, or by exact conditional sampling of the
  continuous layers), run a few sweeps, and the final states are chi-square tested against the
  enumeration (cells with expected count < 5 pooled): the joint *and* each layer's marginal,
  each a separate test (a wrong conditional concentrates its error in one layer, where a
  low-dimensional test has the power that the many-celled joint lacks: e.g. a DBM whose
  top-down input to h1 is scaled by 0.8 — total variation 0.01 — is caught with power > 0.99
  by the h1 marginal, 0.03 by the joint).  One convergence test from a fixed start
  uses the exact k-step distribution from the enumerated RBM transition matrix.  Gaussian
  visible moments are tested with a Hotelling chi-square (mean) and z-scores with empirical
  standard errors of the products (covariance), from independent chains.
* Fixed seeds; **α = 1e-5 per statistical test**, ``N_STAT_TESTS`` of them in this file, so the
  file-wide false-alarm probability is ≤ ``ALPHA * N_STAT_TESTS`` < 1e-3.  p-values are printed
  on failure.
* Gradients against central finite differences (float64, norm-wise relative error ≤ 1e-5);
  free energies, conditionals and ``log Z`` against brute force / numerical integration /
  variable elimination; typed errors on bad input; bit-identical reproducibility and
  continuation.
"""

import itertools

import numpy as np
import pytest
from scipy import integrate, stats

import pgm
import samplers
from pgm.errors import CardinalityError, EvidenceError, ModelError, TooLargeError, UnknownVariableError
from samplers.results import ChainState

from .conftest import chi_square_pvalue

ALPHA = 1e-5
N_STAT_TESTS = 32  # keep in sync with the tests below: ALPHA * N_STAT_TESTS <= 1e-3
N = 100_000


# ---------------------------------------------------------------------------- helpers
def all_bits(n):
    return np.array(list(itertools.product([0, 1], repeat=n)), dtype=np.float64).reshape(-1, n)


def codes(x):
    """Integer code of binary rows (first column = most significant bit, as in all_bits)."""
    x = np.asarray(x, dtype=np.int64)
    return x @ (1 << np.arange(x.shape[1] - 1, -1, -1))


def split(x, sizes):
    return np.split(np.asarray(x, dtype=np.float64), np.cumsum(sizes)[:-1], axis=1)


def joint_table(model):
    """All joint states of a binary layered model and their exact probabilities (brute force)."""
    states = all_bits(model.n_units)
    logp = -np.asarray(model.energy(*split(states, model.layer_sizes)), dtype=np.float64)
    p = np.exp(logp - logp.max())
    return states, p / p.sum(), float(np.log(np.exp(logp - logp.max()).sum()) + logp.max())


def f64_copy(model):
    """The same model with float64 parameters (exact reference of a float32 model)."""
    kw = {k: np.asarray(v, dtype=np.float64) for k, v in model.params.items()}
    if isinstance(model, pgm.RBM):
        return pgm.RBM(*model.layer_sizes, W=kw["W"], b=kw["b"], c=kw["c"])
    raise NotImplementedError


def run_from(model, x0, sweeps, seed, **kw):
    s = samplers.sample(model, chains=x0.shape[0], draws=1, warmup=sweeps - 1, init=x0, seed=seed,
                        include_hidden=True, progress=False, **kw)
    return s.states[:, 0, :]


def chi2_check(final, states, p, what, groups=()):
    """Chi-square of the joint and of the marginal of each column group (one test each)."""
    for cols in [list(range(states.shape[1]))] + [list(g) for g in groups]:
        k = len(cols)
        obs = np.bincount(codes(final[:, cols]), minlength=2 ** k)
        exp = len(final) * np.bincount(codes(states[:, cols]), weights=p, minlength=2 ** k)
        pval = chi_square_pvalue(obs, exp)
        assert pval > ALPHA, f"{what}, units {cols}: chi-square p-value {pval:.3g} <= {ALPHA}"


def layer_groups(sizes):
    ends = np.cumsum(sizes)
    return [range(e - n, e) for n, e in zip(sizes, ends)]


def rbm_6x4(dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    return pgm.RBM(6, 4, W=rng.normal(0, 1.0, (6, 4)), b=rng.normal(0, 0.5, 6),
                   c=rng.normal(0, 0.5, 4), dtype=dtype)


def dbm_432(seed=1):
    rng = np.random.default_rng(seed)
    return pgm.DBM([4, 3, 2], weights=[rng.normal(0, 1.0, (4, 3)), rng.normal(0, 1.0, (3, 2))],
                   biases=[rng.normal(0, 0.5, n) for n in (4, 3, 2)])


def dbn_433(seed=2):
    rng = np.random.default_rng(seed)
    return pgm.DBN([4, 3, 3], weights=[rng.normal(0, 1.5, (4, 3)), rng.normal(0, 1.0, (3, 3))],
                   biases=[rng.normal(0, 0.5, n) for n in (4, 3, 3)])


def gbrbm_3x3(seed=3, learn_sigma=False):
    rng = np.random.default_rng(seed)
    return pgm.GaussianBernoulliRBM(3, 3, W=rng.normal(0, 1.0, (3, 3)), b=rng.normal(0, 1, 3),
                                    c=rng.normal(0, 0.5, 3), sigma=[0.5, 1.0, 1.5], learn_sigma=learn_sigma)


def ssrbm_3x3(seed=4):
    rng = np.random.default_rng(seed)
    return pgm.SpikeSlabRBM(3, 3, W=rng.normal(0, 0.6, (3, 3)), b=rng.normal(0, 0.5, 3),
                            c=rng.normal(0, 0.5, 3), mu=rng.normal(0, 1, 3), alpha=[1.5, 2.0, 2.5],
                            lam=[2.0, 2.5, 3.0])


# ---------------------------------------------------------------------------- exactness (chi-square)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_rbm_block_gibbs_leaves_exact_joint_invariant(dtype):
    """Stat tests (2 × 3): joint (v, h), v and h of a 6x4 RBM after 3 sweeps from exact starts."""
    rbm = rbm_6x4(dtype)
    states, p, _ = joint_table(f64_copy(rbm))
    rng = np.random.default_rng(10)
    x0 = states[rng.choice(len(p), size=N, p=p)]
    final = run_from(rbm, x0, 3, seed=11)
    chi2_check(final, states, p, f"RBM 6x4 {np.dtype(dtype).name}", layer_groups([6, 4]))


def test_rbm_converges_as_the_exact_transition_matrix_predicts():
    """Stat test: visible distribution after 3 sweeps from v = 0 equals e_0 T^3 (T enumerated)."""
    rbm = rbm_6x4(seed=5)
    V, H = all_bits(6), all_bits(4)
    ph = np.prod(np.where(H[None] == 1, rbm.mean_h(V)[:, None, :], 1 - rbm.mean_h(V)[:, None, :]), axis=2)
    pv = np.prod(np.where(V[None] == 1, rbm.mean_v(H)[:, None, :], 1 - rbm.mean_v(H)[:, None, :]), axis=2)
    T = ph @ pv                                   # T[v, v'] = Σ_h p(h|v) p(v'|h)
    np.testing.assert_allclose(T.sum(1), 1.0, atol=1e-12)
    dist = np.linalg.matrix_power(T, 3)[0]        # start: v = 000000 (code 0)
    s = samplers.sample(rbm, chains=N, draws=1, warmup=2, init=np.zeros(6), seed=12, progress=False)
    chi2_check(s.states[:, 0, :], V, dist, "RBM from a fixed start")


def test_rbm_clamped_visibles_sample_the_conditional():
    """Stat tests (3): evidence on 3 visibles; free units (v1, v2, v4, h): joint, v, h."""
    rbm = rbm_6x4(seed=6)
    ev = {0: 1, 3: 0, 5: 1}
    states, p, _ = joint_table(rbm)
    keep = np.all([states[:, i] == x for i, x in ev.items()], axis=0)
    states, p = states[keep], p[keep] / p[keep].sum()
    rng = np.random.default_rng(13)
    x0 = states[rng.choice(len(p), size=N, p=p)]
    final = run_from(rbm, x0, 2, seed=14, evidence=ev)
    assert np.all(final[:, [0, 3, 5]] == [1, 0, 1])
    free = [1, 2, 4, 6, 7, 8, 9]
    chi2_check(final[:, free], states[:, free], p, "RBM posterior", [range(3), range(3, 7)])


def test_dbm_two_block_gibbs_leaves_exact_joint_invariant():
    """Stat tests (4): joint of a 4-3-2 DBM (512 states) and each layer, 3 sweeps from exact starts."""
    dbm = dbm_432()
    states, p, _ = joint_table(dbm)
    x0 = states[np.random.default_rng(15).choice(len(p), size=N, p=p)]
    chi2_check(run_from(dbm, x0, 3, seed=16), states, p, "DBM 4-3-2", layer_groups([4, 3, 2]))


def test_dbm_clamped_visibles_sample_the_hidden_posterior():
    """Stat tests (3): p(h1, h2 | v), h1 and h2 of the 4-3-2 DBM with all visibles clamped."""
    dbm = dbm_432(seed=7)
    v = [1, 0, 1, 1]
    H = all_bits(5)
    logp = -dbm.energy(np.tile(v, (32, 1)), H[:, :3], H[:, 3:])
    p = np.exp(logp - logp.max())
    p /= p.sum()
    hid = H[np.random.default_rng(17).choice(32, size=N, p=p)]
    x0 = np.hstack([np.tile(v, (N, 1)), hid])
    final = run_from(dbm, x0, 2, seed=18, evidence=dict(enumerate(v)))
    chi2_check(final[:, 4:], H, p, "DBM posterior", layer_groups([3, 2]))


def test_dbn_gibbs_top_then_ancestral_pass_is_exact():
    """Stat tests (4): joint of a 4-3-3 DBN (1024 states) and each layer, 2 sweeps from exact starts."""
    dbn = dbn_433()
    states, p, log_z = joint_table(dbn)
    assert log_z == pytest.approx(pgm.exact.log_partition(dbn), abs=1e-10)
    x0 = states[np.random.default_rng(19).choice(len(p), size=N, p=p)]
    chi2_check(run_from(dbn, x0, 2, seed=20), states, p, "DBN 4-3-3", layer_groups([4, 3, 3]))


def test_dbn_posterior_gibbs_with_clamped_visibles():
    """Stat tests (4): DBN with v0, v2 clamped — site Gibbs on h1, block h2, free v1, v3:
    joint of the free units, (v1, v3), h1, h2."""
    dbn = dbn_433(seed=8)
    ev = {0: 1, 2: 0}
    states, p, _ = joint_table(dbn)
    keep = (states[:, 0] == 1) & (states[:, 2] == 0)
    states, p = states[keep], p[keep] / p[keep].sum()
    x0 = states[np.random.default_rng(21).choice(len(p), size=N, p=p)]
    final = run_from(dbn, x0, 2, seed=22, evidence=ev)
    assert np.all(final[:, 0] == 1) and np.all(final[:, 2] == 0)
    free = [1, 3] + list(range(4, 10))
    chi2_check(final[:, free], states[:, free], p, "DBN posterior", [range(2), range(2, 5), range(5, 8)])


def _ssrbm_exact_spikes(m):
    """p(h) of an ssRBM from the joint Gaussian of (v, s) given h (not the model's formula)."""
    W, b, c, mu = m.W, m.b, m.c, m.mu
    al, lam = m.alpha, m.lam
    n_v, n_h = W.shape
    H = all_bits(n_h)
    out, means, covs = [], [], []
    for h in H:
        # −E in u = v − b and s:  −½ [u;s]ᵀ A [u;s] + ηᵀ[u;s] + c·h − ½ Σ α μ² h
        A = np.block([[np.diag(lam), -W * h], [-(W * h).T, np.diag(al)]])
        eta = np.concatenate([np.zeros(n_v), al * mu * h])
        Ai = np.linalg.inv(A)
        logdet = np.linalg.slogdet(A)[1]
        out.append(c @ h - 0.5 * np.sum(al * mu ** 2 * h) + 0.5 * eta @ Ai @ eta - 0.5 * logdet
                   + 0.5 * (n_v + n_h) * np.log(2 * np.pi))
        means.append(Ai @ eta + np.concatenate([b, np.zeros(n_h)]))
        covs.append(Ai)
    logp = np.array(out)
    p = np.exp(logp - logp.max())
    return H, p / p.sum(), np.array(means), np.array(covs), float(np.log(np.exp(logp - logp.max()).sum()) + logp.max())


def test_ssrbm_spikes_and_visible_mean_are_exact():
    """Stat tests (2): spikes chi-square and Hotelling test of the visible mean after 2 sweeps."""
    m = ssrbm_3x3()
    H, p, means, covs, log_z = _ssrbm_exact_spikes(m)
    assert log_z == pytest.approx(pgm.exact.log_partition(m), abs=1e-9)
    rng = np.random.default_rng(23)
    k = rng.choice(len(p), size=N, p=p)
    vs = np.empty((N, 6))
    for i in range(len(p)):
        sel = k == i
        vs[sel] = rng.multivariate_normal(means[i], covs[i], size=sel.sum())
    x0 = np.hstack([vs[:, :3], H[k], vs[:, 3:]])  # layers v, h, s
    final = run_from(m, x0, 2, seed=24)
    chi2_check(final[:, 3:6], H, p, "ssRBM spikes")
    mean = p @ means[:, :3]
    cov = np.einsum("k,kij->ij", p, covs[:, :3, :3] + np.einsum("ki,kj->kij", means[:, :3], means[:, :3])) \
        - np.outer(mean, mean)
    d = final[:, :3].mean(0) - mean
    t2 = N * d @ np.linalg.solve(cov, d)
    pval = stats.chi2.sf(t2, 3)
    assert pval > ALPHA, f"ssRBM visible mean: Hotelling p-value {pval:.3g}"


def _gbrbm_exact_mixture(m):
    """Mixture weights by numerical integration over v (independent of the closed form)."""
    W, b, c, sig = m.W, m.b, m.c, m.sigma
    H = all_bits(m.n_units - m.n_visible)
    logw = []
    for h in H:
        lw = c @ h
        for i in range(m.n_visible):
            f = lambda x, i=i: np.exp(-(x - b[i]) ** 2 / (2 * sig[i] ** 2) + x * (W[i] @ h) / sig[i] ** 2)
            centre = b[i] + W[i] @ h
            lw += np.log(integrate.quad(f, centre - 12 * sig[i], centre + 12 * sig[i], epsabs=0, epsrel=1e-12)[0])
        logw.append(lw)
    logw = np.array(logw)
    return H, logw


def test_gbrbm_visible_mean_and_covariance_match_the_gaussian_mixture():
    """Stat tests (3): hidden chi-square, Hotelling mean test, covariance z-scores (|z| < 5; the
    six together have false-alarm probability < 4e-6, counted as one test)."""
    m = gbrbm_3x3()
    H, logw = _gbrbm_exact_mixture(m)
    assert float(np.log(np.exp(logw - logw.max()).sum()) + logw.max()) == \
        pytest.approx(pgm.exact.log_partition(m), abs=1e-8)
    p = np.exp(logw - logw.max())
    p /= p.sum()
    mus = m.b + H @ m.W.T
    mean = p @ mus
    cov = np.diag(m.sigma ** 2) + np.einsum("k,ki,kj->ij", p, mus, mus) - np.outer(mean, mean)
    rng = np.random.default_rng(25)
    k = rng.choice(len(p), size=N, p=p)
    v0 = mus[k] + m.sigma * rng.standard_normal((N, 3))
    final = run_from(m, np.hstack([v0, H[k]]), 3, seed=26)
    chi2_check(final[:, 3:], H, p, "GB-RBM hidden")
    v = final[:, :3]
    d = v.mean(0) - mean
    pval = stats.chi2.sf(N * d @ np.linalg.solve(cov, d), 3)
    assert pval > ALPHA, f"GB-RBM visible mean: Hotelling p-value {pval:.3g}"
    c = v - v.mean(0)
    for i, j in itertools.combinations_with_replacement(range(3), 2):
        prod = c[:, i] * c[:, j]
        z = (prod.mean() - cov[i, j]) / (prod.std(ddof=1) / np.sqrt(N))
        assert abs(z) < 5.0, f"GB-RBM covariance[{i},{j}]: z = {z:.2f} (|z| >= 5 has p < 6e-7)"


def test_pgm_conditional_samplers_match_their_means():
    """Stat test: numpy-side sample_h / sample_v of an RBM (ten binomial z-scores, |z| < 5,
    together < 6e-6, counted as one test)."""
    rbm = rbm_6x4(seed=9)
    v = np.tile([1, 0, 1, 1, 0, 0], (N, 1))
    h = rbm.sample_h(v, rng=0)
    p = rbm.mean_h(v[0])
    z = (h.mean(0) - p) / np.sqrt(p * (1 - p) / N)
    assert np.all(np.abs(z) < 5), z
    vv = rbm.sample_v(np.tile([1, 0, 0, 1], (N, 1)), rng=1)
    p = rbm.mean_v([1, 0, 0, 1])
    z = (vv.mean(0) - p) / np.sqrt(p * (1 - p) / N)
    assert np.all(np.abs(z) < 5), z


def test_extreme_preactivations_that_cancel_against_biases():
    """Stat test: ``xW`` beyond the float32 exp range (±95) cancelled by the biases to a = ±0.4:
    the kernel's exact fallback must give p(h=1|v) = σ(±0.4) (binomial z-scores, |z| < 5)."""
    W = np.array([[95.0, -95.0, 0.0]])
    rbm = pgm.RBM(1, 3, W=W, c=[-95.4, 95.4, 0.3], dtype=np.float32)
    s = samplers.sample(rbm, chains=N, draws=1, warmup=0, seed=30, evidence={0: 1}, include_hidden=True,
                        progress=False)
    p = 1 / (1 + np.exp(-np.array([-0.4, 0.4, 0.3])))
    np.testing.assert_allclose(rbm.mean_h([1]), p, rtol=1e-4)
    z = (s.states[:, 0, 1:].mean(0) - p) / np.sqrt(p * (1 - p) / N)
    assert np.all(np.abs(z) < 5), z


# ---------------------------------------------------------------------------- exact quantities
def test_rbm_free_energy_conditionals_and_log_partition_against_brute_force():
    rbm = rbm_6x4(seed=30)
    V, H = all_bits(6), all_bits(4)
    E = np.array([rbm.energy(np.tile(v, (16, 1)), H) for v in V])      # (64, 16)
    np.testing.assert_allclose(rbm.free_energy(V), -np.log(np.exp(-E).sum(1)), rtol=1e-12)
    post = np.exp(-E) / np.exp(-E).sum(1, keepdims=True)
    np.testing.assert_allclose(rbm.mean_h(V), post @ H, rtol=1e-10)
    log_z = np.log(np.exp(-E).sum())
    for layer in (None, "visible", "hidden"):
        assert rbm.exact_log_partition(layer=layer) == pytest.approx(log_z, abs=1e-11)
    assert pgm.exact.log_partition(rbm) == pytest.approx(log_z, abs=1e-11)
    ll = pgm.exact.log_likelihood(rbm, V)
    assert np.exp(ll).sum() == pytest.approx(1.0, abs=1e-12)
    assert np.exp(pgm.exact.log_likelihood(rbm, V[5])) == pytest.approx(np.exp(-E[5]).sum() / np.exp(log_z))


def test_log_partition_of_a_20_hidden_rbm_three_independent_ways():
    """Enumerating the 12 visibles, the 2**20 hidden states, and variable elimination agree."""
    rng = np.random.default_rng(31)
    rbm = pgm.RBM(12, 20, W=rng.normal(0, 0.5, (12, 20)), b=rng.normal(0, 1, 12), c=rng.normal(0, 1, 20))
    a = pgm.exact.log_partition(rbm)                    # smaller layer: visible
    b = rbm.exact_log_partition(layer="hidden")         # 2**20 hidden states
    c = pgm.exact.log_partition(rbm.to_markov_network())  # variable elimination
    assert a == pytest.approx(b, abs=1e-9) and a == pytest.approx(c, abs=1e-9)


def test_enumeration_limit_raises_too_large():
    with pytest.raises(TooLargeError, match="2\\*\\*30"):
        pgm.exact.log_partition(pgm.RBM(30, 30, seed=0))
    with pytest.raises(TooLargeError):
        pgm.DBM([40, 30, 40], seed=0).free_energy(np.zeros(40))
    with pytest.raises(TooLargeError):
        pgm.GaussianBernoulliRBM(5, 26, seed=0).exact_log_partition()
    with pytest.raises(ModelError, match="evidence"):
        pgm.exact.log_partition(pgm.RBM(3, 2), evidence={0: 1})


def test_gbrbm_log_partition_and_free_energy_by_numerical_integration():
    rng = np.random.default_rng(32)
    m = pgm.GaussianBernoulliRBM(2, 3, W=rng.normal(0, 1, (2, 3)), b=[0.3, -0.2], c=rng.normal(0, 1, 3),
                                 sigma=[0.7, 1.3])
    z, _ = integrate.dblquad(lambda y, x: np.exp(-m.free_energy([x, y])), -15, 15, -15, 15,
                             epsabs=0, epsrel=1e-10)
    assert pgm.exact.log_partition(m) == pytest.approx(np.log(z), abs=1e-7)
    H = all_bits(3)
    v = np.array([0.4, -1.1])
    e = m.energy(np.tile(v, (8, 1)), H)
    assert m.free_energy(v) == pytest.approx(-np.log(np.exp(-e).sum()), abs=1e-12)
    np.testing.assert_allclose(m.mean_h(v), np.exp(-e) @ H / np.exp(-e).sum(), rtol=1e-10)


def test_ssrbm_free_energy_and_log_partition_by_numerical_integration():
    rng = np.random.default_rng(33)
    m = pgm.SpikeSlabRBM(2, 2, W=rng.normal(0, 0.5, (2, 2)), b=[0.2, -0.3], c=[0.5, -0.5], mu=[1.0, -0.5],
                         alpha=[2.0, 1.5], lam=[1.5, 2.0])
    v = np.array([0.7, -0.4])
    total = 0.0
    for h in all_bits(2):  # slabs integrated numerically, one at a time (the energy is separable in s)
        val = np.exp(-m.energy(v, h, [0.0, 0.0]))
        for j in range(2):
            def ratio(sj, j=j):
                s = np.zeros(2)
                s[j] = sj
                return np.exp(-m.energy(v, h, s) + m.energy(v, h, [0.0, 0.0]))
            val *= integrate.quad(ratio, -30, 30, epsabs=0, epsrel=1e-12)[0]
        total += val
    assert m.free_energy(v) == pytest.approx(-np.log(total), abs=1e-9)
    z, _ = integrate.dblquad(lambda y, x: np.exp(-m.free_energy([x, y])), -12, 12, -12, 12,
                             epsabs=0, epsrel=1e-10)
    assert pgm.exact.log_partition(m) == pytest.approx(np.log(z), abs=1e-7)
    assert pgm.exact.log_likelihood(m, v) == pytest.approx(-m.free_energy(v) - np.log(z), abs=1e-7)


@pytest.mark.parametrize("sizes", [[4, 3, 2], [2, 3, 4, 2], [3, 2]])
def test_dbm_exact_quantities_against_brute_force(sizes):
    rng = np.random.default_rng(34)
    dbm = pgm.DBM(sizes, weights=[rng.normal(0, 1, (a, b)) for a, b in zip(sizes, sizes[1:])],
                  biases=[rng.normal(0, 1, n) for n in sizes])
    states, p, log_z = joint_table(dbm)
    assert pgm.exact.log_partition(dbm) == pytest.approx(log_z, abs=1e-10)
    assert pgm.exact.log_partition(dbm.to_markov_network()) == pytest.approx(log_z, abs=1e-10)
    V = all_bits(sizes[0])
    ll = pgm.exact.log_likelihood(dbm, V)
    pv = np.array([p[np.all(states[:, :sizes[0]] == v, axis=1)].sum() for v in V])
    np.testing.assert_allclose(np.exp(ll), pv, rtol=1e-9)
    np.testing.assert_allclose(-dbm.free_energy(V), np.log(pv) + log_z, rtol=1e-10)
    # conditional of layer 1 against brute force
    layers = split(states, sizes)
    sel = np.all(states[:, :sizes[0]] == V[1], axis=1)
    if len(sizes) == 3:
        sel &= np.all(layers[2] == 1, axis=1)
        want = (p[sel] @ layers[1][sel]) / p[sel].sum()
        got = dbm.conditional_mean(1, [V[1], None, np.ones(sizes[2])])
        np.testing.assert_allclose(got, want, rtol=1e-10)


def test_dbn_exact_quantities_against_brute_force():
    dbn = dbn_433(seed=35)
    states, p, log_z = joint_table(dbn)
    V = all_bits(4)
    pv = np.array([p[np.all(states[:, :4] == v, axis=1)].sum() for v in V])
    np.testing.assert_allclose(np.exp(pgm.exact.log_likelihood(dbn, V)), pv, rtol=1e-9)
    assert np.exp(pgm.exact.log_likelihood(dbn, V)).sum() == pytest.approx(1.0, abs=1e-12)
    # directed conditional p(v|h1) is normalised: Σ_v exp(log p(v|h1)) = 1
    h1 = np.array([1.0, 0.0, 1.0])
    pvh = np.prod(np.where(V == 1, dbn.mean_v(h1), 1 - dbn.mean_v(h1)), axis=1)
    assert pvh.sum() == pytest.approx(1.0, abs=1e-12)


# ---------------------------------------------------------------------------- gradients
def _fd(model, f, name, eps=1e-5):
    p0 = model.params[name].copy()
    g = np.zeros_like(p0)
    for idx in np.ndindex(p0.shape):
        vals = []
        for sgn in (1, -1):
            q = p0.copy()
            q[idx] += sgn * eps
            model.set_params(**{name: q})
            vals.append(float(np.mean(f(model))))
        g[idx] = (vals[0] - vals[1]) / (2 * eps)
    model.set_params(**{name: p0})
    return g


def _grad_cases():
    rng = np.random.default_rng(40)
    cases = []
    m = rbm_6x4(seed=41)
    v, h = (rng.random((5, 6)) < 0.5) * 1.0, (rng.random((5, 4)) < 0.5) * 1.0
    cases.append(("RBM", m, (v, h)))
    m = gbrbm_3x3(learn_sigma=True)
    cases.append(("GB-RBM", m, (rng.normal(0, 1, (5, 3)), (rng.random((5, 3)) < 0.5) * 1.0)))
    m = ssrbm_3x3()
    cases.append(("ssRBM", m, (rng.normal(0, 1, (5, 3)), (rng.random((5, 3)) < 0.5) * 1.0,
                               rng.normal(0, 1, (5, 3)))))
    for name, m in (("DBM", dbm_432()), ("DBM-4", pgm.DBM([3, 2, 3, 2], seed=42)), ("DBN", dbn_433()),
                    ("DBN-4", pgm.DBN([3, 2, 3, 2], seed=43))):
        for k, w in m.params.items():  # make the parameters O(1)
            m.set_params(**{k: rng.normal(0, 1, w.shape)})
        cases.append((name, m, tuple((rng.random((5, n)) < 0.5) * 1.0 for n in m.layer_sizes)))
    return cases


@pytest.mark.parametrize("name,model,x", _grad_cases(), ids=lambda c: c if isinstance(c, str) else "")
def test_gradients_match_central_finite_differences(name, model, x):
    g_e = model.grad_energy(*x)
    g_f = model.grad_free_energy(x[0])
    assert set(g_e) == set(model.params) == set(g_f)
    for k in model.params:
        for got, f in ((g_e[k], lambda m: m.energy(*x)), (g_f[k], lambda m: m.free_energy(x[0]))):
            want = _fd(model, f, k)
            err = np.linalg.norm(got - want) / max(np.linalg.norm(want), 1e-8)
            assert err <= 1e-5, f"{name} d/d{k}: relative error {err:.2e}"


def test_gbrbm_fixed_sigma_is_not_a_parameter():
    m = gbrbm_3x3(learn_sigma=False)
    assert sorted(m.params) == ["W", "b", "c"]
    assert "log_sigma" not in m.grad_free_energy(np.zeros(3))
    np.testing.assert_allclose(m.sigma, [0.5, 1.0, 1.5])


# ---------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("make,err", [
    (lambda: pgm.RBM(3, 2, W=np.ones((2, 3))), CardinalityError),
    (lambda: pgm.RBM(3, 2, b=[1.0, 2.0]), CardinalityError),
    (lambda: pgm.RBM(3, 2, W=[[np.nan, 0], [0, 0], [0, 0]]), ModelError),
    (lambda: pgm.RBM(3, 2, c=[np.inf, 0]), ModelError),
    (lambda: pgm.RBM(0, 2), ValueError),
    (lambda: pgm.RBM(3, 2, dtype=np.int32), TypeError),
    (lambda: pgm.RBM(3, 2).free_energy([0, 0.5, 1]), EvidenceError),
    (lambda: pgm.RBM(3, 2).free_energy([0, 2, 1]), EvidenceError),
    (lambda: pgm.RBM(3, 2).free_energy([[0, 1]]), CardinalityError),
    (lambda: pgm.RBM(3, 2).energy([0, 1, 1], [1, 0, 1]), CardinalityError),
    (lambda: pgm.RBM(3, 2).energy(np.zeros((2, 3)), np.zeros((3, 2))), CardinalityError),
    (lambda: pgm.RBM(3, 2).mean_h([0, np.nan, 1]), EvidenceError),
    (lambda: pgm.GaussianBernoulliRBM(3, 2, sigma=0.0), ModelError),
    (lambda: pgm.GaussianBernoulliRBM(3, 2, sigma=[1.0, -1.0, 1.0]), ModelError),
    (lambda: pgm.GaussianBernoulliRBM(3, 2, sigma=[1.0, np.nan, 1.0]), ModelError),
    (lambda: pgm.GaussianBernoulliRBM(3, 2).mean_h([0.5, np.inf, 0.0]), EvidenceError),
    (lambda: pgm.GaussianBernoulliRBM(3, 2).energy([0.5, 1.0, 0.0], [0.5, 1]), EvidenceError),
    (lambda: pgm.SpikeSlabRBM(2, 2, alpha=0.0), ModelError),
    (lambda: pgm.SpikeSlabRBM(2, 2, lam=[1.0, -2.0]), ModelError),
    (lambda: pgm.SpikeSlabRBM(2, 1, W=[[2.0], [0.0]], alpha=1.0, lam=1.0), ModelError),
    (lambda: pgm.DBM([4]), ValueError),
    (lambda: pgm.DBM([4, 3], weights=[np.ones((3, 4))]), CardinalityError),
    (lambda: pgm.DBM([4, 3, 2], weights=[np.ones((4, 3))]), CardinalityError),
    (lambda: pgm.DBN([4, 3, 2], biases=[np.zeros(4), np.zeros(3), [np.nan, 0]]), ModelError),
    (lambda: pgm.DBM([4, 3, 2]).energy(np.zeros(4), np.zeros(3)), CardinalityError),
    (lambda: pgm.RBM(3, 2).set_params(Q=1), KeyError),
    (lambda: pgm.RBM(3, 2).set_params(W=np.full((3, 2), np.inf)), ModelError),
])
def test_bad_input_raises_typed_errors(make, err):
    with pytest.raises(err):
        make()


def test_error_messages_name_the_value():
    with pytest.raises(EvidenceError, match="0.5"):
        pgm.RBM(3, 2).free_energy([0, 0.5, 1])
    with pytest.raises(ModelError, match="sigma must be > 0, found -1"):
        pgm.GaussianBernoulliRBM(2, 2, sigma=[1, -1])
    with pytest.raises(CardinalityError, match=r"W must have shape \(3, 2\), got \(2, 3\)"):
        pgm.RBM(3, 2, W=np.ones((2, 3)))
    with pytest.raises(ModelError, match="not normalisable"):
        pgm.SpikeSlabRBM(2, 1, W=[[2.0], [0.0]])


@pytest.mark.parametrize("kw,err", [
    (dict(evidence={0: 2}), EvidenceError),
    (dict(evidence={0: 0.5}), EvidenceError),
    (dict(evidence={9: 1}), UnknownVariableError),
    (dict(evidence=[1, 0]), TypeError),
    (dict(init=np.full((4, 6), 0.5)), EvidenceError),
    (dict(init=np.zeros((4, 5))), ModelError),
    (dict(init=np.zeros(6), evidence={0: 1}), EvidenceError),
    (dict(method="metropolis"), ValueError),
    (dict(scan="random"), ValueError),
    (dict(blocks=[[0, 1]]), ValueError),
    (dict(tempering=[0.5, 1.0]), ValueError),
    (dict(chains=0), ValueError),
])
def test_sampler_bad_input(kw, err):
    with pytest.raises(err):
        samplers.sample(pgm.RBM(6, 4, seed=0), draws=2, seed=0, progress=False, **{"chains": 4, **kw})


def test_sampler_rejects_non_finite_parameters_and_bad_gaussian_evidence():
    rbm = pgm.RBM(3, 2, seed=0)
    rbm.W[0, 0] = np.nan  # params are the model's own arrays: corrupt in place
    with pytest.raises(ModelError, match="W"):
        samplers.sample(rbm, draws=2, progress=False)
    with pytest.raises(EvidenceError):
        samplers.sample(pgm.GaussianBernoulliRBM(3, 2), draws=2, evidence={0: np.nan}, progress=False)


# ---------------------------------------------------------------------------- API, reproducibility
def _families():
    return [rbm_6x4(np.float32), gbrbm_3x3(), ssrbm_3x3(), dbm_432(), dbn_433()]


@pytest.mark.parametrize("model", _families(), ids=lambda m: type(m).__name__)
def test_samples_api_and_lp_is_minus_energy_of_the_full_state(model):
    s = samplers.sample(model, chains=3, draws=7, seed=5, include_hidden=True, progress=False,
                        observables={"first": lambda x: x[:, :, 0].astype(float)})
    assert s.states.shape == (3, 7, model.n_units)
    assert s.final_state.x.shape == (3, model.n_units) and s.final_state.x.dtype == np.float64
    assert s.final_state.rng_state.shape == (3, 4)
    x = s.states.reshape(-1, model.n_units).astype(np.float64)
    e = np.asarray(model.energy(*split(x, model.layer_sizes)), dtype=np.float64)
    tol = 1e-4 if model.dtype == np.float32 else 1e-10
    np.testing.assert_allclose(s.observables["energy"].ravel(), e, rtol=tol, atol=tol)
    np.testing.assert_array_equal(s.sample_stats["lp"], -s.observables["energy"])
    np.testing.assert_array_equal(s.observables["first"], s.states[:, :, 0])
    v_only = samplers.sample(model, chains=3, draws=7, seed=5, progress=False)
    np.testing.assert_array_equal(v_only.states, s.states[:, :, :model.n_visible])
    assert v_only.variables == list(range(model.n_visible))
    assert s.variables[model.n_visible] == "h[0]" or s.variables[model.n_visible] == "h1[0]"
    idata = s.to_arviz()
    assert set(idata.posterior.data_vars) >= {"x", "energy"}


@pytest.mark.parametrize("model", _families(), ids=lambda m: type(m).__name__)
def test_continuation_is_bit_identical_to_one_longer_run(model):
    kw = dict(chains=3, seed=7, include_hidden=True, progress=False)
    ev = {0: 1} if isinstance(model, pgm.DBN) else None
    whole = samplers.sample(model, draws=10, warmup=3, evidence=ev, **kw)
    first = samplers.sample(model, draws=4, warmup=3, evidence=ev, **kw)
    rest = samplers.sample(model, draws=6, warmup=0, init=first.final_state, evidence=ev, progress=False,
                           include_hidden=True)
    np.testing.assert_array_equal(np.concatenate([first.states, rest.states], axis=1), whole.states)
    np.testing.assert_array_equal(np.concatenate([first.sample_stats["lp"], rest.sample_stats["lp"]], 1),
                                  whole.sample_stats["lp"])
    np.testing.assert_array_equal(rest.final_state.x, whole.final_state.x)
    np.testing.assert_array_equal(rest.final_state.rng_state, whole.final_state.rng_state)


def test_results_do_not_depend_on_threads_chain_count_or_the_gibbs_alias():
    import numba

    rbm = rbm_6x4(seed=50)
    x0 = (np.random.default_rng(0).random((6, 10)) < 0.5).astype(float)
    kw = dict(draws=20, seed=3, include_hidden=True, progress=False)
    runs = []
    for n in sorted({1, numba.config.NUMBA_NUM_THREADS}):
        with samplers.threads(n):
            runs.append(samplers.sample(rbm, chains=6, init=x0, **kw).states)
    np.testing.assert_array_equal(runs[0], runs[-1])
    few = samplers.sample(rbm, chains=4, init=x0[:4], **kw).states
    np.testing.assert_array_equal(few, runs[0][:4])
    alias = samplers.sample(rbm, chains=6, init=x0, method="gibbs", **kw).states
    np.testing.assert_array_equal(alias, runs[0])
    other = samplers.sample(rbm, chains=6, init=x0, **{**kw, "seed": 4}).states
    assert not np.array_equal(other, runs[0])


def test_clamped_units_thinning_and_dtypes():
    m = gbrbm_3x3()
    s = samplers.sample(m, chains=2, draws=5, thin=3, seed=0, evidence={1: 0.25}, progress=False)
    assert s.states.dtype == np.float64 and np.all(s.states[:, :, 1] == 0.25)
    m32 = pgm.GaussianBernoulliRBM(3, 2, seed=0, dtype=np.float32)
    s32 = samplers.sample(m32, chains=2, draws=5, seed=0, progress=False)
    assert s32.states.dtype == np.float32 and m32.W.dtype == np.float32
    assert m32.free_energy(np.zeros(3)).dtype == np.float32
    assert s32.info["dtype"] == "float32"
    s = samplers.sample(pgm.RBM(4, 3, seed=0), chains=2, draws=3, seed=0, keep_states=False, progress=False)
    assert s.states is None and s.observables["energy"].shape == (2, 3)
    cs = ChainState(np.zeros((2, 7)), np.ones((2, 4), dtype=np.uint64))
    s = samplers.sample(pgm.RBM(4, 3, seed=0), draws=2, warmup=0, init=cs, progress=False)
    assert s.chains == 2


def _float32_families():
    rng = np.random.default_rng(60)
    return [
        (pgm.GaussianBernoulliRBM(3, 2, W=rng.normal(0, 1, (3, 2)), sigma=[0.5, 1, 2], dtype=np.float32), {1: 0.5}),
        (pgm.SpikeSlabRBM(3, 2, W=rng.normal(0, 0.5, (3, 2)), mu=[1, -1], lam=2.0, dtype=np.float32), {0: -0.3}),
        (pgm.DBM([4, 3, 2], weights=[rng.normal(0, 1, (4, 3)), rng.normal(0, 1, (3, 2))], dtype=np.float32),
         {2: 1}),
        (pgm.DBN([4, 3, 3], weights=[rng.normal(0, 1, (4, 3)), rng.normal(0, 1, (3, 3))], dtype=np.float32),
         {0: 1, 3: 0}),
    ]


@pytest.mark.parametrize("model,ev", _float32_families(), ids=lambda m: getattr(m, "__name__", type(m).__name__))
def test_float32_models_sample_in_float32_with_consistent_energies(model, ev):
    assert all(p.dtype == np.float32 for p in model.params.values())
    s = samplers.sample(model, chains=4, draws=6, seed=2, evidence=ev, include_hidden=True, progress=False)
    for i, x in ev.items():
        assert np.all(s.states[:, :, i] == np.float32(x))
    x = s.states.reshape(-1, model.n_units).astype(np.float64)
    e = np.asarray(model.energy(*split(x, model.layer_sizes)), dtype=np.float64)
    np.testing.assert_allclose(s.observables["energy"].ravel(), e, rtol=1e-4, atol=1e-4)
    rest = samplers.sample(model, draws=2, warmup=0, init=s.final_state, evidence=ev, progress=False)
    assert rest.states.shape == (4, 2, model.n_visible)


def test_benchmark_smoke(capsys):
    """benchmarks/boltzmann.py runs on tiny sizes and prints JSON lines (no timing asserts)."""
    import importlib.util
    import json
    import os

    path = os.path.join(os.path.dirname(os.path.dirname(__file__)), "benchmarks", "boltzmann.py")
    spec = importlib.util.spec_from_file_location("_boltzmann_bench", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.main(["--quick", "--repeats", "3"])
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.strip()]
    cases = [r for r in lines if "fraction_of_gemm_bound" in r]
    assert {(r["dtype"], r["chains"]) for r in cases} == {(d, c) for d in ("float32", "float64") for c in (100, 1000)}
    assert all(r["sample_chain_steps_per_s"] > 0 and r["gemm_gflops"] > 0 for r in cases)
    assert lines[-1]["event"] == "targets"


def test_kernels_draw_the_chains_own_xoshiro_streams_in_unit_order():
    """The vectorised kernel consumes exactly ``samplers._rng.draw_doubles`` of each chain,
    unit after unit: same decisions and same final RNG states (deterministic)."""
    from samplers._layered_kernels import bernoulli_block
    from samplers._rng import draw_doubles, make_rng_state

    chains, n = 13, 37
    st = make_rng_state(123, chains)
    u = draw_doubles(st.copy(), n)                       # (chains, n), chain by chain
    t = np.exp(np.random.default_rng(0).normal(0, 2, (n, chains)))
    S = np.ascontiguousarray(st.T)
    out = np.empty((n, chains))
    bernoulli_block(t, S, out)
    np.testing.assert_array_equal(out.T, (u * t.T < 1 - u).astype(float))
    after = st.copy()
    draw_doubles(after, n)
    np.testing.assert_array_equal(S.T, after)
