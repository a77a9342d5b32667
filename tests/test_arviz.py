"""``Samples.to_arviz()`` works with ArviZ's diagnostics on both ArviZ lines.

ArviZ 0.2x (Python 3.11, ``InferenceData``) and ArviZ ≥ 1 (Python ≥ 3.12, ``DataTree``): for
every model family — discrete with states (Ising, MarkovNetwork via Gibbs), layered (RBM),
continuous (GaussianEnergy via HMC), tempered runs (replica exchange, simulated tempering), DAE
chains — with and without states, ``az.summary`` has one row per state variable and recorded
observable, ``az.ess`` / ``az.rhat`` are finite, and the state dimension is ``x_dim_0``.  ArviZ
1.x once failed here in two ways: a state dimension called ``variable`` clashed with xarray's
``to_stacked_array`` (``az.summary`` raised), and a run with no states and no observables gave
an empty posterior (``az.summary`` raised on ``sample_dims``).  ``.ci/run`` runs this file under
Python 3.12 / ArviZ 1.x too.
"""

import warnings

import arviz as az
import numpy as np
import pandas as pd
import pytest

import pgm
import samplers

ARVIZ_MAJOR = int(az.__version__.split(".")[0])
KW = dict(chains=2, draws=120, seed=3, progress=False)


def _markov_network():
    rng = np.random.default_rng(0)
    factors = [pgm.DiscreteFactor(scope, rng.uniform(0.5, 2.0, size=(2, 2)))
               for scope in (("a", "b"), ("b", "c"), ("c", "a"))]
    return pgm.MarkovNetwork(factors)


def _dae():
    from pgm.autoencoder_chain import DAEChain

    return DAEChain(3, hidden=(8,), noise=0.3, seed=0)


#: family -> a function returning its Samples
RUNS = {
    "ising_gibbs": lambda: samplers.sample(pgm.Ising.grid(3, 3, beta=0.3), **KW),
    "ising_no_states": lambda: samplers.sample(pgm.Ising.grid(3, 3, beta=0.3), keep_states=False, **KW),
    "markov_network_gibbs": lambda: samplers.sample(_markov_network(), method="gibbs", **KW),
    "rbm_block_gibbs": lambda: samplers.sample(pgm.RBM(4, 3, seed=1), include_hidden=True, **KW),
    "gaussian_hmc": lambda: samplers.sample(pgm.GaussianEnergy(np.zeros(3), np.eye(3)), method="hmc", **KW),
    "parallel_tempering": lambda: samplers.parallel_tempering(
        pgm.Ising.grid(3, 3, beta=0.5), samplers.geometric_betas(0.3, 3), **KW),
    "simulated_tempering": lambda: samplers.simulated_tempering(
        pgm.Ising.grid(3, 3, beta=0.5), samplers.geometric_betas(0.3, 3), **KW),
    "dae_chain": lambda: samplers.sample(_dae(), method="dae_chain", **KW),
}
_CACHE = {}


def _run(name):
    if name not in _CACHE:
        _CACHE[name] = RUNS[name]()
    return _CACHE[name]


def _posterior(idata):
    return idata.posterior


def _expected_rows(s, include_states):
    """``az.summary`` rows: ``x[<name>]`` per state variable, then the observables; with neither,
    the copy of ``lp`` (or, without ``lp``, of the numeric sample statistics)."""
    rows = []
    if include_states and s.states is not None:
        rows += [f"x[{v}]" for v in s.variables]
    rows += list(s.observables)
    if not rows:
        rows = ["lp"] if "lp" in s.sample_stats else \
            [k for k, v in s.sample_stats.items() if np.asarray(v).dtype.kind in "fiu"]
    return rows


def _values(ds, name):
    return np.asarray(ds[name].values, dtype=float)


@pytest.mark.parametrize("include_states", [True, False], ids=["states", "no_states"])
@pytest.mark.parametrize("name", sorted(RUNS))
def test_summary_ess_rhat_and_dims(name, include_states):
    s = _run(name)
    idata = s.to_arviz(include_states=include_states)
    post = _posterior(idata)
    sizes = dict(post.sizes)
    assert sizes["chain"] == s.chains and sizes["draw"] == s.draws
    assert "variable" not in sizes  # the name that clashed with xarray's to_stacked_array
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant columns etc. are not this test's business
        summary = az.summary(idata)
        ess = az.ess(idata)
        rhat = az.rhat(idata)
    assert isinstance(summary, pd.DataFrame)
    assert list(summary.index) == _expected_rows(s, include_states)
    assert {"mean", "sd", "ess_bulk", "r_hat"} <= set(summary.columns)

    if include_states and s.states is not None:
        assert post["x"].dims == ("chain", "draw", samplers.Samples.state_dim) == ("chain", "draw", "x_dim_0")
        assert [str(c) for c in post["x_dim_0"].values] == [str(v) for v in s.variables]
        np.testing.assert_array_equal(post["x"].values, s.states)
    else:
        assert "x" not in post.data_vars
    recorded = list(post.data_vars)
    assert recorded and set(recorded) == set(ess.data_vars) == set(rhat.data_vars)
    for k in recorded:
        e, r = _values(ess, k), _values(rhat, k)
        assert np.all(np.isfinite(e)) and np.all(e > 0), (k, e)
        assert np.all(np.isfinite(r)), (k, r)
    # sample statistics stay where ArviZ looks for them, whatever went to the posterior
    assert set(s.sample_stats) <= set(idata.sample_stats.data_vars)
    for k, v in s.sample_stats.items():
        np.testing.assert_array_equal(idata.sample_stats[k].values, v)


def test_empty_posterior_takes_lp_and_keeps_sample_stats():
    s = _run("gaussian_hmc")
    idata = s.to_arviz(include_states=False)
    assert list(_posterior(idata).data_vars) == ["lp"]
    np.testing.assert_array_equal(_posterior(idata)["lp"].values, s.sample_stats["lp"])
    assert {"lp", "energy", "diverging", "step_size"} <= set(idata.sample_stats.data_vars)
    # the default with states is unchanged: x only, lp stays a sample statistic
    assert list(_posterior(s.to_arviz()).data_vars) == ["x"]


def test_dae_chain_without_states_summarises_its_squared_jump():
    s = _run("dae_chain")
    assert "lp" not in s.sample_stats
    idata = s.to_arviz(include_states=False)
    assert list(_posterior(idata).data_vars) == ["squared_jump"]


def test_var_names_selection_of_observables():
    s = _run("ising_gibbs")
    idata = s.to_arviz()
    summary = az.summary(idata, var_names=["energy", "magnetization"])
    assert list(summary.index) == ["energy", "magnetization"]
    rhat = az.rhat(idata, var_names=["energy"])["energy"]
    assert np.isfinite(float(rhat.values))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # matplotlib 3.11 vs ArviZ 0.23 internals
@pytest.mark.parametrize("name", ["ising_gibbs", "rbm_block_gibbs", "gaussian_hmc", "dae_chain"])
def test_plot_trace(name):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = _run(name)
    try:
        for include_states in (True, False):
            az.plot_trace(s.to_arviz(include_states=include_states))
    finally:
        plt.close("all")
