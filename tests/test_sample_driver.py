"""samplers.sample: reproducibility across thread counts, exact continuation, ArviZ output,
observables, and typed errors for bad input."""

import numpy as np
import pytest

import pgm
import samplers
from pgm.errors import CardinalityError, EvidenceError, ModelError, UnknownVariableError


MODELS = {
    "ising": lambda: pgm.Ising.grid(6, 6, coupling=1.0, field=0.1, beta=0.4),
    "ising_general": lambda: pgm.Ising.grid(4, 5, coupling=np.linspace(-1, 1, 40), beta=0.7),
    "potts": lambda: pgm.Potts(pgm.Ising.grid(4, 4).graph, q=3, beta=0.9),
    "markov": lambda: pgm.read_bif(pgm.example_path("asia")).to_markov_network(),
}


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("method", ["gibbs", "block_gibbs", "metropolis"])
def test_same_seed_same_states_with_one_and_two_threads(name, method):
    model = MODELS[name]()
    runs = []
    for n in (1, 2):
        with samplers.threads(n):
            runs.append(samplers.sample(model, method=method, chains=5, draws=30, warmup=7,
                                        thin=2, seed=42, progress=False))
    np.testing.assert_array_equal(runs[0].states, runs[1].states)
    for k in runs[0].sample_stats:
        np.testing.assert_array_equal(runs[0].sample_stats[k], runs[1].sample_stats[k])
    other = samplers.sample(model, method=method, chains=5, draws=30, warmup=7, thin=2, seed=43,
                            progress=False)
    assert not np.array_equal(other.states, runs[0].states)


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("method, scan", [("gibbs", "systematic"), ("gibbs", "random"),
                                          ("block_gibbs", "systematic"), ("metropolis", "random")])
def test_continuing_from_final_state_equals_one_longer_run(name, method, scan, tmp_path):
    model = MODELS[name]()
    full = samplers.sample(model, method=method, scan=scan, chains=3, draws=40, warmup=5, seed=7,
                           progress=False)
    first = samplers.sample(model, method=method, scan=scan, chains=3, draws=15, warmup=5, seed=7,
                            progress=False)
    first.final_state.save(tmp_path / "ckpt.npz")  # checkpoint through a file, no pickle
    state = samplers.ChainState.load(tmp_path / "ckpt.npz")
    second = samplers.sample(model, method=method, scan=scan, draws=25, warmup=0, init=state,
                             seed=999, progress=False)
    np.testing.assert_array_equal(np.concatenate([first.states, second.states], axis=1), full.states)
    np.testing.assert_array_equal(second.final_state.rng_state, full.final_state.rng_state)


def test_recorded_observables_and_lp_match_recomputation():
    m = pgm.Ising.grid(5, 5, coupling=0.8, field=-0.2, beta=0.5)
    s = samplers.sample(m, method="block_gibbs", chains=3, draws=20, seed=1, progress=False,
                        observables={"corner": lambda x: x[..., 0].astype(float)})
    flat = s.states.reshape(-1, 25)
    np.testing.assert_allclose(s.observables["energy"].reshape(-1), m.energy(flat), atol=1e-9)
    np.testing.assert_allclose(s.observables["magnetization"].reshape(-1), flat.mean(1), atol=1e-12)
    np.testing.assert_allclose(s.sample_stats["lp"].reshape(-1), m.log_unnormalized(flat), atol=1e-9)
    np.testing.assert_array_equal(s.observables["corner"], s.states[..., 0])
    bm = pgm.BoltzmannMachine(np.array([[0, 0.5, 0], [0.5, 0, -1.0], [0, -1.0, 0]]), [0.1, 0.2, 0.3])
    s = samplers.sample(bm, chains=2, draws=10, seed=3, progress=False)
    flat = s.states.reshape(-1, 3)
    np.testing.assert_allclose(s.observables["energy"].reshape(-1), bm.energy(flat), atol=1e-12)
    mn = pgm.read_bif(pgm.example_path("asia")).to_markov_network()
    s = samplers.sample(mn, chains=2, draws=10, seed=3, progress=False)
    np.testing.assert_allclose(s.sample_stats["lp"].reshape(-1), mn.log_unnormalized(s.states.reshape(-1, 8)))


def test_keep_states_false_records_only_observables():
    m = pgm.Ising.grid(16, 16, beta=0.3)
    s = samplers.sample(m, chains=2, draws=50, seed=0, keep_states=False, progress=False)
    assert s.states is None and s.observables["magnetization"].shape == (2, 50)
    ref = samplers.sample(m, chains=2, draws=50, seed=0, progress=False)
    np.testing.assert_array_equal(ref.observables["energy"], s.observables["energy"])


def test_to_arviz_summary_rhat_ess():
    import arviz as az

    m = pgm.Ising.grid(8, 8, beta=0.3)
    s = samplers.sample(m, method="block_gibbs", chains=4, draws=400, seed=5, progress=False)
    idata = s.to_arviz()
    assert dict(idata.posterior.sizes)["chain"] == 4 and dict(idata.posterior.sizes)["draw"] == 400
    assert "lp" in idata.sample_stats and "energy" not in idata.sample_stats
    summary = az.summary(idata, var_names=["energy", "magnetization"])
    assert {"mean", "sd", "ess_bulk", "r_hat"} <= set(summary.columns)
    assert summary.loc["energy", "r_hat"] < 1.05
    rhat = az.rhat(idata, var_names=["energy"])["energy"].item()
    ess = az.ess(idata, var_names=["energy"])["energy"].item()
    assert 1.0 - 1e-9 <= rhat < 1.05 and 100 < ess <= 1600 * 1.5
    mt = samplers.sample(m, method="metropolis", chains=2, draws=20, seed=5, progress=False).to_arviz()
    assert "acceptance_rate" in mt.sample_stats


def test_bad_input_is_rejected_with_typed_errors():
    m = pgm.Ising.grid(4, 4)
    for kw, match in [({"chains": 0}, "chains"), ({"draws": 0}, "draws"), ({"thin": 0}, "thin"),
                      ({"warmup": -1}, "warmup"), ({"chains": 2.5}, "chains"),
                      ({"method": "hmc"}, "unknown method"), ({"scan": "zigzag"}, "unknown scan"),
                      ({"blocks": [[0]]}, "block_gibbs")]:
        with pytest.raises(ValueError, match=match):
            samplers.sample(m, progress=False, **kw)
    with pytest.raises(UnknownVariableError):
        samplers.sample(m, evidence={99: 1}, progress=False)
    with pytest.raises(EvidenceError):
        samplers.sample(m, evidence={0: 0}, progress=False)  # spins are ±1
    with pytest.raises(ModelError, match="shape"):
        samplers.sample(m, chains=2, init=np.ones((3, 16), dtype=np.int8), progress=False)
    with pytest.raises(EvidenceError):
        samplers.sample(m, chains=2, init=np.zeros((2, 16), dtype=np.int8), progress=False)
    with pytest.raises(TypeError):
        samplers.sample(m, chains=2, init=np.ones((2, 16)) * 0.5, progress=False)
    with pytest.raises(TypeError):
        samplers.sample("not a model", progress=False)
    with pytest.raises(TypeError):
        samplers.sample(m, observables={"x": 3}, progress=False)
    with pytest.raises(ModelError, match="observable"):
        samplers.sample(m, draws=5, observables={"bad": lambda x: x}, progress=False)
    mn = pgm.read_bif(pgm.example_path("asia"))
    with pytest.raises(EvidenceError):
        samplers.sample(mn, evidence={"dysp": 5}, progress=False)
    # non-finite or malformed parameters are refused by the models
    with pytest.raises(ModelError):
        pgm.Ising.grid(3, 3, coupling=np.nan)
    with pytest.raises(ModelError):
        pgm.Ising.grid(3, 3, beta=0.0)
    with pytest.raises(CardinalityError):
        pgm.Ising(pgm.Ising.grid(3, 3).graph, coupling=[1.0, 2.0])
    with pytest.raises(CardinalityError):
        pgm.Ising.grid(3, 3, field=np.zeros(4))
    with pytest.raises(ModelError):
        pgm.BoltzmannMachine([[0, 1], [2, 0]])
    with pytest.raises(ModelError):
        pgm.BoltzmannMachine([[1, 0], [0, 0]])
    with pytest.raises(ValueError):
        pgm.Potts(pgm.Ising.grid(3, 3).graph, q=1)
    with pytest.raises(CardinalityError):
        m.energy(np.ones((2, 5)))
    with pytest.raises(EvidenceError):
        m.energy(np.zeros(16))
