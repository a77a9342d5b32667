"""Monitoring callbacks for :func:`estimators.fit` (SPEC.md §3 and §6).

A callback is an object with ``on_epoch_end(epoch, model, history) -> dict or None`` (optionally
``on_batch_end(step, model, stats)``); the returned values join the epoch's record in the
:class:`~estimators.History`.  Callbacks do not draw from the fit's random generator, so
monitoring never changes the training trajectory.

* :class:`PseudoLogLikelihood` — ``mean Σ_i log p(x_i | x_{−i})`` of a data set (binary models;
  exact, no ``Z``).
* :class:`ReconstructionError` — mean squared error between ``v`` and its one-step mean
  reconstruction: ``E[v | E[h | v]]`` for models with ``mean_h`` / ``mean_v`` (RBMs), else the
  single-site conditional means ``p(x_i = 1 | x_{−i})``.
* :class:`AISLogLikelihood` — average log-likelihood with ``log Z`` estimated by
  :func:`samplers.ais` (a stochastic lower bound, SPEC §3; reported with its standard error as
  SPEC §6 asks).
"""

import numbers

import numpy as np

import samplers

from ._protocol import check_data, is_layered, sampling_view
from .objectives import PseudoLikelihood, _flip, _free_energy_rows, _sigmoid

__all__ = ["Callback", "PseudoLogLikelihood", "ReconstructionError", "AISLogLikelihood"]


class Callback:
    """Base: runs every ``every`` epochs (and never between them).

    Subclasses implement ``compute(model) -> dict``.
    """

    def __init__(self, every=1):
        if isinstance(every, bool) or not isinstance(every, numbers.Integral) or every < 1:
            raise ValueError(f"every must be an integer >= 1, got {every!r}")
        self.every = int(every)

    def on_epoch_end(self, epoch, model, history):
        if epoch % self.every == 0:
            return self.compute(model)
        return None

    def compute(self, model):
        raise NotImplementedError


class PseudoLogLikelihood(Callback):
    """``mean_n Σ_i log p(x_i | x_{−i})`` of ``data`` under the model, logged as
    ``"pseudo_log_likelihood"``.

    Examples
    --------
    >>> import numpy as np, pgm, estimators
    >>> cb = estimators.PseudoLogLikelihood(np.array([[0, 1, 1]]))
    >>> round(cb.compute(pgm.BoltzmannMachine(np.zeros((3, 3))))["pseudo_log_likelihood"], 6)
    -2.079442
    """

    def __init__(self, data, every=1, name="pseudo_log_likelihood"):
        super().__init__(every)
        self.data = data
        self.name = name
        self._pl = PseudoLikelihood()

    def compute(self, model):
        return {self.name: -self._pl.loss(model, self.data)}


class ReconstructionError(Callback):
    """Mean over examples and units of ``(v − v̂)²``, logged as ``"reconstruction_error"``.

    Examples
    --------
    >>> import numpy as np, pgm, estimators
    >>> cb = estimators.ReconstructionError(np.array([[0, 1, 1]]))
    >>> cb.compute(pgm.BoltzmannMachine(np.zeros((3, 3))))["reconstruction_error"]
    0.25
    """

    def __init__(self, data, every=1, name="reconstruction_error"):
        super().__init__(every)
        self.data = data
        self.name = name

    def compute(self, model):
        v = check_data(self.data, model)
        rec = None
        if hasattr(model, "mean_h") and hasattr(model, "mean_v"):
            try:                     # mean-field reconstruction v̂ = E[v | h = p(h|v)]
                rec = np.asarray(model.mean_v(model.mean_h(v)), dtype=np.float64)
            except ValueError:       # this model's mean_v takes binary h only
                pass
        if rec is None:
            f0 = np.asarray(model.free_energy(v), dtype=np.float64)
            flip = _free_energy_rows(model, _flip(v, np.eye(v.shape[1])))
            p_flip = _sigmoid(f0[:, None] - flip)        # p(x_i = 1 − v_i | x_{−i})
            rec = np.where(v == 1, 1.0 - p_flip, p_flip)
        return {self.name: float(np.mean((v - rec) ** 2))}


class AISLogLikelihood(Callback):
    """Average log-likelihood of ``data`` with ``log Z`` from :func:`samplers.ais`.

    Logs ``"ais_log_likelihood"`` (mean ``−F(v) − log Ẑ``), ``"ais_log_likelihood_std"``
    (data and ``log Z`` errors combined), ``"ais_log_z"`` and ``"ais_log_z_std"``.  Works for the
    models ``samplers.ais`` takes (Boltzmann machines, discrete networks) and for layered models
    through their ``to_markov_network()`` (the joint of all layers has the same ``Z``).

    Parameters
    ----------
    data : array_like
    every : int
    betas, runs, transition, sweeps :
        Passed to :func:`samplers.ais`.
    seed : int
        Fixed seed of every AIS run (so successive estimates share their randomness).
    """

    def __init__(self, data, every=10, betas=1000, runs=100, transition="gibbs", sweeps=1, seed=0):
        super().__init__(every)
        self.data = data
        self.betas, self.runs, self.transition, self.sweeps, self.seed = betas, runs, transition, sweeps, seed

    def compute(self, model):
        target = model.to_markov_network() if is_layered(model) else sampling_view(model)
        res = samplers.ais(target, betas=self.betas, runs=self.runs, transition=self.transition,
                           sweeps=self.sweeps, seed=self.seed)
        ll = samplers.log_likelihood(model, check_data(self.data, model), res)
        return {"ais_log_likelihood": ll.mean, "ais_log_likelihood_std": ll.std,
                "ais_log_z": res.log_z, "ais_log_z_std": res.log_z_std}
