"""Swendsen–Wang and Wolff cluster moves for pairwise ±1 spin models (SPEC.md §2, MCMC).

Model: ``p(s) ∝ exp(β Σ_{i<j} J_ij s_i s_j + β Σ_i h_i s_i)`` — :class:`pgm.Ising`, a
:class:`pgm.BoltzmannMachine` or a binary pairwise Markov network in spin form
(``samplers/_discrete.py``).  Fields enter through a *ghost spin* ``g = +1`` joined to every site
``i`` with ``h_i ≠ 0`` by a bond of coupling ``h_i``; the ghost and the clamped sites (evidence)
are *frozen*.

Bonds (Fortuin–Kasteleyn / Edwards–Sokal): a bond ``(i, j)`` is *satisfied* when
``J_ij s_i s_j > 0`` and is then activated with probability ``p_ij = 1 − exp(−2β|J_ij|)``;
unsatisfied bonds never are.  Given the active bonds, every configuration that satisfies all of
them is equally likely, so each connected cluster is flipped independently with probability ½ —
except those containing a frozen site, which stay.  This is exact for couplings of any sign:
antiferromagnetic and frustrated models are sampled correctly too (the active bonds are always
consistent, being satisfied by the current state), but on frustrated models the clusters
percolate and the moves lose their advantage over single-site Gibbs.

* **Swendsen–Wang** (``method="swendsen_wang"``): one step activates bonds over the whole graph
  (one uniform per bond; union–find with path halving over the active ones), then flips every
  free cluster with probability ½ (the random bit of its root).
* **Wolff** (``method="wolff"``): one step grows a single cluster from a free site drawn
  uniformly, adding each satisfied bond's other end with probability ``p_ij``, and flips it; a
  cluster that reaches a frozen site (the ghost or a clamped spin) is not flipped (the move is
  rejected; this keeps detailed balance, since every cluster that can be flipped is generated
  with the usual Wolff probabilities).  One step is ``clusters`` such moves (default 1); the mean
  cluster size ``⟨|C|⟩`` (``info["mean_cluster_size"]``) says how many steps make a sweep
  (``n / ⟨|C|⟩``).

Both keep a per-chain β factor (replica exchange, simulated tempering, AIS), draw from each
chain's own xoshiro256 stream (``prange`` over chains: bit-identical for any thread count) and
continue exactly from ``Samples.final_state``.  Recorded per draw as for Gibbs: ``lp``,
``energy``, ``magnetization`` (or ``mean_activation`` for 0/1 models).
"""

import math

import numba
import numpy as np
from numba import prange, uint64

from pgm.errors import ModelError

from ._discrete import DiscreteKernel, SpinStates, spin_form
from ._kernel import count, register
from ._rng import TWO_POW_M53, uniform_index, xoshiro_step

__all__ = ["SwendsenWang", "Wolff", "ClusterGraph"]


class ClusterGraph(SpinStates):
    """Bond lists of a spin model for the cluster kernels (the "engine" of :class:`SwendsenWang`
    and :class:`Wolff`; states: int8 spins).

    Edges ``i < j`` with non-zero coupling, then the ghost bonds ``(i, n)`` of non-zero fields;
    ``|J|`` classes (``cls``) index one activation probability per class and chain; for Wolff the
    symmetric CSR neighbour lists with the same classes and the per-site ghost bond.
    """

    def __init__(self, model, clamped, wolff):
        super().__init__(model)
        arrays = self.arrays
        self.wolff = bool(wolff)
        n = self.n = int(arrays.indptr.size - 1)
        indptr = np.asarray(arrays.indptr, dtype=np.int64)
        rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
        cols = np.asarray(arrays.indices, dtype=np.int64)
        w = np.asarray(arrays.weights, dtype=np.float64)
        h = np.asarray(arrays.field, dtype=np.float64)
        upper = (cols > rows) & (w != 0)
        has_h = np.flatnonzero(h != 0)
        # unsigned 32-bit bond indices: half the memory traffic of int64, no wrap-around checks
        self.eu = np.ascontiguousarray(np.concatenate([rows[upper], has_h]), dtype=np.uint32)
        self.ev = np.ascontiguousarray(np.concatenate([cols[upper], np.full(has_h.size, n)]), dtype=np.uint32)
        self.n_pairs = int(upper.sum())
        self.coupling = np.ascontiguousarray(np.concatenate([w[upper], h[has_h]]))
        self.jabs, cls = np.unique(np.abs(np.concatenate([self.coupling, w])), return_inverse=True)
        self.cls = np.ascontiguousarray(cls[:self.coupling.size], dtype=np.uint32)
        self.sign = np.sign(self.coupling).astype(np.int8)
        # Wolff: CSR over the sites (zero couplings dropped), each entry's class and sign, and each
        # site's ghost bond (class -1: none)
        keep = w != 0
        self.ptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows[keep], minlength=n), out=self.ptr[1:])
        self.nbr = np.ascontiguousarray(cols[keep])
        self.nbr_cls = np.ascontiguousarray(cls[self.coupling.size:][keep], dtype=np.int64)
        self.nbr_sign = np.sign(w[keep]).astype(np.int8)
        self.h_cls = np.full(n, -1, dtype=np.int64)
        self.h_cls[has_h] = self.cls[self.coupling.size - has_h.size:]
        self.h_sign = np.sign(h).astype(np.int8)
        clamped = np.asarray(sorted(clamped), dtype=np.int64)
        self.frozen_list = np.ascontiguousarray(np.concatenate([clamped, [n]]), dtype=np.uint32)
        self.frozen = np.zeros(n + 1, dtype=np.uint8)
        self.frozen[self.frozen_list] = 1
        self.free = np.ascontiguousarray(np.flatnonzero(self.frozen[:n] == 0), dtype=np.int64)
        self.cluster_moves = 0
        self.cluster_sites = 0

    def log_unnormalized(self, x):
        return -self.beta * (_energies(x, self.eu, self.ev, self.coupling) + self.offset)

    def run(self, x, rng, n, beta, thin=1, record=False, keep=False, clusters=1):
        chains = x.shape[0]
        betas = np.ascontiguousarray(self.beta * beta, dtype=np.float64)
        d = n if record else 0
        states = np.empty((chains, d if keep else 0, self.n), dtype=np.int8)
        energy = np.empty((chains, d))
        mag = np.empty((chains, d))
        thin = thin if record else 1       # n draws of thin steps, or n steps
        if self.wolff:
            sizes = np.zeros(chains, dtype=np.int64)
            _wolff_chunk(x, rng, betas, self.jabs, self.ptr, self.nbr, self.nbr_cls, self.nbr_sign,
                         self.h_cls, self.h_sign, self.frozen, self.free, self.eu, self.ev,
                         self.coupling, n, thin, clusters, record, keep, states, energy, mag, sizes)
            if self.free.size:
                self.cluster_moves += chains * n * thin * clusters
                self.cluster_sites += int(sizes.sum())
        else:
            _sw_chunk(x, rng, betas, self.jabs, self.eu, self.ev, self.cls, self.sign, self.n_pairs,
                      self.coupling, self.frozen_list, n, thin, record, keep, states, energy, mag)
        return self.draws(states, energy, mag, keep) if record else None


# ---------------------------------------------------------------------------- compiled kernels
@numba.njit(cache=True)
def _energy(s, eu, ev, coupling, n):
    e = 0.0
    for k in range(eu.size):
        b = ev[k]
        sb = 1 if b == n else s[b]
        e -= coupling[k] * s[eu[k]] * sb
    return e


@numba.njit(cache=True)
def _mean(s):
    t = 0
    for i in range(s.size):
        t += s[i]
    return t / s.size


@numba.njit(parallel=True, cache=True)
def _energies(spins, eu, ev, coupling):
    out = np.empty(spins.shape[0])
    for c in prange(spins.shape[0]):
        out[c] = _energy(spins[c], eu, ev, coupling, spins.shape[1])
    return out


@numba.njit(cache=True)
def _activation(jabs, beta):
    """``p = 1 − exp(−2β|J|)`` per coupling class."""
    p = np.empty(jabs.size)
    for k in range(jabs.size):
        p[k] = -math.expm1(-2.0 * beta * jabs[k])
    return p


@numba.njit(cache=True)
def _sw_sweeps(s, s0, s1, s2, s3, p, eu, ev, cls, sign, n_pairs, frozen_list, parent, flag, active,
               n_sweeps):
    """``n_sweeps`` Swendsen–Wang steps of one chain.

    Bonds ``0..n_pairs−1`` join two sites, the rest join a site to the ghost ``n``.  A first pass
    draws one uniform per bond and lists the active ones without a data-dependent branch; the
    unions follow (Rem's algorithm with splicing: a parent pointer only ever moves to a smaller
    index), so ``parent[i] ≤ i`` and a cluster's root is its smallest site: one pass in
    increasing order maps every site to its root (Hoshen–Kopelman).  Every index gets a random bit (64 per draw);
    a cluster flips with its root's bit, frozen roots' bits are cleared."""
    sh = uint64(11)
    n = parent.size - 1
    for _ in range(n_sweeps):
        for i in range(n + 1):
            parent[i] = i
        m = 0
        for k in range(n_pairs):
            r, _u, s0, s1, s2, s3 = xoshiro_step(s0, s1, s2, s3)
            on = (sign[k] * s[eu[k]] * s[ev[k]] > 0) & (np.float64(r >> sh) * TWO_POW_M53 < p[cls[k]])
            active[m] = k
            m += on
        for k in range(n_pairs, eu.size):
            r, _u, s0, s1, s2, s3 = xoshiro_step(s0, s1, s2, s3)
            on = (sign[k] * s[eu[k]] > 0) & (np.float64(r >> sh) * TWO_POW_M53 < p[cls[k]])
            active[m] = k
            m += on
        for t in range(m):                     # Rem's union with splicing
            k = active[t]
            x = eu[k]
            y = ev[k]
            while parent[x] != parent[y]:
                if parent[x] < parent[y]:
                    x, y = y, x
                z = parent[x]
                parent[x] = parent[y]
                if x == z:
                    break
                x = z
        for i in range(n + 1):
            parent[i] = parent[parent[i]]      # parent[i] < i is resolved already
        for w in range(0, n + 1, 64):
            _p, bits, s0, s1, s2, s3 = xoshiro_step(s0, s1, s2, s3)
            for j in range(min(64, n + 1 - w)):
                flag[w + j] = np.int8((bits >> uint64(j)) & uint64(1))
        for k in range(frozen_list.size):
            flag[parent[frozen_list[k]]] = 0
        for i in range(n):
            s[i] = s[i] * (1 - 2 * flag[parent[i]])
    return s0, s1, s2, s3


@numba.njit(parallel=True, cache=True)
def _sw_chunk(spins, rng, betas, jabs, eu, ev, cls, sign, n_pairs, coupling, frozen_list, n_draws,
              thin, record, keep, out_states, out_energy, out_mag):
    n = spins.shape[1]
    for c in prange(spins.shape[0]):
        s = spins[c]
        p = _activation(jabs, betas[c])
        parent = np.empty(n + 1, dtype=np.uint32)
        flag = np.empty(n + 1, dtype=np.int8)
        active = np.empty(eu.size, dtype=np.uint32)
        s0, s1, s2, s3 = rng[c, 0], rng[c, 1], rng[c, 2], rng[c, 3]
        for d in range(n_draws):
            s0, s1, s2, s3 = _sw_sweeps(s, s0, s1, s2, s3, p, eu, ev, cls, sign, n_pairs, frozen_list,
                                        parent, flag, active, thin)
            if record:
                out_energy[c, d] = _energy(s, eu, ev, coupling, n)
                out_mag[c, d] = _mean(s)
                if keep:
                    out_states[c, d, :] = s
        rng[c, 0] = s0
        rng[c, 1] = s1
        rng[c, 2] = s2
        rng[c, 3] = s3


@numba.njit(cache=True)
def _wolff_moves(s, s0, s1, s2, s3, p, ptr, nbr, nbr_cls, nbr_sign, h_cls, h_sign, frozen, free,
                 stack, mark, stamp, n_moves):
    """``n_moves`` single-cluster moves; returns the stream, the last stamp and the number of
    sites in the clusters grown (complete or stopped at a frozen site)."""
    sh = uint64(11)
    m = free.size
    grown = 0
    if m == 0:
        return s0, s1, s2, s3, stamp, grown
    for _ in range(n_moves):
        ok = False
        j = 0
        while not ok:
            _p, x, s0, s1, s2, s3 = xoshiro_step(s0, s1, s2, s3)
            j, ok = uniform_index(x, m)
        seed = free[j]
        stamp += 1
        mark[seed] = stamp
        stack[0] = seed
        size = 1
        at = 0
        hit = False
        while at < size and not hit:
            i = stack[at]
            at += 1
            si = s[i]
            hc = h_cls[i]
            if hc >= 0 and h_sign[i] * si > 0:          # the ghost bond (frozen end)
                r, _u, s0, s1, s2, s3 = xoshiro_step(s0, s1, s2, s3)
                if np.float64(r >> sh) * TWO_POW_M53 < p[hc]:
                    hit = True
                    break
            for e in range(ptr[i], ptr[i + 1]):
                k = nbr[e]
                if mark[k] != stamp and nbr_sign[e] * si * s[k] > 0:
                    r, _u, s0, s1, s2, s3 = xoshiro_step(s0, s1, s2, s3)
                    if np.float64(r >> sh) * TWO_POW_M53 < p[nbr_cls[e]]:
                        if frozen[k]:
                            hit = True
                            break
                        mark[k] = stamp
                        stack[size] = k
                        size += 1
        grown += size
        if not hit:
            for t in range(size):
                s[stack[t]] = -s[stack[t]]
    return s0, s1, s2, s3, stamp, grown


@numba.njit(parallel=True, cache=True)
def _wolff_chunk(spins, rng, betas, jabs, ptr, nbr, nbr_cls, nbr_sign, h_cls, h_sign, frozen, free,
                 eu, ev, coupling, n_draws, thin, clusters, record, keep, out_states, out_energy,
                 out_mag, sizes):
    n = spins.shape[1]
    for c in prange(spins.shape[0]):
        s = spins[c]
        p = _activation(jabs, betas[c])
        stack = np.empty(n, dtype=np.int64)
        mark = np.zeros(n, dtype=np.int64)
        stamp = 0
        grown = 0
        s0, s1, s2, s3 = rng[c, 0], rng[c, 1], rng[c, 2], rng[c, 3]
        for d in range(n_draws):
            s0, s1, s2, s3, stamp, g = _wolff_moves(s, s0, s1, s2, s3, p, ptr, nbr, nbr_cls, nbr_sign,
                                                    h_cls, h_sign, frozen, free, stack, mark, stamp,
                                                    thin * clusters)
            grown += g
            if record:
                out_energy[c, d] = _energy(s, eu, ev, coupling, n)
                out_mag[c, d] = _mean(s)
                if keep:
                    out_states[c, d, :] = s
        sizes[c] = grown
        rng[c, 0] = s0
        rng[c, 1] = s1
        rng[c, 2] = s2
        rng[c, 3] = s3


# ---------------------------------------------------------------------------- the kernels
class _ClusterKernel(DiscreteKernel):
    options = ("evidence",)

    def __init__(self, model, method, evidence=None, wolff=False):
        super().__init__(model, method)
        self._setup(model, evidence)
        spins = spin_form(model)
        if spins is None:
            raise ModelError(f"{method} needs a pairwise binary model (Ising, BoltzmannMachine, a "
                             f"Markov network of binary variables with unary and pairwise factors "
                             f"and no zeros); {type(model).__name__} is not one")
        self.engine = ClusterGraph(spins, self.target.evidence, wolff)
        self.record_width = self.target.n
        self.record_dtype = np.dtype(np.int8)


@register
class SwendsenWang(_ClusterKernel):
    """Swendsen–Wang cluster moves (see the module docstring).  Option: ``evidence``.

    Examples
    --------
    >>> import pgm, samplers
    >>> s = samplers.sample(pgm.Ising.grid(16, 16, beta=0.44), method="swendsen_wang", chains=2,
    ...                     draws=50, seed=0, progress=False)
    >>> s.states.shape, sorted(s.observables)
    ((2, 50, 256), ['energy', 'magnetization'])
    """

    name = "swendsen_wang"
    methods = ("swendsen_wang",)

    def advance(self, state, n, thin=1, record=False, keep=False, phase=None):
        return state, self.engine.run(state.x, state.rng, n, state.beta, thin, record, keep)


@register
class Wolff(_ClusterKernel):
    """Wolff single-cluster moves (see the module docstring).  Options: ``evidence``,
    ``clusters`` (cluster moves per step, default 1).

    Examples
    --------
    >>> import pgm, samplers
    >>> s = samplers.sample(pgm.Ising.grid(16, 16, beta=0.44), method="wolff", chains=2,
    ...                     draws=50, thin=5, seed=0, progress=False)
    >>> 1 <= s.info["mean_cluster_size"] <= 256
    True
    """

    name = "wolff"
    methods = ("wolff",)
    options = ("evidence", "clusters")

    def __init__(self, model, method, evidence=None, clusters=1):
        super().__init__(model, method, evidence, wolff=True)
        self.clusters = count(clusters, "clusters", 1)

    def advance(self, state, n, thin=1, record=False, keep=False, phase=None):
        return state, self.engine.run(state.x, state.rng, n, state.beta, thin, record, keep,
                                      self.clusters)

    def info(self, state):
        g = self.engine
        mean = g.cluster_sites / g.cluster_moves if g.cluster_moves else float("nan")
        return {**super().info(state), "clusters": self.clusters, "mean_cluster_size": mean}
