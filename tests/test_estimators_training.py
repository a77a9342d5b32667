"""The training loop: checkpoints and exact resumption, interruption, input validation,
callbacks, optimisers and schedules (issue #6 acceptance 5)."""

import json

import numpy as np
import pytest

import estimators as E
import pgm
import samplers
from pgm.errors import CardinalityError, EvidenceError, ModelError, ParseError


def _bm(d=5, seed=0):
    rng = np.random.default_rng(seed)
    W = np.triu(rng.normal(0, 0.3, (d, d)), 1)
    return pgm.BoltzmannMachine(W + W.T, rng.normal(0, 0.3, d))


def _binary(n=60, d=5, seed=1):
    return np.random.default_rng(seed).integers(0, 2, (n, d)).astype(float)


def _real(n=60, seed=1):
    return np.random.default_rng(seed).normal([0.5, -0.5], 1.0, size=(n, 2))


def _mlp():
    return pgm.MLPEnergy(2, hidden=(5,), activation="tanh", seed=0, quadratic=0.1)


def _gauss():
    return pgm.GaussianEnergy(np.zeros(2), np.eye(2))


SETUPS = {
    "PCD/BM/SGD-momentum": lambda: (_bm(), _binary(), E.PCD(k=2, chains=7), E.SGD(0.05, momentum=0.9)),
    "CD/BM/Adam": lambda: (_bm(), _binary(), E.CD(k=1), E.Adam(0.01)),
    "FastPCD/RBM/Adam-schedule": lambda: (pgm.RBM(5, 3, seed=0), _binary(), E.FastPCD(1, 6, 0.05, 0.9),
                                          E.Adam(E.ExponentialDecay(0.02, 0.5, steps=10))),
    "PL-stochastic/BM/SGD": lambda: (_bm(), _binary(), E.PseudoLikelihood(stochastic=True), E.SGD(0.1)),
    "NCE/Gaussian/SGD": lambda: (_gauss(), _real(), E.NCE(ratio=3), E.SGD(0.05, momentum=0.5)),
    "DSM/Gaussian/Adam": lambda: (_gauss(), _real(), E.DenoisingScoreMatching(0.5), E.Adam(0.02)),
    "PCD-langevin/MLP/Adam": lambda: (_mlp(), _real(), E.PCD(k=3, chains=6, method="langevin",
                                                             sampler_options={"step_size": 0.05}), E.Adam(0.01)),
    "PCD-hmc/MLP/SGD": lambda: (_mlp(), _real(), E.PCD(k=2, chains=5, method="hmc",
                                                       sampler_options={"step_size": 0.2, "n_leapfrog": 3}), E.SGD(0.02)),
    "SM/MLP/Adam": lambda: (_mlp(), _real(), E.ScoreMatching(), E.Adam(0.01)),
    # continuous chains carry their step sizes in the ChainState; the checkpoint must keep them
    # (issue 16.5: the two -default cases resumed differently before)
    "PCD-langevin-adapted/MLP/Adam": lambda: (_mlp(), _real(), E.PCD(
        k=4, chains=6, method="langevin", sampler_options={"step_size": 0.05, "adapt_step_size": True}), E.Adam(0.01)),
    "PCD-hmc-adapted/MLP/SGD": lambda: (_mlp(), _real(), E.PCD(
        k=4, chains=5, method="hmc", sampler_options={"step_size": 0.2, "n_leapfrog": 3, "adapt_step_size": True}),
        E.SGD(0.02)),
    "PCD-langevin-default/Gaussian/SGD": lambda: (_gauss(), _real(), E.PCD(k=3, chains=6, method="langevin"),
                                                  E.SGD(0.05)),
    "PCD-hmc-default/Gaussian/SGD": lambda: (_gauss(), _real(), E.PCD(k=2, chains=6, method="hmc"), E.SGD(0.05)),
    "PCD-metropolis/BM/SGD": lambda: (_bm(), _binary(), E.PCD(k=2, chains=7, method="metropolis"), E.SGD(0.05)),
    "CD-block/RBM/Adam": lambda: (pgm.RBM(5, 3, seed=0), _binary(), E.CD(k=2), E.Adam(0.01)),
    "CD-langevin/MLP/Adam": lambda: (_mlp(), _real(), E.CD(k=3, method="langevin",
                                                           sampler_options={"step_size": 0.05}), E.Adam(0.01)),
    "PCD-mala-adapted/MLP/Adam": lambda: (_mlp(), _real(), E.PCD(
        k=3, chains=6, method="mala", sampler_options={"adapt_step_size": True}), E.Adam(0.01)),
    "PCD-mh/Gaussian/SGD": lambda: (_gauss(), _real(), E.PCD(k=3, chains=6, method="mh"), E.SGD(0.05)),
    "PCD-gibbs/binary-MLP/Adam": lambda: (pgm.MLPEnergy(5, hidden=(4,), domain="binary", seed=0), _binary(),
                                          E.PCD(k=1, chains=6), E.Adam(0.01)),
    "PCD/RBM/SGD": lambda: (pgm.RBM(5, 3, seed=0), _binary(), E.PCD(k=1, chains=8), E.SGD(0.05)),
    "PL/BM/Adam": lambda: (_bm(), _binary(), E.PseudoLikelihood(), E.Adam(0.01)),
    "RM/BM/SGD": lambda: (_bm(), _binary(), E.RatioMatching(), E.SGD(0.05)),
    "ExactML/RBM/Adam": lambda: (pgm.RBM(5, 3, seed=0), _binary(), E.ExactML(), E.Adam(0.02)),
    "VariationalPCD-centred/DBM/SGD": lambda: (pgm.DBM([5, 3, 2], seed=0), _binary(),
                                               E.VariationalPCD(k=1, chains=6, centering=True), E.SGD(0.05)),
    "ML/NADE/Adam": lambda: (pgm.NADE(5, 4, seed=0), _binary(), E.MaximumLikelihood(), E.Adam(0.02)),
    "ELBO-k3/VAE/Adam": lambda: (pgm.VAE(5, 2, hidden=(4,), seed=0), _binary(), E.ELBO(k=3), E.Adam(0.02)),
    "WakeSleep/SBN/SGD": lambda: (pgm.SigmoidBeliefNet((5, 3), seed=0), _binary(), E.WakeSleep(), E.SGD(0.1)),
    "NVIL/SBN/Adam": lambda: (pgm.SigmoidBeliefNet((5, 3), seed=0), _binary(), E.NVIL(baseline_hidden=3),
                              E.Adam(0.02)),
    "WalkBack/DAEChain/Adam": lambda: (pgm.DAEChain(2, hidden=(4,), noise=0.3, seed=0), _real(), E.WalkBack(2),
                                       E.Adam(0.01)),
    "MMD/GMMN/Adam": lambda: (pgm.GMMN(2, 2, hidden=(4,), seed=0), _real(), E.MMD(), E.Adam(0.01)),
    "Adversarial/GAN/Adam": lambda: (pgm.GAN(2, 2, generator_hidden=(4,), discriminator_hidden=(4,), seed=0),
                                     _real(), E.Adversarial(discriminator_steps=2), E.Adam(0.01)),
    "ConditionalCD/CRBM/SGD": lambda: (pgm.ConditionalRBM(3, 2, 2, seed=0), _binary(), E.ConditionalCD(k=1),
                                       E.SGD(0.05)),
}


def _state(model, objective):
    out = {f"param/{k}": np.array(v) for k, v in model.params.items()}
    out.update({f"own/{k}": np.array(v) for k, v in objective.own_params.items()})
    out.update({f"objective/{k}": np.array(v) for k, v in objective.state_dict().items()})
    return out


def _strip(history):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in history.records]


def _assert_same(a, b):
    assert sorted(a) == sorted(b)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


@pytest.mark.parametrize("label", list(SETUPS))
def test_resumed_run_equals_uninterrupted_run(tmp_path, label):
    model, x, obj, opt = SETUPS[label]()
    full = E.fit(model, x, obj, opt, epochs=4, batch_size=16, seed=3, progress=False,
                 checkpoint=tmp_path / "full.npz")
    reference = _state(model, obj)

    model, x, obj, opt = SETUPS[label]()
    E.fit(model, x, obj, opt, epochs=2, batch_size=16, seed=3, progress=False, checkpoint=tmp_path / "part.npz")
    model, x, obj, opt = SETUPS[label]()          # a new process: fresh objects
    resumed = E.fit(model, x, obj, opt, epochs=4, batch_size=16, seed=3, progress=False,
                    checkpoint=tmp_path / "part.npz", resume=True)
    _assert_same(_state(model, obj), reference)
    assert _strip(resumed) == _strip(full)


def test_interrupt_in_callback_keeps_last_completed_epoch_and_resumes_exactly(tmp_path):
    def stop_at_3(epoch, model, history):
        if epoch == 3:
            raise KeyboardInterrupt

    model, x, obj, opt = SETUPS["PCD/BM/SGD-momentum"]()
    E.fit(model, x, obj, opt, epochs=3, batch_size=16, seed=3, progress=False)
    after3 = _state(model, obj)
    model, x, obj, opt = SETUPS["PCD/BM/SGD-momentum"]()
    E.fit(model, x, obj, opt, epochs=5, batch_size=16, seed=3, progress=False)
    after5 = _state(model, obj)

    model, x, obj, opt = SETUPS["PCD/BM/SGD-momentum"]()
    with pytest.raises(KeyboardInterrupt):
        E.fit(model, x, obj, opt, epochs=5, batch_size=16, seed=3, progress=False,
              callbacks=[stop_at_3], checkpoint=tmp_path / "c.npz")
    _assert_same(_state(model, obj), after3)
    meta, _ = E.load_checkpoint(tmp_path / "c.npz")
    assert meta["epoch"] == 2                      # epoch 3 was interrupted before its checkpoint
    model, x, obj, opt = SETUPS["PCD/BM/SGD-momentum"]()
    E.fit(model, x, obj, opt, epochs=5, batch_size=16, seed=3, progress=False,
          checkpoint=tmp_path / "c.npz", resume=True)
    _assert_same(_state(model, obj), after5)


def test_interrupt_between_batches_keeps_last_completed_update():
    snapshots = {}

    class Recorder:
        def on_batch_end(self, step, model, stats):
            snapshots[step] = {k: v.copy() for k, v in model.params.items()}

    class Stopper:
        def on_batch_end(self, step, model, stats):
            if step == 6:
                raise KeyboardInterrupt

    model, x, obj, opt = SETUPS["CD/BM/Adam"]()
    E.fit(model, x, obj, opt, epochs=3, batch_size=16, seed=3, progress=False, callbacks=[Recorder()])
    model, x, obj, opt = SETUPS["CD/BM/Adam"]()
    with pytest.raises(KeyboardInterrupt):
        E.fit(model, x, obj, opt, epochs=3, batch_size=16, seed=3, progress=False, callbacks=[Stopper()])
    _assert_same(dict(model.params), snapshots[6])


def test_interrupted_parameter_write_is_rolled_back():
    class Fragile(pgm.GaussianEnergy):
        calls = 0

        def set_params(self, **values):
            Fragile.calls += 1
            if Fragile.calls == 3:                 # half-written update, then Ctrl-C
                self.mean[...] = values["mean"]
                raise KeyboardInterrupt
            super().set_params(**values)

    g = Fragile(np.zeros(2), np.eye(2))
    seen = []
    with pytest.raises(KeyboardInterrupt):
        E.fit(g, _real(), E.ScoreMatching(), E.SGD(0.01), epochs=1, batch_size=10, progress=False,
              callbacks=[type("R", (), {"on_batch_end": lambda self, s, m, st: seen.append(
                  {k: v.copy() for k, v in m.params.items()})})()])
    _assert_same(dict(g.params), seen[-1])         # the state after the last completed update


def test_checkpoint_format(tmp_path):
    model, x, obj, opt = SETUPS["PCD/BM/SGD-momentum"]()
    path = tmp_path / "c.npz"
    E.fit(model, x, obj, opt, epochs=2, batch_size=16, seed=3, progress=False, checkpoint=E.Checkpoint(path, every=1))
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["__meta__"]))
        assert {"param/W", "param/b", "objective/chains.x", "objective/chains.rng",
                "optimizer/velocity/W"} <= set(data.files)
    assert meta["format"] == E.training.CHECKPOINT_FORMAT and meta["version"] == E.training.CHECKPOINT_VERSION
    assert meta["epoch"] == 2 and len(meta["history"]) == 2 and meta["objective"]["type"] == "PCD"

    # another version, another objective, other data: refused with typed errors
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files if k != "__meta__"}
    bad = tmp_path / "bad.npz"
    with open(bad, "wb") as fh:
        np.savez(fh, __meta__=np.array(json.dumps({**meta, "version": 99})), **arrays)
    with pytest.raises(ParseError, match="version"):
        E.load_checkpoint(bad)
    model, x, _, opt = SETUPS["PCD/BM/SGD-momentum"]()
    with pytest.raises(ValueError, match="does not match"):
        E.fit(model, x, E.PCD(k=1, chains=7), opt, epochs=3, batch_size=16, seed=3, progress=False,
              checkpoint=path, resume=True)
    model, x, obj, opt = SETUPS["PCD/BM/SGD-momentum"]()
    with pytest.raises(ValueError, match="data_sha256"):
        E.fit(model, 1 - x, obj, opt, epochs=3, batch_size=16, seed=3, progress=False, checkpoint=path, resume=True)
    with pytest.raises(FileNotFoundError):
        E.fit(model, x, obj, opt, epochs=3, progress=False, checkpoint=tmp_path / "none.npz", resume=True)


# ---------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("data, error, match", [
    (np.array([[0, 1, np.nan, 0, 1]] * 4), EvidenceError, "finite.*nan"),
    (np.array([[0, 1, np.inf, 0, 1]] * 4), EvidenceError, "finite.*inf"),
    (np.zeros((4, 4)), CardinalityError, r"\(n_samples, 5\).*\(4, 4\)"),
    (np.zeros(5), CardinalityError, r"\(n_samples, 5\)"),
    (np.array([[0, 1, 2, 0, 1]] * 4), EvidenceError, "binary.*2"),
    (np.array([[0, 1, 0.5, 0, 1]] * 4), EvidenceError, "binary.*0.5"),
    ([["a"] * 5] * 4, TypeError, "numeric"),
])
def test_bad_data_is_refused(data, error, match):
    for obj in (E.PseudoLikelihood(), E.RatioMatching(), E.CD()):
        with pytest.raises(error, match=match):
            E.fit(_bm(), data, obj, epochs=1, progress=False)


def test_bad_arguments_are_refused():
    x = _binary()
    with pytest.raises(ValueError, match="batch_size.*0"):
        E.fit(_bm(), x, E.PCD(), batch_size=0, progress=False)
    with pytest.raises(ValueError, match="epochs.*-1"):
        E.fit(_bm(), x, E.PCD(), epochs=-1, progress=False)
    with pytest.raises(TypeError, match="objective"):
        E.fit(_bm(), x, "pcd", progress=False)
    with pytest.raises(TypeError, match="continuous"):
        E.fit(_bm(), x, E.ScoreMatching(), progress=False)
    with pytest.raises(TypeError, match="binary units"):
        E.fit(_gauss(), _real(), E.PseudoLikelihood(), progress=False)
    with pytest.raises(TypeError, match="loss"):
        E.fit(_bm(), x, E.PCD(), E.LBFGS(), progress=False)
    with pytest.raises(ValueError, match="full-batch"):
        E.fit(_bm(), x, E.ExactML(), E.LBFGS(), batch_size=10, progress=False)
    with pytest.raises(ValueError, match="k must"):
        E.CD(k=0)
    with pytest.raises(ValueError, match="sigma"):
        E.DenoisingScoreMatching(sigma=0.0)
    with pytest.raises(ValueError, match="variable 7"):
        E.fit(_bm(), x, E.PseudoLikelihood(blocks=[[0, 7]]), epochs=1, progress=False)
    with pytest.raises(ValueError, match="lr"):
        E.SGD(lr=-1.0)
    with pytest.raises(TypeError, match="noise"):
        E.NCE(noise="gaussian")


def test_invalid_update_names_the_problem_and_keeps_the_model():
    g = _gauss()
    x = np.random.default_rng(0).normal(0, 0.05, size=(50, 2))   # precision ≈ 400: big gradients
    with pytest.raises(ModelError, match="lower the learning rate"):
        E.fit(g, x, E.ScoreMatching(), E.SGD(10.0), epochs=5, batch_size=50, progress=False)
    pgm.GaussianEnergy(g.mean, g.precision)                       # still a valid model


# ---------------------------------------------------------------------------- callbacks
def test_callbacks_monitor_the_model():
    x = _binary(40)
    bm = _bm()
    h = E.fit(bm, x, E.PseudoLikelihood(), E.SGD(0.05), epochs=4, batch_size=40, seed=0, progress=False,
              callbacks=[E.PseudoLogLikelihood(x, every=2), E.ReconstructionError(x),
                         lambda epoch, model, history: {"n_before": len(history)}])
    assert np.isnan(h["pseudo_log_likelihood"][0]) and np.isfinite(h["pseudo_log_likelihood"][1])
    # full batch, one update per epoch: the PL callback after epoch 4 is −(PL loss of the final model)
    assert h["pseudo_log_likelihood"][3] == pytest.approx(-E.PseudoLikelihood().loss(bm, x), rel=1e-12)
    assert h["n_before"].tolist() == [0, 1, 2, 3]
    assert np.all(h["loss"][1:] < h["loss"][:-1])
    rbm = pgm.RBM(5, 3, seed=0)
    rec = E.ReconstructionError(x).compute(rbm)["reconstruction_error"]
    mean_field = 1 / (1 + np.exp(-(rbm.mean_h(x) @ rbm.W.T + rbm.b)))     # E[v | h = p(h|v)]
    assert rec == pytest.approx(np.mean((x - mean_field) ** 2))


def test_ais_callback_against_exact_log_likelihood():
    bm, x = _bm(d=8, seed=2), _binary(50, d=8)
    with samplers.threads(1):
        logs = E.AISLogLikelihood(x, betas=300, runs=64, seed=0).compute(bm)
    exact = pgm.exact.log_likelihood(bm.to_markov_network(), x.astype(int)).mean()
    assert abs(logs["ais_log_likelihood"] - exact) < 5 * logs["ais_log_z_std"] + 1e-3
    rbm = pgm.RBM(6, 3, W=np.random.default_rng(0).normal(0, 1, (6, 3)))
    with samplers.threads(1):
        logs = E.AISLogLikelihood(x[:, :6], betas=300, runs=64, seed=0).compute(rbm)
    exact = pgm.exact.log_likelihood(rbm, x[:, :6]).mean()
    assert abs(logs["ais_log_likelihood"] - exact) < 5 * logs["ais_log_z_std"] + 1e-3


# ---------------------------------------------------------------------------- optimisers
def test_sgd_momentum_and_weight_decay_by_hand():
    opt = E.SGD(lr=0.1, momentum=0.5, weight_decay=0.2)
    p = {"W": np.array([[1.0]]), "b": np.array([1.0])}
    g = {"W": np.array([[2.0]]), "b": np.array([2.0])}
    p1 = opt.step(p, g)
    assert p1["W"][0, 0] == pytest.approx(1 - 0.1 * (2 + 0.2))       # decay on matrices only
    assert p1["b"][0] == pytest.approx(1 - 0.1 * 2)
    p2 = opt.step(p1, g)
    v = 0.5 * 2.2 + (2 + 0.2 * p1["W"][0, 0])
    assert p2["W"][0, 0] == pytest.approx(p1["W"][0, 0] - 0.1 * v)
    arrays, meta = opt.state_dict()
    other = E.SGD(lr=0.1, momentum=0.5, weight_decay=0.2)
    other.load_state_dict(arrays, meta)
    _assert_same(other.step(p2, g), opt.step(p2, g))


def test_adam_by_hand():
    opt = E.Adam(lr=0.01, beta1=0.9, beta2=0.99, eps=1e-8)
    p = {"b": np.array([0.0])}
    g1, g2 = np.array([1.0]), np.array([-3.0])
    p1 = opt.step(p, {"b": g1})
    p2 = opt.step(p1, {"b": g2})
    m = 0.9 * 0.1 * 1 + 0.1 * -3
    v = 0.99 * 0.01 * 1 + 0.01 * 9
    step2 = (m / (1 - 0.81)) / (np.sqrt(v / (1 - 0.99**2)) + 1e-8)
    assert p1["b"][0] == pytest.approx(-0.01)
    assert p2["b"][0] == pytest.approx(-0.01 - 0.01 * step2)


def test_schedules_drive_the_learning_rate():
    opt = E.SGD(E.InverseTimeDecay(0.2, steps=2))
    p = {"b": np.array([0.0])}
    lrs = []
    for _ in range(3):
        lrs.append(opt.current_lr())
        p = opt.step(p, {"b": np.array([1.0])})
    assert lrs == pytest.approx([0.2, 0.2 / 1.5, 0.1])
    h = E.fit(_bm(), _binary(), E.PCD(chains=5), E.SGD(E.ExponentialDecay(0.1, 0.5, steps=4)), epochs=2,
              batch_size=15, seed=0, progress=False)
    assert h["lr"].tolist() == pytest.approx([0.1, 0.05])


def test_learners_benchmark_smoke(capsys):
    """benchmarks/learners.py runs end to end at tiny sizes and prints JSON lines."""
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "learners.py"
    spec = importlib.util.spec_from_file_location("learners_benchmark", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    ratios = mod.main(["--quick", "--repeats", "1"])
    assert {"PL_over_CD1_per_update", "RM_over_CD1_per_update", "rbm_epoch_over_numpy"} <= set(ratios)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert lines[0]["benchmark"] == "learners" and lines[-1]["event"] == "ratios"
