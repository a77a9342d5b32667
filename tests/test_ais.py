"""AIS against exact partition functions: enumeration on small models, Kaufman's finite-size
formula for the 2-D Ising torus (checked against brute force for L ≤ 4), unbiasedness of Ẑ,
honesty of the reported standard error, and bad schedules."""

import math

import numpy as np
import pytest

import pgm
import samplers

from .conftest import slow


def kaufman_log_z(L, K):
    """ln Z of the L×L periodic Ising model, J = 1, h = 0, coupling K = βJ (Kaufman 1949)."""
    def gamma(l):
        if l == 0:
            return 2 * K + math.log(math.tanh(K))
        c = math.cosh(2 * K) / math.tanh(2 * K) - math.cos(math.pi * l / L)
        return math.acosh(c)

    odd = [gamma(2 * r + 1) for r in range(L)]
    even = [gamma(2 * r) for r in range(L)]

    def log_prod(values, f):
        return sum(f(L * g / 2) for g in values)

    log_cosh = lambda x: abs(x) + math.log1p(math.exp(-2 * abs(x))) - math.log(2)
    def log_2sinh_signed(x):  # log|2 sinh x| and its sign
        return abs(x) + math.log1p(-math.exp(-2 * abs(x))), (1 if x > 0 else -1)

    terms = [log_prod(odd, lambda x: math.log(2) + log_cosh(x))]
    l2, sgn = 0.0, 1
    for g in odd:
        v, s = log_2sinh_signed(L * g / 2)
        l2 += v
        sgn *= s
    terms.append((l2, sgn))
    terms.insert(1, None)
    z1 = (terms[0], 1)
    z2 = terms[2]
    z3 = (log_prod(even, lambda x: math.log(2) + log_cosh(x)), 1)
    l4, s4 = 0.0, 1
    for g in even:
        v, s = log_2sinh_signed(L * g / 2)
        l4 += v
        s4 *= s
    z4 = (l4, s4)
    parts = [z1, z2, z3, z4]
    m = max(p[0] for p in parts)
    total = sum(p[1] * math.exp(p[0] - m) for p in parts)
    return math.log(0.5) + (L * L / 2) * math.log(2 * math.sinh(2 * K)) + m + math.log(total)


@pytest.mark.parametrize("L", [3, 4])
@pytest.mark.parametrize("K", [0.2, 0.4407, 0.7])
def test_kaufman_formula_matches_brute_force(L, K):
    m = pgm.Ising.grid(L, L, coupling=1.0, beta=K)
    assert kaufman_log_z(L, K) == pytest.approx(pgm.exact.log_partition(m, method="enumerate"), abs=1e-10)


@pytest.mark.parametrize("K", [slow(0.4), 0.4407, slow(0.5)])
def test_ais_on_16x16_ising_matches_kaufman(K):
    """Budget: 256 runs × 40 000 linearly spaced β's × 1 checkerboard sweep (L = 16, 256 spins,
    2.6e9 spin updates, ≈ 8 s); reported standard errors ≈ 0.011–0.015 nats."""
    m = pgm.Ising.grid(16, 16, coupling=1.0, beta=K)
    r = samplers.ais(m, betas=samplers.linear_betas(40000), runs=256, transition="block_gibbs",
                     seed=17)
    exact = kaufman_log_z(16, K)
    err = r.log_z - exact
    assert abs(err) <= 0.05, (err, r)
    assert abs(err) <= 3 * r.log_z_std + 1e-3, (err, r.log_z_std)


@pytest.mark.parametrize("method", ["gibbs", "metropolis"])
def test_ais_factor_models_and_unbiasedness(method):
    rng = np.random.default_rng(2)
    cards = {"a": 2, "b": 3, "c": 4, "d": 2, "e": 3}
    scopes = [("a", "b", "c"), ("c", "d"), ("d", "e", "a"), ("b",)]
    m = pgm.MarkovNetwork([pgm.DiscreteFactor(s, rng.gamma(0.8, size=[cards[v] for v in s]) + 0.05)
                           for s in scopes])
    exact = pgm.exact.log_partition(m)
    # mean of Ẑ/Z over independent repeats is 1 within its standard error
    ratios, stds, estimates = [], [], []
    for rep in range(30):
        r = samplers.ais(m, betas=60, runs=40, transition=method, seed=1000 + rep)
        ratios.append(np.exp(r.log_z - exact))
        stds.append(r.log_z_std)
        estimates.append(r.log_z)
    ratios = np.array(ratios)
    assert abs(ratios.mean() - 1) < 4 * ratios.std(ddof=1) / math.sqrt(len(ratios))
    # the reported standard error matches the spread across repeats within a factor 1.5
    spread = np.std(estimates, ddof=1)
    assert 1 / 1.5 < np.mean(stds) / spread < 1.5, (np.mean(stds), spread)


def test_ais_boltzmann_machine_and_evidence():
    rng = np.random.default_rng(4)
    W = np.triu(rng.normal(0, 0.5, (10, 10)), 1)
    bm = pgm.BoltzmannMachine(W + W.T, rng.normal(0, 0.5, 10))
    r = samplers.ais(bm, betas=500, runs=100, seed=3)
    exact = pgm.exact.log_partition(bm)
    assert abs(r.log_z - exact) < max(4 * r.log_z_std, 0.02)
    ev = {0: 1, 3: 0}
    r = samplers.ais(bm, betas=500, runs=100, seed=3, evidence=ev)
    exact = pgm.exact.log_partition(bm, evidence={0: 1, 3: 0})
    assert abs(r.log_z - exact) < max(4 * r.log_z_std, 0.02)


def test_bad_schedules_and_input():
    m = pgm.Ising.grid(3, 3)
    for bad in ([0.0], [0.1, 1.0], [0.0, 0.5], [0.0, 0.7, 0.5, 1.0], [0.0, np.nan, 1.0]):
        with pytest.raises(ValueError):
            samplers.ais(m, betas=bad)
    with pytest.raises(ValueError):
        samplers.ais(m, runs=0)
    with pytest.raises(ValueError):
        samplers.ais(m, betas=1)
    with pytest.raises(ValueError):
        samplers.ais(m, base="gaussian")
    with pytest.raises(ValueError):
        samplers.ais(m, transition="hmc")


def test_no_overflow_for_strong_couplings():
    m = pgm.Ising.grid(4, 4, coupling=1.0, beta=50.0)
    r = samplers.ais(m, betas=200, runs=20, seed=0)
    assert np.isfinite(r.log_z) and np.isfinite(r.log_z_std)
    assert abs(r.log_z - pgm.exact.log_partition(m)) < 1.0


@pytest.mark.parametrize("name", ["Grids_11", "DBN_11", "Segmentation_11"])
def test_ais_on_uai2014_within_half_a_nat(uai_dir, name):
    """Budget: 128 runs × 20 000 linear β's × 1 Gibbs sweep (spin kernel); measured errors at
    256 runs: Grids_11 +0.006/+0.061, DBN_11 −0.013/−0.025, Segmentation_11 −0.016/−0.039."""
    import json

    ref = json.load(open(uai_dir / "reference.json"))[name]["lnZ"]
    f = str(uai_dir / f"{name}.uai")
    m = pgm.read_uai(f, evidence=f + ".evid")
    r = samplers.ais(m, betas=samplers.linear_betas(20000), runs=128, seed=5)
    assert abs(r.log_z - ref) <= 0.5, (r.log_z - ref, r)
    assert abs(r.log_z - ref) <= 4 * r.log_z_std + 0.05
