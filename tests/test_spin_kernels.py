"""Exactness and reproducibility tests of the compiled spin Gibbs kernels.

Follows /work/shared/TESTING.md: tiny enumerable models, independent chains
started from exact draws (stationarity), a fixed bad start after a number of
sweeps whose exact total-variation distance to the target is computed by
enumeration (convergence), transition matrices built in numpy from the update
rule (``pi T = pi`` to 1e-12, detailed balance) and chi-square tests of the
kernel's empirical transitions.

Chi-square hygiene: fixed seeds, cells with expected count < 5 pooled into one,
``ALPHA = 1e-4`` per test and exactly ``N_CHI2_TESTS = 10`` chi-square tests in
this file, so the file-wide false-alarm rate is <= 1e-3.
"""

from __future__ import annotations

import contextlib
import functools

import networkx as nx
import numba
import numpy as np
import pytest
from scipy import stats

from samplers._rng import draw_doubles, draw_uint64, make_rng_state, next_double
from samplers._spin_kernels import (
    checkerboard_order,
    csr_from_edges,
    detect_uniform_couplings,
    exclude_clamped,
    lattice_edges,
    make_plan,
    order_from_colouring,
    plan_energy,
    run_plan,
    run_sweeps,
    sample_chunk,
    sample_plan,
)

ALPHA = 1e-4
N_CHI2_TESTS = 10  # keep in sync: ALPHA * N_CHI2_TESTS <= 1e-3
N_CHAINS = 20_000


# ---------------------------------------------------------------------------
# Exact (numpy) side
# ---------------------------------------------------------------------------


class Model:
    """Tiny spin model with everything needed for the exact computations."""

    def __init__(self, n, edges, w, field, beta):
        self.n = n
        self.edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
        self.w = np.broadcast_to(np.asarray(w, dtype=np.float64), (len(self.edges),)).copy()
        self.field = np.broadcast_to(np.asarray(field, dtype=np.float64), (n,)).copy()
        self.beta = float(beta)
        self.indptr, self.indices, self.weights = csr_from_edges(n, self.edges, self.w)
        self.W = np.zeros((n, n))
        self.W[self.edges[:, 0], self.edges[:, 1]] = self.w
        self.W[self.edges[:, 1], self.edges[:, 0]] = self.w
        self.states = all_states(n)
        self.E = energy_np(self.states, self.edges, self.w, self.field)
        logp = -self.beta * self.E
        p = np.exp(logp - logp.max())
        self.pi = p / p.sum()
        g = nx.Graph()
        g.add_nodes_from(range(n))
        g.add_edges_from(map(tuple, self.edges))
        self.colour_order = order_from_colouring(nx.greedy_color(g, strategy="smallest_last"))

    def plan(self, order, fast=None):
        return make_plan(self.indptr, self.indices, self.weights, self.field, order, fast=fast)

    def p_plus(self, i):
        """p(s_i = +1 | rest) for every enumerated state (the heat-bath rule)."""
        loc = self.states.astype(np.float64) @ self.W[i] + self.field[i]
        return 1.0 / (1.0 + np.exp(-2.0 * self.beta * loc))

    def site_matrix(self, i):
        """Dense single-site heat-bath transition matrix T_i (2^n x 2^n)."""
        S = self.states.shape[0]
        x = np.arange(S)
        bit = 1 << i
        p = self.p_plus(i)
        T = np.zeros((S, S))
        np.add.at(T, (x, x | bit), p)
        np.add.at(T, (x, x & ~bit), 1.0 - p)
        return T

    def apply_site(self, d, i):
        """Distribution after one heat-bath update of site i (O(2^n))."""
        bit = 1 << i
        x = np.arange(d.size)
        p = self.p_plus(i)
        out = np.zeros_like(d)
        np.add.at(out, x | bit, d * p)
        np.add.at(out, x & ~bit, d * (1.0 - p))
        return out

    def apply_sweep(self, d, order, random_scan):
        order = list(order)
        if not random_scan:
            for i in order:
                d = self.apply_site(d, i)
            return d
        for _ in range(len(order)):
            d = sum(self.apply_site(d, i) for i in order) / len(order)
        return d


def all_states(n):
    idx = np.arange(2**n)
    return (((idx[:, None] >> np.arange(n)) & 1) * 2 - 1).astype(np.int8)


def state_index(spins):
    return ((np.asarray(spins) > 0).astype(np.int64) << np.arange(spins.shape[-1])).sum(-1)


def energy_np(states, edges, w, field):
    s = np.asarray(states, dtype=np.float64)
    pair = (s[..., edges[:, 0]] * s[..., edges[:, 1]] * w).sum(-1)
    return -pair - s @ field


def exact_draws(model, n, seed):
    idx = np.random.default_rng(seed).choice(model.pi.size, size=n, p=model.pi)
    return np.ascontiguousarray(model.states[idx])


def pooled_chi2(observed, expected):
    """Chi-square statistic and dof, cells with expected < 5 pooled into one."""
    observed = np.asarray(observed, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    small = expected < 5
    obs = list(observed[~small])
    exp = list(expected[~small])
    if small.any():
        obs.append(observed[small].sum())
        exp.append(expected[small].sum())
    obs, exp = np.array(obs), np.array(exp)
    keep = exp > 0
    assert np.all(obs[~keep] == 0), "count in a cell of probability 0"
    obs, exp = obs[keep], exp[keep]
    return float(((obs - exp) ** 2 / exp).sum()), obs.size - 1


def assert_chi2(stat, df, what):
    pval = stats.chi2.sf(stat, df)
    assert pval > ALPHA, f"{what}: chi2={stat:.1f}, df={df}, p-value={pval:.3g} <= {ALPHA}"


def assert_distribution(spins, probs, what):
    counts = np.bincount(state_index(spins), minlength=probs.size)
    assert_chi2(*pooled_chi2(counts, probs * spins.shape[0]), what)


@contextlib.contextmanager
def num_threads(k):
    old = numba.get_num_threads()
    numba.set_num_threads(k)
    try:
        yield
    finally:
        numba.set_num_threads(old)


# ---------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def torus_model():
    """3x3 periodic lattice, Gaussian couplings and fields (general path)."""
    rng = np.random.default_rng(20240601)
    edges = lattice_edges(3)
    return Model(9, edges, rng.normal(0.0, 0.6, len(edges)), rng.normal(0.0, 0.4, 9), 1.0)


@functools.lru_cache(maxsize=None)
def pm_model(beta=0.45):
    """10-node random graph, ±1 couplings, uniform field (fast table path)."""
    g = nx.gnm_random_graph(10, 18, seed=7)
    edges = np.array(g.edges())
    rng = np.random.default_rng(11)
    return Model(10, edges, rng.choice([-1.0, 1.0], len(edges)), 0.15, beta)


@functools.lru_cache(maxsize=None)
def six_general():
    rng = np.random.default_rng(3)
    edges = np.array([(i, j) for i in range(6) for j in range(i + 1, 6) if rng.random() < 0.7])
    return Model(6, edges, rng.normal(0, 0.5, len(edges)), rng.normal(0, 0.3, 6), 1.0)


@functools.lru_cache(maxsize=None)
def six_fast():
    rng = np.random.default_rng(4)
    edges = np.array([(i, j) for i in range(6) for j in range(i + 1, 6) if rng.random() < 0.6])
    return Model(6, edges, 0.8 * rng.choice([-1.0, 1.0], len(edges)), -0.1, 0.5)


def order_for(model, kind, seed=0):
    if kind == "colour":
        return model.colour_order
    return np.random.default_rng(seed).permutation(model.n)


# ---------------------------------------------------------------------------
# RNG
# ---------------------------------------------------------------------------

_M64 = (1 << 64) - 1


def _py_xoshiro(state, k):
    """Reference xoshiro256 (+ and ** outputs) in pure Python."""
    s0, s1, s2, s3 = (int(v) for v in state)
    plus, star = [], []
    rotl = lambda x, r: ((x << r) | (x >> (64 - r))) & _M64  # noqa: E731
    for _ in range(k):
        plus.append((s0 + s3) & _M64)
        star.append((rotl((s1 * 5) & _M64, 7) * 9) & _M64)
        t = (s1 << 17) & _M64
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = rotl(s3, 45)
    return plus, star, [s0, s1, s2, s3]


def test_rng_matches_reference_xoshiro256():
    st = make_rng_state(123, 3)
    plus, star, final = _py_xoshiro(st[1], 50)
    a = st.copy()
    assert draw_uint64(a, 50)[1].tolist() == star
    assert a[1].tolist() == final
    b = st.copy()
    u = draw_doubles(b, 50)[1]
    assert u.tolist() == [(x >> 11) * 2.0**-53 for x in plus]
    assert b[1].tolist() == final


def test_make_rng_state_spawns_seedsequence():
    st = make_rng_state(5, 4)
    assert st.dtype == np.uint64 and st.shape == (4, 4) and st.flags.c_contiguous
    kids = np.random.SeedSequence(5).spawn(4)
    assert np.array_equal(st, np.stack([k.generate_state(4, np.uint64) for k in kids]))
    assert np.array_equal(st, make_rng_state(5, 4))
    assert len({tuple(r) for r in st.tolist()}) == 4
    assert np.all(st.any(axis=1))
    with pytest.raises(ValueError):
        make_rng_state(0, 0)


def test_next_double_range():
    @numba.njit
    def many(state, n):
        lo, hi = 1.0, 0.0
        for _ in range(n):
            u = next_double(state, 0)
            lo = min(lo, u)
            hi = max(hi, u)
        return lo, hi

    lo, hi = many(make_rng_state(9, 1), 100_000)
    assert 0.0 <= lo < 1e-3 and 1 - 1e-3 < hi < 1.0


# ---------------------------------------------------------------------------
# 1. Stationarity from exact starts (6 chi-square tests)
# ---------------------------------------------------------------------------

STATIONARITY_CASES = [  # (model, order, random scan, fast path expected, seed)
    (torus_model, "systematic", False, False, 101),
    (torus_model, "colour", False, False, 102),
    (torus_model, "systematic", True, False, 103),
    (pm_model, "systematic", False, True, 104),
    (pm_model, "colour", False, True, 105),
    (pm_model, "systematic", True, True, 106),
]


@pytest.mark.parametrize("model_fn,kind,random_scan,fast,seed", STATIONARITY_CASES,
                         ids=["torus-sys", "torus-colour", "torus-random",
                              "pm-fast-sys", "pm-fast-colour", "pm-fast-random"])
def test_stationarity_from_exact_draws(model_fn, kind, random_scan, fast, seed):
    m = model_fn()
    plan = m.plan(order_for(m, kind, seed=1), fast=None)
    assert plan.is_fast == fast
    spins = exact_draws(m, N_CHAINS, seed=seed)
    rng = make_rng_state(seed + 1000, N_CHAINS)
    run_plan(plan, spins, rng, m.beta, n_sweeps=3, random_scan=random_scan)
    assert_distribution(spins, m.pi, f"stationarity {m.n} spins, {kind}, rs={random_scan}")


# ---------------------------------------------------------------------------
# 2. Convergence from a fixed bad start (2 chi-square tests)
# ---------------------------------------------------------------------------


def _sweeps_to_tv(m, d0, order, random_scan, tol, max_sweeps=150):
    d, k = d0, 0
    while 0.5 * np.abs(d - target_for(m, d0, order)).sum() > tol:
        d = m.apply_sweep(d, order, random_scan)
        k += 1
        assert k <= max_sweeps, "model mixes too slowly for this test"
    return k, d


def target_for(m, d0, order):
    """pi conditioned on the clamped sites (those not in order) as set in d0."""
    free = np.zeros(m.n, bool)
    free[list(order)] = True
    x0 = int(np.argmax(d0))
    clamp_bits = sum(1 << i for i in range(m.n) if not free[i])
    ok = (np.arange(m.pi.size) & clamp_bits) == (x0 & clamp_bits)
    t = np.where(ok, m.pi, 0.0)
    return t / t.sum()


def test_convergence_all_up_colour_general():
    m = torus_model()
    x0 = np.ones(m.n, np.int8)
    d0 = np.zeros(m.pi.size)
    d0[state_index(x0)] = 1.0
    k, _ = _sweeps_to_tv(m, d0, m.colour_order, False, tol=1e-5)
    spins = np.tile(x0, (N_CHAINS, 1))
    rng = make_rng_state(77, N_CHAINS)
    run_plan(m.plan(m.colour_order), spins, rng, m.beta, k)
    assert_distribution(spins, m.pi, f"convergence after {k} colour sweeps (TV<1e-5)")


def test_convergence_with_evidence_random_scan_fast():
    """All free spins +1, sites 2 and 7 clamped (to -1, +1): conditional target."""
    m = pm_model(beta=0.3)  # weaker coupling: random scan reaches TV < 1e-5 sooner
    clamped = np.zeros(m.n, bool)
    clamped[[2, 7]] = True
    order = exclude_clamped(np.arange(m.n), clamped)
    x0 = np.ones(m.n, np.int8)
    x0[2] = -1
    d0 = np.zeros(m.pi.size)
    d0[state_index(x0)] = 1.0
    k, _ = _sweeps_to_tv(m, d0, order, True, tol=1e-5)
    spins = np.tile(x0, (N_CHAINS, 1))
    rng = make_rng_state(78, N_CHAINS)
    plan = m.plan(order)
    assert plan.is_fast and plan.n_free == m.n - 2
    run_plan(plan, spins, rng, m.beta, k, random_scan=True)
    assert np.all(spins[:, 2] == -1) and np.all(spins[:, 7] == 1)
    assert_distribution(spins, target_for(m, d0, order),
                        f"evidence + random scan after {k} sweeps (TV<1e-5)")


# ---------------------------------------------------------------------------
# 3. Transition matrices (exact) and the kernel's empirical transitions
#    (2 chi-square tests)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("model_fn", [six_general, six_fast], ids=["general", "fast"])
def test_transition_matrix_invariance(model_fn):
    m = model_fn()
    pi = m.pi
    Ts = [m.site_matrix(i) for i in range(m.n)]
    for i, T in enumerate(Ts):
        np.testing.assert_allclose(T.sum(1), 1.0, rtol=0, atol=1e-14)
        np.testing.assert_allclose(pi @ T, pi, rtol=0, atol=1e-12, err_msg=f"site {i}")
        F = pi[:, None] * T
        np.testing.assert_allclose(F, F.T, rtol=0, atol=1e-12, err_msg=f"detailed balance {i}")
    order = order_for(m, "perm", seed=5)
    Tsweep = functools.reduce(np.matmul, [Ts[i] for i in order])
    np.testing.assert_allclose(pi @ Tsweep, pi, rtol=0, atol=1e-12)
    Trs = sum(Ts) / m.n
    np.testing.assert_allclose(pi @ Trs, pi, rtol=0, atol=1e-12)
    F = pi[:, None] * Trs
    np.testing.assert_allclose(F, F.T, rtol=0, atol=1e-12)
    # the distribution-propagation helper used above agrees with the matrices
    d = np.random.default_rng(0).dirichlet(np.ones(pi.size))
    np.testing.assert_allclose(m.apply_sweep(d, order, False), d @ Tsweep, atol=1e-14)


def test_kernel_single_site_update_frequencies():
    """From every state x and every site i, the kernel sets s_i=+1 with p(+1|x_-i).

    One aggregated chi-square over all (model, site, state) cells of binomial
    counts (df = number of cells); the other spins must not move.
    """
    reps = 300
    stat, df = 0.0, 0
    for mi, m in enumerate([six_general(), six_fast()]):
        start = np.repeat(m.states, reps, axis=0)
        for i in range(m.n):
            plan = m.plan([i])
            spins = start.copy()
            run_plan(plan, spins, make_rng_state([mi, i], spins.shape[0]), m.beta, 1)
            others = np.arange(m.n) != i
            assert np.array_equal(spins[:, others], start[:, others])
            k = (spins[:, i] > 0).reshape(-1, reps).sum(1)
            p = m.p_plus(i)
            assert np.all((p * reps > 5) & ((1 - p) * reps > 5))
            stat += float(((k - reps * p) ** 2 / (reps * p * (1 - p))).sum())
            df += p.size
    assert_chi2(stat, df, "single-site conditional frequencies")


def test_kernel_sweep_rows_match_enumerated_kernel():
    """Row x of the kernel's one-sweep transition matches the enumerated T.

    Systematic sweep (general model) and random scan (fast model) pooled into
    one chi-square (sum of per-row pooled statistics).
    """
    reps = 400
    stat, df = 0.0, 0
    for m, rs in [(six_general(), False), (six_fast(), True)]:
        order = order_for(m, "perm", seed=8)
        plan = m.plan(order)
        assert plan.is_fast == rs
        spins = np.repeat(m.states, reps, axis=0)
        run_plan(plan, spins, make_rng_state(31 + rs, spins.shape[0]), m.beta, 1,
                 random_scan=rs)
        idx = state_index(spins).reshape(-1, reps)
        for x in range(m.pi.size):
            d0 = np.zeros(m.pi.size)
            d0[x] = 1.0
            row = m.apply_sweep(d0, order, rs)
            s_, f_ = pooled_chi2(np.bincount(idx[x], minlength=row.size), row * reps)
            stat += s_
            df += f_
    assert_chi2(stat, df, "one-sweep transition rows")


# ---------------------------------------------------------------------------
# Fast path == general path when arithmetic is exact
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("random_scan", [False, True])
def test_fast_and_general_paths_identical_for_unit_couplings(random_scan):
    """J = 1 and h = 0.25: local fields are exact, so p and the draws coincide."""
    L = 6
    rng = np.random.default_rng(1)
    edges = lattice_edges(L)
    ip, ix, w = csr_from_edges(L * L, edges, rng.choice([-1.0, 1.0], len(edges)))
    order = checkerboard_order(L)
    fast = make_plan(ip, ix, w, 0.25, order)
    gen = make_plan(ip, ix, w, 0.25, order, fast=False)
    assert fast.is_fast and not gen.is_fast
    s0 = np.where(rng.random((5, L * L)) < 0.5, 1, -1).astype(np.int8)
    out = []
    for plan in (fast, gen):
        s, st = s0.copy(), make_rng_state(3, 5)
        x, e, mg = sample_plan(plan, s, st, np.linspace(0.2, 0.6, 5), 6, 2, random_scan,
                               record_states=True)
        out.append((s, st, x, e, mg))
    for a, b in zip(*out):
        assert np.array_equal(a, b)


# ---------------------------------------------------------------------------
# 4. Reproducibility: thread count, checkpoint / resume
# ---------------------------------------------------------------------------


def _lattice_plan(L=16, fast=None):
    rng = np.random.default_rng(2)
    edges = lattice_edges(L)
    w = 1.0 if fast else rng.normal(0, 1, len(edges))
    ip, ix, ww = csr_from_edges(L * L, edges, w)
    return make_plan(ip, ix, ww, 0.0 if fast else rng.normal(0, 0.2, L * L),
                     checkerboard_order(L))


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 numba threads")
@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("random_scan", [False, True])
def test_bit_identical_with_1_and_2_threads(fast, random_scan):
    plan = _lattice_plan(fast=fast)
    assert plan.is_fast == fast
    res = []
    for k in (1, 2):
        with num_threads(k):
            s = np.ones((7, plan.n), np.int8)
            st = make_rng_state(99, 7)
            run_plan(plan, s, st, 0.44, 5, random_scan)
            x, e, mg = sample_plan(plan, s, st, 0.44, 4, 3, random_scan, record_states=True)
        res.append((s, st, x, e, mg))
    for a, b in zip(*res):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("random_scan", [False, True])
def test_checkpoint_resume_exact(fast, random_scan):
    plan = _lattice_plan(fast=fast)
    beta = np.array([0.3, 0.44, 0.6])
    s_a, st_a = -np.ones((3, plan.n), np.int8), make_rng_state(8, 3)
    run_plan(plan, s_a, st_a, beta, 12, random_scan)
    s_b, st_b = -np.ones((3, plan.n), np.int8), make_rng_state(8, 3)
    run_plan(plan, s_b, st_b, beta, 7, random_scan)
    s_b, st_b = s_b.copy(), st_b.copy()  # as if saved and reloaded
    run_plan(plan, s_b, st_b, beta, 5, random_scan)
    assert np.array_equal(s_a, s_b) and np.array_equal(st_a, st_b)
    # chunks: 3 + 4 draws == 7 draws
    s_c, st_c = s_a.copy(), st_a.copy()
    x7, e7, m7 = sample_plan(plan, s_c, st_c, beta, 7, 2, random_scan, record_states=True)
    s_d, st_d = s_a.copy(), st_a.copy()
    x3, e3, m3 = sample_plan(plan, s_d, st_d, beta, 3, 2, random_scan, record_states=True)
    x4, e4, m4 = sample_plan(plan, s_d, st_d, beta, 4, 2, random_scan, record_states=True)
    assert np.array_equal(x7, np.concatenate([x3, x4], 1))
    assert np.array_equal(e7, np.concatenate([e3, e4], 1))
    assert np.array_equal(m7, np.concatenate([m3, m4], 1))
    assert np.array_equal(s_c, s_d) and np.array_equal(st_c, st_d)
    # recording does not change the trajectory
    s_e, st_e = s_a.copy(), st_a.copy()
    run_plan(plan, s_e, st_e, beta, 14, random_scan)
    assert np.array_equal(s_e, s_c) and np.array_equal(st_e, st_c)


# ---------------------------------------------------------------------------
# 5. Recorded observables
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("fast", [True, False])
def test_recorded_energy_and_magnetisation(fast):
    L = 10
    rng = np.random.default_rng(6)
    edges = lattice_edges(L)
    w = rng.choice([-0.7, 0.7], len(edges)) if fast else rng.normal(0, 1, len(edges))
    h = 0.3 if fast else rng.normal(0, 0.5, L * L)
    ip, ix, ww = csr_from_edges(L * L, edges, w)
    clamped = np.zeros(L * L, bool)
    clamped[::7] = True  # evidence: energy still counts clamped sites
    order = exclude_clamped(checkerboard_order(L), clamped)
    s = np.where(rng.random((4, L * L)) < 0.5, 1, -1).astype(np.int8)
    s0 = s.copy()
    st = make_rng_state(4, 4)
    x, e, mg = sample_chunk(s, st, ip, ix, ww, h, 0.5, order, n_draws=9, thin=2,
                            record_states=True)
    plan = make_plan(ip, ix, ww, h, order)
    assert plan.is_fast == fast
    field = np.broadcast_to(np.asarray(h, float), (L * L,))
    np.testing.assert_allclose(e, energy_np(x, edges, w, field), rtol=1e-12, atol=1e-10)
    np.testing.assert_array_equal(mg, x.mean(-1))
    np.testing.assert_array_equal(x[:, -1], s)
    assert np.array_equal(x[:, :, clamped], np.broadcast_to(s0[:, None, clamped], x[:, :, clamped].shape))
    np.testing.assert_allclose(plan_energy(plan, s), energy_np(s, edges, w, field),
                               rtol=1e-12, atol=1e-10)
    # preallocated outputs and record_states=False give the same observables
    s2, st2 = s0.copy(), make_rng_state(4, 4)
    oe, om = np.empty((4, 9)), np.empty((4, 9))
    xs, e2, m2 = sample_plan(plan, s2, st2, 0.5, 9, 2, out_energy=oe, out_mag=om)
    assert xs is None and e2 is oe and m2 is om
    assert np.array_equal(e2, e) and np.array_equal(m2, mg) and np.array_equal(s2, s)


# ---------------------------------------------------------------------------
# Boundary helpers and validation
# ---------------------------------------------------------------------------


def test_csr_from_edges_and_detection():
    ip, ix, w = csr_from_edges(4, [(2, 0), (0, 1), (3, 2)], [1.5, -2.0, 0.5])
    assert ip.dtype == np.int64 and ix.dtype == np.int32 and w.dtype == np.float64
    assert ip.tolist() == [0, 2, 3, 5, 6]
    assert ix.tolist() == [1, 2, 0, 0, 3, 2]
    assert w.tolist() == [-2.0, 1.5, -2.0, 1.5, 0.5, 0.5]
    for bad in ([(0, 0)], [(0, 1), (1, 0)], [(0, 4)]):
        with pytest.raises(ValueError):
            csr_from_edges(4, bad, 1.0)
    assert detect_uniform_couplings([2.0, -2.0], 0.5) == (True, 2.0, 0.5)
    assert detect_uniform_couplings([2.0, -1.0], 0.5)[0] is False
    assert detect_uniform_couplings([1.0, 1.0], [0.1, 0.2])[0] is False
    assert detect_uniform_couplings([], [0.3]) == (True, 0.0, 0.3)


def test_orders_and_validation():
    assert sorted(checkerboard_order(4).tolist()) == list(range(16))
    co = checkerboard_order(4)
    r, c = np.divmod(co, 4)
    assert np.all(((r + c) % 2)[:8] == 0) and np.all(((r + c) % 2)[8:] == 1)
    ip, ix, w = csr_from_edges(3, [(0, 1), (1, 2)], [1.0, 2.0])
    with pytest.raises(ValueError):
        make_plan(ip, ix, w, 0.0, [0, 0, 1])  # repeated site
    with pytest.raises(ValueError):
        make_plan(ip, ix, np.array([1.0, 1.0, 2.0, 3.0]), 0.0, [0, 1, 2])  # asymmetric
    with pytest.raises(ValueError):
        make_plan(ip, ix, w, 0.0, [0, 1, 2], fast=True)
    plan = make_plan(ip, ix, w, 0.0, [0, 1, 2])
    st = make_rng_state(0, 2)
    with pytest.raises(TypeError):
        run_plan(plan, np.ones((2, 3), np.int64), st, 1.0, 1)
    with pytest.raises(TypeError):
        run_plan(plan, np.ones((2, 3), np.int8), st[:, :3].copy(), 1.0, 1)
    with pytest.raises(ValueError):
        run_plan(plan, np.zeros((2, 3), np.int8), st, 1.0, 1)
    with pytest.raises(ValueError):
        run_plan(plan, np.ones((2, 3), np.int8), st, [1.0, 2.0, 3.0], 1)
    # all sites clamped: nothing moves, stream untouched
    s = np.ones((2, 3), np.int8)
    st2 = st.copy()
    run_sweeps(s, st2, ip, ix, w, 0.0, 1.0, [], 4)
    assert np.all(s == 1) and np.array_equal(st, st2)


def test_benchmark_smoke(capsys):
    """benchmarks/gibbs.py runs on tiny sizes and prints JSON lines (no timing asserts)."""
    import importlib.util
    import json
    import os

    path = os.path.join(os.path.dirname(os.path.dirname(__file__)), "benchmarks", "gibbs.py")
    spec = importlib.util.spec_from_file_location("_gibbs_bench", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.run_suite(1, repeats=3, quick=True)
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.strip()]
    assert any(r.get("case") == "ising" and r["spin_updates_per_s"] > 0 for r in lines)
    assert any(r.get("model") == "ising2d_Lscan_summary" for r in lines)
