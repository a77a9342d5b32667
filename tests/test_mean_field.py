"""Mean-field inference (SPEC.md §4) for DBMs, RBMs and Boltzmann machines with hidden units.

Deterministic tests (no sampling, so no false alarms): the returned point satisfies the
fixed-point equations (re-implemented here from SPEC §4) to 1e-8; the ELBO equals a brute-force
``E_q[log p̃(v,h)] + H(q)`` over enumerated ``h``; it never exceeds the exact log-likelihood
(enumeration / variable elimination); it never decreases over sequential iterations; on an RBM
(factorised posterior) it equals the log-likelihood.
"""

import itertools

import numpy as np
import pytest

import pgm
from pgm.errors import CardinalityError, EvidenceError, ModelError


def all_bits(n):
    return np.array(list(itertools.product([0, 1], repeat=n)), dtype=np.float64).reshape(-1, n)


def sig(x):
    return 1 / (1 + np.exp(-x))


def random_dbm(sizes, scale=1.0, seed=0):
    rng = np.random.default_rng(seed)
    return pgm.DBM(sizes, weights=[rng.normal(0, scale, (a, b)) for a, b in zip(sizes, sizes[1:])],
                   biases=[rng.normal(0, 0.5, n) for n in sizes])


def random_bm(n=6, n_hidden=3, scale=0.7, seed=0):
    rng = np.random.default_rng(seed)
    W = np.triu(rng.normal(0, scale, (n, n)), 1)
    return pgm.BoltzmannMachine(W + W.T, rng.normal(0, 0.5, n), hidden=n_hidden)


def bm_exact_log_likelihood(bm, V):
    log_z = pgm.exact.log_partition(bm)
    return np.array([pgm.exact.log_partition(bm, evidence={int(i): int(x) for i, x in zip(bm.visible, v)})
                     for v in V]) - log_z


DBMS = [([4, 3, 2], 1.0), ([5, 4, 3, 2], 1.0), ([3, 4], 1.5), ([4, 2, 3, 2, 2], 0.8)]


@pytest.mark.parametrize("sizes,scale", DBMS)
def test_dbm_fixed_point_elbo_bound_and_monotonicity(sizes, scale):
    dbm = random_dbm(sizes, scale, seed=len(sizes))
    V = all_bits(sizes[0])
    log_z = pgm.exact.log_partition(dbm)
    r = pgm.inference.mean_field(dbm, V, iterations=500, tol=1e-12, log_z=log_z)
    assert r.converged and r.residual <= 1e-8
    # fixed-point equations, written out independently
    W, b, mu = dbm.weights, dbm.biases, [V] + r.mu
    L = len(sizes) - 1
    for l in range(1, L + 1):
        pre = b[l] + mu[l - 1] @ W[l - 1] + (mu[l + 1] @ W[l].T if l < L else 0)
        np.testing.assert_allclose(mu[l], sig(pre), atol=1e-8, rtol=0)
    ll = pgm.exact.log_likelihood(dbm, V)
    assert np.all(r.elbo <= ll + 1e-12), np.max(r.elbo - ll)
    assert np.all(np.diff(r.history, axis=0) >= -1e-12)


def test_elbo_equals_brute_force_expectation_plus_entropy():
    dbm = random_dbm([3, 2, 2], seed=5)
    v = np.array([1.0, 0.0, 1.0])
    r = pgm.inference.mean_field(dbm, v, iterations=3)  # any q will do: not converged
    H = all_bits(4)
    q = np.prod(np.where(H == 1, np.concatenate(r.mu), 1 - np.concatenate(r.mu)), axis=1)
    e = dbm.energy(np.tile(v, (16, 1)), H[:, :2], H[:, 2:])
    want = -(q @ e) - np.sum(q * np.log(q))
    assert r.elbo == pytest.approx(want, abs=1e-12)


def test_sequential_elbo_increases_from_a_poor_start_with_and_without_damping():
    dbm = random_dbm([6, 5, 4, 3], scale=1.5, seed=7)
    V = all_bits(6)[::5]
    bad = [np.full((len(V), n), 0.99) for n in (5, 4, 3)]
    for damping in (0.0, 0.5):
        r = pgm.inference.mean_field(dbm, V, iterations=60, init=bad, damping=damping)
        steps = np.diff(r.history, axis=0)
        assert np.all(steps >= -1e-12), steps.min()
        assert np.all(r.history[-1] > r.history[0])


def test_rbm_mean_field_is_the_exact_posterior():
    rng = np.random.default_rng(8)
    rbm = pgm.RBM(5, 3, W=rng.normal(0, 1, (5, 3)), b=rng.normal(0, 1, 5), c=rng.normal(0, 1, 3))
    V = all_bits(5)
    r = pgm.inference.mean_field(rbm, V, log_z=pgm.exact.log_partition(rbm))
    np.testing.assert_allclose(r.mu[0], rbm.mean_h(V), atol=1e-14)
    np.testing.assert_allclose(r.elbo, pgm.exact.log_likelihood(rbm, V), atol=1e-10)
    assert r.iterations <= 2


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_boltzmann_machine_with_hidden_units(seed):
    bm = random_bm(seed=seed)
    V = all_bits(bm.visible.size)
    r = pgm.inference.mean_field(bm, V, iterations=500, tol=1e-13)
    assert r.converged and r.residual <= 1e-8
    x = np.zeros((len(V), bm.n_variables))
    x[:, bm.visible], x[:, bm.hidden] = V, r.mu[0]
    np.testing.assert_allclose(r.mu[0], sig(bm.b[bm.hidden] + 2 * x @ bm.W[bm.hidden].T), atol=1e-8, rtol=0)
    ll = bm_exact_log_likelihood(bm, V)
    elbo = r.elbo - pgm.exact.log_partition(bm)
    assert np.all(elbo <= ll + 1e-12)
    assert np.all(np.diff(r.history, axis=0) >= -1e-12)
    # the ELBO formula against a brute-force expectation over q
    H = all_bits(bm.hidden.size)
    q = np.prod(np.where(H[None] == 1, r.mu[0][:, None], 1 - r.mu[0][:, None]), axis=2)  # (n, K)
    full = np.zeros((len(V), len(H), bm.n_variables))
    full[:, :, bm.visible] = V[:, None]
    full[:, :, bm.hidden] = H[None]
    e = bm.energy(full.reshape(-1, bm.n_variables).astype(int)).reshape(len(V), len(H))
    want = -(q * e).sum(1) - np.sum(np.where(q > 0, q * np.log(np.where(q > 0, q, 1)), 0), axis=1)
    np.testing.assert_allclose(r.elbo, want, atol=1e-9)


def test_parallel_updates_reach_the_same_fixed_point_on_weak_couplings():
    dbm = random_dbm([5, 4, 3], scale=0.3, seed=9)
    V = all_bits(5)
    a = pgm.inference.mean_field(dbm, V, tol=1e-13, iterations=1000)
    b = pgm.inference.mean_field(dbm, V, tol=1e-13, iterations=1000, update="parallel", damping=0.3)
    assert b.converged
    for x, y in zip(a.mu, b.mu):
        np.testing.assert_allclose(x, y, atol=1e-10)


def test_shapes_and_single_row():
    dbm = random_dbm([4, 3, 2], seed=10)
    r = pgm.inference.mean_field(dbm, [1, 0, 0, 1], iterations=7, tol=0.0)
    assert [m.shape for m in r.mu] == [(3,), (2,)] and isinstance(r.elbo, float)
    assert r.history.shape == (8,) and r.iterations == 7 and not r.converged
    r = pgm.inference.mean_field(dbm, np.zeros((5, 4)))
    assert [m.shape for m in r.mu] == [(5, 3), (5, 2)] and r.elbo.shape == (5,)
    assert "MeanFieldResult" in repr(r)


@pytest.mark.parametrize("call,err", [
    (lambda d: pgm.inference.mean_field(d, [1, 0, 0.5, 1]), EvidenceError),
    (lambda d: pgm.inference.mean_field(d, [1, 0, 1]), CardinalityError),
    (lambda d: pgm.inference.mean_field(d, [1, 0, 0, 1], iterations=0), ValueError),
    (lambda d: pgm.inference.mean_field(d, [1, 0, 0, 1], tol=-1.0), ValueError),
    (lambda d: pgm.inference.mean_field(d, [1, 0, 0, 1], damping=1.0), ValueError),
    (lambda d: pgm.inference.mean_field(d, [1, 0, 0, 1], update="random"), ValueError),
    (lambda d: pgm.inference.mean_field(d, [1, 0, 0, 1], log_z=np.nan), ValueError),
    (lambda d: pgm.inference.mean_field(d, [1, 0, 0, 1], init=[np.zeros(3)]), CardinalityError),
    (lambda d: pgm.inference.mean_field(d, [1, 0, 0, 1], init=[np.zeros(3), np.full(2, 2.0)]), ValueError),
    (lambda d: pgm.inference.mean_field(pgm.BoltzmannMachine(np.zeros((3, 3))), [1, 0, 1]), ModelError),
    (lambda d: pgm.inference.mean_field(random_bm(), [1, 0]), CardinalityError),
    (lambda d: pgm.inference.mean_field(random_bm(), [1, 0, 2]), EvidenceError),
    (lambda d: pgm.inference.mean_field(pgm.GaussianBernoulliRBM(2, 2), [0.1, 0.2]), TypeError),
])
def test_bad_input(call, err):
    with pytest.raises(err):
        call(random_dbm([4, 3, 2]))


# ---------------------------------------------------------------------------- any discrete factor model
@pytest.mark.parametrize("seed", range(6))
def test_factor_model_mean_field_bounds_log_z_and_is_monotone(seed):
    """Naive mean field of random discrete Markov networks (mixed cardinalities, 3-way factors,
    with and without evidence): a fixed point to 1e-8, an ELBO that never decreases under
    sequential updates and lies below the exact log Z (log P(e) with evidence)."""
    from .conftest import random_markov_network

    rng = np.random.default_rng(seed)
    mn = random_markov_network(rng, n_vars=7, n_factors=8, max_card=3, max_arity=3)
    evidence = {} if seed % 2 else {mn.variables[0]: 1}
    r = pgm.inference.mean_field(mn, evidence=evidence, iterations=500, tol=1e-12)
    assert r.converged and r.residual < 1e-8
    assert np.all(np.diff(r.history) >= -1e-12)
    assert r.elbo <= pgm.exact.log_partition(mn, evidence=evidence) + 1e-12
    assert set(r.mu) == {v for v in mn.variables if v not in evidence}
    assert all(abs(q.sum() - 1) < 1e-12 and np.all(q >= 0) for q in r.mu.values())
    # the fixed point: every q_i is the normalised exp of its expected log factors
    e = pgm.exact.enumerate(mn, evidence)
    exact_marg = {v: np.bincount(e.states[:, j], weights=e.prob, minlength=mn.cardinalities[v]) / e.prob.sum()
                  for j, v in enumerate(mn.variables) if v not in evidence}
    assert max(float(np.abs(r.mu[v] - exact_marg[v]).max()) for v in r.mu) < 0.5   # a fair approximation


def test_factor_model_mean_field_parallel_damping_and_elbo_gap():
    """Damped parallel updates reach the same kind of fixed point; on a model whose variables are
    independent, mean field is exact (ELBO = log Z, q = marginals)."""
    rng = np.random.default_rng(2)
    indep = pgm.MarkovNetwork([pgm.DiscreteFactor([v], rng.gamma(1.0, size=3)) for v in "abcd"])
    r = pgm.inference.mean_field(indep, update="parallel", damping=0.3, tol=1e-14, iterations=500)
    assert r.converged and abs(r.elbo - pgm.exact.log_partition(indep)) < 1e-10
    ex = pgm.exact.marginals(indep)
    assert max(float(np.abs(r.mu[v] - ex[v]).max()) for v in "abcd") < 1e-10
    ising = pgm.Ising.grid(4, 4, coupling=0.4, field=rng.normal(0, 0.3, 16))
    seq = pgm.inference.mean_field(ising, tol=1e-13, iterations=1000)
    par = pgm.inference.mean_field(ising, update="parallel", damping=0.5, tol=1e-13, iterations=1000)
    assert seq.converged and par.converged and seq.elbo <= pgm.exact.log_partition(ising)
    assert par.residual < 1e-8


def test_factor_model_mean_field_bad_input():
    mn = pgm.MarkovNetwork([pgm.DiscreteFactor(["a", "b"], [[1.0, 2.0], [3.0, 4.0]])])
    with pytest.raises(TypeError, match="evidence"):
        pgm.inference.mean_field(mn, [0, 1])
    with pytest.raises(EvidenceError):
        pgm.inference.mean_field(mn, evidence={"a": 5})
    with pytest.raises(CardinalityError):
        pgm.inference.mean_field(mn, init={"a": [0.2, 0.2, 0.6]})
    with pytest.raises(EvidenceError, match="not a free variable"):
        pgm.inference.mean_field(mn, init={"zz": [0.5, 0.5]})
    hard = pgm.MarkovNetwork([pgm.DiscreteFactor(["a", "b"], [[1.0, 0.0], [0.0, 1.0]])])
    with pytest.raises(EvidenceError, match="no possible state"):
        pgm.inference.mean_field(hard)
