"""Score-function (REINFORCE, likelihood-ratio) gradient estimator for discrete random choices
(SPEC.md §5: "back-propagation through random operations … REINFORCE with a baseline for
discrete noise"; Williams 1992).

For a distribution ``q_φ(z)`` and any function ``f``,

    ``∂/∂φ E_{q_φ}[f(z)] = E_{q_φ}[f(z) ∂ log q_φ(z)/∂φ] = E_{q_φ}[(f(z) − b) ∂ log q_φ(z)/∂φ]``

for every baseline ``b`` that does not depend on ``z`` (the score has mean zero,
``E_q[∂ log q/∂φ] = ∂/∂φ Σ_z q_φ(z) = 0``).  With draws ``z_k ~ q_φ``,
``(1/n) Σ_k (f(z_k) − b_k) ∂ log q_φ(z_k)/∂φ`` is unbiased; it needs no derivative of ``f`` and
works for discrete ``z``, but its variance grows with ``|f − b|``: a baseline close to ``E[f]``
(a constant, a running mean, or a learned function of the conditioning input as in NVIL,
:class:`estimators.NVIL`) removes most of it.  The reparametrisation estimator for continuous
noise is :func:`estimators.reparameterization.reparameterize`.
"""

import numbers

import numpy as np

from pgm.errors import CardinalityError

__all__ = ["reinforce"]


def _vector(values, name):
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be numeric, got {type(values).__name__}: {exc}") from None
    return arr


def reinforce(f_values, score_grads, baseline=None):
    """REINFORCE estimate ``(1/n) Σ_k (f(z_k) − b_k) ∂ log q_φ(z_k)/∂φ`` of ``∂/∂φ E_{q_φ}[f]``.

    Parameters
    ----------
    f_values : array (n,)
        ``f(z_k)`` at ``n`` draws ``z_k ~ q_φ`` (independent draws of one distribution, or one
        draw of ``q_φ(· | x_k)`` per data row ``x_k`` — the estimate is then of the gradient of
        the mean ``(1/n) Σ_k E_{q(·|x_k)}[f]``).
    score_grads : dict or callable
        Either the per-draw scores, ``name → array (n, *param_shape)`` holding
        ``∂ log q_φ(z_k)/∂φ`` in row ``k``; or a function ``weights (n,) → {name: Σ_k weights_k
        ∂ log q_φ(z_k)/∂φ}`` (a weighted score, e.g. ``lambda w: recognition.grad_log_prob(v, h,
        weights=w)`` of :class:`pgm.sigmoid_belief.Recognition`), which never stores per-draw
        gradients — what a learner with many parameters uses.
    baseline : None, float or array (n,)
        ``b`` subtracted from ``f`` (``None``: 0).  It must not depend on the draw ``z_k`` itself
        (it may depend on the conditioning input ``x_k`` or on earlier draws); any such baseline
        keeps the estimate unbiased and a good one lowers its variance.

    Returns
    -------
    dict
        ``name → float64 array`` of the parameter's shape: the estimate of ``∂/∂φ E[f]``.

    Raises
    ------
    pgm.errors.CardinalityError
        ``f_values`` not 1-D, a baseline or a score whose leading length is not ``n``.
    ValueError
        Non-finite ``f_values`` or baseline.

    Examples
    --------
    ``z ~ Bernoulli(σ(φ))``, ``f(z) = 3z + 1``: the exact gradient is ``3 σ(φ)(1 − σ(φ))``.

    >>> import numpy as np
    >>> from estimators.gradient_estimators import reinforce
    >>> phi, rng = 0.3, np.random.default_rng(0)
    >>> p = 1 / (1 + np.exp(-phi))
    >>> z = (rng.random(200000) < p).astype(float)
    >>> g = reinforce(3 * z + 1, {"phi": z - p}, baseline=1 + 3 * p)     # score: z − σ(φ)
    >>> bool(abs(g["phi"] - 3 * p * (1 - p)) < 0.01)
    True
    """
    f = _vector(f_values, "f_values")
    if f.ndim != 1 or f.size < 1:
        raise CardinalityError(f"f_values must be a non-empty 1-D array (one value per draw), got shape {f.shape}")
    if not np.all(np.isfinite(f)):
        raise ValueError(f"f_values must be finite, found {f[~np.isfinite(f)][0]!r}")
    n = f.size
    if baseline is not None:
        if isinstance(baseline, bool) or (isinstance(baseline, numbers.Number) and not isinstance(baseline, numbers.Real)):
            raise TypeError(f"baseline must be a real number or an array of {n} values, got {baseline!r}")
        b = _vector(baseline, "baseline")
        if b.ndim > 1 or (b.ndim == 1 and b.size != n):
            raise CardinalityError(f"baseline must be a scalar or have shape ({n},), got shape {b.shape}")
        if not np.all(np.isfinite(b)):
            raise ValueError("baseline must be finite")
        f = f - b
    weights = f / n
    if callable(score_grads):
        out = score_grads(weights)
        return {k: np.asarray(v, dtype=np.float64) for k, v in out.items()}
    if not isinstance(score_grads, dict):
        raise TypeError(f"score_grads must be a dict of per-draw scores or a callable weights → "
                        f"weighted score, got {type(score_grads).__name__}")
    out = {}
    for k, s in score_grads.items():
        s = _vector(s, f"score_grads[{k!r}]")
        if s.ndim < 1 or s.shape[0] != n:
            raise CardinalityError(f"score_grads[{k!r}] must have shape ({n}, ...) (one score per draw), "
                                   f"got {s.shape}")
        out[k] = np.tensordot(weights, s, axes=(0, 0))
    return out
