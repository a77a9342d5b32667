"""Checks and coercions of user input that the samplers and learners share with the models — the
public face of ``pgm/_validation.py`` (typed errors naming the offending value).

* :func:`as_float_array` — a numeric array or a typed error naming what was given;
* :func:`as_batch` — a batch ``(rows, n)`` (or one row) of finite unit values, binary if asked;
* :func:`check_evidence` — ``{variable: state index}`` checked against the variables and
  cardinalities;
* :func:`row_weights` — per-row weights of a weighted parameter gradient.

Examples
--------
>>> from pgm.validation import as_batch
>>> as_batch([[0, 1, 1]], 3, "v", binary=True)[0].tolist()
[[0.0, 1.0, 1.0]]
"""

from ._validation import as_batch, as_float_array, check_evidence, row_weights

__all__ = ["as_float_array", "as_batch", "check_evidence", "row_weights"]
