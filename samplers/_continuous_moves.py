"""One transition of every chain for the continuous samplers (private; SPEC.md §2, MCMC).

All chains move at once: each function takes the current states ``x`` (chains, d), their
energies ``E`` (chains,) and gradients ``G`` (chains, d) (``None`` for MH), per-chain step sizes
``eps`` (chains,), standard normals ``z`` (chains, d) and accept uniforms ``u`` (chains,), and
makes one batched call of the model per energy evaluation (HMC: one per leapfrog step).

* :func:`mh` — Gaussian random walk ``x' = x + εz``, accepted with ``min(1, exp(E − E'))``; a
  ``+inf`` proposal energy is a plain rejection.
* :func:`langevin` — proposal ``x' = x − h∇E(x) + √(2h) z`` (``h = eps``).  MALA accepts with
  ``min(1, exp(E − E' + log q(x|x') − log q(x'|x)))``, ``log q(b|a) = −|b − a + h∇E(a)|²/(4h)``;
  ULA (``adjust=False``) moves unless the step diverges, and reports that would-be MALA
  probability.
* :func:`hmc` — ``n_leapfrog`` leapfrog steps (half kick, drift, half kick) with momentum
  ``p ~ N(0, M)`` (diagonal ``M``), accepted with ``min(1, exp(−ΔH))``,
  ``H = E(q) + ½ pᵀM⁻¹p``.

Divergence: a proposal (or a leapfrog step) with a non-finite position or gradient, a ``+inf``
energy, or ``|ΔH| > 1000`` (MALA: ``|log r| > 1000``) marks the transition ``diverging``; it is
rejected and the chain stays where it was (ULA too: its ratio ``r`` is computed anyway, and a
step with ``|log r| > 1000`` is the start of a numerical explosion).  MH diverges on a
non-finite proposal only.  Rows that can not be evaluated are replaced by the chain's current
state in the batched call, so the model only ever sees finite points, and every call has the
same shape (chains, d): a chain's numbers then do not depend on what the other chains do.

A model that returns the wrong shape, or a NaN (or ``−inf``) energy at a finite point, raises
:class:`pgm.errors.SamplingError` naming the iteration and the chain.
"""

from collections import namedtuple

import numpy as np

from pgm.errors import SamplingError

__all__ = ["Evaluator", "Move", "mh", "langevin", "hmc", "initial_step_size", "DIVERGENCE"]

#: ``|ΔH|`` above which a trajectory is declared divergent
DIVERGENCE = 1000.0

Move = namedtuple("Move", "x E G accept_prob accepted diverging hamiltonian n_steps")
Move.__doc__ = """The chains after one transition, and its statistics (arrays over chains)."""


class Evaluator:
    """Batched, checked calls of the model's energy (and gradient), counted per row.

    Parameters
    ----------
    model : continuous energy model (``energy``, ``grad_x``, optional ``energy_and_grad``)
    need_grad : bool
    free : ndarray (d,) of 0/1, optional
        Multiplies every gradient: zero on clamped variables, which then feel no force.

    Attributes
    ----------
    where : str
        Iteration named in error messages; set by the driver.
    n_energy, n_grad : int
        Rows evaluated so far (an ``energy_and_grad`` row counts once in each).
    """

    def __init__(self, model, need_grad, free=None):
        self.model = model
        self.free = free
        self.name = type(model).__name__
        self.need_grad = need_grad
        self.both = getattr(model, "energy_and_grad", None) if need_grad else None
        self.where = "initial state"
        self.n_energy = 0
        self.n_grad = 0

    def _fail(self, message, chain=None):
        raise SamplingError(f"{message} ({self.where}" + ("" if chain is None else f", chain {chain}") + ")",
                            self.where, chain)

    def __call__(self, x):
        n, d = x.shape
        if self.both is not None:
            out = self.both(x)
            if not isinstance(out, tuple) or len(out) != 2:
                self._fail(f"{self.name}.energy_and_grad must return a pair (E, G)")
            E, G = out
        else:
            E = self.model.energy(x)
            G = self.model.grad_x(x) if self.need_grad else None
        E = np.asarray(E, dtype=np.float64)
        if E.shape != (n,):
            self._fail(f"{self.name}.energy returned shape {E.shape} for {n} points, expected ({n},)")
        self.n_energy += n
        if G is not None:
            G = np.asarray(G, dtype=np.float64)
            if G.shape != (n, d):
                self._fail(f"{self.name}.grad_x returned shape {G.shape}, expected ({n}, {d})")
            if self.free is not None:
                G = np.where(self.free > 0, G, 0.0)
            self.n_grad += n
        bad = np.isnan(E) | (E == -np.inf)
        if bad.any():
            c = int(np.flatnonzero(bad)[0])
            self._fail(f"{self.name}.energy returned {float(E[c])!r} at the finite point {x[c].tolist()!r}", c)
        return E, G


def _finite_rows(a):
    return np.isfinite(a).all(axis=1)


def _safe(proposal, ok, x):
    """``proposal`` with the rows that are not ``ok`` replaced by the current states."""
    return proposal if ok.all() else np.where(ok[:, None], proposal, x)


def _prob(log_r, ok):
    """``min(1, exp(log r))`` where ``ok`` (and ``log r`` is not NaN), else 0."""
    ok = ok & ~np.isnan(log_r)
    return np.where(ok, np.exp(np.minimum(np.where(ok, log_r, 0.0), 0.0)), 0.0)


def _finish(x, E, G, xn, En, Gn, accept, prob, diverging, hamiltonian=None, n_steps=None):
    a = accept[:, None]
    return Move(np.where(a, xn, x), np.where(accept, En, E),
                None if G is None else np.where(a, Gn, G),
                prob, accept, diverging, hamiltonian, n_steps)


def mh(ev, x, E, G, eps, z, u):
    """Gaussian random-walk Metropolis with per-chain scale ``eps``."""
    xn = x + eps[:, None] * z
    fin = _finite_rows(xn)
    En, _ = ev(_safe(xn, fin, x))
    log_r = E - En  # −inf for E' = +inf: rejected
    prob = _prob(log_r, fin)
    return _finish(x, E, None, xn, En, None, fin & (u < prob), prob, ~fin)


def langevin(ev, x, E, G, eps, z, u, adjust=True):
    """MALA (``adjust=True``) or unadjusted Langevin with step ``h = eps``."""
    h = eps[:, None]
    with np.errstate(over="ignore", invalid="ignore"):
        xn = x - h * G + np.sqrt(2.0 * h) * z
        fin = _finite_rows(xn)
        En, Gn = ev(_safe(xn, fin, x))
        back = x - xn + h * Gn
        log_r = E - En - np.sum(back * back, axis=1) / (4.0 * eps) + 0.5 * np.sum(z * z, axis=1)
        ok = fin & _finite_rows(Gn) & (np.abs(log_r) <= DIVERGENCE)
    prob = _prob(log_r, ok)
    accept = ok & (u < prob) if adjust else ok
    return _finish(x, E, G, xn, En, Gn, accept, prob, ~ok)


def hmc(ev, x, E, G, eps, z, u, n_leapfrog=10, inv_mass=1.0, sqrt_mass=1.0):
    """Leapfrog HMC; the ``hamiltonian`` statistic is ``H`` of the recorded (q, p) pair."""
    e = eps[:, None]
    p = z * sqrt_mass
    H0 = E + 0.5 * np.sum(p * p * inv_mass, axis=1)
    q, g, Eq, H1 = x, G, E, H0
    alive = np.ones(x.shape[0], dtype=bool)
    steps = np.zeros(x.shape[0], dtype=np.int64)
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(n_leapfrog):
            ph = p - 0.5 * e * g
            qn = q + e * (ph * inv_mass)
            fin = alive & _finite_rows(qn)
            En, Gn = ev(_safe(qn, fin, x))
            pn = ph - 0.5 * e * Gn
            Hn = En + 0.5 * np.sum(pn * pn * inv_mass, axis=1)
            steps += alive
            alive = fin & _finite_rows(Gn) & (np.abs(Hn - H0) <= DIVERGENCE)
            if alive.all():             # the common case: no row to hold back
                q, p, g, Eq, H1 = qn, pn, Gn, En, Hn
                continue
            a = alive[:, None]
            q, p, g = np.where(a, qn, q), np.where(a, pn, p), np.where(a, Gn, g)
            Eq, H1 = np.where(alive, En, Eq), np.where(alive, Hn, H1)
            if not alive.any():
                break
    prob = _prob(H0 - H1, alive)
    accept = alive & (u < prob)
    return _finish(x, E, G, q, Eq, g, accept, prob, ~alive, np.where(accept, H1, H0), steps)


def initial_step_size(move, x, E, G, z, max_doublings=60):
    """Hoffman & Gelman (2014) Alg. 4 "find reasonable ε", per chain, for any ``move``.

    Starting from ``ε = 1``, doubles (halves) each chain's ε while its one-transition acceptance
    probability with the fixed normals ``z`` stays above (below) ½; at most ``max_doublings``
    times (flat energies never cross ½).  ``move(x, E, G, eps, z, u)`` is a transition with one
    leapfrog step for HMC.
    """
    chains = x.shape[0]
    eps = np.ones(chains)
    u = np.zeros(chains)
    prob = move(x, E, G, eps, z, u).accept_prob
    up = prob > 0.5
    active = np.ones(chains, dtype=bool)
    for _ in range(max_doublings):
        active &= np.where(up, prob > 0.5, prob < 0.5)
        if not active.any():
            break
        eps = np.where(active, np.where(up, 2.0 * eps, 0.5 * eps), eps)
        prob = np.where(active, move(x, E, G, eps, z, u).accept_prob, prob)
    return eps
