"""The shared differentiable network (pgm.Network): reverse-mode derivatives against central
finite differences for every activation, parameter handling, persistence and the protocol check."""

import numpy as np
import pytest

import pgm
from pgm.errors import CardinalityError, ModelError
from pgm.network import ACTIVATIONS, OUTPUTS, check_network, prefixed


def _loss(net, x, g):
    return float(np.sum(net.forward(x) * g))


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("output", sorted(OUTPUTS))
def test_backward_matches_central_differences(activation, output):
    rng = np.random.default_rng(0)
    net = pgm.Network((3, 5, 4, 2), activation=activation, output=output, seed=1)
    x = rng.standard_normal((6, 3))
    g = rng.standard_normal((6, 2))          # ℓ = Σ g ⊙ y
    y, cache = net.forward_cache(x)
    np.testing.assert_array_equal(y, net.forward(x))
    gx, grads = net.backward(cache, g)
    h = 1e-6
    fd_x = np.zeros_like(x)
    for idx in np.ndindex(*x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += h
        xm[idx] -= h
        fd_x[idx] = (_loss(net, xp, g) - _loss(net, xm, g)) / (2 * h)
    np.testing.assert_allclose(gx, fd_x, rtol=1e-5, atol=1e-8)
    for name, arr in net.params.items():
        fd = np.zeros_like(arr)
        for idx in np.ndindex(*arr.shape):
            old = arr[idx]
            arr[idx] = old + h
            up = _loss(net, x, g)
            arr[idx] = old - h
            down = _loss(net, x, g)
            arr[idx] = old
            fd[idx] = (up - down) / (2 * h)
        np.testing.assert_allclose(grads[name], fd, rtol=1e-5, atol=1e-8, err_msg=name)
    assert net.backward(cache, g, need_x=False)[0] is None


def test_parameters_settings_and_persistence(tmp_path):
    net = pgm.Network((2, 3, 1), activation="softplus", output="sigmoid", seed=0)
    assert net.param_names == ["W1", "b1", "W2", "b2"]
    assert sorted(prefixed(net.params, "enc")) == ["enc.W1", "enc.W2", "enc.b1", "enc.b2"]
    net.set_params(b2=[0.5])
    assert net.biases[1][0] == 0.5
    with pytest.raises(CardinalityError, match="W1 must have shape"):
        net.set_params(W1=np.zeros((3, 3)))
    with pytest.raises(ModelError, match="finite"):
        net.set_params(b1=[np.nan, 0, 0])
    with pytest.raises(KeyError, match="unknown parameters"):
        net.set_params(W9=1.0)
    path = tmp_path / "net.npz"
    net.save(path)
    back = pgm.load(path)
    x = np.array([[0.3, -1.2], [2.0, 0.1]])
    np.testing.assert_array_equal(back.forward(x), net.forward(x))
    assert back.settings() == net.settings()


def test_bad_construction_and_inputs_are_typed_errors():
    with pytest.raises(ValueError, match="at least an input and an output"):
        pgm.Network((3,))
    with pytest.raises(ValueError, match="positive integer"):
        pgm.Network((3, 0, 1))
    with pytest.raises(ValueError, match="activation must be one of"):
        pgm.Network((3, 1), activation="relu")
    with pytest.raises(ValueError, match="output must be one of"):
        pgm.Network((3, 1), output="softmax")
    with pytest.raises(ValueError, match="scale"):
        pgm.Network((3, 1), scale=0)
    net = pgm.Network((3, 1), seed=0)
    with pytest.raises(CardinalityError, match=r"shape \(n, 3\)"):
        net.forward(np.ones((2, 4)))
    with pytest.raises(TypeError, match="network protocol"):
        check_network(object(), 3, 1, "encoder")
    with pytest.raises(CardinalityError, match="encoder must map 4 inputs"):
        check_network(net, 4, 1, "encoder")
    assert check_network(net, 3, 1, "encoder") is net


def test_mlp_energy_uses_the_shared_network():
    f = pgm.MLPEnergy(3, hidden=(4, 5), activation="tanh", seed=0)
    assert f.weights is f.net.weights and f.biases is f.net.biases
    x = np.random.default_rng(1).standard_normal((7, 3))
    np.testing.assert_allclose(f.energy(x), f.net.forward(x) @ f.readout + f.offset, rtol=1e-14)
