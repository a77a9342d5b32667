"""Variational learning of a VAE: the reparametrised ELBO and the importance-weighted bound
(SPEC.md §4 "ELBO", §5 "VAE"; Kingma & Welling 2014, Burda et al. 2016).

Both the generative parameters θ (decoder) and the recognition parameters φ (encoder of
``q(z|x) = N(μ(x), diag σ²(x))``) follow the gradient of one bound on ``log p(x)``; the expectation
over ``q`` is differentiated by reparametrisation, ``z = μ + σ ⊙ ε``
(:func:`estimators.reparameterize`).

* ``k = 1`` (ELBO): ``L = E_q[log p(x|z)] − KL(q(z|x) ‖ N(0, I))``, the reconstruction term
  estimated by ``S = samples`` draws and the KL in closed form ``½ Σ_j (μ_j² + σ_j² − 1 − log σ_j²)``
  (gradients ``∂KL/∂μ = μ``, ``∂KL/∂log σ² = ½(σ² − 1)``).
* ``k > 1`` (IWAE): ``L_k = log (1/k) Σ_j w_j``, ``log w_j = log p(x, z_j) − log q(z_j|x)``; its
  gradient is ``Σ_j w̃_j ∇ log w_j`` with self-normalised weights ``w̃_j = w_j / Σ_i w_i`` and
  ``∇ log w_j`` the reparametrised (pathwise) gradient — with ``ε`` held fixed,
  ``−log q(z_j|x) = ½ Σ (log 2π + log σ² + ε²)`` depends on φ only through ``log σ²``.  ``S``
  independent estimates are averaged.

The minimised loss is ``−bound`` averaged over rows (nats per row), a deterministic function of
the parameters given the noise ``ε`` (drawn from the update's random generator with shape
``(S, n, L)`` for ``k = 1`` and ``(S, k, n, L)`` for ``k > 1``), so finite differences with a fixed
seed check the gradient exactly.
"""

import numbers

import numpy as np

from .objectives import Objective
from .reparameterization import reparameterize, reparameterized_sample

__all__ = ["ELBO"]


def _count(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


class ELBO(Objective):
    """Maximise the ELBO (``k = 1``) or the importance-weighted bound (``k > 1``) of a VAE.

    Parameters
    ----------
    k : int ≥ 1
        Importance samples per bound (``1``: the standard ELBO with the analytic Gaussian KL).
    samples : int ≥ 1
        Independent bound estimates averaged per row (more draws, lower gradient variance).

    The model must offer ``encode_vjp(x)`` and ``log_likelihood_vjp(x, z)`` (see
    :class:`pgm.VAE`) and have the prior ``N(0, I)``.  Memory is ``O(samples · k · rows · width)``.

    Stats: ``"loss"`` (``−bound``, nats per row), ``"kl"`` (mean analytic ``KL(q ‖ p)``) and
    ``"reconstruction"`` (mean ``log p(x|z)`` over the draws).

    Examples
    --------
    >>> import numpy as np, estimators
    >>> from pgm.vae import VAE
    >>> from estimators.elbo import ELBO
    >>> x = (np.random.default_rng(0).random((64, 6)) < 0.3).astype(float)
    >>> vae = VAE(6, 2, hidden=(8,), seed=0)
    >>> before = ELBO(samples=20).loss(vae, x, rng=0)
    >>> h = estimators.fit(vae, x, ELBO(), estimators.Adam(lr=0.02), epochs=30, batch_size=16,
    ...                    seed=0, progress=False)
    >>> bool(ELBO(samples=20).loss(vae, x, rng=0) < before)
    True
    """

    has_loss = True
    #: the data kind follows the model (a Bernoulli VAE gets binary-checked data)
    data_kind = None
    requires = ("encode_vjp", "log_likelihood_vjp")

    def __init__(self, k=1, samples=1):
        super().__init__()
        self.k = _count(k, "k")
        self.samples = _count(samples, "samples")

    def config(self):
        return {"type": "ELBO", "k": self.k, "samples": self.samples}

    def setup(self, model, data):
        for attr in self.requires:
            if not callable(getattr(model, attr, None)):
                raise TypeError(f"ELBO needs a model with {attr}() (a variational autoencoder such as "
                                f"pgm.VAE); {type(model).__name__} has none")

    def _evaluate(self, model, x, rng, need_grad):
        n = x.shape[0]
        mu, log_var, enc_vjp = model.encode_vjp(x)
        mu = np.asarray(mu, dtype=np.float64)
        log_var = np.asarray(log_var, dtype=np.float64)
        var = np.exp(log_var)
        kl = 0.5 * np.sum(mu * mu + var - 1.0 - log_var, axis=-1)
        S, k = self.samples, self.k
        lead = (S,) if k == 1 else (S, k)
        eps = rng.standard_normal(lead + mu.shape)
        z = reparameterized_sample(mu, log_var, eps)
        ll, ll_vjp = model.log_likelihood_vjp(x, z)
        ll = np.asarray(ll, dtype=np.float64)
        stats = {"kl": float(kl.mean()), "reconstruction": float(ll.mean())}
        if k == 1:
            bound = ll.mean(axis=0) - kl                                   # (n,)
            loss = -float(bound.mean())
            if not need_grad:
                return loss, None, stats
            cot = np.full(ll.shape, -1.0 / (S * n))                        # ∂loss/∂ll
            gz, grads = ll_vjp(cot)
            g_mu, g_lv = reparameterize(mu, log_var, eps, gz)
            g_mu += mu / n                                                 # analytic KL
            g_lv += 0.5 * (var - 1.0) / n
        else:
            # log w = log p(x|z) + log p(z) − log q(z|x); the log 2π terms cancel
            log_w = ll - 0.5 * np.sum(z * z - eps * eps, axis=-1) + 0.5 * np.sum(log_var, axis=-1)
            top = log_w.max(axis=1, keepdims=True)
            w = np.exp(log_w - top)
            total = w.sum(axis=1, keepdims=True)
            bound = (np.log(total) + top)[:, 0] - np.log(k)                # (S, n)
            loss = -float(bound.mean())
            if not need_grad:
                return loss, None, stats
            cot = -(w / total) / (S * n)                                   # ∂loss/∂log w_j
            gz, grads = ll_vjp(cot)
            gz = gz - cot[..., None] * z                                   # log p(z) = −½‖z‖² + c
            g_mu, g_lv = reparameterize(mu, log_var, eps, gz)
            g_lv += 0.5 * cot.sum(axis=(0, 1))[:, None]                    # −log q: ½ log σ² direct
        grads = dict(grads)
        grads.update(enc_vjp(g_mu, g_lv))
        return loss, {name: grads[name] for name in model.params}, stats
