"""Autoregressive models of binary vectors with exact likelihoods (SPEC.md §5): the fully
visible sigmoid belief net (FVSBN) and NADE.

Both factorise ``p(v) = Π_i p(v_i | v_<i)`` in the fixed order ``i = 0, …, D−1`` with
Bernoulli conditionals ``p(v_i = 1 | v_<i) = σ(z_i)``, so ``log p(v)`` is exact and cheap:
``log p(v) = Σ_i [log σ(z_i) − (1 − v_i) z_i]``.

* :class:`FVSBN` (fully visible sigmoid belief net, the logistic autoregressive model; Frey
  1998): ``z_i = b_i + Σ_{j<i} W_ij v_j`` — one logistic regression per variable on the
  preceding ones.  The log-likelihood is concave in ``(W, b)``; its gradient is
  ``∂/∂b_i = v_i − σ(z_i)`` and ``∂/∂W_ij = (v_i − σ(z_i)) v_j`` for ``j < i``.
* :class:`NADE` (neural autoregressive distribution estimator; Larochelle & Murray 2011):
  ``h_i = σ(c + W_{:,<i} v_<i)``, ``z_i = b_i + V_i · h_i``.  The pre-activations share a
  running sum ``a_{i+1} = a_i + W_{:,i} v_i`` (``a_0 = c``), so ``log p(v)`` costs ``O(DH)`` per
  example.  The gradient is one backward pass over the positions (their Algorithm 1):
  ``δz_i = v_i − σ(z_i)``, ``∂/∂b_i = δz_i``, ``∂/∂V_i = δz_i h_i``,
  ``δa_i = δz_i V_i ⊙ h_i ⊙ (1 − h_i)``, ``∂/∂W_{:,i} = v_i Σ_{j>i} δa_j`` (the running sum read
  backwards) and ``∂/∂c = Σ_i δa_i``; the backward pass rebuilds ``a_i`` from ``a_D`` by
  subtracting ``W_{:,i} v_i``, so it needs no ``(n, D, H)`` storage and no separate forward pass.

Ancestral sampling follows the directed-model noise protocol of :func:`samplers.ancestral`:
``noise_shapes(n) = {"uniform": (n, D)}`` and ``ancestral_pass(noise)`` sets
``v_i = [u_i < p(v_i = 1 | v_<i)]`` position by position (vectorised over rows).

Protocol (what the learners use): ``n_visible``, ``domain = (0, 1)``, ``params`` (name → the
model's own arrays, updated in place), ``param_names``, ``set_params(**values)``,
``log_prob(x)``, ``grad_log_prob(x, weights=None)`` (``Σ_k w_k ∂ log p(x_k)/∂θ``, default
``w_k = 1/n``), ``log_prob_and_grad(x, weights=None)``, ``conditionals(x)``, ``settings()`` /
``from_settings``, ``save(path)``.  :class:`estimators.MaximumLikelihood` trains either model.
"""


import numpy as np

from ._validation import as_batch, as_float_array, check_params, positive_int, row_weights
from .errors import CardinalityError, ModelError
from .network import bernoulli_log_prob, sigmoid

__all__ = ["FVSBN", "NADE"]


class _Autoregressive:
    """Shared plumbing: validation, parameters, persistence, the noise protocol."""

    n_visible = 0

    @property
    def domain(self):
        """``(0, 1)``: the visible units are binary."""
        return (0, 1)

    @property
    def n_variables(self):
        return self.n_visible

    @property
    def param_names(self):
        return list(self.params)

    def _batch(self, x, name="x"):
        return as_batch(x, self.n_visible, name, binary=True)

    def _check_values(self, values):
        return check_params(self.params, values)

    def set_params(self, **values):
        """Replace some parameters (shapes checked, finite values required; all or nothing).

        Unknown name → ``KeyError``; wrong shape → :class:`~pgm.errors.CardinalityError`;
        non-finite value → :class:`~pgm.errors.ModelError`.
        """
        checked = self._check_values(values)
        own = self.params
        for name, arr in checked.items():
            own[name][...] = arr

    def save(self, path):
        """Write settings and parameters to ``path`` (``.npz`` + JSON, no pickle); read with
        :func:`pgm.load`."""
        from .io.persist import save_model

        save_model(self, path)

    def noise_shapes(self, n):
        """The noise one ancestral pass of ``n`` samples needs: ``{"uniform": (n, D)}``."""
        n = positive_int(n, "number of samples")
        return {"uniform": (n, self.n_visible)}

    def _uniform(self, noise, layers):
        if layers:
            raise TypeError(f"{type(self).__name__} has no hidden layers to return (layers=True is "
                            "for layered models such as pgm.SigmoidBeliefNet)")
        if not isinstance(noise, dict) or "uniform" not in noise:
            raise TypeError(f"noise must be a dict with a 'uniform' array, got {type(noise).__name__}")
        u = as_float_array(noise["uniform"], "noise['uniform']")
        if u.ndim != 2 or u.shape[1] != self.n_visible:
            raise CardinalityError(f"noise['uniform'] must have shape (n, {self.n_visible}), got {u.shape}")
        return u

    def log_prob(self, x):
        """Exact ``log p(x)`` for each row: shape ``(n,)`` (a float for one row ``(D,)``).

        Raises :class:`~pgm.errors.EvidenceError` for non-binary or non-finite values and
        :class:`~pgm.errors.CardinalityError` for a wrong width.
        """
        x, one = self._batch(x)
        lp = bernoulli_log_prob(x, self._logits(x)).sum(axis=1)
        return float(lp[0]) if one else lp

    def conditionals(self, x):
        """``p(v_i = 1 | v_<i = x_<i)`` for each row and position: shape ``(n, D)``."""
        x, one = self._batch(x)
        p = sigmoid(self._logits(x))
        return p[0] if one else p

    def grad_log_prob(self, x, weights=None):
        """``Σ_k w_k ∂ log p(x_k)/∂θ`` (default ``w_k = 1/n``: the gradient of the mean), name →
        float64 array shaped like :attr:`params`."""
        return self.log_prob_and_grad(x, weights)[1]

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.settings().items())
        return f"{type(self).__name__}({args})"


class FVSBN(_Autoregressive):
    """Fully visible sigmoid belief net: ``p(v_i = 1 | v_<i) = σ(b_i + Σ_{j<i} W_ij v_j)``.

    Parameters
    ----------
    n_visible : int
        Number of binary variables ``D`` (ordered: ``v_i`` depends on ``v_0, …, v_{i−1}``).
    seed : int, Generator or None
        Initial weights ``W_ij ~ N(0, 0.01²)`` below the diagonal; biases 0.

    Attributes
    ----------
    W : array (D, D)
        Strictly lower-triangular weights; ``W[i, j]`` (``j < i``) connects ``v_j`` to ``v_i``.
        Stored as a full matrix whose entries on and above the diagonal are always zero:
        :meth:`grad_log_prob` returns exact zeros there and :meth:`set_params` refuses a
        non-zero value there (:class:`~pgm.errors.ModelError`) rather than silently dropping
        it, so the model never holds a weight it ignores.  Gradient-based optimisers keep the
        zeros (their gradient is zero); the computations apply the mask as well, so a value
        written into ``W`` in place above the diagonal has no effect.
    b : array (D,)
        Biases.

    Examples
    --------
    >>> import numpy as np, pgm
    >>> m = pgm.FVSBN(3, seed=0)
    >>> m.set_params(W=[[0, 0, 0], [2.0, 0, 0], [0, -1.0, 0]], b=[0.0, -1.0, 0.5])
    >>> states = np.array([[a, b, c] for a in (0, 1) for b in (0, 1) for c in (0, 1)])
    >>> round(float(np.exp(m.log_prob(states)).sum()), 12)
    1.0
    >>> m.conditionals([1, 1, 0]).round(4)          # σ(0), σ(−1 + 2), σ(0.5 − 1)
    array([0.5   , 0.7311, 0.3775])
    """

    def __init__(self, n_visible, seed=None):
        self.n_visible = positive_int(n_visible, "n_visible")
        d = self.n_visible
        rng = np.random.default_rng(seed)
        self._mask = np.tril(np.ones((d, d), dtype=bool), -1)
        self.W = np.where(self._mask, 0.01 * rng.standard_normal((d, d)), 0.0)
        self.b = np.zeros(d)

    @property
    def params(self):
        """``{"W": (D, D) strictly lower triangular, "b": (D,)}`` (the model's own arrays)."""
        return {"W": self.W, "b": self.b}

    def set_params(self, **values):
        """Replace some of ``W``, ``b`` (all or nothing).

        ``W`` must be zero on and above the diagonal (:class:`~pgm.errors.ModelError` naming
        the first offending entry otherwise).

        Examples
        --------
        >>> import pgm
        >>> pgm.FVSBN(2).set_params(W=[[0.0, 1.0], [0.0, 0.0]])
        Traceback (most recent call last):
        ...
        pgm.errors.ModelError: W must be strictly lower triangular (W[i, j] = 0 for j >= i), found W[0, 1] = 1.0
        """
        checked = self._check_values(values)
        if "W" in checked:
            bad = (checked["W"] != 0) & ~self._mask
            if bad.any():
                i, j = np.argwhere(bad)[0]
                raise ModelError("W must be strictly lower triangular (W[i, j] = 0 for j >= i), "
                                 f"found W[{i}, {j}] = {float(checked['W'][i, j])!r}")
        for name, arr in checked.items():
            self.params[name][...] = arr

    def settings(self):
        """Constructor settings (JSON-able)."""
        return {"n_visible": self.n_visible}

    @classmethod
    def from_settings(cls, settings):
        return cls(settings["n_visible"])

    def _weights(self):
        # the mask again, so that a value written into W in place above the diagonal (bypassing
        # set_params) is still ignored rather than breaking the normalisation
        return np.where(self._mask, self.W, 0.0)

    def _logits(self, x):
        return x @ self._weights().T + self.b

    def log_prob_and_grad(self, x, weights=None):
        """``(log p(x) (n,), Σ_k w_k ∂ log p(x_k)/∂θ)`` in one pass (default ``w_k = 1/n``).

        ``∂/∂b_i = Σ_k w_k (x_ki − σ(z_ki))``, ``∂/∂W_ij = Σ_k w_k (x_ki − σ(z_ki)) x_kj`` for
        ``j < i`` and 0 elsewhere.
        """
        x, _ = self._batch(x)
        w = row_weights(weights, x.shape[0])
        z = self._logits(x)
        lp = bernoulli_log_prob(x, z).sum(axis=1)
        delta = (x - sigmoid(z)) * w[:, None]
        gW = delta.T @ x
        gW[~self._mask] = 0.0
        return lp, {"W": gW, "b": delta.sum(axis=0)}

    def ancestral_pass(self, noise, layers=False):
        """Samples ``(n, D)`` (float64 0/1) from uniform noise: ``v_i = [u_i < σ(z_i(v_<i))]``."""
        u = self._uniform(noise, layers)
        v = np.zeros(u.shape)
        W = self._weights()
        for i in range(self.n_visible):
            z = self.b[i] + v[:, :i] @ W[i, :i]
            v[:, i] = u[:, i] < sigmoid(z)
        return v


class NADE(_Autoregressive):
    """Neural autoregressive distribution estimator (Larochelle & Murray 2011).

    ``h_i = σ(c + W_{:,<i} v_<i)`` and ``p(v_i = 1 | v_<i) = σ(b_i + V_i · h_i)``.

    Parameters
    ----------
    n_visible : int
        Number of binary variables ``D`` (in this fixed order).
    n_hidden : int
        Number of hidden units ``H``.
    seed : int, Generator or None
        Initial weights ``W ~ N(0, 1/D)``, ``V ~ N(0, 1/H)``; biases ``c``, ``b`` zero.

    Attributes
    ----------
    W : array (H, D)
        Input-to-hidden weights (column ``i`` enters every ``h_j`` with ``j > i``).
    c : array (H,)
        Hidden biases (shared by all positions).
    V : array (D, H)
        Hidden-to-output weights (row ``i`` reads ``h_i``).
    b : array (D,)
        Output biases.

    Examples
    --------
    >>> import numpy as np, pgm, samplers
    >>> m = pgm.NADE(4, 3, seed=0)
    >>> states = ((np.arange(16)[:, None] >> np.arange(4)) & 1).astype(float)
    >>> round(float(np.exp(m.log_prob(states)).sum()), 12)
    1.0
    >>> samplers.ancestral(m, 5, seed=1).shape
    (5, 4)
    >>> sorted(m.params)
    ['V', 'W', 'b', 'c']
    """

    def __init__(self, n_visible, n_hidden, seed=None):
        self.n_visible = positive_int(n_visible, "n_visible")
        self.n_hidden = positive_int(n_hidden, "n_hidden")
        d, h = self.n_visible, self.n_hidden
        rng = np.random.default_rng(seed)
        self.W = rng.standard_normal((h, d)) / np.sqrt(d)
        self.c = np.zeros(h)
        self.V = rng.standard_normal((d, h)) / np.sqrt(h)
        self.b = np.zeros(d)

    @property
    def params(self):
        """``{"W": (H, D), "c": (H,), "V": (D, H), "b": (D,)}`` (the model's own arrays)."""
        return {"W": self.W, "c": self.c, "V": self.V, "b": self.b}

    def settings(self):
        """Constructor settings (JSON-able)."""
        return {"n_visible": self.n_visible, "n_hidden": self.n_hidden}

    @classmethod
    def from_settings(cls, settings):
        return cls(settings["n_visible"], settings["n_hidden"])

    def _logits(self, x):
        """``z_i = b_i + V_i · σ(a_i)`` with the running sum ``a_{i+1} = a_i + W_{:,i} x_i``."""
        n = x.shape[0]
        z = np.empty((n, self.n_visible))
        a = np.broadcast_to(self.c, (n, self.n_hidden)).copy()
        for i in range(self.n_visible):
            z[:, i] = sigmoid(a) @ self.V[i] + self.b[i]
            a += np.outer(x[:, i], self.W[:, i])
        return z

    def log_prob_and_grad(self, x, weights=None):
        """``(log p(x) (n,), Σ_k w_k ∂ log p(x_k)/∂θ)`` by one backward pass over the positions
        (default ``w_k = 1/n``); see the module docstring for the recursion."""
        x, _ = self._batch(x)
        n, d = x.shape
        w = row_weights(weights, n)
        gW = np.empty_like(self.W)
        gV = np.empty_like(self.V)
        gb = np.empty_like(self.b)
        lp = np.zeros(n)
        a = x @ self.W.T + self.c                       # a_D; a_i = a_{i+1} − W_{:,i} x_i below
        acc = np.zeros((n, self.n_hidden))              # Σ_{j>i} δa_j
        for i in range(d - 1, -1, -1):
            xi = x[:, i]
            a -= np.outer(xi, self.W[:, i])
            h = sigmoid(a)
            z = h @ self.V[i] + self.b[i]
            lp += bernoulli_log_prob(xi, z)
            dz = w * (xi - sigmoid(z))
            gb[i] = dz.sum()
            gV[i] = dz @ h
            gW[:, i] = xi @ acc
            acc += np.outer(dz, self.V[i]) * (h * (1.0 - h))
        return lp, {"W": gW, "c": acc.sum(axis=0), "V": gV, "b": gb}

    def ancestral_pass(self, noise, layers=False):
        """Samples ``(n, D)`` (float64 0/1) from uniform noise, position by position:
        ``v_i = [u_i < σ(b_i + V_i · σ(a_i))]``, ``a_{i+1} = a_i + W_{:,i} v_i``."""
        u = self._uniform(noise, layers)
        n = u.shape[0]
        v = np.zeros(u.shape)
        a = np.broadcast_to(self.c, (n, self.n_hidden)).copy()
        for i in range(self.n_visible):
            p = sigmoid(sigmoid(a) @ self.V[i] + self.b[i])
            v[:, i] = u[:, i] < p
            a += np.outer(v[:, i], self.W[:, i])
        return v
