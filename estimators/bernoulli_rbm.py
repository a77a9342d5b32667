"""A scikit-learn–style Bernoulli RBM estimator (SPEC.md §5 RBM, trained by PCD/SML of §3).

:class:`BernoulliRBM` mirrors ``sklearn.neural_network.BernoulliRBM`` — ``fit``,
``partial_fit``, ``transform``, ``fit_transform``, ``score_samples``, ``gibbs``,
``get_params`` / ``set_params``, ``random_state``, fitted attributes with a trailing underscore
(``components_``, ``intercept_hidden_``, ``intercept_visible_``, ``h_samples_``,
``n_features_in_``) — on top of :class:`pgm.RBM`, :class:`estimators.PCD` and
:func:`estimators.fit`.  scikit-learn is not a dependency: when it is importable the class also
derives from its ``TransformerMixin`` and ``BaseEstimator`` (so ``clone``, pipelines and its
HTML repr work); otherwise it stands alone with the same interface.

Differences from scikit-learn's class: the data must be binary (0/1; scikit-learn also accepts
probabilities), ``score_samples`` returns the exact pseudo-log-likelihood ``Σ_i log p(v_i|v_{−i})``
(scikit-learn's is a one-random-bit stochastic estimate of it, ``d · log p(v_i|v_{−i})``), and
``partial_fit`` runs one epoch of minibatches over the data it is given.
"""

import inspect
import numbers

import numpy as np

import pgm

from ._protocol import check_data
from .objectives import PCD, pseudo_log_likelihood_rows
from .optimizers import SGD
from .training import fit as _fit

__all__ = ["BernoulliRBM", "NotFittedError"]

try:  # soft scikit-learn compatibility
    from sklearn.base import BaseEstimator as _Base
    from sklearn.base import TransformerMixin as _Mixin
    from sklearn.exceptions import NotFittedError
    _BASES = (_Mixin, _Base)
except ImportError:  # pragma: no cover - exercised when scikit-learn is absent
    _BASES = ()

    class NotFittedError(ValueError, AttributeError):
        """Raised when a BernoulliRBM is used before fit (scikit-learn's class when installed)."""


class BernoulliRBM(*_BASES):
    """Bernoulli restricted Boltzmann machine trained by persistent contrastive divergence.

    Parameters
    ----------
    n_components : int
        Number of hidden units.
    learning_rate : float
        SGD learning rate.
    batch_size : int
        Examples per minibatch; also the number of persistent chains (as in scikit-learn).
    n_iter : int
        Epochs of :meth:`fit`.
    verbose : int
        Print one line per epoch (to a terminal's stderr) when > 0.
    random_state : int, numpy Generator or None
        Seeds the initial weights ``N(0, 0.01²)``, the minibatch order and the chains.
    k : int
        Gibbs sweeps per update (PCD-k).
    momentum, weight_decay : float
        Of the :class:`~estimators.SGD` optimiser (weight decay on ``W`` only).

    Attributes
    ----------
    components_ : ndarray (n_components, n_features)
        Weights ``Wᵀ``.
    intercept_hidden_ : ndarray (n_components,)
    intercept_visible_ : ndarray (n_features,)
    h_samples_ : ndarray (batch_size, n_components)
        Hidden layer of the persistent chains.
    n_features_in_ : int
    rbm_ : pgm.RBM
        The underlying model (its arrays are the fitted parameters).
    history_ : estimators.History
        Of the last :meth:`fit`.

    Examples
    --------
    >>> import numpy as np
    >>> from estimators import BernoulliRBM
    >>> X = np.array([[0, 0, 0], [0, 1, 1], [1, 0, 1], [1, 1, 1]])
    >>> model = BernoulliRBM(n_components=2, n_iter=5, random_state=0).fit(X)
    >>> model.transform(X).shape, model.components_.shape
    ((4, 2), (2, 3))
    """

    def __init__(self, n_components=256, *, learning_rate=0.1, batch_size=10, n_iter=10, verbose=0,
                 random_state=None, k=1, momentum=0.0, weight_decay=0.0):
        self.n_components = n_components
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.n_iter = n_iter
        self.verbose = verbose
        self.random_state = random_state
        self.k = k
        self.momentum = momentum
        self.weight_decay = weight_decay

    # ------------------------------------------------------------------ params API
    @classmethod
    def _param_names(cls):
        sig = inspect.signature(cls.__init__)
        return [p for p in sig.parameters if p != "self"]

    def get_params(self, deep=True):
        """Constructor parameters as a dict (scikit-learn convention)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params):
        """Set constructor parameters; returns ``self``."""
        valid = self._param_names()
        for k, v in params.items():
            if k not in valid:
                raise ValueError(f"invalid parameter {k!r} for BernoulliRBM; valid: {valid}")
            setattr(self, k, v)
        return self

    # ------------------------------------------------------------------ fitting
    def _check_settings(self):
        for name in ("n_components", "batch_size", "n_iter", "k"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < (0 if name == "n_iter" else 1):
                raise ValueError(f"{name} must be an integer >= {0 if name == 'n_iter' else 1}, got {v!r}")

    def _rng(self):
        rs = self.random_state
        if isinstance(rs, np.random.Generator):
            return rs
        if rs is None or (isinstance(rs, numbers.Integral) and not isinstance(rs, bool)):
            return np.random.default_rng(rs)
        raise TypeError(f"random_state must be None, an int or a numpy Generator, got {type(rs).__name__}")

    def _initialise(self, n_features):
        self._check_settings()
        self.random_state_ = self._rng()
        self.rbm_ = pgm.RBM(n_features, int(self.n_components), seed=self.random_state_)
        self.objective_ = PCD(k=int(self.k), chains=int(self.batch_size))
        self.optimizer_ = SGD(lr=self.learning_rate, momentum=self.momentum, weight_decay=self.weight_decay,
                              decay=("W",))
        self.n_features_in_ = int(n_features)

    def _check_X(self, X, name="X"):
        if not hasattr(self, "rbm_"):
            raise NotFittedError("this BernoulliRBM is not fitted yet; call fit or partial_fit first")
        return check_data(X, self.rbm_, name=name)

    def _train(self, X, epochs):
        seed = int(self.random_state_.integers(2**63))
        bs = min(int(self.batch_size), X.shape[0])
        self.history_ = _fit(self.rbm_, X, self.objective_, self.optimizer_, epochs=epochs,
                             batch_size=bs, seed=seed, progress=bool(self.verbose))
        self._sync()
        return self

    def _sync(self):
        self.components_ = np.array(self.rbm_.W.T)
        self.intercept_hidden_ = np.array(self.rbm_.c)
        self.intercept_visible_ = np.array(self.rbm_.b)
        st = self.objective_.state
        if st is not None:
            self.h_samples_ = np.array(st.x[:, self.n_features_in_:])

    def fit(self, X, y=None):
        """Fit to binary data ``X (n_samples, n_features)`` for ``n_iter`` epochs; returns ``self``."""
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(f"X must be a 2-D array (n_samples, n_features), got shape {X.shape}")
        self._initialise(X.shape[1])
        X = self._check_X(X)
        return self._train(X, int(self.n_iter))

    def partial_fit(self, X, y=None):
        """One epoch of minibatch updates on ``X`` (initialising the model on the first call)."""
        X = np.asarray(X)
        if not hasattr(self, "rbm_"):
            if X.ndim != 2:
                raise ValueError(f"X must be a 2-D array (n_samples, n_features), got shape {X.shape}")
            self._initialise(X.shape[1])
        X = self._check_X(X)
        return self._train(X, 1)

    # ------------------------------------------------------------------ using the model
    def transform(self, X):
        """Hidden-unit probabilities ``p(h = 1 | v)`` (n_samples, n_components)."""
        X = self._check_X(X)
        return np.asarray(self.rbm_.mean_h(X), dtype=np.float64)

    def fit_transform(self, X, y=None):
        return self.fit(X).transform(X)

    def score_samples(self, X):
        """Exact pseudo-log-likelihood ``Σ_i log p(v_i | v_{−i})`` of each row."""
        X = self._check_X(X)
        return pseudo_log_likelihood_rows(self.rbm_, X)

    def gibbs(self, v):
        """One Gibbs step ``h ~ p(h|v)``, ``v' ~ p(v|h)`` (using ``random_state_``)."""
        v = self._check_X(v, name="v")
        h = self.rbm_.sample_h(v, rng=self.random_state_)
        return np.asarray(self.rbm_.sample_v(h, rng=self.random_state_), dtype=np.float64)

    def __repr__(self):
        changed = {k: v for k, v in self.get_params().items()
                   if v != inspect.signature(type(self).__init__).parameters[k].default}
        return f"BernoulliRBM({', '.join(f'{k}={v!r}' for k, v in changed.items())})"
