"""estimators — learning model parameters from data (objectives, optimisers, one training loop)."""

__all__ = []
