"""Sparse coding (ISTA / FISTA), dictionary learning and binary-sparse-coding mean field
(SPEC.md §4).

Convention under test (pgm/sparse_coding.py): ``J(H) = λ Σ|H| + β ‖V − H Wᵀ‖²_F`` with ``V``
``(n, d)``, atoms as the columns of ``W`` ``(d, k)``.  scikit-learn's ``SparseCoder`` with
``transform_algorithm="lasso_cd"`` minimises ``½‖x − Dᵀh‖² + α‖h‖₁`` per row with atoms as the
rows of ``D``: the same problem is ``D = Wᵀ``, ``α = λ / (2β)``, and ``J = 2β Σ_rows (its
objective)``.

Everything here is deterministic (fixed seeds, no sampling-based acceptance):

* optimality of the codes is checked by the subgradient (KKT) conditions computed here from
  the definition, and against scikit-learn's coordinate descent on the same problem;
* the ELBO of binary sparse coding is checked against a brute-force expectation over all
  ``2^k`` codes and against the exact ``log p(v)`` by enumeration;
* dictionary recovery is measured against the generating dictionary after a one-to-one
  (Hungarian) matching of atoms.
"""

import itertools
import warnings

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment
from scipy.special import expit, logsumexp

from estimators.dictionary import DictionaryResult, dictionary_learning
from pgm.errors import CardinalityError, ConvergenceWarning, EvidenceError, ModelError
from pgm.sparse_coding import (binary_sparse_coding_elbo, binary_sparse_coding_mean_field,
                               soft_threshold, sparse_code, sparse_coding_objective)


# ---------------------------------------------------------------------------- helpers
def synthetic(n, d=64, k=128, s=5, noise=0.01, seed=0):
    """The acceptance problem: unit-norm Gaussian atoms, s-sparse N(0, 1) codes, N(0, noise²)."""
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(d, k))
    W /= np.linalg.norm(W, axis=0)
    H = np.zeros((n, k))
    for r in range(n):
        H[r, rng.choice(k, s, replace=False)] = rng.normal(size=s)
    return H @ W.T + noise * rng.normal(size=(n, d)), W, H


def objective(V, W, H, lam, beta):
    """J written out from SPEC §4 (independent of the module)."""
    return lam * np.abs(H).sum() + beta * np.sum((V - H @ W.T) ** 2)


def kkt_violation(V, W, H, lam, beta):
    """Largest violation of 0 ∈ ∇_H β‖V − HWᵀ‖² + λ ∂‖H‖₁, entry by entry."""
    g = 2 * beta * (H @ W.T - V) @ W
    nz = H != 0
    return max(float(np.max(np.abs(g + lam * np.sign(H))[nz], initial=0.0)),
               float(np.max(np.abs(g[~nz]) - lam, initial=0.0)))


def sklearn_codes(V, W, lam, beta):
    sklearn = pytest.importorskip("sklearn")  # noqa: F841
    from sklearn.decomposition import SparseCoder

    coder = SparseCoder(dictionary=W.T, transform_algorithm="lasso_cd", transform_alpha=lam / (2 * beta),
                        transform_max_iter=10000)
    return coder.transform(V)


# ---------------------------------------------------------------------------- sparse coding
def test_orthonormal_dictionary_gives_the_soft_threshold_closed_form():
    # W orthonormal: J separates, h = S_{λ/2β}(Wᵀv) exactly
    rng = np.random.default_rng(1)
    W, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    V = rng.normal(size=(20, 6))
    lam, beta = 0.7, 1.5
    want = np.sign(V @ W) * np.maximum(np.abs(V @ W) - lam / (2 * beta), 0)
    for method in ("fista", "ista"):
        r = sparse_code(V, W, lam, beta, method=method, tol=1e-12)
        assert r.converged
        np.testing.assert_allclose(r.H, want, atol=1e-10, rtol=0)
        assert r.objective == pytest.approx(objective(V, W, want, lam, beta), rel=1e-12)
    assert r.lipschitz == pytest.approx(2 * beta, rel=1e-12)  # σ_max(W) = 1


@pytest.mark.parametrize("beta", [1.0, 2.5])
def test_fista_and_ista_objective_match_sklearn_sparsecoder_lasso_cd(beta):
    """Acceptance: same objective as scikit-learn's SparseCoder(lasso_cd) to 1e-6 relative on the
    synthetic 64 × 128 dictionary (5-sparse codes, noise 0.01), 300 rows, α = λ/(2β) = 0.1/β."""
    V, W, _ = synthetic(300, seed=2)
    lam = 0.2
    H_sk = sklearn_codes(V, W, lam, beta)
    J_sk = objective(V, W, H_sk, lam, beta)
    # the mapping: J = 2β × scikit-learn's per-row objective, summed
    sk_obj = 0.5 * np.sum((V - H_sk @ W.T) ** 2) + lam / (2 * beta) * np.abs(H_sk).sum()
    assert J_sk == pytest.approx(2 * beta * sk_obj, rel=1e-12)
    for method, max_iter in (("fista", 2000), ("ista", 20000)):
        r = sparse_code(V, W, lam, beta, method=method, max_iter=max_iter, tol=1e-10)
        assert r.converged, (method, r)
        rel = abs(r.objective - J_sk) / J_sk
        assert rel <= 1e-6, f"{method}: J = {r.objective!r}, scikit-learn {J_sk!r}, relative {rel:.2e}"
        assert r.objective == pytest.approx(objective(V, W, r.H, lam, beta), rel=1e-12)
        np.testing.assert_allclose(r.H, H_sk, atol=1e-5, rtol=0)


def test_returned_codes_satisfy_the_subgradient_optimality_conditions():
    V, W, _ = synthetic(200, seed=3)
    lam, beta = 0.2, 1.0
    for method in ("fista", "ista"):
        r = sparse_code(V, W, lam, beta, method=method, max_iter=20000, tol=1e-10)
        assert r.converged
        assert kkt_violation(V, W, r.H, lam, beta) <= 1e-6 * lam
    # the check discriminates: 5 ISTA iterations are far from optimal
    with pytest.warns(ConvergenceWarning, match="max_iter=5"):
        early = sparse_code(V, W, lam, beta, method="ista", max_iter=5)
    assert not early.converged and early.iterations == 5
    assert kkt_violation(V, W, early.H, lam, beta) > 1e-2


def test_fista_is_faster_than_ista_and_both_reach_the_same_minimiser():
    V, W, _ = synthetic(100, seed=4)
    f = sparse_code(V, W, 0.1, method="fista", tol=1e-10)
    i = sparse_code(V, W, 0.1, method="ista", max_iter=20000, tol=1e-10)
    assert f.iterations < i.iterations / 2, (f.iterations, i.iterations)
    assert f.objective == pytest.approx(i.objective, rel=1e-10)


def test_rows_are_solved_independently_and_warm_start_at_the_optimum_stops_at_once():
    V, W, _ = synthetic(30, seed=5)
    batch = sparse_code(V, W, 0.15, beta=0.7, tol=1e-11)
    for r in (0, 7, 29):
        one = sparse_code(V[r], W, 0.15, beta=0.7, tol=1e-11)
        assert one.H.shape == (128,)
        np.testing.assert_allclose(one.H, batch.H[r], atol=1e-8, rtol=0)
    again = sparse_code(V, W, 0.15, beta=0.7, tol=1e-8, H0=batch.H)
    assert again.iterations == 0 and again.converged
    np.testing.assert_array_equal(again.H, batch.H)


def test_objective_helper_and_degenerate_cases():
    V, W, H = synthetic(10, d=8, k=12, s=2, seed=6)
    assert sparse_coding_objective(V, W, H, 0.3, 2.0) == pytest.approx(objective(V, W, H, 0.3, 2.0), rel=1e-12)
    rows = sparse_coding_objective(V, W, H, 0.3, 2.0, per_row=True)
    assert rows.shape == (10,) and rows.sum() == pytest.approx(objective(V, W, H, 0.3, 2.0), rel=1e-12)
    # λ so large that H = 0 is optimal: ‖2β Wᵀv‖_∞ <= λ
    lam_max = float(np.max(np.abs(2 * V @ W)))
    r = sparse_code(V, W, lam_max * 1.001)
    assert not r.H.any() and r.converged
    # W = 0: the data term is constant, H = 0
    r = sparse_code(V, np.zeros((8, 12)), 0.1, H0=np.ones((10, 12)))
    assert not r.H.any() and r.objective == pytest.approx(np.sum(V ** 2))
    np.testing.assert_array_equal(soft_threshold([-3.0, -0.5, 0.0, 0.5, 3.0], 1.0), [-2.0, 0, 0, 0, 2.0])


# ---------------------------------------------------------------------------- dictionary learning
def test_dictionary_learning_recovers_the_synthetic_dictionary():
    """Acceptance: d = 64, k = 128 atoms, 5-sparse N(0,1) codes, noise 0.01, n = 2000 rows;
    λ = 0.2, β = 1, 40 iterations from k random data rows; >= 90 % of the true atoms are
    matched (one-to-one, Hungarian) by a learned atom with |cos| >= 0.99."""
    V, W_true, _ = synthetic(2000, seed=12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        r = dictionary_learning(V, 128, lam=0.2, iterations=40, seed=0, tol=1e-6)
    assert isinstance(r, DictionaryResult) and r.W.shape == (64, 128) and r.H.shape == (2000, 128)
    np.testing.assert_allclose(np.linalg.norm(r.W, axis=0), 1.0, atol=1e-12)
    C = np.abs(W_true.T @ r.W)
    rows, cols = linear_sum_assignment(-C)
    recovered = float(np.mean(C[rows, cols] >= 0.99))
    assert recovered >= 0.9, f"recovered {recovered:.3f} of the atoms (median |cos| {np.median(C[rows, cols]):.4f})"
    # the objective trace is J itself, and it never increases
    assert r.objective[-1] == pytest.approx(objective(V, r.W, r.H, 0.2, 1.0), rel=1e-10)
    assert r.objective[0] == pytest.approx(np.sum(V ** 2), rel=1e-12)
    assert np.all(np.diff(r.objective) <= 1e-10 * r.objective[:-1]), np.max(np.diff(r.objective))


def test_dictionary_learning_objective_never_increases_even_with_inexact_codes():
    # few inner iterations: FISTA is not monotone, the learner must still be
    V, _, _ = synthetic(300, d=16, k=24, s=3, noise=0.05, seed=7)
    for max_iter in (2, 50):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            r = dictionary_learning(V, 24, lam=0.3, beta=2.0, iterations=25, seed=1, code_max_iter=max_iter)
        assert r.iterations >= 2
        assert np.all(np.diff(r.objective) <= 1e-10 * r.objective[:-1]), (max_iter, np.diff(r.objective).max())
        assert r.objective[-1] == pytest.approx(objective(V, r.W, r.H, 0.3, 2.0), rel=1e-10)
        np.testing.assert_allclose(np.linalg.norm(r.W, axis=0), 1.0, atol=1e-12)


def test_dictionary_learning_is_deterministic_given_seed_and_accepts_w0():
    V, W_true, _ = synthetic(120, d=10, k=15, s=2, seed=8)
    kw = dict(lam=0.2, iterations=6, warn=False)
    a, b = dictionary_learning(V, 15, seed=4, **kw), dictionary_learning(V, 15, seed=4, **kw)
    c = dictionary_learning(V, 15, seed=5, **kw)
    np.testing.assert_array_equal(a.W, b.W)
    np.testing.assert_array_equal(a.objective, b.objective)
    assert not np.array_equal(a.W, c.W)
    # started at the truth (rescaled), the learned atoms stay close to it
    w = dictionary_learning(V, 15, W0=3 * W_true, **kw)
    assert np.min(np.abs(np.sum(w.W * W_true, axis=0))) > 0.95


def test_unused_atoms_are_restarted_without_raising_the_objective():
    # data in the span of e0, e1; atoms 2 and 3 start orthogonal to it, so no code uses them
    rng = np.random.default_rng(9)
    V = np.zeros((100, 5))
    V[:, :2] = rng.laplace(size=(100, 2)) @ rng.normal(size=(2, 2))
    W0 = np.eye(5)[:, [0, 1, 3, 4]]
    r = dictionary_learning(V, 4, lam=0.5, iterations=10, W0=W0, warn=False)
    assert r.replaced_atoms >= 2
    assert np.all(np.diff(r.objective) <= 1e-10 * r.objective[:-1])
    np.testing.assert_allclose(np.linalg.norm(r.W, axis=0), 1.0, atol=1e-12)
    assert np.allclose(r.W[2:], 0, atol=1e-12)  # restarted atoms are residuals: inside the data span


# ---------------------------------------------------------------------------- binary sparse coding
def all_codes(k):
    return np.array(list(itertools.product([0, 1], repeat=k)), dtype=np.float64)


def log_joint(v, W, b, beta, Hs):
    """log p(v, h) for every code in ``Hs`` (book ch. 19: p(h_i=1) = σ(b_i), v|h ~ N(Wh, β⁻¹ I))."""
    beta = np.broadcast_to(np.asarray(beta, float), (W.shape[0],))
    prior = Hs @ np.log(expit(b)) + (1 - Hs) @ np.log(expit(-b))
    r = v - Hs @ W.T
    return prior + 0.5 * np.sum(np.log(beta / (2 * np.pi))) - 0.5 * (r * r) @ beta


def bsc_problem(seed=0, d=6, k=8, duplicate=False):
    rng = np.random.default_rng(seed)
    W = rng.normal(0, 0.7, (d, k))
    if duplicate:  # two nearly equal atoms: the explaining-away case
        W[:, 1] = W[:, 0] + 0.05 * rng.normal(size=d)
    b = rng.normal(-1, 0.5, k)
    V = (rng.random((5, k)) < 0.3) @ W.T + rng.normal(0, 0.3, (5, d))
    if duplicate:
        V[0] = W[:, 0] + W[:, 3] + rng.normal(0, 0.3, d)
    return V, W, b


def test_bsc_elbo_closed_form_equals_brute_force_expectation():
    V, W, b = bsc_problem(seed=1)
    beta = np.linspace(0.5, 3.0, 6)  # one precision per visible unit
    mu = np.random.default_rng(2).random((len(V), 8))
    Hs = all_codes(8)
    q = np.prod(np.where(Hs[None] == 1, mu[:, None], 1 - mu[:, None]), axis=2)  # (n, 256)
    lj = np.array([log_joint(v, W, b, beta, Hs) for v in V])
    want = np.sum(q * lj, axis=1) - np.sum(q * np.log(q), axis=1)
    np.testing.assert_allclose(binary_sparse_coding_elbo(V, mu, W, b, beta), want, rtol=0, atol=1e-10)


@pytest.mark.parametrize("seed,beta", [(0, 1.0), (3, 4.0), (5, 10.0)])
def test_bsc_mean_field_fixed_point_bound_and_monotone_sequential_ascent(seed, beta):
    V, W, b = bsc_problem(seed=seed)
    r = binary_sparse_coding_mean_field(V, W, b, beta, iterations=2000, tol=1e-12)
    assert r.converged and r.residual <= 1e-8 and r.mu.shape == (5, 8)
    # the book's update, written out with the residual v − Σ_{j≠i} W_j ĥ_j
    for i in range(8):
        others = r.mu @ W.T - np.outer(r.mu[:, i], W[:, i])
        pre = b[i] + beta * (V - others) @ W[:, i] - 0.5 * beta * W[:, i] @ W[:, i]
        np.testing.assert_allclose(r.mu[:, i], expit(pre), atol=1e-8, rtol=0)
    exact = np.array([logsumexp(log_joint(v, W, b, beta, all_codes(8))) for v in V])
    assert np.all(r.elbo <= exact + 1e-12), np.max(r.elbo - exact)
    np.testing.assert_allclose(r.elbo, binary_sparse_coding_elbo(V, r.mu, W, b, beta), rtol=0, atol=1e-12)
    # sequential ascent from a poor start, with and without damping: the ELBO never drops
    bad = np.full((5, 8), 0.97)
    for damping in (0.0, 0.6):
        s = binary_sparse_coding_mean_field(V, W, b, beta, damping=damping, init=bad, iterations=300, tol=1e-12)
        assert np.all(np.diff(s.history, axis=0) >= -1e-12), np.min(np.diff(s.history, axis=0))
        assert s.history[-1].sum() > s.history[0].sum()


def test_parallel_updates_oscillate_without_damping_and_converge_with_it():
    """Two nearly identical atoms explain the same part of v: updated in parallel from the
    prior, both switch off together, then on together, ... (period 2); damping 0.5 settles
    at the fixed point that sequential updates find."""
    V, W, b = bsc_problem(seed=3, duplicate=True)
    v, beta = V[0], 4.0
    with pytest.warns(ConvergenceWarning, match="parallel"):
        undamped = binary_sparse_coding_mean_field(v, W, b, beta, update="parallel", iterations=400)
    assert not undamped.converged and undamped.residual > 0.5
    h = undamped.history
    assert abs(h[-1] - h[-3]) < 1e-9 and abs(h[-1] - h[-2]) > 0.1  # a 2-cycle of the ELBO
    damped = binary_sparse_coding_mean_field(v, W, b, beta, update="parallel", damping=0.5,
                                             iterations=400, tol=1e-12)
    assert damped.converged and damped.residual <= 1e-8
    seq = binary_sparse_coding_mean_field(v, W, b, beta, iterations=400, tol=1e-12)
    np.testing.assert_allclose(damped.mu, seq.mu, atol=1e-8)
    exact = logsumexp(log_joint(v, W, b, beta, all_codes(8)))
    assert damped.elbo <= exact and damped.elbo > max(undamped.history[-2:])


# ---------------------------------------------------------------------------- bad input
def test_bad_input_raises_typed_errors_naming_the_value():
    V, W, _ = synthetic(4, d=5, k=7, s=2, seed=10)
    with pytest.raises(CardinalityError, match=r"\(n, 5\)"):
        sparse_code(V[:, :4], W, 0.1)
    with pytest.raises(CardinalityError, match="2-D"):
        sparse_code(V, W[:, 0], 0.1)
    with pytest.raises(CardinalityError, match=r"H0 must have shape \(4, 7\)"):
        sparse_code(V, W, 0.1, H0=np.zeros((4, 6)))
    with pytest.raises(ModelError, match="lam must be >= 0, got -0.5"):
        sparse_code(V, W, -0.5)
    with pytest.raises(ModelError, match="beta must be > 0, got 0"):
        sparse_code(V, W, 0.1, beta=0)
    with pytest.raises(ModelError, match="lam must be a finite real number, got nan"):
        sparse_code(V, W, float("nan"))
    bad = V.copy()
    bad[1, 2] = np.inf
    with pytest.raises(EvidenceError, match="inf"):
        sparse_code(bad, W, 0.1)
    badW = W.copy()
    badW[0, 0] = np.nan
    with pytest.raises(ModelError, match="W must be finite, found nan"):
        sparse_code(V, badW, 0.1)
    with pytest.raises(ValueError, match="'lars'"):
        sparse_code(V, W, 0.1, method="lars")
    with pytest.raises(ValueError, match="max_iter"):
        sparse_code(V, W, 0.1, max_iter=0)
    # dictionary learning
    with pytest.raises(CardinalityError, match=r"got shape \(5,\)"):
        dictionary_learning(V[0], 3, 0.1)
    with pytest.raises(ModelError, match="lam must be a finite real number >= 0, got -1"):
        dictionary_learning(V, 3, -1)
    with pytest.raises(CardinalityError, match=r"W0 must have shape \(5, 3\)"):
        dictionary_learning(V, 3, 0.1, W0=np.ones((5, 4)))
    with pytest.raises(ModelError, match="zero atom \\(column 1\\)"):
        dictionary_learning(V, 2, 0.1, W0=np.column_stack([np.ones(5), np.zeros(5)]))
    with pytest.raises(ValueError, match="n_atoms"):
        dictionary_learning(V, 0, 0.1)
    # binary sparse coding
    _, Wb, b = bsc_problem()
    v = np.zeros(6)
    with pytest.raises(CardinalityError, match=r"b must have shape \(8,\)"):
        binary_sparse_coding_mean_field(v, Wb, b[:3], 1.0)
    with pytest.raises(CardinalityError, match=r"\(n, 6\)"):
        binary_sparse_coding_mean_field(np.zeros(4), Wb, b, 1.0)
    with pytest.raises(ModelError, match="precision.*-2"):
        binary_sparse_coding_mean_field(v, Wb, b, -2.0)
    with pytest.raises(CardinalityError, match=r"beta must be a scalar or have shape \(6,\)"):
        binary_sparse_coding_mean_field(v, Wb, b, np.ones(3))
    with pytest.raises(ValueError, match="damping must lie in \\[0, 1\\), got 1"):
        binary_sparse_coding_mean_field(v, Wb, b, 1.0, damping=1)
    with pytest.raises(ValueError, match="'block'"):
        binary_sparse_coding_mean_field(v, Wb, b, 1.0, update="block")
    with pytest.raises(ModelError, match="init must hold probabilities in \\[0, 1\\], found 1.5"):
        binary_sparse_coding_mean_field(v, Wb, b, 1.0, init=np.full(8, 1.5))
