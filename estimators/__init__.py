"""estimators — learning model parameters from data (SPEC.md §3): objectives, optimisers, one
training loop, callbacks and checkpoints.

* Objectives (:mod:`estimators.objectives`): :class:`CD`, :class:`PCD` (= :data:`SML`),
  :class:`FastPCD`, :class:`ExactML`, :class:`PseudoLikelihood`, :class:`RatioMatching`,
  :class:`ScoreMatching`, :class:`DenoisingScoreMatching`, :class:`NCE` (with
  :class:`GaussianNoise` / :class:`BernoulliNoise`).
* Optimisers (:mod:`estimators.optimizers`): :class:`SGD`, :class:`Adam`, full-batch
  :class:`LBFGS`; schedules :class:`ExponentialDecay`, :class:`InverseTimeDecay`,
  :class:`CosineDecay`.
* :func:`fit` (:mod:`estimators.training`) with :class:`History`, :class:`Checkpoint`,
  :func:`load_checkpoint`; callbacks :class:`PseudoLogLikelihood`, :class:`ReconstructionError`,
  :class:`AISLogLikelihood`.
* Directed and neural generative models (SPEC.md §5): :class:`MaximumLikelihood` (exact
  likelihood: :class:`pgm.FVSBN`, :class:`pgm.NADE`), :class:`ELBO` (VAE, ``k > 1``: IWAE) with
  the pathwise gradient estimator :func:`reparameterize`; :class:`WakeSleep` and :class:`NVIL`
  (sigmoid belief nets, :class:`pgm.SigmoidBeliefNet`) with the score-function estimator
  :func:`reinforce`; :class:`Adversarial` (GAN) and :class:`MMD` (GMMN, :func:`mmd2`);
  :class:`WalkBack` (denoising-autoencoder chains); :class:`ConditionalCD` /
  :class:`ConditionalML` (conditional RBMs).
* :class:`BernoulliRBM` — a scikit-learn–style estimator around :class:`pgm.RBM` and PCD.
* Bayesian-network parameters (:mod:`estimators.em`): :func:`fit_counts` (complete data,
  Dirichlet pseudo-counts) and :func:`EM` (missing / latent values, exact batched E-step);
  Gaussian mixtures by EM and generalised EM: :func:`gaussian_mixture_em` (:mod:`estimators.gmm`).
* :func:`dictionary_learning` (:mod:`estimators.dictionary`) — sparse-coding dictionaries by
  alternating minimisation (FISTA codes, block-coordinate-descent unit-norm atoms).

Examples
--------
>>> import numpy as np, pgm, estimators
>>> x = np.random.default_rng(0).normal([1.0, -1.0], 0.5, size=(500, 2))
>>> g = pgm.GaussianEnergy(np.zeros(2), np.eye(2))
>>> _ = estimators.fit(g, x, estimators.ScoreMatching(), estimators.LBFGS(), epochs=1, progress=False)
>>> bool(np.allclose(g.mean, x.mean(axis=0), atol=1e-8))
True
"""

from .callbacks import AISLogLikelihood, Callback, PseudoLogLikelihood, ReconstructionError
from .noise import BernoulliNoise, GaussianNoise
from .objectives import (CD, NCE, PCD, SML, DenoisingScoreMatching, ExactML, FastPCD, Objective,
                         PseudoLikelihood, RatioMatching, ScoreMatching)
from .optimizers import (LBFGS, SGD, Adam, CosineDecay, ExponentialDecay, InverseTimeDecay,
                         Optimizer, Schedule)
from .dictionary import DictionaryResult, dictionary_learning
from .em import EM, EMResult, fit_counts
from .gmm import GaussianMixtureResult, gaussian_mixture_em
from .greedy import pretrain_greedy
from .variational import VariationalPCD
from .likelihood import MaximumLikelihood
from .elbo import ELBO
from .reparameterization import reparameterize, reparameterized_sample
from .gradient_estimators import reinforce
from .wake_sleep import NVIL, WakeSleep
from .walkback import WalkBack
from .conditional import ConditionalCD, ConditionalML
from .mmd import MMD, mmd2
from .adversarial import Adversarial
from .training import Checkpoint, History, fit, load_checkpoint

__all__ = [
    "pretrain_greedy",
    "VariationalPCD",
    "fit", "History", "Checkpoint", "load_checkpoint",
    "Objective", "CD", "PCD", "SML", "FastPCD", "ExactML", "PseudoLikelihood", "RatioMatching",
    "ScoreMatching", "DenoisingScoreMatching", "NCE", "GaussianNoise", "BernoulliNoise",
    "Optimizer", "SGD", "Adam", "LBFGS", "Schedule", "ExponentialDecay", "InverseTimeDecay",
    "CosineDecay",
    "Callback", "PseudoLogLikelihood", "ReconstructionError", "AISLogLikelihood",
    "BernoulliRBM",
    "dictionary_learning", "DictionaryResult",
    "fit_counts", "EM", "EMResult", "gaussian_mixture_em", "GaussianMixtureResult",
    "MaximumLikelihood", "ELBO", "reparameterize", "reparameterized_sample",
    "WakeSleep", "NVIL", "reinforce", "WalkBack",
    "ConditionalCD", "ConditionalML", "MMD", "mmd2", "Adversarial",
]


def __getattr__(name):
    # BernoulliRBM subclasses scikit-learn's BaseEstimator when scikit-learn is installed;
    # importing it on first use keeps scikit-learn (0.6 s) out of ``import estimators``
    if name == "BernoulliRBM":
        from .bernoulli_rbm import BernoulliRBM

        return BernoulliRBM
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
