"""Restricted Boltzmann machines: binary, Gaussian–Bernoulli and spike-and-slab (SPEC.md §1, §5).

Energies (``v`` visible, ``h`` hidden, ``σ`` logistic, ``ζ`` softplus):

* :class:`RBM` — ``E(v,h) = −b·v − c·h − vᵀWh`` on ``{0,1}``;
  ``p(h_j=1|v) = σ(c_j + vᵀW_{:,j})``, ``p(v_i=1|h) = σ(b_i + W_{i,:}h)``,
  ``F(v) = −b·v − Σ_j ζ(c_j + vᵀW_{:,j})``.
* :class:`GaussianBernoulliRBM` — real ``v``, binary ``h``:
  ``E(v,h) = Σ_i (v_i − b_i)²/(2σ_i²) − c·h − Σ_ij (v_i/σ_i²) W_ij h_j``, so
  ``p(v|h) = N(b + Wh, diag σ²)``, ``p(h_j=1|v) = σ(c_j + Σ_i W_ij v_i/σ_i²)``.  ``σ`` is a
  fixed attribute, or learned through the parameter ``log_sigma = log σ``.  For score
  matching (continuous ``v``, SPEC.md §3) it gives the input derivatives of its free energy
  ``F(v) = Σ_i (v_i − b_i)²/(2σ_i²) − Σ_j ζ(a_j)``, ``a = c + (v/σ²)ᵀW``, ``q = σ(a)``:
  ``∇ᵥF = (v − b − Wq)/σ²``, ``ΔᵥF = Σ_i σ_i⁻² − Σ_j q_j(1−q_j) Σ_i W_ij² σ_i⁻⁴`` and their
  parameter gradients (``grad_x``, ``laplacian``, ``grad_laplacian``, ``grad_grad_x``).
* :class:`SpikeSlabRBM` — the ssRBM of Courville, Bergstra & Bengio (2011): real ``v``,
  binary spikes ``h``, real slabs ``s``, with ``u = v − b``::

      E(v,s,h) = ½ Σ_i λ_i u_i² − Σ_j (uᵀW_{:,j}) s_j h_j + ½ Σ_j α_j s_j²
                 − Σ_j α_j μ_j s_j h_j − Σ_j c_j h_j + ½ Σ_j α_j μ_j² h_j.

  Gibbs is tractable: ``p(h_j=1|v) = σ(c_j + a_j²/(2α_j) + a_j μ_j)`` with
  ``a_j = uᵀW_{:,j}`` (slab integrated out), ``p(s_j|v,h) = N(h_j(a_j/α_j + μ_j), 1/α_j)``,
  ``p(v|s,h) = N(b + Λ⁻¹W(s∘h), Λ⁻¹)``, ``Λ = diag λ``.  The model is normalisable iff
  ``Λ − W diag(1/α) Wᵀ`` is positive definite; the constructor checks it.

Each model gives ``energy``, ``free_energy`` (hidden units summed / integrated out
analytically), conditional means and samples, ``params`` and gradients of the energy and the
free energy (averaged over a batch), and exact ``log Z`` / ``log p(v)`` by enumerating the binary
layer of at most :data:`~pgm._layered.MAX_ENUMERATED_UNITS` units.
"""

import numpy as np

from ._layered import (LOG_2PI, LayeredModel, as_param, as_positive, as_rng, bits,
                       check_enumerable, lse, rows_match, sigmoid, softplus, state_chunks)
from ._validation import as_batch, row_weights
from .errors import EvidenceError, ModelError

__all__ = ["RBM", "GaussianBernoulliRBM", "SpikeSlabRBM"]


def _out(x, one):
    return x[0] if one else x


def _log_z_by_enumeration(n, width, term, memory_limit):
    """``log Σ_{x ∈ {0,1}^n} exp(term(x))`` in chunks; ``term`` maps rows (K, n) to (K,)."""
    parts = [lse(term(bits(a, z, n)), axis=0) for a, z in state_chunks(n, width, memory_limit)]
    return float(lse(np.array(parts), axis=0))


class RBM(LayeredModel):
    """Binary restricted Boltzmann machine ``E(v,h) = −b·v − c·h − vᵀWh``.

    Parameters
    ----------
    n_visible, n_hidden : int
    W : array_like (n_visible, n_hidden), optional
        Default: ``N(0, 0.01²)`` draws from ``seed``.
    b : array_like (n_visible,), optional
        Visible biases (default 0).
    c : array_like (n_hidden,), optional
        Hidden biases (default 0).
    seed : int, Generator or None
        Seeds the default weights.
    dtype : float32 or float64
        Parameter and computation dtype (exact quantities are computed in float64).

    Examples
    --------
    >>> import pgm
    >>> rbm = pgm.RBM(3, 2, W=[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], b=[0.0, 0.5, 0.0])
    >>> float(rbm.energy([1, 1, 0], [1, 0]))
    -1.5
    >>> round(float(rbm.free_energy([1, 1, 0])), 6)
    -3.126523
    >>> round(pgm.exact.log_partition(rbm), 6)
    5.556711
    """

    layered_kind = "rbm"
    param_names = ("W", "b", "c")

    def __init__(self, n_visible, n_hidden, W=None, b=None, c=None, seed=None, dtype=np.float64):
        n_v, n_h = self._init_bipartite(n_visible, n_hidden, W, b, c, seed, dtype)
        self.layer_names = ("v", "h")
        self.layer_sizes = (n_v, n_h)
        self.layer_kinds = ("binary", "binary")

    @property
    def n_hidden(self):
        return self.layer_sizes[1]

    @property
    def weights(self):
        """``[W]``: the weight matrices between consecutive layers, as for a :class:`pgm.DBM`
        (the model's own array)."""
        return [self.W]

    @property
    def biases(self):
        """``[b, c]``: the biases of each layer, as for a :class:`pgm.DBM` (the model's own arrays)."""
        return [self.b, self.c]

    # -------------------------------------------------------------- energies
    def energy(self, v, h):
        """``E(v,h)`` for rows of ``v`` and ``h`` (one row broadcasts)."""
        (v, ov), (h, oh) = self._data(0, v), self._data(1, h)
        v, h = rows_match([v, h], ["v", "h"])
        e = -(v @ self.b) - (h @ self.c) - np.einsum("ij,ij->i", v @ self.W, h)
        return _out(e, ov and oh)

    def free_energy(self, v):
        """``F(v) = −log Σ_h e^{−E(v,h)} = −b·v − Σ_j ζ(c_j + vᵀW_{:,j})``."""
        v, one = self._data(0, v)
        return _out(-(v @ self.b) - softplus(v @ self.W + self.c).sum(axis=1), one)

    def log_unnormalized(self, v):
        """``log p̃(v) = −F(v)``."""
        return -self.free_energy(v)

    # -------------------------------------------------------------- conditionals
    def mean_h(self, v):
        """``p(h_j = 1 | v) = σ(c + vW)``."""
        v, one = self._data(0, v)
        return _out(sigmoid(v @ self.W + self.c), one)

    def mean_v(self, h):
        """``p(v_i = 1 | h) = σ(b + Wh)``; ``h`` may also hold probabilities in [0, 1] (e.g.
        ``mean_h(v)``: the mean-field reconstruction of ``v``)."""
        h, one = as_batch(h, self.layer_sizes[1], "h", self.dtype)
        if np.any((h < 0) | (h > 1)):
            raise EvidenceError(f"h must lie in [0, 1], found {h[(h < 0) | (h > 1)].flat[0]!r}")
        return _out(sigmoid(h @ self.W.T + self.b), one)

    def sample_h(self, v, rng=None):
        """One draw of ``h ~ p(h|v)`` per row of ``v``."""
        p = self.mean_h(v)
        return (as_rng(rng).random(p.shape) < p).astype(self.dtype)

    def sample_v(self, h, rng=None):
        """One draw of ``v ~ p(v|h)`` per row of ``h``."""
        p = self.mean_v(h)
        return (as_rng(rng).random(p.shape) < p).astype(self.dtype)

    # -------------------------------------------------------------- gradients
    def grad_energy(self, v, h):
        """``∂E/∂θ`` averaged over the rows: ``∂E/∂W = −vhᵀ``, ``∂E/∂b = −v``, ``∂E/∂c = −h``.

        Examples
        --------
        >>> import pgm
        >>> g = pgm.RBM(2, 1, W=[[0.0], [0.0]]).grad_energy([1, 0], [1])
        >>> g["W"].ravel().tolist(), g["b"].tolist(), g["c"].tolist()
        ([-1.0, -0.0], [-1.0, -0.0], [-1.0])
        """
        (v, _), (h, _) = self._data(0, v), self._data(1, h)
        v, h = rows_match([v, h], ["v", "h"])
        n = v.shape[0]
        return self._param_grads({"W": -(v.T @ h), "b": -v.sum(0), "c": -h.sum(0)}, n)

    def grad_free_energy(self, v, weights=None):
        """``∂F/∂θ`` averaged over the rows (``h`` replaced by ``p(h=1|v)``), or
        ``Σ_k w_k ∂F(v_k)`` in float64 with ``weights``.

        Examples
        --------
        >>> import pgm
        >>> g = pgm.RBM(2, 1, W=[[0.0], [0.0]]).grad_free_energy([[1, 0], [1, 1]], weights=[0.5, 0.5])
        >>> g["W"].tolist(), g["b"].tolist(), g["c"].tolist()
        ([[-0.5], [-0.25]], [-1.0, -0.5], [-0.5])
        """
        v, _ = self._data(0, v)
        if weights is None:
            p = sigmoid(v @ self.W + self.c)
            return self._param_grads({"W": -(v.T @ p), "b": -v.sum(0), "c": -p.sum(0)}, v.shape[0])
        w = row_weights(weights, v.shape[0])
        v = v.astype(np.float64, copy=False)
        p = 1.0 / (1.0 + np.exp(-(v @ self._f64("W") + self._f64("c"))))
        return {"W": -(v.T @ (p * w[:, None])), "b": -(w @ v), "c": -(w @ p)}

    # -------------------------------------------------------------- exact
    def exact_log_partition(self, memory_limit=None, layer=None):
        """``log Z`` by enumerating one layer and summing the other analytically.

        Parameters
        ----------
        memory_limit : int, optional
            Bound (bytes) on the temporary arrays of one chunk.
        layer : {"visible", "hidden"}, optional
            Layer to enumerate (default: the smaller).  The two choices are numerically
            independent computations of the same number.

        Raises
        ------
        TooLargeError
            When the enumerated layer has more than 25 units.
        """
        W, b, c = self._f64("W"), self._f64("b"), self._f64("c")
        n_v, n_h = self.layer_sizes
        if layer is None:
            layer = "hidden" if n_h <= n_v else "visible"
        if layer == "hidden":
            check_enumerable(n_h, "log Z of an RBM")
            return _log_z_by_enumeration(n_h, n_v, lambda h: h @ c + softplus(h @ W.T + b).sum(1),
                                         memory_limit)
        if layer == "visible":
            check_enumerable(n_v, "log Z of an RBM")
            return _log_z_by_enumeration(n_v, n_h, lambda v: v @ b + softplus(v @ W + c).sum(1),
                                         memory_limit)
        raise ValueError(f"layer must be 'visible' or 'hidden', got {layer!r}")

    def exact_log_likelihood(self, v, memory_limit=None):
        """``log p(v) = −F(v) − log Z`` (float64)."""
        v, one = self._data(0, v)
        W, b, c = self._f64("W"), self._f64("b"), self._f64("c")
        v = v.astype(np.float64)
        ll = v @ b + softplus(v @ W + c).sum(1) - self.exact_log_partition(memory_limit)
        return _out(ll, one)

    def to_markov_network(self):
        """The same distribution as a :class:`~pgm.MarkovNetwork` over variables
        ``"v0".."v{n−1}"``, ``"h0".."h{m−1}"`` (pairwise and unary log-factors), for
        :mod:`pgm.exact` variable elimination.

        Examples
        --------
        >>> import pgm
        >>> rbm = pgm.RBM(3, 2, seed=0)
        >>> mn = rbm.to_markov_network()
        >>> abs(pgm.exact.log_partition(mn) - pgm.exact.log_partition(rbm)) < 1e-10
        True
        """
        return _pairwise_network([("v", self._f64("b")), ("h", self._f64("c"))],
                                 [(0, 1, self._f64("W"))])


def _pairwise_network(layers, couplings):
    """MarkovNetwork of binary layers ``[(prefix, bias)]`` and couplings ``[(k, l, W)]``."""
    from .discrete import MarkovNetwork
    from .factor import DiscreteFactor

    names = [[f"{p}{i}" for i in range(len(bias))] for p, bias in layers]
    factors = []
    for (_, bias), nm in zip(layers, names):
        factors += [DiscreteFactor.from_log([nm[i]], np.array([0.0, bias[i]])) for i in range(len(bias))]
    for k, l, W in couplings:
        for i, j in zip(*np.nonzero(W)):
            factors.append(DiscreteFactor.from_log([names[k][i], names[l][j]],
                                                   np.array([[0.0, 0.0], [0.0, W[i, j]]])))
    variables = [v for nm in names for v in nm]
    return MarkovNetwork(factors, variables=variables, cardinalities={v: 2 for v in variables})


class GaussianBernoulliRBM(LayeredModel):
    """Gaussian–Bernoulli RBM: real visibles with standard deviations ``σ``, binary hiddens.

    ``E(v,h) = Σ_i (v_i − b_i)²/(2σ_i²) − c·h − Σ_ij (v_i/σ_i²) W_ij h_j``, so
    ``p(v|h) = N(b + Wh, diag σ²)`` and ``p(h_j=1|v) = σ(c_j + Σ_i W_ij v_i/σ_i²)``.
    ``grad_x``, ``laplacian``, ``grad_laplacian`` and ``grad_grad_x`` (input derivatives of the
    free energy and their parameter gradients) make it trainable by
    :class:`estimators.ScoreMatching` and :class:`estimators.DenoisingScoreMatching`.

    Parameters
    ----------
    n_visible, n_hidden : int
    W, b, c : array_like, optional
        As in :class:`RBM` (``b`` is the visible mean offset).
    sigma : float or array_like (n_visible,), default 1
        Visible standard deviations, ``> 0``.
    learn_sigma : bool
        If true, ``params`` includes ``log_sigma`` (``σ = exp(log_sigma)``), and gradients are
        given with respect to it; otherwise ``σ`` is a fixed attribute.
    seed, dtype :
        As in :class:`RBM`.

    Examples
    --------
    >>> import pgm
    >>> m = pgm.GaussianBernoulliRBM(2, 1, W=[[1.0], [0.0]], sigma=0.5)
    >>> float(m.energy([0.5, 0.0], [1]))
    -1.5
    >>> m.mean_v([1]).tolist()
    [1.0, 0.0]
    """

    layered_kind = "gbrbm"

    def __init__(self, n_visible, n_hidden, W=None, b=None, c=None, sigma=1.0, learn_sigma=False,
                 seed=None, dtype=np.float64):
        n_v, n_h = self._init_bipartite(n_visible, n_hidden, W, b, c, seed, dtype)
        self.log_sigma = np.log(as_positive(sigma, (n_v,), "sigma", np.float64)).astype(self.dtype)
        self.learn_sigma = bool(learn_sigma)
        self.param_names = ("W", "b", "c", "log_sigma") if self.learn_sigma else ("W", "b", "c")
        self.layer_names = ("v", "h")
        self.layer_sizes = (n_v, n_h)
        self.layer_kinds = ("real", "binary")

    @property
    def sigma(self):
        """Visible standard deviations ``exp(log_sigma)``."""
        return np.exp(self.log_sigma)

    @sigma.setter
    def sigma(self, value):
        self.log_sigma = np.log(as_positive(value, (self.n_visible,), "sigma", np.float64)).astype(self.dtype)

    def _prec(self):
        return np.exp(-2.0 * self.log_sigma)  # 1/σ²

    def energy(self, v, h):
        """``E(v,h)`` for rows of ``v`` and ``h``."""
        (v, ov), (h, oh) = self._data(0, v), self._data(1, h)
        v, h = rows_match([v, h], ["v", "h"])
        p = self._prec()
        e = (0.5 * (v - self.b) ** 2 * p).sum(1) - h @ self.c - np.einsum("ij,ij->i", (v * p) @ self.W, h)
        return _out(e, ov and oh)

    def free_energy(self, v):
        """``F(v) = Σ (v−b)²/(2σ²) − Σ_j ζ(c_j + Σ_i W_ij v_i/σ_i²)``."""
        v, one = self._data(0, v)
        p = self._prec()
        f = (0.5 * (v - self.b) ** 2 * p).sum(1) - softplus((v * p) @ self.W + self.c).sum(1)
        return _out(f, one)

    def log_unnormalized(self, v):
        return -self.free_energy(v)

    def mean_h(self, v):
        """``p(h_j = 1 | v)``."""
        v, one = self._data(0, v)
        return _out(sigmoid((v * self._prec()) @ self.W + self.c), one)

    def mean_v(self, h):
        """``E[v | h] = b + Wh``."""
        h, one = self._data(1, h)
        return _out(h @ self.W.T + self.b, one)

    def sample_h(self, v, rng=None):
        p = self.mean_h(v)
        return (as_rng(rng).random(p.shape) < p).astype(self.dtype)

    def sample_v(self, h, rng=None):
        """``v ~ N(b + Wh, diag σ²)``."""
        m = self.mean_v(h)
        return (m + self.sigma * as_rng(rng).standard_normal(m.shape)).astype(self.dtype)

    def grad_energy(self, v, h):
        """``∂E/∂θ`` averaged over rows (``log_sigma`` included when learned)."""
        (v, _), (h, _) = self._data(0, v), self._data(1, h)
        v, h = rows_match([v, h], ["v", "h"])
        return self._grads(v, h)

    def grad_free_energy(self, v):
        """``∂F/∂θ`` averaged over rows (``h`` replaced by ``p(h=1|v)``)."""
        v, _ = self._data(0, v)
        return self._grads(v, sigmoid((v * self._prec()) @ self.W + self.c))

    def _grads(self, v, h):
        p = self._prec()
        vp = v * p
        g = {"W": -(vp.T @ h), "b": -((v - self.b) * p).sum(0), "c": -h.sum(0)}
        if self.learn_sigma:
            # σ⁻² = e^{−2 log σ}: ∂E/∂log σ_i = −(v_i−b_i)²/σ_i² + 2 v_i (Wh)_i/σ_i²
            g["log_sigma"] = (-(v - self.b) ** 2 * p + 2 * vp * (h @ self.W.T)).sum(0)
        return self._param_grads(g, v.shape[0])

    # -------------------------------------------------------------- score-matching protocol
    def _score_terms(self, v):
        """``π = 1/σ²``, ``v·π``, ``q = p(h=1|v)`` for validated rows ``v``."""
        prec = self._prec()
        vp = v * prec
        return prec, vp, sigmoid(vp @ self.W + self.c)

    def grad_x(self, v):
        """``∇ᵥF(v) = (v − b − Wq)/σ²`` with ``q = p(h=1|v)``: shape ``(n, n_visible)``.

        Examples
        --------
        >>> import pgm
        >>> m = pgm.GaussianBernoulliRBM(2, 1, W=[[0.0], [0.0]], b=[1.0, 0.0], sigma=0.5)
        >>> m.grad_x([2.0, 1.0]).tolist()
        [4.0, 4.0]
        """
        v, one = self._data(0, v)
        prec, _, q = self._score_terms(v)
        return _out((v - self.b - q @ self.W.T) * prec, one)

    def laplacian(self, v):
        """``ΔᵥF(v) = Σ_i 1/σ_i² − Σ_j q_j(1−q_j) Σ_i W_ij²/σ_i⁴``: shape ``(n,)``.

        Examples
        --------
        >>> import pgm
        >>> m = pgm.GaussianBernoulliRBM(2, 1, W=[[1.0], [0.0]], c=[-0.5], sigma=0.5)
        >>> float(m.laplacian([0.125, 3.0]))   # 8 − ¼·16
        4.0
        """
        v, one = self._data(0, v)
        prec, _, q = self._score_terms(v)
        m = (prec * prec) @ (self.W * self.W)          # m_j = Σ_i W_ij²/σ_i⁴
        return _out(prec.sum() - (q * (1 - q)) @ m, one)

    def _rows_and_weights(self, v, weights):
        v, _ = self._data(0, v)
        return v, row_weights(weights, v.shape[0]).astype(self.dtype)

    def grad_laplacian(self, v, weights=None):
        """``∂/∂θ Σ_k w_k ΔᵥF(v_k)`` (default ``w_k = 1/n``), name → array like ``params``.

        With ``π = 1/σ²``, ``r = q(1−q)``, ``t = q(1−q)(1−2q)``, ``m_j = Σ_i π_i² W_ij²``:
        ``∂ΔF/∂c_j = −t_j m_j``, ``∂ΔF/∂W_ij = −t_j m_j π_i v_i − 2 r_j π_i² W_ij``,
        ``∂ΔF/∂b = 0``, ``∂ΔF/∂log σ_i = −2π_i + 2π_i v_i Σ_j W_ij t_j m_j + 4π_i² Σ_j r_j W_ij²``.
        """
        v, w = self._rows_and_weights(v, weights)
        prec, vp, q = self._score_terms(v)
        W2 = self.W * self.W
        m = (prec * prec) @ W2
        r = q * (1 - q)
        tm = r * (1 - 2 * q) * m                       # t_j m_j per row
        wtm, wr = tm * w[:, None], w @ r
        g = {"W": -(vp.T @ wtm) - 2 * (prec * prec)[:, None] * self.W * wr,
             "b": np.zeros_like(self.b), "c": -wtm.sum(0)}
        if self.learn_sigma:
            g["log_sigma"] = (-2 * prec * w.sum() + 2 * (vp * (wtm @ self.W.T)).sum(0)
                              + 4 * prec * prec * (W2 @ wr))
        return {k: np.asarray(g[k], dtype=self.dtype) for k in self.param_names}

    def grad_grad_x(self, v, u, weights=None):
        """``∂/∂θ Σ_k w_k u_k·∇ᵥF(v_k)`` (default ``w_k = 1/n``), name → array like ``params``.

        With ``ũ = u/σ²``, ``e = ũW``, ``q = p(h=1|v)``, ``r = q(1−q)``: ``u·∇F = ũ·(v − b) − e·q``, so
        ``∂/∂b = −ũ``, ``∂/∂c_j = −e_j r_j``, ``∂/∂W_ij = −ũ_i q_j − π_i v_i e_j r_j`` and
        ``∂/∂log σ_i = −2ũ_i (v_i − b_i − (Wq)_i) + 2π_i v_i Σ_j W_ij e_j r_j``.
        """
        v, w = self._rows_and_weights(v, weights)
        u = np.asarray(u, dtype=self.dtype).reshape(v.shape)
        prec, vp, q = self._score_terms(v)
        ut = u * prec * w[:, None]                      # weighted ũ
        er = (ut @ self.W) * q * (1 - q)                 # weighted e ∘ r
        g = {"W": -(ut.T @ q) - vp.T @ er, "b": -ut.sum(0), "c": -er.sum(0)}
        if self.learn_sigma:
            g["log_sigma"] = (-2 * ut * (v - self.b - q @ self.W.T) + 2 * vp * (er @ self.W.T)).sum(0)
        return {k: np.asarray(g[k], dtype=self.dtype) for k in self.param_names}

    def exact_log_partition(self, memory_limit=None):
        """``log Z = Σ_i ½ log(2πσ_i²) + log Σ_h exp(c·h + Σ_i ((Wh)_i² + 2b_i(Wh)_i)/(2σ_i²))``.

        Enumerates the hidden layer (``TooLargeError`` above 25 hidden units).
        """
        W, b, c = self._f64("W"), self._f64("b"), self._f64("c")
        ls = self._f64("log_sigma")
        p = np.exp(-2 * ls)
        n_v, n_h = self.layer_sizes
        check_enumerable(n_h, "log Z of a Gaussian-Bernoulli RBM")

        def term(h):
            m = h @ W.T
            return h @ c + ((m * m + 2 * b * m) * (0.5 * p)).sum(1)

        return float(_log_z_by_enumeration(n_h, n_v, term, memory_limit)
                     + np.sum(0.5 * LOG_2PI + ls))

    def exact_log_likelihood(self, v, memory_limit=None):
        """Log density ``log p(v) = −F(v) − log Z`` (float64)."""
        v, one = self._data(0, v)
        W, b, c = self._f64("W"), self._f64("b"), self._f64("c")
        p = np.exp(-2 * self._f64("log_sigma"))
        v = v.astype(np.float64)
        ll = -(0.5 * (v - b) ** 2 * p).sum(1) + softplus((v * p) @ W + c).sum(1)
        return _out(ll - self.exact_log_partition(memory_limit), one)


class SpikeSlabRBM(LayeredModel):
    """Spike-and-slab RBM (Courville et al. 2011): real ``v``, binary spikes ``h``, real slabs ``s``.

    See the module docstring for the energy and the conditionals.  Chain states and
    ``energy`` take the layers in the order ``v, h, s``.

    Parameters
    ----------
    n_visible, n_hidden : int
    W : array_like (n_visible, n_hidden), optional
        Default ``N(0, 0.01²)``.
    b : array_like (n_visible,), optional
        Visible offset (default 0).
    c : array_like (n_hidden,), optional
        Spike biases (default 0).
    mu : array_like (n_hidden,), optional
        Slab means (default 0).
    alpha : float or array_like (n_hidden,), default 1
        Slab precisions ``> 0`` (learned as ``log_alpha``).
    lam : float or array_like (n_visible,), default 1
        Visible precisions ``Λ = diag(lam) > 0`` (learned as ``log_lam``).
    seed, dtype :
        As in :class:`RBM`.

    Raises
    ------
    ModelError
        If ``Λ − W diag(1/α) Wᵀ`` is not positive definite (the density is not normalisable).

    Examples
    --------
    >>> import pgm
    >>> m = pgm.SpikeSlabRBM(2, 1, W=[[0.5], [0.0]], mu=[1.0])
    >>> float(m.energy([1.0, 0.0], [1], [1.0]))
    0.0
    >>> sorted(m.params)
    ['W', 'b', 'c', 'log_alpha', 'log_lam', 'mu']
    """

    layered_kind = "ssrbm"
    param_names = ("W", "b", "c", "mu", "log_alpha", "log_lam")

    def __init__(self, n_visible, n_hidden, W=None, b=None, c=None, mu=None, alpha=1.0, lam=1.0,
                 seed=None, dtype=np.float64):
        n_v, n_h = self._init_bipartite(n_visible, n_hidden, W, b, c, seed, dtype)
        self.mu = as_param(mu, (n_h,), "mu", self.dtype)
        self.log_alpha = np.log(as_positive(alpha, (n_h,), "alpha", np.float64)).astype(self.dtype)
        self.log_lam = np.log(as_positive(lam, (n_v,), "lam", np.float64)).astype(self.dtype)
        self.layer_names = ("v", "h", "s")
        self.layer_sizes = (n_v, n_h, n_h)
        self.layer_kinds = ("real", "binary", "real")
        self._validate()

    @property
    def n_hidden(self):
        return self.layer_sizes[1]

    @property
    def alpha(self):
        """Slab precisions ``exp(log_alpha)``."""
        return np.exp(self.log_alpha)

    @property
    def lam(self):
        """Visible precisions ``exp(log_lam)``."""
        return np.exp(self.log_lam)

    def _validate(self):
        W = self._f64("W")
        P = np.diag(np.exp(self._f64("log_lam"))) - (W * np.exp(-self._f64("log_alpha"))) @ W.T
        try:
            np.linalg.cholesky(P)
        except np.linalg.LinAlgError:
            lo = float(np.linalg.eigvalsh(P).min())
            raise ModelError(
                "spike-and-slab RBM is not normalisable: diag(lam) − W diag(1/alpha) Wᵀ must be "
                f"positive definite, smallest eigenvalue {lo:.3g}; increase lam or alpha or "
                "shrink W") from None

    def _a(self, v):
        return (v - self.b) @ self.W  # a_j = uᵀW_{:,j}

    def energy(self, v, h, s):
        """``E(v,s,h)`` for rows of ``v``, ``h`` (spikes) and ``s`` (slabs)."""
        (v, ov), (h, oh), (s, os_) = self._data(0, v), self._data(1, h), self._data(2, s)
        v, h, s = rows_match([v, h, s], ["v", "h", "s"])
        al = self.alpha
        e = (0.5 * self.lam * (v - self.b) ** 2).sum(1) - np.einsum("ij,ij->i", self._a(v), s * h) \
            + (0.5 * al * s * s).sum(1) - ((al * self.mu) * s * h).sum(1) - h @ self.c \
            + h @ (0.5 * al * self.mu ** 2)
        return _out(e, ov and oh and os_)

    def _pre_h(self, a):
        return a * a * (0.5 / self.alpha) + a * self.mu + self.c

    def free_energy(self, v):
        """``F(v) = ½ Σ λ_i u_i² − Σ_j [ζ(c_j + a_j²/(2α_j) + a_j μ_j) + ½ log(2π/α_j)]``."""
        v, one = self._data(0, v)
        f = (0.5 * self.lam * (v - self.b) ** 2).sum(1) - softplus(self._pre_h(self._a(v))).sum(1) \
            - np.sum(0.5 * (LOG_2PI - self.log_alpha))
        return _out(f, one)

    def log_unnormalized(self, v):
        return -self.free_energy(v)

    def mean_h(self, v):
        """``p(h_j = 1 | v)`` (slab integrated out)."""
        v, one = self._data(0, v)
        return _out(sigmoid(self._pre_h(self._a(v))), one)

    def mean_s(self, v, h):
        """``E[s | v, h] = h (a/α + μ)``."""
        (v, ov), (h, oh) = self._data(0, v), self._data(1, h)
        v, h = rows_match([v, h], ["v", "h"])
        return _out(h * (self._a(v) / self.alpha + self.mu), ov and oh)

    def mean_v(self, h, s):
        """``E[v | h, s] = b + Λ⁻¹ W (s∘h)``."""
        (h, oh), (s, os_) = self._data(1, h), self._data(2, s)
        h, s = rows_match([h, s], ["h", "s"])
        return _out(self.b + ((h * s) @ self.W.T) / self.lam, oh and os_)

    def sample_h(self, v, rng=None):
        """Spikes ``h ~ p(h|v)``."""
        p = self.mean_h(v)
        return (as_rng(rng).random(p.shape) < p).astype(self.dtype)

    def sample_s(self, v, h, rng=None):
        """Slabs ``s ~ N(h(a/α + μ), 1/α)``."""
        m = self.mean_s(v, h)
        return (m + as_rng(rng).standard_normal(m.shape) / np.sqrt(self.alpha)).astype(self.dtype)

    def sample_v(self, h, s, rng=None):
        """``v ~ N(b + Λ⁻¹W(s∘h), Λ⁻¹)``."""
        m = self.mean_v(h, s)
        return (m + as_rng(rng).standard_normal(m.shape) / np.sqrt(self.lam)).astype(self.dtype)

    def grad_energy(self, v, h, s):
        """``∂E/∂θ`` averaged over rows, for ``W, b, c, mu, log_alpha, log_lam``."""
        (v, _), (h, _), (s, _) = self._data(0, v), self._data(1, h), self._data(2, s)
        v, h, s = rows_match([v, h, s], ["v", "h", "s"])
        u, al, lam = v - self.b, self.alpha, self.lam
        sh = s * h
        g = {"W": -(u.T @ sh), "b": (-lam * u + sh @ self.W.T).sum(0), "c": -h.sum(0),
             "mu": (-al * sh + al * self.mu * h).sum(0),
             "log_alpha": (al * (0.5 * s * s - self.mu * sh + 0.5 * self.mu ** 2 * h)).sum(0),
             "log_lam": (0.5 * lam * u * u).sum(0)}
        return self._param_grads(g, v.shape[0])

    def grad_free_energy(self, v):
        """``∂F/∂θ`` averaged over rows."""
        v, _ = self._data(0, v)
        u, al, lam = v - self.b, self.alpha, self.lam
        a = u @ self.W
        p = sigmoid(self._pre_h(a))
        r = p * (a / al + self.mu)  # ∂(−F)/∂a_j
        g = {"W": -(u.T @ r), "b": (-lam * u + r @ self.W.T).sum(0), "c": -p.sum(0),
             "mu": -(p * a).sum(0), "log_alpha": (p * a * a / (2 * al) + 0.5).sum(0),
             "log_lam": (0.5 * lam * u * u).sum(0)}
        return self._param_grads(g, v.shape[0])

    def exact_log_partition(self, memory_limit=None):
        """``log Z`` by enumerating the spikes; ``v`` and ``s`` are integrated out in closed form.

        For each spike vector ``h``: ``log ∫∫ e^{−E} = c·h + Σ_j ½ log(2π/α_j) + (n_v/2) log 2π
        − ½ log det P_h + ½ mᵀP_h⁻¹m`` with ``P_h = Λ − W diag(h/α) Wᵀ``, ``m = W(h∘μ)``.
        """
        self._validate()
        n_v, n_h = self.layer_sizes[:2]
        check_enumerable(n_h, "log Z of a spike-and-slab RBM")
        W, c, mu = self._f64("W"), self._f64("c"), self._f64("mu")
        ia, lam = np.exp(-self._f64("log_alpha")), np.exp(self._f64("log_lam"))

        def term(h):
            P = np.diag(lam)[None] - np.einsum("ij,kj,lj->kil", W, h * ia, W)
            L = np.linalg.cholesky(P)
            m = (h * mu) @ W.T
            y = np.linalg.solve(L, m[..., None])[..., 0]
            logdet = 2 * np.log(np.diagonal(L, axis1=1, axis2=2)).sum(1)
            return h @ c - 0.5 * logdet + 0.5 * (y * y).sum(1)

        const = np.sum(0.5 * (LOG_2PI + np.log(ia))) + 0.5 * n_v * LOG_2PI
        return float(_log_z_by_enumeration(n_h, n_v * n_v, term, memory_limit) + const)

    def exact_log_likelihood(self, v, memory_limit=None):
        """Log density ``log p(v) = −F(v) − log Z`` (float64)."""
        v, one = self._data(0, v)
        v = v.astype(np.float64)
        W, b, c, mu = self._f64("W"), self._f64("b"), self._f64("c"), self._f64("mu")
        la, ll_ = self._f64("log_alpha"), self._f64("log_lam")
        a = (v - b) @ W
        pre = a * a * (0.5 * np.exp(-la)) + a * mu + c
        ll = -(0.5 * np.exp(ll_) * (v - b) ** 2).sum(1) + softplus(pre).sum(1) \
            + np.sum(0.5 * (LOG_2PI - la))
        return _out(ll - self.exact_log_partition(memory_limit), one)
