"""Boltzmann machines of the conditional covariance of real data: the mean-covariance RBM
(mcRBM, Ranzato & Hinton 2010) and the mean product of Student's t (mPoT, Ranzato, Mnih &
Hinton 2010) — SPEC.md §5 ("mcRBM, mPoT ... model conditional covariance; mcRBM and mPoT need
HMC for sampling v").

Both have real visibles ``v ∈ ℝ^D``, ``F`` factors ``s = Cᵀv`` (filters ``C (D, F)``) pooled by
``P (F, K)`` into ``K`` covariance ("precision") hidden units, and ``M`` binary mean hidden units
with weights ``W (D, M)``.  Given the hiddens, ``v`` is Gaussian with a hidden-dependent
covariance, so Gibbs sampling of ``v`` needs a ``D × D`` factorisation per state; instead the
hidden units are summed (integrated) out analytically, which leaves a free energy ``F(v)`` over
``ℝ^D`` with an analytic gradient, and ``p(v) ∝ exp(−F(v))`` is sampled by HMC
(``samplers.sample(model, method="hmc")``: the models follow the continuous-model protocol of
``samplers/continuous.py`` — ``sampler_family = "continuous"``, ``dim``, ``energy = F``,
``grad_x``, ``energy_and_grad``).

mcRBM (:class:`MeanCovarianceRBM`), binary ``h^c ∈ {0,1}^K``, ``h^m ∈ {0,1}^M``, ``P ≤ 0``::

    E(v, h^c, h^m) = −½ Σ_k h^c_k Σ_f P_fk (C_fᵀv)² − b_cᵀh^c
                     + ½ vᵀv − b_vᵀv − vᵀW h^m − b_mᵀh^m
    F(v) = ½ vᵀv − b_vᵀv − Σ_k ζ(b_c,k + ½ Σ_f P_fk s_f²) − Σ_j ζ(b_m,j + W_jᵀv)

``p(h^c_k = 1 | v) = σ(b_c,k + ½ Σ_f P_fk s_f²)``, ``p(h^m_j = 1 | v) = σ(b_m,j + W_jᵀv)``,
``p(v | h) = N(Λ⁻¹(b_v + W h^m), Λ⁻¹)`` with ``Λ = I − C diag(P h^c) Cᵀ``.

mPoT (:class:`MPoT`), Gamma-distributed ``h^c ∈ (0, ∞)^K`` with shapes ``γ > 0``, ``P ≥ 0``::

    E(v, h^c, h^m) = Σ_k [h^c_k (1 + ½ Σ_f P_fk (C_fᵀv)²) + (1 − γ_k) log h^c_k]
                     + ½ vᵀv − b_vᵀv − vᵀW h^m − b_mᵀh^m
    F(v) = ½ vᵀv − b_vᵀv + Σ_k [γ_k log r_k − log Γ(γ_k)] − Σ_j ζ(b_m,j + W_jᵀv),
    r_k = 1 + ½ Σ_f P_fk s_f²

(``∫₀^∞ h^{γ−1} e^{−rh} dh = Γ(γ) r^{−γ}``); ``h^c_k | v ~ Gamma(γ_k, rate r_k)`` with mean
``γ_k / r_k``; without mean units the marginal is the product of Student-t experts
``Π_k r_k^{−γ_k}`` times the Gaussian; ``p(v | h) = N(Λ⁻¹(b_v + W h^m), Λ⁻¹)``,
``Λ = I + C diag(P h^c) Cᵀ``.

Normalisability.  The papers' models, both with the quadratic term ``½ vᵀv`` (identity
precision added to every conditional Gaussian) and a visible bias ``b_v`` (``b_v = 0`` gives
the published energies).  With the sign constraints (mcRBM ``P ≤ 0``: a covariance unit only
*adds* precision, so its softplus is bounded by ``ζ(b_c,k)``; mPoT ``P ≥ 0``, ``γ > 0``: the
covariance term grows like ``log‖v‖``) and the mean softplus growing at most linearly,
``½ vᵀv`` dominates and ``∫ e^{−F} < ∞``.  The constraints hold by construction: the learned
parameters are ``Q`` with ``P = −Q∘Q`` (mcRBM) or ``P = Q∘Q`` (mPoT), and ``log_gamma``, so
every finite parameter vector is a normalisable model and gradient training needs no
projection step (entries of ``Q`` that are 0 — those outside the default pooling pattern —
have zero gradient and stay 0: the pooling pattern is kept).  No input normalisation is needed
(the papers' image experiments additionally normalise ``v`` inside the covariance term).

Derivatives, with ``s = Cᵀv`` and ``t = ∂F_cov/∂s``
(mcRBM ``t = −(σ(a_c) Pᵀ) ∘ s``; mPoT ``t = ((γ/r) Pᵀ) ∘ s``) and ``p_m = σ(b_m + Wᵀv)``:
``∇ᵥF = v − b_v + C t − W p_m``; ``∂F/∂C = v tᵀ``, ``∂F/∂W = −v p_mᵀ``, ``∂F/∂b_m = −p_m``,
``∂F/∂b_v = −v``; mcRBM ``∂F/∂P_fk = −½ s_f² σ(a_c,k)``, ``∂F/∂b_c = −σ(a_c)``; mPoT
``∂F/∂P_fk = ½ s_f² γ_k/r_k``, ``∂F/∂γ_k = log r_k − ψ(γ_k)``; then ``∂F/∂Q = ∓2Q ∘ ∂F/∂P``
and ``∂F/∂log γ = γ ∘ ∂F/∂γ``.
"""

import numbers

import numpy as np
from scipy.special import digamma, gammaln

from ._layered import as_param, as_rng, sigmoid, softplus
from ._validation import as_batch, row_weights
from .errors import CardinalityError, EvidenceError, ModelError

__all__ = ["MeanCovarianceRBM", "MPoT"]


def _count(value, name, minimum=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _out(x, one):
    return x[0] if one else x


def _pooling(n_factors, n_hidden, sign):
    """Default pooling: factor ``f`` feeds covariance unit ``f mod K`` with weight ``sign``."""
    P = np.zeros((n_factors, n_hidden))
    P[np.arange(n_factors), np.arange(n_factors) % n_hidden] = sign
    return P


class _CovarianceModel:
    """Shared machinery: the Gaussian and mean parts, the protocol, parameters, persistence."""

    #: ``samplers.sample`` treats the model as an energy ``F(v)`` over ℝ^D (HMC, MALA, ...)
    sampler_family = "continuous"
    #: real visibles
    domain = None
    param_names = ()

    def _init_common(self, n_visible, n_factors, n_cov, n_mean, rng, values, P, sign):
        self.n_visible = _count(n_visible, "n_visible")
        self.n_factors = _count(n_factors, "n_factors")
        self._n_cov = n_cov
        self.n_mean_hidden = _count(n_mean, "n_mean_hidden", 0)
        d, f, m = self.n_visible, self.n_factors, self.n_mean_hidden
        if P is None:
            P = _pooling(f, n_cov, sign)
        P = as_param(P, (f, n_cov), "P", np.float64)
        if np.any(sign * P < 0):
            bad = float(P[sign * P < 0].flat[0])
            raise ModelError(f"P must be {'<= 0' if sign < 0 else '>= 0'} for a {type(self).__name__} "
                             f"(the density must stay normalisable), found {bad!r}")
        defaults = {"C": rng.standard_normal((d, f)) / np.sqrt(d), "Q": np.sqrt(np.abs(P)),
                    "W": 0.01 * rng.standard_normal((d, m))}
        shapes = self._shapes()
        for name in self.param_names:
            v = values.get(name)
            if v is None:
                v = defaults.get(name)
            setattr(self, name, as_param(v, shapes[name], name, np.float64))
        self._sign = float(sign)

    @property
    def P(self):
        """The pooling matrix ``P = ∓Q∘Q`` ``(F, K)`` (a new array; learn through ``Q``)."""
        return self._sign * self.Q * self.Q

    # ------------------------------------------------------------------ description
    @property
    def dim(self):
        """Number of real variables (``n_visible``): the continuous-sampler protocol."""
        return self.n_visible

    @property
    def params(self):
        """Name → the model's own parameter arrays (updated in place)."""
        return {k: getattr(self, k) for k in self.param_names}

    def set_params(self, **values):
        """Replace some parameters in place (all or nothing): an unknown name raises
        ``KeyError``, a wrong shape :class:`~pgm.errors.CardinalityError`, a non-finite value
        :class:`~pgm.errors.ModelError` (every finite value is a valid, normalisable model)."""
        shapes = self._shapes()
        unknown = set(values) - set(shapes)
        if unknown:
            raise KeyError(f"unknown parameters {sorted(unknown)}; expected {list(self.param_names)}")
        checked = {k: as_param(v, shapes[k], k, np.float64) for k, v in values.items()}
        for k, v in checked.items():
            getattr(self, k)[...] = v

    def save(self, path):
        """Write settings and parameters to ``path`` (``.npz`` + JSON, no pickle); read with
        :func:`pgm.load`."""
        from .io.persist import save_model

        save_model(self, path)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.settings().items())
        return f"{type(self).__name__}({args})"

    # ------------------------------------------------------------------ input checks
    def _v(self, v):
        return as_batch(v, self.n_visible, "v", np.float64)

    # ------------------------------------------------------------------ free energy
    def _parts(self, v, grad_x):
        """``F(v)``, optionally ``∇ᵥF``, and the pieces the parameter gradients reuse."""
        s = v @ self.C
        fc, t, aux = self._cov(s)
        am = v @ self.W + self.b_m
        pm = sigmoid(am)
        f = 0.5 * (v * v).sum(1) - v @ self.b_v + fc - softplus(am).sum(1)
        g = v - self.b_v + t @ self.C.T - pm @ self.W.T if grad_x else None
        return f, g, (s, t, pm, aux)

    def free_energy(self, v):
        """``F(v) = −log Σ_h e^{−E(v,h)}`` (hiddens summed / integrated out) per row."""
        v, one = self._v(v)
        return _out(self._parts(v, False)[0], one)

    def energy(self, x):
        """``F(x)``: the energy of ``p(x) ∝ e^{−F(x)}`` (continuous-sampler protocol)."""
        return self.free_energy(x)

    def log_unnormalized(self, v):
        """``log p̃(v) = −F(v)``."""
        return -self.free_energy(v)

    def grad_x(self, x):
        """``∇ₓF(x) = x − b_v + C t − W σ(b_m + Wᵀx)`` per row: shape ``(n, D)``."""
        x, one = self._v(x)
        return _out(self._parts(x, True)[1], one)

    def energy_and_grad(self, x):
        """``(F(x), ∇ₓF(x))`` in one pass."""
        x, one = self._v(x)
        f, g, _ = self._parts(x, True)
        return _out(f, one), _out(g, one)

    def grad_free_energy(self, v, weights=None):
        """``Σ_k w_k ∂F(v_k)/∂θ`` (default ``w_k = 1/n``: the batch mean), float64 arrays keyed
        like :attr:`params`."""
        v, _ = self._v(v)
        w = row_weights(weights, v.shape[0])
        _, _, (s, t, pm, aux) = self._parts(v, False)
        wv = v * w[:, None]
        g = {"C": wv.T @ t, "W": -(wv.T @ pm), "b_m": -(w @ pm), "b_v": -wv.sum(0)}
        g.update(self._cov_param_grads(s, aux, w))
        g["Q"] = 2.0 * self._sign * self.Q * g.pop("P")
        return {k: g[k] for k in self.param_names}

    def grad_energy(self, x, weights=None):
        """Same as :meth:`grad_free_energy` (the energy of the sampled density is ``F``)."""
        return self.grad_free_energy(x, weights)

    # ------------------------------------------------------------------ conditionals
    def conditional_hidden(self, v):
        """Means of the hiddens given ``v``: ``(E[h^c | v] (n, K), p(h^m = 1 | v) (n, M))``."""
        v, one = self._v(v)
        _, _, (s, t, pm, aux) = self._parts(v, False)
        return _out(self._cov_mean(aux), one), _out(pm, one)

    def conditional_visible(self, h_cov, h_mean):
        """``p(v | h) = N(Λ⁻¹(b_v + W h^m), Λ⁻¹)``: ``(mean (n, D), precision Λ (n, D, D))``."""
        hc, oc = self._h_cov(h_cov)
        hm, om = as_batch(h_mean, self.n_mean_hidden, "h_mean")
        if np.any((hm < 0) | (hm > 1)):
            raise EvidenceError(f"h_mean must lie in [0, 1], found {hm[(hm < 0) | (hm > 1)].flat[0]!r}")
        n = max(hc.shape[0], hm.shape[0])
        if {hc.shape[0], hm.shape[0]} - {1, n}:
            raise CardinalityError(f"h_cov has {hc.shape[0]} rows but h_mean has {hm.shape[0]}")
        d = self._precision_weights(hc)                        # (·, F), ≥ 0
        lam = np.eye(self.n_visible) + np.einsum("if,nf,jf->nij", self.C, d, self.C)
        lam = np.broadcast_to(lam, (n,) + lam.shape[1:])
        rhs = np.broadcast_to(self.b_v + hm @ self.W.T, (n, self.n_visible))
        mean = np.linalg.solve(lam, rhs[..., None])[..., 0]
        return _out(mean, oc and om), _out(np.array(lam), oc and om)

    def joint_energy(self, v, h_cov, h_mean):
        """``E(v, h^c, h^m)`` of the module docstring, per row (rows broadcast from one)."""
        (v, ov), (hc, oc) = self._v(v), self._h_cov(h_cov)
        hm, om = as_batch(h_mean, self.n_mean_hidden, "h_mean")
        n = max(v.shape[0], hc.shape[0], hm.shape[0])
        if {v.shape[0], hc.shape[0], hm.shape[0]} - {1, n}:
            raise CardinalityError(f"v, h_cov, h_mean have {v.shape[0]}, {hc.shape[0]}, {hm.shape[0]} rows")
        s = v @ self.C
        e = (0.5 * (v * v).sum(1) - v @ self.b_v - ((v @ self.W) * hm).sum(1) - hm @ self.b_m
             + self._cov_joint(s, hc))
        return _out(np.broadcast_to(e, (n,)).copy(), ov and oc and om)


class MeanCovarianceRBM(_CovarianceModel):
    """Mean-covariance RBM (Ranzato & Hinton 2010): real ``v``, binary covariance and mean hiddens.

    ``F(v) = ½vᵀv − b_vᵀv − Σ_k ζ(b_c,k + ½ Σ_f P_fk (C_fᵀv)²) − Σ_j ζ(b_m,j + W_jᵀv)``
    (energy and conditionals in the module docstring).

    Parameters
    ----------
    n_visible, n_factors, n_covariance_hidden : int ≥ 1
        ``D``, ``F``, ``K``.
    n_mean_hidden : int ≥ 0
        ``M`` (0: the covariance-only cRBM).
    C, P, b_c, W, b_m, b_v : array_like, optional
        Filters ``(D, F)`` (default ``N(0, 1/D)``), pooling ``(F, K)`` with every entry ``≤ 0``
        (default: factor ``f`` into unit ``f mod K`` with weight −1), covariance biases ``(K,)``
        (default 0), mean weights ``(D, M)`` (default ``N(0, 0.01²)``), mean biases ``(M,)``,
        visible biases ``(D,)`` (default 0).
    seed : int, Generator or None

    Attributes
    ----------
    params : dict
        ``C, Q, b_c, W, b_m, b_v`` (the model's own arrays); ``Q (F, K)`` is learned in place of
        ``P = −Q∘Q`` (read-only attribute :attr:`P`), so ``P ≤ 0`` whatever the update.

    Examples
    --------
    >>> import numpy as np, pgm
    >>> m = pgm.MeanCovarianceRBM(2, 2, 2, 1, C=np.eye(2), P=-np.eye(2), W=[[1.0], [0.0]])
    >>> round(float(m.free_energy([0.0, 0.0])), 6)        # −3 ζ(0) = −3 log 2
    -2.079442
    >>> m.grad_x([[0.0, 0.0]]).tolist()                   # −W σ(0)
    [[-0.5, 0.0]]
    >>> hc, hm = m.conditional_hidden([1.0, 0.0])
    >>> round(float(hc[0]), 6), round(float(hm[0]), 6)    # σ(−½), σ(1)
    (0.377541, 0.731059)
    """

    param_names = ("C", "Q", "b_c", "W", "b_m", "b_v")

    def __init__(self, n_visible, n_factors, n_covariance_hidden, n_mean_hidden, C=None, P=None,
                 b_c=None, W=None, b_m=None, b_v=None, seed=None):
        n_cov = _count(n_covariance_hidden, "n_covariance_hidden")
        self._init_common(n_visible, _count(n_factors, "n_factors"), n_cov, n_mean_hidden, as_rng(seed),
                          {"C": C, "b_c": b_c, "W": W, "b_m": b_m, "b_v": b_v}, P, -1.0)

    @property
    def n_covariance_hidden(self):
        return self._n_cov

    def _shapes(self):
        d, f, k, m = self.n_visible, self.n_factors, self._n_cov, self.n_mean_hidden
        return {"C": (d, f), "Q": (f, k), "b_c": (k,), "W": (d, m), "b_m": (m,), "b_v": (d,)}

    def settings(self):
        """Constructor settings (JSON-able)."""
        return {"n_visible": self.n_visible, "n_factors": self.n_factors,
                "n_covariance_hidden": self._n_cov, "n_mean_hidden": self.n_mean_hidden}

    @classmethod
    def from_settings(cls, settings):
        return cls(settings["n_visible"], settings["n_factors"], settings["n_covariance_hidden"],
                   settings["n_mean_hidden"])

    def _cov(self, s):
        P = self.P
        ac = self.b_c + 0.5 * (s * s) @ P
        pc = sigmoid(ac)
        return -softplus(ac).sum(1), -(pc @ P.T) * s, pc

    def _cov_param_grads(self, s, pc, w):
        wpc = pc * w[:, None]
        return {"P": -0.5 * (s * s).T @ wpc, "b_c": -wpc.sum(0)}

    def _cov_mean(self, pc):
        return pc

    def _h_cov(self, h):
        h, one = as_batch(h, self._n_cov, "h_cov")
        if np.any((h < 0) | (h > 1)):
            raise EvidenceError(f"h_cov must lie in [0, 1], found {h[(h < 0) | (h > 1)].flat[0]!r}")
        return h, one

    def _precision_weights(self, hc):
        return -(hc @ self.P.T)

    def _cov_joint(self, s, hc):
        return -0.5 * ((s * s) @ self.P * hc).sum(1) - hc @ self.b_c


class MPoT(_CovarianceModel):
    """Mean product of Student's t (Ranzato, Mnih & Hinton 2010): real ``v``, Gamma covariance
    hiddens, binary mean hiddens.

    ``F(v) = ½vᵀv − b_vᵀv + Σ_k [γ_k log(1 + ½ Σ_f P_fk (C_fᵀv)²) − log Γ(γ_k)]
    − Σ_j ζ(b_m,j + W_jᵀv)`` (energy and conditionals in the module docstring).

    Parameters
    ----------
    n_visible, n_factors : int ≥ 1
        ``D``, ``F``.
    n_hidden : int ≥ 1
        ``K``, the Gamma-distributed covariance (precision) hidden units.
    n_mean_hidden : int ≥ 0, optional
        ``M``, the binary mean units (default ``n_hidden``; 0 gives the PoT with a Gaussian
        term).
    C, P, W, b_m, b_v : array_like, optional
        As :class:`MeanCovarianceRBM`, except that every entry of ``P`` must be ``≥ 0`` (default
        factor ``f`` into unit ``f mod K`` with weight +1).
    gamma : float or array_like (K,), default 1
        Gamma shapes ``γ > 0``.
    seed : int, Generator or None

    Attributes
    ----------
    params : dict
        ``C, Q, log_gamma, W, b_m, b_v`` (the model's own arrays): ``P = Q∘Q ≥ 0`` and
        ``γ = exp(log_gamma) > 0`` (read-only attributes :attr:`P`, :attr:`gamma`) whatever the
        update.

    Examples
    --------
    >>> import numpy as np, pgm
    >>> m = pgm.MPoT(1, 1, 1, 0, C=[[1.0]], gamma=2.0)
    >>> round(float(m.free_energy([2.0])), 6)        # ½·4 + 2 log(1 + 2) − log Γ(2)
    4.197225
    >>> m.grad_x([[2.0]]).round(6).tolist()          # 2 + (γ/r) s = 2 + (2/3)·2
    [[3.333333]]
    >>> round(float(m.conditional_hidden([2.0])[0][0]), 6)   # E[h^c | v] = γ / r
    0.666667
    """

    param_names = ("C", "Q", "log_gamma", "W", "b_m", "b_v")

    def __init__(self, n_visible, n_factors, n_hidden, n_mean_hidden=None, C=None, P=None,
                 gamma=1.0, W=None, b_m=None, b_v=None, seed=None):
        n_cov = _count(n_hidden, "n_hidden")
        n_mean = n_cov if n_mean_hidden is None else n_mean_hidden
        g = as_param(gamma, (n_cov,), "gamma", np.float64)
        if np.any(g <= 0):
            raise ModelError(f"gamma must be > 0, found {float(g[g <= 0].flat[0])!r}")
        self._init_common(n_visible, _count(n_factors, "n_factors"), n_cov, n_mean, as_rng(seed),
                          {"C": C, "log_gamma": np.log(g), "W": W, "b_m": b_m, "b_v": b_v}, P, 1.0)

    @property
    def gamma(self):
        """Gamma shapes ``exp(log_gamma)`` (a new array)."""
        return np.exp(self.log_gamma)

    @property
    def n_hidden(self):
        return self._n_cov

    def _shapes(self):
        d, f, k, m = self.n_visible, self.n_factors, self._n_cov, self.n_mean_hidden
        return {"C": (d, f), "Q": (f, k), "log_gamma": (k,), "W": (d, m), "b_m": (m,), "b_v": (d,)}

    def settings(self):
        """Constructor settings (JSON-able)."""
        return {"n_visible": self.n_visible, "n_factors": self.n_factors, "n_hidden": self._n_cov,
                "n_mean_hidden": self.n_mean_hidden}

    @classmethod
    def from_settings(cls, settings):
        return cls(settings["n_visible"], settings["n_factors"], settings["n_hidden"],
                   settings["n_mean_hidden"])

    def _cov(self, s):
        P, g = self.P, self.gamma
        r = 1.0 + 0.5 * (s * s) @ P
        log_r = np.log(r)
        q = g / r
        f = log_r @ g - gammaln(g).sum()
        return f, (q @ P.T) * s, (q, log_r)

    def _cov_param_grads(self, s, aux, w):
        q, log_r = aux
        g = self.gamma
        return {"P": 0.5 * (s * s).T @ (q * w[:, None]),
                "log_gamma": g * (w @ log_r - w.sum() * digamma(g))}

    def _cov_mean(self, aux):
        return aux[0]

    def _h_cov(self, h):
        h, one = as_batch(h, self._n_cov, "h_cov")
        if np.any(h <= 0):
            raise EvidenceError(f"h_cov must be > 0 (Gamma units), found {h[h <= 0].flat[0]!r}")
        return h, one

    def _precision_weights(self, hc):
        return hc @ self.P.T

    def _cov_joint(self, s, hc):
        r = 1.0 + 0.5 * (s * s) @ self.P
        return (hc * r).sum(1) + (np.log(hc) * (1.0 - self.gamma)).sum(1)
