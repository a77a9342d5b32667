"""Adversarial training of a generative adversarial network (SPEC.md §5, "GAN"; Goodfellow et
al. 2014).

The discriminator ``d(x) = σ(D(x))`` and the generator ``g(z)``, ``z ~ N(0, I)``, play

    ``min_g max_d  V(d, g) = E_data log d(x) + E_z log(1 − d(g(z)))``.

With ``a = D(x)`` on the ``n`` data rows and ``b = D(g(z))`` on ``m`` generated rows
(``log d = log σ(a)``, ``log(1 − d) = log σ(−a)``, both computed stably):

* the discriminator *minimises* ``L_D = −mean log σ(a) − mean log σ(−b)`` (ascent on ``V``):
  ``∂L_D/∂a_i = −σ(−a_i)/n``, ``∂L_D/∂b_j = σ(b_j)/m``;
* the generator minimises ``L_G = mean log σ(−b)`` (``"minimax"``, descent on ``V``; its
  gradient vanishes when ``d(g(z)) → 0``, early in training) or ``L_G = −mean log σ(b)``
  (``"non_saturating"``, same fixed point, strong gradients early): ``∂L_G/∂b_j = −σ(b_j)/m`` or
  ``−σ(−b_j)/m``, carried to the generator through ``∂D/∂x`` at ``x = g(z_j)`` and ``g``'s
  vector–Jacobian product.

Update scheme (one :meth:`Adversarial.update` per minibatch): with ``discriminator_steps = k``,
``k − 1`` discriminator-only steps (fresh noise each) are followed by one *simultaneous* step in
which one gradient dict holds ``∂L_D/∂(discriminator)`` and ``∂L_G/∂(generator)``, both computed
at the current parameters on the same batch and the same noise, and one optimiser step moves
both networks (simultaneous gradient descent on the two players' losses).  Everything is
drawn from the fit's random generator and kept in the optimiser, so a checkpointed run resumes
bit for bit.  The optimiser takes ``k`` steps per update (its learning-rate schedule and Adam's
bias correction count those).
"""

import numbers

import numpy as np

from pgm.network import log_sigmoid, sigmoid

from ._update import apply_update, check_finite, fresh_results, param_view
from .mmd import generator_noise
from .objectives import Objective

__all__ = ["Adversarial", "LOSSES"]

#: generator losses
LOSSES = ("non_saturating", "minimax")


def _count(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


class Adversarial(Objective):
    """Train a GAN: discriminator ascent on ``E_data log d(x) + E_z log(1 − d(g(z)))`` and a
    generator step on the minimax or non-saturating loss, once per minibatch (SPEC.md §5).

    Parameters
    ----------
    loss : {"non_saturating", "minimax"}
        Generator loss: ``−E_z log d(g(z))`` (default) or ``E_z log(1 − d(g(z)))``.
    discriminator_steps : int ≥ 1
        Discriminator updates per minibatch; the last one is taken together with the generator
        update (see the module docstring).
    samples : int ≥ 1, optional
        Generator samples ``m`` per step (default: as many as the batch has rows).
    instance_noise : float ≥ 0
        Standard deviation ``τ`` of Gaussian noise added to the data and to the generated samples
        before the discriminator sees them (Sønderby et al. 2017; Arjovsky & Bottou 2017): the
        game then matches ``p_data ∗ N(0, τ²I)`` with ``p_g ∗ N(0, τ²I)`` — the same optimum,
        as convolution with a Gaussian is injective — and the discriminator's task overlaps,
        which steadies training.  Drawn from the update's random generator after ``z``.

    The model must offer ``noise_shapes(m)`` (standard-normal noise), ``generate_vjp(z)`` and
    ``discriminator_vjp(x)`` (:class:`pgm.generators.GAN`).  There is no single loss
    (``has_loss = False``).  Stats per update: ``"discriminator_loss"`` (``L_D``),
    ``"generator_loss"`` (``L_G``), ``"d_data"`` (mean ``d(x)`` on the batch) and
    ``"d_generated"`` (mean ``d(g(z))``) — at the parameters before the update; at the
    equilibrium ``p_g = p_data`` both means are ½ and ``L_D = 2 log 2``.

    Examples
    --------
    >>> import numpy as np, estimators
    >>> from pgm.generators import GAN
    >>> from estimators.adversarial import Adversarial
    >>> x = np.random.default_rng(0).normal(3.0, 0.5, (256, 1))
    >>> gan = GAN(1, 1, generator_hidden=(8,), discriminator_hidden=(8,), seed=0)
    >>> h = estimators.fit(gan, x, Adversarial(), estimators.Adam(lr=0.02, beta1=0.5),
    ...                    epochs=40, batch_size=64, seed=0, progress=False)
    >>> bool(abs(gan.generate(np.random.default_rng(1).standard_normal((2000, 1))).mean() - 3.0) < 1.0)
    True
    """

    data_kind = "real"
    has_loss = False
    requires = ("noise_shapes", "generate_vjp", "discriminator_vjp")

    def __init__(self, loss="non_saturating", discriminator_steps=1, samples=None, instance_noise=0.0):
        super().__init__()
        if isinstance(instance_noise, bool) or not isinstance(instance_noise, numbers.Real) \
                or not np.isfinite(instance_noise) or instance_noise < 0:
            raise ValueError(f"instance_noise must be a finite real >= 0, got {instance_noise!r}")
        self.instance_noise = float(instance_noise)
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
        self.loss_kind = loss
        self.discriminator_steps = _count(discriminator_steps, "discriminator_steps", 1)
        self.samples = None if samples is None else _count(samples, "samples", 1)

    def config(self):
        return {"type": "Adversarial", "loss": self.loss_kind,
                "discriminator_steps": self.discriminator_steps, "samples": self.samples,
                "instance_noise": self.instance_noise}

    def __repr__(self):
        return (f"Adversarial(loss={self.loss_kind!r}, discriminator_steps={self.discriminator_steps}, "
                f"samples={self.samples!r}, instance_noise={self.instance_noise!r})")

    # ------------------------------------------------------------------ evaluation
    def _evaluate(self, model, x, rng, need_grad, generator=True):
        """``(None, grads, stats)``: ``grads`` holds ``∂L_D`` for the discriminator and (with
        ``generator``) ``∂L_G`` for the generator, at the current parameters."""
        n = x.shape[0]
        m = self.samples if self.samples is not None else n
        z = generator_noise(model, m, rng)
        y, g_vjp = model.generate_vjp(z)
        if self.instance_noise > 0:                  # (∂(y + τε)/∂y = I: gradients pass unchanged)
            x = x + self.instance_noise * rng.standard_normal(x.shape)
            y = y + self.instance_noise * rng.standard_normal(y.shape)
        a, a_vjp = model.discriminator_vjp(x)
        b, b_vjp = model.discriminator_vjp(y)
        a = np.asarray(a, dtype=np.float64)
        b = np.asarray(b, dtype=np.float64)
        log_d_b, log_1md_b = log_sigmoid(b), log_sigmoid(-b)
        d_loss = -float(np.mean(log_sigmoid(a))) - float(np.mean(log_1md_b))
        g_loss = float(np.mean(log_1md_b)) if self.loss_kind == "minimax" else -float(np.mean(log_d_b))
        stats = {"discriminator_loss": d_loss, "generator_loss": g_loss,
                 "d_data": float(np.mean(sigmoid(a))), "d_generated": float(np.mean(sigmoid(b)))}
        if not need_grad:
            return None, None, stats
        sb = sigmoid(b)
        _, grads = a_vjp(-sigmoid(-a) / n, need_x=False)
        _, grads_b = b_vjp(sb / m, need_x=False)
        grads = {k: grads[k] + grads_b[k] for k in grads}
        if generator:
            cot = -sb / m if self.loss_kind == "minimax" else -(1.0 - sb) / m
            gy, _ = b_vjp(cot, need_x=True)
            grads.update(g_vjp(gy))
        return None, grads, stats

    def losses(self, model, x, rng=None):
        """The monitoring values (``discriminator_loss``, ``generator_loss``, ``d_data``,
        ``d_generated``) on batch ``x`` at the current parameters; deterministic for a fixed
        ``rng`` (a Generator or a seed: the generator noise)."""
        rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        return self._evaluate(model, self._batch(model, x), rng, need_grad=False)[2]

    def discriminator_grad(self, model, x, rng=None):
        """``(grads, stats)`` of a discriminator-only step: ``∂L_D`` for the discriminator's
        parameters (keys ``"discriminator.W1", …``)."""
        rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        _, grads, stats = self._evaluate(model, self._batch(model, x), rng, True, generator=False)
        return grads, stats

    def update(self, model, x, rng, optimizer, where="in this update"):
        """``discriminator_steps − 1`` discriminator-only optimiser steps, then one simultaneous
        step of both networks (see the module docstring); returns the last step's stats."""
        for _ in range(self.discriminator_steps - 1):
            _, grads, stats = self._evaluate(model, x, rng, True, generator=False)
            check_finite(grads, where, stats)
            new = optimizer.step(param_view(model, self), grads)
            apply_update(model, self, new, where, owned=fresh_results(optimizer))
        return super().update(model, x, rng, optimizer, where)
