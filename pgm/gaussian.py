"""Gaussian energy model ``E(x) = ½ (x − μ)ᵀ P (x − μ)`` (SPEC.md §3, score matching; §5).

The simplest continuous energy: a multivariate normal written as an energy-based model with
parameters ``mean`` (μ) and ``precision`` (P, symmetric positive definite — otherwise
``exp(−E)`` is not normalisable and the constructor refuses it).  It is the reference model of
the continuous learners (score matching, denoising score matching, NCE) because everything they
need is in closed form:

* ``∇ₓE = P(x − μ)``, Laplacian ``Σ_j ∂²E/∂x_j² = tr P``;
* parameter gradients of the energy (``∂E/∂μ = −P(x − μ)``, ``∂E/∂P = ½ (x − μ)(x − μ)ᵀ``), of
  ``v·∇ₓE`` for any vectors ``v`` (a vector–Jacobian product, used by score matching) and of the
  Laplacian (``∂ tr P / ∂P = I``);
* ``log Z = (d/2) log 2π − ½ log det P`` and its gradient ``∂ log Z/∂P = −½ P⁻¹``.

Gradients with respect to the symmetric matrix ``P`` are returned as symmetric matrices ``G``
such that the derivative along any symmetric direction ``D`` is ``⟨G, D⟩ = Σ_ij G_ij D_ij``
(the convention of :meth:`pgm.BoltzmannMachine.grad_energy`), so a gradient step keeps ``P``
symmetric.
"""

import math
import numbers

import numpy as np

from ._validation import as_batch, row_weights
from .errors import CardinalityError, ModelError

__all__ = ["GaussianEnergy"]

_LOG_2PI = math.log(2.0 * math.pi)


def _check_mean(mean):
    try:
        mu = np.array(mean, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"mean must be a numeric vector, got {type(mean).__name__}") from None
    if mu.ndim != 1 or mu.size < 1:
        raise CardinalityError(f"mean must be a non-empty vector, got shape {mu.shape}")
    if not np.all(np.isfinite(mu)):
        raise ModelError(f"mean must be finite, found {mu[~np.isfinite(mu)][0]!r}")
    return mu


def _check_precision(precision, d):
    try:
        P = np.array(precision, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"precision must be a numeric matrix, got {type(precision).__name__}") from None
    if P.shape != (d, d):
        raise CardinalityError(f"precision must have shape ({d}, {d}), got {P.shape}")
    if not np.all(np.isfinite(P)):
        raise ModelError(f"precision must be finite, found {P[~np.isfinite(P)][0]!r}")
    scale = max(1.0, float(np.max(np.abs(P))))
    asym = float(np.max(np.abs(P - P.T)))
    if asym > 1e-10 * scale:
        raise ModelError(f"precision must be symmetric (max |P − Pᵀ| = {asym:.3g}); "
                         "exp(−E) is then not a valid Gaussian energy")
    P = (P + P.T) / 2
    try:
        np.linalg.cholesky(P)
    except np.linalg.LinAlgError:
        lam = float(np.linalg.eigvalsh(P)[0])
        raise ModelError(f"precision must be positive definite (smallest eigenvalue {lam:.6g}); "
                         "exp(−E) is not normalisable") from None
    return P


class GaussianEnergy:
    """Gaussian energy ``E(x) = ½ (x − μ)ᵀ P (x − μ)`` over ``x ∈ ℝ^d``.

    Parameters
    ----------
    mean : array_like (d,)
    precision : array_like (d, d)
        Symmetric positive definite (:class:`~pgm.errors.ModelError` otherwise: the density
        would not be normalisable).

    Examples
    --------
    >>> import numpy as np, pgm
    >>> g = pgm.GaussianEnergy([0.0, 1.0], [[2.0, 0.0], [0.0, 1.0]])
    >>> float(g.energy([1.0, 1.0]))
    1.0
    >>> g.grad_x([1.0, 1.0]).tolist(), float(g.laplacian([1.0, 1.0]))
    ([2.0, 0.0], 3.0)
    >>> round(g.exact_log_partition(), 6)   # log(2π) − ½ log 2
    1.491303
    """

    param_names = ("mean", "precision")
    #: read by :func:`samplers.sample`: a continuous energy (HMC, MALA, Langevin, MH)
    sampler_family = "continuous"

    def __init__(self, mean, precision):
        mu = _check_mean(mean)
        self.mean = mu
        self.precision = _check_precision(precision, mu.size)

    # -------------------------------------------------------------- shape & data
    @property
    def dim(self):
        """Number of variables ``d``."""
        return self.mean.size

    n_visible = dim

    @property
    def covariance(self):
        """``P⁻¹``."""
        return np.linalg.inv(self.precision)

    def _data(self, x, name="x"):
        return as_batch(x, self.dim, name)

    # -------------------------------------------------------------- energies
    def energy(self, x):
        """``E(x) = ½ (x − μ)ᵀ P (x − μ)`` for each row."""
        x, one = self._data(x)
        u = x - self.mean
        e = 0.5 * np.einsum("ni,ij,nj->n", u, self.precision, u)
        return e[0] if one else e

    def free_energy(self, x):
        """No latent variables: ``F = E``."""
        return self.energy(x)

    def log_unnormalized(self, x):
        """``log p̃(x) = −E(x)``."""
        return -self.energy(x)

    def log_prob(self, x):
        """Normalised ``log p(x) = −E(x) − log Z``."""
        return self.log_unnormalized(x) - self.exact_log_partition()

    def grad_x(self, x):
        """``∇ₓE(x) = P (x − μ)`` for each row."""
        x, one = self._data(x)
        g = (x - self.mean) @ self.precision
        return g[0] if one else g

    def energy_and_grad(self, x):
        """``(E(x), ∇ₓE(x))`` for each row in one pass (used by the continuous samplers).

        Examples
        --------
        >>> import pgm
        >>> e, g = pgm.GaussianEnergy([0.0], [[2.0]]).energy_and_grad([[1.0], [2.0]])
        >>> e.tolist(), g.tolist()
        ([1.0, 4.0], [[2.0], [4.0]])
        """
        x, one = self._data(x)
        g = (x - self.mean) @ self.precision
        e = 0.5 * np.einsum("ni,ni->n", x - self.mean, g)
        return (e[0], g[0]) if one else (e, g)

    def laplacian(self, x):
        """``Σ_j ∂²E/∂x_j² = tr P`` for each row."""
        x, one = self._data(x)
        out = np.full(x.shape[0], float(np.trace(self.precision)))
        return out[0] if one else out

    def exact_log_partition(self):
        """``log Z = (d/2) log 2π − ½ log det P``."""
        _, logdet = np.linalg.slogdet(self.precision)
        return float(0.5 * self.dim * _LOG_2PI - 0.5 * logdet)

    def sample(self, n, rng=None):
        """``n`` exact draws (rows) of ``N(μ, P⁻¹)``.

        Examples
        --------
        >>> import pgm
        >>> pgm.GaussianEnergy([0.0], [[4.0]]).sample(3, rng=0).shape
        (3, 1)
        """
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
            raise ValueError(f"n must be a non-negative integer, got {n!r}")
        rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        L = np.linalg.cholesky(self.precision)  # P = L Lᵀ, x = μ + L⁻ᵀ z
        z = rng.standard_normal((int(n), self.dim))
        return self.mean + np.linalg.solve(L.T, z.T).T

    # -------------------------------------------------------------- learning protocol
    @property
    def params(self):
        """``{"mean": μ, "precision": P}`` — the model's own arrays (updated in place)."""
        return {"mean": self.mean, "precision": self.precision}

    def set_params(self, **values):
        """Replace ``mean`` and/or ``precision`` (validated; nothing changes on error).

        Examples
        --------
        >>> import pgm
        >>> g = pgm.GaussianEnergy([0.0], [[1.0]])
        >>> g.set_params(precision=[[-1.0]])
        Traceback (most recent call last):
        ...
        pgm.errors.ModelError: precision must be positive definite (smallest eigenvalue -1); exp(−E) is not normalisable
        """
        unknown = set(values) - set(self.param_names)
        if unknown:
            raise KeyError(f"unknown parameters {sorted(unknown)}; expected 'mean' and 'precision'")
        mu = _check_mean(values["mean"]) if "mean" in values else self.mean
        if mu.shape != self.mean.shape:
            raise CardinalityError(f"mean must have shape {self.mean.shape}, got {mu.shape}")
        P = _check_precision(values["precision"], self.dim) if "precision" in values else self.precision
        self.mean[...] = mu
        self.precision[...] = P

    def grad_energy(self, x, weights=None):
        """Parameter gradient of ``E``, averaged over the rows of ``x`` (or ``Σ_k w_k ∂E(x_k)``
        with ``weights``): ``∂E/∂μ = −P(x − μ)``, ``∂E/∂P = ½ (x − μ)(x − μ)ᵀ``.

        Examples
        --------
        >>> import pgm
        >>> g = pgm.GaussianEnergy([0.0, 0.0], [[1.0, 0.0], [0.0, 1.0]]).grad_energy([[1.0, 2.0]])
        >>> g["mean"].tolist(), g["precision"].tolist()
        ([-1.0, -2.0], [[0.5, 1.0], [1.0, 2.0]])
        """
        x, _ = self._data(x)
        w = row_weights(weights, x.shape[0])
        u = x - self.mean
        return {"mean": -(w @ u) @ self.precision, "precision": 0.5 * (u.T @ (u * w[:, None]))}

    grad_free_energy = grad_energy

    def grad_laplacian(self, x, weights=None):
        """Parameter gradient of the Laplacian ``tr P`` (batch mean): ``0`` for μ, ``I`` for P."""
        x, _ = self._data(x)
        s = float(np.sum(row_weights(weights, x.shape[0])))
        return {"mean": np.zeros(self.dim), "precision": s * np.eye(self.dim)}

    def grad_grad_x(self, x, v, weights=None):
        """Parameter gradient of ``mean_k v_k · ∇ₓE(x_k)`` (a vector–Jacobian product).

        ``∂/∂μ = −P v̄``, ``∂/∂P = sym(mean_k v_k (x_k − μ)ᵀ)``.

        Examples
        --------
        >>> import pgm
        >>> g = pgm.GaussianEnergy([0.0], [[2.0]]).grad_grad_x([[3.0]], [[1.0]])
        >>> g["mean"].tolist(), g["precision"].tolist()
        ([-2.0], [[3.0]])
        """
        x, _ = self._data(x)
        v = np.asarray(v, dtype=np.float64).reshape(x.shape)
        w = row_weights(weights, x.shape[0])
        u = x - self.mean
        G = v.T @ (u * w[:, None])
        return {"mean": -self.precision @ (w @ v), "precision": 0.5 * (G + G.T)}

    def grad_log_partition(self):
        """``∂ log Z/∂μ = 0``, ``∂ log Z/∂P = −½ P⁻¹`` (``= −E_p[∂E/∂P]``)."""
        return {"mean": np.zeros(self.dim), "precision": -0.5 * self.covariance}

    def settings(self):
        """Constructor settings (none beyond the parameters); see :meth:`save`."""
        return {"dim": self.dim}

    @classmethod
    def from_settings(cls, settings):
        d = int(settings["dim"])
        return cls(np.zeros(d), np.eye(d))

    def save(self, path):
        """Write the model to ``path`` (``.npz`` + JSON, no pickle); read with :func:`pgm.load`."""
        from .io.persist import save_model

        save_model(self, path)

    def __repr__(self):
        return f"GaussianEnergy(dim={self.dim})"
