"""Diverging training of the directed and neural generative models stops with a typed error
naming the epoch and batch (a non-finite loss or gradient), and the model keeps its last good
parameters."""

import warnings

import numpy as np
import pytest

import estimators
import pgm


@pytest.mark.parametrize("make", [
    lambda: (pgm.NADE(8, 5, seed=0), estimators.MaximumLikelihood()),
    lambda: (pgm.FVSBN(8, seed=0), estimators.MaximumLikelihood()),
    lambda: (pgm.VAE(8, 2, hidden=(4,), seed=0), estimators.ELBO()),
    lambda: (pgm.SigmoidBeliefNet((8, 3), seed=0), estimators.WakeSleep()),
    lambda: (pgm.SigmoidBeliefNet((8, 3), seed=0), estimators.NVIL()),
], ids=["nade", "fvsbn", "vae", "sbn-wake-sleep", "sbn-nvil"])
def test_diverging_training_stops_with_a_typed_error_naming_the_epoch(make):
    model, objective = make()
    x = (np.random.default_rng(0).random((200, 8)) < 0.3).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(FloatingPointError, match=r"at epoch 1, batch \d+ .*diverged"):
            estimators.fit(model, x, objective, estimators.SGD(1e308), epochs=3, batch_size=50, seed=0,
                           progress=False)
    assert all(np.all(np.isfinite(v)) for v in model.params.values())
