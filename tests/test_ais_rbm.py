"""AIS on binary RBMs (Salakhutdinov–Murray base-rate scheme) against exact log Z."""

import math

import numpy as np
import pytest

import pgm
import samplers


def random_rbm(n_v, n_h, seed, scale=0.5):
    rng = np.random.default_rng(seed)
    return pgm.RBM(n_v, n_h, W=rng.normal(0, scale, (n_v, n_h)), b=rng.normal(0, scale, n_v),
                   c=rng.normal(0, scale, n_h))


def test_ais_on_random_20_hidden_rbm_within_0p1_nats():
    rbm = random_rbm(16, 20, seed=1)
    exact = pgm.exact.log_partition(rbm)
    data = (np.random.default_rng(2).random((300, 16)) < 0.4).astype(float)
    r = samplers.ais(rbm, betas=samplers.linear_betas(5000), runs=100,
                     base=samplers.base_rate(data), seed=3)
    assert abs(r.log_z - exact) <= 0.1, (r.log_z - exact, r)
    assert abs(r.log_z - exact) <= 4 * r.log_z_std + 0.01


def test_ais_rbm_z_hat_is_unbiased_and_std_is_honest():
    rbm = random_rbm(12, 20, seed=4, scale=0.8)
    exact = pgm.exact.log_partition(rbm)
    est, stds = [], []
    for rep in range(30):
        r = samplers.ais(rbm, betas=samplers.linear_betas(300), runs=20, seed=100 + rep)
        est.append(r.log_z)
        stds.append(r.log_z_std)
    ratios = np.exp(np.array(est) - exact)
    assert abs(ratios.mean() - 1) < 4 * ratios.std(ddof=1) / math.sqrt(ratios.size)
    spread = np.std(est, ddof=1)
    assert 1 / 1.5 < np.mean(stds) / spread < 1.5, (np.mean(stds), spread)


def test_base_rate_and_schedule():
    b = samplers.base_rate(np.array([[1, 0, 1], [1, 0, 0]]), smoothing=0.5)
    np.testing.assert_allclose(1 / (1 + np.exp(-b)), [2.5 / 3, 0.5 / 3, 1.5 / 3])
    s = samplers.salakhutdinov_murray_betas()
    assert s.size == 14500 and s[0] == 0 and s[-1] == 1 and np.all(np.diff(s) > 0)
    with pytest.raises(ValueError):
        samplers.base_rate([[0.5, 1.0]])
    with pytest.raises(ValueError):
        samplers.ais(random_rbm(3, 2, 0), base=np.zeros(4))


@pytest.mark.parametrize("sizes", [(8, 6, 4), (6, 5, 4, 3)])
def test_ais_on_dbm_matches_exact(sizes):
    rng = np.random.default_rng(7)
    dbm = pgm.DBM(list(sizes), weights=[rng.normal(0, 0.7, (a, b)) for a, b in zip(sizes[:-1], sizes[1:])],
                  biases=[rng.normal(0, 0.5, n) for n in sizes])
    exact = pgm.exact.log_partition(dbm)
    data = (rng.random((200, sizes[0])) < 0.5).astype(float)
    for base in ("uniform", samplers.base_rate(data)):
        r = samplers.ais(dbm, betas=samplers.linear_betas(3000), runs=100, base=base, seed=1)
        assert abs(r.log_z - exact) < 4 * r.log_z_std + 0.01, (r.log_z - exact, r.log_z_std)


def test_float32_rbm_ais_matches_exact_log_z_and_float64_run():
    """A float32 RBM (float32 products and exp, float64 log-weights) against the exact log Z of
    its parameters, and against the float64 run with the same seed (same uniforms)."""
    rbm64 = random_rbm(16, 20, seed=5)
    rbm32 = pgm.RBM(16, 20, W=rbm64.W, b=rbm64.b, c=rbm64.c, dtype=np.float32)
    exact = pgm.exact.log_partition(pgm.RBM(16, 20, W=rbm32.W.astype(float), b=rbm32.b.astype(float),
                                            c=rbm32.c.astype(float)))
    base = samplers.base_rate((np.random.default_rng(6).random((300, 16)) < 0.4).astype(float))
    r32 = samplers.ais(rbm32, betas=samplers.linear_betas(3000), runs=100, base=base, seed=7)
    r64 = samplers.ais(rbm64, betas=samplers.linear_betas(3000), runs=100, base=base, seed=7)
    assert abs(r32.log_z - exact) <= 4 * r32.log_z_std + 0.01, (r32.log_z - exact, r32)
    assert abs(r32.log_z - r64.log_z) < 0.02, (r32.log_z, r64.log_z)


def test_coarse_schedules_take_the_exact_large_step_path():
    """Few β with large activations: |Δβ·a| ≥ 0.1 terms go through the softplus pass; the
    estimate still matches exact log Z (a 2-β schedule is plain importance sampling)."""
    rbm = random_rbm(10, 12, seed=8, scale=1.5)
    exact = pgm.exact.log_partition(rbm)
    r = samplers.ais(rbm, betas=samplers.linear_betas(40), runs=4000, seed=9)
    assert abs(r.log_z - exact) <= 4 * r.log_z_std + 0.02, (r.log_z - exact, r)
