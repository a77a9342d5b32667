"""Stochastic lower bounds on the test log-likelihood of deep belief networks (SPEC.md §5, §6).

A DBN's likelihood needs the top RBM's ``log Z`` (AIS) *and* a sum over every directed hidden
layer, which no closed form gives.  With the bottom-up recognition distribution of the greedy
construction, ``q(x_l = 1 | x_{l−1}) = σ(b_l + x_{l−1} W_l)`` for ``l = 1 … L−1``, the
importance-weighted bound

    ``log p(v) ≥ E_q[ log (1/K) Σ_k p̃(v, h_k) / q(h_k | v) ] − log Z_top``

holds for every ``K`` (K = 1: the variational bound of Hinton et al. 2006; it tightens as ``K``
grows, Burda et al. 2016), with ``p̃(v, h) = Π_{l ≤ L−2} p(x_l | x_{l+1}) ·
exp(b_{L−1}·x_{L−1} + Σ_j softplus(b_L + x_{L−1} W_L)_j)`` (the top layer summed out).
"""

import numbers

import numpy as np

from pgm.network import bernoulli_log_prob, sigmoid
from pgm.validation import as_batch

from .ratios import LogLikelihood

__all__ = ["dbn_log_likelihood"]


def dbn_log_likelihood(dbn, data, log_z_top, samples=100, seed=None, log_z_std=0.0):
    """Importance-weighted lower bound on the log-likelihood of ``data`` under a DBN.

    Parameters
    ----------
    dbn : pgm.DBN
    data : array_like (n, n_visible), binary
    log_z_top : float or AISResult
        ``log Z`` of ``dbn.top_rbm`` (an :class:`AISResult` brings its standard error).
    samples : int
        Importance samples ``K`` per example.
    seed : int, Generator or None

    Returns
    -------
    LogLikelihood
        ``per_example`` holds the bound per row; ``std`` combines the spread over rows with the
        uncertainty of ``log Z_top``.

    Examples
    --------
    >>> import numpy as np, pgm, samplers
    >>> dbn = pgm.DBN([3, 2, 2], seed=0)
    >>> v = np.array([[0, 1, 1], [1, 0, 0]])
    >>> b = samplers.dbn_log_likelihood(dbn, v, dbn.top_rbm.exact_log_partition(), samples=20000, seed=0)
    >>> exact = pgm.exact.log_likelihood(dbn, v)
    >>> bool(np.all(b.per_example <= exact + 1e-3)), bool(np.all(exact - b.per_example < 0.02))
    (True, True)
    """
    if getattr(dbn, "layered_kind", None) != "dbn":
        raise TypeError(f"dbn_log_likelihood needs a pgm.DBN, got {type(dbn).__name__}")
    if isinstance(samples, bool) or not isinstance(samples, numbers.Integral) or samples < 1:
        raise ValueError(f"samples must be an integer >= 1, got {samples!r}")
    if hasattr(log_z_top, "log_z"):
        log_z_top, log_z_std = log_z_top.log_z, log_z_top.log_z_std
    if not np.isfinite(log_z_top):
        raise ValueError(f"log_z_top must be finite, got {log_z_top!r}")
    v, _ = as_batch(data, dbn.layer_sizes[0], "data", binary=True)
    rng = np.random.default_rng(seed)
    L = dbn.n_layers
    W = [None] + [np.asarray(w, np.float64) for w in dbn.weights]
    b = [np.asarray(c, np.float64) for c in dbn.biases]
    out = np.empty(v.shape[0])
    step = max(1, 2**22 // (samples * max(dbn.layer_sizes)))
    for a in range(0, v.shape[0], step):
        x = [np.broadcast_to(v[a:a + step, None, :], (min(step, v.shape[0] - a), samples, v.shape[1]))]
        log_w = 0.0
        for l in range(1, L):                         # up pass: h_l ~ q(h_l | h_{l−1})
            logits = b[l] + x[l - 1] @ W[l]
            h = (rng.random(logits.shape) < sigmoid(logits)).astype(np.float64)
            log_w = log_w - bernoulli_log_prob(h, logits).sum(-1)
            x.append(h)
        for l in range(L - 1):                        # directed layers p(x_l | x_{l+1})
            log_w = log_w + bernoulli_log_prob(x[l], b[l] + x[l + 1] @ W[l + 1].T).sum(-1)
        top = x[L - 1]
        log_w = log_w + top @ b[L - 1] + np.logaddexp(0.0, b[L] + top @ W[L]).sum(-1)
        m = log_w.max(axis=1, keepdims=True)
        out[a:a + step] = (m[:, 0] + np.log(np.exp(log_w - m).mean(axis=1)))
    return LogLikelihood(out - float(log_z_top), float(log_z_top), float(log_z_std))
