"""Denoising and walk-back training of denoising-autoencoder chains and GSNs (SPEC.md §5,
"Generative stochastic networks: … walk-back training of the denoising-autoencoder chain";
Bengio et al. 2013, "Generalized denoising auto-encoders as generative models", §4).

Denoising training (``k = 1``) minimises ``−mean_x log p(x | x̃)`` with ``x̃ ~ C(x̃ | x)``: the
reconstruction distribution learns to undo the corruption, and the chain it defines samples an
estimate of the data distribution.  Walk-back (``k > 1``) runs the chain ``k`` steps from every
data point, ``x_0 = x``, ``x̃_t ~ C(· | x_{t−1})``, ``x_t ~ p(· | x̃_t)``, and trains the
reconstruction of the *original* ``x`` from every visited corrupted state:

    ``loss = −(1/k) Σ_{t=1..k} mean_x log p(x | x̃_t)``,

the visited states held constant (no gradient through the sampling).  Corrupted states far from
the data — the regions where a chain started at the data wanders and where spurious modes would
otherwise survive — are thereby pulled back towards it.

A GSN (:class:`pgm.GSN`, any model offering ``walkback_loss_and_grad``) unrolls its latent chain
from ``(x, h_0 = 0)`` instead and back-propagates through the deterministic ``h`` path
(the model computes it; see its docstring).

The noise is drawn from the update's random generator (normals by ``standard_normal``, uniforms
by ``random``), step by step; with a fixed ``rng`` the loss is a deterministic function of the
parameters (piecewise constant in them through the sampled binary states).
"""

import numbers

import numpy as np

from .objectives import Objective

__all__ = ["WalkBack"]


def _draw(rng, shapes):
    return {kind: (rng.standard_normal(shape) if kind == "normal" else rng.random(shape))
            for kind, shape in shapes.items()}


class WalkBack(Objective):
    """Denoising (``walkback_steps = 1``) or walk-back (``> 1``) training of a DAE chain or a GSN.

    Parameters
    ----------
    walkback_steps : int ≥ 1
        ``k``: chain steps from each data point whose corrupted states train the reconstruction.
    n_noise : int ≥ 1
        Independent walks per data point and evaluation (averaged; lower gradient variance).

    The model (:class:`pgm.DAEChain`) must offer ``corruption_noise_shapes``, ``corrupt``,
    ``reconstruction_noise_shapes``, ``sample_reconstruction`` and
    ``log_reconstruction_and_grad``; a model with ``walkback_loss_and_grad`` and
    ``walkback_noise_shapes`` (:class:`pgm.GSN`) computes the unrolled loss itself.

    Stats: ``"loss"`` (what is minimised, nats per row) and ``"first_step"`` (the ordinary
    denoising loss ``−mean log p(x | x̃_1)``, comparable across ``k``).

    Examples
    --------
    >>> import numpy as np, estimators
    >>> from pgm.autoencoder_chain import DAEChain
    >>> from estimators.walkback import WalkBack
    >>> x = np.random.default_rng(0).normal(size=(200, 2)) * [1.0, 0.3]
    >>> dae = DAEChain(2, hidden=(16,), noise=0.3, seed=0)
    >>> before = WalkBack(3).loss(dae, x, rng=0)
    >>> h = estimators.fit(dae, x, WalkBack(3), estimators.Adam(lr=0.01), epochs=20,
    ...                    batch_size=50, seed=0, progress=False)
    >>> bool(WalkBack(3).loss(dae, x, rng=0) < before)
    True
    """

    has_loss = True
    #: the data kind follows the model (a Bernoulli reconstruction gets binary-checked data)
    data_kind = None
    requires = ("chain_step", "chain_noise_shapes")

    def __init__(self, walkback_steps=1, n_noise=1):
        super().__init__()
        for value, name in ((walkback_steps, "walkback_steps"), (n_noise, "n_noise")):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        self.walkback_steps = int(walkback_steps)
        self.n_noise = int(n_noise)

    def config(self):
        return {"type": "WalkBack", "walkback_steps": self.walkback_steps, "n_noise": self.n_noise}

    def setup(self, model, data):
        if callable(getattr(model, "walkback_loss_and_grad", None)):
            return
        need = ("corruption_noise_shapes", "corrupt", "reconstruction_noise_shapes",
                "sample_reconstruction", "log_reconstruction_and_grad")
        missing = [m for m in need if not callable(getattr(model, m, None))]
        if missing:
            raise TypeError(f"WalkBack needs a denoising-autoencoder chain (pgm.DAEChain) or a GSN; "
                            f"{type(model).__name__} lacks {missing}")

    def visited(self, model, x, rng):
        """The corrupted states ``x̃_1, …, x̃_k`` of the walks from the rows of ``x`` (stacked
        ``(n_noise · k · n, D)``, walk-major, then step, then row) as :meth:`loss` and the
        gradient see them with the same ``rng`` (a Generator or a seed)."""
        rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        return self._walk(model, self._batch(model, x), rng)

    def _walk(self, model, x, rng):
        n = x.shape[0]
        out = []
        for _ in range(self.n_noise):
            xc = x
            for t in range(self.walkback_steps):
                xt = model.corrupt(xc, _draw(rng, model.corruption_noise_shapes(n)))
                out.append(xt)
                if t < self.walkback_steps - 1:
                    xc = model.sample_reconstruction(xt, _draw(rng, model.reconstruction_noise_shapes(n)))
        return np.concatenate(out, axis=0)

    def _evaluate(self, model, x, rng, need_grad):
        n = x.shape[0]
        if callable(getattr(model, "walkback_loss_and_grad", None)):
            total, grads = 0.0, None
            for _ in range(self.n_noise):
                noise = _draw(rng, model.walkback_noise_shapes(n, self.walkback_steps))
                loss, g, stats = model.walkback_loss_and_grad(x, noise, self.walkback_steps, need_grad)
                total += loss / self.n_noise
                if need_grad:
                    g = {k: np.asarray(v, np.float64) / self.n_noise for k, v in g.items()}
                    grads = g if grads is None else {k: grads[k] + g[k] for k in grads}
            return total, grads, {}
        xt = self._walk(model, x, rng)
        m = xt.shape[0] // n                       # walks × steps
        xs = np.tile(x, (m, 1))
        if need_grad:
            lp, g = model.log_reconstruction_and_grad(xs, xt, np.full(xs.shape[0], 1.0 / xs.shape[0]))
            grads = {k: -np.asarray(v, np.float64) for k, v in g.items()}
        else:
            lp, grads = np.asarray(model.log_reconstruction(xs, xt), np.float64), None
        lp = lp.reshape(self.n_noise, self.walkback_steps, n)
        return -float(lp.mean()), grads, {"first_step": -float(lp[:, 0].mean())}
