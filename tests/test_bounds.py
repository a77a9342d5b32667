"""The importance-weighted DBN bound (samplers.dbn_log_likelihood) against the exact
log-likelihood by enumeration: below it in expectation for every K, tighter as K grows, and
close to it for large K."""

import numpy as np
import pytest

import pgm
import samplers


@pytest.mark.parametrize("sizes", [(5, 3, 2), (5, 3, 3, 2)])
def test_dbn_bound_is_below_and_approaches_the_exact_log_likelihood(sizes):
    rng = np.random.default_rng(0)
    dbn = pgm.DBN(list(sizes), seed=1)
    dbn.set_params(**{k: 2.0 * rng.standard_normal(np.shape(v)) for k, v in dbn.params.items()})
    v = (rng.random((8, sizes[0])) < 0.5).astype(float)
    exact = pgm.exact.log_likelihood(dbn, v)
    log_z = dbn.top_rbm.exact_log_partition()
    # K = 1, repeated: E[bound] ≤ log p(v); the repeats give the standard error of the mean
    reps = np.array([samplers.dbn_log_likelihood(dbn, v, log_z, samples=1, seed=s).per_example
                     for s in range(400)])
    mean, se = reps.mean(0), reps.std(0, ddof=1) / np.sqrt(len(reps))
    assert np.all(mean <= exact + 4 * se), (mean - exact) / se
    assert np.mean(exact - mean) > 0.05          # K = 1 is visibly loose on these weights
    k100 = np.array([samplers.dbn_log_likelihood(dbn, v, log_z, samples=100, seed=s).per_example
                     for s in range(20)])
    gain = k100.mean(0) - mean                      # per example, both estimates independent
    gain_se = np.hypot(k100.std(0, ddof=1) / np.sqrt(len(k100)), se)
    assert gain.mean() > 4 * np.sqrt(np.sum(gain_se**2)) / gain.size
    # K = 20 000: the bias (≈ −Var(w)/(2K p²)) is far below the spread of the estimate, so the
    # mean of repeated estimates agrees with the exact value within its standard error
    tight = np.array([samplers.dbn_log_likelihood(dbn, v, log_z, samples=20000, seed=100 + s).per_example
                      for s in range(10)])
    t_se = tight.std(0, ddof=1) / np.sqrt(len(tight))
    assert np.all(t_se < 0.03)
    assert np.all(np.abs(tight.mean(0) - exact) <= 4 * t_se + 1e-3), (tight.mean(0) - exact) / t_se
    r = samplers.dbn_log_likelihood(dbn, v, log_z, samples=3, seed=0)
    assert r.log_z == log_z and r.std_log_z == 0.0 and r.per_example.shape == (8,)


def test_dbn_bound_rejects_bad_input():
    dbn = pgm.DBN([3, 2, 2], seed=0)
    with pytest.raises(TypeError, match="pgm.DBN"):
        samplers.dbn_log_likelihood(pgm.RBM(3, 2), [[0, 1, 0]], 0.0)
    with pytest.raises(ValueError, match="samples"):
        samplers.dbn_log_likelihood(dbn, [[0, 1, 0]], 0.0, samples=0)
    with pytest.raises(pgm.errors.EvidenceError, match="binary"):
        samplers.dbn_log_likelihood(dbn, [[0, 2, 0]], 0.0)
    with pytest.raises(pgm.errors.CardinalityError):
        samplers.dbn_log_likelihood(dbn, [[0, 1]], 0.0)
    with pytest.raises(ValueError, match="finite"):
        samplers.dbn_log_likelihood(dbn, [[0, 1, 0]], np.nan)
