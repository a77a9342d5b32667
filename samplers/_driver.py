"""The one run loop of every sampler (SPEC.md §2, MCMC; the protocol is in ``samplers/_kernel.py``).

:func:`run` takes a kernel (bound to a model and a method) and

1. starts ``chains`` chains: fresh ones from ``SeedSequence(seed).spawn(3)`` (initial states,
   one xoshiro256 stream per chain, auxiliary streams), or continues a
   :class:`~samplers.results.ChainState` exactly (the seed is then ignored);
2. runs ``warmup`` sweeps in chunks (adaptation happens here), then calls ``end_warmup``;
3. runs ``draws × thin`` sweeps in chunks, recording one draw every ``thin`` sweeps: the
   kernel's per-draw ``Info`` fields (observables and sample statistics), the states when kept,
   and the user's observables evaluated on each chunk of states;
4. returns :class:`~samplers.results.Samples` with the final :class:`ChainState` and run info.

Chunks bound the memory of recorded states (``CHUNK_BYTES``) and the progress bar moves
between them (with a bar shown, each phase runs in at least ``PROGRESS_CHUNKS`` chunks).
Results never depend on the chunking: a kernel's state and streams carry over.  With
``warn=True`` the finished run is diagnosed (``samplers/diagnostics.py``) and a
:class:`~pgm.errors.ConvergenceWarning` names what has not converged.
"""

import math
import time

import numpy as np

from pgm.errors import ModelError, SamplingError, TooLargeError

from . import diagnostics
from ._kernel import Phase, count, spawn_seeds
from .progress import Progress
from .results import ChainState, Samples

__all__ = ["run", "run_settings", "STATE_MEMORY_LIMIT", "CHUNK_BYTES", "PROGRESS_CHUNKS"]

#: largest state array ``keep_states=True`` may allocate (bytes)
STATE_MEMORY_LIMIT = 8 * 2**30
#: recorded states held at once while a chunk is evaluated (bytes)
CHUNK_BYTES = 32 * 2**20
#: chunks per phase at least, when a progress bar is shown
PROGRESS_CHUNKS = 50


def run_settings(init, chains, draws, warmup, thin, observables):
    """Validated ``(chains, draws, warmup, thin, observables)`` with the documented defaults
    (4 chains, or as many as a ChainState holds; ``warmup = draws // 2``)."""
    if isinstance(init, ChainState):
        chains = init.chains if chains is None else chains
    chains = count(4 if chains is None else chains, "chains", 1)
    draws = count(draws, "draws", 1)
    warmup = draws // 2 if warmup is None else count(warmup, "warmup", 0)
    thin = count(thin, "thin", 1)
    if observables is None:
        observables = {}
    if not isinstance(observables, dict) or not all(callable(f) for f in observables.values()):
        raise TypeError("observables must be a dict {name: callable}")
    return chains, draws, warmup, thin, observables


def _split_info(kernel, info, out_obs, out_stats, at, k, draws, chains):
    """Copy the kernel's per-draw Info fields into the run's observables / sample statistics."""
    stats = kernel.sample_stats
    for name, val in _fields(info):
        dst = out_stats if name in stats else out_obs
        if name not in dst:
            dst[name] = np.empty((chains, draws), dtype=np.asarray(val).dtype)
        dst[name][:, at:at + k] = val


def _check_possible(lp, at, k):
    """A recorded draw of probability zero (``lp = −inf``) is never returned as a sample."""
    if lp is None:
        return
    bad = np.isneginf(lp[:, at:at + k])
    if bad.any():
        chain, draw = np.argwhere(bad)[0]
        raise SamplingError(
            f"draw {at + draw} of chain {chain} has probability zero (lp = -inf): the evidence, or the "
            f"model's zeros, leave the chains no possible state to move to.  Check the evidence "
            f"with pgm.exact (it raises when P(evidence) = 0) or start the chains from a possible "
            f"state (init=)")


def _fields(info):
    """``(name, array)`` of an Info NamedTuple, nested Info flattened, ``states`` and None skipped."""
    for name, val in zip(info._fields, info):
        if val is None or name == "states":
            continue
        if hasattr(val, "_fields"):
            yield from _fields(val)
        else:
            yield name, val


def states_of(info):
    """The recorded states of an Info (nested Infos searched first-level down)."""
    states = getattr(info, "states", None)
    if states is None:
        for val in info:
            if hasattr(val, "_fields"):
                return states_of(val)
    return states


def run(kernel, chains=None, draws=1000, warmup=None, thin=1, seed=None, init=None,
        observables=None, keep_states=True, progress=None, warn=True, what=None):
    """Run ``kernel`` (see the module docstring); the arguments are those of
    :func:`samplers.sample` (``what`` names the run in a convergence warning).  Returns
    :class:`~samplers.results.Samples`."""
    chains, draws, warmup, thin, observables = run_settings(init, chains, draws, warmup, thin,
                                                            observables)
    width, dtype = kernel.record_width, np.dtype(kernel.record_dtype)
    row_bytes = chains * width * dtype.itemsize
    if keep_states and row_bytes * draws > STATE_MEMORY_LIMIT:
        raise TooLargeError(f"keeping {chains}×{draws}×{width} states needs "
                            f"{row_bytes * draws / 2**30:.1f} GiB; pass keep_states=False and record observables")
    if isinstance(init, ChainState):
        start, init = init, None
    else:
        start = spawn_seeds(seed)
    t0 = time.perf_counter()
    state = kernel.init(chains, start, init)

    per_chunk = max(1, CHUNK_BYTES // max(1, row_bytes))
    if kernel.chunk_steps is not None:
        per_chunk = min(per_chunk, max(1, kernel.chunk_steps // thin))
    sweeps = kernel.sweeps_per_step
    warm_steps = math.ceil(warmup / sweeps)
    bar = Progress((warm_steps + draws * thin) * sweeps, progress, "warm-up", unit="sweep")
    warm_chunk = per_chunk * thin
    if bar.enabled:
        per_chunk = min(per_chunk, max(1, draws // PROGRESS_CHUNKS))
        warm_chunk = min(warm_chunk, max(1, warm_steps // PROGRESS_CHUNKS))
    done = 0
    while done < warm_steps:
        k = min(warm_steps - done, warm_chunk)
        state, _ = kernel.advance(state, k, phase=Phase(True, done, warm_steps))
        done += k
        bar.update(k * sweeps, "warm-up")
    state = kernel.end_warmup(state)
    t_warm = time.perf_counter() - t0

    need_states = keep_states or bool(observables)
    kept = np.empty((chains, draws, width), dtype=dtype) if keep_states else None
    obs_out, stats_out, user_out = {}, {}, {}
    done = 0
    while done < draws:
        k = min(draws - done, per_chunk)
        state, info = kernel.advance(state, k, thin, record=True, keep=need_states,
                                     phase=Phase(False, done, draws))
        _split_info(kernel, info, obs_out, stats_out, done, k, draws, chains)
        _check_possible(stats_out.get("lp"), done, k)
        if need_states:
            states = states_of(info)
            for name, f in observables.items():
                val = np.asarray(f(states))
                if val.shape != (chains, k):
                    raise ModelError(f"observable {name!r} returned shape {val.shape}, expected ({chains}, {k})")
                user_out.setdefault(name, np.empty((chains, draws)))[:, done:done + k] = val
            if keep_states:
                kept[:, done:done + k] = states
        done += k
        bar.update(k * thin * sweeps, "sampling")
    bar.close()
    final = kernel.to_user(state)
    info = {"method": kernel.method, "chains": chains, "draws": draws, "warmup": warmup, "thin": thin,
            "seed": seed if isinstance(seed, (int, type(None))) else None, "engine": kernel.name,
            "seconds_warmup": t_warm, "seconds_sampling": time.perf_counter() - t0 - t_warm}
    info.update(kernel.info(state))
    samples = Samples(kept, {**obs_out, **user_out}, stats_out, kernel.variables, final, info)
    if warn:
        diagnostics.warn_if_unconverged(samples, what or f"samplers.sample (method={kernel.method!r})")
    return samples
