"""Convergence diagnostics, convergence warnings and progress bars (issue 15, items 4 and 5).

* ``samplers.rhat`` / ``samplers.ess`` against ArviZ's rank-normalised R-hat and bulk ESS on
  AR(1) chains of known autocorrelation, continuous and discrete;
* the warning fires in the three cases of the issue — plain block Gibbs on Grids_11 (marginal
  errors 0.48, R-hat 2.6), the ``pgm demo`` with too few draws, AIS with 200 β on Grids_11 —
  and names the quantity and the remedy; it stays silent on converged runs and with
  ``warn=False``;
* progress bars: shown when asked for (tqdm, with a rate), and the numbers do not depend on them.
"""

import os
import warnings

import numpy as np
import pytest

import estimators
import pgm
import samplers
from estimators.cli import main
from samplers import diagnostics

az = pytest.importorskip("arviz")
UAI = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "uai2014")


def _ar1(rng, chains, draws, phi, k):
    x = np.zeros((chains, draws, k))
    e = rng.normal(size=(chains, draws, k))
    x[:, 0] = e[:, 0] / np.sqrt(1 - phi ** 2)
    for t in range(1, draws):
        x[:, t] = phi * x[:, t - 1] + e[:, t]
    return x


@pytest.mark.parametrize("phi", [0.0, 0.6, 0.95])
def test_rhat_and_ess_agree_with_arviz(phi):
    x = _ar1(np.random.default_rng(3), 4, 600, phi, 3)
    x[2, :, 1] += 1.0                          # one chain shifted: R-hat well above 1
    r, e = samplers.rhat(x), samplers.ess(x)
    for j in range(3):
        assert r[j] == pytest.approx(float(az.rhat(x[..., j], method="rank")), rel=1e-10)
        # ArviZ counts the last autocorrelation pair once; the two sums differ by < 2 %
        assert e[j] == pytest.approx(float(az.ess(x[..., j], method="bulk")), rel=0.02)
    assert r[1] > 1.05 and r[1] > r[0]
    if phi == 0.0:                             # independent draws, same law in every chain
        assert r[0] < 1.01


def test_discrete_states_are_ranked_by_counting_like_arviz():
    rng = np.random.default_rng(5)
    x = (_ar1(rng, 4, 500, 0.8, 4) > np.array([-1.0, 0.0, 0.5, 1.2])).astype(np.int8)
    x[..., 3] += (x[..., 2] * 2).astype(np.int8)                # a 4-state variable
    r, e = diagnostics._diagnose(x, discrete=True)
    for j in range(4):
        xf = x[..., j].astype(float)
        assert r[j] == pytest.approx(float(az.rhat(xf, method="z_scale")), rel=1e-10)
        assert e[j] == pytest.approx(float(az.ess(xf, method="bulk")), rel=0.02)


def test_constant_quantities_are_not_diagnosed_and_bad_shapes_raise():
    x = np.ones((4, 100, 2))
    x[..., 1] = np.random.default_rng(0).normal(size=(4, 100))
    r = samplers.rhat(x)
    assert np.isnan(r[0]) and r[1] < 1.05
    with pytest.raises(ValueError, match="at least 4 draws"):
        samplers.rhat(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="chain, draw"):
        samplers.ess(np.zeros(10))


def test_check_strides_and_subsets_large_runs_within_the_budget():
    s = samplers.sample(pgm.Ising.grid(10, 10, beta=0.2), method="block_gibbs", chains=4, draws=1000,
                        seed=0, warn=False, progress=False)
    full = diagnostics.check(s)
    assert len(full) == 100 + 2                 # every variable and both observables
    small = diagnostics.check(s, budget=4 * 100 * 10)   # 100 draws per chain kept, then 10 variables
    assert len(small) == 10 + 2
    assert small["magnetization"] == full["magnetization"]  # observables are never strided


def _convergence_warnings(record):
    return [w for w in record if issubclass(w.category, samplers.ConvergenceWarning)]


@pytest.mark.skipif(not os.path.exists(os.path.join(UAI, "Grids_11.uai")), reason="shared/uai2014 missing")
def test_plain_block_gibbs_on_grids_11_warns_and_names_the_variables():
    mn = pgm.read_uai(os.path.join(UAI, "Grids_11.uai"), evidence=os.path.join(UAI, "Grids_11.uai.evid"))
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        samplers.sample(mn, method="block_gibbs", chains=4, draws=1000, seed=0, progress=False)
    (w,) = _convergence_warnings(rec)
    text = str(w.message)
    assert "R-hat" in text and "'x[" in text and "parallel_tempering" in text
    assert w.filename == __file__                # points at the caller, not at the driver


@pytest.mark.skipif(not os.path.exists(os.path.join(UAI, "Grids_11.uai")), reason="shared/uai2014 missing")
def test_ais_with_200_betas_on_grids_11_warns_about_its_weights():
    mn = pgm.read_uai(os.path.join(UAI, "Grids_11.uai"), evidence=os.path.join(UAI, "Grids_11.uai.evid"))
    with pytest.warns(samplers.ConvergenceWarning, match=r"effective sample size is \d+\.\d of 100 runs") as rec:
        r = samplers.ais(mn, betas=200, runs=100, seed=0)
    assert r.ess < 10 and "more inverse temperatures" in str(rec[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error", samplers.ConvergenceWarning)
        samplers.ais(mn, betas=200, runs=100, seed=0, warn=False)


def test_demo_with_too_few_draws_warns_in_one_line(capsys):
    assert main(["demo", "--size", "32", "--method", "block_gibbs", "--draws", "300"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    (line,) = [e for e in err if e.startswith("pgm: warning:")]
    assert "has not converged" in line and "'magnetization'" in line and "swendsen_wang" in line


def test_converged_runs_are_silent(capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("error", samplers.ConvergenceWarning)
        s = samplers.sample(pgm.Ising.grid(8, 8, beta=0.3), method="block_gibbs", chains=4, draws=2000,
                            seed=0, progress=False)
        table = diagnostics.check(s)
        assert max(r for r, _ in table.values()) < 1.01 and min(e for _, e in table.values()) > 100
        samplers.ais(pgm.Ising.grid(4, 4, beta=0.3), betas=300, runs=50, seed=0)
        assert main(["demo", "--size", "16", "--draws", "2000"]) == 0
    assert "warning" not in capsys.readouterr().err


def test_warn_false_is_quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("error", samplers.ConvergenceWarning)
        samplers.sample(pgm.Ising.grid(16, 16, beta=0.5), method="gibbs", chains=2, draws=20, seed=0,
                        warn=False, progress=False)


def test_progress_bars_show_a_rate_and_do_not_change_the_numbers(capsys):
    model = pgm.Ising.grid(6, 6, beta=0.3)
    quiet = samplers.sample(model, chains=2, draws=300, seed=4, progress=False, warn=False)
    shown = samplers.sample(model, chains=2, draws=300, seed=4, progress=True, warn=False)
    err = capsys.readouterr().err
    assert "sweep/s" in err and "100%" in err
    np.testing.assert_array_equal(quiet.states, shown.states)
    np.testing.assert_array_equal(quiet.final_state.rng_state, shown.final_state.rng_state)

    r0 = samplers.ais(model, betas=50, runs=10, seed=1, progress=False)
    r1 = samplers.ais(model, betas=50, runs=10, seed=1, progress=True)
    assert "β/s" in capsys.readouterr().err and r0.log_z == r1.log_z

    x = np.random.default_rng(0).integers(0, 2, (200, 6))
    bm = pgm.BoltzmannMachine(np.zeros((6, 6)))
    h = estimators.fit(bm, x, estimators.PCD(k=1, chains=20), estimators.SGD(0.01), epochs=2,
                       batch_size=50, seed=0, progress=True)
    err = capsys.readouterr().err
    assert "epoch 2/2" in err and "batch/s" in err and len(h) == 2

    with samplers.progress.Progress(10, None, "x") as bar:   # None: only on a terminal
        assert bar.enabled is False
