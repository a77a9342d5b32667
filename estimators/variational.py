"""Variational PCD for deep Boltzmann machines (SPEC.md §4–§5: "learning by variational SML
(mean-field positive phase, persistent Gibbs negative phase)").

``g = ∂E/∂θ(v, μ(v)) − ∂E/∂θ(x⁻)`` averaged over the batch / chains, where ``μ(v)`` are the
mean-field parameters of ``q(h|v)`` (:func:`pgm.inference.mean_field`) — the energy is
multilinear in the layers, so ``E_q[∂E] = ∂E(v, μ)`` — and ``x⁻`` are the full states of
persistent two-block Gibbs chains.  This is the gradient of ``−ELBO`` up to the model term.
"""

import numpy as np

import pgm

from .objectives import PCD, _int

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

    Examples
    --------
    >>> import numpy as np, pgm, estimators
    >>> dbm = pgm.DBM([6, 4, 2], seed=0)
    >>> x = np.random.default_rng(0).integers(0, 2, (20, 6))
    >>> g, _ = estimators.VariationalPCD(chains=10).grad(dbm, x, np.random.default_rng(1))
    >>> sorted(g)
    ['W1', 'W2', 'b0', 'b1', 'b2']
    """

    def __init__(self, k=1, chains=100, mean_field_iterations=10):
        super().__init__(k=k, chains=chains, method="block_gibbs")
        self.mean_field_iterations = _int(mean_field_iterations, "mean_field_iterations", 1)

    def config(self):
        return {**super().config(), "mean_field_iterations": self.mean_field_iterations}

    def setup(self, model, data):
        if getattr(model, "layered_kind", None) != "dbm":
            raise TypeError(f"VariationalPCD trains pgm.DBM models, got {type(model).__name__}")

    def _grad(self, model, x, rng):
        self.setup(model, x)
        self._advance(model, rng)
        full = np.asarray(self.state.x, dtype=np.float64)
        bounds = np.cumsum((0,) + tuple(model.layer_sizes))
        neg = [full[:, bounds[l]:bounds[l + 1]] for l in range(len(model.layer_sizes))]
        mf = pgm.inference.mean_field(model, x, iterations=self.mean_field_iterations, tol=0.0)
        pos = [np.asarray(x, dtype=np.float64)] + [np.atleast_2d(m) for m in mf.mu]
        gp, gn = _dbm_grad(model, pos), _dbm_grad(model, neg)
        return {k: gp[k] - gn[k] for k in gp}, {"elbo": float(np.mean(mf.elbo))}
