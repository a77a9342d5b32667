"""Input checks shared by the model classes (private)."""

import numbers

import numpy as np

from .errors import CardinalityError, EvidenceError, ModelError, UnknownVariableError


def check_name(name):
    """Variable names are ``str`` or ``int`` so that they survive JSON and file formats."""
    if isinstance(name, bool) or not isinstance(name, (str, numbers.Integral)):
        raise TypeError(
            f"variable names must be str or int, got {name!r} of type {type(name).__name__}"
        )
    return int(name) if isinstance(name, numbers.Integral) else str(name)


def positive_int(value, name):
    """``int(value)`` for an integer ≥ 1 (not a bool); ``ValueError`` naming ``name`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_params(own, values):
    """The checked float64 arrays of a ``set_params(**values)`` call against the model's own
    parameters ``own`` (name → array): unknown name → ``KeyError``, wrong shape →
    :class:`~pgm.errors.CardinalityError`, non-finite value → :class:`~pgm.errors.ModelError`.
    Nothing is written, so a caller that assigns only after this returns is all or nothing."""
    unknown = set(values) - set(own)
    if unknown:
        raise KeyError(f"unknown parameters {sorted(unknown)}; expected {list(own)}")
    checked = {}
    for name, value in values.items():
        arr = as_float_array(value, name)
        if arr.shape != np.shape(own[name]):
            raise CardinalityError(f"{name} must have shape {np.shape(own[name])}, got {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise ModelError(f"{name} must be finite, found {arr[~np.isfinite(arr)].flat[0]!r}")
        checked[name] = arr
    return checked


def check_cardinality(name, card):
    if isinstance(card, bool) or not isinstance(card, numbers.Integral):
        raise TypeError(f"cardinality of {name!r} must be an integer, got {card!r}")
    if card < 1:
        raise CardinalityError(f"cardinality of {name!r} must be >= 1, got {card}")
    return int(card)


def as_float_array(values, what, keep_numeric=False):
    """``values`` as a float64 array (``TypeError`` naming ``what`` if they are not numbers);
    ``keep_numeric``: a numeric ndarray (bool, int, float) is returned as it is."""
    if keep_numeric and isinstance(values, np.ndarray) and values.dtype.kind in "fiub":
        return values
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{what} must be numeric, got {type(values).__name__}: {exc}") from None
    return arr


def check_states(x, cardinalities, variables):
    """Validate a batch of discrete states; returns (int64 array (n, d), was_1d)."""
    arr = np.asarray(x)
    one = arr.ndim == 1
    if one:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != len(variables):
        raise CardinalityError(
            f"states must have shape (n, {len(variables)}) or ({len(variables)},), got {np.shape(x)}"
        )
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise TypeError("discrete states must be integers; got non-integral floats")
    elif arr.dtype.kind not in "iub":
        raise TypeError(f"discrete states must be integers, got dtype {arr.dtype}")
    arr = arr.astype(np.int64, copy=False)
    cards = np.asarray(cardinalities, dtype=np.int64)
    bad = (arr < 0) | (arr >= cards[None, :])
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise EvidenceError(
            f"state {arr[row, col]} of variable {variables[col]!r} (row {row}) is outside "
            f"0..{cards[col] - 1}"
        )
    return arr, one


def check_evidence(evidence, index, cardinalities, state_names=None):
    """Validate ``{variable: state}``; returns a new dict with int states.

    A state may be given by name (a ``str``) when ``state_names`` (``{variable: [names]}``,
    e.g. :attr:`pgm.BayesianNetwork.state_names`) names the variable's states."""
    if evidence is None:
        return {}
    if not isinstance(evidence, dict):
        raise TypeError(f"evidence must be a dict {{variable: state}}, got {type(evidence).__name__}")
    out = {}
    for var, val in evidence.items():
        if var not in index:
            raise UnknownVariableError(f"evidence names unknown variable {var!r}")
        card = cardinalities[index[var]]
        if isinstance(val, str):
            names = (state_names or {}).get(var)
            if not names:
                raise EvidenceError(f"evidence value {val!r} for {var!r} is a name, but {var!r} has no "
                                    f"state names: give a state index 0..{card - 1}")
            if val not in names:
                raise EvidenceError(f"evidence value {val!r} for {var!r} is not one of its states {list(names)}")
            val = list(names).index(val)
        if isinstance(val, bool) or not isinstance(val, numbers.Integral):
            raise EvidenceError(f"evidence value for {var!r} must be an integer state or a state name, "
                                f"got {val!r}")
        if not 0 <= val < card:
            raise EvidenceError(
                f"evidence value {val} for {var!r} is outside its domain 0..{card - 1}"
            )
        out[var] = int(val)
    return out


def check_variables(variables, index, what="query"):
    out = []
    for v in variables:
        if v not in index:
            raise UnknownVariableError(f"{what} names unknown variable {v!r}")
        out.append(v)
    if len(set(out)) != len(out):
        raise ModelError(f"{what} repeats a variable: {out}")
    return out


def as_batch(x, n, name, dtype=np.float64, binary=False):
    """Validate a batch ``(rows, n)`` or one row ``(n,)`` of unit values.

    Returns ``(array (rows, n) of dtype, was_1d)``.  Binary layers accept only 0 and 1
    (:class:`~pgm.errors.EvidenceError` otherwise); every value must be finite.
    """
    arr = as_float_array(x, name, keep_numeric=True)
    one = arr.ndim == 1
    if one:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != n:
        raise CardinalityError(f"{name} must have shape (n, {n}) or ({n},), got {np.shape(x)}")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise EvidenceError(f"{name} must be finite, found {arr[~np.isfinite(arr)].flat[0]!r}")
    if binary:
        ok = (arr == 0) | (arr == 1)
        if not ok.all():
            r, col = np.argwhere(~ok)[0]
            raise EvidenceError(
                f"{name} must be binary (0 or 1), found {arr[r, col]!r} at row {r}, unit {col}")
    return np.ascontiguousarray(arr, dtype=dtype), one


def row_weights(weights, n):
    """Per-row weights of a weighted parameter gradient: ``1/n`` each (the batch mean) when
    ``None``, else a length-``n`` float64 vector (:class:`~pgm.errors.CardinalityError` otherwise)."""
    if weights is None:
        return np.full(n, 1.0 / n)
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    if w.size != n:
        raise CardinalityError(f"weights must have one entry per row ({n}), got {w.size}")
    return w
