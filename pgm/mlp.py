"""Neural energy ``E(x) = wᵀ h_L(x) + b + ½ q‖x‖²`` with analytic derivatives (SPEC.md §3, §5).

A multilayer perceptron ``h_l = σ(h_{l−1} W_l + b_l)``, ``h_0 = x``, read out linearly, is an
energy-based model ``p(x) ∝ exp(−E(x))`` over ``ℝ^d`` (or over ``{0, 1}^d``).  Without an
automatic-differentiation framework the model carries its own derivatives, all vectorised over a
batch of rows:

* ``energy``, ``grad_x`` (reverse mode, ``O(n Σ H_l H_{l+1})``) and ``energy_and_grad``;
* the Hessian diagonal and the Laplacian ``ΔE = Σ_i ∂²E/∂x_i²`` by forward propagation of the
  first and second derivatives of every unit along each input direction:
  ``T_l = J_{l−1} W_l``, ``J_l = σ'(z_l) T_l``, ``U_l = S_{l−1} W_l``,
  ``S_l = σ''(z_l) T_l² + σ'(z_l) U_l`` (``J_0 = I``, ``S_0 = 0``), ``O(n d Σ H_l H_{l+1})``;
* parameter gradients of ``Σ_k [α_k E(x_k) + β_k · ∇ₓE(x_k) + γ_k ΔE(x_k)]`` for any weights
  ``α, β, γ`` by one reverse pass through that forward computation (it needs ``σ'''``).  These are
  what the learners need: ``∂E/∂θ`` (PCD, NCE), ``∂(v·∇ₓE)/∂θ`` (score matching, denoising score
  matching) and ``∂ΔE/∂θ`` (score matching).

``q ≥ 0`` (``quadratic``, fixed) confines the density: a softplus network grows at most linearly,
so ``q > 0`` guarantees ``exp(−E)`` is normalisable whatever the weights.

Protocol (what samplers and objectives use; a user class offering the same works with them):
``dim``, ``energy``, ``grad_x``, ``energy_and_grad`` (optional), ``laplacian``, ``params``,
``set_params``, ``grad_energy(x, weights)``, ``grad_grad_x(x, v, weights)``,
``grad_laplacian(x, weights)``; binary models also ``domain = (0, 1)`` and ``energy_delta``.
"""

import numbers

import numpy as np

from ._validation import as_batch, check_params, row_weights
from .network import ACTIVATIONS, Network

__all__ = ["MLPEnergy", "ACTIVATIONS"]

#: rows × inputs × widest layer handled at once by the tangent propagation (bounds memory)
_CHUNK_ELEMENTS = 2**22



def _rows_dot(a, w):
    """``a @ w`` for a vector ``w``, each row's sum in a fixed order: BLAS's matrix-vector
    product blocks rows, so a row's last bits would depend on how many rows share the call (and
    chains run in executor groups would drift from a local run)."""
    return np.einsum("ij,j->i", a, w)

class MLPEnergy:
    """MLP energy ``E(x) = wᵀ h_L(x) + b + ½ q‖x‖²`` over ``ℝ^d`` or ``{0, 1}^d``.

    Parameters
    ----------
    dim : int
        Number of inputs ``d``.
    hidden : sequence of int
        Widths of the hidden layers.
    activation : {"softplus", "tanh", "sigmoid", "swish"}
        Smooth (C³) activations only: score matching differentiates the Laplacian.
    seed : int or None
        Initial weights ``W_l ~ N(0, 1/fan_in)``, biases 0, read-out ``w ~ N(0, 1/H_L)``.
    quadratic : float ≥ 0
        Fixed confining term ``½ q‖x‖²`` (not learned).
    domain : {"real", "binary"}
        ``"binary"``: a model over ``{0, 1}^d`` (sampled by Gibbs with energy differences,
        trained by the binary objectives; ``exact_log_partition`` by enumeration).
    dtype : float64 or float32
        Storage and arithmetic precision (float32 for fast sampling; learners use float64).

    Attributes
    ----------
    weights, biases : lists of arrays ``W_l (H_{l−1}, H_l)``, ``b_l (H_l,)``
    readout : array ``(H_L,)``; ``offset`` : 0-d array ``b``

    Examples
    --------
    >>> import numpy as np, pgm
    >>> f = pgm.MLPEnergy(2, hidden=(8, 8), activation="tanh", seed=0)
    >>> x = np.array([[0.5, -1.0], [1.0, 2.0]])
    >>> f.energy(x).shape, f.grad_x(x).shape, f.laplacian(x).shape
    ((2,), (2, 2), (2,))
    >>> sorted(f.params)
    ['W1', 'W2', 'b1', 'b2', 'b_out', 'w_out']
    """

    def __init__(self, dim, hidden=(64, 64), activation="softplus", seed=None, quadratic=0.0,
                 domain="real", dtype=np.float64):
        if isinstance(dim, bool) or not isinstance(dim, numbers.Integral) or dim < 1:
            raise ValueError(f"dim must be a positive integer, got {dim!r}")
        hidden = (hidden,) if isinstance(hidden, numbers.Integral) else tuple(hidden)
        if not hidden or any(isinstance(h, bool) or not isinstance(h, numbers.Integral) or h < 1
                             for h in hidden):
            raise ValueError(f"hidden must be a non-empty sequence of positive integers, got {hidden!r}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        if isinstance(quadratic, bool) or not isinstance(quadratic, numbers.Real) \
                or not np.isfinite(quadratic) or quadratic < 0:
            raise ValueError(f"quadratic must be a finite real >= 0, got {quadratic!r}")
        if domain not in ("real", "binary"):
            raise ValueError(f"domain must be 'real' or 'binary', got {domain!r}")
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise TypeError(f"dtype must be float32 or float64, got {self.dtype}")
        self.dim, self.hidden, self.activation = int(dim), tuple(int(h) for h in hidden), activation
        self.quadratic, self._domain = float(quadratic), domain
        self._act = ACTIVATIONS[activation]
        rng = np.random.default_rng(seed)
        #: the hidden stack ``h_L(x)`` (a :class:`pgm.Network` whose layers all use ``activation``)
        self.net = Network((self.dim,) + self.hidden, activation=activation, output=activation, seed=rng,
                           dtype=self.dtype)
        self.weights, self.biases = self.net.weights, self.net.biases
        self.readout = (rng.standard_normal(self.hidden[-1]) / np.sqrt(self.hidden[-1])).astype(self.dtype)
        self.offset = np.zeros((), dtype=self.dtype)

    # ------------------------------------------------------------------ description
    @property
    def sampler_family(self):
        """``"continuous"`` (HMC, MALA, …) or ``"binary_energy"`` (Gibbs by energy differences)."""
        return "continuous" if self._domain == "real" else "binary_energy"

    @property
    def domain(self):
        """``(0, 1)`` for a binary model, ``None`` over ``ℝ^d``."""
        return (0, 1) if self._domain == "binary" else None

    @property
    def n_variables(self):
        return self.dim

    @property
    def param_names(self):
        names = []
        for l in range(1, len(self.hidden) + 1):
            names += [f"W{l}", f"b{l}"]
        return names + ["w_out", "b_out"]

    @property
    def params(self):
        """Name → the model's own arrays (``W1, b1, …, w_out, b_out``; updated in place)."""
        out = {}
        for l, (W, b) in enumerate(zip(self.weights, self.biases), start=1):
            out[f"W{l}"], out[f"b{l}"] = W, b
        out["w_out"], out["b_out"] = self.readout, self.offset
        return out

    def set_params(self, **values):
        """Replace some parameters (shapes checked, finite values required; all or nothing).

        Examples
        --------
        >>> import pgm
        >>> f = pgm.MLPEnergy(2, hidden=(3,), seed=0)
        >>> f.set_params(b_out=1.5); float(f.offset)
        1.5
        >>> f.set_params(W1=[[1.0]])
        Traceback (most recent call last):
        ...
        pgm.errors.CardinalityError: W1 must have shape (2, 3), got (1, 1)
        """
        own = self.params
        checked = check_params(own, values)
        for name, arr in checked.items():
            own[name][...] = arr

    def settings(self):
        """Constructor settings (JSON-able): what :meth:`save` stores next to the parameters."""
        return {"dim": self.dim, "hidden": list(self.hidden), "activation": self.activation,
                "quadratic": self.quadratic, "domain": self._domain, "dtype": self.dtype.name}

    @classmethod
    def from_settings(cls, settings):
        return cls(settings["dim"], hidden=tuple(settings["hidden"]), activation=settings["activation"],
                   quadratic=settings["quadratic"], domain=settings["domain"], dtype=settings["dtype"])

    def save(self, path):
        """Write settings and parameters to ``path`` (``.npz`` + JSON, no pickle); read with
        :func:`pgm.load`.

        Examples
        --------
        >>> import os, tempfile, numpy as np, pgm
        >>> f = pgm.MLPEnergy(2, hidden=(4,), activation="tanh", seed=0)
        >>> path = os.path.join(tempfile.mkdtemp(), "f.npz")
        >>> f.save(path)
        >>> g = pgm.load(path)
        >>> bool(np.array_equal(g.energy([[0.5, 1.0]]), f.energy([[0.5, 1.0]])))
        True
        """
        from .io.persist import save_model

        save_model(self, path)

    def __repr__(self):
        return (f"MLPEnergy(dim={self.dim}, hidden={self.hidden}, activation={self.activation!r}, "
                f"quadratic={self.quadratic}, domain={self._domain!r})")

    # ------------------------------------------------------------------ helpers
    def _batch(self, x, name="x"):
        return as_batch(x, self.dim, name, dtype=self.dtype, binary=self._domain == "binary")

    def _chunks(self, n, per_row):
        step = max(1, _CHUNK_ELEMENTS // max(1, per_row))
        return [slice(i, min(n, i + step)) for i in range(0, n, step)]

    def _forward(self, x, order):
        """Per-layer caches ``(input, [σ…σ^(k)], T, U)`` and the top activations/tangents.

        ``order`` 0: values; 1: also first derivatives along each input (J); 2: also second (S).
        """
        need = {0: 1, 1: 2, 2: 3}[order]       # highest σ derivative the backward pass needs
        a, J, S, layers = x, None, None, []
        for l, (W, b) in enumerate(zip(self.weights, self.biases)):
            z = a @ W + b
            acts = self._act(z, need)
            T = U = None
            if order >= 1:
                T = np.broadcast_to(W, (x.shape[0],) + W.shape) if l == 0 else J @ W
            if order >= 2 and l > 0:
                U = S @ W
            layers.append((a, J, S, acts, T, U))
            if order >= 1:
                J = acts[1][:, None, :] * T
            if order >= 2:
                S = acts[2][:, None, :] * (T * T)
                if U is not None:
                    S += acts[1][:, None, :] * U
            a = acts[0]
        return layers, a, J, S

    # ------------------------------------------------------------------ values
    def energy(self, x):
        """``E(x)`` for each row: shape ``(n,)`` (a scalar for one row ``(d,)``)."""
        x, one = self._batch(x)
        e = _rows_dot(self.net.forward(x), self.readout) + self.offset
        if self.quadratic:
            e = e + 0.5 * self.quadratic * np.einsum("ij,ij->i", x, x)
        return e[0] if one else e

    free_energy = energy

    def log_unnormalized(self, x):
        """``−E(x)``."""
        return -self.energy(x)

    def energy_and_grad(self, x):
        """``(E(x), ∇ₓE(x))`` in one forward and one backward pass (what HMC and MALA call)."""
        x, one = self._batch(x)
        acts, a = [], x
        for W, b in zip(self.weights, self.biases):
            f, f1 = self._act(a @ W + b, 1)
            acts.append(f1)
            a = f
        e = _rows_dot(a, self.readout) + self.offset
        delta = acts[-1] * self.readout
        for l in range(len(self.weights) - 1, 0, -1):
            delta = (delta @ self.weights[l].T) * acts[l - 1]
        g = delta @ self.weights[0].T
        if self.quadratic:
            e = e + 0.5 * self.quadratic * np.einsum("ij,ij->i", x, x)
            g = g + self.quadratic * x
        return (e[0], g[0]) if one else (e, g)

    def grad_x(self, x):
        """``∇ₓE(x)``: shape ``(n, d)``."""
        return self.energy_and_grad(x)[1]

    def hessian_diag(self, x):
        """``∂²E/∂x_i²`` for each row: shape ``(n, d)``."""
        x, one = self._batch(x)
        out = np.empty(x.shape, dtype=self.dtype)
        for sl in self._chunks(x.shape[0], self.dim * max(self.hidden)):
            S = self._forward(x[sl], 2)[3]
            out[sl] = S @ self.readout + self.quadratic
        return out[0] if one else out

    def laplacian(self, x):
        """``ΔE(x) = Σ_i ∂²E/∂x_i²`` for each row: shape ``(n,)``."""
        h = self.hessian_diag(x)
        return h.sum(axis=-1)

    # ------------------------------------------------------------------ parameter gradients
    def _param_vjp(self, x, alpha, beta, gamma):
        """``∂/∂θ Σ_k [α_k E(x_k) + β_k·∇ₓE(x_k) + γ_k ΔE(x_k)]`` (``β``/``γ`` may be None)."""
        order = 2 if gamma is not None else (1 if beta is not None else 0)
        grads = {k: np.zeros(v.shape, dtype=np.float64) for k, v in self.params.items()}
        per_row = self.dim * max(self.hidden) if order else max(self.hidden)
        for sl in self._chunks(x.shape[0], per_row):
            self._accumulate(grads, x[sl], alpha[sl], None if beta is None else beta[sl],
                             None if gamma is None else gamma[sl], order)
        return grads

    def _accumulate(self, grads, x, alpha, beta, gamma, order):
        layers, a, J, S = self._forward(x, order)
        w = self.readout
        grads["w_out"] += alpha @ a
        grads["b_out"] += alpha.sum()
        abar = alpha[:, None] * w
        Jbar = Sbar = None
        if beta is not None:
            grads["w_out"] += np.einsum("nd,ndh->h", beta, J)
            Jbar = beta[:, :, None] * w
        if gamma is not None:
            grads["w_out"] += gamma @ S.sum(axis=1)
            Sbar = (gamma[:, None] * w)[:, None, :]          # the same for every input direction
        for l in range(len(layers) - 1, -1, -1):
            a_in, J_in, S_in, acts, T, U = layers[l]
            f1 = acts[1]
            zbar = abar * f1
            Tbar = Ubar = None
            if Jbar is not None:
                zbar += acts[2] * np.einsum("ndh,ndh->nh", Jbar, T)
                Tbar = Jbar * f1[:, None, :]
            if Sbar is not None:
                TT = np.einsum("ndh,ndh->nh", T, T)
                zbar += Sbar[:, 0] * (acts[3] * TT + (acts[2] * U.sum(axis=1) if U is not None else 0.0))
                extra = 2.0 * Sbar * (acts[2][:, None, :] * T)
                Tbar = extra if Tbar is None else Tbar + extra
                Ubar = Sbar * f1[:, None, :]
            gW = a_in.T @ zbar
            if Tbar is not None:
                gW += Tbar.sum(axis=0) if l == 0 else \
                    J_in.reshape(-1, J_in.shape[2]).T @ Tbar.reshape(-1, Tbar.shape[2])
            if Ubar is not None and l > 0:
                gW += S_in.sum(axis=1).T @ Ubar[:, 0]
            grads[f"W{l + 1}"] += gW
            grads[f"b{l + 1}"] += zbar.sum(axis=0)
            if l > 0:
                Wt = self.weights[l].T
                abar = zbar @ Wt
                Jbar = None if Tbar is None else Tbar @ Wt
                Sbar = None if Ubar is None else Ubar @ Wt

    def grad_energy(self, x, weights=None):
        """``Σ_k w_k ∂E(x_k)/∂θ`` (default ``w_k = 1/n``: the batch mean), name → array.

        The quadratic term has no parameters.
        """
        x, _ = self._batch(x)
        return self._param_vjp(x, row_weights(weights, x.shape[0]), None, None)

    grad_free_energy = grad_energy

    def grad_grad_x(self, x, v, weights=None):
        """``∂/∂θ Σ_k w_k v_k · ∇ₓE(x_k)`` (default ``w_k = 1/n``), name → array."""
        x, _ = self._batch(x)
        v = np.asarray(v, dtype=np.float64).reshape(x.shape)
        w = row_weights(weights, x.shape[0])
        return self._param_vjp(x, np.zeros(x.shape[0]), v * w[:, None], None)

    def grad_laplacian(self, x, weights=None):
        """``∂/∂θ Σ_k w_k ΔE(x_k)`` (default ``w_k = 1/n``), name → array."""
        x, _ = self._batch(x)
        return self._param_vjp(x, np.zeros(x.shape[0]), None, row_weights(weights, x.shape[0]))

    # ------------------------------------------------------------------ binary domain
    def energy_delta(self, x, j):
        """``E(x with x_j = 1) − E(x with x_j = 0)`` for every row (binary models; Gibbs).

        Only the first layer's pre-activations change with ``x_j``, so both halves share one
        product with ``W_1``.
        """
        x = np.asarray(x, dtype=self.dtype)
        z = x @ self.weights[0] + self.biases[0]
        z0 = z - x[:, j:j + 1] * self.weights[0][j]
        both = np.concatenate([z0, z0 + self.weights[0][j]])
        a = self._act(both, 0)[0]
        for W, b in zip(self.weights[1:], self.biases[1:]):
            a = self._act(a @ W + b, 0)[0]
        e = _rows_dot(a, self.readout)
        n = x.shape[0]
        return e[n:] - e[:n] + 0.5 * self.quadratic

    def exact_log_partition(self, max_dim=20):
        """``log Σ_x exp(−E(x))`` by enumeration of ``{0, 1}^d`` (binary models, ``d ≤ max_dim``)."""
        from .errors import TooLargeError

        if self._domain != "binary":
            raise TypeError("exact_log_partition enumerates binary models only; "
                            "a real-valued MLP energy has no closed-form partition function")
        if self.dim > max_dim:
            raise TooLargeError(f"enumerating 2^{self.dim} states exceeds max_dim={max_dim}")
        states = ((np.arange(2**self.dim)[:, None] >> np.arange(self.dim)[::-1]) & 1).astype(self.dtype)
        le = -self.energy(states).astype(np.float64)
        m = le.max()
        return float(m + np.log(np.exp(le - m).sum()))
