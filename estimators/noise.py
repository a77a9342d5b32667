"""Noise distributions for noise-contrastive estimation (SPEC.md §3, "NCE").

NCE needs a noise distribution that is easy to sample and to evaluate: an object with
``sample(n, rng) -> (n, d)`` and ``log_prob(x) -> (n,)`` (normalised).  Two are provided, each
with a ``from_data`` constructor (the default noise of :class:`estimators.NCE` is fitted to the
training data with it):

* :class:`GaussianNoise` — ``N(m, C)`` for real-valued data;
* :class:`BernoulliNoise` — independent bits with probabilities ``p`` for binary data.
"""

import math

import numpy as np

from pgm.errors import CardinalityError, ModelError

__all__ = ["GaussianNoise", "BernoulliNoise"]


class GaussianNoise:
    """Multivariate normal noise ``N(mean, cov)``.

    Examples
    --------
    >>> import numpy as np
    >>> from estimators import GaussianNoise
    >>> q = GaussianNoise([0.0, 0.0], np.eye(2))
    >>> q.sample(4, np.random.default_rng(0)).shape, round(float(q.log_prob(np.zeros((1, 2)))[0]), 6)
    ((4, 2), -1.837877)
    """

    def __init__(self, mean, cov):
        self.mean = np.array(mean, dtype=np.float64).reshape(-1)
        self.cov = np.array(cov, dtype=np.float64)
        d = self.mean.size
        if self.cov.shape != (d, d):
            raise CardinalityError(f"cov must have shape ({d}, {d}), got {self.cov.shape}")
        if not (np.all(np.isfinite(self.mean)) and np.all(np.isfinite(self.cov))):
            raise ModelError("noise mean and covariance must be finite")
        if not np.allclose(self.cov, self.cov.T, rtol=0, atol=1e-12 * max(1.0, np.abs(self.cov).max())):
            raise ModelError("noise covariance must be symmetric")
        try:
            self._chol = np.linalg.cholesky((self.cov + self.cov.T) / 2)
        except np.linalg.LinAlgError:
            raise ModelError("noise covariance must be positive definite") from None
        self._log_norm = -0.5 * d * math.log(2 * math.pi) - float(np.sum(np.log(np.diag(self._chol))))

    @classmethod
    def from_data(cls, data, scale=1.0):
        """Mean and ``scale ×`` the (1/n) covariance of ``data`` (a small ridge keeps it PD)."""
        x = np.asarray(data, dtype=np.float64)
        cov = np.atleast_2d(np.cov(x, rowvar=False, bias=True)) * float(scale)
        cov += 1e-9 * max(1.0, float(np.trace(cov))) * np.eye(cov.shape[0])
        return cls(x.mean(axis=0), cov)

    @property
    def dim(self):
        return self.mean.size

    def sample(self, n, rng):
        return self.mean + rng.standard_normal((int(n), self.dim)) @ self._chol.T

    def log_prob(self, x):
        z = np.linalg.solve(self._chol, (np.asarray(x, dtype=np.float64) - self.mean).T)
        return self._log_norm - 0.5 * np.sum(z * z, axis=0)

    def config(self):
        return {"type": "GaussianNoise", "mean": self.mean.tolist(), "cov": self.cov.tolist()}


class BernoulliNoise:
    """Independent Bernoulli bits ``p(x) = Π p_i^{x_i} (1 − p_i)^{1−x_i}``.

    Examples
    --------
    >>> import numpy as np
    >>> from estimators import BernoulliNoise
    >>> q = BernoulliNoise([0.5, 0.25])
    >>> np.exp(q.log_prob(np.array([[1.0, 1.0]]))).round(6).tolist()
    [0.125]
    """

    def __init__(self, p):
        self.p = np.array(p, dtype=np.float64).reshape(-1)
        if not np.all((self.p > 0) & (self.p < 1)):
            raise ModelError(f"Bernoulli noise probabilities must lie strictly in (0, 1), got {self.p}")

    @classmethod
    def from_data(cls, data, smoothing=1.0):
        """Marginal frequencies of the bits of ``data`` with add-``smoothing`` (Laplace)."""
        x = np.asarray(data, dtype=np.float64)
        return cls((x.sum(axis=0) + smoothing) / (x.shape[0] + 2.0 * smoothing))

    @property
    def dim(self):
        return self.p.size

    def sample(self, n, rng):
        return (rng.random((int(n), self.dim)) < self.p).astype(np.float64)

    def log_prob(self, x):
        x = np.asarray(x, dtype=np.float64)
        return x @ np.log(self.p) + (1.0 - x) @ np.log1p(-self.p)

    def config(self):
        return {"type": "BernoulliNoise", "p": self.p.tolist()}
