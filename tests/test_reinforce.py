"""The score-function (REINFORCE) estimator, estimators.gradient_estimators.reinforce (SPEC.md §5).

Acceptance: on ``z ~ Π_i Bernoulli(σ(φ_i))`` (3 units) with a fixed function ``f`` (a random
table over the 8 states), the exact ``∂/∂φ E[f] = Σ_z f(z) p(z) (z − σ(φ))`` by enumeration;
10^5 draws: the estimate lies within 4 standard errors (the per-draw terms' sample standard
deviation / √n) of the exact gradient in every component, with and without a baseline, and a
baseline learned from independent draws (their mean of f) cuts the per-draw variance ≥ 5× in
every component (measured ratio printed in the failure message).  Plus: the dict and callable
forms agree, scalar and per-row baselines agree, typed errors.
"""

import numpy as np
import pytest

from estimators.gradient_estimators import reinforce
from pgm.errors import CardinalityError
from pgm.sigmoid_belief import Recognition

PHI = np.array([0.4, -0.7, 1.1])
N = 100_000


def _problem():
    p = 1 / (1 + np.exp(-PHI))
    table = 5.0 + np.random.default_rng(0).normal(size=8)      # f(z), z coded as Σ z_i 2^i
    states = ((np.arange(8)[:, None] >> np.arange(3)) & 1).astype(float)
    pz = np.prod(np.where(states == 1, p, 1 - p), axis=1)
    exact = (table * pz) @ (states - p)
    return p, table, states, pz, exact


def _draw(p, table, n, seed):
    z = (np.random.default_rng(seed).random((n, 3)) < p).astype(float)
    return z, table[(z @ [1, 2, 4]).astype(int)], z - p          # draws, f(z), score ∂ log q/∂φ


def test_reinforce_is_unbiased_and_the_baseline_cuts_the_variance():
    p, table, states, pz, exact = _problem()
    z, f, score = _draw(p, table, N, seed=1)
    # a "learned" constant baseline: the mean of f over independent draws (independent of z_k)
    b = _draw(p, table, 10_000, seed=2)[1].mean()
    variances = {}
    for name, base in (("none", None), ("learned", b), ("exact", float(table @ pz))):
        g = reinforce(f, {"phi": score}, baseline=base)["phi"]
        terms = (f - (0.0 if base is None else base))[:, None] * score
        assert np.allclose(g, terms.mean(axis=0), rtol=1e-12, atol=0)
        se = terms.std(axis=0, ddof=1) / np.sqrt(N)
        z_scores = (g - exact) / se
        assert np.all(np.abs(z_scores) < 4), f"baseline {name}: z = {z_scores}"
        variances[name] = terms.var(axis=0, ddof=1)
    for name in ("learned", "exact"):
        ratio = variances["none"] / variances[name]
        assert np.all(ratio >= 5), f"variance ratio with the {name} baseline: {ratio}"


def test_dict_and_callable_scores_agree_and_baseline_shapes():
    q = Recognition((4, 3, 2), seed=0, scale=1.0)
    rng = np.random.default_rng(3)
    v = (rng.random((50, 4)) < 0.5).astype(float)
    h = q.sample(v, rng.random(q.noise_shapes(50)["uniform"]))
    f = rng.normal(size=50)
    b = rng.normal(size=50)
    from_dict = reinforce(f, q.score(v, h), baseline=b)
    from_fn = reinforce(f, lambda w: q.grad_log_prob(v, h, weights=w), baseline=b)
    assert sorted(from_dict) == sorted(from_fn) == sorted(q.params)
    for k in from_dict:
        assert from_dict[k].shape == q.params[k].shape
        assert np.allclose(from_dict[k], from_fn[k], atol=1e-12)
    scalar = reinforce(f, q.score(v, h), baseline=0.7)
    per_row = reinforce(f, q.score(v, h), baseline=np.full(50, 0.7))
    assert all(np.allclose(scalar[k], per_row[k], atol=1e-14) for k in scalar)


def test_reinforce_typed_errors():
    s = {"a": np.zeros((4, 2))}
    with pytest.raises(CardinalityError):
        reinforce(np.zeros((4, 1)), s)
    with pytest.raises(CardinalityError):
        reinforce(np.zeros(3), s)
    with pytest.raises(CardinalityError):
        reinforce(np.zeros(4), s, baseline=np.zeros(3))
    with pytest.raises(ValueError):
        reinforce(np.array([0.0, np.nan, 0.0, 0.0]), s)
    with pytest.raises(ValueError):
        reinforce(np.zeros(4), s, baseline=np.inf)
    with pytest.raises(TypeError):
        reinforce(np.zeros(4), [np.zeros((4, 2))])
    with pytest.raises(TypeError):
        reinforce(["a", "b"], s)
