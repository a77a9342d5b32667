"""Optimisers and learning-rate schedules for :func:`estimators.fit`.

* :class:`SGD` — ``v ← μ v + g + λθ``, ``θ ← θ − η_t v`` (optionally Nesterov).
* :class:`Adam` — Kingma & Ba (2015) with bias correction; ``weight_decay`` adds ``λθ`` to the
  gradient (L2, as in the original paper).
* :class:`LBFGS` — full-batch limited-memory BFGS (two-loop recursion, backtracking line search
  that shortens steps leaving the model's valid parameters) on an objective's deterministic
  loss: the tool for reaching an estimator's exact optimum
  (exact ML, pseudolikelihood, ratio matching, score matching — e.g. score matching on Gaussian
  data to 1e-10 of its closed form); stochastic objectives (NCE, DSM) are made deterministic
  within an epoch by replaying the same random stream at every evaluation.

Weight decay applies to parameters with two or more dimensions (weight matrices), not to biases,
unless ``decay`` names the parameters.  Learning rates are numbers or schedules — pure functions
of the update count ``t`` (:class:`ExponentialDecay`, :class:`InverseTimeDecay`,
:class:`CosineDecay`), so a checkpoint only needs ``t``.

Optimiser state (moments, velocities, ``t``) is exposed as arrays by :meth:`state_dict` and
restored by :meth:`load_state_dict` for exact resumption.
"""

import math
import numbers

import numba
import numpy as np

__all__ = ["Optimizer", "SGD", "Adam", "LBFGS", "Schedule", "ExponentialDecay", "InverseTimeDecay",
           "CosineDecay"]


def _real(value, name, low=0.0, low_open=False, high=None):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite real number, got {value!r}")
    value = float(value)
    if value < low or (low_open and value == low) or (high is not None and value > high):
        rng = f"{'(' if low_open else '['}{low}, {high if high is not None else '∞'}{')' if high is None else ']'}"
        raise ValueError(f"{name} must lie in {rng}, got {value!r}")
    return value


# ---------------------------------------------------------------------------- schedules
class Schedule:
    """A learning rate as a function of the update count ``t = 0, 1, 2, …``."""

    def __call__(self, t):
        raise NotImplementedError

    def config(self):
        return {"type": type(self).__name__, **{k: v for k, v in vars(self).items()}}

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"


class ExponentialDecay(Schedule):
    """``lr · rate^(t / steps)``.

    Examples
    --------
    >>> from estimators import ExponentialDecay
    >>> s = ExponentialDecay(0.1, rate=0.5, steps=10)
    >>> s(0), s(10), s(20)
    (0.1, 0.05, 0.025)
    """

    def __init__(self, lr, rate, steps=1):
        self.lr = _real(lr, "lr", low_open=True)
        self.rate = _real(rate, "rate", low_open=True, high=1.0)
        self.steps = _real(steps, "steps", low_open=True)

    def __call__(self, t):
        return self.lr * self.rate ** (t / self.steps)


class InverseTimeDecay(Schedule):
    """``lr / (1 + t / steps)`` (Robbins–Monro: the sum of rates diverges, of squares does not).

    Examples
    --------
    >>> from estimators import InverseTimeDecay
    >>> InverseTimeDecay(0.1, steps=100)(100)
    0.05
    """

    def __init__(self, lr, steps):
        self.lr = _real(lr, "lr", low_open=True)
        self.steps = _real(steps, "steps", low_open=True)

    def __call__(self, t):
        return self.lr / (1.0 + t / self.steps)


class CosineDecay(Schedule):
    """``final + (lr − final)(1 + cos(π min(t, total)/total))/2``.

    Examples
    --------
    >>> from estimators import CosineDecay
    >>> s = CosineDecay(0.1, total=100, final=0.0)
    >>> s(0), round(s(50), 12), s(100), s(200)
    (0.1, 0.05, 0.0, 0.0)
    """

    def __init__(self, lr, total, final=0.0):
        self.lr = _real(lr, "lr", low_open=True)
        self.total = _real(total, "total", low_open=True)
        self.final = _real(final, "final")

    def __call__(self, t):
        frac = min(t, self.total) / self.total
        return self.final + (self.lr - self.final) * (1.0 + math.cos(math.pi * frac)) / 2.0


@numba.njit(cache=True)
def _descend_2d(value, lr, d, out):
    m, n = value.shape
    for i in range(m):
        for j in range(n):
            out[i, j] = value[i, j] - lr * d[i, j]


def _descend(value, lr, d):
    """``value − lr·d`` as a new float64 array, bit for bit numpy's result; weight matrices in one
    pass with one allocation (numpy's expression allocates a temporary, and two live
    megabyte-sized temporaries per update cost page faults on every update)."""
    value = np.asarray(value, dtype=np.float64)
    d = np.asarray(d, dtype=np.float64)
    if value.ndim == 2 and d.shape == value.shape and value.size >= 4096:
        out = np.empty(value.shape)
        _descend_2d(value, lr, d, out)
        return out
    return value - lr * d


def _lr(lr):
    if isinstance(lr, Schedule) or (callable(lr) and not isinstance(lr, numbers.Real)):
        return lr
    return _real(lr, "lr", low_open=True)


# ---------------------------------------------------------------------------- optimisers
class Optimizer:
    """Base class of the minibatch optimisers: ``step(params, grads) -> new params``."""

    full_batch = False

    def __init__(self, lr, weight_decay=0.0, decay=None):
        self.lr = _lr(lr)
        self.weight_decay = _real(weight_decay, "weight_decay")
        self.decay = None if decay is None else tuple(decay)
        self.t = 0
        self.slots = {}

    def current_lr(self):
        lr = self.lr(self.t) if callable(self.lr) else self.lr
        lr = float(lr)
        if not (math.isfinite(lr) and lr > 0):
            raise ValueError(f"learning rate at step {self.t} must be finite and > 0, got {lr!r}")
        return lr

    def _decays(self, name, value):
        if self.weight_decay == 0.0:
            return False
        return name in self.decay if self.decay is not None else np.ndim(value) >= 2

    def _g(self, name, value, grad):
        g = np.asarray(grad, dtype=np.float64)
        if self._decays(name, value):
            g = g + self.weight_decay * np.asarray(value, dtype=np.float64)
        return g

    def step(self, params, grads):
        """New parameter arrays after one update (``params`` are not modified)."""
        lr = self.current_lr()
        out = {}
        for name, value in params.items():
            if name not in grads:
                out[name] = value
                continue
            out[name] = _descend(value, lr, self._direction(name, value, grads[name]))
        self.t += 1
        return out

    def _direction(self, name, value, grad):
        raise NotImplementedError

    def _slot(self, kind, name, like):
        key = f"{kind}/{name}"
        if key not in self.slots:
            self.slots[key] = np.zeros(np.shape(like))
        return self.slots[key]

    def config(self):
        lr = self.lr.config() if isinstance(self.lr, Schedule) else (
            repr(self.lr) if callable(self.lr) else self.lr)
        return {"type": type(self).__name__, "lr": lr, "weight_decay": self.weight_decay,
                "decay": None if self.decay is None else list(self.decay)}

    def state_dict(self):
        """``(arrays, meta)``: moment / velocity arrays and the update count."""
        return dict(self.slots), {"t": self.t}

    def load_state_dict(self, arrays, meta):
        self.slots = {k: np.array(v, dtype=np.float64) for k, v in arrays.items()}
        self.t = int(meta["t"])

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.config().items() if k != 'type')})"


class SGD(Optimizer):
    """Stochastic gradient descent with momentum and weight decay.

    Parameters
    ----------
    lr : float or Schedule
    momentum : float in [0, 1)
    weight_decay : float
        L2 coefficient ``λ`` (gradient ``+ λθ``) on weight matrices (or the names in ``decay``).
    nesterov : bool
    decay : sequence of str, optional

    Examples
    --------
    >>> import numpy as np
    >>> from estimators import SGD
    >>> SGD(lr=0.1).step({"b": np.array([1.0])}, {"b": np.array([2.0])})["b"].tolist()
    [0.8]
    """

    def __init__(self, lr=0.01, momentum=0.0, weight_decay=0.0, nesterov=False, decay=None):
        super().__init__(lr, weight_decay, decay)
        self.momentum = _real(momentum, "momentum", high=0.999999)
        self.nesterov = bool(nesterov)

    def config(self):
        return {**super().config(), "momentum": self.momentum, "nesterov": self.nesterov}

    def _direction(self, name, value, grad):
        g = self._g(name, value, grad)
        if self.momentum == 0.0:
            return g
        v = self._slot("velocity", name, value)
        v *= self.momentum
        v += g
        return g + self.momentum * v if self.nesterov else v.copy()


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015).

    ``m ← β₁m + (1−β₁)g``, ``v ← β₂v + (1−β₂)g²``,
    ``θ ← θ − η_t m̂ / (√v̂ + ε)`` with ``m̂ = m/(1−β₁^t)``, ``v̂ = v/(1−β₂^t)``.

    Examples
    --------
    >>> import numpy as np
    >>> from estimators import Adam
    >>> Adam(lr=0.1).step({"b": np.array([1.0])}, {"b": np.array([5.0])})["b"].round(6).tolist()
    [0.9]
    """

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, decay=None):
        super().__init__(lr, weight_decay, decay)
        self.beta1 = _real(beta1, "beta1", high=0.999999)
        self.beta2 = _real(beta2, "beta2", high=0.999999999)
        self.eps = _real(eps, "eps", low_open=True)

    def config(self):
        return {**super().config(), "beta1": self.beta1, "beta2": self.beta2, "eps": self.eps}

    def _direction(self, name, value, grad):
        g = self._g(name, value, grad)
        m = self._slot("m", name, value)
        v = self._slot("v", name, value)
        m *= self.beta1
        m += (1.0 - self.beta1) * g
        v *= self.beta2
        v += (1.0 - self.beta2) * g * g
        t = self.t + 1
        mh = m / (1.0 - self.beta1 ** t)
        vh = v / (1.0 - self.beta2 ** t)
        return mh / (np.sqrt(vh) + self.eps)


class LBFGS:
    """Full-batch limited-memory BFGS (two-loop recursion, backtracking Armijo line search).

    With :func:`estimators.fit` each epoch is one L-BFGS run of at most ``maxiter`` iterations on
    the whole data set (``batch_size`` must be None).  Needs an objective with a loss.  Steps
    that leave the model's valid parameter set (e.g. a precision matrix that is not positive
    definite) come back as an infinite loss and are shortened — unlike
    ``scipy.optimize.minimize(method="L-BFGS-B")``, whose line search stops at the first such
    step and reports convergence.  Correction pairs with ``sᵀy ≤ 0`` are skipped, so the
    inverse-Hessian estimate stays positive definite.

    Parameters
    ----------
    maxiter : int
    gtol : float
        Converged when the largest gradient component is ``≤ gtol``.
    history : int
        Number of correction pairs kept.

    Examples
    --------
    >>> import numpy as np, pgm, estimators
    >>> x = np.random.default_rng(0).normal(size=(200, 2))
    >>> g = pgm.GaussianEnergy(np.zeros(2), np.eye(2))
    >>> h = estimators.fit(g, x, estimators.ScoreMatching(), estimators.LBFGS(), epochs=1, progress=False)
    >>> bool(np.allclose(g.mean, x.mean(0), atol=1e-8)), h.last["converged"]
    (True, True)
    """

    full_batch = True

    def __init__(self, maxiter=1000, gtol=1e-9, history=20):
        if isinstance(maxiter, bool) or not isinstance(maxiter, numbers.Integral) or maxiter < 1:
            raise ValueError(f"maxiter must be an integer >= 1, got {maxiter!r}")
        self.maxiter = int(maxiter)
        self.gtol = _real(gtol, "gtol")
        if isinstance(history, bool) or not isinstance(history, numbers.Integral) or history < 1:
            raise ValueError(f"history must be an integer >= 1, got {history!r}")
        self.history = int(history)
        self.t = 0

    def minimize(self, fun, x0):
        """Minimise ``fun(x) -> (loss, grad)`` from ``x0``.

        Returns a ``scipy.optimize.OptimizeResult`` (``x``, ``fun``, ``jac``, ``nit``, ``nfev``,
        ``success``, ``message``).
        """
        from scipy.optimize import OptimizeResult

        x = np.array(x0, dtype=np.float64)
        f, g = fun(x)
        nfev = 1
        if not math.isfinite(f):
            raise ValueError("the loss is not finite at the starting point")
        S, Y = [], []
        message, success, it = "maximum number of iterations reached", False, 0
        for it in range(1, self.maxiter + 1):
            if np.max(np.abs(g)) <= self.gtol:
                message, success, it = "gradient below gtol", True, it - 1
                break
            d = self._direction(g, S, Y)
            slope = float(g @ d)
            if slope >= 0:                       # not a descent direction: restart
                S, Y = [], []
                d, slope = -g, -float(g @ g)
            step = 1.0 if S else min(1.0, 1.0 / max(1e-300, float(np.max(np.abs(g)))))
            slack = 1e-12 * max(1.0, abs(f))     # accept round-off-level changes near the optimum
            while True:
                xn = x + step * d
                fn, gn = fun(xn)
                nfev += 1
                if math.isfinite(fn) and fn <= f + 1e-4 * step * slope + slack:
                    break
                step *= 0.5
                if step * float(np.max(np.abs(d))) < 1e-16 * max(1.0, float(np.max(np.abs(x)))):
                    fn = None
                    break
            if fn is None:
                ok = np.max(np.abs(g)) <= max(self.gtol, 1e-6)
                message, success = "line search cannot reduce the loss further", bool(ok)
                break
            s, y = xn - x, gn - g
            if float(s @ y) > 1e-12 * float(np.linalg.norm(s) * np.linalg.norm(y)):
                S.append(s)
                Y.append(y)
                if len(S) > self.history:
                    S.pop(0)
                    Y.pop(0)
            x, f, g = xn, fn, gn
        else:
            if np.max(np.abs(g)) <= self.gtol:
                message, success = "gradient below gtol", True
        self.t += int(it)
        return OptimizeResult(x=x, fun=f, jac=g, nit=int(it), nfev=nfev, success=success, message=message)

    @staticmethod
    def _direction(g, S, Y):
        q = g.copy()
        alphas = []
        for s, y in zip(reversed(S), reversed(Y)):
            a = float(s @ q) / float(s @ y)
            alphas.append(a)
            q -= a * y
        if S:
            q *= float(S[-1] @ Y[-1]) / float(Y[-1] @ Y[-1])
        for (s, y), a in zip(zip(S, Y), reversed(alphas)):
            b = float(y @ q) / float(s @ y)
            q += (a - b) * s
        return -q

    def current_lr(self):
        return float("nan")

    def config(self):
        return {"type": "LBFGS", "maxiter": self.maxiter, "gtol": self.gtol, "history": self.history}

    def state_dict(self):
        return {}, {"t": self.t}

    def load_state_dict(self, arrays, meta):
        self.t = int(meta["t"])

    def __repr__(self):
        return f"LBFGS(maxiter={self.maxiter}, gtol={self.gtol}, history={self.history})"
