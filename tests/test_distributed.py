"""Chains, replica sets and AIS runs on an executor (issue 17): bit for bit the local run.

A ``LocalCluster`` of two worker processes (and a spawn-context ``ProcessPoolExecutor``) runs
``samplers.sample`` on spin, factor, Bayesian-network, layered and continuous models,
``parallel_tempering`` and ``ais`` in 1, 2 and 3 groups; every recorded array and the final chain
state must equal the local run's exactly.  A worker killed mid-run is retried by Dask and the
result is still identical; a group that fails for good raises the original typed error naming
the group.
"""

import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

import pgm
import samplers
from pgm.errors import ModelError

distributed = pytest.importorskip("distributed")
UAI = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "uai2014")


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=40)
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


def _models():
    out = {
        "ising-block": (pgm.Ising.grid(6, 6, beta=0.4), {"method": "block_gibbs"}),
        "ising-wolff": (pgm.Ising.grid(6, 6, beta=0.44), {"method": "wolff"}),
        "potts": (pgm.Potts(pgm.Ising.grid(4, 4).graph, 3, beta=0.5), {}),
        "bayesian-network": (pgm.read_bif(pgm.example_path("asia")), {"evidence": {"smoke": "yes"}}),
        "rbm": (pgm.RBM(8, 5, seed=0), {}),
        "dbm": (pgm.DBM([6, 4, 3], seed=0), {}),
        "mlp-hmc": (pgm.MLPEnergy(2, hidden=(8,), seed=0, quadratic=0.5), {"method": "hmc"}),
        "gaussian-mala": (pgm.GaussianEnergy(np.zeros(3), np.eye(3) * 2.0), {"method": "mala"}),
        "tempering": (pgm.Ising.grid(6, 6, beta=0.6), {"tempering": samplers.geometric_betas(0.3, 4)}),
    }
    if os.path.exists(os.path.join(UAI, "Grids_11.uai")):
        out["uai-factor"] = (pgm.read_uai(os.path.join(UAI, "Grids_11.uai")), {"method": "block_gibbs"})
    return out


MODELS = _models()


def _assert_identical(local, remote):
    np.testing.assert_array_equal(local.states, remote.states)
    assert sorted(local.observables) == sorted(remote.observables)
    for k in local.observables:
        np.testing.assert_array_equal(local.observables[k], remote.observables[k], err_msg=k)
    for k in local.sample_stats:
        np.testing.assert_array_equal(local.sample_stats[k], remote.sample_stats[k], err_msg=k)
    a, b = local.final_state, remote.final_state
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.rng_state, b.rng_state)
    for name in ("swap_rng_state", "step_size"):
        if getattr(a, name) is None:
            assert getattr(b, name) is None
        else:
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


@pytest.mark.parametrize("name", list(MODELS))
def test_sample_in_groups_on_dask_equals_the_local_run(client, name):
    model, kw = MODELS[name]
    kw = dict(chains=7, draws=40, seed=11, progress=False, warn=False, **kw)
    local = samplers.sample(model, **kw)
    for groups in (1, 2, 3):
        remote = samplers.sample(model, executor=client, groups=groups, **kw)
        _assert_identical(local, remote)
        assert remote.info["groups"] == groups and remote.info["chains"] == 7


def test_parallel_tempering_and_continuation_in_groups(client):
    model, betas = pgm.Ising.grid(6, 6, beta=0.6), samplers.geometric_betas(0.3, 4)
    local = samplers.parallel_tempering(model, betas, chains=6, draws=30, seed=2, progress=False, warn=False)
    remote = samplers.parallel_tempering(model, betas, chains=6, draws=30, seed=2, progress=False, warn=False,
                                         executor=client, groups=3)
    _assert_identical(local, remote)
    assert remote.info["round_trips"] == local.info["round_trips"]
    # continuing from a final state in groups = continuing locally
    more_local = samplers.parallel_tempering(model, betas, draws=20, warmup=0, init=local.final_state,
                                             progress=False, warn=False)
    more_remote = samplers.parallel_tempering(model, betas, draws=20, warmup=0, init=remote.final_state,
                                              progress=False, warn=False, executor=client, groups=2)
    _assert_identical(more_local, more_remote)


@pytest.mark.parametrize("name", ["ising", "rbm", "dbm"])
def test_ais_in_groups_equals_the_local_run(client, name):
    model = {"ising": pgm.Ising.grid(5, 5, beta=0.4), "rbm": pgm.RBM(8, 5, seed=0),
             "dbm": pgm.DBM([6, 4, 3], seed=0)}[name]
    local = samplers.ais(model, betas=100, runs=9, seed=5, warn=False)
    for groups in (1, 2, 3):
        remote = samplers.ais(model, betas=100, runs=9, seed=5, warn=False, executor=client, groups=groups)
        np.testing.assert_array_equal(local.log_weights, remote.log_weights)
        assert remote.log_z == local.log_z and remote.log_z_std == local.log_z_std


def test_simulated_annealing_restarts_in_groups(client):
    model = pgm.Ising.grid(6, 6, coupling=-1.0, field=0.1)          # antiferromagnet with a field
    local = samplers.simulated_annealing(model, chains=6, seed=4)
    remote = samplers.simulated_annealing(model, chains=6, seed=4, executor=client, groups=3)
    np.testing.assert_array_equal(local.chain_scores, remote.chain_scores)
    assert local.assignment == remote.assignment and local.log_score == remote.log_score


def test_a_worker_killed_mid_run_is_retried_and_the_result_is_unchanged(client, tmp_path):
    """The first call of this observable on any worker kills that worker's process; Dask
    restarts it and reruns the group (``retries``)."""
    model = pgm.Ising.grid(6, 6, beta=0.4)
    marker = str(tmp_path / "killed")

    def kill_once(states):
        if not os.path.exists(marker):
            open(marker, "w").close()
            os._exit(1)
        return states.sum(axis=-1).astype(float)

    kw = dict(chains=4, draws=30, seed=3, progress=False, warn=False)
    local = samplers.sample(model, observables={"total": lambda s: s.sum(axis=-1).astype(float)}, **kw)
    remote = samplers.sample(model, observables={"total": kill_once}, executor=client, groups=2, **kw)
    assert os.path.exists(marker)                      # a worker did die
    _assert_identical(local, remote)


def test_a_group_that_fails_raises_the_original_typed_error_naming_the_group(client):
    def bad_shape(states):
        return states[:, :, 0] if states.shape[0] == 2 else states.sum(axis=-1)

    with pytest.raises(ModelError, match="observable 'bad'") as info:
        samplers.sample(pgm.Ising.grid(4, 4), chains=5, draws=10, seed=0, progress=False, warn=False,
                        observables={"bad": lambda s: np.zeros((1, 1))}, executor=client, groups=2)
    assert any("group 1 of 2: chains 0..1" in n for n in info.value.__notes__)


def test_process_pool_executor_with_spawn_and_the_fork_refusal():
    model = pgm.Ising.grid(5, 5, beta=0.4)
    kw = dict(chains=4, draws=20, seed=1, progress=False, warn=False)
    local = samplers.sample(model, **kw)
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as ex:
        _assert_identical(local, samplers.sample(model, executor=ex, **kw))
    if sys.platform != "win32":
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as ex:
            with pytest.raises(ValueError, match="spawn"):
                samplers.sample(model, executor=ex, **kw)


def test_bad_executors_and_the_missing_extra(monkeypatch):
    model = pgm.Ising.grid(4, 4)
    with pytest.raises(TypeError, match="executor must be"):
        samplers.sample(model, draws=5, executor=object())
    with pytest.raises(ValueError, match="executor must be"):
        samplers.sample(model, draws=5, executor="ray")
    with pytest.raises(ValueError, match="groups"):
        samplers.sample(model, draws=5, groups=2)
    with pytest.raises(ValueError, match="adapt_ladder"):
        samplers.sample(model, draws=5, tempering=[0.5, 1.0], adapt_ladder=True, executor="dask")
    monkeypatch.setitem(sys.modules, "distributed", None)      # as if the extra were not installed
    with pytest.raises(ImportError, match=r'pgmc\[distributed\]'):
        samplers.sample(model, draws=5, executor="dask")
