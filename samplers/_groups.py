"""Splitting independent chains, replica sets and AIS runs into groups that run on an executor
(a :class:`concurrent.futures.Executor` or a ``dask.distributed.Client``) and merging the groups'
results back, bit for bit equal to one local run (issue 17).

Why the split is exact: a run's randomness is fixed before anything moves — one
``SeedSequence(seed)`` gives the initial states and one xoshiro256 stream per chain (per replica,
per AIS run) — and from then on chains never interact (every kernel's results are independent of
the number of chains and of threads).  So the caller draws the starts of *all* chains locally,
cuts them into contiguous groups, each group continues its rows exactly (``init=`` a
:class:`~samplers.results.ChainState`), and the pieces are concatenated along the chain axis.

What travels: the model as JSON + arrays (``pgm.io.persist.model_record``; a user-defined model
class without a record travels by the executor's own serialisation), the group's start as arrays,
and plain options.  Results come back as arrays.
"""

import numpy as np

from pgm.errors import ModelError

from .results import ChainState, Samples

__all__ = ["resolve_executor", "default_groups", "split", "run_all", "select_chains",
           "concat_states", "state_to_arrays", "state_from_arrays", "ship_model", "land_model",
           "merge_samples"]

EXTRA = 'pip install "pgmc[distributed]"'


def _is_dask(executor):
    return type(executor).__module__.split(".")[0] == "distributed"


def resolve_executor(executor):
    """``executor`` as an object with ``submit``: an Executor, a Dask ``Client``, or ``"dask"``
    (the current Dask client, ``distributed.get_client()``)."""
    if isinstance(executor, str):
        if executor != "dask":
            raise ValueError(f"executor must be a concurrent.futures.Executor, a dask.distributed.Client "
                             f"or 'dask', got {executor!r}")
        try:
            import distributed
        except ImportError:
            raise ImportError(f"executor='dask' needs Dask's distributed scheduler: {EXTRA}") from None
        try:
            return distributed.get_client()
        except ValueError as exc:
            raise ValueError(f"executor='dask' found no running Dask client ({exc}); start one with "
                             "dask.distributed.Client()") from None
    if not callable(getattr(executor, "submit", None)):
        raise TypeError(f"executor must be a concurrent.futures.Executor or a dask.distributed.Client "
                        f"(anything with submit(fn, *args)), got {type(executor).__name__}")
    context = getattr(executor, "_mp_context", None)
    if context is not None and context.get_start_method() == "fork":
        raise ValueError("a ProcessPoolExecutor that forks would copy numba's thread pool into its workers, "
                         "which is not fork-safe: pass mp_context=multiprocessing.get_context('spawn')")
    return executor


def default_groups(executor):
    """One group per worker (Dask: workers of the cluster; Executor: its ``_max_workers``)."""
    if _is_dask(executor):
        try:
            return max(1, len(executor.scheduler_info()["workers"]))
        except Exception:  # noqa: BLE001 - any scheduler hiccup: fall back to two groups
            return 2
    return max(1, int(getattr(executor, "_max_workers", 2) or 2))


def split(n, groups):
    """``groups`` contiguous, balanced ``(start, stop)`` ranges over ``range(n)``, each of at least
    two chains (when ``n >= 2``): a BLAS product over one row takes the matrix-vector path, whose
    last bits differ from the same row's inside a matrix product, so a group of one chain of a
    layered model would drift from the local run.

    >>> split(7, 3)
    [(0, 2), (2, 5), (5, 7)]
    >>> split(5, 3)
    [(0, 2), (2, 5)]
    """
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"groups must be an integer >= 1, got {groups!r}")
    groups = max(1, min(int(groups), n // 2))
    edges = np.linspace(0, n, groups + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def run_all(executor, fn, tasks, what, ranges):
    """``[fn(*task) for task in tasks]`` on ``executor`` (in order).  Dask retries a group whose
    worker died (``retries=2``); a group that raises re-raises the original exception with a note
    naming the group."""
    if _is_dask(executor):
        futures = [executor.submit(_on_worker, fn, *task, retries=2, pure=False) for task in tasks]
    else:
        futures = [executor.submit(_on_worker, fn, *task) for task in tasks]
    out = []
    for i, (fut, (a, b)) in enumerate(zip(futures, ranges)):
        try:
            out.append(fut.result())
        except Exception as exc:
            exc.add_note(f"(in group {i + 1} of {len(tasks)}: {what} {a}..{b - 1})")
            for other in futures[i + 1:]:
                other.cancel()
            raise
    return out


def _on_worker(fn, *args):
    """Run one group with the kernels' thread count set to the Dask worker's own threads (a
    worker of one thread must not spread numba's pool over the node's every core); results do
    not depend on the thread count."""
    n = _worker_threads()
    if n is None:
        return fn(*args)
    from .threads import threads

    with threads(n):
        return fn(*args)


def _worker_threads():
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        return None
    import numba

    n = getattr(worker, "nthreads", None) or getattr(worker.state, "nthreads", 1)
    return max(1, min(int(n), numba.config.NUMBA_NUM_THREADS))


# ----------------------------------------------------------------------------- chain states
def state_to_arrays(state):
    return state.to_arrays()


def state_from_arrays(arrays):
    return ChainState.from_arrays(arrays)


def _rows(arr, chains, a, b):
    """Rows of chains a..b-1 of an array laid out chain-major with ``len(arr) // chains`` rows
    per chain (one for most kernels, R replicas for tempered runs)."""
    per = arr.shape[0] // chains
    if per * chains != arr.shape[0]:
        raise ModelError(f"cannot split a chain-state array of {arr.shape[0]} rows into {chains} chains")
    return arr[a * per:b * per]


def select_chains(state, chains, a, b):
    """The :class:`ChainState` of chains ``a..b-1`` of ``state`` (of ``chains`` chains)."""
    arrays = {k: _rows(np.asarray(v), chains, a, b) for k, v in state_to_arrays(state).items()}
    return state_from_arrays(arrays)


def concat_states(states):
    parts = [state_to_arrays(s) for s in states]
    return state_from_arrays({k: np.concatenate([p[k] for p in parts], axis=0) for k in parts[0]})


# ----------------------------------------------------------------------------- models
def ship_model(model):
    """``("npz", bytes)``: the model's own save file (JSON header + arrays, no pickle) for the
    kinds ``pgm.load`` reads; ``("object", model)`` otherwise (it then travels by the executor's
    serialisation, as the task function does)."""
    import os
    import tempfile

    if not callable(getattr(model, "save", None)):
        return ("object", model)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.npz")
        try:
            model.save(path)
        except TypeError:
            return ("object", model)
        with open(path, "rb") as fh:
            return ("npz", fh.read())


def land_model(shipped):
    if shipped[0] == "object":
        return shipped[1]
    import os
    import tempfile

    from pgm.io.persist import load

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.npz")
        with open(path, "wb") as fh:
            fh.write(shipped[1])
        return load(path)


# ----------------------------------------------------------------------------- results
#: ``info`` entries that are totals over chains (summed across groups)
_SUMS = ("n_grad_evals", "n_energy_evals", "n_grad_evals_sampling", "n_energy_evals_sampling", "n_divergent")
#: ``info`` entries with one value per chain (concatenated)
_PER_CHAIN = ("step_size", "initial_step_size", "round_trips")
#: ``info`` entries that are means over chains (weighted by the groups' chain counts)
_MEANS = ("swap_acceptance", "mean_cluster_size")


def _merge_info(infos, sizes):
    """Group infos → one: totals summed, per-chain lists concatenated, means weighted, wall
    times the longest group's, anything else kept from the first group (it is configuration)."""
    out = dict(infos[0])
    w = np.asarray(sizes, dtype=np.float64) / sum(sizes)
    for key in infos[0]:
        values = [i[key] for i in infos]
        if key in _SUMS:
            out[key] = sum(values)
        elif key in _PER_CHAIN:
            out[key] = [x for v in values for x in v]
        elif key in _MEANS:
            with np.errstate(invalid="ignore"):
                mean = np.nansum([wi * np.asarray(v, dtype=np.float64) for wi, v in zip(w, values)], axis=0)
            out[key] = mean.tolist()
        elif key.startswith("seconds_"):
            out[key] = max(values)
    return out


def merge_samples(parts, chains, seed):
    """One :class:`Samples` from the groups' ``Samples`` (in chain order)."""
    sizes = [p.chains for p in parts]
    states = None if parts[0].states is None else np.concatenate([p.states for p in parts], axis=0)
    obs = {k: np.concatenate([p.observables[k] for p in parts], axis=0) for k in parts[0].observables}
    stats = {k: np.concatenate([p.sample_stats[k] for p in parts], axis=0) for k in parts[0].sample_stats}
    info = _merge_info([p.info for p in parts], sizes)
    info.update(chains=chains, seed=seed if isinstance(seed, (int, type(None))) else None, groups=len(parts))
    final = concat_states([p.final_state for p in parts])
    return Samples(states, obs, stats, parts[0].variables, final, info)
