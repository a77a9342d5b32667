"""Small dense networks with analytic reverse-mode derivatives (SPEC.md §5, "Networks").

One module serves every model that contains a network — :class:`pgm.MLPEnergy` (its hidden
stack), the encoders and decoders of :class:`pgm.VAE`, recognition networks, generators and
discriminators.  A network is a stack of dense layers

    ``a_0 = x``,  ``z_l = a_{l−1} W_l + b_l``,  ``a_l = σ_l(z_l)``,  ``y = a_L``

(``σ_l`` the hidden activation for ``l < L`` and the output activation for ``l = L``), evaluated
on a batch of rows.  Reverse mode (vector–Jacobian product): given ``ḡ = ∂ℓ/∂y``,
``δ_L = ḡ ⊙ σ_L'(z_L)``, ``∂ℓ/∂W_l = a_{l−1}ᵀ δ_l``, ``∂ℓ/∂b_l = Σ_rows δ_l``,
``δ_{l−1} = (δ_l W_lᵀ) ⊙ σ_{l−1}'(z_{l−1})`` and ``∂ℓ/∂x = δ_1 W_1ᵀ``.

Protocol (a user's own network with these members plugs into every model here):
``n_in``, ``n_out``, ``params`` (name → the network's own arrays), ``set_params(**arrays)``,
``forward(x) -> y``, ``forward_cache(x) -> (y, cache)`` and ``backward(cache, grad_y) ->
(grad_x, {name: grad})``.  Saved with the model that holds it (``settings()`` JSON + arrays).
"""

import numbers

import numpy as np

from ._validation import check_params, positive_int
from .errors import CardinalityError

__all__ = ["Network", "ACTIVATIONS", "OUTPUTS", "sigmoid", "log_sigmoid", "bernoulli_log_prob", "prefixed",
           "check_network"]


def sigmoid(z):
    """Logistic ``1 / (1 + e^{−z})``, overflow-free."""
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def log_sigmoid(z):
    """``log σ(z) = min(z, 0) − log(1 + e^{−|z|})``: accurate for large ``|z|`` (and about 4× faster
    than ``−logaddexp(0, −z)``)."""
    return np.minimum(z, 0.0) - np.log1p(np.exp(-np.abs(z)))


def bernoulli_log_prob(x, logits):
    """``log p(x | logits)`` elementwise for ``x ∈ {0, 1}``: ``log σ(z) − (1 − x) z``."""
    return log_sigmoid(logits) - (1.0 - x) * logits


def _softplus(z, order):
    s = sigmoid(z)
    out = [np.logaddexp(0.0, z), s]
    if order >= 2:
        ds = s * (1.0 - s)
        out.append(ds)
        if order >= 3:
            out.append(ds * (1.0 - 2.0 * s))
    return out


def _tanh(z, order):
    t = np.tanh(z)
    d1 = 1.0 - t * t
    out = [t, d1]
    if order >= 2:
        out.append(-2.0 * t * d1)
        if order >= 3:
            out.append(d1 * (6.0 * t * t - 2.0))
    return out


def _logistic(z, order):
    s = sigmoid(z)
    d1 = s * (1.0 - s)
    out = [s, d1]
    if order >= 2:
        out.append(d1 * (1.0 - 2.0 * s))
        if order >= 3:
            out.append(d1 * (1.0 - 6.0 * s + 6.0 * s * s))
    return out


def _swish(z, order):
    s = sigmoid(z)
    d1 = s * (1.0 - s)
    out = [z * s, s + z * d1]
    if order >= 2:
        d2 = d1 * (1.0 - 2.0 * s)
        out.append(2.0 * d1 + z * d2)
        if order >= 3:
            out.append(3.0 * d2 + z * d1 * (1.0 - 6.0 * s + 6.0 * s * s))
    return out


def _linear(z, order):
    out = [z, np.ones_like(z)]
    out += [np.zeros_like(z)] * (order - 1)
    return out


#: smooth (C³) hidden activations: name → ``(z, order) -> [σ, σ', …, σ^(order)]``
ACTIVATIONS = {"softplus": _softplus, "tanh": _tanh, "sigmoid": _logistic, "swish": _swish}
#: output activations: the hidden ones plus ``"linear"`` (logits, means, log-variances)
OUTPUTS = {**ACTIVATIONS, "linear": _linear}


def prefixed(params, prefix):
    """``{prefix + "." + name: array}`` — how a model names the parameters of its networks."""
    return {f"{prefix}.{k}": v for k, v in params.items()}


def check_network(net, n_in, n_out, what):
    """Check that ``net`` follows the network protocol with the given widths (``TypeError`` /
    :class:`pgm.errors.CardinalityError` naming ``what`` otherwise)."""
    missing = [m for m in ("params", "set_params", "forward", "forward_cache", "backward")
               if not hasattr(net, m)]
    if missing:
        raise TypeError(f"{what} must follow the network protocol (pgm.Network); "
                        f"{type(net).__name__} lacks {missing}")
    if getattr(net, "n_in", None) != n_in or getattr(net, "n_out", None) != n_out:
        raise CardinalityError(f"{what} must map {n_in} inputs to {n_out} outputs, got "
                               f"{getattr(net, 'n_in', None)} → {getattr(net, 'n_out', None)}")
    return net


class Network:
    """Dense feed-forward network with analytic reverse-mode derivatives.

    Parameters
    ----------
    sizes : sequence of int
        Widths ``(n_in, h_1, …, n_out)``, at least two entries.
    activation : {"softplus", "tanh", "sigmoid", "swish"}
        Activation of the hidden layers (smooth, C³).
    output : {"linear", "softplus", "tanh", "sigmoid", "swish"}
        Activation of the last layer.
    seed : int, Generator or None
        Initial weights ``W_l ~ N(0, scale²/fan_in)``, biases 0.
    scale : float > 0
        Multiplies the initial weights.
    dtype : float64 or float32

    Attributes
    ----------
    weights, biases : lists of arrays ``W_l (H_{l−1}, H_l)``, ``b_l (H_l,)`` (the parameters
        ``W1, b1, …``; updated in place by :meth:`set_params`)

    Examples
    --------
    >>> import numpy as np, pgm
    >>> net = pgm.Network((3, 8, 2), activation="tanh", seed=0)
    >>> x = np.ones((4, 3))
    >>> y, cache = net.forward_cache(x)
    >>> gx, grads = net.backward(cache, np.ones_like(y))      # ∂(Σ y)/∂x and /∂θ
    >>> y.shape, gx.shape, sorted(grads)
    ((4, 2), (4, 3), ['W1', 'W2', 'b1', 'b2'])
    """

    def __init__(self, sizes, activation="tanh", output="linear", seed=None, scale=1.0, dtype=np.float64):
        sizes = tuple(sizes) if not isinstance(sizes, numbers.Integral) else (sizes,)
        if len(sizes) < 2:
            raise ValueError(f"sizes must list at least an input and an output width, got {sizes!r}")
        self.sizes = tuple(positive_int(s, "every layer width") for s in sizes)
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {sorted(OUTPUTS)}, got {output!r}")
        if isinstance(scale, bool) or not isinstance(scale, numbers.Real) or not np.isfinite(scale) \
                or scale <= 0:
            raise ValueError(f"scale must be a finite real > 0, got {scale!r}")
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise TypeError(f"dtype must be float32 or float64, got {self.dtype}")
        self.activation, self.output, self.scale = activation, output, float(scale)
        self._acts = [ACTIVATIONS[activation]] * (len(self.sizes) - 2) + [OUTPUTS[output]]
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        self.weights = [(self.scale * rng.standard_normal((a, b)) / np.sqrt(a)).astype(self.dtype)
                        for a, b in zip(self.sizes[:-1], self.sizes[1:])]
        self.biases = [np.zeros(b, dtype=self.dtype) for b in self.sizes[1:]]

    # ------------------------------------------------------------------ description
    @property
    def n_in(self):
        return self.sizes[0]

    @property
    def n_out(self):
        return self.sizes[-1]

    @property
    def param_names(self):
        return [f"{p}{l}" for l in range(1, len(self.weights) + 1) for p in ("W", "b")]

    @property
    def params(self):
        """Name → the network's own arrays (``W1, b1, W2, b2, …``)."""
        out = {}
        for l, (W, b) in enumerate(zip(self.weights, self.biases), start=1):
            out[f"W{l}"], out[f"b{l}"] = W, b
        return out

    def set_params(self, **values):
        """Replace some parameters (shapes checked, finite values required; all or nothing)."""
        own = self.params
        checked = check_params(own, values)
        for name, arr in checked.items():
            own[name][...] = arr

    def settings(self):
        """Constructor settings (JSON-able)."""
        return {"sizes": list(self.sizes), "activation": self.activation, "output": self.output,
                "scale": self.scale, "dtype": self.dtype.name}

    @classmethod
    def from_settings(cls, settings):
        return cls(tuple(settings["sizes"]), activation=settings["activation"], output=settings["output"],
                   scale=settings.get("scale", 1.0), dtype=settings.get("dtype", "float64"))

    def save(self, path):
        """Write settings and parameters to ``path`` (``.npz`` + JSON); read with :func:`pgm.load`."""
        from .io.persist import save_model

        save_model(self, path)

    def __repr__(self):
        return f"Network(sizes={self.sizes}, activation={self.activation!r}, output={self.output!r})"

    # ------------------------------------------------------------------ evaluation
    def _input(self, x):
        x = np.asarray(x, dtype=self.dtype)
        if x.ndim != 2 or x.shape[1] != self.n_in:
            raise CardinalityError(f"network input must have shape (n, {self.n_in}), got {x.shape}")
        return x

    def forward(self, x):
        """Outputs ``y`` for the rows of ``x`` (shape ``(n, n_out)``)."""
        a = self._input(x)
        for W, b, act in zip(self.weights, self.biases, self._acts):
            a = act(a @ W + b, 0)[0]
        return a

    def forward_cache(self, x):
        """``(y, cache)``; ``cache`` holds what :meth:`backward` needs."""
        a = self._input(x)
        cache = []
        for W, b, act in zip(self.weights, self.biases, self._acts):
            value, slope = act(a @ W + b, 1)
            cache.append((a, slope))
            a = value
        return a, cache

    def backward(self, cache, grad_y, need_x=True):
        """Vector–Jacobian product: ``(∂ℓ/∂x, {name: ∂ℓ/∂θ})`` for ``grad_y = ∂ℓ/∂y`` (rows
        summed in the parameter gradients).  ``need_x=False`` skips ``∂ℓ/∂x`` (returns None)."""
        delta = np.asarray(grad_y, dtype=self.dtype) * cache[-1][1]
        grads = {}
        grad_x = None
        for l in range(len(self.weights), 0, -1):
            a, _ = cache[l - 1]
            grads[f"W{l}"] = a.T @ delta
            grads[f"b{l}"] = delta.sum(axis=0)
            if l > 1:
                delta = (delta @ self.weights[l - 1].T) * cache[l - 2][1]
            elif need_x:
                grad_x = delta @ self.weights[0].T
        return grad_x, {k: grads[k] for k in self.param_names}
