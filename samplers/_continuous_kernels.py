"""Per-chain normal and uniform draws for the continuous samplers (private).

Each chain ``c`` reads only row ``c`` of the xoshiro256 state (``samplers/_rng.py``), so the
numbers a chain gets depend on its own stream alone: not on the thread count, nor on how many
other chains run.  Normals come from the Box–Muller transform of pairs of uniforms
``(u₁, u₂)``: ``r = √(−2 log(1 − u₁))``, ``z = (r cos 2πu₂, r sin 2πu₂)`` (``1 − u₁ ∈ (0, 1]``,
so the logarithm is finite); an odd count discards the last sine.  Every call consumes exactly
``2⌈n_normal/2⌉ + n_uniform`` uniforms per chain.

Examples
--------
>>> from samplers._rng import make_rng_state
>>> z, u = draw_normal_uniform(make_rng_state(0, 3), 5, 2)
>>> z.shape, u.shape
((3, 5), (3, 2))
"""

import math

import numba
import numpy as np

from ._rng import next_double

__all__ = ["draw_normal_uniform", "PARALLEL_DRAWS"]

#: from this many numbers per call on, chains are drawn in a ``prange`` (results are identical)
PARALLEL_DRAWS = 400_000
_TWO_PI = 2.0 * math.pi


@numba.njit(inline="always", cache=True)
def _fill(state, c, z, u):
    n = z.shape[1]
    for k in range(0, n, 2):
        r = math.sqrt(-2.0 * math.log(1.0 - next_double(state, c)))
        t = _TWO_PI * next_double(state, c)
        z[c, k] = r * math.cos(t)
        if k + 1 < n:
            z[c, k + 1] = r * math.sin(t)
    for k in range(u.shape[1]):
        u[c, k] = next_double(state, c)


@numba.njit(cache=True)
def _draw_serial(state, z, u):
    for c in range(state.shape[0]):
        _fill(state, c, z, u)


@numba.njit(cache=True, parallel=True)
def _draw_parallel(state, z, u):
    for c in numba.prange(state.shape[0]):
        _fill(state, c, z, u)


def draw_normal_uniform(state, n_normal, n_uniform):
    """``n_normal`` standard normals and ``n_uniform`` uniforms on ``[0, 1)`` per chain.

    Parameters
    ----------
    state : uint64 ndarray (chains, 4), C-contiguous
        xoshiro256 streams; advanced in place.
    n_normal, n_uniform : int

    Returns
    -------
    z : float64 ndarray (chains, n_normal)
    u : float64 ndarray (chains, n_uniform)
    """
    chains = state.shape[0]
    z = np.empty((chains, n_normal))
    u = np.empty((chains, n_uniform))
    if chains * (n_normal + n_uniform) >= PARALLEL_DRAWS:
        _draw_parallel(state, z, u)
    else:  # a thread barrier per call would cost more than the draws
        _draw_serial(state, z, u)
    return z, u
