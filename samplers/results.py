"""Results of a sampling run: :class:`Samples` and the resumable :class:`ChainState`.

Arrays are shaped ``(chain, draw, ...)``.  ``sample_stats`` use ArviZ names: ``lp`` is the log
unnormalised density ``log p̃(x)`` of each draw, ``acceptance_rate`` the Metropolis acceptance
rate; a potential energy is never called ``energy`` there (ArviZ reads that as the HMC
Hamiltonian).  Recorded observables (``energy``, ``magnetization``, user functions) go to the
posterior group of :meth:`Samples.to_arviz`, where R-hat and ESS apply to them.
"""

import json

import numpy as np

__all__ = ["Samples", "ChainState"]

_FORMAT = "pgmc-chain-state"
_VERSION = 1


class ChainState:
    """Where a set of chains stands: states and per-chain RNG streams.

    Pass it as ``init=`` to :func:`samplers.sample` to continue exactly where a run stopped
    (the seed is then ignored); ``save`` / ``load`` checkpoint it without pickle.

    Attributes
    ----------
    x : ndarray (chains, n_vars)
        Current states in the model's domain.
    rng_state : uint64 ndarray (chains, 4)
        xoshiro256 state of each chain.
    swap_rng_state : uint64 ndarray (chains, 4) or None
        Replica-exchange streams of a tempered run (whose ``x`` then holds every replica,
        ``chains × R`` rows).
    step_size : float64 ndarray (chains,) or None
        Per-chain step sizes of a continuous sampler (HMC, MALA, Langevin, MH), as fixed at the
        end of warm-up; ``None`` for discrete samplers.
    extra : dict of ndarray
        Any other state a kernel needs to continue exactly (e.g. simulated tempering's ladder
        indices, log-weights and move streams); empty for most kernels.
    """

    def __init__(self, x, rng_state, swap_rng_state=None, step_size=None, extra=None):
        self.x = np.array(x, copy=True)
        self.rng_state = np.array(rng_state, dtype=np.uint64, copy=True)
        self.swap_rng_state = None if swap_rng_state is None else \
            np.array(swap_rng_state, dtype=np.uint64, copy=True)
        self.step_size = None if step_size is None else \
            np.array(step_size, dtype=np.float64, copy=True)
        self.extra = {str(k): np.array(v, copy=True) for k, v in (extra or {}).items()}

    @property
    def chains(self):
        if self.swap_rng_state is not None:
            return self.swap_rng_state.shape[0]
        return self.x.shape[0]

    def to_arrays(self):
        """Every field as ``{name: array}`` (``x``, ``rng_state``, and when present
        ``swap_rng_state``, ``step_size``, ``extra/<key>``): what :meth:`save` writes."""
        out = {"x": self.x, "rng_state": self.rng_state}
        if self.swap_rng_state is not None:
            out["swap_rng_state"] = self.swap_rng_state
        if self.step_size is not None:
            out["step_size"] = self.step_size
        out.update({f"extra/{k}": v for k, v in self.extra.items()})
        return out

    @classmethod
    def from_arrays(cls, arrays):
        """The inverse of :meth:`to_arrays`."""
        extra = {k[6:]: v for k, v in arrays.items() if k.startswith("extra/")}
        return cls(arrays["x"], arrays["rng_state"], arrays.get("swap_rng_state"), arrays.get("step_size"), extra)

    def save(self, path):
        meta = json.dumps({"format": _FORMAT, "version": _VERSION})
        with open(path, "wb") as fh:
            np.savez(fh, __meta__=np.array(meta), **self.to_arrays())

    @classmethod
    def load(cls, path):
        """Read a state written by :meth:`save` (no pickle).

        Raises
        ------
        pgm.errors.ParseError
            Naming the file and the defect: not a readable ``.npz`` archive, arrays over
            ``pgm.io.files.MAX_NPZ_BYTES``, another format or version, a missing, unexpected or
            malformed array (``x`` must be a finite 2-D array; ``rng_state`` uint64
            ``(rows of x, 4)``; ``swap_rng_state`` uint64 ``(chains, 4)`` with chains dividing
            the rows; ``step_size`` finite and positive, one per row).
        OSError
            The file cannot be opened.
        """
        import os

        from pgm.io.files import read_meta, read_npz

        name = os.fspath(path)

        def check(first, declared):
            read_meta(first, name, "a chain state", _FORMAT, _VERSION)
            _check_state_layout(declared, name)

        arrays = read_npz(name, "a chain state", check=check)
        _check_state_values(arrays, name)
        return cls.from_arrays(arrays)

    def __repr__(self):
        return f"ChainState(chains={self.x.shape[0]}, n_vars={self.x.shape[1]})"


def _check_state_layout(declared, path):
    """What :meth:`ChainState.load` requires of the arrays a saved state declares
    (``name → (shape, dtype)``), checked before their data is read (``ParseError``)."""
    from pgm.errors import ParseError

    known = {"__meta__", "x", "rng_state", "swap_rng_state", "step_size"}
    odd = sorted(k for k in declared if k not in known and not (k.startswith("extra/") and len(k) > 6))
    if odd:
        raise ParseError(f"unexpected arrays {odd[:5]} in a chain state", path)
    for key in ("x", "rng_state"):
        if key not in declared:
            raise ParseError(f"a chain state needs the array {key!r}", path)
    for key, (_, dtype) in declared.items():
        if key != "__meta__" and dtype.kind not in "biuf":
            raise ParseError(f"array {key!r} must hold numbers, got dtype {dtype}", path)
    shape = {k: tuple(v[0]) for k, v in declared.items()}
    if len(shape["x"]) != 2:
        raise ParseError(f"x must be 2-D (rows, variables), got shape {shape['x']}", path)
    rows = shape["x"][0]
    streams = [("rng_state", rows)]
    if "swap_rng_state" in shape:
        chains = shape["swap_rng_state"][0] if len(shape["swap_rng_state"]) == 2 else 0
        if chains == 0 or rows % chains:
            raise ParseError(f"swap_rng_state of shape {shape['swap_rng_state']} does not give one "
                             f"stream per chain of the {rows} rows of x", path)
        streams.append(("swap_rng_state", chains))
    for key, n in streams:
        if declared[key][1] != np.uint64 or shape[key] != (n, 4):
            raise ParseError(f"{key} must be uint64 of shape ({n}, 4) (xoshiro256 states), got "
                             f"{declared[key][1]} {shape[key]}", path)
    if "step_size" in shape and shape["step_size"] not in ((), (rows,)):
        raise ParseError(f"step_size must hold one number per row of x ({rows}), got shape "
                         f"{shape['step_size']}", path)


def _check_state_values(arrays, path):
    """Values of a saved state: finite ``x``, no NaN anywhere, positive step sizes."""
    from pgm.errors import ParseError

    for key, arr in arrays.items():
        if key != "__meta__" and arr.dtype.kind == "f" and np.isnan(arr).any():
            raise ParseError(f"array {key!r} holds NaN", path)
    if arrays["x"].dtype.kind == "f" and not np.isfinite(arrays["x"]).all():
        raise ParseError("x holds infinite values", path)
    step = arrays.get("step_size")
    if step is not None and not (np.isfinite(step).all() and (step > 0).all()):
        raise ParseError("step_size must hold finite positive numbers", path)


class Samples:
    """Draws of a sampling run.

    Attributes
    ----------
    states : ndarray (chain, draw, variable) or None
        ``None`` when run with ``keep_states=False``.
    observables : dict of ndarray (chain, draw)
    sample_stats : dict of ndarray (chain, draw)
    variables : list
        Names of the state columns.
    final_state : ChainState
    info : dict
        Method, scan, seed, timings and other run settings.
    """

    def __init__(self, states, observables, sample_stats, variables, final_state, info):
        self.states = states
        self.observables = observables
        self.sample_stats = sample_stats
        self.variables = list(variables)
        self.final_state = final_state
        self.info = info

    @property
    def chains(self):
        return self.final_state.chains

    @property
    def draws(self):
        return next(iter(self.sample_stats.values())).shape[1]

    def __repr__(self):
        return (f"Samples(method={self.info.get('method')!r}, chains={self.chains}, draws={self.draws}, "
                f"n_vars={len(self.variables)}, observables={sorted(self.observables)})")

    def marginals(self):
        """Empirical marginal distribution of every variable over all chains and draws.

        Discrete states only: a :class:`TypeError` for continuous samplers (use ``states`` or
        :meth:`to_arviz`).
        """
        if self.info.get("state_space") == "continuous":
            raise TypeError("marginals() tabulates discrete states; this run has continuous states "
                            "(use Samples.states or to_arviz())")
        if self.states is None:
            raise ValueError("states were not kept (keep_states=False)")
        domain = self.info.get("domain")
        cards = self.info["cardinalities"]
        flat = self.states.reshape(-1, self.states.shape[-1])
        out = {}
        for j, v in enumerate(self.variables):
            col = flat[:, j]
            if domain is not None:
                col = np.searchsorted(np.asarray(domain), col)
            out[v] = np.bincount(col, minlength=cards[j]) / col.size
        return out

    #: Name of the state dimension of ``x`` in :meth:`to_arviz` (ArviZ's own default name for the
    #: first non-sample dimension of ``x``).  Not ``"variable"``: ArviZ 1.x stacks a posterior
    #: with xarray's ``to_stacked_array``, whose new dimension is called ``"variable"`` (and
    #: ArviZ adds ``"label"``, ``"summary"``, ``"sample"``), so that name broke ``az.summary``.
    state_dim = "x_dim_0"

    def to_arviz(self, include_states=True):
        """ArviZ ``InferenceData`` (ArviZ 0.2x) or ``DataTree`` (ArviZ ≥ 1) with sample dims
        ``chain`` and ``draw``.

        The posterior group holds ``x`` (dims ``chain, draw, x_dim_0`` — see
        :attr:`state_dim` — with the variable names as ``x_dim_0`` coordinates) when states
        were kept and ``include_states`` is true, plus every observable; ``sample_stats`` holds
        ``lp`` and, for Metropolis, ``acceptance_rate`` (continuous samplers add
        ``step_size``, ``diverging`` and, for HMC, the Hamiltonian ``energy`` and ``n_steps``;
        tempered runs ``swap_rate``; DAE chains only ``squared_jump``).

        When the posterior would otherwise be empty (no states included and no observables,
        e.g. a continuous run with ``include_states=False``), it holds a copy of ``lp`` — a
        function of the state like any observable — or, for samplers without ``lp`` (DAE
        chains), a copy of the numeric sample statistics, so that ``az.summary``, ``az.ess``
        and ``az.rhat`` (which read the posterior) work on both ArviZ lines; the originals stay
        in ``sample_stats``.

        Examples
        --------
        >>> import pgm, samplers
        >>> s = samplers.sample(pgm.Ising.grid(4, 4, beta=0.3), chains=2, draws=50, seed=0,
        ...                     progress=False)
        >>> idata = s.to_arviz()
        >>> sorted(idata.posterior.data_vars), idata.posterior["x"].dims
        (['energy', 'magnetization', 'x'], ('chain', 'draw', 'x_dim_0'))
        """
        import arviz as az

        posterior = {}
        coords, dims = {}, {}
        if include_states and self.states is not None:
            posterior["x"] = self.states
            coords[self.state_dim] = [str(v) for v in self.variables]
            dims["x"] = [self.state_dim]
        posterior.update(self.observables)
        stats = dict(self.sample_stats)
        if not posterior:
            keep = ["lp"] if "lp" in stats else \
                [k for k, v in stats.items() if np.asarray(v).dtype.kind in "fiu"]
            posterior = {k: np.array(stats[k], copy=True) for k in keep}
        groups = {"posterior": posterior, "sample_stats": stats} if posterior else \
            {"sample_stats": stats}
        major = int(az.__version__.split(".")[0])
        if major >= 1:
            return az.from_dict(groups, coords=coords, dims=dims)
        return az.from_dict(**groups, coords=coords, dims=dims)
