"""Sigmoid belief networks (Neal 1992) and their factorial logistic recognition networks
(SPEC.md §4 "learned approximate inference", §5 "directed: sigmoid belief nets").

Generative model (:class:`SigmoidBeliefNet`).  Binary layers ``x_0 = v, x_1 = h¹, …, x_L = h^L``
of widths ``layer_sizes = (n_0, n_1, …, n_L)``, sampled top-down:

    ``p(h^L_j = 1) = σ(b^L_j)``,   ``p(x_{l,i} = 1 | x_{l+1}) = σ(b^l_i + Σ_j W^{l+1}_{ij} x_{l+1,j})``

with ``W^{l+1}`` of shape ``(n_l, n_{l+1})``.  The joint ``log p(v, h)`` is a sum of Bernoulli
log-probabilities ``Σ_l Σ_i [log σ(z_{l,i}) − (1 − x_{l,i}) z_{l,i}]`` whose parameter gradient
is local: ``δ_l = x_l − σ(z_l)``, ``∂/∂b^l = δ_l``, ``∂/∂W^{l+1} = δ_l x_{l+1}ᵀ``.  The
posterior ``p(h | v)`` is intractable ("explaining away"), so learning uses a recognition
network (wake–sleep, NVIL in :mod:`estimators.wake_sleep`).  The marginal ``log p(v)`` is exact
for small hidden layers: the layer marginals are propagated down the chain,
``p(x_l) = Σ_{x_{l+1}} p(x_l | x_{l+1}) p(x_{l+1})``, so the work grows like
``2^{n_l + n_{l+1}}`` per pair of adjacent hidden layers rather than ``2^{Σ n_l}``.

Recognition model (:class:`Recognition`).  A factorial logistic bottom-up model
``q(h | v) = Π_l Π_j q(h^l_j | h^{l−1})``, ``q(h^l_j = 1 | h^{l−1}) = σ(r^l_j + Σ_i h^{l−1}_i R^l_{ij})``
(``h⁰ = v``, ``R^l`` of shape ``(n_{l−1}, n_l)``), sampled bottom-up from uniform noise.

Both follow the directed-model protocol: ``params`` / ``set_params`` / ``settings`` /
``from_settings`` / ``save``.  The generative model also has ``n_visible``, ``domain = (0, 1)``,
``log_prob(v, h)``, ``log_prob_and_grad`` / ``grad_log_prob(v, h, weights=None)``,
``log_likelihood(v)``, ``importance_bound(v, proposal, k)``, ``noise_shapes(n)`` and
``ancestral_pass(noise, layers=False)`` (used by :func:`samplers.ancestral`); the recognition
network ``noise_shapes(n)``, ``sample(v, uniforms)``, ``sample_and_log_prob``, ``log_prob(v, h)``,
``log_prob_and_grad`` / ``grad_log_prob`` and per-row ``score(v, h)``.
"""

import numbers

import numpy as np

from ._validation import as_batch, as_float_array, check_params, row_weights
from .errors import CardinalityError, TooLargeError
from .network import bernoulli_log_prob, log_sigmoid, sigmoid

__all__ = ["SigmoidBeliefNet", "Recognition"]

#: elements of the largest temporary (rows × states, rows × samples × width) built at once
_CHUNK_ELEMENTS = 2**22


def _layer_sizes(layer_sizes):
    if isinstance(layer_sizes, (numbers.Integral, str, bytes)):
        raise TypeError(f"layer_sizes must be a sequence of integers (n_visible, h1, ..., hL), "
                        f"got {layer_sizes!r}")
    try:
        sizes = list(layer_sizes)
    except TypeError:
        raise TypeError(f"layer_sizes must be a sequence of integers (n_visible, h1, ..., hL), "
                        f"got {layer_sizes!r}") from None
    if len(sizes) < 2:
        raise ValueError(f"layer_sizes needs a visible and at least one hidden layer, got {sizes}")
    for i, s in enumerate(sizes):
        if isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1:
            raise ValueError(f"layer_sizes[{i}] must be a positive integer, got {s!r}")
    return tuple(int(s) for s in sizes)


def _scale(scale):
    if isinstance(scale, bool) or not isinstance(scale, numbers.Real) or not np.isfinite(scale) or scale < 0:
        raise ValueError(f"scale must be a finite real >= 0, got {scale!r}")
    return float(scale)


def _bernoulli(x, z):
    """``Σ_i log p(x_i | logit z_i)`` per row: ``log σ(z) − (1 − x) z`` (accurate for large |z|)."""
    return np.sum(bernoulli_log_prob(x, z), axis=-1)


def _bernoulli_prior(x, b):
    """``Σ_i log p(x_i | logit b_i)`` per row for logits shared by every row:
    ``x·b + Σ_i log σ(−b_i)``."""
    return x @ b + np.sum(log_sigmoid(-b))


def _all_states(d):
    k = np.arange(2**d, dtype=np.int64)
    return ((k[:, None] >> np.arange(d, dtype=np.int64)) & 1).astype(np.float64)


def _lse(a, axis):
    m = np.max(a, axis=axis, keepdims=True)
    return np.squeeze(m, axis) + np.log(np.sum(np.exp(a - m), axis=axis))


class _LogisticLayers:
    """Shared plumbing: parameter checks, layer validation, persistence."""

    layer_sizes = ()

    @property
    def n_visible(self):
        """Width of the data layer ``v``."""
        return self.layer_sizes[0]

    @property
    def n_layers(self):
        """Number of hidden layers ``L``."""
        return len(self.layer_sizes) - 1

    @property
    def param_names(self):
        return list(self.params)

    def set_params(self, **values):
        """Replace some parameters (shapes checked, finite values required; all or nothing).

        Unknown name → ``KeyError``; wrong shape → :class:`~pgm.errors.CardinalityError`;
        non-finite value → :class:`~pgm.errors.ModelError`.
        """
        own = self.params
        checked = check_params(own, values)
        for name, arr in checked.items():
            own[name][...] = arr

    def settings(self):
        """Constructor settings (JSON-able)."""
        return {"layer_sizes": list(self.layer_sizes), "scale": self.scale}

    @classmethod
    def from_settings(cls, settings):
        return cls(tuple(settings["layer_sizes"]), scale=settings.get("scale", 0.1))

    def save(self, path):
        """Write settings and parameters to ``path`` (``.npz`` + JSON, no pickle); read with
        :func:`pgm.load`."""
        from .io.persist import save_model

        save_model(self, path)

    def __repr__(self):
        return f"{type(self).__name__}(layer_sizes={self.layer_sizes})"

    # ------------------------------------------------------------------ validation
    def _visible(self, v):
        return as_batch(v, self.n_visible, "v", binary=True)

    def _hidden(self, h, rows):
        """``h`` as a list of ``L`` float64 arrays ``(rows, n_l)`` (binary, finite)."""
        L = self.n_layers
        if isinstance(h, np.ndarray):
            if L != 1:
                raise TypeError(f"h must be a list of {L} hidden layers [h1, ..., h{L}], got one array")
            h = [h]
        if not isinstance(h, (list, tuple)) or len(h) != L:
            got = len(h) if isinstance(h, (list, tuple)) else type(h).__name__
            raise CardinalityError(f"h must be a list of {L} hidden layers of widths "
                                   f"{list(self.layer_sizes[1:])}, got {got}")
        out = []
        for l, layer in enumerate(h, start=1):
            arr, _ = as_batch(layer, self.layer_sizes[l], f"h{l}", binary=True)
            if arr.shape[0] != rows:
                raise CardinalityError(f"h{l} must have as many rows as v ({rows}), got shape "
                                       f"{np.shape(layer)}")
            out.append(arr)
        return out

    def _pair(self, v, h):
        v, one = self._visible(v)
        return [v] + self._hidden(h, v.shape[0]), one

    def _uniform(self, noise, width, rows=None, name="noise['uniform']"):
        u = as_float_array(noise, name)
        if u.ndim != 2 or u.shape[1] != width or (rows is not None and u.shape[0] != rows):
            want = f"({'n' if rows is None else rows}, {width})"
            raise CardinalityError(f"{name} must have shape {want}, got {u.shape}")
        return u


class SigmoidBeliefNet(_LogisticLayers):
    """Layered sigmoid belief network ``v ← h¹ ← … ← h^L`` with logistic conditionals.

    Parameters
    ----------
    layer_sizes : sequence of int
        ``(n_visible, n_1, …, n_L)``: the data layer and ``L ≥ 1`` hidden layers (top last).
    seed : int, Generator or None
        Initial weights ``W^l ~ N(0, scale²)``; biases 0.
    scale : float ≥ 0
        Standard deviation of the initial weights (small random weights break the symmetry
        between hidden units).

    Attributes
    ----------
    weights : list of ``L`` arrays
        ``W^l`` of shape ``(n_{l−1}, n_l)`` (parameter ``"W<l>"``, ``l = 1 … L``):
        ``W^l[i, j]`` connects unit ``j`` of layer ``l`` to unit ``i`` of layer ``l − 1``.
    biases : list of ``L + 1`` arrays
        ``b^l`` of shape ``(n_l,)`` (parameter ``"b<l>"``, ``l = 0 … L``): ``b0`` the visible
        biases, ``b<L>`` the logits of the factorial prior of the top layer.

    Examples
    --------
    >>> import numpy as np
    >>> from pgm.sigmoid_belief import SigmoidBeliefNet
    >>> m = SigmoidBeliefNet((3, 2), seed=0)
    >>> sorted(m.params)
    ['W1', 'b0', 'b1']
    >>> v = np.array([[a, b, c] for a in (0, 1) for b in (0, 1) for c in (0, 1)])
    >>> round(float(np.exp(m.log_likelihood(v)).sum()), 12)      # exact, by enumeration
    1.0
    >>> m.log_prob([1, 0, 1], [[0, 1]]) <= m.log_likelihood([1, 0, 1])
    True
    """

    def __init__(self, layer_sizes, seed=None, scale=0.1):
        self.layer_sizes = _layer_sizes(layer_sizes)
        self.scale = _scale(scale)
        rng = np.random.default_rng(seed)
        s = self.layer_sizes
        self.weights = [self.scale * rng.standard_normal((a, b)) for a, b in zip(s[:-1], s[1:])]
        self.biases = [np.zeros(n) for n in s]

    # ------------------------------------------------------------------ description
    @property
    def domain(self):
        """``(0, 1)``: every unit is binary."""
        return (0, 1)

    @property
    def n_variables(self):
        return self.n_visible

    @property
    def params(self):
        """Name → the model's own arrays: ``b0, W1, b1, …, W<L>, b<L>`` (updated in place)."""
        out = {"b0": self.biases[0]}
        for l in range(1, self.n_layers + 1):
            out[f"W{l}"], out[f"b{l}"] = self.weights[l - 1], self.biases[l]
        return out

    # ------------------------------------------------------------------ joint
    def _logits(self, xs, l):
        """Logits of layer ``l`` given layer ``l + 1`` (the prior logits for the top layer)."""
        if l == self.n_layers:
            return np.broadcast_to(self.biases[l], xs[l].shape)
        return xs[l + 1] @ self.weights[l].T + self.biases[l]

    def _joint(self, xs, weights=None, need_grad=False):
        n = xs[0].shape[0]
        lp = np.zeros(n)
        grads = {}
        w = row_weights(weights, n) if need_grad else None
        for l in range(self.n_layers + 1):
            if l == self.n_layers and not need_grad:
                lp += _bernoulli_prior(xs[l], self.biases[l])
                break
            z = self._logits(xs, l)
            lp += _bernoulli(xs[l], z)
            if need_grad:
                delta = (xs[l] - sigmoid(z)) * w[:, None]
                grads[f"b{l}"] = delta.sum(axis=0)
                if l < self.n_layers:
                    grads[f"W{l + 1}"] = delta.T @ xs[l + 1]
        return lp, ({k: grads[k] for k in self.params} if need_grad else None)

    def log_prob(self, v, h):
        """Joint ``log p(v, h)`` per row: shape ``(n,)`` (a float for one row).

        Parameters
        ----------
        v : array (n, n_visible) or (n_visible,)
            Binary visible rows.
        h : list of ``L`` arrays ``(n, n_l)`` (or ``(n_l,)`` with a one-row ``v``)
            The hidden layers ``[h¹, …, h^L]``; with one hidden layer a single array is
            accepted too.

        Raises :class:`~pgm.errors.EvidenceError` for non-binary or non-finite values and
        :class:`~pgm.errors.CardinalityError` for wrong widths or row counts.
        """
        xs, one = self._pair(v, h)
        lp = self._joint(xs)[0]
        return float(lp[0]) if one else lp

    def log_prob_and_grad(self, v, h, weights=None):
        """``(log p(v, h) (n,), Σ_k w_k ∂ log p(v_k, h_k)/∂θ)`` in one pass (default ``w_k = 1/n``).

        ``∂/∂b^l = Σ_k w_k δ_{k,l}``, ``∂/∂W^{l+1} = Σ_k w_k δ_{k,l} x_{k,l+1}ᵀ`` with
        ``δ_l = x_l − σ(z_l)``.
        """
        xs, _ = self._pair(v, h)
        return self._joint(xs, weights, need_grad=True)

    def grad_log_prob(self, v, h, weights=None):
        """``Σ_k w_k ∂ log p(v_k, h_k)/∂θ`` (default ``w_k = 1/n``: the gradient of the mean),
        name → float64 array shaped like :attr:`params`."""
        return self.log_prob_and_grad(v, h, weights)[1]

    # ------------------------------------------------------------------ marginal
    def _enumeration_exponent(self):
        h = self.layer_sizes[1:]
        return max([h[0]] + [h[i] + h[i + 1] for i in range(len(h) - 1)])

    def log_likelihood(self, v, max_states=2**20):
        """Exact ``log p(v) = log Σ_h p(v, h)`` per row, by enumeration.

        The layer marginals are propagated top-down (``p(h^l) = Σ p(h^l | h^{l+1}) p(h^{l+1})``),
        so the largest table has ``2^{n_l + n_{l+1}}`` entries (``2^{n_1}`` for one hidden
        layer) and the visible step costs ``O(rows · 2^{n_1} · n_0)``.

        Parameters
        ----------
        v : array (n, n_visible) or (n_visible,)
        max_states : int
            Largest number of joint states of two adjacent hidden layers (of ``h¹`` alone with
            one hidden layer) that may be enumerated; beyond it
            :class:`~pgm.errors.TooLargeError`.
        """
        if isinstance(max_states, bool) or not isinstance(max_states, numbers.Integral) or max_states < 1:
            raise ValueError(f"max_states must be a positive integer, got {max_states!r}")
        v, one = self._visible(v)
        e = self._enumeration_exponent()
        if 2**e > max_states:
            raise TooLargeError(f"exact log-likelihood would enumerate 2**{e} hidden states "
                                f"(layer_sizes {self.layer_sizes}, max_states={max_states})")
        L = self.n_layers
        upper = _all_states(self.layer_sizes[L])
        log_marg = _bernoulli(upper, self.biases[L][None, :])
        for l in range(L - 1, 0, -1):
            lower = _all_states(self.layer_sizes[l])
            z = upper @ self.weights[l].T + self.biases[l]           # (S_{l+1}, n_l)
            cond = lower @ z.T + log_sigmoid(-z).sum(axis=1)         # log p(lower | upper)
            log_marg = _lse(cond + log_marg[None, :], axis=1)
            upper = lower
        z = upper @ self.weights[0].T + self.biases[0]               # (S_1, n_0)
        offset = log_sigmoid(-z).sum(axis=1) + log_marg
        out = np.empty(v.shape[0])
        step = max(1, _CHUNK_ELEMENTS // z.shape[0])
        for a in range(0, v.shape[0], step):
            out[a:a + step] = _lse(v[a:a + step] @ z.T + offset[None, :], axis=1)
        return float(out[0]) if one else out

    def importance_bound(self, v, proposal, k=1000, seed=None):
        """Importance-sampled estimate ``log (1/k) Σ_j p(v, h_j)/q(h_j | v)``, ``h_j ~ q(h | v)``,
        per row (a stochastic lower bound on ``log p(v)`` in expectation, tightening as ``k``
        grows; its exponential is an unbiased estimate of ``p(v)``).

        Parameters
        ----------
        v : array (n, n_visible) or (n_visible,)
        proposal : :class:`Recognition` (or an object with ``layer_sizes``, ``noise_shapes`` and
            ``sample_and_log_prob(v, uniforms)``) with the same layer sizes.
        k : int
            Samples per row.
        seed : int, Generator or None

        Examples
        --------
        >>> import numpy as np
        >>> from pgm.sigmoid_belief import Recognition, SigmoidBeliefNet
        >>> m, q = SigmoidBeliefNet((4, 3), seed=0), Recognition((4, 3), seed=1)
        >>> v = np.array([[1, 0, 1, 1], [0, 0, 0, 1]])
        >>> bool(np.allclose(m.importance_bound(v, q, k=20000, seed=0), m.log_likelihood(v), atol=0.01))
        True
        """
        for attr in ("layer_sizes", "noise_shapes", "sample_and_log_prob"):
            if not hasattr(proposal, attr):
                raise TypeError(f"proposal must be a recognition model (pgm.sigmoid_belief.Recognition); "
                                f"{type(proposal).__name__} has no {attr}")
        if tuple(proposal.layer_sizes) != self.layer_sizes:
            raise CardinalityError(f"proposal has layer_sizes {tuple(proposal.layer_sizes)}, the model "
                                   f"{self.layer_sizes}")
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        v, one = self._visible(v)
        rng = np.random.default_rng(seed)
        n = v.shape[0]
        width = sum(self.layer_sizes)
        per = max(1, min(int(k), _CHUNK_ELEMENTS // max(1, n * width)))
        rows = max(1, _CHUNK_ELEMENTS // max(1, per * width))
        out = np.empty(n)
        for a in range(0, n, rows):
            vv = v[a:a + rows]
            acc = np.full(vv.shape[0], -np.inf)
            done = 0
            while done < k:
                m = min(per, k - done)
                rep = np.repeat(vv, m, axis=0)
                u = rng.random(proposal.noise_shapes(rep.shape[0])["uniform"])
                hs, lq = proposal.sample_and_log_prob(rep, u)
                lw = self._joint([rep] + list(hs))[0] - np.asarray(lq, np.float64)
                acc = np.logaddexp(acc, _lse(lw.reshape(vv.shape[0], m), axis=1))
                done += m
            out[a:a + rows] = acc - np.log(k)
        return float(out[0]) if one else out

    # ------------------------------------------------------------------ sampling
    def noise_shapes(self, n):
        """The noise one ancestral pass of ``n`` samples needs: ``{"uniform": (n, Σ_l n_l)}``
        (columns for ``v``, ``h¹``, …, ``h^L`` in that order)."""
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
            raise ValueError(f"number of samples must be a positive integer, got {n!r}")
        return {"uniform": (int(n), sum(self.layer_sizes))}

    def ancestral_pass(self, noise, layers=False):
        """Exact samples from uniform noise, top-down: ``x_l = [u_l < σ(z_l(x_{l+1}))]``.

        Parameters
        ----------
        noise : dict
            ``{"uniform": array (n, Σ_l n_l)}`` (see :meth:`noise_shapes`).
        layers : bool
            Return ``[v, h¹, …, h^L]`` (float64 0/1 arrays) instead of ``v`` ``(n, n_visible)``.

        Examples
        --------
        >>> import numpy as np
        >>> from pgm.sigmoid_belief import SigmoidBeliefNet
        >>> m = SigmoidBeliefNet((3, 2, 2), seed=0)
        >>> u = np.random.default_rng(0).random(m.noise_shapes(5)["uniform"])
        >>> [x.shape for x in m.ancestral_pass({"uniform": u}, layers=True)]
        [(5, 3), (5, 2), (5, 2)]
        """
        if not isinstance(noise, dict) or "uniform" not in noise:
            raise TypeError(f"noise must be a dict with a 'uniform' array, got {type(noise).__name__}")
        u = self._uniform(noise["uniform"], sum(self.layer_sizes))
        edges = np.cumsum((0,) + self.layer_sizes)
        L = self.n_layers
        xs = [None] * (L + 1)
        for l in range(L, -1, -1):
            z = self.biases[l] if l == L else xs[l + 1] @ self.weights[l].T + self.biases[l]
            xs[l] = (u[:, edges[l]:edges[l + 1]] < sigmoid(z)).astype(np.float64)
        return xs if layers else xs[0]


class Recognition(_LogisticLayers):
    """Factorial logistic recognition network ``q(h | v)`` for a :class:`SigmoidBeliefNet`.

    ``q(h^l_j = 1 | h^{l−1}) = σ(r^l_j + Σ_i h^{l−1}_i R^l_{ij})`` with ``h⁰ = v``; each layer is
    drawn given the one below (bottom-up), so ``log q(h | v)`` is a sum of Bernoulli terms and
    its gradient is local, as for the generative model.

    Parameters
    ----------
    layer_sizes : sequence of int
        The generative model's ``(n_visible, n_1, …, n_L)``.
    seed : int, Generator or None
        Initial weights ``R^l ~ N(0, scale²)``; biases 0.
    scale : float ≥ 0

    Attributes
    ----------
    weights : list of ``L`` arrays ``R^l (n_{l−1}, n_l)`` (parameters ``"R<l>"``)
    biases : list of ``L`` arrays ``r^l (n_l,)`` (parameters ``"r<l>"``)

    Examples
    --------
    >>> import numpy as np
    >>> from pgm.sigmoid_belief import Recognition
    >>> q = Recognition((3, 2), seed=0)
    >>> v = np.array([[1.0, 0.0, 1.0]])
    >>> h = q.sample(v, np.random.default_rng(0).random(q.noise_shapes(1)["uniform"]))
    >>> [x.shape for x in h], sorted(q.params)
    ([(1, 2)], ['R1', 'r1'])
    >>> hs = [np.array([[a, b]]) for a in (0, 1) for b in (0, 1)]
    >>> round(sum(float(np.exp(q.log_prob(v, [x]))[0]) for x in hs), 12)
    1.0
    """

    def __init__(self, layer_sizes, seed=None, scale=0.1):
        self.layer_sizes = _layer_sizes(layer_sizes)
        self.scale = _scale(scale)
        rng = np.random.default_rng(seed)
        s = self.layer_sizes
        self.weights = [self.scale * rng.standard_normal((a, b)) for a, b in zip(s[:-1], s[1:])]
        self.biases = [np.zeros(n) for n in s[1:]]

    @property
    def params(self):
        """Name → the network's own arrays: ``R1, r1, …, R<L>, r<L>`` (updated in place)."""
        out = {}
        for l in range(1, self.n_layers + 1):
            out[f"R{l}"], out[f"r{l}"] = self.weights[l - 1], self.biases[l - 1]
        return out

    def noise_shapes(self, n):
        """The uniform noise :meth:`sample` needs for ``n`` rows: ``{"uniform": (n, Σ_{l≥1} n_l)}``
        (columns for ``h¹``, …, ``h^L`` in that order)."""
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
            raise ValueError(f"number of rows must be a positive integer, got {n!r}")
        return {"uniform": (int(n), sum(self.layer_sizes[1:]))}

    def _logits(self, below, l):
        return below @ self.weights[l - 1] + self.biases[l - 1]

    def sample(self, v, uniforms):
        """Draw ``h ~ q(h | v)`` bottom-up from uniform noise: ``h^l = [u_l < σ(r^l + h^{l−1} R^l)]``.

        Parameters
        ----------
        v : array (n, n_visible) or (n_visible,)
            Binary visible rows.
        uniforms : array (n, Σ_{l≥1} n_l)
            Uniform(0, 1) noise, one row per row of ``v`` (see :meth:`noise_shapes`).

        Returns
        -------
        list of ``L`` float64 0/1 arrays ``[h¹, …, h^L]`` (1-D for a one-row ``v``).
        """
        return self.sample_and_log_prob(v, uniforms)[0]

    def sample_and_log_prob(self, v, uniforms):
        """``(h, log q(h | v))``: :meth:`sample` and :meth:`log_prob` of the draw in one pass."""
        v, one = self._visible(v)
        u = as_float_array(uniforms, "uniforms")
        if one and u.ndim == 1:
            u = u[None, :]
        u = self._uniform(u, sum(self.layer_sizes[1:]), rows=v.shape[0], name="uniforms")
        edges = np.cumsum((0,) + self.layer_sizes[1:])
        out, below = [], v
        lq = np.zeros(v.shape[0])
        for l in range(1, self.n_layers + 1):
            z = self._logits(below, l)
            below = (u[:, edges[l - 1]:edges[l]] < sigmoid(z)).astype(np.float64)
            lq += _bernoulli(below, z)
            out.append(below)
        return ([x[0] for x in out], float(lq[0])) if one else (out, lq)

    def _log_q(self, xs, weights=None, need_grad=False):
        n = xs[0].shape[0]
        lq = np.zeros(n)
        grads = {}
        w = row_weights(weights, n) if need_grad else None
        for l in range(1, self.n_layers + 1):
            z = self._logits(xs[l - 1], l)
            lq += _bernoulli(xs[l], z)
            if need_grad:
                delta = (xs[l] - sigmoid(z)) * w[:, None]
                grads[f"R{l}"] = xs[l - 1].T @ delta
                grads[f"r{l}"] = delta.sum(axis=0)
        return lq, (grads if need_grad else None)

    def log_prob(self, v, h):
        """``log q(h | v)`` per row: shape ``(n,)`` (a float for one row)."""
        xs, one = self._pair(v, h)
        lq = self._log_q(xs)[0]
        return float(lq[0]) if one else lq

    def log_prob_and_grad(self, v, h, weights=None):
        """``(log q(h | v) (n,), Σ_k w_k ∂ log q(h_k | v_k)/∂φ)`` (default ``w_k = 1/n``).

        ``∂/∂r^l = Σ_k w_k δ_{k,l}``, ``∂/∂R^l = Σ_k w_k h_{k,l−1} δ_{k,l}ᵀ`` with
        ``δ_l = h^l − σ(r^l + h^{l−1} R^l)``.
        """
        xs, _ = self._pair(v, h)
        return self._log_q(xs, weights, need_grad=True)

    def grad_log_prob(self, v, h, weights=None):
        """``Σ_k w_k ∂ log q(h_k | v_k)/∂φ`` (default ``w_k = 1/n``), name → array like :attr:`params`.
        With weights ``(f_k − b_k)/n`` this is the REINFORCE estimate
        (:func:`estimators.reinforce` takes it as a callable)."""
        return self.log_prob_and_grad(v, h, weights)[1]

    def score(self, v, h):
        """Per-row scores ``∂ log q(h_k | v_k)/∂φ``: name → array ``(n, *param_shape)`` (memory
        ``n × #params``; for small problems and variance studies)."""
        xs, _ = self._pair(v, h)
        out = {}
        for l in range(1, self.n_layers + 1):
            delta = xs[l] - sigmoid(self._logits(xs[l - 1], l))
            out[f"R{l}"] = xs[l - 1][:, :, None] * delta[:, None, :]
            out[f"r{l}"] = delta
        return out
