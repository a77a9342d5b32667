"""pgm — what a distribution is: graphs, factors, energies and exact computations.

Examples
--------
>>> import pgm
>>> bn = pgm.read_bif(pgm.example_path("alarm"))
>>> round(float(pgm.exact.marginals(bn)["HYPOVOLEMIA"][0]), 4)
0.2
"""

import os as _os

from . import _numba_cache

_numba_cache.install()

from . import errors, exact  # noqa: E402
from .bayesian import BayesianNetwork
from .cpd import LinearGaussianCPD, LogisticCPD, TabularCPD
from .discrete import DiscreteModel, FactorGraph, MarkovNetwork
from .elimination import elimination_order, induced_width
from .factor import DiscreteFactor
from .spin import BoltzmannMachine, Ising, Potts
from .io import (load, read_bif, read_evidence, read_map, read_marginals, read_pr, read_uai, write_bif, write_map,
                 write_marginals, write_pr, write_uai)
from .boltzmann import RBM, GaussianBernoulliRBM, SpikeSlabRBM
from .deep import DBM, DBN
from .gaussian import GaussianEnergy
from .mlp import MLPEnergy
from .network import Network
from .autoregressive import FVSBN, NADE
from .vae import VAE
from .sigmoid_belief import SigmoidBeliefNet
from .autoencoder_chain import DAEChain, GSN
from .conditional_rbm import ConditionalRBM
from .covariance_rbm import MeanCovarianceRBM, MPoT
from .generators import GAN, GMMN
from . import inference, map_search, sparse_coding, toy

__all__ = [
    "BayesianNetwork", "TabularCPD", "LogisticCPD", "LinearGaussianCPD",
    "Ising", "Potts", "BoltzmannMachine",
    "MarkovNetwork", "FactorGraph", "DiscreteModel", "DiscreteFactor",
    "exact", "errors", "elimination_order", "induced_width",
    "read_uai", "write_uai", "read_evidence", "read_marginals", "write_marginals", "read_map", "write_map",
    "read_pr", "write_pr", "read_bif",
    "write_bif", "load", "example_path",
    "RBM", "GaussianBernoulliRBM", "SpikeSlabRBM", "DBM", "DBN", "inference", "map_search", "sparse_coding",
    "GaussianEnergy", "MLPEnergy", "Network", "FVSBN", "NADE", "VAE", "SigmoidBeliefNet", "DAEChain", "GSN", "ConditionalRBM", "MeanCovarianceRBM", "MPoT", "GAN", "GMMN", "toy",
    "plot",
]

__version__ = "0.1.0"


def __getattr__(name):
    # ``pgm.plot`` is imported on first use, so that ``import pgm`` never loads matplotlib
    # (an optional dependency: ``pip install "pgmc[plots]"``)
    if name == "plot":
        import importlib

        return importlib.import_module(".plot", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def example_path(name):
    """Path of a bundled example network (``"alarm"``, ``"asia"``, ``"cancer"``, ``"child"``,
    ``"earthquake"``, ``"insurance"``, ``"munin1"``)."""
    path = _os.path.join(_os.path.dirname(__file__), "data", f"{name}.bif.gz")
    if not _os.path.exists(path):
        raise FileNotFoundError(f"no bundled example named {name!r}")
    return path
