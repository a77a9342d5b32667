"""The centring trick for DBMs (estimators.VariationalPCD(centering=True), SPEC.md §5): the
gradient handed to the optimiser is the raw-parameter image of a step in the centred
parameters — checked against the centred energy's own gradient and by the exact
reparametrisation identity — and the offsets are kept in checkpoints."""

import numpy as np
import pytest

import estimators
import pgm
from estimators.variational import _dbm_grad


def _centred_energy(dbm, layers, offsets, b_tilde):
    W = dbm.weights
    e = 0.0
    for l in range(1, len(layers)):
        e = e - np.einsum("ni,ij,nj->n", layers[l - 1] - offsets[l - 1], W[l - 1], layers[l] - offsets[l])
    for l, x in enumerate(layers):
        e = e - (x - offsets[l]) @ b_tilde[l]
    return e


def test_centred_gradient_is_the_centred_energys_gradient_and_an_exact_reparametrisation():
    rng = np.random.default_rng(0)
    dbm = pgm.DBM([5, 4, 3], seed=1)
    dbm.set_params(**{k: rng.standard_normal(np.shape(v)) for k, v in dbm.params.items()})
    obj = estimators.VariationalPCD(centering=True)
    data = (rng.random((50, 5)) < 0.4).astype(float)
    obj.setup(dbm, data)
    obj.offsets = [data.mean(0), rng.random(4), rng.random(3)]
    o = obj.offsets
    pos = [data[:10], rng.random((10, 4)), rng.random((10, 3))]
    neg = [(rng.random((7, n)) < 0.5).astype(float) for n in (5, 4, 3)]
    gp, gn = _dbm_grad(dbm, pos), _dbm_grad(dbm, neg)
    raw = {k: gp[k] - gn[k] for k in gp}
    step = obj.centered(raw)
    # ∂/∂W of the centred energy, data minus model: −⟨(x−o)(y−o)ᵀ⟩ differences
    for l in (1, 2):
        c = lambda L: ((L[l - 1] - o[l - 1]).T @ (L[l] - o[l])) / L[0].shape[0]  # noqa: E731
        np.testing.assert_allclose(step[f"W{l}"], -(c(pos) - c(neg)), atol=1e-12)
    # the distribution is unchanged by centring: b̃ = b + Wᵀo_below + W o_above
    W, b = dbm.weights, dbm.biases
    b_t = [b[0] + W[0] @ o[1], b[1] + W[0].T @ o[0] + W[1] @ o[2], b[2] + W[1].T @ o[1]]
    states = [(rng.random((6, n)) < 0.5).astype(float) for n in (5, 4, 3)]
    diff = _centred_energy(dbm, states, o, b_t) - dbm.energy(*states)
    np.testing.assert_allclose(diff, diff[0], atol=1e-12)
    # a centred SGD step (W, b̃) ← (W, b̃) − η(∇W̃, ∇b̃), mapped back, is the raw step of `step`
    eta = 0.1
    W_new = [W[l] - eta * step[f"W{l + 1}"] for l in range(2)]
    b_t_new = [b_t[l] - eta * raw[f"b{l}"] for l in range(3)]
    b_back = [b_t_new[0] - W_new[0] @ o[1], b_t_new[1] - W_new[0].T @ o[0] - W_new[1] @ o[2],
              b_t_new[2] - W_new[1].T @ o[1]]
    for l in range(3):
        np.testing.assert_allclose(b[l] - eta * step[f"b{l}"], b_back[l], atol=1e-12)
    # zero offsets: the plain gradient
    obj.offsets = [np.zeros(n) for n in (5, 4, 3)]
    same = obj.centered(raw)
    for k in raw:
        np.testing.assert_allclose(same[k], raw[k], atol=0)


def test_centred_training_runs_keeps_offsets_in_checkpoints_and_rejects_bad_options(tmp_path):
    rng = np.random.default_rng(1)
    x = (rng.random((60, 6)) < 0.3).astype(float)
    dbm = pgm.DBM([6, 4, 3], seed=0)
    obj = estimators.VariationalPCD(chains=10, centering=True, offset_rate=0.1)
    path = tmp_path / "ck.npz"
    h = estimators.fit(dbm, x, obj, estimators.SGD(0.05), epochs=2, batch_size=20, seed=0, progress=False,
                       checkpoint=str(path))
    assert len(h) == 2 and np.allclose(obj.offsets[0], x.mean(0))
    assert np.all((obj.offsets[1] > 0) & (obj.offsets[1] < 1)) and not np.allclose(obj.offsets[1], 0.5)
    # resuming from the checkpoint continues exactly (offsets restored with the chains)
    dbm2 = pgm.DBM([6, 4, 3], seed=0)
    obj2 = estimators.VariationalPCD(chains=10, centering=True, offset_rate=0.1)
    estimators.fit(dbm2, x, obj2, estimators.SGD(0.05), epochs=1, batch_size=20, seed=0, progress=False,
                   checkpoint=str(tmp_path / "a.npz"))
    dbm3 = pgm.DBM([6, 4, 3], seed=5)                    # fresh model and objective
    obj3 = estimators.VariationalPCD(chains=10, centering=True, offset_rate=0.1)
    estimators.fit(dbm3, x, obj3, estimators.SGD(0.05), epochs=2, batch_size=20, seed=0, progress=False,
                   checkpoint=str(tmp_path / "a.npz"), resume=True)
    for k in dbm.params:
        np.testing.assert_array_equal(dbm.params[k], dbm3.params[k])
    for a, b in zip(obj.offsets, obj3.offsets):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(TypeError, match="centering"):
        estimators.VariationalPCD(centering="yes")
    with pytest.raises(ValueError, match="offset_rate"):
        estimators.VariationalPCD(offset_rate=2.0)
