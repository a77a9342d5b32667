"""The model protocol the learners rely on, and the few adapters around it (private).

A learnable model offers ``params`` (name → array), ``set_params(**arrays)``,
``free_energy(x)`` (one value per row; ``F = E`` without latent variables) and
``grad_free_energy(x)`` (the parameter gradient of ``F`` averaged over the rows).  Objectives
are written once against that protocol:

* :func:`weighted_grad` — ``Σ_k w_k ∂F(x_k)/∂θ`` for arbitrary real weights, which every
  objective that reweights states (exact ML, pseudolikelihood, ratio matching, NCE) needs.  A
  model may accept ``grad_free_energy(x, weights=w)`` itself (``pgm.GaussianEnergy`` does);
  fully visible Boltzmann machines and binary RBMs get a closed form here; any other model falls
  back to one ``grad_free_energy`` call per row (correct, slow).
* :func:`sampling_view` / :func:`with_params` — a model to hand to ``samplers.sample``: a
  :class:`pgm.BoltzmannMachine` fixes its coupling graph when constructed (``set_params`` does
  not add edges), so one whose ``W`` grew entries outside that graph is rebuilt.
* :func:`check_data` — typed validation of a training set against a model.
"""

import copy
import inspect

import numba
import numpy as np

from pgm.validation import as_float_array
from pgm.errors import CardinalityError, EvidenceError
from pgm.spin import BoltzmannMachine

__all__ = ["weighted_grad", "sampling_view", "with_params", "check_data", "n_features",
           "visible_is_binary", "is_layered", "add_grads", "scale_grads"]


def is_layered(model):
    return getattr(model, "sampler_family", None) == "layered"


def n_features(model):
    """Number of visible variables (the data columns) of a model."""
    if is_layered(model):
        return int(model.layer_sizes[0])
    if isinstance(model, BoltzmannMachine):
        if model.hidden.size:
            raise TypeError("Boltzmann machines with hidden units have no free energy here; "
                            "use a fully visible BoltzmannMachine or an RBM")
        return int(model.n_variables)
    if hasattr(model, "data_width"):      # conditional models: rows [v, context]
        return int(model.data_width)
    for attr in ("n_visible", "dim", "n_variables"):
        if hasattr(model, attr):
            return int(getattr(model, attr))
    raise TypeError(f"cannot tell the number of variables of a {type(model).__name__} "
                    "(expected n_visible, dim or n_variables)")


def visible_is_binary(model):
    """True when the model's visible units take values in {0, 1}."""
    if is_layered(model):
        return model.layer_kinds[0] == "binary"
    return tuple(getattr(model, "domain", None) or ()) == (0, 1)


def check_data(data, model, binary=False, name="data", copy=True):
    """Validate a training set: 2-D numeric, finite, ``n_features(model)`` columns, binary when
    the model or the objective needs it.  Returns a float64 C-contiguous copy (``copy=False``:
    ``data`` itself when it is one already — for a caller that only reads it)."""
    arr = as_float_array(data, name, keep_numeric=True)
    d = n_features(model)
    if arr.ndim != 2 or arr.shape[1] != d:
        raise CardinalityError(f"{name} must have shape (n_samples, {d}) for this "
                               f"{type(model).__name__}, got {np.shape(data)}")
    if arr.shape[0] < 1:
        raise ValueError(f"{name} has no rows")
    arr = np.array(arr, dtype=np.float64, order="C", copy=True if copy else None)
    binary = binary or visible_is_binary(model)
    if not _any_bad(arr.reshape(-1), binary):    # one vectorised pass, no temporaries
        return arr
    bad = ~np.isfinite(arr)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise EvidenceError(f"{name} must be finite, found {arr[r, c]!r} at row {r}, column {c}")
    ok = (arr == 0) | (arr == 1)
    r, c = np.argwhere(~ok)[0]
    raise EvidenceError(f"{name} must be binary (0 or 1), found {arr[r, c]!r} at row {r}, column {c}")


@numba.njit(cache=True)
def _any_bad(flat, binary):
    """Does ``flat`` hold a non-finite value (binary: a value other than 0 and 1)?  ``x(1 − x)``
    is 0 exactly for 0 and 1 (NaN or ±inf otherwise for non-finite x); ``x − x`` is 0 exactly for
    finite x.  Branch-free inner loop (vectorised)."""
    n = flat.size
    for start in range(0, n, 65536):
        chunk = flat[start:start + 65536]
        bad = 0
        if binary:
            for k in range(chunk.size):      # (a loop from 0: LLVM vectorises it)
                x = chunk[k]
                bad += x * (1.0 - x) != 0.0
        else:
            for k in range(chunk.size):
                x = chunk[k]
                bad += x - x != 0.0
        if bad:
            return True
    return False


def add_grads(a, b, scale=1.0):
    """``a + scale·b`` for gradient dicts (missing keys count as zero)."""
    out = {k: np.array(v, dtype=np.float64, copy=True) for k, v in a.items()}
    for k, v in b.items():
        out[k] = out[k] + scale * np.asarray(v, dtype=np.float64) if k in out else scale * np.asarray(v, np.float64)
    return out


def scale_grads(a, scale):
    return {k: scale * np.asarray(v, dtype=np.float64) for k, v in a.items()}


_ACCEPTS_WEIGHTS = {}


def _accepts_weights(fn):
    key = getattr(fn, "__func__", fn)
    if key not in _ACCEPTS_WEIGHTS:
        try:
            _ACCEPTS_WEIGHTS[key] = "weights" in inspect.signature(fn).parameters
        except (TypeError, ValueError):
            _ACCEPTS_WEIGHTS[key] = False
    return _ACCEPTS_WEIGHTS[key]


def weighted_grad(model, x, w, chunk_rows=None):
    """``Σ_k w_k ∂F(x_k)/∂θ`` (float64) for rows ``x`` and real weights ``w``."""
    x = np.asarray(x)
    w = np.asarray(w, dtype=np.float64).reshape(-1)
    if w.size != x.shape[0]:
        raise CardinalityError(f"{w.size} weights for {x.shape[0]} rows")
    fn = model.grad_free_energy
    if _accepts_weights(fn):
        return {k: np.asarray(v, dtype=np.float64) for k, v in fn(x, weights=w).items()}
    if isinstance(model, BoltzmannMachine) and not model.hidden.size:
        xf = np.asarray(x, dtype=np.float64)
        gw = -(xf.T @ (xf * w[:, None]))   # (xᵀ·w) @ x hits a slow BLAS path
        np.fill_diagonal(gw, 0.0)
        return {"W": gw, "b": -(w @ xf)}
    out = None
    for k in np.flatnonzero(w):
        g = fn(x[k:k + 1])
        out = scale_grads(g, w[k]) if out is None else add_grads(out, g, w[k])
    if out is None:
        out = {k: np.zeros(np.shape(v)) for k, v in model.params.items()}
    return out


def _bm_covers(model, W):
    """Do the model's compiled edges include every non-zero coupling of ``W``?"""
    mask = np.zeros(W.shape, dtype=bool)
    if model.edges.size:
        mask[model.edges[:, 0], model.edges[:, 1]] = True
    upper = np.triu(W, 1) != 0
    return not np.any(upper & ~mask)


def sampling_view(model):
    """The model itself, or (Boltzmann machines whose graph lacks some non-zero coupling) an
    equivalent rebuilt one, fit for ``samplers.sample``."""
    if isinstance(model, BoltzmannMachine) and not _bm_covers(model, model.W):
        return BoltzmannMachine(model.W.copy(), model.b.copy(), hidden=model.hidden)
    return model


def with_params(model, params):
    """A copy of ``model`` with parameters ``params`` (the original is untouched)."""
    if isinstance(model, BoltzmannMachine):
        return BoltzmannMachine(np.array(params["W"]), np.array(params["b"]), hidden=model.hidden)
    clone = copy.deepcopy(model)
    clone.set_params(**{k: np.array(v) for k, v in params.items()})
    return clone
