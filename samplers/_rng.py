"""Per-chain random streams (xoshiro256) usable inside numba kernels.

Algorithm
---------
Each chain owns one **xoshiro256** generator (Blackman & Vigna, 2018; period
``2**256 - 1``) whose whole state is four ``uint64`` words.  The states of all
chains live in one C-contiguous ``numpy.uint64`` array of shape ``(chains, 4)``,
so the random stream is *part of the sampler state* (ARCHITECTURE.md,
"Randomness is part of the state"; SPEC.md §2, MCMC with many parallel chains):

* a run is bit-for-bit reproducible whatever the number of numba threads,
  because chain ``c`` only ever reads and writes row ``c``;
* a run can be checkpointed and resumed exactly: saving ``(spins, rng_state)``
  after ``n`` sweeps and continuing for ``m`` sweeps gives the same numbers as
  ``n + m`` sweeps in one call.

Seeding: the rows are derived from one user seed with
``numpy.random.SeedSequence(seed).spawn(chains)``; child ``c`` fills row ``c``
with ``generate_state(4, numpy.uint64)``.  An all-zero row (the one fixed point
of xoshiro, probability ``2**-256``) is never returned.

Two output functions share the same state transition (both recommended by the
authors of xoshiro):

* :func:`next_uint64` -- the ``**`` scrambler ``rotl(s1 * 5, 7) * 9``
  (xoshiro256**, all 64 bits of full quality);
* :func:`next_double` -- the ``+`` scrambler ``s0 + s3`` (xoshiro256+), of
  which only the upper 53 bits are used: ``(x >> 11) * 2**-53`` is uniform on
  the grid ``{0, 2**-53, ..., 1 - 2**-53}`` in ``[0, 1)``.  The weak low bits of
  xoshiro256+ are discarded by the shift.

Kernels that need speed inline the transition on four local variables with
:func:`xoshiro_step` and write the state back once per call (see
``samplers/_spin_kernels.py``).

Note on numba's on-disk cache: a cached kernel in another module that inlines
these helpers is *not* invalidated when only this file changes (numba checks
the kernel's own source file).  After editing this file, delete the
``*.nbi`` / ``*.nbc`` files under ``samplers/__pycache__``.

Examples
--------
>>> from samplers._rng import make_rng_state, draw_doubles
>>> st = make_rng_state(42, chains=2)
>>> st.shape, st.dtype.name
((2, 4), 'uint64')
>>> u = draw_doubles(st.copy(), 3)           # (chains, 3) uniforms in [0, 1)
>>> bool(((0.0 <= u) & (u < 1.0)).all())
True
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = [
    "make_rng_state",
    "next_uint64",
    "next_double",
    "xoshiro_step",
    "uniform_index",
    "draw_doubles",
    "draw_uint64",
    "TWO_POW_M53",
]

#: ``2**-53``: scale turning a 53-bit integer into a double in ``[0, 1)``.
TWO_POW_M53 = 1.0 / 9007199254740992.0


def make_rng_state(seed, chains: int) -> np.ndarray:
    """Independent xoshiro256 states for ``chains`` chains from one seed.

    Parameters
    ----------
    seed : int, sequence of int, numpy.random.SeedSequence or None
        User seed.  ``SeedSequence(seed).spawn(chains)`` gives one child per
        chain.  If a ``SeedSequence`` instance is passed it is *spawned from*
        (its spawn counter advances, as with numpy's own ``spawn``), so two
        calls with the same instance give different streams; pass an int for
        repeatable results.  ``None`` draws fresh OS entropy.
    chains : int
        Number of chains (rows), ``>= 1``.

    Returns
    -------
    numpy.ndarray
        C-contiguous ``uint64`` array of shape ``(chains, 4)``; no row is all
        zero.

    Examples
    --------
    >>> a = make_rng_state(7, 3)
    >>> b = make_rng_state(7, 3)
    >>> bool((a == b).all()), bool((a[0] != a[1]).any())
    (True, True)
    """
    chains = int(chains)
    if chains < 1:
        raise ValueError(f"chains must be >= 1, got {chains}")
    if isinstance(seed, np.random.SeedSequence):
        ss = seed
    else:
        ss = np.random.SeedSequence(seed)
    out = np.empty((chains, 4), dtype=np.uint64)
    for c, child in enumerate(ss.spawn(chains)):
        words = child.generate_state(4, np.uint64)
        extra = 0
        while not words.any():  # probability 2**-256; keep it deterministic
            extra += 1
            words = np.random.SeedSequence(
                child.entropy, spawn_key=child.spawn_key + (extra,)
            ).generate_state(4, np.uint64)
        out[c] = words
    return out


@numba.njit(inline="always", cache=True)
def _rotl(x, k):
    return (x << numba.uint64(k)) | (x >> numba.uint64(64 - k))


@numba.njit(inline="always", cache=True)
def xoshiro_step(s0, s1, s2, s3):
    """Advance a xoshiro256 state held in four local ``uint64`` variables.

    Returns ``(plus, starstar, s0, s1, s2, s3)`` where ``plus = s0 + s3`` and
    ``starstar = rotl(s1 * 5, 7) * 9`` are computed from the state *before*
    the step (the xoshiro256+ / xoshiro256** outputs) and ``s0..s3`` is the
    new state.  LLVM drops the output that is not used.

    Examples
    --------
    >>> import numpy as np
    >>> s = make_rng_state(1, 1)[0]
    >>> out = xoshiro_step(s[0], s[1], s[2], s[3])
    >>> len(out)
    6
    """
    plus = s0 + s3
    starstar = _rotl(s1 * numba.uint64(5), 7) * numba.uint64(9)
    t = s1 << numba.uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    return plus, starstar, s0, s1, s2, s3


@numba.njit(inline="always", cache=True)
def next_uint64(state, c):
    """Next 64-bit output (xoshiro256**) of chain ``c``; advances ``state[c]``.

    Parameters
    ----------
    state : uint64 array, shape (chains, 4)
    c : int
        Chain index.

    Examples
    --------
    >>> st = make_rng_state(0, 2)
    >>> x = draw_uint64(st, 1)      # uses next_uint64 inside numba
    >>> x.dtype.name, x.shape
    ('uint64', (2, 1))
    """
    _, r, s0, s1, s2, s3 = xoshiro_step(state[c, 0], state[c, 1], state[c, 2], state[c, 3])
    state[c, 0] = s0
    state[c, 1] = s1
    state[c, 2] = s2
    state[c, 3] = s3
    return r


@numba.njit(inline="always", cache=True)
def next_double(state, c):
    """Next uniform double in ``[0, 1)`` (53 random bits, xoshiro256+) of chain ``c``.

    Examples
    --------
    >>> st = make_rng_state(0, 1)
    >>> u = draw_doubles(st, 4)     # uses next_double inside numba
    >>> u.shape
    (1, 4)
    """
    r, _, s0, s1, s2, s3 = xoshiro_step(state[c, 0], state[c, 1], state[c, 2], state[c, 3])
    state[c, 0] = s0
    state[c, 1] = s1
    state[c, 2] = s2
    state[c, 3] = s3
    return numba.float64(r >> numba.uint64(11)) * TWO_POW_M53


@numba.njit(inline="always", cache=True)
def uniform_index(x, m):
    """Lemire's multiply-shift map of the top 32 bits of ``x`` onto ``[0, m)``.

    Returns ``(index, accept)``; the result is exactly uniform when draws with
    ``accept == False`` are rejected and redrawn (needs ``1 <= m < 2**32``).
    Rejection happens with probability ``< m / 2**32``.
    """
    r32 = x >> numba.uint64(32)
    mm = numba.uint64(m)
    prod = r32 * mm  # < 2**64: no overflow
    low = prod & numba.uint64(0xFFFFFFFF)
    if low < mm:
        thresh = (numba.uint64(0x100000000) - mm) % mm
        if low < thresh:
            return numba.int64(0), False
    return numba.int64(prod >> numba.uint64(32)), True


@numba.njit(cache=True)
def draw_doubles(state, n):
    """``n`` uniforms per chain (shape ``(chains, n)``); advances ``state``.

    A test/utility helper; kernels inline :func:`xoshiro_step` instead.
    """
    chains = state.shape[0]
    out = np.empty((chains, n), dtype=np.float64)
    for c in range(chains):
        for k in range(n):
            out[c, k] = next_double(state, c)
    return out


@numba.njit(cache=True)
def draw_uint64(state, n):
    """``n`` xoshiro256** outputs per chain (shape ``(chains, n)``); advances ``state``."""
    chains = state.shape[0]
    out = np.empty((chains, n), dtype=np.uint64)
    for c in range(chains):
        for k in range(n):
            out[c, k] = next_uint64(state, c)
    return out
