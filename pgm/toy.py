"""Toy 2-D densities with exact log densities, and KL divergences by integration on a grid.

The standard test beds for energy-based density estimation (SPEC.md §3, §6): a ring, a mixture
of eight Gaussians on a circle and two interleaved moons.  Each offers ``sample(n, rng)`` and an
exact, normalised ``log_prob(x)`` — the moons' density is the uniform mixture over the arc
parameter of isotropic Gaussians, integrated by the trapezoidal rule on a fine grid of arc
positions — so the divergence of a learned energy from the truth is computed, not guessed:
:func:`kl_divergence` integrates ``p log(p / q)`` on a regular grid, with the model normalised
numerically on the same grid.

Examples
--------
>>> import numpy as np, pgm
>>> ring = pgm.toy.Ring()
>>> x = ring.sample(1000, rng=0)
>>> x.shape, bool(np.isfinite(ring.log_prob(x)).all())
((1000, 2), True)
>>> abs(pgm.toy.kl_divergence(ring, ring.log_prob)) < 1e-8
True
"""

import math

import numpy as np

__all__ = ["Ring", "EightGaussians", "TwoMoons", "DENSITIES", "kl_divergence", "grid"]


def _rng(rng):
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _logsumexp(a, axis):
    m = np.max(a, axis=axis, keepdims=True)
    return np.squeeze(m, axis) + np.log(np.sum(np.exp(a - m), axis=axis))


class Ring:
    """Radius ``r ~ N(radius, width²)`` (reflected at 0), angle uniform."""

    bounds = 3.5

    def __init__(self, radius=2.0, width=0.25):
        self.radius, self.width = float(radius), float(width)

    def sample(self, n, rng=None):
        rng = _rng(rng)
        r = np.abs(self.radius + self.width * rng.standard_normal(n))
        t = rng.uniform(0, 2 * np.pi, n)
        return np.stack([r * np.cos(t), r * np.sin(t)], axis=1)

    def log_prob(self, x):
        r = np.hypot(x[:, 0], x[:, 1])
        s = self.width
        lg = lambda u: -0.5 * ((u - self.radius) / s) ** 2 - math.log(s * math.sqrt(2 * math.pi))
        return np.logaddexp(lg(r), lg(-r)) - np.log(2 * np.pi * np.maximum(r, 1e-300))


class EightGaussians:
    """Equal mixture of ``N(c_k, width² I)``, ``c_k`` = ``radius``·(cos, sin)(kπ/4)."""

    bounds = 3.5

    def __init__(self, radius=2.0, width=0.2):
        self.radius, self.width = float(radius), float(width)
        t = np.arange(8) * np.pi / 4
        self.centres = self.radius * np.stack([np.cos(t), np.sin(t)], axis=1)

    def sample(self, n, rng=None):
        rng = _rng(rng)
        k = rng.integers(0, 8, n)
        return self.centres[k] + self.width * rng.standard_normal((n, 2))

    def log_prob(self, x):
        d2 = np.sum((x[:, None, :] - self.centres[None]) ** 2, axis=2)
        s2 = self.width**2
        return _logsumexp(-0.5 * d2 / s2, 1) - math.log(8 * 2 * math.pi * s2)


class TwoMoons:
    """scikit-learn's two moons (arc parameter uniform on [0, π], Gaussian noise), centred and
    scaled by ``scale``: upper ``(cos t, sin t)``, lower ``(1 − cos t, ½ − sin t)``."""

    bounds = 3.5

    def __init__(self, noise=0.1, scale=1.5, arc_points=1001):
        self.noise, self.scale = float(noise), float(scale)
        t = np.linspace(0.0, np.pi, int(arc_points))
        upper = np.stack([np.cos(t), np.sin(t)], axis=1)
        lower = np.stack([1 - np.cos(t), 0.5 - np.sin(t)], axis=1)
        self._shift = np.array([0.5, 0.25])
        self._arcs = (np.concatenate([upper, lower]) - self._shift) * self.scale
        w = np.full(t.size, 1.0)
        w[[0, -1]] = 0.5                                   # trapezoidal weights
        self._log_w = np.log(np.concatenate([w, w]) / (2 * w.sum()))

    def sample(self, n, rng=None):
        rng = _rng(rng)
        t = rng.uniform(0, np.pi, n)
        lower = rng.random(n) < 0.5
        pts = np.where(lower[:, None], np.stack([1 - np.cos(t), 0.5 - np.sin(t)], 1),
                       np.stack([np.cos(t), np.sin(t)], 1))
        return (pts - self._shift + self.noise * rng.standard_normal((n, 2))) * self.scale

    def log_prob(self, x):
        s2 = (self.noise * self.scale) ** 2
        out = np.empty(x.shape[0])
        c2 = np.sum(self._arcs**2, axis=1)
        for i in range(0, x.shape[0], 4096):
            xi = x[i:i + 4096]
            d2 = np.maximum(np.sum(xi * xi, axis=1)[:, None] + c2 - 2.0 * (xi @ self._arcs.T), 0.0)
            out[i:i + 4096] = _logsumexp(self._log_w - 0.5 * d2 / s2, 1)
        return out - math.log(2 * math.pi * s2)


#: name → density class
DENSITIES = {"ring": Ring, "8gaussians": EightGaussians, "moons": TwoMoons}


def grid(bounds, n=200):
    """Cell centres ``(n², 2)`` of an ``n × n`` grid on ``[−bounds, bounds]²`` and the cell area."""
    h = 2.0 * bounds / n
    c = -bounds + h * (np.arange(n) + 0.5)
    xx, yy = np.meshgrid(c, c, indexing="ij")
    return np.stack([xx.ravel(), yy.ravel()], axis=1), h * h


def kl_divergence(density, model_log_unnormalized, n=200, bounds=None):
    """``KL(p ‖ q) = ∫ p log(p/q)`` by the midpoint rule on an ``n × n`` grid.

    ``q ∝ exp(model_log_unnormalized(x))`` is normalised on the same grid (the grid must hold
    essentially all of both masses; ``density.bounds`` is chosen so for the toy densities).

    Parameters
    ----------
    density : object with ``log_prob(x)`` and ``bounds``
    model_log_unnormalized : callable ``(m, 2) -> (m,)``, e.g. ``lambda x: -model.energy(x)``
    """
    pts, area = grid(density.bounds if bounds is None else bounds, n)
    lp = density.log_prob(pts)
    lq = np.asarray(model_log_unnormalized(pts), dtype=np.float64)
    lq = lq - (_logsumexp(lq, 0) + math.log(area))
    p = np.exp(lp)
    return float(np.sum(p * (lp - lq)) * area)
