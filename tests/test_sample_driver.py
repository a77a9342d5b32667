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


# ---------------------------------------------------------------------------- every registered kernel
def _kernel_cases():
    """One model per registered kernel and method (a kernel registered without a case here
    fails ``test_every_registered_kernel_is_covered``)."""
    ising = pgm.Ising.grid(5, 5, coupling=0.9, field=0.1, beta=0.45)
    cases = {("DiscreteGibbs", m): (MODELS["potts"](), {}) for m in ("gibbs", "block_gibbs", "metropolis")}
    cases.update({("SwendsenWang", "swendsen_wang"): (ising, {"evidence": {3: 1}}),
                  ("Wolff", "wolff"): (ising, {"clusters": 2}),
                  ("LayeredGibbs", "block_gibbs"): (pgm.DBM([5, 4, 3], seed=1), {"include_hidden": True}),
                  ("LayeredGibbs", "gibbs"): (pgm.RBM(5, 3, seed=2), {}),
                  ("BinaryEnergyGibbs", "gibbs"): (pgm.MLPEnergy(5, hidden=(4,), domain="binary", seed=0), {}),
                  ("ContinuousMCMC", "hmc"): (pgm.GaussianEnergy([0.0, 1.0], [[2.0, 0.5], [0.5, 1.0]]), {}),
                  ("ContinuousMCMC", "mala"): (pgm.GaussianEnergy([0.0, 1.0], [[2.0, 0.5], [0.5, 1.0]]), {}),
                  ("ContinuousMCMC", "langevin"): (pgm.GaussianEnergy([0.0], [[1.0]]), {"step_size": 0.1}),
                  ("ContinuousMCMC", "mh"): (pgm.GaussianEnergy([0.0, 1.0], [[2.0, 0.5], [0.5, 1.0]]), {}),
                  ("DAEChainKernel", "dae_chain"): (pgm.DAEChain(3, hidden=(4,), noise=0.3, seed=0),
                                                    {"evidence": {0: 0.5}})})
    return cases


def test_every_registered_kernel_is_covered():
    from samplers._kernel import registered

    wanted = {(k.__name__, m) for k in registered() for m in k.methods}
    assert wanted <= set(_kernel_cases()), sorted(wanted - set(_kernel_cases()))


@pytest.mark.parametrize("kernel, method", sorted(_kernel_cases()))
def test_every_kernel_is_thread_independent_and_resumes_exactly(kernel, method, tmp_path):
    model, options = _kernel_cases()[(kernel, method)]
    kw = dict(method=method, chains=3, thin=2, progress=False, **options)
    runs = []
    for n in (1, 2):
        with samplers.threads(n):
            runs.append(samplers.sample(model, draws=12, warmup=6, seed=11, **kw))
    np.testing.assert_array_equal(runs[0].states, runs[1].states)
    np.testing.assert_array_equal(runs[0].final_state.rng_state, runs[1].final_state.rng_state)
    full = samplers.sample(model, draws=20, warmup=6, seed=11, **kw)
    first = samplers.sample(model, draws=8, warmup=6, seed=11, **kw)
    first.final_state.save(tmp_path / "state.npz")
    rest = samplers.sample(model, draws=12, warmup=0, init=samplers.ChainState.load(tmp_path / "state.npz"), **kw)
    np.testing.assert_array_equal(np.concatenate([first.states, rest.states], axis=1), full.states)
    np.testing.assert_array_equal(rest.final_state.rng_state, full.final_state.rng_state)
    for name in full.sample_stats:
        np.testing.assert_array_equal(np.concatenate([first.sample_stats[name], rest.sample_stats[name]], axis=1),
                                      full.sample_stats[name])
    assert full.info["engine"] and full.info["method"] == method


def test_simulated_tempering_resumes_exactly(tmp_path):
    m = pgm.Ising.grid(4, 4, beta=0.5)
    ladder = [0.2, 0.5, 1.0]
    full = samplers.simulated_tempering(m, ladder, chains=3, draws=30, warmup=20, seed=4)
    first = samplers.simulated_tempering(m, ladder, chains=3, draws=10, warmup=20, seed=4)
    first.final_state.save(tmp_path / "st.npz")
    rest = samplers.simulated_tempering(m, ladder, draws=20, warmup=0, init=samplers.ChainState.load(tmp_path / "st.npz"))
    np.testing.assert_array_equal(np.concatenate([first.states, rest.states], axis=1), full.states)
    np.testing.assert_array_equal(np.concatenate([first.sample_stats["beta"], rest.sample_stats["beta"]], axis=1),
                                  full.sample_stats["beta"])
    assert rest.info["log_weights"] == full.info["log_weights"]
    with pytest.raises(ModelError, match="simulated-tempering"):
        samplers.simulated_tempering(m, ladder, draws=2, init=full.final_state.__class__(full.final_state.x,
                                                                                          full.final_state.rng_state))


def test_user_kernels_plug_into_the_driver():
    """A kernel written outside the package (here: independent exact draws of a tiny model)
    registers with one decorator and gets seeding, chunking, thinning, observables and ArviZ
    output from the driver."""
    from typing import NamedTuple

    class Coin:
        n = 3

    class State(NamedTuple):
        x: np.ndarray
        rng: np.ndarray

    class Info(NamedTuple):
        states: np.ndarray
        lp: np.ndarray

    @samplers.register_kernel
    class ExactCoins(samplers.Kernel):
        name, family, methods = "exact_coins", "coin models", ("exact_coins",)

        @classmethod
        def accepts(cls, model):
            return isinstance(model, Coin)

        def __init__(self, model, method):
            super().__init__(model, method)
            self.variables, self.record_width, self.record_dtype = [0, 1, 2], 3, np.int8

        def init(self, chains, start, init):
            return State(np.zeros((chains, 3), np.int8), np.random.default_rng(start.streams))

        def advance(self, state, n, thin=1, record=False, keep=False, phase=None):
            draws = state.rng.integers(0, 2, size=(state.x.shape[0], n, 3)).astype(np.int8)
            state.x[:] = draws[:, -1]
            return state, (Info(draws if keep else None, np.zeros(draws.shape[:2])) if record else None)

        def to_user(self, state):
            return samplers.ChainState(state.x, np.ones((state.x.shape[0], 4), np.uint64))

    try:
        s = samplers.sample(Coin(), chains=2, draws=50, seed=0, progress=False,
                            observables={"heads": lambda x: x.sum(axis=2)})
        assert s.states.shape == (2, 50, 3) and s.info["engine"] == "exact_coins"
        np.testing.assert_array_equal(s.observables["heads"], s.states.sum(axis=2))
        assert "lp" in s.to_arviz().sample_stats
    finally:
        from samplers import _kernel

        _kernel._REGISTRY.remove(ExactCoins)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_chain_states_with_bad_streams_are_refused_before_any_kernel_runs(name):
    """A ChainState whose streams have the wrong shape (which once let the factor kernel read
    and write out of bounds) or an all-zero xoshiro state (a frozen stream) is a typed error."""
    model = MODELS[name]()
    fs = samplers.sample(model, chains=3, draws=2, seed=0, progress=False).final_state
    for rng in (np.zeros((0, 4), np.uint64), np.ones((3, 3), np.uint64), np.ones((2, 4), np.uint64)):
        with pytest.raises(ModelError, match="rng_state"):
            samplers.sample(model, init=samplers.ChainState(fs.x, rng), draws=5, warmup=0, progress=False)
    frozen = fs.rng_state.copy()
    frozen[1] = 0
    with pytest.raises(ModelError, match="all zero"):
        samplers.sample(model, init=samplers.ChainState(fs.x, frozen), draws=5, warmup=0, progress=False)
