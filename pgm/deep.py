"""Deep Boltzmann machines and deep belief networks over binary layers (SPEC.md §5).

Layers ``x_0 = v, x_1, …, x_L`` of sizes ``layer_sizes``; ``W_l`` (shape ``(n_{l−1}, n_l)``)
connects layers ``l−1`` and ``l``; ``b_l`` is the bias of layer ``l``.  Parameters are named
``"W1".."WL"`` and ``"b0".."bL"``.

* :class:`DBM` — ``E(x) = −Σ_l x_{l−1}ᵀ W_l x_l − Σ_l b_l·x_l``.  Given its two neighbours a layer
  factorises: ``p(x_l=1 | x_{l−1}, x_{l+1}) = σ(b_l + x_{l−1}W_l + W_{l+1}x_{l+1})``; odd and even
  layers are conditionally independent given each other (two-block Gibbs).
* :class:`DBN` — the top two layers form an RBM ``(x_{L−1}, x_L)``; the lower layers are a
  directed sigmoid belief net ``p(x_l=1 | x_{l+1}) = σ(b_l + W_{l+1}x_{l+1})``, ``l ≤ L−2``.
  Its "energy" is ``−log p̃(x) = E_top(x_{L−1}, x_L) − Σ_{l ≤ L−2} log p(x_l | x_{l+1})``, so
  ``Z = Z_top``.  Sampling: Gibbs on the top RBM, then one ancestral pass down.

Exact quantities (small models): a DBM's odd layers are independent given the even layers and
vice versa, so ``log Z`` enumerates the smaller parity class and sums the other out with
softplus terms; ``F(v)`` enumerates the odd layers or the even hidden layers given ``v``.  A DBN
enumerates its intermediate layers ``x_1..x_{L−1}`` and sums the top layer out.  Beyond
:data:`~pgm._layered.MAX_ENUMERATED_UNITS` enumerated units, :class:`~pgm.errors.TooLargeError`.
"""

import numpy as np

from ._layered import (LayeredModel, as_param, as_rng, bits, check_count, check_dtype,
                       check_enumerable, init_weights, lse, rows_match, sigmoid, softplus,
                       split_bits, state_chunks)
from .errors import CardinalityError

__all__ = ["DBM", "DBN"]


def _out(x, one):
    return x[0] if one else x


class _Deep(LayeredModel):
    """Shared constructor, parameters and batch helpers of DBM and DBN."""

    def __init__(self, layer_sizes, weights=None, biases=None, seed=None, dtype=np.float64):
        self.dtype = check_dtype(dtype)
        try:
            sizes = list(layer_sizes)
        except TypeError:
            raise TypeError(f"layer_sizes must be a sequence of integers, got {layer_sizes!r}") from None
        if len(sizes) < 2:
            raise ValueError(f"layer_sizes needs at least two layers (visible and one hidden), got {sizes}")
        sizes = [check_count(n, f"layer_sizes[{i}]") for i, n in enumerate(sizes)]
        L = len(sizes) - 1
        for what, given, n in (("weights", weights, L), ("biases", biases, L + 1)):
            if given is not None and len(given) != n:
                raise CardinalityError(f"{what} must be a list of {n} arrays for layer_sizes {sizes}, got {len(given)}")
        rng = as_rng(seed)
        for l in range(1, L + 1):
            W = None if weights is None else weights[l - 1]
            setattr(self, f"W{l}", init_weights(W, (sizes[l - 1], sizes[l]), f"W{l}", self.dtype, rng))
        for l in range(L + 1):
            setattr(self, f"b{l}", as_param(None if biases is None else biases[l], (sizes[l],),
                                            f"b{l}", self.dtype))
        self.n_layers = L
        self.param_names = tuple(f"W{l}" for l in range(1, L + 1)) + tuple(f"b{l}" for l in range(L + 1))
        self.layer_names = ("v",) + tuple(f"h{l}" for l in range(1, L + 1))
        self.layer_sizes = tuple(sizes)
        self.layer_kinds = ("binary",) * (L + 1)

    @property
    def weights(self):
        """``[W1, …, WL]``."""
        return [getattr(self, f"W{l}") for l in range(1, self.n_layers + 1)]

    @property
    def biases(self):
        """``[b0, …, bL]``."""
        return [getattr(self, f"b{l}") for l in range(self.n_layers + 1)]

    def _layers(self, v, hidden):
        L = self.n_layers
        if len(hidden) != L:
            raise CardinalityError(f"expected {L} hidden layers after v, got {len(hidden)}")
        xs = [self._data(k, x) for k, x in enumerate([v, *hidden])]
        one = all(o for _, o in xs)
        return rows_match([x for x, _ in xs], list(self.layer_names)), one

    def _given(self, k, layers, need):
        if len(layers) != self.n_layers + 1:
            raise CardinalityError(f"layers must list all {self.n_layers + 1} layers (entry {k} may be None)")
        out, one = {}, True
        for j in need:
            out[j], o = self._data(j, layers[j])
            one = one and o
        if out:
            keys = list(out)
            for j, x in zip(keys, rows_match([out[j] for j in keys], [self.layer_names[j] for j in keys])):
                out[j] = x
        return out, one

    def sample_conditional(self, k, layers, rng=None):
        """One draw of layer ``k`` from :meth:`conditional_mean`."""
        p = self.conditional_mean(k, layers)
        return (as_rng(rng).random(p.shape) < p).astype(self.dtype)

    def _f64_params(self):
        W = [None] + [np.asarray(w, dtype=np.float64) for w in self.weights]
        b = [np.asarray(x, dtype=np.float64) for x in self.biases]
        return W, b

    def _posterior_chunks(self, v, memory_limit):
        """Yield ``(log_w (n, K), values)`` over chunks of the enumerated hidden configurations
        given data rows ``v``; ``values[l]`` is broadcastable to ``(n, K, n_l)`` and holds the
        layer (enumerated or data) or its conditional mean (analytic layers)."""
        raise NotImplementedError

    def free_energy(self, v, memory_limit=None):
        """Exact ``F(v) = −log Σ_h p̃(v, h)`` (enumerating what must be; float64)."""
        v, one = self._data(0, v)
        parts = [lse(lw, axis=1) for lw, _ in self._posterior_chunks(v.astype(np.float64), memory_limit)]
        return _out(-lse(np.stack(parts, axis=1), axis=1), one)

    def log_unnormalized(self, v, memory_limit=None):
        return -self.free_energy(v, memory_limit)

    def grad_free_energy(self, v, memory_limit=None):
        """Exact ``∂F/∂θ = E_{p(h|v)}[∂E/∂θ]`` averaged over rows (by enumeration)."""
        v, _ = self._data(0, v)
        v = v.astype(np.float64)
        log_norm = -self.free_energy(v, memory_limit)
        if np.ndim(log_norm) == 0:
            log_norm = np.atleast_1d(log_norm)
        acc = None
        for lw, vals in self._posterior_chunks(v, memory_limit):
            w = np.exp(lw - log_norm[:, None])
            g = self._weighted_grads(w, vals)
            acc = g if acc is None else {k: acc[k] + g[k] for k in acc}
        return self._param_grads(acc, v.shape[0])

    def exact_log_likelihood(self, v, memory_limit=None):
        """``log p(v) = −F(v) − log Z`` (float64)."""
        return -self.free_energy(v, memory_limit) - self.exact_log_partition(memory_limit)


class DBM(_Deep):
    """Deep Boltzmann machine with binary layers of sizes ``layer_sizes`` (any depth ≥ 1 hidden).

    Parameters
    ----------
    layer_sizes : sequence of int
        ``[n_visible, n_h1, …, n_hL]``.
    weights : list of L arrays, optional
        ``weights[l−1]`` is ``W_l`` of shape ``(n_{l−1}, n_l)``; default ``N(0, 0.01²)``.
    biases : list of L+1 arrays, optional
        Default 0.
    seed, dtype :
        As in :class:`~pgm.RBM`.

    Examples
    --------
    >>> import pgm
    >>> dbm = pgm.DBM([3, 2, 1], weights=[[[1, 0], [0, 1], [1, 1]], [[1], [-1]]])
    >>> float(dbm.energy([1, 0, 1], [1, 0], [1]))
    -3.0
    >>> round(pgm.exact.log_partition(dbm), 6)
    5.962567
    """

    layered_kind = "dbm"

    def energy(self, v, *hidden):
        """``E(v, h¹, …, h^L)``."""
        xs, one = self._layers(v, hidden)
        e = -sum(x @ b for x, b in zip(xs, self.biases))
        for l, W in enumerate(self.weights, start=1):
            e = e - np.einsum("ij,ij->i", xs[l - 1] @ W, xs[l])
        return _out(e, one)

    def conditional_mean(self, k, layers):
        """``p(x_k = 1 | x_{k−1}, x_{k+1}) = σ(b_k + x_{k−1}W_k + x_{k+1}W_{k+1}ᵀ)``.

        ``layers`` lists all ``L+1`` layers (entry ``k`` is ignored and may be ``None``).
        ``k = 0`` gives ``p(v|h¹)``; for the RBM case ``k = 1`` gives ``p(h|v)``.
        """
        L = self.n_layers
        if not (isinstance(k, (int, np.integer)) and 0 <= k <= L):
            raise ValueError(f"layer index must be in 0..{L}, got {k!r}")
        need = [j for j in (k - 1, k + 1) if 0 <= j <= L]
        xs, one = self._given(k, layers, need)
        pre = self.biases[k]
        if k > 0:
            pre = pre + xs[k - 1] @ self.weights[k - 1]
        if k < L:
            pre = pre + xs[k + 1] @ self.weights[k].T
        return _out(sigmoid(pre), one)

    def mean_v(self, h1):
        """``p(v_i = 1 | h¹) = σ(b0 + W1 h¹)``."""
        h, one = self._data(1, h1)
        return _out(sigmoid(h @ self.W1.T + self.b0), one)

    def sample_v(self, h1, rng=None):
        p = self.mean_v(h1)
        return (as_rng(rng).random(p.shape) < p).astype(self.dtype)

    def grad_energy(self, v, *hidden):
        """``∂E/∂W_l = −x_{l−1}x_lᵀ``, ``∂E/∂b_l = −x_l``, averaged over rows."""
        xs, _ = self._layers(v, hidden)
        g = {f"W{l}": -(xs[l - 1].T @ xs[l]) for l in range(1, self.n_layers + 1)}
        g.update({f"b{l}": -xs[l].sum(0) for l in range(self.n_layers + 1)})
        return self._param_grads(g, xs[0].shape[0])

    # -------------------------------------------------------------- exact
    def _sum_out(self, fixed, W, b):
        """Log weight of the fixed layers with every other layer summed out (each of those
        must have only fixed neighbours), and the conditional means of the summed layers."""
        L = self.n_layers
        lw = 0.0
        for l, x in fixed.items():
            lw = lw + x @ b[l]
        for l in range(1, L + 1):
            if l - 1 in fixed and l in fixed:
                lw = lw + ((fixed[l - 1] @ W[l]) * fixed[l]).sum(-1)
        means = {}
        for l in range(L + 1):
            if l in fixed:
                continue
            pre = b[l]
            if l - 1 in fixed:
                pre = pre + fixed[l - 1] @ W[l]
            if l + 1 in fixed:
                pre = pre + fixed[l + 1] @ W[l + 1].T
            lw = lw + softplus(pre).sum(-1)
            means[l] = sigmoid(pre)
        return lw, means

    def _enumerated(self, candidates):
        """The class of layers (from ``candidates``) with the fewest units."""
        best = min(candidates, key=lambda ls: sum(self.layer_sizes[l] for l in ls))
        return best, sum(self.layer_sizes[l] for l in best)

    def exact_log_partition(self, memory_limit=None):
        """``log Z``: enumerate the smaller parity class of layers, sum out the other."""
        L = self.n_layers
        W, b = self._f64_params()
        layers, n = self._enumerated([list(range(0, L + 1, 2)), list(range(1, L + 1, 2))])
        check_enumerable(n, "log Z of a DBM")
        sizes = [self.layer_sizes[l] for l in layers]
        parts = []
        for a, z in state_chunks(n, max(self.layer_sizes), memory_limit):
            fixed = dict(zip(layers, split_bits(bits(a, z, n), sizes)))
            parts.append(lse(self._sum_out(fixed, W, b)[0], axis=0))
        return float(lse(np.array(parts), axis=0))

    def _posterior_chunks(self, v, memory_limit):
        L = self.n_layers
        W, b = self._f64_params()
        layers, n = self._enumerated([list(range(2, L + 1, 2)), list(range(1, L + 1, 2))])
        check_enumerable(n, "free energy of a DBM")
        sizes = [self.layer_sizes[l] for l in layers]
        for a, z in state_chunks(n, v.shape[0] * max(self.layer_sizes), memory_limit):
            fixed = {0: v[:, None, :]}
            for l, x in zip(layers, split_bits(bits(a, z, n), sizes)):
                fixed[l] = x[None]
            lw, means = self._sum_out(fixed, W, b)
            lw = np.broadcast_to(lw, (v.shape[0], z - a))
            yield lw, {**fixed, **means}

    def _weighted_grads(self, w, vals):
        g = {}
        for l in range(1, self.n_layers + 1):
            lo = np.broadcast_to(vals[l - 1], w.shape + (self.layer_sizes[l - 1],))
            hi = np.broadcast_to(vals[l], w.shape + (self.layer_sizes[l],))
            g[f"W{l}"] = -np.einsum("nk,nki,nkj->ij", w, lo, hi)
        for l in range(self.n_layers + 1):
            g[f"b{l}"] = -np.einsum("nk,nki->i", w, np.broadcast_to(vals[l], w.shape + (self.layer_sizes[l],)))
        return g

    def to_markov_network(self):
        """The same distribution as a :class:`~pgm.MarkovNetwork` over ``"v0"…``, ``"h1_0"…``."""
        from .boltzmann import _pairwise_network

        W, b = self._f64_params()
        prefixes = ["v"] + [f"h{l}_" for l in range(1, self.n_layers + 1)]
        return _pairwise_network(list(zip(prefixes, b)), [(l - 1, l, W[l]) for l in range(1, self.n_layers + 1)])


class DBN(_Deep):
    """Deep belief network: top RBM ``(x_{L−1}, x_L)`` over a directed sigmoid belief net.

    Parameters are as for :class:`DBM`; ``W_L, b_{L−1}, b_L`` are the top RBM's, and for
    ``l ≤ L−2``, ``p(x_l = 1 | x_{l+1}) = σ(b_l + W_{l+1} x_{l+1})``.

    Examples
    --------
    >>> import pgm
    >>> dbn = pgm.DBN([2, 2, 1], weights=[[[2, 0], [0, -2]], [[1], [1]]])
    >>> v = [[0, 0], [0, 1], [1, 0], [1, 1]]
    >>> round(float(np.exp(pgm.exact.log_likelihood(dbn, v)).sum()), 12)
    1.0
    """

    layered_kind = "dbn"

    @property
    def top_rbm(self):
        """The top two layers as a (new) :class:`~pgm.RBM`."""
        from .boltzmann import RBM

        L = self.n_layers
        return RBM(self.layer_sizes[L - 1], self.layer_sizes[L], W=self.weights[L - 1],
                   b=self.biases[L - 1], c=self.biases[L], dtype=self.dtype)

    def _log_terms(self, xs, W, b):
        """``−E`` = top RBM term + Σ log p(x_l | x_{l+1}) for full layers (broadcasting)."""
        L = self.n_layers
        out = xs[L - 1] @ b[L - 1] + xs[L] @ b[L] + ((xs[L - 1] @ W[L]) * xs[L]).sum(-1)
        for l in range(L - 1):
            a = b[l] + xs[l + 1] @ W[l + 1].T
            out = out + (xs[l] * a - softplus(a)).sum(-1)
        return out

    def energy(self, v, *hidden):
        """``−log p̃(x) = E_top(x_{L−1}, x_L) − Σ_{l ≤ L−2} log p(x_l | x_{l+1})``."""
        xs, one = self._layers(v, hidden)
        W = [None] + self.weights
        return _out(-self._log_terms(xs, W, self.biases), one)

    def conditional_mean(self, k, layers):
        """Conditionals of the generative model: ``p(x_k = 1 | x_{k+1})`` for ``k < L`` (directed
        for ``k ≤ L−2``, the top RBM's for ``k = L−1``) and ``p(x_L = 1 | x_{L−1})``.

        ``layers`` lists all ``L+1`` layers; only the one conditioned on is read.
        """
        L = self.n_layers
        if not (isinstance(k, (int, np.integer)) and 0 <= k <= L):
            raise ValueError(f"layer index must be in 0..{L}, got {k!r}")
        j = k + 1 if k < L else L - 1
        xs, one = self._given(k, layers, [j])
        if k < L:
            pre = self.biases[k] + xs[j] @ self.weights[k].T
        else:
            pre = self.biases[L] + xs[j] @ self.weights[L - 1]
        return _out(sigmoid(pre), one)

    def mean_v(self, h1):
        """``p(v_i = 1 | h¹) = σ(b0 + W1 h¹)``."""
        return self.conditional_mean(0, [None, h1] + [None] * (self.n_layers - 1))

    def sample_v(self, h1, rng=None):
        p = self.mean_v(h1)
        return (as_rng(rng).random(p.shape) < p).astype(self.dtype)

    def grad_energy(self, v, *hidden):
        """``∂(−log p̃)/∂θ`` averaged over rows."""
        xs, _ = self._layers(v, hidden)
        W = [None] + self.weights
        w = np.ones((xs[0].shape[0], 1))
        vals = {l: x[:, None, :] for l, x in enumerate(xs)}
        g = self._weighted_grads(w, vals, W, self.biases)
        return self._param_grads(g, xs[0].shape[0])

    def _weighted_grads(self, w, vals, W=None, b=None):
        L = self.n_layers
        if W is None:
            W, b = self._f64_params()
        shape = lambda l: w.shape + (self.layer_sizes[l],)  # noqa: E731
        x = {l: np.broadcast_to(vals[l], shape(l)) for l in range(L + 1)}
        g = {f"W{L}": -np.einsum("nk,nki,nkj->ij", w, x[L - 1], x[L]),
             f"b{L - 1}": -np.einsum("nk,nki->i", w, x[L - 1]),
             f"b{L}": -np.einsum("nk,nki->i", w, x[L])}
        for l in range(L - 1):
            r = x[l] - sigmoid(b[l] + x[l + 1] @ W[l + 1].T)
            g[f"W{l + 1}"] = -np.einsum("nk,nki,nkj->ij", w, r, x[l + 1])
            g[f"b{l}"] = -np.einsum("nk,nki->i", w, r)
        return {k: g[k] for k in self.param_names}

    def exact_log_partition(self, memory_limit=None):
        """``log Z = log Z_top`` (the directed layers are normalised)."""
        return self.top_rbm.exact_log_partition(memory_limit)

    def _posterior_chunks(self, v, memory_limit):
        L = self.n_layers
        W, b = self._f64_params()
        layers = list(range(1, L))
        n = sum(self.layer_sizes[l] for l in layers)
        check_enumerable(n, "free energy of a DBN")
        sizes = [self.layer_sizes[l] for l in layers]
        for a, z in state_chunks(n, v.shape[0] * max(self.layer_sizes), memory_limit):
            xs = {0: v[:, None, :]}
            for l, x in zip(layers, split_bits(bits(a, z, n), sizes)):
                xs[l] = x[None]
            top = b[L] + xs[L - 1] @ W[L]
            lw = xs[L - 1] @ b[L - 1] + softplus(top).sum(-1)
            for l in range(L - 1):
                pre = b[l] + xs[l + 1] @ W[l + 1].T
                lw = lw + (xs[l] * pre - softplus(pre)).sum(-1)
            xs[L] = sigmoid(top)
            yield np.broadcast_to(lw, (v.shape[0], z - a)), xs
