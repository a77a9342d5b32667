"""Figures for checking samplers and learners: marginals against a reference, image samples,
AIS weights, training curves and 2-D densities.

matplotlib is an optional dependency (``pip install "pgmc[plots]"``): ``import pgm`` does not
import it, and neither does ``import pgm.plot``; each function imports ``matplotlib.pyplot`` when
it is called and raises :class:`ImportError` when matplotlib is missing.  Functions draw on the
``ax`` (or ``fig``) they are given — a new figure when none is given — return it, and never call
``plt.show()``.

Examples
--------
>>> import pgm
>>> bn = pgm.read_bif(pgm.example_path("asia"))
>>> ax = pgm.plot.marginals(pgm.exact.marginals(bn), pgm.exact.marginals(bn))
>>> ax.get_title()
'max |error| = 0'
"""

import math
import numbers
from collections.abc import Mapping

import numpy as np

from .errors import CardinalityError, ModelError
from .toy import grid as _toy_grid

__all__ = ["marginals", "sample_grid", "ais_weights", "training_curve", "density_2d", "samples_2d",
           "panel_grid"]

_MISSING = 'pgm.plot needs matplotlib: pip install "pgmc[plots]"'
#: History columns that are bookkeeping rather than monitored values (left out by default)
_BOOKKEEPING = ("epoch", "lr", "seconds")


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(_MISSING) from exc
    return plt


def _axes(ax):
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots()
    return ax


# ----------------------------------------------------------------------------- marginals


def _vectors(x, what):
    """``(names, [1-D float arrays])`` of a dict ``{var: probabilities}`` or a sequence of vectors."""
    if isinstance(x, Mapping):
        names = list(x)
        items = [x[k] for k in names]
    else:
        try:
            items = list(x)
        except TypeError:
            raise TypeError(f"{what} must be a dict {{variable: probabilities}} or a sequence of "
                            f"probability vectors, got {type(x).__name__}") from None
        names = list(range(len(items)))
    vecs = []
    for name, v in zip(names, items):
        a = np.atleast_1d(np.asarray(v, dtype=np.float64))
        if a.ndim != 1:
            raise CardinalityError(f"{what}[{name!r}] must be a vector of probabilities, got shape {a.shape}")
        vecs.append(a)
    return names, vecs


def _aligned(estimate, reference):
    """Reference and estimated vectors paired by variable; typed errors name what disagrees."""
    if isinstance(estimate, Mapping) != isinstance(reference, Mapping):
        raise ModelError("estimate and reference must both be dicts {variable: probabilities} or both "
                         f"sequences, got {type(estimate).__name__} and {type(reference).__name__}")
    enames, evecs = _vectors(estimate, "estimate")
    rnames, rvecs = _vectors(reference, "reference")
    if isinstance(reference, Mapping):
        missing = [k for k in rnames if k not in estimate]
        extra = [k for k in enames if k not in reference]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing from the estimate: {', '.join(map(repr, missing[:5]))}"
                             + (f" and {len(missing) - 5} more" if len(missing) > 5 else ""))
            if extra:
                parts.append(f"not in the reference: {', '.join(map(repr, extra[:5]))}"
                             + (f" and {len(extra) - 5} more" if len(extra) > 5 else ""))
            raise ModelError("estimate and reference have different variables (" + "; ".join(parts) + ")")
        by_name = dict(zip(enames, evecs))
        evecs = [by_name[k] for k in rnames]
    elif len(evecs) != len(rvecs):
        raise ModelError(f"estimate has {len(evecs)} variables but reference has {len(rvecs)}")
    for name, e, r in zip(rnames, evecs, rvecs):
        if e.shape != r.shape:
            label = f"variable {name!r}"
            raise CardinalityError(f"{label}: the estimate has {e.size} probabilities but the reference "
                                   f"has {r.size}")
    return rnames, evecs, rvecs


def marginals(estimate, reference, ax=None, label=None):
    """Scatter estimated marginal probabilities against reference ones.

    Every state of every variable is one point ``(reference, estimate)``; a dashed diagonal marks
    agreement and the title gives the largest absolute difference.

    Parameters
    ----------
    estimate, reference : dict or sequence
        ``{variable: probability vector}`` as returned by :func:`pgm.exact.marginals` or
        ``Samples.marginals()`` (the same variables on both sides; points follow the reference's
        order), or two aligned sequences (a 2-D array, a list of vectors) of per-variable
        probability vectors.
    ax : matplotlib Axes, optional
        Drawn on (a new figure when ``None``); call again with the same ``ax`` and a ``label``
        to compare estimators.
    label : str, optional
        Legend entry of these points (with their max-abs error).

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    pgm.errors.ModelError
        The variables differ (names listed) or one side is a dict and the other a sequence.
    pgm.errors.CardinalityError
        A variable has a different number of states on the two sides (it is named).

    Examples
    --------
    >>> import pgm
    >>> ax = pgm.plot.marginals({"a": [0.31, 0.69]}, {"a": [0.3, 0.7]}, label="gibbs")
    >>> ax.get_title()
    'max |error| = 0.01'
    """
    ax = _axes(ax)
    _, evecs, rvecs = _aligned(estimate, reference)
    est = np.concatenate(evecs) if evecs else np.zeros(0)
    ref = np.concatenate(rvecs) if rvecs else np.zeros(0)
    err = float(np.max(np.abs(est - ref))) if est.size else 0.0
    ax.plot([0.0, 1.0], [0.0, 1.0], ls="--", lw=1, color="0.6", zorder=1)
    ax.scatter(ref, est, s=14, alpha=0.75, zorder=3,
               label=None if label is None else f"{label} (max |error| = {err:.3g})")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_aspect("equal")
    ax.set_xlabel("reference probability")
    ax.set_ylabel("estimated probability")
    ax.set_title(f"max |error| = {err:.3g}")
    if label is not None:
        ax.legend(loc="upper left", fontsize="small")
    return ax


# ----------------------------------------------------------------------------- image grids


def _image_shape(images, shape):
    if images.ndim == 3:
        if shape is not None and tuple(shape) != images.shape[1:]:
            raise CardinalityError(f"images of shape {images.shape[1:]} do not match shape={tuple(shape)}")
        return images.shape[1:]
    p = images.shape[1]
    if shape is None:
        side = math.isqrt(p)
        if side * side != p:
            raise CardinalityError(f"images have {p} pixels, not a square number: pass shape=(rows, cols)")
        return (side, side)
    shape = tuple(int(s) for s in shape)
    if len(shape) != 2 or shape[0] * shape[1] != p:
        raise CardinalityError(f"shape={shape} does not hold the {p} pixels of each image")
    return shape


def sample_grid(images, shape=None, ncols=None, fig=None, cmap="gray", vmin=None, vmax=None, titles=None,
                row_labels=None, figsize=None):
    """A grid of image samples, one small image per axes, row by row.

    Parameters
    ----------
    images : array_like (n, pixels) or (n, rows, cols)
        One image per row (binary or greyscale image models: RBM, DBM, NADE, ... samples).
    shape : (int, int), optional
        Image shape; inferred when the number of pixels is a square (64 → 8 × 8).
    ncols : int, optional
        Images per grid row (default ``ceil(sqrt(n))``).
    fig : matplotlib Figure, optional
        Drawn on (a new figure when ``None``).
    cmap : str
    vmin, vmax : float, optional
        One grey scale for all images: ``[0, 1]`` when every value lies there, otherwise the
        images' overall range.
    titles : sequence of str, optional
        Titles of the first ``len(titles)`` images (e.g. column titles over the first row).
    row_labels : sequence of str, optional
        Label left of each grid row.
    figsize : (float, float), optional
        Size of a new figure (default one inch per image).

    Returns
    -------
    matplotlib.figure.Figure
        With one axes per image, in order (unused grid cells are removed).

    Examples
    --------
    >>> import numpy as np, pgm
    >>> x = np.random.default_rng(0).integers(0, 2, size=(6, 64))
    >>> fig = pgm.plot.sample_grid(x, ncols=3)
    >>> len(fig.axes), fig.axes[0].images[0].get_array().shape
    (6, (8, 8))
    """
    plt = _pyplot()
    images = np.asarray(images, dtype=np.float64)
    if images.ndim == 1:
        images = images[None, :]
    if images.ndim not in (2, 3) or images.shape[0] == 0:
        raise CardinalityError(f"images must be a non-empty (n, pixels) or (n, rows, cols) array, "
                               f"got shape {images.shape}")
    shape = _image_shape(images, shape)
    n = images.shape[0]
    if ncols is None:
        ncols = math.ceil(math.sqrt(n))
    if isinstance(ncols, bool) or not isinstance(ncols, numbers.Integral) or ncols < 1:
        raise ValueError(f"ncols must be a positive integer, got {ncols!r}")
    ncols = min(int(ncols), n)
    nrows = math.ceil(n / ncols)
    if vmin is None and vmax is None:
        lo, hi = float(np.nanmin(images)), float(np.nanmax(images))
        vmin, vmax = (0.0, 1.0) if lo >= 0.0 and hi <= 1.0 else (lo, hi)
    if fig is None:
        fig = plt.figure(figsize=figsize or (1.0 * ncols, 1.0 * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    titles = list(titles or [])
    row_labels = list(row_labels or [])
    for i, ax in enumerate(axes.ravel()):
        if i >= n:
            fig.delaxes(ax)
            continue
        ax.imshow(images[i].reshape(shape), cmap=cmap, vmin=vmin, vmax=vmax)
        ax.set_xticks([])
        ax.set_yticks([])
        if i < len(titles) and titles[i]:
            ax.set_title(titles[i], fontsize=7)
        r, c = divmod(i, ncols)
        if c == 0 and r < len(row_labels) and row_labels[r]:
            ax.set_ylabel(row_labels[r], fontsize=8)
    return fig


# ----------------------------------------------------------------------------- AIS


def _ess(log_weights):
    """``(Σw)² / Σw²`` from log-weights, without overflow; ``-inf`` is a zero weight."""
    finite = np.isfinite(log_weights)
    if not finite.any():
        return 0.0
    w = np.where(finite, np.exp(log_weights - log_weights[finite].max()), 0.0)
    return float(w.sum() ** 2 / np.sum(w * w))


def ais_weights(result, ax=None, bins=30):
    """Histogram of AIS log-weights, with the weights' effective sample size in the title.

    A few runs far to the right of the rest dominate the estimate of ``log Z`` (a small ESS):
    more intermediate distributions or runs are needed.

    Parameters
    ----------
    result : samplers.AISResult or array_like
        An AIS result (its ``log_weights`` and ``ess``) or the log-weights themselves.
    ax : matplotlib Axes, optional
    bins : int or sequence
        As for ``Axes.hist``.

    Returns
    -------
    matplotlib.axes.Axes

    Notes
    -----
    ``ESS = (Σw)² / Σw²`` (computed from the log-weights when ``result`` has no ``ess``); runs
    of weight zero (``log w = -inf``) count in the ESS but cannot be binned: the title says how
    many there are.

    Examples
    --------
    >>> import numpy as np, pgm
    >>> ax = pgm.plot.ais_weights(np.log([1.0, 1.0, 1.0, 1.0]))
    >>> ax.get_title()
    'AIS log-weights: 4 runs, ESS = 4.0'
    """
    ax = _axes(ax)
    lw = np.asarray(getattr(result, "log_weights", result), dtype=np.float64).ravel()
    if lw.size == 0:
        raise ValueError("no AIS log-weights to plot")
    if np.isnan(lw).any() or np.isposinf(lw).any():
        raise ValueError("AIS log-weights must be finite or -inf (zero weight); got NaN or +inf")
    ess = getattr(result, "ess", None)
    ess = _ess(lw) if ess is None else float(ess)
    finite = lw[np.isfinite(lw)]
    ax.hist(finite, bins=bins, color="C0", alpha=0.8)
    title = f"AIS log-weights: {lw.size} runs, ESS = {ess:.1f}"
    if finite.size < lw.size:
        title += f" ({lw.size - finite.size} of weight 0)"
    ax.set_title(title)
    ax.set_xlabel("log weight")
    ax.set_ylabel("runs")
    return ax


# ----------------------------------------------------------------------------- training


def _is_number(v):
    return (isinstance(v, numbers.Real) and not isinstance(v, bool)) or \
        (isinstance(v, np.ndarray) and v.ndim == 0 and v.dtype.kind in "fiu")


def _columns(history):
    """``{key: list of values}`` (``None`` where an epoch lacks the key) and the epoch count."""
    if isinstance(history, Mapping):
        cols = {k: list(np.ravel(np.asarray(v, dtype=object))) for k, v in history.items()}
        lengths = {len(v) for v in cols.values()}
        if len(lengths) > 1:
            raise CardinalityError(f"history columns have different lengths: "
                                   f"{ {k: len(v) for k, v in cols.items()} }")
        return cols, (lengths.pop() if lengths else 0)
    records = getattr(history, "records", history)
    records = [dict(r) for r in records]
    keys = []
    for r in records:
        keys += [k for k in r if k not in keys]
    return {k: [r.get(k) for r in records] for k in keys}, len(records)


def training_curve(history, keys=None, ax=None):
    """Per-epoch curves of a training run.

    Parameters
    ----------
    history : estimators.History, sequence of dict or dict
        What :func:`estimators.fit` returns (``history.records``: one dict per epoch), a list of
        such per-epoch dicts, or ``{key: per-epoch values}``.
    keys : str or sequence of str, optional
        Columns to draw (default: every numeric column but ``epoch``, ``lr`` and ``seconds``).
        Epochs without a value are gaps.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        One line per key (x: the ``epoch`` column when every epoch has one, else 1, 2, ...).

    Raises
    ------
    KeyError
        A requested key is in no epoch's record.

    Examples
    --------
    >>> import pgm
    >>> ax = pgm.plot.training_curve([{"epoch": 1, "loss": 2.0}, {"epoch": 2, "loss": 1.5}])
    >>> ax.lines[0].get_ydata().tolist()
    [2.0, 1.5]
    """
    ax = _axes(ax)
    cols, n = _columns(history)
    if keys is None:
        keys = [k for k, v in cols.items() if k not in _BOOKKEEPING and any(_is_number(x) for x in v)]
        if not keys:
            raise ValueError(f"the history has no numeric column to plot (columns: {list(cols)})")
    elif isinstance(keys, str):
        keys = [keys]
    keys = list(keys)
    for k in keys:
        if k not in cols:
            raise KeyError(f"no epoch of the history has {k!r}; its columns are {list(cols)}")
    epoch = cols.get("epoch")
    if epoch is not None and all(_is_number(e) for e in epoch):
        x = np.asarray(epoch, dtype=np.float64)
    else:
        x = np.arange(1, n + 1, dtype=np.float64)
    for k in keys:
        y = np.array([float(v) if _is_number(v) else np.nan for v in cols[k]], dtype=np.float64)
        ax.plot(x, y, marker="." if n <= 50 else None, label=k)
    ax.set_xlabel("epoch")
    if len(keys) == 1:
        ax.set_ylabel(keys[0])
    else:
        ax.legend(fontsize="small")
    return ax


# ----------------------------------------------------------------------------- 2-D densities


def _square(bounds):
    b = float(bounds)
    if not b > 0.0 or not math.isfinite(b):
        raise ValueError(f"bounds must be a positive number (the square [-bounds, bounds]²), got {bounds!r}")
    return b


def density_2d(log_density, bounds, ax=None, n=200, title=None, cmap="viridis"):
    """Image of a 2-D density known up to a constant, on the square ``[-bounds, bounds]²``.

    Parameters
    ----------
    log_density : callable or array_like
        ``(m, 2) -> (m,)`` log density (unnormalised is fine: e.g. ``lambda x: -model.energy(x)``
        or a :mod:`pgm.toy` density's ``log_prob``), evaluated at the ``n × n`` cell centres of
        :func:`pgm.toy.grid`; or those values already computed (``n²`` values in that order, or
        an ``(n, n)`` array indexed ``[x, y]``).
    bounds : float
    ax : matplotlib Axes, optional
    n : int
        Grid size when ``log_density`` is a callable.
    title : str, optional
    cmap : str

    Returns
    -------
    matplotlib.axes.Axes
        Its image is ``exp(log p - max log p)`` (largest value 1) with ``y`` upwards.

    Examples
    --------
    >>> import pgm
    >>> ring = pgm.toy.Ring()
    >>> ax = pgm.plot.density_2d(ring.log_prob, ring.bounds, n=50, title="ring")
    >>> ax.images[0].get_array().shape
    (50, 50)
    """
    ax = _axes(ax)
    b = _square(bounds)
    if callable(log_density):
        pts, _ = _toy_grid(b, int(n))
        lp = np.asarray(log_density(pts), dtype=np.float64).ravel()
        side = int(n)
    else:
        lp = np.asarray(log_density, dtype=np.float64)
        side = lp.shape[0] if lp.ndim == 2 else math.isqrt(lp.size)
        lp = lp.ravel()
    if lp.size != side * side:
        raise CardinalityError(f"log_density must give n² values on the n × n grid; got {lp.size} values")
    ax.imshow(np.exp(lp - np.max(lp)).reshape(side, side).T, origin="lower", cmap=cmap, extent=[-b, b, -b, b])
    if title is not None:
        ax.set_title(title, fontsize=8)
    return ax


def samples_2d(samples, bounds, ax=None, bins=150, title=None, cmap="viridis"):
    """2-D histogram of samples ``(m, 2)`` on the square ``[-bounds, bounds]²``.

    Parameters
    ----------
    samples : array_like (m, 2)
    bounds : float
    ax : matplotlib Axes, optional
    bins : int
    title : str, optional
    cmap : str

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import numpy as np, pgm
    >>> x = pgm.toy.Ring().sample(1000, np.random.default_rng(0))
    >>> ax = pgm.plot.samples_2d(x, 3.5, bins=20)
    >>> float(ax.collections[0].get_array().sum())
    1000.0
    """
    ax = _axes(ax)
    b = _square(bounds)
    s = np.asarray(samples, dtype=np.float64)
    if s.ndim != 2 or s.shape[1] != 2:
        raise CardinalityError(f"samples must be an (m, 2) array, got shape {s.shape}")
    ax.hist2d(s[:, 0], s[:, 1], bins=bins, range=[[-b, b], [-b, b]], cmap=cmap)
    if title is not None:
        ax.set_title(title, fontsize=8)
    return ax


def panel_grid(nrows, ncols, size=2.4, fig=None):
    """A figure of ``nrows × ncols`` square panels without axis lines, for :func:`density_2d` /
    :func:`samples_2d` (unfilled panels stay blank).

    Parameters
    ----------
    nrows, ncols : int
    size : float
        Inches per panel side (for a new figure).
    fig : matplotlib Figure, optional

    Returns
    -------
    fig : matplotlib.figure.Figure
    axes : ndarray of Axes, shape (nrows, ncols)

    Examples
    --------
    >>> import pgm
    >>> fig, axes = pgm.plot.panel_grid(2, 3)
    >>> axes.shape
    (2, 3)
    """
    plt = _pyplot()
    if fig is None:
        fig = plt.figure(figsize=(size * ncols, size * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    return fig, axes
