"""Markov chains defined by denoising autoencoders and generative stochastic networks
(SPEC.md §5, "Sampling a Markov chain defined by a denoising autoencoder" and "Generative
stochastic networks"; book §20.11, Bengio et al. 2013, 2014).

Denoising autoencoder chain (:class:`DAEChain`)
-----------------------------------------------
A denoising autoencoder is trained to reconstruct ``x`` from a corrupted ``x̃ ~ C(x̃ | x)``: one
network ``f`` maps ``x̃`` to the parameters of a reconstruction distribution ``p(x | x̃)``.  It
defines a Markov chain ``x_t → x̃ ~ C(· | x_t) → x_{t+1} ~ p(· | x̃)`` whose stationary
distribution estimates the data distribution (Bengio et al. 2013, "Generalized denoising
auto-encoders as generative models").

* Corruption ``C``: ``"gaussian"``, ``x̃ = x + s ε`` with ``ε ~ N(0, I)`` and ``s = noise``;
  ``"salt_pepper"``, each unit independently set to 0 with probability ``noise/2``, to 1 with
  probability ``noise/2``, kept otherwise (one uniform ``u`` per unit: ``u < noise/2 → 0``,
  ``noise/2 ≤ u < noise → 1``).
* Reconstruction ``p(x | x̃)``: ``"gaussian"``, ``N(f(x̃), v I)`` with an *isotropic* variance
  ``v`` — learned as the parameter ``"log_var"`` (a scalar, initialised to ``log noise²`` for
  Gaussian corruption, 0 otherwise) when ``variance=None``, or fixed at ``variance`` (then not a
  parameter); ``"bernoulli"``, ``Π_d Bernoulli(σ(f_d(x̃)))`` (``f`` gives logits, binary data).

Sampling the chain is a deterministic function of its noise (:meth:`DAEChain.chain_step`):
``noise = {"normal": (n, a), "uniform": (n, b)}`` as :meth:`DAEChain.chain_noise_shapes` says,
the corruption's columns first, then the reconstruction's (normals ``z`` for a Gaussian
reconstruction ``x' = f(x̃) + √v z``, uniforms ``u`` for a Bernoulli one ``x'_d = [u_d < σ(f_d)]``).
``samplers.sample(model, method="dae_chain")`` runs it with one random stream per chain.

Generative stochastic network (:class:`GSN`)
--------------------------------------------
A latent state carries the chain (Bengio et al. 2014): on the joint state ``(x, h)``,

    ``h_t = tanh([C(x_{t−1}), h_{t−1}] A + c) + τ η``,  ``x_t ~ p(x | h_t)``,

i.e. ``h_t ~ p(h | h_{t−1}, x_{t−1})`` (the corruption ``C`` as above, Gaussian noise ``τ η`` on
the hidden units, ``τ = hidden_noise ≥ 0``) and a decoder network ``h ↦`` parameters of
``p(x | h)`` (Gaussian with isotropic variance, or Bernoulli).  Walk-back training unrolls the
chain from ``(x, h_0 = 0)`` for ``k`` steps and maximises ``(1/k) Σ_t log p(x | h_t)``, the
sampled visibles ``x_t`` held constant and the deterministic path through ``h`` differentiated
(:meth:`GSN.walkback_loss_and_grad`; :class:`estimators.WalkBack` calls it).

Conditional sampling (inpainting): ``clamp`` (a boolean mask or an index array over the visible
units) keeps those units at their current values in every step; the chain then samples the free
units given them.  For a DAE the clamped chain's stationary law equals the conditional of the
free units under the unclamped chain's stationary law only when the reconstruction is the exact
posterior of a consistent model (Bengio et al. 2013, §3.5); in general it is the clamped
chain's own stationary law.
"""

import numbers

import numpy as np

from ._validation import as_batch, as_float_array, check_params, positive_int
from .errors import CardinalityError, ModelError, UnknownVariableError
from .network import Network, check_network, log_sigmoid, prefixed, sigmoid

__all__ = ["DAEChain", "GSN", "CORRUPTIONS", "LIKELIHOODS"]

CORRUPTIONS = ("gaussian", "salt_pepper")
LIKELIHOODS = ("gaussian", "bernoulli")
_LOG_2PI = float(np.log(2.0 * np.pi))


# ---------------------------------------------------------------------------- shared helpers
def _hidden(hidden):
    hidden = (hidden,) if isinstance(hidden, numbers.Integral) else tuple(hidden)
    return tuple(positive_int(h, "every hidden width") for h in hidden)


def _noise_level(noise, corruption):
    if corruption not in CORRUPTIONS:
        raise ValueError(f"corruption must be one of {CORRUPTIONS}, got {corruption!r}")
    if isinstance(noise, bool) or not isinstance(noise, numbers.Real) or not np.isfinite(noise) \
            or noise <= 0:
        raise ValueError(f"noise must be a finite real > 0, got {noise!r}")
    if corruption == "salt_pepper" and noise > 1:
        raise ValueError(f"salt-and-pepper noise is a probability in (0, 1], got {noise!r}")
    return float(noise)


def _variance(variance):
    if variance is None:
        return None
    if isinstance(variance, bool) or not isinstance(variance, numbers.Real) \
            or not np.isfinite(variance) or variance <= 0:
        raise ValueError(f"variance must be None (learned) or a finite real > 0, got {variance!r}")
    return float(variance)


def clamp_mask(clamp, n):
    """A boolean mask ``(n,)`` from ``clamp`` (None, a boolean mask ``(n,)`` or unit indices);
    None when nothing is clamped."""
    if clamp is None:
        return None
    arr = np.asarray(clamp)
    if arr.dtype == bool:
        if arr.shape != (n,):
            raise CardinalityError(f"a boolean clamp mask must have shape ({n},), got {arr.shape}")
        return arr.copy() if arr.any() else None
    if arr.size == 0:
        return None
    if arr.dtype.kind not in "iu" or arr.ndim != 1:
        raise TypeError(f"clamp must be a boolean mask ({n},) or a 1-D array of unit indices, "
                        f"got {arr.dtype} array of shape {arr.shape}")
    bad = (arr < 0) | (arr >= n)
    if bad.any():
        raise UnknownVariableError(f"clamp names unit {int(arr[bad][0])}; expected indices in 0..{n - 1}")
    mask = np.zeros(n, dtype=bool)
    mask[arr] = True
    return mask


def _noise_array(noise, kind, shape, what):
    """The ``kind`` ("normal"/"uniform") array of a noise dict, checked against ``shape``."""
    if not isinstance(noise, dict):
        raise TypeError(f"{what} must be a dict {{'normal': array, 'uniform': array}}, got "
                        f"{type(noise).__name__}")
    if shape[1] == 0:
        return np.empty(shape)
    if kind not in noise:
        raise KeyError(f"{what} lacks its {kind!r} array (shape {shape})")
    return _check_noise(noise[kind], kind, shape, f"{what}[{kind!r}]")


def _check_noise(arr, kind, shape, what):
    arr = as_float_array(arr, what)
    if arr.shape != tuple(shape):
        raise CardinalityError(f"{what} must have shape {tuple(shape)}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ModelError(f"{what} must be finite, found {arr[~np.isfinite(arr)].flat[0]!r}")
    if kind == "uniform" and (np.any(arr < 0) or np.any(arr > 1)):
        raise ModelError(f"{what} must hold uniforms in [0, 1]")
    return arr


class _Reconstruction:
    """Mixin: corruption and reconstruction distribution shared by :class:`DAEChain` and
    :class:`GSN` (attributes ``n_visible``, ``corruption``, ``noise``, ``likelihood``,
    ``log_var`` (learned, 0-d array, or None) and ``fixed_variance``)."""

    sampler_family = "dae_chain"

    @property
    def domain(self):
        """``(0, 1)`` for a Bernoulli reconstruction (binary data), None for a Gaussian one."""
        return (0, 1) if self.likelihood == "bernoulli" else None

    @property
    def n_variables(self):
        return self.n_visible

    @property
    def reconstruction_variance(self):
        """The isotropic variance ``v`` of a Gaussian reconstruction (None for Bernoulli)."""
        if self.likelihood != "gaussian":
            return None
        return float(np.exp(self.log_var)) if self.log_var is not None else self.fixed_variance

    def _lv(self):
        return float(self.log_var) if self.log_var is not None else float(np.log(self.fixed_variance))

    def _visible(self, x, name="x"):
        return as_batch(x, self.n_visible, name, binary=self.likelihood == "bernoulli")[0]

    # ------------------------------------------------------------------ corruption
    def corruption_noise_shapes(self, n):
        """``{"normal": (n, D)}`` (Gaussian corruption) or ``{"uniform": (n, D)}``."""
        kind = "normal" if self.corruption == "gaussian" else "uniform"
        return {kind: (int(n), self.n_visible)}

    def corrupt(self, x, noise):
        """``x̃ = C(x)`` given the corruption noise: an ``(n, D)`` array of standard normals
        (Gaussian corruption, ``x̃ = x + noise·ε``) or of uniforms on ``[0, 1)`` (salt and pepper),
        or a dict as :meth:`corruption_noise_shapes` says."""
        x = self._visible(x)
        kind, shape = next(iter(self.corruption_noise_shapes(x.shape[0]).items()))
        arr = _noise_array(noise, kind, shape, "noise") if isinstance(noise, dict) else \
            _check_noise(noise, kind, shape, "noise")
        return self._corrupt(x, arr)

    def _corrupt(self, x, arr):
        if self.corruption == "gaussian":
            return x + self.noise * arr
        half = 0.5 * self.noise
        out = np.array(x, dtype=np.float64, copy=True)
        out[arr < half] = 0.0
        out[(arr >= half) & (arr < self.noise)] = 1.0
        return out

    # ------------------------------------------------------------------ reconstruction
    def _log_p(self, x, out):
        """``log p(x | out)`` per row and ``∂/∂out`` (and ``∂/∂log_var`` per row, Gaussian)."""
        if self.likelihood == "bernoulli":
            lp = np.sum(log_sigmoid(out) - (1.0 - x) * out, axis=1)
            return lp, x - sigmoid(out), None
        lv = self._lv()
        r = x - out
        q = np.sum(r * r, axis=1) * np.exp(-lv)
        D = x.shape[1]
        lp = -0.5 * (D * (_LOG_2PI + lv) + q)
        return lp, r * np.exp(-lv), -0.5 * (D - q)

    def _sample(self, out, z, u):
        if self.likelihood == "bernoulli":
            return (u < sigmoid(out)).astype(np.float64)
        return out + np.exp(0.5 * self._lv()) * z

    def reconstruction_noise_shapes(self, n):
        """``{"normal": (n, D)}`` (Gaussian reconstruction) or ``{"uniform": (n, D)}``."""
        kind = "normal" if self.likelihood == "gaussian" else "uniform"
        return {kind: (int(n), self.n_visible)}

    def chain_noise_shapes(self, n):
        """Noise of one :meth:`chain_step` of ``n`` chains: ``{"normal": (n, a), "uniform":
        (n, b)}`` (see the module docstring for the order of the columns)."""
        widths = {"normal": 0, "uniform": 0}
        for part in self._noise_parts():
            widths[part[0]] += part[2]
        return {k: (int(n), w) for k, w in widths.items()}

    def _split(self, noise, n, what="noise"):
        """``{part name: array}`` from a chain-step noise dict."""
        shapes = self.chain_noise_shapes(n)
        arrays = {k: _noise_array(noise, k, shapes[k], what) for k in ("normal", "uniform")}
        out, at = {}, {"normal": 0, "uniform": 0}
        for kind, name, w in self._noise_parts():
            out[name] = arrays[kind][:, at[kind]:at[kind] + w]
            at[kind] += w
        return out

    def _grad_dict(self, out_grads, glv):
        raise NotImplementedError


def _backward(net, cache, grad_y, need_x):
    if isinstance(net, Network):
        return net.backward(cache, grad_y, need_x=need_x)
    return net.backward(cache, grad_y)


def _set_params(model, nets, values):
    """All-or-nothing ``set_params`` for a model holding networks ``{prefix: net}`` and maybe
    ``log_var``."""
    own = model.params
    checked = check_params(own, values)
    parts = {p: {} for p in nets}
    for name, arr in checked.items():
        if name == "log_var":
            model.log_var[...] = arr
        else:
            net, _, sub = name.partition(".")
            parts[net][sub] = arr
    for p, vals in parts.items():
        if vals:
            nets[p].set_params(**vals)


# ---------------------------------------------------------------------------- DAE chain
class DAEChain(_Reconstruction):
    """Denoising autoencoder and the Markov chain it defines (see the module docstring).

    Parameters
    ----------
    n_visible : int
        Data width ``D``.
    hidden : sequence of int
        Hidden widths of the network ``x̃ ↦ f(x̃)`` (``D → hidden → D``, linear output: the
        Gaussian means or the Bernoulli logits).  ``()`` gives a linear map ``f(x̃) = x̃ W + b``.
    corruption : {"gaussian", "salt_pepper"}
    noise : float > 0
        Corruption standard deviation (Gaussian) or probability (salt and pepper, ``≤ 1``).
    likelihood : {"gaussian", "bernoulli"}
        Reconstruction distribution (real data with an isotropic variance, or binary data).
    activation : {"tanh", "softplus", "sigmoid", "swish"}
    variance : float > 0 or None
        Gaussian reconstruction: fixed variance, or None to learn it (parameter ``"log_var"``).
    seed : int, Generator or None
        Initial weights (see :class:`pgm.Network`).
    network : network, optional
        A user network (the :class:`pgm.Network` protocol) mapping ``D → D``; replaces the built
        one (``settings`` and ``save`` need a :class:`pgm.Network`).

    Attributes
    ----------
    network : the network ``f``; parameters ``"network.W1", …`` (and ``"log_var"``)

    Examples
    --------
    >>> import numpy as np
    >>> from pgm.autoencoder_chain import DAEChain
    >>> dae = DAEChain(2, hidden=(8,), noise=0.5, seed=0)
    >>> x = np.array([[0.0, 1.0], [1.0, -1.0]])
    >>> x_tilde = dae.corrupt(x, np.random.default_rng(0).standard_normal((2, 2)))
    >>> dae.log_reconstruction(x, x_tilde).shape, sorted(dae.params)[:2]
    ((2,), ['log_var', 'network.W1'])
    >>> rng = np.random.default_rng(1)
    >>> noise = {k: rng.standard_normal(s) for k, s in dae.chain_noise_shapes(2).items()}
    >>> x1 = dae.chain_step(x, noise, clamp=[0])           # unit 0 clamped: it never moves
    >>> bool(np.array_equal(x1[:, 0], x[:, 0]))
    True
    """

    def __init__(self, n_visible, hidden=(64,), corruption="gaussian", noise=0.3, likelihood="gaussian",
                 activation="tanh", variance=None, seed=None, network=None):
        self.n_visible = positive_int(n_visible, "n_visible")
        self.hidden = _hidden(hidden)
        self.noise = _noise_level(noise, corruption)
        self.corruption = corruption
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
        self.likelihood, self.activation = likelihood, activation
        self.fixed_variance = _variance(variance)
        D = self.n_visible
        if network is None:
            network = Network((D,) + self.hidden + (D,), activation=activation, output="linear", seed=seed)
        else:
            check_network(network, D, D, "network")
        self.network = network
        self.log_var = None
        if likelihood == "gaussian" and self.fixed_variance is None:
            self.log_var = np.array(2.0 * np.log(self.noise) if corruption == "gaussian" else 0.0)

    # ------------------------------------------------------------------ description
    @property
    def chain_width(self):
        """Columns of a chain state: ``D`` (the visible units)."""
        return self.n_visible

    @property
    def params(self):
        """Name → the model's own arrays (``"network.W1", …`` and, learned variance, ``"log_var"``)."""
        out = prefixed(self.network.params, "network")
        if self.log_var is not None:
            out["log_var"] = self.log_var
        return out

    @property
    def param_names(self):
        return list(self.params)

    def set_params(self, **values):
        """Replace some parameters (shapes checked, finite values required; all or nothing).

        Unknown name → ``KeyError``; wrong shape → :class:`~pgm.errors.CardinalityError`;
        non-finite value → :class:`~pgm.errors.ModelError`."""
        _set_params(self, {"network": self.network}, values)

    def settings(self):
        """Constructor settings (JSON-able), with the network's."""
        if not isinstance(self.network, Network):
            raise TypeError(f"cannot describe a DAEChain whose network is a {type(self.network).__name__} "
                            "(settings and save need a pgm.Network)")
        return {"n_visible": self.n_visible, "hidden": list(self.hidden), "corruption": self.corruption,
                "noise": self.noise, "likelihood": self.likelihood, "activation": self.activation,
                "variance": self.fixed_variance, "network": self.network.settings()}

    @classmethod
    def from_settings(cls, settings):
        net = settings.get("network")
        return cls(settings["n_visible"], hidden=tuple(settings["hidden"]), corruption=settings["corruption"],
                   noise=settings["noise"], likelihood=settings["likelihood"],
                   activation=settings["activation"], variance=settings.get("variance"),
                   network=None if net is None else Network.from_settings(net))

    def save(self, path):
        """Write settings and parameters to ``path`` (``.npz`` + JSON); read with :func:`pgm.load`."""
        from .io.persist import save_model

        save_model(self, path)

    def __repr__(self):
        return (f"DAEChain(n_visible={self.n_visible}, hidden={self.hidden}, corruption={self.corruption!r}, "
                f"noise={self.noise}, likelihood={self.likelihood!r})")

    # ------------------------------------------------------------------ reconstruction
    def reconstruction_params(self, x_tilde):
        """``f(x̃)``: the means (Gaussian) or logits (Bernoulli) of ``p(x | x̃)``, ``(n, D)``."""
        xt = as_batch(x_tilde, self.n_visible, "x_tilde")[0]
        return np.asarray(self.network.forward(xt), dtype=np.float64)

    def log_reconstruction(self, x, x_tilde):
        """``log p(x | x̃)`` for each row, shape ``(n,)``."""
        x, xt = self._pair(x, x_tilde)
        return self._log_p(x, np.asarray(self.network.forward(xt), dtype=np.float64))[0]

    def log_reconstruction_and_grad(self, x, x_tilde, weights=None):
        """``(log p(x_k | x̃_k) per row, {name: Σ_k w_k ∂ log p(x_k | x̃_k)/∂θ})`` — default
        ``w_k = 1/n`` (the gradient of the mean), one backward pass through the network."""
        x, xt = self._pair(x, x_tilde)
        n = x.shape[0]
        w = np.full(n, 1.0 / n) if weights is None else np.asarray(weights, np.float64).reshape(-1)
        if w.size != n:
            raise CardinalityError(f"weights must have one entry per row ({n}), got {w.size}")
        out, cache = self.network.forward_cache(xt)
        lp, g_out, g_lv = self._log_p(x, np.asarray(out, dtype=np.float64))
        _, g = _backward(self.network, cache, w[:, None] * g_out, need_x=False)
        grads = {f"network.{k}": np.asarray(v, dtype=np.float64) for k, v in g.items()}
        if self.log_var is not None:
            grads["log_var"] = np.array(w @ g_lv)
        return lp, grads

    def grad_log_reconstruction(self, x, x_tilde, weights=None):
        """``{name: Σ_k w_k ∂ log p(x_k | x̃_k)/∂θ}`` (default: the gradient of the mean)."""
        return self.log_reconstruction_and_grad(x, x_tilde, weights)[1]

    def sample_reconstruction(self, x_tilde, noise):
        """``x ~ p(x | x̃)`` given its noise: ``(n, D)`` standard normals (Gaussian) or uniforms
        (Bernoulli), or a dict as :meth:`reconstruction_noise_shapes` says."""
        xt = as_batch(x_tilde, self.n_visible, "x_tilde")[0]
        kind, shape = next(iter(self.reconstruction_noise_shapes(xt.shape[0]).items()))
        arr = _noise_array(noise, kind, shape, "noise") if isinstance(noise, dict) else \
            _check_noise(noise, kind, shape, "noise")
        out = np.asarray(self.network.forward(xt), dtype=np.float64)
        return self._sample(out, arr, arr)

    def _pair(self, x, x_tilde):
        x = self._visible(x)
        xt = as_batch(x_tilde, self.n_visible, "x_tilde")[0]
        if xt.shape != x.shape:
            raise CardinalityError(f"x has {x.shape[0]} rows but x_tilde has {xt.shape[0]}")
        return x, xt

    # ------------------------------------------------------------------ the chain
    def _noise_parts(self):
        D = self.n_visible
        return [("normal" if self.corruption == "gaussian" else "uniform", "corruption", D),
                ("normal" if self.likelihood == "gaussian" else "uniform", "reconstruction", D)]

    def chain_init(self, x):
        """Chain states from visible states ``(n, D)`` (for a DAE: the states themselves)."""
        return np.array(self._visible(x), dtype=np.float64)

    def chain_step(self, x, noise, clamp=None):
        """One transition ``x → x̃ = C(x) → x' ~ p(· | x̃)`` of every row, a deterministic
        function of ``noise`` (a dict as :meth:`chain_noise_shapes` says).

        ``clamp``: a boolean mask ``(D,)`` or an index array of units kept at their values in
        ``x`` (conditional sampling, inpainting): ``x'[:, clamp] == x[:, clamp]`` exactly.
        Returns ``x'`` (float64 ``(n, D)``)."""
        x = self._visible(x)
        mask = clamp_mask(clamp, self.n_visible)
        parts = self._split(noise, x.shape[0])
        return self._step(x, parts, mask)

    def _step(self, x, parts, mask):
        xt = self._corrupt(x, parts["corruption"])
        out = np.asarray(self.network.forward(xt), dtype=np.float64)
        r = parts["reconstruction"]
        new = self._sample(out, r, r)
        if mask is not None:
            new[:, mask] = x[:, mask]
        return new


# ---------------------------------------------------------------------------- GSN
class GSN(_Reconstruction):
    """Generative stochastic network: a Markov chain on ``(x, h)`` (see the module docstring).

    Parameters
    ----------
    n_visible, n_hidden : int
        ``D`` visible units, ``H`` real latent units (a tanh plus Gaussian noise).
    hidden : sequence of int
        Hidden widths of the decoder ``h ↦`` parameters of ``p(x | h)`` (``H → hidden → D``).
    corruption, noise : as :class:`DAEChain` (applied to ``x_{t−1}`` before it enters ``h_t``)
    hidden_noise : float ≥ 0
        Standard deviation ``τ`` of the Gaussian noise added to ``h_t``.
    likelihood : {"bernoulli", "gaussian"}
    activation : hidden activation of the decoder
    variance : float > 0 or None
        Gaussian ``p(x | h)``: fixed isotropic variance, or None to learn ``"log_var"``.
    seed : int, Generator or None

    Attributes
    ----------
    transition : :class:`pgm.Network` ``(D + H) → H`` with tanh output (``[x̃, h] ↦ tanh(·A + c)``)
    decoder : :class:`pgm.Network` ``H → D`` (linear output)

    Parameters are named ``"transition.W1", …, "decoder.W1", …`` (and ``"log_var"``).  A chain
    state is ``[x, h]`` ``(n, D + H)``; chains started from visible states have ``h = 0``.

    Examples
    --------
    >>> import numpy as np
    >>> from pgm.autoencoder_chain import GSN
    >>> g = GSN(4, 3, noise=0.2, seed=0)
    >>> s = g.chain_init(np.array([[0, 1, 1, 0]]))
    >>> rng = np.random.default_rng(0)
    >>> noise = {k: rng.random(sh) for k, sh in g.chain_noise_shapes(1).items()}
    >>> s1 = g.chain_step(s, noise, clamp=[0, 1])
    >>> s1.shape, s1[0, :2].tolist()
    ((1, 7), [0.0, 1.0])
    """

    def __init__(self, n_visible, n_hidden, hidden=(), corruption="gaussian", noise=0.3, hidden_noise=0.1,
                 likelihood="bernoulli", activation="tanh", variance=None, seed=None):
        self.n_visible = positive_int(n_visible, "n_visible")
        self.n_hidden = positive_int(n_hidden, "n_hidden")
        self.hidden = _hidden(hidden)
        self.noise = _noise_level(noise, corruption)
        self.corruption = corruption
        if isinstance(hidden_noise, bool) or not isinstance(hidden_noise, numbers.Real) \
                or not np.isfinite(hidden_noise) or hidden_noise < 0:
            raise ValueError(f"hidden_noise must be a finite real >= 0, got {hidden_noise!r}")
        self.hidden_noise = float(hidden_noise)
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
        self.likelihood, self.activation = likelihood, activation
        self.fixed_variance = _variance(variance)
        D, H = self.n_visible, self.n_hidden
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        self.transition = Network((D + H, H), activation="tanh", output="tanh", seed=rng)
        self.decoder = Network((H,) + self.hidden + (D,), activation=activation, output="linear", seed=rng)
        self.log_var = None
        if likelihood == "gaussian" and self.fixed_variance is None:
            self.log_var = np.array(2.0 * np.log(self.noise) if corruption == "gaussian" else 0.0)

    @property
    def chain_width(self):
        """Columns of a chain state ``[x, h]``: ``D + H``."""
        return self.n_visible + self.n_hidden

    @property
    def params(self):
        out = {**prefixed(self.transition.params, "transition"), **prefixed(self.decoder.params, "decoder")}
        if self.log_var is not None:
            out["log_var"] = self.log_var
        return out

    @property
    def param_names(self):
        return list(self.params)

    def set_params(self, **values):
        """Replace some parameters (all or nothing; errors as :meth:`DAEChain.set_params`)."""
        _set_params(self, {"transition": self.transition, "decoder": self.decoder}, values)

    def settings(self):
        return {"n_visible": self.n_visible, "n_hidden": self.n_hidden, "hidden": list(self.hidden),
                "corruption": self.corruption, "noise": self.noise, "hidden_noise": self.hidden_noise,
                "likelihood": self.likelihood, "activation": self.activation,
                "variance": self.fixed_variance}

    @classmethod
    def from_settings(cls, settings):
        return cls(settings["n_visible"], settings["n_hidden"], hidden=tuple(settings["hidden"]),
                   corruption=settings["corruption"], noise=settings["noise"],
                   hidden_noise=settings["hidden_noise"], likelihood=settings["likelihood"],
                   activation=settings["activation"], variance=settings.get("variance"))

    def save(self, path):
        """Write settings and parameters to ``path``; read with :func:`pgm.load`."""
        from .io.persist import save_model

        save_model(self, path)

    def __repr__(self):
        return (f"GSN(n_visible={self.n_visible}, n_hidden={self.n_hidden}, corruption={self.corruption!r}, "
                f"noise={self.noise}, hidden_noise={self.hidden_noise}, likelihood={self.likelihood!r})")

    # ------------------------------------------------------------------ the chain
    def _noise_parts(self):
        D, H = self.n_visible, self.n_hidden
        parts = [("normal" if self.corruption == "gaussian" else "uniform", "corruption", D)]
        if self.hidden_noise > 0:
            parts.append(("normal", "hidden", H))
        parts.append(("normal" if self.likelihood == "gaussian" else "uniform", "reconstruction", D))
        return parts

    def _state(self, s, name="state"):
        s = as_batch(s, self.chain_width, name)[0]
        self._visible(s[:, :self.n_visible], f"{name} (visible columns)")
        return s

    def chain_init(self, x):
        """Chain states ``[x, 0]`` from visible states ``(n, D)``, or full states ``(n, D + H)``
        checked and copied."""
        arr = np.asarray(x)
        if arr.ndim == 2 and arr.shape[1] == self.chain_width:
            return np.array(self._state(arr), dtype=np.float64)
        x = self._visible(x)
        return np.concatenate([x, np.zeros((x.shape[0], self.n_hidden))], axis=1)

    def hidden_step(self, x_tilde, h, eta=None):
        """``tanh([x̃, h] A + c) + τ η`` (``η`` standard normals ``(n, H)``, needed when τ > 0)."""
        a = np.asarray(self.transition.forward(np.concatenate([x_tilde, h], axis=1)), dtype=np.float64)
        return a if self.hidden_noise == 0 else a + self.hidden_noise * eta

    def reconstruction_params(self, h):
        """Means (Gaussian) or logits (Bernoulli) of ``p(x | h)``, ``(n, D)``."""
        h = as_batch(h, self.n_hidden, "h")[0]
        return np.asarray(self.decoder.forward(h), dtype=np.float64)

    def log_reconstruction(self, x, h):
        """``log p(x | h)`` per row."""
        x = self._visible(x)
        return self._log_p(x, self.reconstruction_params(h))[0]

    def chain_step(self, state, noise, clamp=None):
        """One transition ``(x, h) → (x', h')`` of every row (``state`` ``(n, D + H)``), a
        deterministic function of ``noise`` (:meth:`chain_noise_shapes`); ``clamp`` (mask or
        indices over the visible units) keeps those visible units fixed."""
        s = self._state(state)
        mask = clamp_mask(clamp, self.n_visible)
        return self._step(s, self._split(noise, s.shape[0]), mask)

    def _step(self, s, parts, mask):
        D = self.n_visible
        x, h = s[:, :D], s[:, D:]
        h1 = self.hidden_step(self._corrupt(x, parts["corruption"]), h, parts.get("hidden"))
        out = np.asarray(self.decoder.forward(h1), dtype=np.float64)
        r = parts["reconstruction"]
        x1 = self._sample(out, r, r)
        if mask is not None:
            x1[:, mask] = x[:, mask]
        return np.concatenate([x1, h1], axis=1)

    # ------------------------------------------------------------------ walk-back training
    def walkback_noise_shapes(self, n, steps):
        """Noise of :meth:`walkback_loss_and_grad`: ``{kind: (steps, n, width)}``."""
        return {k: (int(steps),) + s for k, s in self.chain_noise_shapes(n).items()}

    def walkback_loss_and_grad(self, x, noise, steps, need_grad=True):
        """Walk-back loss ``−(1/k) Σ_{t=1..k} mean_rows log p(x | h_t)`` of the chain unrolled from
        ``(x, h_0 = 0)`` with the given noise (:meth:`walkback_noise_shapes`), and its gradient
        (back-propagated through the deterministic path ``h_{t−1} → h_t``; the sampled visibles
        ``x_t`` are constants).  Returns ``(loss, grads or None, stats)``."""
        x = self._visible(x)
        n, D, k = x.shape[0], self.n_visible, int(steps)
        shapes = self.walkback_noise_shapes(n, k)
        arrays = {kind: _noise_array(noise, kind, shapes[kind], "noise") for kind in shapes}
        h = np.zeros((n, self.n_hidden))
        xc = x
        caches, total, glv = [], 0.0, 0.0
        for t in range(k):
            parts = self._split({kind: arrays[kind][t] for kind in arrays}, n)
            inp = np.concatenate([self._corrupt(xc, parts["corruption"]), h], axis=1)
            a, tcache = self.transition.forward_cache(inp)
            h = np.asarray(a, np.float64) + (self.hidden_noise * parts["hidden"] if self.hidden_noise else 0.0)
            out, dcache = self.decoder.forward_cache(h)
            out = np.asarray(out, np.float64)
            lp, g_out, g_lv = self._log_p(x, out)
            total += float(lp.mean())
            if g_lv is not None:
                glv += float(g_lv.mean())
            caches.append((tcache, dcache, g_out))
            if t < k - 1:
                r = parts["reconstruction"]
                xc = self._sample(out, r, r)
        loss = -total / k
        if not need_grad:
            return loss, None, {}
        grads = {name: np.zeros(np.shape(v)) for name, v in self.params.items()}
        g_h = np.zeros((n, self.n_hidden))
        scale = -1.0 / (k * n)
        for tcache, dcache, g_out in reversed(caches):
            gh_dec, gd = _backward(self.decoder, dcache, scale * g_out, need_x=True)
            g_h = g_h + np.asarray(gh_dec, np.float64)
            g_in, gt = _backward(self.transition, tcache, g_h, need_x=True)
            g_h = np.asarray(g_in, np.float64)[:, D:]
            for name, v in gd.items():
                grads[f"decoder.{name}"] += v
            for name, v in gt.items():
                grads[f"transition.{name}"] += v
        if self.log_var is not None:
            grads["log_var"] = np.array(-glv / k)
        return loss, grads, {}
