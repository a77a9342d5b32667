"""The built-in sampling kernels, registered in lookup order (one import line each), and the
lookup :func:`find_kernel`.

Importing a kernel module registers its :class:`~samplers._kernel.Kernel` classes (they are
decorated with :func:`~samplers._kernel.register`); :func:`find_kernel` picks the first registered
kernel that accepts a model and implements the method.

Examples
--------
>>> import pgm
>>> type(find_kernel(pgm.Ising.grid(4, 4), None)).__name__
'DiscreteGibbs'
"""

from . import _discrete  # noqa: F401  gibbs, block_gibbs, metropolis: discrete models
from . import _layered  # noqa: F401  block_gibbs: RBM, GB-RBM, ssRBM, DBM, DBN
from . import energy_gibbs  # noqa: F401  gibbs: energies over {0, 1}^d known as functions
from . import continuous  # noqa: F401  hmc, mala, langevin, mh: continuous energies
from . import _cluster  # noqa: F401  swendsen_wang, wolff: Ising-type (pairwise ±1) models
from . import _dae  # noqa: F401  dae_chain: denoising-autoencoder and GSN chains (pgm.DAEChain, pgm.GSN)

from ._kernel import registered  # noqa: E402

__all__ = ["find_kernel"]


def find_kernel(model, method, **options):
    """The kernel for ``model`` and ``method`` (``None``: the default method of the first kernel
    that accepts the model), constructed with ``options``."""
    if method is not None and not isinstance(method, str):
        raise TypeError(f"method must be a string, got {method!r}")
    kernels = registered()
    if method is None:
        cls = next((k for k in kernels if k.accepts(model)), None)
    else:
        cls = next((k for k in kernels if method in k.methods and k.accepts(model)), None)
    if cls is None:
        accepting = [k for k in kernels if k.accepts(model)]
        if not accepting:
            raise TypeError(
                f"samplers.sample cannot sample a {type(model).__name__}: expected a discrete model "
                "(Ising, Potts, BoltzmannMachine, MarkovNetwork, FactorGraph, BayesianNetwork), a "
                "layered model (RBM, DBM, DBN, ...), a binary energy or a continuous energy model "
                "(dim, energy, grad_x)")
        known = tuple(dict.fromkeys(m for k in accepting for m in k.methods))
        other = next((k for k in kernels if method in k.methods), None)
        hint = f" ({method!r} samples {other.family})" if other is not None else ""
        raise ValueError(f"unknown method {method!r} for the {accepting[0].family[:-1]} "
                         f"{type(model).__name__}{hint}; expected one of {known}")
    method = cls.methods[0] if method is None else method
    unknown = sorted(set(options) - set(cls.options))
    if unknown:
        raise ValueError(f"{', '.join(f'{k}={options[k]!r}' for k in unknown)}: no such option of "
                         f"method {method!r} on {type(model).__name__} (its options: {', '.join(cls.options)})")
    return cls(model, method, **options)
