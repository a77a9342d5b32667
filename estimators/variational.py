"""Variational PCD for deep Boltzmann machines (SPEC.md §4–§5: "learning by variational SML
(mean-field positive phase, persistent Gibbs negative phase)").

``g = ∂E/∂θ(v, μ(v)) − ∂E/∂θ(x⁻)`` averaged over the batch / chains, where ``μ(v)`` are the
mean-field parameters of ``q(h|v)`` (:func:`pgm.inference.mean_field`) — the energy is
multilinear in the layers, so ``E_q[∂E] = ∂E(v, μ)`` — and ``x⁻`` are the full states of
persistent two-block Gibbs chains.  This is the gradient of ``−ELBO`` up to the model term.

Centring (SPEC §5, Montavon & Müller 2012; Melchior et al. 2016): the same family written as
``E = −Σ_l (x_{l−1} − o_{l−1})ᵀ W_l (x_l − o_l) − Σ_l b̃_lᵀ (x_l − o_l)`` with offsets ``o_l``
near the layers' means (``o_0`` the data mean; hidden offsets a running average, rate ``ν``, of
the mean-field means on the data), so the gradient in the centred parameters,
``∇W̃_l = ∇W_l − o_{l−1} ∇b_lᵀ − ∇b_{l−1} o_lᵀ`` and ``∇b̃_l = ∇b_l`` (``∇`` of the raw
parameters), is far better conditioned.  The model keeps its ordinary parameters: a step
``Δ`` of the centred ones is the step ``ΔW = ΔW̃``, ``Δb_l = Δb̃_l − ΔW̃_lᵀ o_{l−1} − ΔW̃_{l+1} o_{l+1}``
of the raw ones (``b_l = b̃_l − W_lᵀ o_{l−1} − W_{l+1} o_{l+1}`` + const), which is the gradient
this objective hands to the optimiser (exactly centred SGD with plain SGD).
"""

import numpy as np

import pgm

from .objectives import PCD, _int, _real

__all__ = ["VariationalPCD"]


def _dbm_grad(model, layers):
    n = layers[0].shape[0]
    g = {f"W{l}": -(layers[l - 1].T @ layers[l]) / n for l in range(1, len(layers))}
    g.update({f"b{l}": -layers[l].mean(axis=0) for l in range(len(layers))})
    return {k: np.asarray(v, dtype=model.dtype) for k, v in g.items()}


class VariationalPCD(PCD):
    """Mean-field positive phase + persistent block-Gibbs negative phase, for :class:`pgm.DBM`.

    Parameters
    ----------
    k : int
        Gibbs sweeps of the persistent chains per update.
    chains : int
    mean_field_iterations : int
        Fixed-point iterations per batch (≈ 10 for learning, SPEC §4).
    centering : bool
        Follow the centred gradient (module docstring; offsets in :attr:`offsets`).
    offset_rate : float in [0, 1]
        Running-average rate ``ν`` of the hidden offsets.

    Examples
    --------
    >>> import numpy as np, pgm, estimators
    >>> dbm = pgm.DBM([6, 4, 2], seed=0)
    >>> x = np.random.default_rng(0).integers(0, 2, (20, 6))
    >>> g, _ = estimators.VariationalPCD(chains=10).grad(dbm, x, np.random.default_rng(1))
    >>> sorted(g)
    ['W1', 'W2', 'b0', 'b1', 'b2']
    """

    def __init__(self, k=1, chains=100, mean_field_iterations=10, centering=False, offset_rate=0.01):
        super().__init__(k=k, chains=chains, method="block_gibbs")
        self.mean_field_iterations = _int(mean_field_iterations, "mean_field_iterations", 1)
        if not isinstance(centering, bool):
            raise TypeError(f"centering must be True or False, got {centering!r}")
        self.centering = centering
        self.offset_rate = _real(offset_rate, "offset_rate", 0.0, 1.0)
        self.offsets = None

    def config(self):
        return {**super().config(), "mean_field_iterations": self.mean_field_iterations,
                "centering": self.centering, "offset_rate": self.offset_rate}

    def setup(self, model, data):
        if getattr(model, "layered_kind", None) != "dbm":
            raise TypeError(f"VariationalPCD trains pgm.DBM models, got {type(model).__name__}")
        if self.centering and self.offsets is None:
            data = np.asarray(data, dtype=np.float64)
            self.offsets = [data.mean(axis=0)] + [np.full(n, 0.5) for n in model.layer_sizes[1:]]

    def centered(self, grads):
        """The raw-parameter step of a centred gradient step (module docstring), for the
        current offsets."""
        o = self.offsets
        L = len(o) - 1
        gW = {l: grads[f"W{l}"] - np.outer(o[l - 1], grads[f"b{l}"]) - np.outer(grads[f"b{l - 1}"], o[l])
              for l in range(1, L + 1)}
        out = {f"W{l}": gW[l] for l in gW}
        for l in range(L + 1):
            g = grads[f"b{l}"]
            if l >= 1:
                g = g - gW[l].T @ o[l - 1]
            if l < L:
                g = g - gW[l + 1] @ o[l + 1]
            out[f"b{l}"] = g
        return {k: out[k] for k in grads}

    def _grad(self, model, x, rng):
        self.setup(model, x)
        self._advance(model, rng)
        full = np.asarray(self.state.x, dtype=np.float64)
        bounds = np.cumsum((0,) + tuple(model.layer_sizes))
        neg = [full[:, bounds[l]:bounds[l + 1]] for l in range(len(model.layer_sizes))]
        mf = pgm.inference.mean_field(model, x, iterations=self.mean_field_iterations, tol=0.0)
        pos = [np.asarray(x, dtype=np.float64)] + [np.atleast_2d(m) for m in mf.mu]
        gp, gn = _dbm_grad(model, pos), _dbm_grad(model, neg)
        grads = {k: gp[k] - gn[k] for k in gp}
        if self.centering:
            grads = self.centered(grads)
            for l in range(1, len(pos)):         # hidden offsets follow the data's mean-field means
                self.offsets[l] += self.offset_rate * (pos[l].mean(axis=0) - self.offsets[l])
        return grads, {"elbo": float(np.mean(mf.elbo))}

    def state_dict(self):
        out = super().state_dict()
        if self.offsets is not None:
            out.update({f"offsets.{l}": o for l, o in enumerate(self.offsets)})
        return out

    def load_state_dict(self, arrays):
        rest = super().load_state_dict(arrays)
        keys = sorted((k for k in rest if k.startswith("offsets.")), key=lambda k: int(k.split(".")[1]))
        self.offsets = [np.array(rest[k], dtype=np.float64) for k in keys] or None
        return {k: v for k, v in rest.items() if not k.startswith("offsets.")}
