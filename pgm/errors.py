"""Typed errors raised at the public boundary of the toolkit.

Every error names the offending value and what was expected.  They subclass the built-in
``ValueError`` / ``KeyError`` / ``TypeError`` so that callers may catch either the precise
class or the familiar built-in one.
"""

__all__ = [
    "ModelError",
    "CycleError",
    "NormalizationError",
    "CardinalityError",
    "UnknownVariableError",
    "EvidenceError",
    "SamplingError",
    "ParseError",
    "TooLargeError",
    "ConvergenceWarning",
]


class ModelError(ValueError):
    """A model is malformed (inconsistent graph, shapes, parameters)."""


class CycleError(ModelError):
    """A directed graph that must be acyclic contains a cycle.

    Attributes
    ----------
    cycle : list
        The nodes of one directed cycle, in order.
    """

    def __init__(self, cycle):
        self.cycle = list(cycle)
        path = " -> ".join(map(repr, self.cycle + self.cycle[:1]))
        super().__init__(f"the graph must be acyclic but contains the cycle {path}")


class NormalizationError(ModelError):
    """A conditional probability table is negative or does not sum to one."""


class CardinalityError(ModelError):
    """Shapes or cardinalities disagree."""


class UnknownVariableError(KeyError):
    """A variable name that the model does not contain."""

    def __str__(self):  # KeyError would print the repr of the message
        return str(self.args[0]) if self.args else ""


class EvidenceError(ModelError):
    """Evidence names a value outside a variable's domain or is otherwise invalid."""


class ParseError(ValueError):
    """A model file (UAI, BIF, saved model) is malformed.

    Attributes
    ----------
    path : str or None
        File the text came from, when known.
    line : int or None
        1-based line number of the offending token, when known.
    """

    def __init__(self, message, path=None, line=None):
        self.path = path
        self.line = line
        where = ""
        if path is not None:
            where += f"{path}"
        if line is not None:
            where += f"{':' if where else 'line '}{line}"
        super().__init__(f"{where}: {message}" if where else message)


class TooLargeError(ValueError):
    """Exact computation would need more memory than the configured limit."""


class SamplingError(ModelError):
    """A model misbehaved while a sampler ran (e.g. a NaN energy at a finite point).

    Attributes
    ----------
    where : str or None
        The iteration (``"warm-up iteration 12"``, ``"draw 40"``, ``"initial state"``).
    chain : int or None
        The chain whose state exposed the problem.
    """

    def __init__(self, message, where=None, chain=None):
        self.where = where
        self.chain = chain
        super().__init__(message)


class ConvergenceWarning(RuntimeWarning):
    """An iterative method (loopy belief propagation, mean field, EM, ...) stopped at its
    iteration limit before meeting its tolerance; the result it returns says so too."""
