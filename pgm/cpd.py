"""Conditional probability distributions of Bayesian-network nodes (SPEC.md §1).

* :class:`TabularCPD` — a table ``p(x | pa)`` over discrete parents;
* :class:`LogisticCPD` — sigmoid belief net unit ``p(x=1 | pa) = σ(b + w·pa)``;
* :class:`LinearGaussianCPD` — ``x | pa ~ N(b + w·pa, variance)``.

Every CPD can evaluate ``log p(x | pa)`` and sample ``x`` for a batch of parent values; the
discrete ones also turn into a log factor over ``(*parents, variable)`` for exact inference.
"""

import math
import numbers

import numpy as np

from ._validation import as_float_array, check_cardinality, check_name
from .errors import CardinalityError, ModelError, NormalizationError
from .factor import DiscreteFactor

__all__ = ["TabularCPD", "LogisticCPD", "LinearGaussianCPD"]


def _parent_matrix(parent_values):
    pv = np.asarray(parent_values, dtype=np.float64)
    return pv[None, :] if pv.ndim == 1 else pv


def _log_sigmoid(z):
    return -np.logaddexp(0.0, -z)


class _CPD:
    variable = None
    parents = ()
    #: number of states, or ``None`` for a continuous variable
    cardinality = None

    @property
    def is_discrete(self):
        return self.cardinality is not None

    def __repr__(self):
        pa = ", ".join(map(repr, self.parents))
        return f"{type(self).__name__}({self.variable!r} | {pa})"


class TabularCPD(_CPD):
    """Conditional probability table ``p(variable | parents)``.

    Parameters
    ----------
    variable : str or int
    cardinality : int
    values : array_like
        Shape ``(cardinality, *parent_cardinalities)`` or ``(cardinality, Π parent cards)``
        (the pgmpy layout: one column per parent configuration, the first parent changing
        slowest).  Each column must be non-negative and sum to one within ``tolerance``; it is
        then renormalised exactly.
    parents : sequence, optional
    parent_cardinalities : sequence of int, optional
    state_names : dict, optional
        ``{variable: [names of its states]}`` for the variable and its parents.
    tolerance : float
        Allowed deviation of each column sum from one.

    Examples
    --------
    >>> cpd = TabularCPD("rain", 2, [[0.8, 0.3], [0.2, 0.7]], parents=["cloudy"],
    ...                  parent_cardinalities=[2])
    >>> cpd.probabilities()[:, 1].tolist()
    [0.3, 0.7]
    >>> cpd.parameter_count()
    2
    """

    def __init__(self, variable, cardinality, values, parents=(), parent_cardinalities=(),
                 state_names=None, tolerance=1e-4):
        self.variable = check_name(variable)
        self.cardinality = check_cardinality(variable, cardinality)
        if isinstance(tolerance, bool) or not isinstance(tolerance, numbers.Real) or not 0 <= tolerance < 1:
            raise ValueError(f"tolerance must be a number in [0, 1), got {tolerance!r}")
        self.parents = tuple(check_name(p) for p in parents)
        if self.variable in self.parents:
            raise ModelError(f"variable {self.variable!r} cannot be its own parent")
        if len(set(self.parents)) != len(self.parents):
            raise ModelError(f"parents of {self.variable!r} repeat a name: {self.parents}")
        parent_cardinalities = tuple(parent_cardinalities)
        if len(parent_cardinalities) != len(self.parents):
            raise CardinalityError(
                f"CPD of {self.variable!r}: {len(self.parents)} parents but "
                f"{len(parent_cardinalities)} parent cardinalities"
            )
        self.parent_cardinalities = tuple(
            check_cardinality(p, c) for p, c in zip(self.parents, parent_cardinalities)
        )
        arr = as_float_array(values, f"CPD table of {self.variable!r}")
        shape = (self.cardinality, *self.parent_cardinalities)
        n_cols = math.prod(self.parent_cardinalities)
        if arr.shape == shape:
            pass
        elif arr.ndim <= 2 and arr.size == self.cardinality * n_cols and (
            arr.ndim == 2 and arr.shape[0] == self.cardinality or arr.ndim == 1 and n_cols == 1
        ):
            arr = arr.reshape(shape)
        else:
            raise CardinalityError(
                f"CPD of {self.variable!r} needs values of shape {shape} or "
                f"({self.cardinality}, {n_cols}), got {arr.shape}"
            )
        if not np.all(np.isfinite(arr)):
            raise NormalizationError(f"CPD of {self.variable!r} has non-finite entries")
        if np.any(arr < 0):
            raise NormalizationError(
                f"CPD of {self.variable!r} has negative entries (min {float(arr.min())!r})"
            )
        sums = arr.sum(axis=0)
        worst = np.max(np.abs(sums - 1.0)) if sums.size else 0.0
        if worst > tolerance:
            col = np.unravel_index(np.argmax(np.abs(sums - 1.0)), sums.shape)
            raise NormalizationError(
                f"CPD of {self.variable!r} is not normalised: the column for parent states "
                f"{tuple(int(c) for c in col)} sums to {float(sums[col])!r} (tolerance {tolerance})"
            )
        self._values = arr / sums
        self.state_names = {}
        if state_names:
            for var, names in state_names.items():
                names = [str(n) for n in names]
                card = dict(zip(self.parents, self.parent_cardinalities)).get(var)
                if var == self.variable:
                    card = self.cardinality
                if card is None:
                    raise ModelError(f"state names given for {var!r}, which is not in this CPD")
                if len(names) != card or len(set(names)) != card:
                    raise CardinalityError(
                        f"{var!r} has {card} states but {len(names)} distinct state names were given"
                    )
                self.state_names[var] = names

    def probabilities(self):
        """The table, shape ``(cardinality, *parent_cardinalities)``."""
        return self._values.copy()

    @property
    def values(self):
        return self._values

    def parameter_count(self):
        """Free parameters ``(k − 1) Π_j k_j``."""
        return (self.cardinality - 1) * math.prod(self.parent_cardinalities)

    def log_factor(self, cardinalities=None):
        """``log p(x | pa)`` as a factor over ``(*parents, variable)``."""
        with np.errstate(divide="ignore"):
            lt = np.log(np.moveaxis(self._values, 0, -1))
        return DiscreteFactor.from_log(
            self.parents + (self.variable,), lt, self.parent_cardinalities + (self.cardinality,)
        )

    def _config(self, parent_values):
        pv = np.asarray(parent_values, dtype=np.int64)
        cfg = np.zeros(pv.shape[0], dtype=np.int64)
        for j, c in enumerate(self.parent_cardinalities):
            cfg = cfg * c + pv[:, j]
        return cfg

    def log_prob(self, x, parent_values):
        """``log p(x | pa)`` for a batch (``x`` shape (n,), ``parent_values`` shape (n, n_parents))."""
        flat = self._values.reshape(self.cardinality, -1)
        with np.errstate(divide="ignore"):
            return np.log(flat[np.asarray(x, dtype=np.int64), self._config(parent_values)])

    def sample(self, parent_values, u):
        """Inverse-CDF draws given parent states and uniforms ``u`` (shape (n,))."""
        cum = self._cumulative()
        rows = cum[self._config(parent_values)]
        return np.sum(u[:, None] >= rows[:, :-1], axis=1)

    def _cumulative(self):
        cum = getattr(self, "_cum", None)
        if cum is None:
            cum = np.cumsum(self._values.reshape(self.cardinality, -1).T, axis=1)
            cum[:, -1] = 1.0
            self._cum = cum
        return cum


class LogisticCPD(_CPD):
    """Binary node of a sigmoid belief net: ``p(x=1 | pa) = σ(bias + weights · pa)``.

    Parent values enter as numbers: the state index of a discrete parent, or the value of a
    continuous one.

    Examples
    --------
    >>> cpd = LogisticCPD("x", parents=["a", "b"], weights=[1.0, -2.0], bias=0.5)
    >>> round(float(np.exp(cpd.log_prob([1], [[1, 0]])[0])), 4)
    0.8176
    """

    def __init__(self, variable, parents=(), weights=(), bias=0.0):
        self.variable = check_name(variable)
        self.parents = tuple(check_name(p) for p in parents)
        if len(set(self.parents)) != len(self.parents) or self.variable in self.parents:
            raise ModelError(f"invalid parents {self.parents} for {self.variable!r}")
        w = as_float_array(weights, f"weights of {self.variable!r}").reshape(-1)
        if w.size != len(self.parents):
            raise CardinalityError(
                f"LogisticCPD of {self.variable!r} has {len(self.parents)} parents but "
                f"{w.size} weights"
            )
        if not isinstance(bias, numbers.Real) or not math.isfinite(bias) or not np.all(np.isfinite(w)):
            raise ModelError(f"LogisticCPD of {self.variable!r} needs finite weights and bias")
        self.weights = w
        self.bias = float(bias)
        self.cardinality = 2

    def parameter_count(self):
        return len(self.parents) + 1

    def logit(self, parent_values):
        return self.bias + _parent_matrix(parent_values) @ self.weights

    def log_prob(self, x, parent_values):
        z = self.logit(parent_values)
        x = np.asarray(x)
        return np.where(x == 1, _log_sigmoid(z), _log_sigmoid(-z))

    def sample(self, parent_values, u):
        z = self.logit(parent_values)
        return (np.log(u) - np.log1p(-u) < z).astype(np.int64)  # u < σ(z)

    def log_factor(self, cardinalities):
        pc = tuple(cardinalities[p] for p in self.parents)
        grid = np.indices(pc).reshape(len(pc), -1).T if pc else np.zeros((1, 0))
        z = self.logit(grid).reshape(pc)
        lt = np.stack([_log_sigmoid(-z), _log_sigmoid(z)], axis=-1)
        return DiscreteFactor.from_log(self.parents + (self.variable,), lt, pc + (2,))


class LinearGaussianCPD(_CPD):
    """Continuous node ``x | pa ~ N(bias + weights · pa, variance)``.

    Examples
    --------
    >>> cpd = LinearGaussianCPD("y", parents=["x"], weights=[2.0], bias=1.0, variance=0.5)
    >>> cpd.parameter_count()
    3
    """

    def __init__(self, variable, parents=(), weights=(), bias=0.0, variance=1.0):
        self.variable = check_name(variable)
        self.parents = tuple(check_name(p) for p in parents)
        if len(set(self.parents)) != len(self.parents) or self.variable in self.parents:
            raise ModelError(f"invalid parents {self.parents} for {self.variable!r}")
        w = as_float_array(weights, f"weights of {self.variable!r}").reshape(-1)
        if w.size != len(self.parents):
            raise CardinalityError(
                f"LinearGaussianCPD of {self.variable!r} has {len(self.parents)} parents but "
                f"{w.size} weights"
            )
        if not np.all(np.isfinite(w)) or not math.isfinite(float(bias)):
            raise ModelError(f"LinearGaussianCPD of {self.variable!r} needs finite weights and bias")
        if not (isinstance(variance, numbers.Real) and math.isfinite(variance) and variance > 0):
            raise ModelError(
                f"variance of {self.variable!r} must be a finite number > 0, got {variance!r}"
            )
        self.weights, self.bias, self.variance = w, float(bias), float(variance)
        self.cardinality = None

    def parameter_count(self):
        return len(self.parents) + 2

    def mean(self, parent_values):
        return self.bias + _parent_matrix(parent_values) @ self.weights

    def log_prob(self, x, parent_values):
        r = np.asarray(x, dtype=np.float64) - self.mean(parent_values)
        return -0.5 * (r * r / self.variance + math.log(2 * math.pi * self.variance))

    def sample(self, parent_values, z):
        """Draws given parent values and standard normals ``z``."""
        return self.mean(parent_values) + math.sqrt(self.variance) * z
