"""Parameter learning of discrete Bayesian networks (issue 12 item 3, acceptance 4):
``estimators.em.fit_counts`` (complete data) and ``estimators.em.EM`` (missing / latent values).

* Complete data: the counts equal the closed form computed here independently (Python counters
  over tuples), with and without pseudo-counts; EM on complete data lands on the same tables.
* The E-step is checked against ``pgm.exact`` with evidence, row by row: the first M-step from
  ``init="model"`` equals the normalised expected counts from ``pgm.exact.query`` of each
  family's missing members, and ``log_likelihood[0]`` equals ``Σ_rows pgm.exact.log_partition``;
  the enumeration and clique-tree E-steps agree with each other.
* Recovery (20 000 rows sampled from the bundled networks, 20 % of the entries hidden at random,
  random start): asia — every CPD column within 0.05 max-abs of the truth; alarm — see
  :func:`test_em_recovers_alarm` for what is asserted and why (some parent configurations are
  seen less than once in 20 000 rows, where no estimator can be within 0.05).
* Every run asserts the log-likelihood (the MAP objective with pseudo-counts) never decreases,
  to 1e-9 relative.
"""

import collections
import time

import numpy as np
import pytest

import pgm
import samplers
from estimators.em import EM, EMResult, fit_counts
from pgm.errors import CardinalityError, EvidenceError, ModelError, UnknownVariableError

from .conftest import random_bayesian_network

N = 20_000


def _assert_monotone(values):
    values = np.asarray(values)
    steps = np.diff(values)
    assert np.all(steps >= -1e-9 * np.abs(values[1:])), f"decreases: {steps[steps < 0]}"


def _hide(x, frac, seed):
    h = x.copy()
    h[np.random.default_rng(seed).random(x.shape) < frac] = -1
    return h


def _closed_form(bn, x, alpha):
    """θ(x | u) = (N(x, u) + α) / (N(u) + k α), counted with Python counters."""
    out = {}
    for j, v in enumerate(bn.variables):
        pa = [bn.index(p) for p in bn.parents(v)]
        k = bn.cardinalities[v]
        pc = [bn.cardinalities[p] for p in bn.parents(v)]
        cnt = collections.Counter((tuple(int(r[p]) for p in pa), int(r[j])) for r in x)
        table = np.empty((k, *pc))
        for u in np.ndindex(*pc):
            n_u = sum(cnt[(u, s)] for s in range(k))
            for s in range(k):
                table[(s, *u)] = ((cnt[(u, s)] + alpha) / (n_u + k * alpha)
                                  if n_u + k * alpha > 0 else 1.0 / k)
        out[v] = table
    return out


# ---------------------------------------------------------------------------- complete data
@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("alpha", [0.0, 0.5])
def test_fit_counts_equals_closed_form(seed, alpha):
    bn = random_bayesian_network(np.random.default_rng(seed), n_vars=6, max_card=3)
    x = samplers.ancestral(bn, 3000, seed=seed)
    fitted = fit_counts(bn, x, pseudo_count=alpha)
    want = _closed_form(bn, x, alpha)
    assert fitted.variables == bn.variables
    for v in bn.variables:
        assert fitted.parents(v) == bn.parents(v)
        np.testing.assert_allclose(fitted.cpds[v].values, want[v], rtol=0, atol=1e-14)
    as_dict = fit_counts(bn, {v: x[:, j] for j, v in enumerate(bn.variables)}, pseudo_count=alpha)
    for v in bn.variables:
        np.testing.assert_array_equal(as_dict.cpds[v].values, fitted.cpds[v].values)


def test_fit_counts_unseen_configuration_is_uniform_or_posterior_mean():
    bn = pgm.BayesianNetwork([
        pgm.TabularCPD("a", 2, [0.5, 0.5]),
        pgm.TabularCPD("b", 3, [0.2, 0.3, 0.5]),
        pgm.TabularCPD("c", 2, np.full((2, 2, 3), 0.5), ["a", "b"], [2, 3])])
    x = np.array([[0, 0, 1], [0, 0, 1], [0, 1, 0], [1, 2, 0]])    # (a=1, b=0) never seen
    ml = fit_counts(bn, x).cpds["c"].values
    np.testing.assert_array_equal(ml[:, 1, 0], [0.5, 0.5])
    np.testing.assert_array_equal(ml[:, 0, 0], [0.0, 1.0])
    mp = fit_counts(bn, x, pseudo_count=2.0).cpds["c"].values
    np.testing.assert_allclose(mp[:, 1, 0], [0.5, 0.5])
    np.testing.assert_allclose(mp[:, 0, 0], [2 / 6, 4 / 6])
    np.testing.assert_allclose(fit_counts(bn, x).cpds["b"].values, [0.5, 0.25, 0.25])


@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_em_on_complete_data_is_the_closed_form(alpha):
    bn = pgm.read_bif(pgm.example_path("asia"))
    x = samplers.ancestral(bn, 5000, seed=3)
    res = EM(bn, x, pseudo_count=alpha, seed=1)
    assert res.converged and res.iterations <= 2
    want = fit_counts(bn, x, pseudo_count=alpha)
    for v in bn.variables:
        np.testing.assert_allclose(res.model.cpds[v].values, want.cpds[v].values, atol=1e-13)
    _assert_monotone(res.objective)


# ---------------------------------------------------------------------------- E-step vs pgm.exact
@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("estep", ["auto", "enumerate", "tree"])
def test_first_em_step_equals_expected_counts_from_exact_inference(seed, estep):
    rng = np.random.default_rng(10 + seed)
    bn = random_bayesian_network(rng, n_vars=6, max_card=3, max_parents=2, p_edge=0.6)
    x = _hide(samplers.ancestral(bn, 150, seed=seed), 0.35, seed)
    x[:7, 0] = -1
    x[3] = -1                                        # a row with nothing observed
    expected = {v: np.zeros(bn.cpds[v].values.shape) for v in bn.variables}
    log_lik = 0.0
    for row in x:
        ev = {v: int(s) for v, s in zip(bn.variables, row) if s >= 0}
        log_lik += pgm.exact.log_partition(bn, evidence=ev)
        for v in bn.variables:
            fam = [v] + bn.parents(v)                 # table axes: (child, *parents)
            q = pgm.exact.query(bn, fam, evidence=ev)
            expected[v] += q
    res = EM(bn, x, max_iter=1, tol=0.0, init="model", estep=estep)
    assert res.log_likelihood[0] == pytest.approx(log_lik, rel=1e-12)
    for v in bn.variables:
        n = expected[v]
        theta = np.where(n.sum(axis=0) > 0, n / np.maximum(n.sum(axis=0), 1e-300),
                         1.0 / n.shape[0])
        np.testing.assert_allclose(res.model.cpds[v].values, theta, rtol=0, atol=1e-11)
    # the reported log-likelihood of the fitted model is its exact one
    again = EM(res.model, x, max_iter=0, init="model", estep=estep)
    assert again.log_likelihood[0] == pytest.approx(res.log_likelihood[-1], rel=1e-12)


def test_enumeration_and_clique_tree_e_steps_agree_on_alarm():
    bn = pgm.read_bif(pgm.example_path("alarm"))
    x = _hide(samplers.ancestral(bn, 600, seed=7), 0.2, 8)
    runs = {m: EM(bn, x, max_iter=4, tol=0.0, seed=2, estep=m)
            for m in ("enumerate", "tree", "auto")}
    ref = runs["tree"]
    for m, r in runs.items():
        np.testing.assert_allclose(r.log_likelihood, ref.log_likelihood, rtol=1e-11)
        for v in bn.variables:
            np.testing.assert_allclose(r.model.cpds[v].values, ref.model.cpds[v].values, atol=1e-10)
        _assert_monotone(r.log_likelihood)


# ---------------------------------------------------------------------------- recovery
def _column_errors(bn, model, reference=None):
    """Per parent configuration u of every family: (N·P(u) under the truth, max-abs error)."""
    out = []
    for v in bn.variables:
        pa = bn.parents(v)
        p_u = pgm.exact.query(bn, pa).reshape(-1) if pa else np.ones(1)
        k = bn.cardinalities[v]
        t = bn.cpds[v].values.reshape(k, -1)
        e = model.cpds[v].values.reshape(k, -1)
        out.extend((N * p_u[u], float(np.abs(e[:, u] - t[:, u]).max()), v, u)
                   for u in range(t.shape[1]))
    return out


def test_em_recovers_asia():
    """asia, 20 000 rows, 20 % hidden: every CPD entry within 0.05 of the truth."""
    bn = pgm.read_bif(pgm.example_path("asia"))
    x = samplers.ancestral(bn, N, seed=1)
    t0 = time.perf_counter()
    res = EM(bn, _hide(x, 0.2, 2), seed=0)
    seconds = time.perf_counter() - t0
    _assert_monotone(res.log_likelihood)
    assert res.converged
    err = max(e for _, e, _, _ in _column_errors(bn, res.model))
    mle = max(e for _, e, _, _ in _column_errors(bn, fit_counts(bn, x)))
    print(f"\nEM asia: {res.iterations} iterations, {seconds:.2f} s, {res.n_cases} distinct cases; "
          f"max-abs CPD error {err:.4f} (complete-data MLE on the same rows {mle:.4f})")
    assert err <= 0.05


def test_em_recovers_alarm():
    """alarm, 20 000 rows, 20 % hidden, random start.

    Asserted: (1) every CPD column whose parent configuration is expected at least 500 times
    in 20 000 rows (``N·P(u) ≥ 500`` under the true network) is within 0.05 max-abs of the
    truth (these columns hold at least 82 % of every family's probability mass); (2) for every
    family the error averaged over parent configurations weighted by their true probability,
    ``Σ_u P(u) max_x |θ̂(x|u) − θ(x|u)|``, is at most 0.02 (the complete-data MLE on the
    unhidden rows reaches 0.009; printed); (3) the log-likelihood never decreases and EM
    converges.  Not asserted: 0.05 over *all* columns — some configurations occur less than
    once in 20 000 rows, and even the complete-data MLE misses them by up to 0.8 (printed).
    """
    bn = pgm.read_bif(pgm.example_path("alarm"))
    x = samplers.ancestral(bn, N, seed=1)
    t0 = time.perf_counter()
    res = EM(bn, _hide(x, 0.2, 2), seed=0)
    seconds = time.perf_counter() - t0
    _assert_monotone(res.log_likelihood)
    assert res.converged
    cols = _column_errors(bn, res.model)
    mle_cols = _column_errors(bn, fit_counts(bn, x))
    frequent = [e for n, e, _, _ in cols if n >= 500]
    mle_frequent = [e for n, e, _, _ in mle_cols if n >= 500]
    weighted, mle_weighted, mass = {}, {}, {}
    for (n, e, v, _), (_, e_mle, _, _) in zip(cols, mle_cols):
        weighted[v] = weighted.get(v, 0.0) + n / N * e
        mle_weighted[v] = mle_weighted.get(v, 0.0) + n / N * e_mle
        mass[v] = mass.get(v, 0.0) + (n / N if n >= 500 else 0.0)
    worst_all = max(cols, key=lambda c: c[1])
    print(f"\nEM alarm: {res.iterations} iterations, {seconds:.2f} s, {res.n_cases} distinct "
          "cases; "
          f"columns with N·P(u) >= 500: {len(frequent)} of {len(cols)}, max-abs error "
          f"{max(frequent):.4f} (complete-data MLE {max(mle_frequent):.4f}); worst "
          f"probability-weighted family error {max(weighted.values()):.4f} "
          f"({max(weighted, key=weighted.get)}; complete-data MLE "
          f"{max(mle_weighted.values()):.4f}); those columns hold >= {min(mass.values()):.3f} "
          f"of each family's mass; over all columns {worst_all[1]:.3f} at "
          f"{worst_all[2]} configuration {worst_all[3]} (N·P(u) = {worst_all[0]:.2f}; "
          f"complete-data MLE over all columns {max(e for _, e, _, _ in mle_cols):.3f})")
    assert min(mass.values()) >= 0.8
    assert max(frequent) <= 0.05
    assert max(weighted.values()) <= 0.02


def test_em_learns_a_latent_class_model():
    """A latent binary cause of five observed children (the column of z is never observed)."""
    cpds = [pgm.TabularCPD("z", 2, [0.35, 0.65])]
    for i in range(5):
        p = [[0.85, 0.2], [0.15, 0.8]] if i % 2 == 0 else [[0.25, 0.9], [0.75, 0.1]]
        cpds.append(pgm.TabularCPD(f"x{i}", 2, p, ["z"], [2]))
    bn = pgm.BayesianNetwork(cpds)
    x = samplers.ancestral(bn, N, seed=4)
    data = {v: x[:, j] for j, v in enumerate(bn.variables) if v != "z"}   # z left out: latent
    res = EM(bn, data, max_iter=500, tol=1e-10, seed=0)
    _assert_monotone(res.log_likelihood)
    assert res.converged
    # the latent's labels are arbitrary: compare under the better of the two labellings
    errs = []
    for perm in ([0, 1], [1, 0]):
        e = np.abs(res.model.cpds["z"].values[perm] - bn.cpds["z"].values).max()
        for i in range(5):
            e = max(e, np.abs(res.model.cpds[f"x{i}"].values[:, perm]
                              - bn.cpds[f"x{i}"].values).max())
        errs.append(e)
    print(f"\nEM latent class: {res.iterations} iterations, max-abs error {min(errs):.4f}")
    assert min(errs) <= 0.05
    # the same data as an array with a column of -1 gives the same fit
    arr = x.copy()
    arr[:, 0] = -1
    same = EM(bn, arr, max_iter=500, tol=1e-10, seed=0)
    np.testing.assert_allclose(same.log_likelihood, res.log_likelihood, rtol=1e-13)


def test_pseudo_counts_climb_the_map_objective():
    bn = pgm.read_bif(pgm.example_path("asia"))
    x = _hide(samplers.ancestral(bn, 3000, seed=5), 0.3, 6)
    res = EM(bn, x, pseudo_count=1.0, seed=3, tol=1e-12, max_iter=300)
    _assert_monotone(res.objective)
    theta = np.concatenate([res.model.cpds[v].values.ravel() for v in bn.variables])
    penalty = res.objective[-1] - res.log_likelihood[-1]
    assert penalty == pytest.approx(np.log(theta).sum(), rel=1e-9)
    exact = EM(res.model, x, max_iter=0, init="model")
    assert exact.log_likelihood[0] == pytest.approx(res.log_likelihood[-1], rel=1e-12)
    # a fixed point of the MAP update: one more step changes nothing
    step = EM(res.model, x, max_iter=1, tol=0.0, pseudo_count=1.0, init="model")
    for v in bn.variables:
        np.testing.assert_allclose(step.model.cpds[v].values, res.model.cpds[v].values, atol=1e-6)
    assert all(np.all(res.model.cpds[v].values > 0) for v in bn.variables)


def test_nan_in_float_data_means_missing():
    bn = pgm.read_bif(pgm.example_path("asia"))
    x = _hide(samplers.ancestral(bn, 500, seed=1), 0.2, 1)
    f = x.astype(float)
    f[x < 0] = np.nan
    a = EM(bn, x, max_iter=5, seed=0)
    b = EM(bn, f, max_iter=5, seed=0)
    np.testing.assert_array_equal(a.log_likelihood, b.log_likelihood)
    assert isinstance(a, EMResult) and "EMResult" in repr(a)


# ---------------------------------------------------------------------------- errors
def test_typed_errors_name_the_bad_value():
    bn = pgm.read_bif(pgm.example_path("asia"))
    x = samplers.ancestral(bn, 50, seed=0)
    with pytest.raises(CardinalityError, match=r"\(n_rows, 8\)"):
        fit_counts(bn, x[:, :5])
    bad = x.copy()
    bad[3, 2] = 2
    with pytest.raises(EvidenceError, match=r"state 2 of variable 'smoke' \(row 3\)"):
        EM(bn, bad)
    bad[3, 2] = -2
    with pytest.raises(EvidenceError, match="-2"):
        fit_counts(bn, bad)
    hidden = x.copy()
    hidden[4, 1] = -1
    with pytest.raises(EvidenceError, match="'tub' is missing in row 4"):
        fit_counts(bn, hidden)
    with pytest.raises(EvidenceError, match="0.5"):
        EM(bn, np.where(x == 1, 0.5, x))
    with pytest.raises(UnknownVariableError, match="nope"):
        EM(bn, {"nope": [0, 1]})
    with pytest.raises(ModelError, match="no column for 'tub'"):
        fit_counts(bn, {v: x[:, j] for j, v in enumerate(bn.variables) if v != "tub"})
    with pytest.raises(ValueError, match="init"):
        EM(bn, x, init="kmeans")
    with pytest.raises(ValueError, match="pseudo_count"):
        fit_counts(bn, x, pseudo_count=-1)
    logistic = pgm.BayesianNetwork([pgm.TabularCPD("a", 2, [0.5, 0.5]),
                                    pgm.LogisticCPD("b", ["a"], [1.0])])
    with pytest.raises(ModelError, match="'b' has a LogisticCPD"):
        fit_counts(logistic, [[0, 1]])
    # a row the starting model gives probability zero
    det = pgm.BayesianNetwork([pgm.TabularCPD("a", 2, [1.0, 0.0]),
                               pgm.TabularCPD("b", 2, [[1.0, 0.0], [0.0, 1.0]], ["a"], [2])])
    with pytest.raises(EvidenceError, match=r"row 1 .* probability zero .*'b': 1"):
        EM(det, [[-1, 0], [-1, 1]], init="model")
    with pytest.raises(EvidenceError, match=r"row 0 .* probability zero"):
        EM(det, [[1, -1]], init="model")
