"""samplers — turning models into draws: ancestral sampling, likelihood weighting, Gibbs, ..."""

from .ancestral import ancestral, likelihood_weighting

__all__ = ["ancestral", "likelihood_weighting"]
