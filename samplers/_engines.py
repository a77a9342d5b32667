"""Adapters from a model's compiled form to the compiled kernels (private).

An engine owns the compiled arrays and the sweep order, converts states between the model's
domain and the kernel's representation, and advances chains by chunks of draws.  ``betas``
(one per chain) temper the target to ``p̃^β`` for replica exchange; the recorded ``lp`` is
always the untempered ``log p̃``.
"""

import numpy as np

from pgm.compiled import compile_factors

from ._factor_kernels import factor_chunk, factor_log_unnormalized
from ._spin_kernels import make_plan, plan_energy, sample_plan


class SpinForm:
    """A binary pairwise factor model seen as a spin model (see ``pairwise_binary_to_spin``)."""

    domain = (0, 1)
    beta = 1.0
    observables = ("energy",)

    def __init__(self, arrays, log_const):
        self.arrays, self.log_const = arrays, log_const

    def spin_arrays(self):
        # log p̃ = −E_spin + C, so E = −log p̃ = E_spin − C
        return self.arrays, -self.log_const


class SpinEngine:
    """Heat-bath Gibbs on pairwise ±1 spin models (Ising; Boltzmann machines in spin form;
    binary pairwise Markov networks through :class:`SpinForm`)."""

    def __init__(self, model, order, random_scan):
        arrays, self.offset = model.spin_arrays()
        self.plan = make_plan(arrays.indptr, arrays.indices, arrays.weights, arrays.field,
                              np.asarray(order, dtype=np.int64), check_symmetric=False)
        self.beta = float(model.beta)
        self.random_scan = bool(random_scan)
        self.binary01 = tuple(model.domain) == (0, 1)
        self.builtin = getattr(model, "observables", None) or (
            ("energy", "mean_activation") if self.binary01 else ("energy", "magnetization"))

    def log_unnormalized(self, state):
        return -self.beta * (plan_energy(self.plan, state) + self.offset)

    def to_internal(self, x):
        x = np.asarray(x)
        s = (2 * x - 1) if self.binary01 else x
        return np.ascontiguousarray(s, dtype=np.int8)

    def to_user(self, s):
        return ((s + 1) // 2).astype(np.int8) if self.binary01 else s

    def run(self, state, rng, n_draws, thin, record, keep, betas=None):
        beta = self.beta if betas is None else self.beta * betas
        states, e_spin, mag = sample_plan(self.plan, state, rng, beta, n_draws, thin,
                                          self.random_scan, record_states=keep)
        energy = e_spin + self.offset
        obs = {"energy": energy, "mean_activation": (mag + 1.0) / 2.0, "magnetization": mag}
        obs = {k: obs[k] for k in self.builtin}
        stats = {"lp": -self.beta * energy}
        return (self.to_user(states) if keep else None), obs, stats


class FactorEngine:
    """Single-site Gibbs or Metropolis on any discrete factor model (state indices)."""

    def __init__(self, model, order, random_scan, metropolis):
        if hasattr(model, "compile_factors"):
            self.arrays = model.compile_factors()
        else:
            self.arrays = compile_factors(*model.log_factors())
        self.order = np.ascontiguousarray(order, dtype=np.int64)
        self.random_scan = bool(random_scan)
        self.metropolis = bool(metropolis)
        domain = getattr(model, "domain", None)
        self.domain = None if domain is None or tuple(domain) == tuple(range(len(domain))) else \
            np.asarray(domain, dtype=np.int8)
        self.beta = float(getattr(model, "beta", 1.0))
        self.builtin = ("energy", "magnetization") if self.domain is not None else ("energy",)

    def log_unnormalized(self, state):
        a = self.arrays
        return factor_log_unnormalized(state, a.f_offset, a.f_ptr, a.f_var, a.f_stride, a.tables)

    def to_internal(self, x):
        x = np.asarray(x)
        if self.domain is not None:
            x = np.searchsorted(self.domain, x)
        return np.ascontiguousarray(x, dtype=np.int32)

    def to_user(self, x):
        return self.domain[x] if self.domain is not None else x

    def run(self, state, rng, n_draws, thin, record, keep, betas=None):
        chains, n = state.shape
        d = n_draws if record else 0
        out_states = np.empty((chains, d, n), dtype=np.int32)
        lp = np.empty((chains, d))
        acc = np.empty((chains, d))
        a = self.arrays
        betas = np.ones(chains) if betas is None else np.ascontiguousarray(betas, dtype=np.float64)
        factor_chunk(state, rng, self.order, self.random_scan, self.metropolis, betas, n_draws,
                     thin, record, a.cards, a.v_ptr, a.v_factor, a.v_stride, a.f_offset, a.f_ptr,
                     a.f_var, a.f_stride, a.tables, out_states, lp, acc)
        if not record:
            return None, {}, {}
        user = self.to_user(out_states)
        obs = {"energy": -lp / self.beta}
        if self.domain is not None:
            obs["magnetization"] = user.mean(axis=2, dtype=np.float64)
        stats = {"lp": lp}
        if self.metropolis:
            stats["acceptance_rate"] = acc
        return (user if keep else None), obs, stats
