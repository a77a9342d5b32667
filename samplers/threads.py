"""Thread count of the compiled kernels, set through a context manager and restored.

Results do not depend on the thread count (each chain owns its RNG stream); only speed does.
"""

import contextlib

__all__ = ["threads"]


@contextlib.contextmanager
def threads(n):
    """Run the enclosed code with ``n`` numba threads.

    Examples
    --------
    >>> import samplers
    >>> with samplers.threads(1):
    ...     pass
    """
    import numba

    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= numba.config.NUMBA_NUM_THREADS:
        raise ValueError(f"threads must be an integer in 1..{numba.config.NUMBA_NUM_THREADS}, got {n!r}")
    old = numba.get_num_threads()
    numba.set_num_threads(n)
    try:
        yield
    finally:
        numba.set_num_threads(old)


#: below this many site updates per kernel call, short repeated calls run on one thread: the
#: per-call thread barrier would cost more than the work (and stalls badly on a busy machine).
#: At 50 000 (about 1 ms of single-thread work) AIS on Grids_11 with 2 000 runs (200 000 updates
#: per β) runs 1.93× faster on 2 threads than on one; it was 400 000, which kept it on one
SMALL_CALL_UPDATES = 50_000


@contextlib.contextmanager
def threads_for(updates_per_call):
    """One thread for loops of small kernel calls (tempering rounds, AIS steps), else unchanged.

    Results do not depend on the thread count, so this only changes speed.
    """
    import numba

    if updates_per_call >= SMALL_CALL_UPDATES:
        yield
        return
    old = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(old)
