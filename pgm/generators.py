"""Implicit generative models: generative adversarial networks and generative moment-matching
networks (SPEC.md §5, "GAN", "Generative moment matching"; Goodfellow et al. 2014, Li et al. 2015,
Dziugaite et al. 2015).

Both models draw a sample by pushing noise ``z ~ N(0, I_{n_noise})`` through a generator network
``x = g(z)`` (a :class:`pgm.Network` from ``n_noise`` inputs to ``n_visible`` outputs, linear
output for real data or ``output="sigmoid"`` for pixel intensities in ``(0, 1)``).  The model
density is implicit — there is no likelihood — so they are trained by comparing samples with
data: :class:`GAN` adds a discriminator ``d(x) = σ(D(x))`` (``D`` a network to one logit) for the
adversarial game of :class:`estimators.Adversarial`; :class:`GMMN` is the generator alone, fitted
by the maximum mean discrepancy of :class:`estimators.MMD` (which can also train a GAN's
generator alone).

Sampling follows the directed-model noise protocol of :func:`samplers.ancestral`:
``noise_shapes(n) = {"normal": (n, n_noise)}`` and ``ancestral_pass(noise) = g(noise["normal"])``.

Learning protocol (what the estimators use), vector–Jacobian products in the style of
reverse-mode automatic differentiation:

* ``generate_vjp(z) -> (x, vjp)``, ``vjp(∂ℓ/∂x) -> {"generator.W1": …}`` (rows summed);
* (GAN) ``discriminator_vjp(x) -> (D(x), vjp)`` with the logits ``D(x)`` of shape ``(n,)`` and
  ``vjp(∂ℓ/∂D, need_x=True) -> (∂ℓ/∂x or None, {"discriminator.W1": …})``.

Parameters are named ``"generator.W1", "generator.b1", …`` and ``"discriminator.W1", …``.
"""

import numbers

import numpy as np

from ._validation import as_batch, as_float_array, check_params, positive_int
from .errors import CardinalityError, EvidenceError
from .network import Network, check_network, log_sigmoid, prefixed, sigmoid

__all__ = ["GAN", "GMMN"]

#: generator output activations offered (linear: real data; sigmoid: intensities in (0, 1))
GENERATOR_OUTPUTS = ("linear", "sigmoid")


def _backward(net, cache, grad_y, need_x):
    """``net.backward`` (``need_x`` only for :class:`pgm.Network`; user networks may lack it)."""
    if isinstance(net, Network):
        return net.backward(cache, grad_y, need_x=need_x)
    return net.backward(cache, grad_y)


def _widths(hidden, what):
    hidden = (hidden,) if isinstance(hidden, numbers.Integral) else tuple(hidden)
    return tuple(positive_int(h, f"every {what} width") for h in hidden)


def _f64(grads, prefix):
    return prefixed({k: np.asarray(v, dtype=np.float64) for k, v in grads.items()}, prefix)


class _Networks:
    """Parameters, settings and validation shared by the generator models (private)."""

    #: network attribute names, in parameter order
    _nets = ()

    @property
    def domain(self):
        """None: real-valued visibles (also for a sigmoid output, whose samples lie in (0, 1))."""
        return None

    @property
    def n_variables(self):
        return self.n_visible

    @property
    def params(self):
        """Name → the model's own arrays ``"generator.W1", …`` (and ``"discriminator.W1", …``),
        updated in place by :meth:`set_params`."""
        out = {}
        for name in self._nets:
            out.update(prefixed(getattr(self, name).params, name))
        return out

    @property
    def param_names(self):
        return list(self.params)

    def set_params(self, **values):
        """Replace some parameters (shapes checked, finite values required; all or nothing).

        Unknown name → ``KeyError``; wrong shape → :class:`~pgm.errors.CardinalityError`;
        non-finite value → :class:`~pgm.errors.ModelError`.
        """
        own = self.params
        parts = {name: {} for name in self._nets}
        for name, arr in check_params(own, values).items():
            net, _, sub = name.partition(".")
            parts[net][sub] = arr
        for net, sub in parts.items():
            if sub:
                getattr(self, net).set_params(**sub)

    def _net_settings(self):
        out = {}
        for name in self._nets:
            net = getattr(self, name)
            if not isinstance(net, Network):
                raise TypeError(f"cannot describe a {type(self).__name__} whose {name} is a "
                                f"{type(net).__name__} (settings and save need pgm.Network networks)")
            out[name] = net.settings()
        return out

    def save(self, path):
        """Write settings and parameters to ``path`` (``.npz`` + JSON, no pickle); read with
        :func:`pgm.load`."""
        from .io.persist import save_model

        save_model(self, path)

    # ------------------------------------------------------------------ generator
    def _z(self, z, name="z"):
        z = as_float_array(z, name)
        if z.ndim != 2 or z.shape[1] != self.n_noise:
            raise CardinalityError(f"{name} must have shape (n, {self.n_noise}), got {z.shape}")
        return z

    def generate(self, z):
        """Samples ``g(z)`` for noise rows ``z`` of shape ``(n, n_noise)``: float64 ``(n, n_visible)``."""
        z = self._z(z)
        if not np.all(np.isfinite(z)):
            raise EvidenceError(f"z must be finite, found {z[~np.isfinite(z)].flat[0]!r}")
        return np.asarray(self.generator.forward(z), dtype=np.float64)

    def generate_vjp(self, z):
        """``(x, vjp)`` with ``x = g(z)`` (float64 ``(n, n_visible)``) and ``vjp(grad_x)`` the
        generator-parameter gradients ``Σ_rows grad_x · ∂g/∂θ`` keyed ``"generator.W1", …``."""
        z = self._z(z)
        x, cache = self.generator.forward_cache(z)

        def vjp(grad_x):
            grad_x = np.asarray(grad_x, dtype=np.float64)
            if grad_x.shape != np.shape(x):
                raise CardinalityError(f"grad_x must have shape {np.shape(x)}, got {grad_x.shape}")
            _, grads = _backward(self.generator, cache, grad_x, need_x=False)
            return _f64(grads, "generator")

        return np.asarray(x, dtype=np.float64), vjp

    def noise_shapes(self, n):
        """Noise one ancestral pass of ``n`` samples needs: ``{"normal": (n, n_noise)}``."""
        return {"normal": (positive_int(n, "n"), self.n_noise)}

    def ancestral_pass(self, noise, layers=False):
        """Samples ``g(z)`` from ``noise = {"normal": z}`` (see :func:`samplers.ancestral`)."""
        if layers:
            raise TypeError(f"{type(self).__name__} has no layers of latent units to return "
                            "(layers=True is for layered directed models)")
        if not isinstance(noise, dict) or "normal" not in noise:
            raise TypeError(f"noise must be a dict with a 'normal' array of shape (n, {self.n_noise})")
        return self.generate(self._z(noise["normal"], "noise['normal']"))


class GAN(_Networks):
    """Generative adversarial network: generator ``x = g(z)``, ``z ~ N(0, I)``, and discriminator
    ``d(x) = σ(D(x))``, the probability that ``x`` is a data point rather than a sample.

    Trained by :class:`estimators.Adversarial` (the game
    ``min_g max_d E_data log d(x) + E_z log(1 − d(g(z)))``), or its generator alone by
    :class:`estimators.MMD`.

    Parameters
    ----------
    n_visible : int
        Data width ``D``.
    n_noise : int
        Noise width (input of the generator).
    generator_hidden, discriminator_hidden : sequence of int
        Hidden widths of ``g: n_noise → … → D`` and ``D: D → … → 1``.
    activation : {"tanh", "softplus", "sigmoid", "swish"}
        Hidden activation of both networks.
    output : {"linear", "sigmoid"}
        Output activation of the generator: ``"linear"`` for real data, ``"sigmoid"`` for pixel
        intensities in ``(0, 1)``.  The discriminator's output is always one linear logit.
    seed : int, Generator or None
        Initial weights (see :class:`pgm.Network`).
    generator, discriminator : network, optional
        User networks following the :class:`pgm.Network` protocol, mapping ``n_noise → D`` and
        ``D → 1`` (checked by :func:`pgm.network.check_network`); they replace the built ones.
        :meth:`settings` and :meth:`save` need :class:`pgm.Network` instances.

    Attributes
    ----------
    generator, discriminator : networks

    Examples
    --------
    >>> import numpy as np, samplers
    >>> from pgm.generators import GAN
    >>> gan = GAN(2, 3, generator_hidden=(8,), discriminator_hidden=(8,), seed=0)
    >>> x = samplers.ancestral(gan, 5, seed=0)
    >>> x.shape, gan.discriminate(x).shape
    ((5, 2), (5,))
    >>> bool(np.all((gan.discriminate(x) > 0) & (gan.discriminate(x) < 1)))
    True
    >>> sorted(gan.params)[:2]
    ['discriminator.W1', 'discriminator.W2']
    """

    _nets = ("generator", "discriminator")

    def __init__(self, n_visible, n_noise, generator_hidden=(64, 64), discriminator_hidden=(64, 64),
                 activation="tanh", output="linear", seed=None, generator=None, discriminator=None):
        self.n_visible = positive_int(n_visible, "n_visible")
        self.n_noise = positive_int(n_noise, "n_noise")
        self.generator_hidden = _widths(generator_hidden, "generator_hidden")
        self.discriminator_hidden = _widths(discriminator_hidden, "discriminator_hidden")
        if output not in GENERATOR_OUTPUTS:
            raise ValueError(f"output must be one of {GENERATOR_OUTPUTS}, got {output!r}")
        self.activation, self.output = activation, output
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        D, Z = self.n_visible, self.n_noise
        if generator is None:
            generator = Network((Z,) + self.generator_hidden + (D,), activation=activation,
                                output=output, seed=rng)
        else:
            check_network(generator, Z, D, "generator")
        if discriminator is None:
            discriminator = Network((D,) + self.discriminator_hidden + (1,), activation=activation,
                                    output="linear", seed=rng)
        else:
            check_network(discriminator, D, 1, "discriminator")
        self.generator, self.discriminator = generator, discriminator

    def settings(self):
        """Constructor settings (JSON-able), including both networks' settings.

        Raises ``TypeError`` when a network is not a :class:`pgm.Network`."""
        return {"n_visible": self.n_visible, "n_noise": self.n_noise,
                "generator_hidden": list(self.generator_hidden),
                "discriminator_hidden": list(self.discriminator_hidden),
                "activation": self.activation, "output": self.output, **self._net_settings()}

    @classmethod
    def from_settings(cls, settings):
        return cls(settings["n_visible"], settings["n_noise"],
                   generator_hidden=tuple(settings["generator_hidden"]),
                   discriminator_hidden=tuple(settings["discriminator_hidden"]),
                   activation=settings["activation"], output=settings["output"],
                   generator=Network.from_settings(settings["generator"]),
                   discriminator=Network.from_settings(settings["discriminator"]))

    def __repr__(self):
        return (f"GAN(n_visible={self.n_visible}, n_noise={self.n_noise}, "
                f"generator_hidden={self.generator_hidden}, "
                f"discriminator_hidden={self.discriminator_hidden}, activation={self.activation!r}, "
                f"output={self.output!r})")

    # ------------------------------------------------------------------ discriminator
    def _logits(self, x):
        return np.asarray(self.discriminator.forward(x), dtype=np.float64)[:, 0]

    def discriminate(self, x, logits=False):
        """``d(x) = σ(D(x))``, the probability that each row of ``x`` is data (``logits=True``:
        ``D(x)`` itself); shape ``(n,)``, a float for one row ``(n_visible,)``."""
        x, one = as_batch(x, self.n_visible, "x")
        out = self._logits(x)
        out = out if logits else sigmoid(out)
        return float(out[0]) if one else out

    def log_discriminate(self, x):
        """``(log d(x), log(1 − d(x)))`` per row, accurate for logits of any size."""
        x, one = as_batch(x, self.n_visible, "x")
        a = self._logits(x)
        pos, neg = log_sigmoid(a), log_sigmoid(-a)
        return (float(pos[0]), float(neg[0])) if one else (pos, neg)

    def discriminator_vjp(self, x):
        """``(D(x), vjp)``: the logits, shape ``(n,)``, of a batch ``x (n, n_visible)``, and
        ``vjp(grad_logits, need_x=True) -> (∂ℓ/∂x or None, {"discriminator.W1": …})`` for
        ``grad_logits = ∂ℓ/∂D`` of shape ``(n,)`` (parameter gradients summed over rows)."""
        x = as_float_array(x, "x")
        if x.ndim != 2 or x.shape[1] != self.n_visible:
            raise CardinalityError(f"x must have shape (n, {self.n_visible}), got {x.shape}")
        y, cache = self.discriminator.forward_cache(x)
        n = x.shape[0]

        def vjp(grad_logits, need_x=True):
            g = np.asarray(grad_logits, dtype=np.float64).reshape(-1)
            if g.size != n:
                raise CardinalityError(f"grad_logits must have {n} entries, got {g.size}")
            gx, grads = _backward(self.discriminator, cache, g[:, None], need_x=need_x)
            gx = np.asarray(gx, dtype=np.float64) if need_x else None
            return gx, _f64(grads, "discriminator")

        return np.asarray(y, dtype=np.float64)[:, 0], vjp


class GMMN(_Networks):
    """Generative moment-matching network: a generator ``x = g(z)``, ``z ~ N(0, I)``, alone,
    fitted by minimising the maximum mean discrepancy between its samples and the data
    (:class:`estimators.MMD`).

    Parameters
    ----------
    n_visible : int
        Data width ``D``.
    n_noise : int
        Noise width (input of the generator).
    hidden : sequence of int
        Hidden widths of ``g: n_noise → … → D``.
    activation : {"tanh", "softplus", "sigmoid", "swish"}
        Hidden activation.
    output : {"linear", "sigmoid"}
        Output activation (``"sigmoid"`` for pixel intensities in ``(0, 1)``).
    seed : int, Generator or None
        Initial weights (see :class:`pgm.Network`).
    generator : network, optional
        A user network following the :class:`pgm.Network` protocol, ``n_noise → D``.

    Examples
    --------
    >>> import samplers
    >>> from pgm.generators import GMMN
    >>> gmmn = GMMN(2, 4, hidden=(16,), seed=0)
    >>> samplers.ancestral(gmmn, 3, seed=0).shape, gmmn.noise_shapes(3)
    ((3, 2), {'normal': (3, 4)})
    """

    _nets = ("generator",)

    def __init__(self, n_visible, n_noise, hidden=(64, 64), activation="tanh", output="linear",
                 seed=None, generator=None):
        self.n_visible = positive_int(n_visible, "n_visible")
        self.n_noise = positive_int(n_noise, "n_noise")
        self.hidden = _widths(hidden, "hidden")
        if output not in GENERATOR_OUTPUTS:
            raise ValueError(f"output must be one of {GENERATOR_OUTPUTS}, got {output!r}")
        self.activation, self.output = activation, output
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        if generator is None:
            generator = Network((self.n_noise,) + self.hidden + (self.n_visible,), activation=activation,
                                output=output, seed=rng)
        else:
            check_network(generator, self.n_noise, self.n_visible, "generator")
        self.generator = generator

    def settings(self):
        """Constructor settings (JSON-able), including the generator's settings."""
        return {"n_visible": self.n_visible, "n_noise": self.n_noise, "hidden": list(self.hidden),
                "activation": self.activation, "output": self.output, **self._net_settings()}

    @classmethod
    def from_settings(cls, settings):
        return cls(settings["n_visible"], settings["n_noise"], hidden=tuple(settings["hidden"]),
                   activation=settings["activation"], output=settings["output"],
                   generator=Network.from_settings(settings["generator"]))

    def __repr__(self):
        return (f"GMMN(n_visible={self.n_visible}, n_noise={self.n_noise}, hidden={self.hidden}, "
                f"activation={self.activation!r}, output={self.output!r})")
