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
