"""The training loop ``estimators.fit`` (SPEC.md §3 learners), its history and checkpoints.

One loop drives every objective: per epoch the data are shuffled with the fit's random
generator, cut into minibatches, and for each batch the objective returns a gradient (positive
phase on the batch, negative phase from the sampler state it keeps), the optimiser turns it into
new parameter values, and these are written back with one ``set_params`` call (restored if that
call is interrupted, so the model always holds the last *completed* update).  Full-batch
optimisers (:class:`estimators.LBFGS`) instead run on the whole data set once per epoch.

Randomness: one ``numpy.random.Generator`` (PCG64) seeded by ``seed`` draws the permutations and
every seed the objectives need (CD's chains, PL's random blocks, NCE / DSM noise); persistent
chains carry their own streams in a :class:`samplers.ChainState`.

Checkpoints (``np.savez`` + a JSON header with a format version, read with
``allow_pickle=False``) hold the parameters, the objective's own parameters (NCE's ``c``), the
optimiser state, the objective state (persistent chains with their RNG streams, fast weights),
the fit generator's state, the history and a hash of the data: a run resumed from a checkpoint
gives the same numbers, bit for bit, as one that never stopped.
"""

import hashlib
import json
import math
import numbers
import os
import time
import warnings

import numpy as np

from pgm.errors import ModelError, ParseError
from pgm.io.files import read_meta, read_npz
from samplers.progress import Progress

from ._protocol import check_data, visible_is_binary
from ._update import apply_update, check_parameters, param_view
from .objectives import Objective
from .optimizers import SGD, Adam

__all__ = ["fit", "History", "Checkpoint", "load_checkpoint", "CHECKPOINT_FORMAT", "CHECKPOINT_VERSION"]

CHECKPOINT_FORMAT = "pgmc-fit-checkpoint"
CHECKPOINT_VERSION = 1


class History:
    """Per-epoch records of a training run.

    ``history.records`` is a list of dicts (``epoch``, the objective's monitoring values averaged
    over the epoch's batches — ``loss`` where the objective has one —, ``lr``, ``seconds`` and
    whatever callbacks returned); ``history["loss"]`` is that column as an array (NaN where an
    epoch has no value).

    Examples
    --------
    >>> from estimators import History
    >>> h = History([{"epoch": 1, "loss": 2.0}, {"epoch": 2}])
    >>> h["loss"].tolist(), len(h)
    ([2.0, nan], 2)
    """

    def __init__(self, records=()):
        self.records = [dict(r) for r in records]

    def append(self, record):
        self.records.append(dict(record))

    def __len__(self):
        return len(self.records)

    def __getitem__(self, key):
        return np.array([r.get(key, np.nan) for r in self.records], dtype=np.float64)

    def keys(self):
        out = []
        for r in self.records:
            out += [k for k in r if k not in out]
        return out

    @property
    def last(self):
        return self.records[-1] if self.records else {}

    def __repr__(self):
        return f"History(epochs={len(self)}, keys={self.keys()})"


class Checkpoint:
    """Where and how often :func:`estimators.fit` saves its state.

    Parameters
    ----------
    path : str or path-like
        File written (atomically: a temporary file, then renamed) after every ``every`` epochs
        and after the last one.
    every : int
    """

    def __init__(self, path, every=1):
        self.path = os.fspath(path)
        if isinstance(every, bool) or not isinstance(every, numbers.Integral) or every < 1:
            raise ValueError(f"every must be an integer >= 1, got {every!r}")
        self.every = int(every)

    def __repr__(self):
        return f"Checkpoint({self.path!r}, every={self.every})"


# ---------------------------------------------------------------------------- helpers
def _jsonable(v):
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None if math.isnan(v) else v
    return v


def _data_hash(x):
    return hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest()


def _call_callbacks(callbacks, hook, *args):
    out = {}
    for cb in callbacks:
        fn = getattr(cb, hook, None)
        if fn is None and hook == "on_epoch_end" and callable(cb):
            fn = cb
        if fn is not None:
            logs = fn(*args)
            if logs:
                out.update({k: _jsonable(v) for k, v in dict(logs).items()})
    return out


def _flatten(params, keys):
    return np.concatenate([np.asarray(params[k], dtype=np.float64).ravel() for k in keys])


def _unflatten(vec, like, keys):
    out, at = {}, 0
    for k in keys:
        shape = np.shape(like[k])
        size = int(np.prod(shape, dtype=np.int64))
        out[k] = vec[at:at + size].reshape(shape)
        at += size
    return out


# ---------------------------------------------------------------------------- checkpoints
def _save(path, model, objective, optimizer, rng, history, epoch, meta_extra):
    arrays = {}
    for k, v in model.params.items():
        arrays[f"param/{k}"] = np.asarray(v)
    for k, v in objective.own_params.items():
        arrays[f"own/{k}"] = np.asarray(v)
    opt_arrays, opt_meta = optimizer.state_dict()
    for k, v in opt_arrays.items():
        arrays[f"optimizer/{k}"] = np.asarray(v)
    for k, v in objective.state_dict().items():
        arrays[f"objective/{k}"] = np.asarray(v)
    meta = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "epoch": int(epoch),
            "model": type(model).__name__, "objective": objective.config(),
            "optimizer": optimizer.config(), "optimizer_state": opt_meta,
            "rng": rng.bit_generator.state,
            "history": [{k: _jsonable(v) for k, v in r.items()} for r in history.records],
            **meta_extra}
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as fh:
        np.savez(fh, __meta__=np.array(json.dumps(meta)), **arrays)
    os.replace(tmp, path)


def load_checkpoint(path):
    """Read a checkpoint written by :func:`estimators.fit`: ``(meta, arrays)``.

    ``meta`` is the JSON header (format, version, epoch, configurations, RNG state, history);
    ``arrays`` maps ``"param/…"``, ``"own/…"``, ``"optimizer/…"`` and ``"objective/…"`` names to
    arrays.  Raises :class:`pgm.errors.ParseError` naming the file on a file of another format
    or version, one that is not a readable ``.npz`` archive (or holds more than
    ``pgm.io.files.MAX_NPZ_BYTES`` of arrays), a header without the entries a resume needs
    (``epoch``, ``history``, ``model``, ``objective``, ``optimizer``, ``optimizer_state``,
    ``rng``) or arrays outside those four groups; ``OSError`` when it cannot be opened.
    """
    return _read_checkpoint(os.fspath(path))


def _read_checkpoint(path, expect=None):
    """``(meta, arrays)`` of a checkpoint; ``expect(meta, shapes)`` (``shapes``: array name →
    declared shape) may refuse the file before any array data is read."""
    plan = {}

    def check(first, declared):
        plan["meta"] = read_meta(first, path, "a fit checkpoint", CHECKPOINT_FORMAT, CHECKPOINT_VERSION)
        _check_header(plan["meta"], path)
        odd = sorted(k for k in declared if k != "__meta__" and (
            k.split("/", 1)[0] not in ("param", "own", "optimizer", "objective") or "/" not in k
            or k.endswith("/")))
        if odd:
            raise ParseError(f"unexpected arrays {odd[:5]} in the checkpoint", path)
        for k, (_, dtype) in declared.items():
            if k != "__meta__" and dtype.kind not in "biuf":
                raise ParseError(f"array {k!r} must hold numbers, got dtype {dtype}", path)
        if expect is not None:
            expect(plan["meta"], {k: tuple(shape) for k, (shape, _) in declared.items() if k != "__meta__"})

    arrays = read_npz(path, "a fit checkpoint", check=check)
    del arrays["__meta__"]
    return plan["meta"], arrays


def _check_header(meta, path):
    """The entries of a checkpoint header that a resume reads, with their JSON types."""
    for key in ("epoch", "history", "model", "objective", "optimizer", "optimizer_state", "rng"):
        if key not in meta:
            raise ParseError(f"the checkpoint header has no {key!r} entry", path)
    epoch, history = meta["epoch"], meta["history"]
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        raise ParseError(f"the checkpoint's epoch must be an integer >= 0, got {epoch!r}", path)
    if not isinstance(history, list) or not all(isinstance(r, dict) for r in history) or len(history) != epoch:
        got = f"{len(history)} records" if isinstance(history, list) else type(history).__name__
        raise ParseError(f"the checkpoint's history must be a list of one record (a JSON object) per "
                         f"epoch ({epoch}), got {got}", path)
    if not isinstance(meta["optimizer_state"], dict) or not isinstance(meta["rng"], dict):
        raise ParseError("the checkpoint's optimizer_state and rng entries must be JSON objects", path)


def _normalise(cfg):
    return json.loads(json.dumps(cfg))


def _group(arrays, prefix):
    return {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}


def _check_shapes(shapes, like, what, path):
    """The checkpoint's arrays of a group (``shapes``: name → shape) must be those of this run."""
    if set(shapes) != set(like):
        raise ParseError(f"the checkpoint holds {what}s {sorted(shapes)}, this run has {sorted(like)}", path)
    for k, shape in shapes.items():
        if shape != tuple(like[k]):
            raise ParseError(f"{what} {k!r} has shape {shape} in the checkpoint, {tuple(like[k])} in this "
                             "run", path)


#: the slots each built-in optimiser keeps per parameter (``"kind/name"`` arrays)
_SLOTS = {"SGD": ("velocity",), "Adam": ("m", "v")}


def _check_optimizer_layout(optimizer, shapes, state, like, path):
    """The optimiser part of a checkpoint: ``t`` a count >= 0 and, for SGD / Adam, slot arrays
    ``kind/param`` of known kinds with the parameter's shape (``like``: name → shape)."""
    t = state.get("t")
    if isinstance(t, bool) or not isinstance(t, int) or t < 0:
        raise ParseError(f"the optimiser's update count t must be an integer >= 0, got {t!r}", path)
    if getattr(optimizer, "full_batch", False):
        kinds = ()
    elif type(optimizer) in (SGD, Adam):
        kinds = _SLOTS[type(optimizer).__name__]
    else:
        kinds = None  # a user's optimiser: its own slot names, checked for shapes and values only
    for k, shape in shapes.items():
        kind, _, name = k.partition("/")
        if kinds is not None and (kind not in kinds or name not in like):
            raise ParseError(f"optimiser state {k!r} is not a {' or '.join(kinds) or 'no'} slot of a "
                             f"parameter of this run ({type(optimizer).__name__})", path)
        if name in like and shape != tuple(like[name]):
            raise ParseError(f"optimiser state {k!r} has shape {shape}, the parameter {name!r} has "
                             f"{tuple(like[name])}", path)


def _check_values(arrays, path):
    """Parameters, objective parameters and optimiser slots must be finite (Adam's ``v`` >= 0)."""
    for k, v in arrays.items():
        if k.split("/", 1)[0] in ("param", "own", "optimizer") and v.dtype.kind == "f" \
                and not np.isfinite(v).all():
            raise ParseError(f"array {k!r} of the checkpoint holds non-finite values", path)
        if k.startswith("optimizer/v/") and (v < 0).any():
            raise ParseError(f"array {k!r} (Adam's second moments) holds negative values", path)


def _restore(path, model, objective, optimizer, rng, meta_extra):
    """Put the state of checkpoint ``path`` into this run.  The header and the declared array
    shapes are checked before any array is read, the values before anything is changed, and a
    state the objective refuses is rolled back: a bad checkpoint raises ``ParseError`` and leaves
    the run as it was."""
    like = {k: np.shape(v) for k, v in model.params.items()}
    own_like = {k: np.shape(v) for k, v in objective.own_params.items()}

    def expect(meta, shapes):
        problems = []
        if meta["model"] != type(model).__name__:
            problems.append(f"model {meta['model']} != {type(model).__name__}")
        for name, now in (("objective", objective.config()), ("optimizer", optimizer.config())):
            if _normalise(now) != meta[name]:
                problems.append(f"{name} {meta[name]} != {_normalise(now)}")
        for k, v in meta_extra.items():
            if meta.get(k) != v:
                problems.append(f"{k} {meta.get(k)!r} != {v!r}")
        if problems:
            raise ParseError("the checkpoint does not match this run: " + "; ".join(problems), path)
        _check_shapes(_group(shapes, "param/"), like, "parameter", path)
        _check_shapes(_group(shapes, "own/"), own_like, "objective parameter", path)
        _check_optimizer_layout(optimizer, _group(shapes, "optimizer/"), meta["optimizer_state"],
                                {**like, **{f"objective.{k}": v for k, v in own_like.items()}}, path)

    meta, arrays = _read_checkpoint(os.fspath(path), expect)
    _check_values(arrays, path)
    params, own, opt_arrays = _group(arrays, "param/"), _group(arrays, "own/"), _group(arrays, "optimizer/")
    probe = type(rng.bit_generator)()
    try:
        probe.state = meta["rng"]
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise ParseError(f"the checkpoint's random generator state is invalid: {exc}", path) from None
    before = ({k: np.array(v, copy=True) for k, v in model.params.items()},
              {k: np.array(v, copy=True) for k, v in objective.own_params.items()},
              optimizer.state_dict(), objective.state_dict())
    try:
        model.set_params(**params)
        if own:
            objective.set_own_params(**own)
        optimizer.load_state_dict(opt_arrays, meta["optimizer_state"])
        rest = objective.load_state_dict(_group(arrays, "objective/"))
        if rest:
            raise ValueError(f"it holds objective state {sorted(rest)} that {objective!r} does not use")
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        model.set_params(**before[0])
        if before[1]:
            objective.set_own_params(**before[1])
        optimizer.load_state_dict(*before[2])
        objective.load_state_dict(before[3])
        raise ParseError(f"the checkpoint's state does not fit this run: {exc}", path) from None
    rng.bit_generator.state = probe.state
    return int(meta["epoch"]), History(meta["history"])


# ---------------------------------------------------------------------------- fit
def _count(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def fit(model, data, objective, optimizer=None, epochs=10, batch_size=None, seed=None, callbacks=(),
        checkpoint=None, progress=None, resume=False, shuffle=True):
    """Fit ``model``'s parameters to ``data`` by minimising ``objective``; updates the model in place.

    Parameters
    ----------
    model : a learnable model (``params``, ``set_params`` and what the objective requires —
        ``free_energy``, ``grad_free_energy`` for the energy-based objectives)
        e.g. :class:`pgm.BoltzmannMachine` (fully visible), :class:`pgm.RBM`,
        :class:`pgm.GaussianEnergy`.
    data : array_like (n_samples, n_features)
        Finite; binary (0/1) for binary models and binary objectives.
    objective : estimators.Objective
        :class:`CD`, :class:`PCD`, :class:`FastPCD`, :class:`ExactML`,
        :class:`PseudoLikelihood`, :class:`RatioMatching`, :class:`ScoreMatching`,
        :class:`DenoisingScoreMatching`, :class:`NCE`.
    optimizer : SGD, Adam or LBFGS, default ``SGD(lr=0.01)``
    epochs : int
        Total number of epochs (a resumed run continues up to this number).
    batch_size : int, optional
        Minibatch size (default ``min(100, n_samples)``); must be None for full-batch optimisers.
    seed : int, SeedSequence or None
        Seeds the fit's generator (permutations and every random number the objective draws).
    callbacks : sequence
        Objects with ``on_epoch_end(epoch, model, history) -> dict or None`` (and optionally
        ``on_batch_end(step, model, stats)``), or plain callables with the ``on_epoch_end``
        signature; what they return is merged into the epoch's record (see
        :mod:`estimators.callbacks`).  They run after the epoch's updates.
    checkpoint : str, path-like or Checkpoint, optional
        Save the complete training state there after every epoch (or every ``Checkpoint.every``).
    progress : bool or None
        A tqdm progress bar over the minibatches with rate, ETA and the last epoch's values
        (``None``: only when stderr is a terminal).
    resume : bool
        Continue from ``checkpoint`` (which must exist and match this run: model type, objective
        and optimiser configuration, data, batch size).
    shuffle : bool
        Permute the data every epoch.

    Returns
    -------
    History

    Raises
    ------
    KeyboardInterrupt
        Propagated (from a callback or the user); the model then holds the parameters of the last
        completed update.
    pgm.errors.CardinalityError, pgm.errors.EvidenceError
        Data of the wrong width, non-finite, or not binary where it must be.
    ValueError, TypeError
        Bad arguments (named in the message).
    FloatingPointError
        A non-finite loss or gradient (named with its epoch and batch), or parameters that are
        non-finite or beyond ``1e100`` in magnitude after an epoch (divergence).

    Examples
    --------
    >>> import numpy as np, pgm, estimators
    >>> rng = np.random.default_rng(0)
    >>> x = (rng.random((200, 4)) < [0.2, 0.4, 0.6, 0.8]).astype(int)
    >>> bm = pgm.BoltzmannMachine(np.zeros((4, 4)))
    >>> h = estimators.fit(bm, x, estimators.PseudoLikelihood(), estimators.SGD(lr=0.5),
    ...                    epochs=20, batch_size=50, seed=0, progress=False)
    >>> bool(h["loss"][-1] < h["loss"][0])
    True
    """
    if not isinstance(objective, Objective):
        raise TypeError(f"objective must be an estimators objective (CD, PCD, ExactML, ...), got {type(objective).__name__}")
    for attr in ("params", "set_params", *objective.requires):
        if not hasattr(model, attr):
            raise TypeError(f"{type(model).__name__} is not a model {type(objective).__name__} can "
                            f"train: it has no {attr}")
    optimizer = SGD(lr=0.01) if optimizer is None else optimizer
    if not (hasattr(optimizer, "step") or getattr(optimizer, "full_batch", False)):
        raise TypeError(f"optimizer must be an estimators optimiser (SGD, Adam, LBFGS), got {type(optimizer).__name__}")
    epochs = _count(epochs, "epochs", 0)
    if objective.data_kind == "real" and visible_is_binary(model):
        raise TypeError(f"{type(objective).__name__} is for continuous data, but {type(model).__name__} "
                        "has binary units")
    if objective.data_kind == "binary" and not visible_is_binary(model):
        raise TypeError(f"{type(objective).__name__} needs a model of binary units, "
                        f"{type(model).__name__} has none")
    # read only (batches are copies): no copy of a float64 C-contiguous data set
    x = check_data(data, model, binary=objective.data_kind == "binary", copy=False)
    n = x.shape[0]
    full_batch = bool(getattr(optimizer, "full_batch", False))
    if full_batch:
        if batch_size is not None:
            raise ValueError(f"{type(optimizer).__name__} is a full-batch optimiser; pass batch_size=None, got {batch_size!r}")
        if not objective.has_loss:
            raise TypeError(f"{type(optimizer).__name__} needs an objective with a loss; "
                            f"{type(objective).__name__} only gives gradient estimates")
        batch_size = n
    else:
        batch_size = min(100, n) if batch_size is None else _count(batch_size, "batch_size", 1)
    if isinstance(callbacks, (str, bytes)) or not hasattr(callbacks, "__iter__"):
        callbacks = (callbacks,)
    callbacks = list(callbacks)
    for cb in callbacks:
        if not (callable(cb) or hasattr(cb, "on_epoch_end") or hasattr(cb, "on_batch_end")):
            raise TypeError(f"callbacks must be callables or have on_epoch_end / on_batch_end, got {cb!r}")
    if checkpoint is not None and not isinstance(checkpoint, Checkpoint):
        checkpoint = Checkpoint(checkpoint)
    if resume and checkpoint is None:
        raise ValueError("resume=True needs checkpoint=<path>")
    if isinstance(seed, np.random.Generator):
        rng = seed
    else:
        rng = np.random.Generator(np.random.PCG64(seed))

    objective.setup(model, x)
    meta_extra = {"n_samples": n, "batch_size": batch_size,
                  "data_sha256": _data_hash(x) if checkpoint is not None else None,
                  "shuffle": bool(shuffle)}
    history, start = History(), 0
    if resume:
        if not os.path.exists(checkpoint.path):
            raise FileNotFoundError(f"no checkpoint at {checkpoint.path!r} to resume from")
        start, history = _restore(checkpoint.path, model, objective, optimizer, rng, meta_extra)

    per_epoch = 1 if full_batch else -(-n // batch_size)
    bar = Progress((epochs - start) * per_epoch, progress, "fit", unit="batch")
    try:
        step = 0
        for epoch in range(start, epochs):
            t0 = time.perf_counter()
            if full_batch:
                stats = _full_batch_epoch(model, x, objective, optimizer, rng, epoch + 1)
                lr = float("nan")
                bar.update(1, f"epoch {epoch + 1}/{epochs}")
            else:
                lr = optimizer.current_lr()
                order = rng.permutation(n) if shuffle else np.arange(n)
                sums, counts = {}, {}
                for a in range(0, n, batch_size):
                    batch = x[order[a:a + batch_size]]
                    st = objective.update(model, batch, rng, optimizer,
                                          where=f"at epoch {epoch + 1}, batch {a // batch_size + 1}")
                    step += 1
                    bar.update(1, f"epoch {epoch + 1}/{epochs}")
                    for k, v in st.items():
                        sums[k] = sums.get(k, 0.0) + float(v)
                        counts[k] = counts.get(k, 0) + 1
                    if callbacks:
                        _call_callbacks(callbacks, "on_batch_end", step, model, st)

                stats = {k: sums[k] / counts[k] for k in sums}
            check_parameters(model, objective, f"after epoch {epoch + 1}")
            record = {"epoch": epoch + 1, **stats, "lr": lr, "seconds": time.perf_counter() - t0}
            record.update(_call_callbacks(callbacks, "on_epoch_end", epoch + 1, model, history))
            history.append({k: _jsonable(v) for k, v in record.items()})
            if checkpoint is not None and ((epoch + 1) % checkpoint.every == 0 or epoch + 1 == epochs):
                _save(checkpoint.path, model, objective, optimizer, rng, history, epoch + 1, meta_extra)
            bar.note(**{k: f"{v:.4g}" for k, v in record.items()
                        if k not in ("epoch", "seconds") and isinstance(v, float) and math.isfinite(v)})
    finally:
        bar.close()
    return history


def _full_batch_epoch(model, x, objective, optimizer, rng, epoch):
    """One run of a full-batch optimiser; the objective's random numbers are replayed from one
    seed at every evaluation, so its loss is a deterministic function of the parameters."""
    seed = int(rng.integers(2**63))
    start = param_view(model, objective)
    keys = sorted(start)
    like = {k: np.array(v, dtype=np.float64, copy=True) for k, v in start.items()}
    last = {}

    def fun(vec):
        values = _unflatten(vec, like, keys)
        try:
            apply_update(model, objective, values, f"in epoch {epoch}")
        except ModelError:
            return math.inf, np.zeros_like(vec)
        loss, grads, st = objective._evaluate(model, x, np.random.default_rng(seed), need_grad=True)
        last.update(st)
        g = np.zeros_like(vec)
        at = 0
        for k in keys:
            size = like[k].size
            if k in grads:
                g[at:at + size] = np.asarray(grads[k], dtype=np.float64).ravel()
            at += size
        if not (math.isfinite(loss) and np.all(np.isfinite(g))):
            return math.inf, np.zeros_like(vec)
        return loss, g

    res = optimizer.minimize(fun, _flatten(like, keys))
    if not res.success:
        warnings.warn(f"{type(optimizer).__name__} did not converge in epoch {epoch}: {res.message} "
                      f"(largest gradient component {float(np.max(np.abs(res.jac))):.3g})", RuntimeWarning,
                      stacklevel=3)
    apply_update(model, objective, _unflatten(np.asarray(res.x, dtype=np.float64), like, keys), f"in epoch {epoch}")
    loss = objective._evaluate(model, x, np.random.default_rng(seed), need_grad=False)[0]
    return {"loss": float(loss), **{k: float(v) for k, v in last.items()},
            "iterations": int(res.nit), "grad_norm": float(np.max(np.abs(res.jac))) if res.jac is not None else math.nan,
            "converged": bool(res.success)}
