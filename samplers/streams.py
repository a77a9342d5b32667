"""Per-chain random streams for compiled kernels — the public face of ``samplers/_rng.py``.

Every sampler of this package keeps one xoshiro256 stream per chain in a ``uint64 (chains, 4)``
array that is part of its state (reproducible for any thread count, resumable exactly).  Other
packages' compiled kernels (e.g. the fused RBM update of ``estimators/_rbm_pcd.py``) use the
same streams through this module:

* :func:`make_rng_state` — independent streams for ``chains`` chains from one seed;
* :func:`xoshiro_step` — the state transition on four local ``uint64`` (inline it in numba);
  :data:`TWO_POW_M53` turns its ``plus`` output ``>> 11`` into a double in ``[0, 1)``;
* :func:`next_double`, :func:`next_uint64`, :func:`uniform_index` — one draw of a chain inside
  numba; :func:`draw_doubles`, :func:`draw_uint64` — ``(chains, n)`` draws from Python.

Examples
--------
>>> from samplers.streams import make_rng_state, draw_doubles
>>> st = make_rng_state(42, chains=2)
>>> draw_doubles(st, 3).shape
(2, 3)
"""

from ._rng import (TWO_POW_M53, draw_doubles, draw_uint64, make_rng_state, next_double, next_uint64,
                   uniform_index, xoshiro_step)

__all__ = ["make_rng_state", "xoshiro_step", "next_double", "next_uint64", "uniform_index",
           "draw_doubles", "draw_uint64", "TWO_POW_M53"]
