"""samplers — turning models into draws.

* :func:`sample` — compiled MCMC (Gibbs, block Gibbs, Metropolis, Swendsen–Wang and Wolff
  cluster moves) on discrete models, BLAS block Gibbs on layered models, and HMC, MALA,
  unadjusted Langevin and random-walk Metropolis on continuous energy models
  (``samplers/continuous.py``), many chains in parallel, per-chain random streams; returns
  :class:`Samples` (``to_arviz()``).  Every sampler is a kernel run by one driver
  (``samplers/_kernel.py``); :func:`register_kernel` adds one.
* :func:`ancestral`, :func:`likelihood_weighting` — exact / importance sampling of Bayesian
  networks.
* :func:`threads` — context manager for the kernels' thread count.
* :func:`rhat`, :func:`ess` (:mod:`samplers.diagnostics`) — rank-normalised split R-hat and bulk
  ESS; every run checks its own and issues a :class:`ConvergenceWarning` (``warn=False``: quiet).
"""

from .ais import AISResult, ais, linear_betas, sigmoid_betas
from .ais_rbm import base_rate, salakhutdinov_murray_betas
from .ancestral import ancestral, likelihood_weighting
from .bounds import dbn_log_likelihood
from . import diagnostics
from .diagnostics import ConvergenceWarning, ess, rhat
from .annealing import AnnealingResult, annealing_betas, simulated_annealing
from .ratios import bridge_sampling, importance_sampling, log_likelihood
from .results import ChainState, Samples
from ._kernel import Kernel
from ._kernel import register as register_kernel
from .sample import CONTINUOUS_METHODS, METHODS, parallel_tempering, sample
from .simulated_tempering import simulated_tempering
from .tempering import geometric_betas
from .threads import threads

__all__ = ["ConvergenceWarning", "rhat", "ess", "diagnostics", "Kernel", "register_kernel", "simulated_annealing", "annealing_betas", "AnnealingResult", "base_rate", "salakhutdinov_murray_betas", "simulated_tempering", "importance_sampling", "bridge_sampling", "log_likelihood", "ais", "AISResult", "linear_betas", "sigmoid_betas", "sample", "parallel_tempering", "geometric_betas", "Samples", "ChainState", "METHODS", "CONTINUOUS_METHODS", "ancestral", "likelihood_weighting", "dbn_log_likelihood", "threads"]
