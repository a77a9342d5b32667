"""Discrete factors φ(C) ≥ 0 over a scope of variables, stored in log space (SPEC.md §1).

A factor is a table with one axis per variable of its scope; the axis order is the scope order
(the last variable changes fastest in the flattened table, as in the UAI format).
"""

import numpy as np

from ._validation import as_float_array, check_cardinality, check_name
from .errors import CardinalityError, ModelError, UnknownVariableError

__all__ = ["DiscreteFactor"]


class DiscreteFactor:
    """Non-negative table over discrete variables, kept as log values.

    Parameters
    ----------
    scope : sequence of str or int
        Variable names, one per table axis; no repeats.
    table : array_like
        Non-negative finite values with shape ``cardinalities`` (or flat, when
        ``cardinalities`` is given).
    cardinalities : sequence of int, optional
        Number of states of each scope variable; defaults to ``np.shape(table)``.
    log : bool
        When true, ``table`` holds log values (``-inf`` allowed for zeros).

    Examples
    --------
    >>> f = DiscreteFactor(["a", "b"], [[1.0, 2.0], [3.0, 4.0]])
    >>> f.cardinalities
    (2, 2)
    >>> round(float(f.table[1, 0]), 12)
    3.0
    """

    __slots__ = ("scope", "cardinalities", "log_table")

    def __init__(self, scope, table, cardinalities=None, log=False):
        scope = tuple(check_name(v) for v in scope)
        if len(set(scope)) != len(scope):
            raise ModelError(f"factor scope repeats a variable: {scope}")
        arr = as_float_array(table, "factor table")
        if cardinalities is None:
            cards = tuple(arr.shape) if arr.ndim else ()
            if len(cards) != len(scope):
                raise CardinalityError(
                    f"factor over {scope} needs a table with {len(scope)} axes, got shape {arr.shape}"
                )
        else:
            cards = tuple(check_cardinality(v, c) for v, c in zip(scope, cardinalities))
            if len(cards) != len(scope):
                raise CardinalityError(
                    f"factor over {scope} got {len(cardinalities)} cardinalities"
                )
            size = int(np.prod(cards, dtype=np.int64))
            if arr.size != size:
                raise CardinalityError(
                    f"factor over {scope} with cardinalities {cards} needs {size} values, "
                    f"got {arr.size}"
                )
            arr = arr.reshape(cards)
        for v, c in zip(scope, cards):
            check_cardinality(v, c)
        if log:
            if np.any(np.isnan(arr)) or np.any(arr == np.inf):
                raise ModelError(f"log-table of factor over {scope} has NaN or +inf entries")
            log_table = arr.copy()
        else:
            if not np.all(np.isfinite(arr)):
                raise ModelError(f"table of factor over {scope} has non-finite entries")
            if np.any(arr < 0):
                raise ModelError(
                    f"table of factor over {scope} has negative entries (min {float(arr.min())!r}); "
                    "factors must be non-negative"
                )
            with np.errstate(divide="ignore"):
                log_table = np.log(arr)
        self.scope = scope
        self.cardinalities = cards
        self.log_table = log_table

    @classmethod
    def from_log(cls, scope, log_table, cardinalities=None):
        """Build a factor from log values (``-inf`` for zero entries)."""
        return cls(scope, log_table, cardinalities, log=True)

    @property
    def table(self):
        """The factor values ``exp(log_table)``."""
        return np.exp(self.log_table)

    def __repr__(self):
        return f"DiscreteFactor(scope={self.scope}, cardinalities={self.cardinalities})"

    def log_value(self, states):
        """Log factor value for a batch of scope assignments ``(n, len(scope))``."""
        states = np.asarray(states, dtype=np.int64)
        if states.ndim == 1:
            states = states[None]
        if states.shape[-1] != len(self.scope):
            raise CardinalityError(
                f"assignments for factor over {self.scope} need {len(self.scope)} columns, "
                f"got shape {states.shape}"
            )
        return self.log_table[tuple(states.T)]

    def reduce(self, evidence):
        """Slice the table at ``{variable: state}`` for variables in the scope."""
        index, scope, cards = [], [], []
        for v, c in zip(self.scope, self.cardinalities):
            if v in evidence:
                index.append(int(evidence[v]))
            else:
                index.append(slice(None))
                scope.append(v)
                cards.append(c)
        return DiscreteFactor.from_log(scope, self.log_table[tuple(index)], cards)

    def aligned(self, target_scope):
        """Log table transposed and reshaped to broadcast against ``target_scope``."""
        pos = {v: i for i, v in enumerate(target_scope)}
        missing = [v for v in self.scope if v not in pos]
        if missing:
            raise UnknownVariableError(f"variables {missing} are not in the target scope")
        order = sorted(range(len(self.scope)), key=lambda i: pos[self.scope[i]])
        t = np.transpose(self.log_table, order)
        shape = [1] * len(target_scope)
        for i in order:
            shape[pos[self.scope[i]]] = self.cardinalities[i]
        return t.reshape(shape)

    def product(self, other):
        """Factor product (sum of log tables)."""
        scope = list(self.scope) + [v for v in other.scope if v not in self.scope]
        cards = dict(zip(self.scope, self.cardinalities))
        cards.update(zip(other.scope, other.cardinalities))
        log_table = self.aligned(scope) + other.aligned(scope)
        return DiscreteFactor.from_log(scope, log_table, [cards[v] for v in scope])

    def marginalize(self, variables):
        """Sum out ``variables`` (log-sum-exp over their axes)."""
        from scipy.special import logsumexp

        axes = tuple(self.scope.index(v) for v in variables)
        keep = [i for i in range(len(self.scope)) if i not in axes]
        lt = logsumexp(self.log_table, axis=axes) if axes else self.log_table
        return DiscreteFactor.from_log(
            [self.scope[i] for i in keep], lt, [self.cardinalities[i] for i in keep]
        )

    def normalize(self):
        """Return the factor scaled to sum to one."""
        from scipy.special import logsumexp

        return DiscreteFactor.from_log(
            self.scope, self.log_table - logsumexp(self.log_table), self.cardinalities
        )
