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
