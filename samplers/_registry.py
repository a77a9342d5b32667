"""The built-in sampling kernels, registered in lookup order: one import line each.

Importing a kernel module registers its :class:`~samplers._kernel.Kernel` classes (they are
decorated with :func:`~samplers._kernel.register`); :func:`samplers._kernel.find_kernel` then picks
the first registered kernel that accepts a model and implements the method.
"""

from . import _discrete  # noqa: F401  gibbs, block_gibbs, metropolis: discrete models
from . import _layered  # noqa: F401  block_gibbs: RBM, GB-RBM, ssRBM, DBM, DBN
from . import energy_gibbs  # noqa: F401  gibbs: energies over {0, 1}^d known as functions
from . import continuous  # noqa: F401  hmc, mala, langevin, mh: continuous energies
from . import _cluster  # noqa: F401  swendsen_wang, wolff: Ising-type (pairwise ±1) models
