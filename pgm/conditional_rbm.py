"""Conditional restricted Boltzmann machine (Taylor, Hinton & Roweis 2007; SPEC.md §5 "Conditional
RBM: biases that depend on context").

Binary visibles ``v`` (``D``), binary hiddens ``h`` (``H``) and a real context ``u`` (``C``) that
is observed, never modelled::

    E(v, h; u) = −vᵀWh − (b + Au)ᵀv − (c + Bu)ᵀh,      p(v, h | u) = e^{−E(v,h;u)} / Z(u)

with ``W (D, H)``, ``A (D, C)`` (autoregressive / context-to-visible), ``B (H, C)``
(context-to-hidden).  For one context row the model *is* a :class:`pgm.RBM` with the
conditioned biases ``b̃ = b + Au``, ``c̃ = c + Bu`` (:meth:`ConditionalRBM.given`), so every RBM
sampler and exact routine applies to ``p(v | u)``.  With ``ζ`` the softplus and ``σ`` the
logistic function:

* ``F(v; u) = −b̃·v − Σ_j ζ(c̃_j + vᵀW_{:,j})`` (the hiddens summed out, as for the RBM);
* ``p(h_j = 1 | v, u) = σ(c̃_j + vᵀW_{:,j})``, ``p(v_i = 1 | h, u) = σ(b̃_i + W_{i,:}h)``;
* ``log p(v | u) = −F(v; u) − log Z(u)``: ``Z(u)`` depends on the context, so it is computed per
  row, exactly, by enumerating the smaller layer (``2^min(D, H)`` states, at most
  ``2^25``; :class:`~pgm.errors.TooLargeError` beyond);
* ``∂F/∂W = −v p(h|v,u)ᵀ``, ``∂F/∂b = −v``, ``∂F/∂A = −v uᵀ``, ``∂F/∂c = −p(h|v,u)``,
  ``∂F/∂B = −p(h|v,u) uᵀ``; ``∂ log Z(u)/∂θ = −E_{p(v,h|u)}[∂E/∂θ]`` by the same enumeration
  (:meth:`ConditionalRBM.grad_log_prob`).

Training rows are ``[v, u]`` concatenated (the first ``n_visible`` columns ``v``, the remaining
``n_context`` columns the context): :class:`estimators.ConditionalCD` (CD-k with per-row
conditioned biases) and :class:`estimators.ConditionalML` (exact gradient by enumeration).
``ConditionalRBM.data_width = n_visible + n_context`` is the width of such a row, which
``estimators.fit`` checks the data against.
"""

import numbers

import numpy as np

from ._layered import as_param, as_rng, bits, check_enumerable, lse, rows_match, sigmoid, softplus
from ._validation import as_batch, row_weights
from .boltzmann import RBM
from .errors import CardinalityError, EvidenceError

__all__ = ["ConditionalRBM"]

#: rows × enumerated states × width handled at once by the exact computations (bounds memory)
_CHUNK_ELEMENTS = 2**20


def _count(value, name, minimum=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _out(x, one):
    return x[0] if one else x


class ConditionalRBM:
    """Binary RBM whose biases are linear in a real context: ``E = −vᵀWh − (b+Au)ᵀv − (c+Bu)ᵀh``.

    Parameters
    ----------
    n_visible, n_hidden, n_context : int
        Sizes ``D``, ``H``, ``C`` (all ≥ 1).
    W, A, B, b, c : array_like, optional
        Initial parameters of shapes ``(D, H)``, ``(D, C)``, ``(H, C)``, ``(D,)``, ``(H,)``.
        Default: ``W``, ``A``, ``B`` drawn ``N(0, 0.01²)`` from ``seed`` (in that order), biases 0.
    seed : int, Generator or None

    Attributes
    ----------
    data_width : int
        ``n_visible + n_context``: the width of a training row ``[v, u]`` (what
        :func:`estimators.fit` checks the data against).
    params : dict
        ``{"W", "A", "B", "b", "c"}`` → the model's own arrays (updated in place).

    Examples
    --------
    >>> import numpy as np, pgm
    >>> m = pgm.ConditionalRBM(3, 2, 1, seed=0)
    >>> m.set_params(A=[[2.0], [0.0], [-2.0]])
    >>> states = np.array([[i >> k & 1 for k in range(3)] for i in range(8)])
    >>> p = np.exp(m.log_prob(states, [1.0]))          # p(v | u = 1), exact
    >>> round(float(p.sum()), 12)
    1.0
    >>> rbm = m.given([1.0])                           # the same distribution as a pgm.RBM
    >>> bool(np.allclose(rbm.exact_log_likelihood(states), m.log_prob(states, [1.0])))
    True
    """

    param_names = ("W", "A", "B", "b", "c")

    def __init__(self, n_visible, n_hidden, n_context, W=None, A=None, B=None, b=None, c=None,
                 seed=None):
        self.n_visible = _count(n_visible, "n_visible")
        self.n_hidden = _count(n_hidden, "n_hidden")
        self.n_context = _count(n_context, "n_context")
        rng = as_rng(seed)
        shapes = self._shapes()
        given = {"W": W, "A": A, "B": B}
        for name in ("W", "A", "B"):
            draw = 0.01 * rng.standard_normal(shapes[name])
            setattr(self, name, as_param(draw if given[name] is None else given[name], shapes[name],
                                         name, np.float64))
        self.b = as_param(b, shapes["b"], "b", np.float64)
        self.c = as_param(c, shapes["c"], "c", np.float64)

    def _shapes(self):
        d, h, k = self.n_visible, self.n_hidden, self.n_context
        return {"W": (d, h), "A": (d, k), "B": (h, k), "b": (d,), "c": (h,)}

    # ------------------------------------------------------------------ description
    @property
    def data_width(self):
        """Columns of a training row ``[v, u]``: ``n_visible + n_context``."""
        return self.n_visible + self.n_context

    @property
    def params(self):
        """Name → the model's own arrays ``W (D,H)``, ``A (D,C)``, ``B (H,C)``, ``b (D,)``, ``c (H,)``."""
        return {k: getattr(self, k) for k in self.param_names}

    def set_params(self, **values):
        """Replace some parameters in place (all or nothing): an unknown name raises
        ``KeyError``, a wrong shape :class:`~pgm.errors.CardinalityError`, a non-finite value
        :class:`~pgm.errors.ModelError`.

        Examples
        --------
        >>> import pgm
        >>> pgm.ConditionalRBM(2, 2, 3).set_params(B=[[1.0, 2.0]])
        Traceback (most recent call last):
        ...
        pgm.errors.CardinalityError: B must have shape (2, 3), got (1, 2)
        """
        shapes = self._shapes()
        unknown = set(values) - set(shapes)
        if unknown:
            raise KeyError(f"unknown parameters {sorted(unknown)}; expected {list(self.param_names)}")
        checked = {k: as_param(v, shapes[k], k, np.float64) for k, v in values.items()}
        for k, v in checked.items():
            getattr(self, k)[...] = v

    def settings(self):
        """Constructor settings (JSON-able): what :meth:`save` stores next to the parameters."""
        return {"n_visible": self.n_visible, "n_hidden": self.n_hidden, "n_context": self.n_context}

    @classmethod
    def from_settings(cls, settings):
        return cls(settings["n_visible"], settings["n_hidden"], settings["n_context"])

    def save(self, path):
        """Write settings and parameters to ``path`` (``.npz`` + JSON, no pickle); read with
        :func:`pgm.load`."""
        from .io.persist import save_model

        save_model(self, path)

    def __repr__(self):
        return (f"ConditionalRBM(n_visible={self.n_visible}, n_hidden={self.n_hidden}, "
                f"n_context={self.n_context})")

    # ------------------------------------------------------------------ input checks
    def _v(self, v):
        return as_batch(v, self.n_visible, "v", np.float64, binary=True)

    def _u(self, context):
        return as_batch(context, self.n_context, "context", np.float64)

    def _v_u(self, v, context):
        (v, ov), (u, ou) = self._v(v), self._u(context)
        v, u = rows_match([v, u], ["v", "context"])
        return v, u, ov and ou

    def split(self, rows):
        """Split training rows ``[v, u]`` (shape ``(n, data_width)``) into ``(v, u)``, checked:
        finite, the right width, ``v`` binary (typed errors naming the offending value).

        Examples
        --------
        >>> import pgm
        >>> v, u = pgm.ConditionalRBM(2, 3, 1).split([[1, 0, 0.5]])
        >>> v.tolist(), u.tolist()
        ([[1.0, 0.0]], [[0.5]])
        """
        x, _ = as_batch(rows, self.data_width, "rows [v, context]", np.float64)
        v, u = x[:, :self.n_visible], x[:, self.n_visible:]
        ok = (v == 0) | (v == 1)
        if not ok.all():
            r, col = np.argwhere(~ok)[0]
            raise EvidenceError(f"the visible part (first {self.n_visible} columns) of rows [v, context] "
                                f"must be binary, found {v[r, col]!r} at row {r}, column {col}")
        return np.ascontiguousarray(v), np.ascontiguousarray(u)

    # ------------------------------------------------------------------ conditioning
    def conditioned_biases(self, context):
        """``(b + Au, c + Bu)`` per context row: arrays ``(n, D)`` and ``(n, H)``."""
        u, one = self._u(context)
        bv, bh = self._biases(u)
        return _out(bv, one), _out(bh, one)

    def _biases(self, u):
        return self.b + u @ self.A.T, self.c + u @ self.B.T

    def given(self, context):
        """The :class:`pgm.RBM` ``p(v, h | u)`` for ONE context row ``u`` (shape ``(C,)`` or
        ``(1, C)``): weights ``W`` (a copy), biases ``b + Au`` and ``c + Bu``.

        Examples
        --------
        >>> import pgm
        >>> m = pgm.ConditionalRBM(2, 1, 1, W=[[0.0], [0.0]], A=[[1.0], [2.0]], B=[[3.0]])
        >>> r = m.given([0.5])
        >>> r.b.tolist(), r.c.tolist()
        ([0.5, 1.0], [1.5])
        """
        u, _ = self._u(context)
        if u.shape[0] != 1:
            raise CardinalityError(f"given() takes one context row, got {u.shape[0]} rows; "
                                   "condition each row separately")
        bv, bh = self._biases(u)
        return RBM(self.n_visible, self.n_hidden, W=self.W, b=bv[0], c=bh[0])

    # ------------------------------------------------------------------ energies
    def energy(self, v, h, context):
        """``E(v, h; u)`` per row (rows of ``v``, ``h``, ``context`` broadcast from one row)."""
        (v, ov), (h, oh), (u, ou) = self._v(v), as_batch(h, self.n_hidden, "h", binary=True), self._u(context)
        v, h, u = rows_match([v, h, u], ["v", "h", "context"])
        bv, bh = self._biases(u)
        e = -np.einsum("ij,ij->i", v @ self.W, h) - (v * bv).sum(1) - (h * bh).sum(1)
        return _out(e, ov and oh and ou)

    def free_energy(self, v, context):
        """``F(v; u) = −(b+Au)·v − Σ_j ζ(c_j + (Bu)_j + vᵀW_{:,j})`` per row.

        Examples
        --------
        >>> import pgm
        >>> m = pgm.ConditionalRBM(2, 1, 1, W=[[0.0], [0.0]], A=[[1.0], [0.0]], B=[[0.0]])
        >>> round(float(m.free_energy([1, 0], [2.0])), 6)      # −2 − log 2
        -2.693147
        """
        v, u, one = self._v_u(v, context)
        bv, bh = self._biases(u)
        return _out(-(v * bv).sum(1) - softplus(v @ self.W + bh).sum(1), one)

    # ------------------------------------------------------------------ conditionals
    def conditional_hidden(self, v, context):
        """``p(h_j = 1 | v, u) = σ(c + Bu + vW)``: shape ``(n, H)``."""
        v, u, one = self._v_u(v, context)
        return _out(sigmoid(v @ self.W + self._biases(u)[1]), one)

    def conditional_visible(self, h, context):
        """``p(v_i = 1 | h, u) = σ(b + Au + Wh)``: shape ``(n, D)``; ``h`` may hold probabilities
        in [0, 1] (mean-field reconstructions)."""
        (h, oh), (u, ou) = as_batch(h, self.n_hidden, "h"), self._u(context)
        if np.any((h < 0) | (h > 1)):
            raise EvidenceError(f"h must lie in [0, 1], found {h[(h < 0) | (h > 1)].flat[0]!r}")
        h, u = rows_match([h, u], ["h", "context"])
        return _out(sigmoid(h @ self.W.T + self._biases(u)[0]), oh and ou)

    def sample_hidden(self, v, context, rng=None):
        """One draw ``h ~ p(h | v, u)`` per row."""
        p = self.conditional_hidden(v, context)
        return (as_rng(rng).random(p.shape) < p).astype(np.float64)

    def sample_visible(self, h, context, rng=None):
        """One draw ``v ~ p(v | h, u)`` per row."""
        p = self.conditional_visible(h, context)
        return (as_rng(rng).random(p.shape) < p).astype(np.float64)

    # ------------------------------------------------------------------ gradients
    def grad_free_energy(self, v, context, weights=None):
        """``Σ_k w_k ∂F(v_k; u_k)/∂θ`` (default ``w_k = 1/n``: the batch mean), float64 arrays
        keyed like :attr:`params`.

        Examples
        --------
        >>> import pgm
        >>> m = pgm.ConditionalRBM(1, 1, 1, W=[[0.0]], A=[[0.0]], B=[[0.0]])
        >>> g = m.grad_free_energy([[1]], [[2.0]])
        >>> {k: g[k].ravel().tolist() for k in sorted(g)}
        {'A': [-2.0], 'B': [-1.0], 'W': [-0.5], 'b': [-1.0], 'c': [-0.5]}
        """
        v, u, _ = self._v_u(v, context)
        w = row_weights(weights, v.shape[0])
        p = sigmoid(v @ self.W + self._biases(u)[1])
        wv, wp = v * w[:, None], p * w[:, None]
        return {"W": -(wv.T @ p), "A": -(wv.T @ u), "B": -(wp.T @ u), "b": -wv.sum(0), "c": -wp.sum(0)}

    # ------------------------------------------------------------------ exact
    def _layer(self, layer):
        if layer is None:
            layer = "hidden" if self.n_hidden <= self.n_visible else "visible"
        if layer not in ("visible", "hidden"):
            raise ValueError(f"layer must be 'visible' or 'hidden', got {layer!r}")
        check_enumerable(self.n_hidden if layer == "hidden" else self.n_visible,
                         "conditional log Z of a ConditionalRBM")
        return layer

    def _blocks(self, n_rows, layer):
        """``(row slice, state ranges)``: row blocks and the ranges of enumerated states, with
        rows × states × width bounded by ``_CHUNK_ELEMENTS``."""
        m = self.n_hidden if layer == "hidden" else self.n_visible
        width = self.n_visible + self.n_hidden
        states_per = min(1 << m, max(1, _CHUNK_ELEMENTS // width))
        rows_per = max(1, _CHUNK_ELEMENTS // (width * states_per))
        ranges = [(a, min(1 << m, a + states_per)) for a in range(0, 1 << m, states_per)]
        for r0 in range(0, n_rows, rows_per):
            yield slice(r0, min(n_rows, r0 + rows_per)), ranges, m

    def _log_weights(self, s, bv, bh, layer, means=False):
        """``log Σ_{other layer} e^{−E}`` for states ``s`` (K, ·) of the enumerated layer and the
        conditioned biases of R rows: ``(R, K)``; with ``means`` also the other layer's
        conditional means ``(R, K, ·)``."""
        if layer == "hidden":
            pre, lin = bv[:, None, :] + (s @ self.W.T)[None], bh @ s.T      # (R, K, D)
        else:
            pre, lin = bh[:, None, :] + (s @ self.W)[None], bv @ s.T        # (R, K, H)
        if not means:
            return lin + softplus(pre).sum(2), None
        e = np.exp(-np.abs(pre))
        r = 1.0 / (1.0 + e)
        lw = lin + (np.maximum(pre, 0.0) + np.log1p(e)).sum(2)
        return lw, np.where(pre >= 0, r, e * r)

    def _scan(self, u, layer, w=None):
        """``log Z(u_k)`` per row; with weights ``w`` also ``Σ_k w_k E_{p(v,h|u_k)}[v hᵀ]`` and the
        per-row ``E[v]`` (n, D), ``E[h]`` (n, H).  One pass over the states when a row block's
        states fit in one chunk, else two (``log Z`` first)."""
        bv, bh = self._biases(u)
        n = u.shape[0]
        log_z = np.empty(n)
        moments = w is not None
        if moments:
            vh = np.zeros((self.n_visible, self.n_hidden))
            ev, eh = np.zeros((n, self.n_visible)), np.zeros((n, self.n_hidden))
        for rows, ranges, m in self._blocks(n, layer):
            b_v, b_h = bv[rows], bh[rows]
            if len(ranges) == 1:
                s = bits(*ranges[0], m)
                lw, mean = self._log_weights(s, b_v, b_h, layer, moments)
                log_z[rows] = lse(lw, axis=1)
                blocks = [(s, lw, mean)]
            else:
                log_z[rows] = lse(np.stack([lse(self._log_weights(bits(a, z, m), b_v, b_h, layer)[0], axis=1)
                                            for a, z in ranges], axis=1), axis=1)
                blocks = ((s, *self._log_weights(s, b_v, b_h, layer, True))
                          for s in (bits(a, z, m) for a, z in ranges)) if moments else ()
            if not moments:
                continue
            for s, lw, mean in blocks:
                p = np.exp(lw - log_z[rows, None])                 # (R, K)
                pm = np.matmul(p[:, None, :], mean)[:, 0, :]       # other layer, per row
                wpm = np.einsum("rk,rkx->kx", p * w[rows, None], mean)     # (K, ·)
                if layer == "hidden":
                    eh[rows] += p @ s
                    ev[rows] += pm
                    vh += wpm.T @ s
                else:
                    ev[rows] += p @ s
                    eh[rows] += pm
                    vh += s.T @ wpm
        return (log_z, vh, ev, eh) if moments else (log_z,)

    def log_partition(self, context, layer=None):
        """``log Z(u)`` per context row, exact (one layer enumerated: default the smaller).

        ``layer`` (``"visible"`` or ``"hidden"``) picks the enumerated layer; the two are
        numerically independent computations of the same numbers.

        Raises
        ------
        TooLargeError
            When the enumerated layer has more than 25 units.
        """
        u, one = self._u(context)
        return _out(self._scan(u, self._layer(layer))[0], one)

    def log_prob(self, v, context, layer=None):
        """Exact ``log p(v | u) = −F(v; u) − log Z(u)`` per row (float64).

        Raises
        ------
        TooLargeError
            When the enumerated layer (default the smaller) has more than 25 units.
        """
        v, u, one = self._v_u(v, context)
        layer = self._layer(layer)
        bv, bh = self._biases(u)
        f = -(v * bv).sum(1) - softplus(v @ self.W + bh).sum(1)
        return _out(-f - self._scan(u, layer)[0], one)

    def log_prob_and_grad(self, v, context, weights=None, layer=None):
        """``(log p(v_k | u_k) per row, Σ_k w_k ∂ log p(v_k | u_k)/∂θ)`` (default ``w_k = 1/n``)
        in one enumeration: the data term ``−∂F`` plus ``E_{p(v,h|u_k)}[∂E/∂θ]``."""
        v, u, _ = self._v_u(v, context)
        w = row_weights(weights, v.shape[0])
        bv, bh = self._biases(u)
        a = v @ self.W + bh
        p = sigmoid(a)
        f = -(v * bv).sum(1) - softplus(a).sum(1)
        log_z, vh, ev, eh = self._scan(u, self._layer(layer), w)
        wv, wp = v * w[:, None], p * w[:, None]
        wev, weh = ev * w[:, None], eh * w[:, None]
        grads = {"W": wv.T @ p - vh, "A": (wv - wev).T @ u, "B": (wp - weh).T @ u,
                 "b": (wv - wev).sum(0), "c": (wp - weh).sum(0)}
        return -f - log_z, grads

    def grad_log_prob(self, v, context, weights=None, layer=None):
        """``Σ_k w_k ∂ log p(v_k | u_k)/∂θ`` (default ``w_k = 1/n``), exact: the data term
        ``−∂F`` plus ``E_{p(v,h|u_k)}[∂E/∂θ]`` by enumeration of one layer.

        Examples
        --------
        >>> import numpy as np, pgm
        >>> m = pgm.ConditionalRBM(2, 2, 1, seed=1)
        >>> g = m.grad_log_prob([[1, 0], [0, 1]], [[0.5], [-1.0]])
        >>> sorted(g), g["A"].shape
        (['A', 'B', 'W', 'b', 'c'], (2, 1))
        """
        return self.log_prob_and_grad(v, context, weights, layer)[1]

    def predictive_distribution(self, context):
        """``p(v | u)`` over all ``2^D`` visible states for each context row: ``(states, probs)``
        with ``states (2^D, D)`` (state ``k`` sets unit ``i`` to bit ``i`` of ``k``) and
        ``probs (n, 2^D)``.  Needs ``D ≤ 25`` (:class:`~pgm.errors.TooLargeError`)."""
        u, one = self._u(context)
        check_enumerable(self.n_visible, "predictive distribution of a ConditionalRBM")
        d = self.n_visible
        states = bits(0, 1 << d, d)
        bv, bh = self._biases(u)
        probs = np.empty((u.shape[0], 1 << d))
        rows_per = max(1, _CHUNK_ELEMENTS // ((1 << d) * (d + self.n_hidden)))
        for r0 in range(0, u.shape[0], rows_per):
            r = slice(r0, r0 + rows_per)
            lw = self._log_weights(states, bv[r], bh[r], "visible")[0]
            probs[r] = np.exp(lw - lse(lw, axis=1)[:, None])
        return states, _out(probs, one)
