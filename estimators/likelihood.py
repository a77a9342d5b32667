"""Maximum likelihood for models with an exact, normalised ``log p(x)`` (SPEC.md §5: FVSBN,
NADE — "exact likelihood and gradient").

Autoregressive models need neither a partition function nor sampling to learn: the minimised
loss is the negative mean log-likelihood ``−(1/n) Σ_k log p(x_k)`` (nats per row) and its
gradient is ``−(1/n) Σ_k ∂ log p(x_k)/∂θ``, which the model computes in closed form
(``grad_log_prob``; one backward pass for NADE).  The loss is exact, so full-batch optimisers
(:class:`estimators.LBFGS`) apply as well as minibatch ones.
"""

import numpy as np

from .objectives import Objective

__all__ = ["MaximumLikelihood"]


class MaximumLikelihood(Objective):
    """Maximum likelihood: minimises ``−mean log p(x)`` for models with an exact ``log_prob``.

    The model must offer ``log_prob(x)`` (one normalised log-probability per row) and
    ``grad_log_prob(x, weights=None)`` (``Σ_k w_k ∂ log p(x_k)/∂θ``, default ``w_k = 1/n``), e.g.
    :class:`pgm.FVSBN` and :class:`pgm.NADE`; ``log_prob_and_grad`` is used when present (one
    pass instead of two).  The data must be binary when the model's ``domain`` is ``(0, 1)``
    (checked by :func:`estimators.fit`); models over other domains are accepted too.

    Stats: ``"loss"`` (nats per row, what is minimised) and ``"bits_per_dim"``
    (``loss / (D ln 2)``).

    Examples
    --------
    >>> import numpy as np, pgm, estimators
    >>> x = (np.random.default_rng(0).random((200, 3)) < [0.2, 0.5, 0.9]).astype(float)
    >>> m = pgm.FVSBN(3, seed=0)
    >>> h = estimators.fit(m, x, estimators.MaximumLikelihood(), estimators.LBFGS(),
    ...                    epochs=1, progress=False)
    >>> bool(np.allclose(m.conditionals(x)[:, 0], x[:, 0].mean(), atol=1e-4))   # MLE of p(v_0)
    True
    """

    has_loss = True
    #: the data kind follows the model (binary models get binary-checked data)
    data_kind = None
    requires = ("log_prob", "grad_log_prob")

    def setup(self, model, data):
        for attr in self.requires:
            if not callable(getattr(model, attr, None)):
                raise TypeError(f"MaximumLikelihood needs a model with an exact {attr}(); "
                                f"{type(model).__name__} has none")

    def config(self):
        return {"type": "MaximumLikelihood"}

    def _evaluate(self, model, x, rng, need_grad):
        n = x.shape[0]
        if not need_grad:
            lp = np.asarray(model.log_prob(x), dtype=np.float64).reshape(-1)
            grads = None
        elif hasattr(model, "log_prob_and_grad"):
            lp, g = model.log_prob_and_grad(x)
            lp = np.asarray(lp, dtype=np.float64).reshape(-1)
        else:
            lp = np.asarray(model.log_prob(x), dtype=np.float64).reshape(-1)
            g = model.grad_log_prob(x)
        if need_grad:
            grads = {k: -np.asarray(v, dtype=np.float64) for k, v in g.items()}
        loss = -float(lp.sum()) / n
        stats = {"bits_per_dim": loss / (x.shape[1] * np.log(2.0))}
        return loss, grads, stats
