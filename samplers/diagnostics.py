"""Convergence diagnostics of MCMC output and the warning a run gives when it has not converged
(SPEC.md §2, "Mixing"; Vehtari, Gelman, Simpson, Carpenter & Bürkner 2021).

* :func:`rhat` — rank-normalised split R-hat: each chain is split in half, the draws of all
  half-chains are replaced by the normal scores of their pooled ranks, and the classic
  ``sqrt(var⁺ / W)`` is computed on them and on the folded draws ``|x − median|``; the larger
  of the two is returned.  Near 1 when the half-chains agree; > 1.01 says they do not.
* :func:`ess` — bulk effective sample size: the same rank-normalised split chains, their
  autocorrelations combined across chains (FFT), summed by Geyer's initial monotone sequence.
* :func:`check` / :func:`warn_if_unconverged` — R-hat and bulk ESS of every recorded observable
  of a :class:`~samplers.Samples` (and of every variable when states are kept), and a
  :class:`ConvergenceWarning` naming the worst quantities and the remedy when R-hat > 1.01 or
  bulk ESS < 100.

Every function takes arrays shaped ``(chain, draw, ...)`` and is vectorised over the trailing
axes; the figures agree with ArviZ's ``rhat`` / ``ess(method="bulk")`` (tests/test_diagnostics.py).
"""

import math
import os
import sys
import warnings

import numpy as np
from scipy.special import ndtri

from pgm.errors import ConvergenceWarning

__all__ = ["rhat", "ess", "check", "warn_if_unconverged", "ConvergenceWarning", "RHAT_MAX", "ESS_MIN"]

#: R-hat above this warns (Vehtari et al. 2021)
RHAT_MAX = 1.01
#: bulk ESS below this warns
ESS_MIN = 100
#: recorded state values (chains × draws × variables) diagnosed at most; larger runs are
#: strided along the draws and then subsampled across the variables to fit (diagnosing costs
#: about 0.1 µs per value, so this bounds the check to a few tens of milliseconds)
BUDGET = 250_000


def _split(x):
    """(chain, draw, k) → (2·chain, draw//2, k): each chain cut into its two halves."""
    half = x.shape[1] // 2
    return np.concatenate([x[:, :half], x[:, x.shape[1] - half:]], axis=0)


def _average_ranks(col):
    """1-based ranks of a 1-D array, ties sharing their average rank."""
    order = np.argsort(col, kind="stable")
    sorted_ = col[order]
    new = np.empty(col.size, dtype=bool)
    new[0] = True
    np.not_equal(sorted_[1:], sorted_[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    counts = np.diff(np.append(starts, col.size))
    ranks = np.empty(col.size)
    ranks[order] = (starts + (counts + 1) / 2.0)[np.cumsum(new) - 1]
    return ranks


def _normal_scores(x):
    """Pooled average ranks of each quantity (chain, draw, k), mapped to normal scores."""
    m, n, k = x.shape
    flat = x.reshape(m * n, k)
    ranks = np.stack([_average_ranks(flat[:, j]) for j in range(k)], axis=1)
    return ndtri((ranks - 0.375) / (m * n + 0.25)).reshape(m, n, k)


def _normal_scores_of_states(x):
    """:func:`_normal_scores` of small integers (discrete states) by counting: the average rank
    of value ``u`` is ``#{x < u} + (#{x = u} + 1) / 2``."""
    m, n, k = x.shape
    low = int(x.min())
    card = int(x.max()) - low + 1
    keys = ((x.reshape(m * n, k).astype(np.int64) - low) + card * np.arange(k)).ravel()
    counts = np.bincount(keys, minlength=card * k).reshape(k, card)
    below = np.cumsum(counts, axis=1) - counts
    avg_rank = (below + (counts + 1) / 2.0).ravel()
    return ndtri((avg_rank[keys] - 0.375) / (m * n + 0.25)).reshape(m, n, k)


def _classic_rhat(z):
    n = z.shape[1]
    means = z.mean(axis=1)
    w = z.var(axis=1, ddof=1).mean(axis=0)
    b = n * means.var(axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sqrt(((n - 1) / n * w + b / n) / w)


def _as_3d(x):
    x = np.asarray(x)
    if x.ndim < 2:
        raise ValueError(f"diagnostics need an array shaped (chain, draw, ...), got shape {x.shape}")
    if x.shape[1] < 4:
        raise ValueError(f"diagnostics need at least 4 draws per chain, got {x.shape[1]}")
    return x.reshape(x.shape[0], x.shape[1], -1), x.shape[2:]


def _varies(s):
    flat = s.reshape(-1, s.shape[2])
    return np.any(flat != flat[:1], axis=0)


def _autocov(z):
    """Biased autocovariance of each half-chain and quantity along the draw axis, by FFT;
    returned as (k, m, n)."""
    n = z.shape[1]
    c = np.ascontiguousarray(np.moveaxis(z - z.mean(axis=1, keepdims=True), 2, 0))
    size = 1 << (2 * n - 1).bit_length()
    f = np.fft.rfft(c, n=size, axis=-1)
    return np.fft.irfft(f.real ** 2 + f.imag ** 2, n=size, axis=-1)[..., :n] / n


def _ess_of_split(z):
    """Geyer's initial monotone sequence ESS of split chains z (m, n, k)."""
    m, n, k = z.shape
    acov = _autocov(z).mean(axis=1)                                      # (k, n)
    mean_var = acov[:, 0] * n / (n - 1)
    var_plus = mean_var * (n - 1) / n + (z.mean(axis=1).var(axis=0, ddof=1) if m > 1 else 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = 1.0 - (mean_var[:, None] - acov) / var_plus[:, None]
    rho[:, 0] = 1.0
    pairs = n // 2
    p = rho[:, :2 * pairs:2] + rho[:, 1:2 * pairs:2]                     # (k, pairs)
    # initial positive sequence: the pairs before the first negative one, made monotone
    positive = np.cumprod(p > 0, axis=1).astype(bool)
    p = np.where(positive, np.minimum.accumulate(np.where(positive, p, np.inf), axis=1), 0.0)
    tau = np.maximum(-1.0 + 2.0 * p.sum(axis=1), 1.0 / math.log10(m * n))
    return m * n / tau


def _diagnose(x, discrete=False):
    """``(r_hat, ess_bulk)`` arrays over the last axis of x (chain, draw, k).

    ``discrete``: x holds small non-negative integer states; ranks are counted, not sorted, and
    R-hat is the bulk one (folding a handful of states adds nothing)."""
    s = _split(x)
    if discrete:
        z = _normal_scores_of_states(s)
        r = _classic_rhat(z)
    else:
        s = s.astype(np.float64)
        z = _normal_scores(s)
        folded = np.abs(s - np.median(s.reshape(-1, s.shape[2]), axis=0))
        r = np.fmax(_classic_rhat(z), _classic_rhat(_normal_scores(folded)))
    e = _ess_of_split(z)
    constant = ~_varies(s)
    r[constant] = np.nan
    e[constant] = np.nan
    return r, e


def rhat(x):
    """Rank-normalised split R-hat, the larger of bulk and folded, over axes (chain, draw).

    Parameters
    ----------
    x : array_like (chain, draw, ...)

    Returns
    -------
    float or ndarray of the trailing shape; NaN for a quantity constant in every chain.

    Examples
    --------
    >>> import numpy as np, samplers
    >>> x = np.random.default_rng(0).normal(size=(4, 1000))
    >>> bool(samplers.rhat(x) < 1.01)
    True
    >>> bool(samplers.rhat(x + np.arange(4)[:, None]) > 1.5)      # chains centred apart
    True
    """
    x3, shape = _as_3d(x)
    out = _diagnose(x3)[0]
    return float(out[0]) if shape == () else out.reshape(shape)


def ess(x):
    """Bulk effective sample size (rank-normalised split chains) over axes (chain, draw).

    Parameters
    ----------
    x : array_like (chain, draw, ...)

    Returns
    -------
    float or ndarray of the trailing shape; NaN for a quantity constant in every chain.

    Examples
    --------
    >>> import numpy as np, samplers
    >>> x = np.random.default_rng(0).normal(size=(4, 1000))
    >>> 3000 < samplers.ess(x) < 5000                       # independent draws: about 4000
    True
    """
    x3, shape = _as_3d(x)
    out = _diagnose(x3)[1]
    return float(out[0]) if shape == () else out.reshape(shape)


def _strided(x, budget):
    """x (chain, draw, k) cut to at most ``budget`` values: draws strided down to no fewer than
    100 per chain, then, if still too many, an evenly spaced subset of the quantities."""
    m, n, k = x.shape
    stride = max(1, min(math.ceil(m * n * k / budget), n // 100))
    x = x[:, ::stride]
    keep = np.arange(k)
    if x.shape[0] * x.shape[1] * k > budget:
        keep = np.unique(np.linspace(0, k - 1, max(1, budget // (x.shape[0] * x.shape[1]))).astype(int))
        x = x[:, :, keep]
    return x, keep


def check(samples, states=True, budget=BUDGET):
    """R-hat and bulk ESS of each observable (and each variable when ``states``) of a run.

    Observables are diagnosed in full.  The variables of a long run with many of them are
    strided along the draws (never below 100 per chain) and then, if still more than ``budget``
    values, an evenly spaced subset of them is diagnosed; a strided chain's ESS is at most the
    full one's, so this errs towards warning.  Discrete states are ranked by counting and get the
    bulk R-hat.

    Returns
    -------
    dict ``{name: (r_hat, ess_bulk)}`` (empty when the run has fewer than 4 draws).

    Examples
    --------
    >>> import pgm, samplers
    >>> s = samplers.sample(pgm.Ising.grid(4, 4, beta=0.2), draws=500, seed=0, warn=False,
    ...                     progress=False)
    >>> r, e = samplers.diagnostics.check(s)["magnetization"]
    >>> bool(r < 1.01 and e > 100)
    True
    """
    if samples.draws < 4:
        return {}
    table = {}
    obs = {name: np.asarray(v) for name, v in samples.observables.items()}
    obs = {name: v for name, v in obs.items() if v.ndim == 2 and np.issubdtype(v.dtype, np.number)}
    if obs:
        r, e = _diagnose(np.stack(list(obs.values()), axis=2))
        table.update({name: (float(r[j]), float(e[j])) for j, name in enumerate(obs)})
    if states and samples.states is not None:
        st, keep = _strided(samples.states, budget)
        if st.shape[1] >= 4:
            discrete = np.issubdtype(st.dtype, np.integer) and int(st.max()) - int(st.min()) < 2**16
            r, e = _diagnose(st, discrete=discrete)
            names = [samples.variables[j] for j in keep]
            table.update({f"x[{v}]": (float(r[j]), float(e[j])) for j, v in enumerate(names)})
    return table


def user_stacklevel():
    """stacklevel that points a warning at the first frame outside this distribution."""
    ours = tuple(os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep + p + os.sep
                 for p in ("pgm", "samplers", "estimators"))
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(ours):
        frame, level = frame.f_back, level + 1
    return level


def warn_if_unconverged(samples, what="sampling", remedy=None):
    """Issue a :class:`ConvergenceWarning` when a quantity of ``samples`` has R-hat > 1.01 or
    bulk ESS < 100; return the :func:`check` table."""
    table = check(samples)
    bad_r = sorted(((r, n) for n, (r, _) in table.items() if r > RHAT_MAX), reverse=True)
    bad_e = sorted((e, n) for n, (_, e) in table.items() if e < ESS_MIN)
    if not (bad_r or bad_e):
        return table
    total = samples.chains * samples.draws
    parts = []
    if bad_r:
        worst = ", ".join(f"{r:.3g} for {n!r}" if r < 1000 else f"> 1000 for {n!r}" for r, n in bad_r[:3])
        more = f" and {len(bad_r) - 3} more" if len(bad_r) > 3 else ""
        parts.append(f"R-hat {worst}{more} (> {RHAT_MAX})")
    if bad_e:
        worst = ", ".join(f"{e:.0f} for {n!r}" for e, n in bad_e[:3])
        more = f" and {len(bad_e) - 3} more" if len(bad_e) > 3 else ""
        parts.append(f"bulk ESS {worst}{more} (< {ESS_MIN} of {total} draws)")
    remedy = remedy or ("run more draws and warm-up, or a better-mixing method: parallel tempering "
                        "(samplers.parallel_tempering), cluster moves for Ising models "
                        "(method='swendsen_wang' / 'wolff')")
    warnings.warn(f"{what} has not converged: {'; '.join(parts)}. Remedy: {remedy}; "
                  f"warn=False silences this check.", ConvergenceWarning,
                  stacklevel=user_stacklevel())
    return table
