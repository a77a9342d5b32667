"""Shared machinery of the layered energy models (RBM family, DBM, DBN) — private.

Holds input validation (shapes, dtypes, binary data, positive scales, finite parameters),
numerically stable logistic / softplus functions, enumeration of binary layers in chunks (the
exact computations of SPEC.md §1 for small models) and the :class:`LayeredModel` base class with
the attributes the layered block-Gibbs sampler (``samplers/_layered.py``) reads.
"""

import numbers

import numpy as np
from scipy.special import expit

from ._validation import as_batch as as_data
from .errors import CardinalityError, ModelError, TooLargeError

#: Largest number of binary units that exact computations enumerate (2**25 joint states).
MAX_ENUMERATED_UNITS = 25
#: Default bound (bytes) on the temporary arrays of one enumeration chunk.
CHUNK_BYTES = 64 * 2**20
DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
LOG_2PI = float(np.log(2.0 * np.pi))


# ---------------------------------------------------------------------------- maths
def sigmoid(x):
    """Logistic ``σ(x) = 1 / (1 + e^{−x})``, elementwise, in the dtype of ``x``."""
    return expit(x)


def softplus(x):
    """``ζ(x) = log(1 + e^{x})``, elementwise and overflow-free."""
    return np.logaddexp(np.zeros((), dtype=np.result_type(x, np.float32)), x)


def lse(a, axis=-1):
    """Max-shifted ``log Σ exp(a)`` along ``axis``."""
    a = np.asarray(a, dtype=np.float64)
    m = np.max(a, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    return np.log(np.sum(np.exp(a - m), axis=axis)) + np.squeeze(m, axis=axis)


def entropy_bernoulli(p):
    """Entropy (nats) of independent Bernoulli(p) units, summed over the last axis."""
    p = np.asarray(p, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = -(p * np.log(p) + (1 - p) * np.log1p(-p))
    return np.where(np.isfinite(t), t, 0.0).sum(axis=-1)


# ---------------------------------------------------------------------------- validation
def check_dtype(dtype):
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be float32 or float64, got {dtype!r}") from None
    if dt not in DTYPES:
        raise TypeError(f"dtype must be float32 or float64, got {dt.name}")
    return dt


def check_count(value, name, minimum=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def as_param(value, shape, name, dtype, default=0.0):
    """A finite parameter array of exactly ``shape`` (a scalar broadcasts to a vector)."""
    if value is None:
        return np.full(shape, default, dtype=dtype)
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be numeric, got {type(value).__name__}") from None
    if arr.ndim == 0 and len(shape) == 1:
        arr = np.full(shape, float(arr))
    if arr.shape != tuple(shape):
        raise CardinalityError(f"{name} must have shape {tuple(shape)}, got {arr.shape}")
    check_finite(arr, name)
    return np.ascontiguousarray(arr, dtype=dtype)


def check_finite(arr, name):
    """Raise :class:`ModelError` naming the first non-finite value of ``arr``.

    A sum is finite only when every term is (a NaN or infinite term makes it NaN or infinite),
    so one reduction without a temporary decides the common case; only a non-finite sum (bad
    values, or finite ones overflowing) needs the elementwise test."""
    if arr.size and not np.isfinite(np.sum(arr)):
        bad = ~np.isfinite(arr)
        if bad.any():
            raise ModelError(f"{name} must be finite, found {arr[bad].flat[0]!r}")


def as_positive(value, shape, name, dtype):
    """A finite, strictly positive parameter (scalar or vector)."""
    arr = as_param(value, shape, name, dtype, default=1.0)
    if np.any(arr <= 0):
        raise ModelError(f"{name} must be > 0, found {float(arr[arr <= 0].flat[0])!r}")
    return arr


def init_weights(W, shape, name, dtype, rng):
    """Given weights, or ``N(0, 0.01²)`` draws from ``rng`` (Hinton's practical guide)."""
    if W is None:
        return np.ascontiguousarray(0.01 * rng.standard_normal(shape), dtype=dtype)
    return as_param(W, shape, name, dtype)


def rows_match(arrays, names):
    """Broadcast batches with one row to the largest batch; other row counts must agree."""
    m = max(a.shape[0] for a in arrays)
    out = []
    for a, nm in zip(arrays, names):
        if a.shape[0] not in (1, m):
            raise CardinalityError(f"{nm} has {a.shape[0]} rows but other arguments have {m}")
        out.append(np.broadcast_to(a, (m, a.shape[1])) if a.shape[0] != m else a)
    return out


def as_rng(rng):
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


# ---------------------------------------------------------------------------- enumeration
def check_enumerable(n_units, what, max_units=MAX_ENUMERATED_UNITS):
    if n_units > max_units:
        raise TooLargeError(
            f"exact {what} would enumerate 2**{n_units} states of binary units (at most "
            f"2**{max_units} allowed); use a sampler-based estimate (e.g. AIS) instead")


def bits(start, stop, n):
    """Binary states with indices ``start..stop−1`` as rows ``(stop−start, n)`` of float64.

    State ``k`` sets unit ``i`` to bit ``i`` of ``k`` (little-endian).
    """
    k = np.arange(start, stop, dtype=np.int64)
    return ((k[:, None] >> np.arange(n, dtype=np.int64)) & 1).astype(np.float64)


def state_chunks(n, width, memory_limit=None):
    """Yield ``(start, stop)`` index ranges covering all ``2**n`` states in bounded chunks."""
    limit = CHUNK_BYTES if memory_limit is None else min(int(memory_limit), CHUNK_BYTES)
    size = max(1, min(1 << 16, limit // max(1, 32 * max(1, width))))
    total = 1 << n
    for start in range(0, total, size):
        yield start, min(total, start + size)


def split_bits(x, sizes):
    """Split state rows ``(K, Σ sizes)`` into a list of per-layer blocks."""
    out, at = [], 0
    for s in sizes:
        out.append(x[:, at:at + s])
        at += s
    return out


# ---------------------------------------------------------------------------- base class
class LayeredModel:
    """Base of the layered energy models: layers, dtype, parameters, data checks.

    Subclasses set ``layer_names``, ``layer_sizes``, ``layer_kinds`` (``"binary"`` or
    ``"real"``), ``param_names`` and ``layered_kind`` (which block-Gibbs engine samples them).
    """

    #: ``samplers.sample`` sends models of this family to the BLAS block-Gibbs driver.
    sampler_family = "layered"
    layered_kind = None
    param_names = ()

    @property
    def n_visible(self):
        return self.layer_sizes[0]

    @property
    def n_units(self):
        """Length of a full chain state (all layers concatenated)."""
        return int(sum(self.layer_sizes))

    def _init_bipartite(self, n_visible, n_hidden, W, b, c, seed, dtype):
        """Shared constructor of the RBM family: dtype, sizes, ``W`` (default ``N(0, 0.01²)``
        from ``seed``), ``b``, ``c``.  Returns ``(n_visible, n_hidden)``."""
        self.dtype = check_dtype(dtype)
        n_v = check_count(n_visible, "n_visible")
        n_h = check_count(n_hidden, "n_hidden")
        self.W = init_weights(W, (n_v, n_h), "W", self.dtype, as_rng(seed))
        self.b = as_param(b, (n_v,), "b", self.dtype)
        self.c = as_param(c, (n_h,), "c", self.dtype)
        return n_v, n_h

    @property
    def params(self):
        """``{name: array}`` — the model's own parameter arrays (not copies)."""
        return {k: getattr(self, k) for k in self.param_names}

    def set_params(self, **values):
        """Replace parameters by name (validated: shape, finiteness; dtype converted).

        Examples
        --------
        >>> import pgm
        >>> m = pgm.RBM(3, 2)
        >>> m.set_params(b=[0.5, 0.0, -0.5])
        >>> m.b.tolist()
        [0.5, 0.0, -0.5]
        """
        current = self.params
        for k, v in values.items():
            if k not in current:
                raise KeyError(f"unknown parameter {k!r}; expected one of {list(current)}")
            setattr(self, k, as_param(v, current[k].shape, k, self.dtype))
        self._validate()

    #: ``set_params`` binds new arrays and never writes into the old ones, so a caller may keep
    #: the old arrays (not copies) to restore them (``estimators.fit`` does).
    _set_params_rebinds = True

    def _take_params(self, _finite=(), **values):
        """``set_params`` for arrays handed over by a caller that keeps no other reference to
        them (``estimators.fit`` with its own optimisers' fresh results): arrays already of the
        model dtype, shape and C order are validated and bound without a copy.  ``_finite``: names
        of arrays the caller has already checked are finite (the RBM PCD fast path's new ``W``,
        checked as it is written), whose finiteness pass is skipped."""
        current = self.params
        for k, v in values.items():
            if k not in current:
                raise KeyError(f"unknown parameter {k!r}; expected one of {list(current)}")
            if (isinstance(v, np.ndarray) and v.dtype == self.dtype and v.shape == current[k].shape
                    and v.flags.c_contiguous and v.flags.writeable):
                if k not in _finite:
                    check_finite(v, k)
                setattr(self, k, v)
            else:
                setattr(self, k, as_param(v, current[k].shape, k, self.dtype))
        self._validate()

    def _validate(self):
        """Model-specific checks after parameters change (normalisability)."""

    def _data(self, k, x, name=None):
        name = name or self.layer_names[k]
        return as_data(x, self.layer_sizes[k], name, self.dtype, self.layer_kinds[k] == "binary")

    def _f64(self, name):
        return np.asarray(getattr(self, name), dtype=np.float64)

    def _param_grads(self, grads, n):
        """Mean over a batch of ``n`` rows, in the model dtype."""
        return {k: np.asarray(v / n, dtype=self.dtype) for k, v in grads.items()}

    def __repr__(self):
        sizes = "-".join(map(str, self.layer_sizes))
        return f"{type(self).__name__}({sizes}, dtype={self.dtype.name})"
