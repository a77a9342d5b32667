"""Clamped units ("evidence", inpainting) for samplers over vectors of units (private; SPEC.md §5:
clamping a subset of units for conditional sampling, for any model with a conditional sampler).

A kernel that samples a vector of ``n`` units (visible units of a layered model, the variables
of a continuous or binary energy) takes ``evidence = {unit index: value}``: those units start at
their values and never move, so the chain samples the conditional distribution of the free units
given them.
"""

import numbers

import numpy as np

from pgm.errors import EvidenceError, UnknownVariableError

__all__ = ["unit_evidence"]


def unit_evidence(evidence, n_units, binary, what="visible unit"):
    """Checked ``{int index: float value}`` from a user's ``evidence`` (None → ``{}``)."""
    if evidence is None:
        return {}
    if not isinstance(evidence, dict):
        raise TypeError(f"evidence must be a dict {{{what} index: value}}, got {type(evidence).__name__}")
    out = {}
    for i, x in evidence.items():
        if isinstance(i, bool) or not isinstance(i, numbers.Integral) or not 0 <= i < n_units:
            raise UnknownVariableError(f"evidence names {i!r}; expected a {what} index in 0..{n_units - 1}")
        if isinstance(x, bool) or not isinstance(x, numbers.Real) or not np.isfinite(x):
            raise EvidenceError(f"evidence value for {what} {i} must be a finite number, got {x!r}")
        if binary and x not in (0, 1):
            raise EvidenceError(f"evidence value for {what} {i} must be 0 or 1 (binary units), got {x!r}")
        out[int(i)] = float(x)
    return out


def apply(x, clamp, given, what="init"):
    """Write the clamped values into the states ``x`` (chains, n) in place; when the states were
    ``given`` by the user they must agree already."""
    for i, v in clamp.items():
        if given and np.any(x[:, i] != v):
            raise EvidenceError(f"{what} disagrees with the evidence on unit {i}")
        x[:, i] = v
    return x
