"""Maximum mean discrepancy and generative moment matching (SPEC.md §5, "Generative moment
matching"; Gretton et al. 2012, Li et al. 2015, Dziugaite et al. 2015).

For a kernel ``k`` the squared MMD between distributions ``p`` and ``q`` is

    ``MMD²(p, q) = E k(x, x') − 2 E k(x, y) + E k(y, y')``,   ``x, x' ~ p``, ``y, y' ~ q``,

zero iff ``p = q`` for a characteristic kernel.  Here ``k`` is a mixture of Gaussian kernels of
several bandwidths ``s`` (``k(x, y) = Σ_s exp(−‖x − y‖² / (2 s²))``), so that differences at every
scale count.  From samples ``x_1..x_n`` and ``y_1..y_m`` the *unbiased* estimator (U-statistic)
is

    ``MMD²_u = Σ_{i≠j} k(x_i, x_j)/(n(n−1)) + Σ_{i≠j} k(y_i, y_j)/(m(m−1)) − 2 Σ_{i,j} k(x_i, y_j)/(nm)``

(it may be negative); the biased V-statistic keeps the diagonal terms and divides by ``n²`` and
``m²``, which adds ``(E k(x,x) − E k(x,x'))/n + (…)/m > 0`` on average.  Its gradient with respect
to a sample ``y_a`` follows from ``∂k(y_a, u)/∂y_a = Σ_s e^{−‖y_a−u‖²/2s²} (u − y_a)/s²``:

    ``∂MMD²/∂y_a = 2c_yy Σ_j k'(y_a, y_j)(y_j − y_a) − (2/(nm)) Σ_i k'(x_i, y_a)(x_i − y_a)``

with ``k' = Σ_s e^{−‖·‖²/2s²}/s²`` and ``c_yy = 1/(m(m−1))`` (unbiased) or ``1/m²`` (biased).

:class:`MMD` trains an implicit generator (:class:`pgm.generators.GMMN`, or a
:class:`pgm.generators.GAN`'s generator alone) by minimising ``MMD²_u`` between each data batch
and ``m`` samples ``g(z)``, ``z ~ N(0, I)`` drawn from the fit's random generator; the gradient
goes through the kernel (above) and the generator (its vector–Jacobian product).
"""

import math
import numbers

import numpy as np

from pgm.errors import CardinalityError, EvidenceError
from pgm.validation import as_float_array

from .objectives import Objective

__all__ = ["MMD", "mmd2", "check_bandwidths"]


def check_bandwidths(bandwidths):
    """Bandwidths as a float64 array: a positive finite real or a non-empty sequence of them
    (``ValueError`` naming the bad value)."""
    if isinstance(bandwidths, numbers.Real) and not isinstance(bandwidths, bool):
        bandwidths = (bandwidths,)
    try:
        values = list(bandwidths)
    except TypeError:
        raise TypeError(f"bandwidths must be a positive number or a sequence of them, "
                        f"got {bandwidths!r}") from None
    if not values:
        raise ValueError("bandwidths must hold at least one value, got an empty sequence")
    for s in values:
        if isinstance(s, bool) or not isinstance(s, numbers.Real) or not math.isfinite(s) or s <= 0:
            raise ValueError(f"every bandwidth must be a finite real > 0, got {s!r}")
    return np.asarray(values, dtype=np.float64)


def _sq_dist(a, b, same=False):
    d2 = np.sum(a * a, axis=1)[:, None] + np.sum(b * b, axis=1)[None, :] - 2.0 * (a @ b.T)
    np.maximum(d2, 0.0, out=d2)
    if same:
        np.fill_diagonal(d2, 0.0)
    return d2


def _kernels(d2, inv2, need_grad):
    """``Σ_s exp(−d2/(2s²))`` and (``need_grad``) ``Σ_s exp(−d2/(2s²))/s²``; ``inv2 = 1/s²``."""
    k = np.zeros_like(d2)
    kp = np.zeros_like(d2) if need_grad else None
    e = np.empty_like(d2)
    for w in inv2:                      # in place: no temporaries per bandwidth
        np.multiply(d2, -0.5 * w, out=e)
        np.exp(e, out=e)
        k += e
        if need_grad:
            e *= w
            kp += e
    return k, kp


def _mmd2(x, y, inv2, unbiased, need_grad):
    """Value and (``need_grad``) ``∂/∂y`` for validated float64 ``x (n, d)``, ``y (m, d)``."""
    n, m = x.shape[0], y.shape[0]
    kxx, _ = _kernels(_sq_dist(x, x, same=True), inv2, False)
    kyy, kpyy = _kernels(_sq_dist(y, y, same=True), inv2, need_grad)
    kxy, kpxy = _kernels(_sq_dist(x, y), inv2, need_grad)
    S = inv2.size                                 # k(u, u) = S for every u
    if unbiased:
        # (n = 1: no data–data pair; the term, constant in y, is left out — see MMD)
        cxx, cyy = (1.0 / (n * (n - 1)) if n > 1 else 0.0), 1.0 / (m * (m - 1))
        value = (kxx.sum() - n * S) * cxx + (kyy.sum() - m * S) * cyy
    else:
        cxx, cyy = 1.0 / (n * n), 1.0 / (m * m)
        value = kxx.sum() * cxx + kyy.sum() * cyy
    value -= 2.0 * kxy.sum() / (n * m)
    if not need_grad:
        return float(value), None
    # (the diagonal of kpyy multiplies y_a − y_a = 0: biased and unbiased differ only in c_yy)
    g = 2.0 * cyy * (kpyy @ y - kpyy.sum(axis=1)[:, None] * y)
    g -= (2.0 / (n * m)) * (kpxy.T @ x - kpxy.sum(axis=0)[:, None] * y)
    return float(value), g


def _sample(values, name, width=None, rows=1):
    arr = as_float_array(values, name)
    if arr.ndim != 2 or (width is not None and arr.shape[1] != width):
        want = f"(n, {width})" if width is not None else "(n, d)"
        raise CardinalityError(f"{name} must have shape {want}, got {arr.shape}")
    if arr.shape[0] < rows:
        raise CardinalityError(f"{name} needs at least {rows} rows, got {arr.shape[0]}")
    if not np.all(np.isfinite(arr)):
        raise EvidenceError(f"{name} must be finite, found {arr[~np.isfinite(arr)].flat[0]!r}")
    return np.ascontiguousarray(arr)


def mmd2(x, y, bandwidths, unbiased=True, gradient=False):
    """Estimate ``MMD²`` between the samples ``x`` and ``y`` with the Gaussian-mixture kernel
    ``k(x, y) = Σ_s exp(−‖x − y‖² / (2 s²))``.

    Parameters
    ----------
    x : array (n, d)
    y : array (m, d)
    bandwidths : float or sequence of floats > 0
        The kernel widths ``s`` (in data units).
    unbiased : bool
        The unbiased U-statistic (needs ``n, m ≥ 2``; may be negative) or, False, the biased
        V-statistic (diagonal terms kept).
    gradient : bool
        Also return ``∂MMD²/∂y`` (shape ``(m, d)``).

    Returns
    -------
    float, or ``(float, numpy.ndarray)`` with ``gradient=True``

    Raises
    ------
    ValueError
        A non-positive or non-finite bandwidth (named).
    pgm.errors.CardinalityError, pgm.errors.EvidenceError
        Samples of different widths, too few rows, or non-finite values.

    Examples
    --------
    >>> import numpy as np
    >>> from estimators.mmd import mmd2
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.normal(0, 1, (500, 2)), rng.normal(0, 1, (500, 2))
    >>> abs(mmd2(x, y, (0.5, 1.0, 2.0))) < 0.01, mmd2(x, y + 1.0, (0.5, 1.0, 2.0)) > 0.1
    (True, True)
    """
    inv2 = 1.0 / check_bandwidths(bandwidths) ** 2
    rows = 2 if unbiased else 1
    x = _sample(x, "x", rows=rows)
    y = _sample(y, "y", width=x.shape[1], rows=rows)
    value, g = _mmd2(x, y, inv2, bool(unbiased), bool(gradient))
    return (value, g) if gradient else value


def _count(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def generator_noise(model, m, rng):
    """Standard-normal noise ``z`` of shape ``model.noise_shapes(m)["normal"]`` from ``rng`` (the
    generators of :mod:`pgm.generators` need no other kind)."""
    shapes = model.noise_shapes(m)
    if set(shapes) != {"normal"}:
        raise TypeError(f"{type(model).__name__} needs noise {sorted(shapes)}; generator objectives "
                        "support generators of standard-normal noise only ({'normal': shape})")
    return rng.standard_normal(shapes["normal"])


class MMD(Objective):
    """Generative moment matching: minimise the unbiased ``MMD²`` between each data batch and
    ``m`` generator samples, with a mixture of Gaussian kernels (SPEC.md §5).

    Parameters
    ----------
    bandwidths : float or sequence of floats > 0
        Kernel widths ``s`` in data units; a spread of scales, from below the nearest-neighbour
        distance of the data to about its diameter, works best.
    samples : int ≥ 2, optional
        Generator samples ``m`` per update (default: as many as the batch has rows).
    unbiased : bool
        Minimise the unbiased U-statistic (default) or the biased V-statistic.

    The model must offer ``noise_shapes(m)`` (standard-normal noise) and ``generate_vjp(z)``
    (:class:`pgm.generators.GMMN`, :class:`pgm.generators.GAN`).  The loss is the ``MMD²``
    estimate, a deterministic function of the parameters for a fixed ``rng`` (noise of shape
    ``(m, n_noise)``).  Only generator parameters get gradients: a GAN's discriminator is left
    untouched (its keys are absent from the gradient).  Cost ``O((n + m)² d)`` per update.  A
    one-row batch (the last of an epoch, say) has no data–data pair: its unbiased estimate leaves
    that term out (it does not depend on the parameters, so the gradient is unaffected).

    Examples
    --------
    >>> import numpy as np, estimators
    >>> from pgm.generators import GMMN
    >>> from estimators.mmd import MMD
    >>> x = np.random.default_rng(0).normal(2.0, 0.5, (256, 1))
    >>> gmmn = GMMN(1, 1, hidden=(8,), seed=0)
    >>> before = MMD(bandwidths=(0.5, 1, 2)).loss(gmmn, x, rng=1)
    >>> _ = estimators.fit(gmmn, x, MMD(bandwidths=(0.5, 1, 2)), estimators.Adam(lr=0.02),
    ...                    epochs=30, batch_size=64, seed=0, progress=False)
    >>> bool(MMD(bandwidths=(0.5, 1, 2)).loss(gmmn, x, rng=1) < before)
    True
    """

    data_kind = "real"
    has_loss = True
    requires = ("noise_shapes", "generate_vjp")

    def __init__(self, bandwidths=(0.1, 0.2, 0.5, 1.0, 2.0, 5.0), samples=None, unbiased=True):
        super().__init__()
        self.bandwidths = tuple(float(s) for s in check_bandwidths(bandwidths))
        self._inv2 = 1.0 / np.asarray(self.bandwidths) ** 2
        self.samples = None if samples is None else _count(samples, "samples", 2)
        if not isinstance(unbiased, (bool, np.bool_)):
            raise TypeError(f"unbiased must be True or False, got {unbiased!r}")
        self.unbiased = bool(unbiased)

    def config(self):
        return {"type": "MMD", "bandwidths": list(self.bandwidths), "samples": self.samples,
                "unbiased": self.unbiased}

    def _evaluate(self, model, x, rng, need_grad):
        n = x.shape[0]
        m = self.samples if self.samples is not None else max(n, 2)
        z = generator_noise(model, m, rng)
        y, vjp = model.generate_vjp(z)
        value, gy = _mmd2(x, np.asarray(y, dtype=np.float64), self._inv2, self.unbiased, need_grad)
        if not need_grad:
            return value, None, {}
        return value, vjp(gy), {}
