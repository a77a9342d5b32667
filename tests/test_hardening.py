"""Regression tests of issue 16 (hardening) for the defects outside the file readers (those are in
tests/test_hardening_io.py; checkpoint resume of every objective × sampler, item 5, is
tests/test_estimators_training.py::test_resumed_run_equals_uninterrupted_run).  Each failed
before its fix."""

import math
import warnings

import numpy as np
import pytest

import estimators as E
import pgm
import samplers
from pgm.errors import ModelError, SamplingError


def _impossible_evidence_model():
    """``a = 0`` forces ``b = 1`` and a unary factor forbids ``b = 1``: P(a = 0) = 0."""
    pair = pgm.DiscreteFactor(["a", "b"], np.array([[0.0, 1.0], [1.0, 1.0]]))
    return pgm.MarkovNetwork([pair, pgm.DiscreteFactor(["b"], np.array([1.0, 0.0]))])


def test_gibbs_refuses_to_return_states_of_probability_zero():
    """Item 6: Gibbs under zero-probability evidence returned states with lp = -inf."""
    mn = _impossible_evidence_model()
    with pytest.raises(ModelError, match="has probability zero"):
        pgm.exact.marginals(mn, evidence={"a": 0})
    with pytest.raises(SamplingError, match=r"draw \d+ of chain \d+ has probability zero"):
        samplers.sample(mn, evidence={"a": 0}, draws=10, seed=0, progress=False)
    s = samplers.sample(mn, evidence={"a": 1}, draws=50, seed=0, progress=False, warn=False)
    assert np.isfinite(s.sample_stats["lp"]).all()          # possible evidence still samples


def test_training_that_blows_up_the_parameters_stops_with_a_typed_error():
    """Item 7: fit(RBM, x, CD(1), SGD(1e308)) returned |W| = 1.25e307 with RuntimeWarnings only."""
    rbm = pgm.RBM(6, 3, seed=0)
    x = np.random.default_rng(0).integers(0, 2, (50, 6))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)      # numpy's overflow notes on the way
        with pytest.raises(FloatingPointError, match=r"after epoch 1 reached \|W\|"):
            E.fit(rbm, x, E.CD(1), E.SGD(1e308), epochs=3, progress=False)


def test_ais_says_when_its_interval_is_unreliable_and_then_still_covers_the_truth():
    """Item 8: 4×4 Ising with J = 1e4, 200 β, 16 runs reported log Z = 318802 ± 1 (ESS 1)
    against the exact 320000.69."""
    m = pgm.Ising.grid(4, 4, coupling=1e4, beta=1.0)
    exact = pgm.exact.log_partition(m)
    with pytest.warns(samplers.ConvergenceWarning, match="effective sample size"):
        r = samplers.ais(m, betas=200, runs=16, seed=0)
    assert not r.reliable and abs(r.log_z - exact) > 100 * r.log_z_std    # the ± alone misleads
    lo, hi = r.interval(0.95)
    assert lo <= exact < hi == math.inf


@pytest.mark.parametrize("seed", range(5))
def test_ais_intervals_still_cover_the_truth_on_calibrated_cases(seed):
    m = pgm.Ising.grid(4, 4, beta=0.3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", samplers.ConvergenceWarning)
        r = samplers.ais(m, betas=300, runs=50, seed=seed)
    lo, hi = r.interval(0.999)
    assert r.reliable and lo < pgm.exact.log_partition(m) < hi and hi - lo < 1.0


def test_cpd_tolerance_must_be_a_number_in_0_1():
    """Item 9: TabularCPD(tolerance=nan) accepted unnormalised tables."""
    for bad in (float("nan"), -1e-3, 1.5, "0.1", True):
        with pytest.raises(ValueError, match="tolerance"):
            pgm.TabularCPD("a", 2, [[0.3], [0.3]], tolerance=bad)


def test_seeds_accept_generators_and_give_typed_errors():
    """Item 9: sample(seed=...) took no Generator (fit does) and gave numpy's errors for bad seeds."""
    m = pgm.Ising.grid(3, 3, beta=0.2)
    kw = dict(draws=5, progress=False, warn=False)
    a = samplers.sample(m, seed=np.random.default_rng(7), **kw).states
    b = samplers.sample(m, seed=np.random.default_rng(7), **kw).states
    np.testing.assert_array_equal(a, b)
    for bad, error in (("abc", TypeError), (1.5, TypeError), (True, TypeError), ([], TypeError), (-1, ValueError)):
        with pytest.raises(error, match="seed"):
            samplers.sample(m, seed=bad, **kw)
    with pytest.raises(ValueError, match="seed"):
        samplers.ais(m, betas=10, runs=4, seed=-3)


def test_a_model_with_no_possible_state_is_an_error_but_impossible_evidence_is_minus_infinity():
    """Item 9: an all-zero factor gave log Z = -inf silently."""
    with pytest.raises(ModelError, match="Z = 0"):
        pgm.exact.log_partition(pgm.MarkovNetwork([pgm.DiscreteFactor(["a"], np.zeros(2))]))
    assert pgm.exact.log_partition(_impossible_evidence_model(), evidence={"a": 0}) == -math.inf
