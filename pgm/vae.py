"""Variational autoencoder (SPEC.md §5, "VAE"; Kingma & Welling 2014, Rezende et al. 2014).

Generative model: prior ``p(z) = N(0, I)`` over ``n_latent`` real latents and a decoder network
``g(z)`` that parametrises the visible units,

* ``likelihood="bernoulli"``: ``p(x | z) = Π_d Bernoulli(x_d; σ(g_d(z)))`` (``g`` gives logits),
  ``log p(x | z) = Σ_d [log σ(g_d) − (1 − x_d) g_d]``;
* ``likelihood="gaussian"``: ``p(x | z) = N(x; g(z), diag exp(λ))`` with ``g`` the means and a
  *learned* per-dimension log-variance ``λ`` (the parameter ``"decoder_log_var"``, initialised
  to 0), ``log p(x | z) = −½ Σ_d [log 2π + λ_d + (x_d − g_d)² e^{−λ_d}]``.

Recognition model (encoder): ``q(z | x) = N(μ(x), diag σ²(x))``, one network ``x ↦ (μ, log σ²)``
with ``2·n_latent`` linear outputs (the first ``n_latent`` are ``μ``).  With
``z = μ + σ ⊙ ε``, ``ε ~ N(0, I)`` (the reparametrisation), the bounds on ``log p(x)`` are

* the ELBO ``E_q[log p(x | z)] − KL(q(z | x) ‖ p(z))`` with the analytic Gaussian KL
  ``½ Σ_j (μ_j² + σ_j² − 1 − log σ_j²)`` (:meth:`VAE.elbo`);
* the importance-weighted bound ``log (1/k) Σ_j p(x, z_j) / q(z_j | x)`` (IWAE; Burda et al.
  2016), which increases with ``k`` to ``log p(x)`` (:meth:`VAE.iwae_bound`, evaluated in chunks
  of draws so that ``k`` in the thousands runs in bounded memory).

Learning protocol (what :class:`estimators.ELBO` uses), vector–Jacobian products in the style of
reverse-mode automatic differentiation:

* ``encode_vjp(x) -> (μ, log σ², vjp)``, ``vjp(∂ℓ/∂μ, ∂ℓ/∂log σ²) -> {"encoder.W1": …}``;
* ``log_likelihood_vjp(x, z) -> (log p(x | z), vjp)``, ``vjp(w) -> (Σ w ∂ log p/∂z per draw,
  {"decoder.W1": …, "decoder_log_var": …})`` — ``z`` may carry leading sample axes
  ``(…, n, n_latent)``.

Ancestral sampling follows the directed-model noise protocol of :func:`samplers.ancestral`:
``z = ε_z`` (prior draws) and then ``x_d = [u_d < σ(g_d(z))]`` (Bernoulli; noise
``{"normal": (n, n_latent), "uniform": (n, n_visible)}``) or ``x = g(z) + e^{λ/2} ⊙ ε_x``
(Gaussian; noise ``{"normal": (n, n_latent + n_visible)}``, the latent columns first).
"""

import numbers

import numpy as np

from ._validation import as_batch, as_float_array, check_params, positive_int
from .errors import CardinalityError, EvidenceError
from .network import Network, check_network, log_sigmoid, prefixed, sigmoid

__all__ = ["VAE"]

_LOG_2PI = float(np.log(2.0 * np.pi))
#: draws × rows × widest layer evaluated at once by the bounds (bounds temporary memory)
_CHUNK_ELEMENTS = 2**22
LIKELIHOODS = ("bernoulli", "gaussian")


def _backward(net, cache, grad_y, need_x):
    """``net.backward`` (``need_x`` only for :class:`pgm.Network`; user networks may lack it)."""
    if isinstance(net, Network):
        return net.backward(cache, grad_y, need_x=need_x)
    return net.backward(cache, grad_y)


class VAE:
    """Variational autoencoder: Gaussian encoder ``q(z|x)``, Bernoulli or Gaussian decoder
    ``p(x|z)``, prior ``N(0, I)``.

    Parameters
    ----------
    n_visible : int
        Data width ``D``.
    n_latent : int
        Latent width ``L``.
    hidden : sequence of int
        Hidden widths of the encoder ``D → hidden → 2L``; the decoder mirrors them
        ``L → reversed(hidden) → D``.  ``()`` gives linear networks.
    likelihood : {"bernoulli", "gaussian"}
        Decoder distribution (binary data, or real data with a learned per-dimension variance).
    activation : {"tanh", "softplus", "sigmoid", "swish"}
        Hidden activation of both networks (outputs are linear).
    seed : int, Generator or None
        Initial weights (see :class:`pgm.Network`).
    encoder, decoder : network, optional
        User networks following the :class:`pgm.Network` protocol, mapping ``D → 2L`` and
        ``L → D`` (checked by :func:`pgm.network.check_network`); they replace the built ones
        (``hidden``/``activation`` are then only recorded).  :meth:`settings` and :meth:`save`
        need :class:`pgm.Network` instances.

    Attributes
    ----------
    encoder, decoder : networks
    decoder_log_var : array (D,) or None
        Gaussian decoder log-variances ``λ`` (learned); None for a Bernoulli decoder.

    Examples
    --------
    >>> import numpy as np
    >>> from pgm.vae import VAE
    >>> vae = VAE(6, 2, hidden=(8,), seed=0)
    >>> x = np.random.default_rng(0).integers(0, 2, (5, 6))
    >>> mu, log_var = vae.encode(x)
    >>> mu.shape, vae.decode(mu).shape, vae.iwae_bound(x, k=50, seed=0).shape
    ((5, 2), (5, 6), (5,))
    >>> sorted(vae.params)[:3]
    ['decoder.W1', 'decoder.W2', 'decoder.b1']
    """

    def __init__(self, n_visible, n_latent, hidden=(64,), likelihood="bernoulli", activation="tanh",
                 seed=None, encoder=None, decoder=None):
        self.n_visible = positive_int(n_visible, "n_visible")
        self.n_latent = positive_int(n_latent, "n_latent")
        hidden = (hidden,) if isinstance(hidden, numbers.Integral) else tuple(hidden)
        self.hidden = tuple(positive_int(h, "every hidden width") for h in hidden)
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
        self.likelihood, self.activation = likelihood, activation
        D, L = self.n_visible, self.n_latent
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        if encoder is None:
            encoder = Network((D,) + self.hidden + (2 * L,), activation=activation, output="linear",
                              seed=rng)
        else:
            check_network(encoder, D, 2 * L, "encoder")
        if decoder is None:
            decoder = Network((L,) + self.hidden[::-1] + (D,), activation=activation, output="linear",
                              seed=rng)
        else:
            check_network(decoder, L, D, "decoder")
        self.encoder, self.decoder = encoder, decoder
        self.decoder_log_var = np.zeros(D) if likelihood == "gaussian" else None

    # ------------------------------------------------------------------ description
    @property
    def domain(self):
        """``(0, 1)`` for a Bernoulli decoder (binary data), None for a Gaussian one (ℝ^D)."""
        return (0, 1) if self.likelihood == "bernoulli" else None

    @property
    def n_variables(self):
        return self.n_visible

    @property
    def params(self):
        """Name → the model's own arrays: ``"encoder.W1", …, "decoder.W1", …`` and, for a
        Gaussian decoder, ``"decoder_log_var"`` (updated in place by :meth:`set_params`)."""
        out = {**prefixed(self.encoder.params, "encoder"), **prefixed(self.decoder.params, "decoder")}
        if self.decoder_log_var is not None:
            out["decoder_log_var"] = self.decoder_log_var
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
        checked = check_params(own, values)
        parts = {"encoder": {}, "decoder": {}}
        for name, arr in checked.items():
            if name == "decoder_log_var":
                self.decoder_log_var[...] = arr
            else:
                net, _, sub = name.partition(".")
                parts[net][sub] = arr
        if parts["encoder"]:
            self.encoder.set_params(**parts["encoder"])
        if parts["decoder"]:
            self.decoder.set_params(**parts["decoder"])

    def settings(self):
        """Constructor settings (JSON-able), including both networks' settings.

        Raises ``TypeError`` when a network is not a :class:`pgm.Network` (a user network has no
        settings this class could rebuild it from)."""
        for what, net in (("encoder", self.encoder), ("decoder", self.decoder)):
            if not isinstance(net, Network):
                raise TypeError(f"cannot describe a VAE whose {what} is a {type(net).__name__} "
                                "(settings and save need pgm.Network encoder and decoder)")
        return {"n_visible": self.n_visible, "n_latent": self.n_latent, "hidden": list(self.hidden),
                "likelihood": self.likelihood, "activation": self.activation,
                "encoder": self.encoder.settings(), "decoder": self.decoder.settings()}

    @classmethod
    def from_settings(cls, settings):
        return cls(settings["n_visible"], settings["n_latent"], hidden=tuple(settings["hidden"]),
                   likelihood=settings["likelihood"], activation=settings["activation"],
                   encoder=Network.from_settings(settings["encoder"]),
                   decoder=Network.from_settings(settings["decoder"]))

    def save(self, path):
        """Write settings and parameters to ``path`` (``.npz`` + JSON, no pickle); read with
        :func:`pgm.load`."""
        from .io.persist import save_model

        save_model(self, path)

    def __repr__(self):
        return (f"VAE(n_visible={self.n_visible}, n_latent={self.n_latent}, hidden={self.hidden}, "
                f"likelihood={self.likelihood!r}, activation={self.activation!r})")

    # ------------------------------------------------------------------ validation helpers
    def _x(self, x, name="x"):
        return as_batch(x, self.n_visible, name, binary=self.likelihood == "bernoulli")

    def _z(self, z, name="z"):
        z = as_float_array(z, name)
        if z.ndim == 0 or z.shape[-1] != self.n_latent:
            raise CardinalityError(f"{name} must have shape (..., n, {self.n_latent}), got {z.shape}")
        if not np.all(np.isfinite(z)):
            raise EvidenceError(f"{name} must be finite, found {z[~np.isfinite(z)].flat[0]!r}")
        return z

    def _pair(self, x, z):
        """Validated ``x (n, D)``, ``z`` broadcast to ``(…, m, L)`` against the rows of ``x``, and
        whether both were single rows."""
        x, one_x = self._x(x)
        z = self._z(z)
        one = one_x and z.ndim == 1
        lead = z.shape[:-1] if z.ndim > 1 else (1,)
        try:
            shape = np.broadcast_shapes(lead, (x.shape[0],))
        except ValueError:
            raise CardinalityError(f"z of shape {z.shape} does not match the {x.shape[0]} rows of x "
                                   f"(expected (..., {x.shape[0]}, {self.n_latent}))") from None
        return x, np.broadcast_to(z, shape + (self.n_latent,)), one

    def _width(self):
        sizes = getattr(self.decoder, "sizes", None) or (self.n_latent, self.n_visible)
        esizes = getattr(self.encoder, "sizes", None) or (self.n_visible,)
        return max(max(sizes), max(esizes), 1)

    # ------------------------------------------------------------------ encoder
    def _split(self, y):
        y = np.asarray(y, dtype=np.float64)
        return y[:, :self.n_latent], y[:, self.n_latent:]

    def encode(self, x):
        """``(μ(x), log σ²(x))`` of ``q(z | x)``: two arrays ``(n, L)`` (``(L,)`` for one row)."""
        x, one = self._x(x)
        mu, log_var = self._split(self.encoder.forward(x))
        return (mu[0], log_var[0]) if one else (mu, log_var)

    def encode_vjp(self, x):
        """``(μ, log σ², vjp)`` for a batch ``x``; ``vjp(grad_mu, grad_log_var)`` returns the
        encoder-parameter gradients ``Σ_rows (grad_mu · ∂μ/∂θ + grad_log_var · ∂log σ²/∂θ)`` keyed
        ``"encoder.W1", …`` (float64).  ``μ`` and ``log σ²`` are always ``(n, L)``."""
        x, _ = self._x(x)
        y, cache = self.encoder.forward_cache(x)
        mu, log_var = self._split(y)
        n, L = x.shape[0], self.n_latent

        def vjp(grad_mu, grad_log_var):
            g = np.empty((n, 2 * L))
            g[:, :L] = grad_mu
            g[:, L:] = grad_log_var
            _, grads = _backward(self.encoder, cache, g, need_x=False)
            return prefixed({k: np.asarray(v, dtype=np.float64) for k, v in grads.items()}, "encoder")

        return mu, log_var, vjp

    def kl(self, x):
        """Analytic ``KL(q(z|x) ‖ N(0, I)) = ½ Σ_j (μ_j² + σ_j² − 1 − log σ_j²)`` per row."""
        mu, log_var = self.encode(x)
        return 0.5 * np.sum(mu * mu + np.exp(log_var) - 1.0 - log_var, axis=-1)

    def log_q(self, z, x):
        """``log q(z | x)`` (``z`` of shape ``(…, n, L)`` against the ``n`` rows of ``x``)."""
        x, z, one = self._pair(x, z)
        mu, log_var = self._split(self.encoder.forward(x))
        r = (z - mu) ** 2 * np.exp(-log_var)
        lq = -0.5 * np.sum(_LOG_2PI + log_var + r, axis=-1)
        return float(lq.reshape(-1)[0]) if one else lq

    # ------------------------------------------------------------------ decoder
    def _decoder_out(self, z, cache=False):
        """Decoder outputs (logits or means) of ``z (…, L)`` → ``(…, D)`` (+ the cache)."""
        flat = np.ascontiguousarray(z, dtype=np.float64).reshape(-1, self.n_latent)
        if cache:
            out, c = self.decoder.forward_cache(flat)
        else:
            out, c = self.decoder.forward(flat), None
        out = np.asarray(out, dtype=np.float64).reshape(z.shape[:-1] + (self.n_visible,))
        return out, c

    def _log_lik(self, x, out, need_grad=False):
        """``log p(x | out)`` summed over pixels (``out`` broadcasts against ``x``) and, with
        ``need_grad``, ``∂/∂out`` and ``∂/∂λ`` elementwise."""
        if self.likelihood == "bernoulli":
            ll = np.sum(log_sigmoid(out) - (1.0 - x) * out, axis=-1)
            return (ll, x - sigmoid(out), None) if need_grad else ll
        lam = self.decoder_log_var
        prec = np.exp(-lam)
        r = x - out
        r2p = r * r * prec
        ll = -0.5 * np.sum(_LOG_2PI + lam + r2p, axis=-1)
        return (ll, r * prec, 0.5 * (r2p - 1.0)) if need_grad else ll

    def decode(self, z):
        """Decoder means: ``p(x_d = 1 | z) = σ(g_d(z))`` (Bernoulli) or ``E[x | z] = g(z)``
        (Gaussian); shape ``z.shape[:-1] + (D,)``."""
        z = self._z(z)
        out, _ = self._decoder_out(z)
        return sigmoid(out) if self.likelihood == "bernoulli" else out

    def log_likelihood(self, x, z):
        """``log p(x | z)`` (``z`` of shape ``(…, n, L)`` against the ``n`` rows of ``x``, or one
        row of ``x`` against many ``z``): shape ``(…, n)``, a float for one ``x`` and one ``z``."""
        x, z, one = self._pair(x, z)
        ll = self._log_lik(x, self._decoder_out(z)[0])
        return float(ll.reshape(-1)[0]) if one else ll

    def log_likelihood_vjp(self, x, z):
        """``(log p(x | z), vjp)`` with ``z`` of shape ``(…, n, L)``; ``vjp(w)`` (``w`` shaped like
        the values, or a scalar) returns ``(∂/∂z Σ w log p(x|z)`` of shape ``(…, n, L)``,
        decoder-parameter gradients of ``Σ w log p(x|z)`` keyed ``"decoder.W1", …`` and
        ``"decoder_log_var"``)."""
        x, z, _ = self._pair(x, z)
        out, cache = self._decoder_out(z, cache=True)
        ll, g_out, g_lam = self._log_lik(x, out, need_grad=True)

        def vjp(weights):
            w = np.broadcast_to(np.asarray(weights, dtype=np.float64), ll.shape)[..., None]
            gx, grads = _backward(self.decoder, cache, (w * g_out).reshape(-1, self.n_visible),
                                  need_x=True)
            out_grads = prefixed({k: np.asarray(v, dtype=np.float64) for k, v in grads.items()},
                                 "decoder")
            if g_lam is not None:
                out_grads["decoder_log_var"] = np.sum(w * g_lam, axis=tuple(range(ll.ndim)))
            return np.asarray(gx, dtype=np.float64).reshape(z.shape), out_grads

        return ll, vjp

    def log_prior(self, z):
        """``log N(z; 0, I)`` over the last axis."""
        z = self._z(z)
        return -0.5 * np.sum(z * z + _LOG_2PI, axis=-1)

    def log_joint(self, x, z):
        """``log p(x, z) = log p(x | z) + log p(z)``: shape ``(…, n)`` (see :meth:`log_likelihood`)."""
        x, z, one = self._pair(x, z)
        lj = self._log_lik(x, self._decoder_out(z)[0]) - 0.5 * np.sum(z * z + _LOG_2PI, axis=-1)
        return float(lj.reshape(-1)[0]) if one else lj

    # ------------------------------------------------------------------ bounds
    def elbo(self, x, seed=None, samples=1):
        """Reparametrised ELBO estimate per row: ``(1/S) Σ_s log p(x | μ + σ ε_s) − KL(q ‖ p)``
        with ``ε ~ N(0, I)`` of shape ``(samples, n, L)`` drawn from ``seed`` (the same draws as
        :class:`estimators.ELBO` with ``k=1`` for the same seed).

        Examples
        --------
        >>> from pgm.vae import VAE
        >>> vae = VAE(4, 1, hidden=(3,), seed=0)
        >>> bool(vae.elbo([1, 0, 0, 1], seed=0, samples=100) <= vae.iwae_bound([1, 0, 0, 1], 2000, seed=0))
        True
        """
        x, one = self._x(x)
        samples = positive_int(samples, "samples")
        mu, log_var = self._split(self.encoder.forward(x))
        eps = np.random.default_rng(seed).standard_normal((samples,) + mu.shape)
        z = mu + np.exp(0.5 * log_var) * eps
        rec = self._log_lik(x, self._decoder_out(z)[0]).mean(axis=0)
        kl = 0.5 * np.sum(mu * mu + np.exp(log_var) - 1.0 - log_var, axis=-1)
        out = rec - kl
        return float(out[0]) if one else out

    def iwae_bound(self, x, k, seed=None):
        """Importance-weighted bound ``log (1/k) Σ_j p(x, z_j) / q(z_j | x)``, ``z_j ~ q(z | x)``,
        per row (``k = 1``: a one-sample ELBO estimate with the KL sampled too).  It increases with
        ``k`` towards ``log p(x)``.  The draws are evaluated in chunks (memory
        ``O(rows × chunk × width)``, independent of ``k``); ``ε`` of shape ``(k, n, L)`` comes
        from ``seed`` (the draws of :class:`estimators.ELBO` with that ``k`` and ``samples=1``).
        """
        x, one = self._x(x)
        k = positive_int(k, "k")
        mu, log_var = self._split(self.encoder.forward(x))
        sigma = np.exp(0.5 * log_var)
        n = x.shape[0]
        chunk = int(max(1, min(k, _CHUNK_ELEMENTS // (n * self._width()))))
        rng = np.random.default_rng(seed)
        m = np.full(n, -np.inf)
        acc = np.zeros(n)
        half_lv = 0.5 * np.sum(log_var, axis=-1)
        for start in range(0, k, chunk):
            eps = rng.standard_normal((min(chunk, k - start), n, self.n_latent))
            z = mu + sigma * eps
            # log p(x|z) + log p(z) − log q(z|x), the log 2π terms cancelling
            lw = self._log_lik(x, self._decoder_out(z)[0]) \
                - 0.5 * np.sum(z * z - eps * eps, axis=-1) + half_lv
            top = np.maximum(m, lw.max(axis=0))
            acc = acc * np.exp(m - top) + np.exp(lw - top).sum(axis=0)
            m = top
        out = m + np.log(acc) - np.log(k)
        return float(out[0]) if one else out

    def reconstruct(self, x, seed=None, mean=False):
        """Decoder means of ``z ~ q(z | x)`` (one draw per row from ``seed``; ``mean=True``:
        ``z = μ(x)``): probabilities (Bernoulli) or means (Gaussian), shaped like ``x``."""
        x, one = self._x(x)
        mu, log_var = self._split(self.encoder.forward(x))
        z = mu if mean else mu + np.exp(0.5 * log_var) * \
            np.random.default_rng(seed).standard_normal(mu.shape)
        out, _ = self._decoder_out(z)
        p = sigmoid(out) if self.likelihood == "bernoulli" else out
        return p[0] if one else p

    # ------------------------------------------------------------------ ancestral sampling
    def noise_shapes(self, n):
        """Noise for ``n`` ancestral samples: ``{"normal": (n, L), "uniform": (n, D)}`` (Bernoulli)
        or ``{"normal": (n, L + D)}`` (Gaussian; latent columns first)."""
        n = positive_int(n, "number of samples")
        if self.likelihood == "bernoulli":
            return {"normal": (n, self.n_latent), "uniform": (n, self.n_visible)}
        return {"normal": (n, self.n_latent + self.n_visible)}

    def ancestral_pass(self, noise, layers=False):
        """Samples ``(n, D)`` (float64) from the noise of :meth:`noise_shapes`: ``z = ε_z``, then
        ``x ~ p(x | z)`` by inverse CDF (Bernoulli) or ``g(z) + e^{λ/2} ε_x`` (Gaussian).
        ``layers=True`` returns ``[x, z]``.

        Examples
        --------
        >>> import samplers
        >>> from pgm.vae import VAE
        >>> vae = VAE(5, 2, hidden=(4,), seed=0)
        >>> x = samplers.ancestral(vae, 3, seed=0)
        >>> x.shape, set(x.ravel()) <= {0.0, 1.0}
        ((3, 5), True)
        """
        if not isinstance(noise, dict) or "normal" not in noise:
            raise TypeError(f"noise must be a dict with a 'normal' array, got {type(noise).__name__}")
        L, D = self.n_latent, self.n_visible
        normal = as_float_array(noise["normal"], "noise['normal']")
        width = L if self.likelihood == "bernoulli" else L + D
        if normal.ndim != 2 or normal.shape[1] != width:
            raise CardinalityError(f"noise['normal'] must have shape (n, {width}), got {normal.shape}")
        z = normal[:, :L]
        out, _ = self._decoder_out(z)
        if self.likelihood == "bernoulli":
            if "uniform" not in noise:
                raise TypeError("a Bernoulli VAE needs noise['uniform'] of shape (n, n_visible)")
            u = as_float_array(noise["uniform"], "noise['uniform']")
            if u.shape != (normal.shape[0], D):
                raise CardinalityError(f"noise['uniform'] must have shape {(normal.shape[0], D)}, "
                                       f"got {u.shape}")
            x = (u < sigmoid(out)).astype(np.float64)
        else:
            x = out + np.exp(0.5 * self.decoder_log_var) * normal[:, L:]
        return [x, np.array(z)] if layers else x
