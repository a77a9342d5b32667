"""Greedy layer-wise pretraining of deep belief networks and deep Boltzmann machines (SPEC.md §5:
"DBN ... Train: greedy layer-wise RBMs (each trained on samples / means of the previous hidden
layer)"; "DBM ... Greedy layer-wise pretraining (with weight halving / doubled inputs for the
middle layers)").

Both stack RBMs, each fitted with :func:`estimators.fit` (a fresh objective and optimiser per
layer) to the data (``l = 1``) or to binary samples of the hidden means of the RBM below.

**DBN.**  Layer ``l`` is an ordinary RBM ``(x_{l−1}, x_l)``.  Its weights and visible biases
become the DBN's generative ``W_l, b_{l−1}``; the top RBM also gives ``b_L``.

**DBM** (Salakhutdinov & Hinton 2009, "Deep Boltzmann machines"; 2012, "An efficient learning
procedure for deep Boltzmann machines").  In the DBM a middle layer ``x_l`` (``0 < l < L``)
receives input from *both* neighbours, ``σ(b_l + x_{l−1}W_l + W_{l+1}x_{l+1})``, while the RBM
that modelled it saw only one.  Composing ordinary RBMs would count the evidence twice, so the
layer RBMs are trained such that each one-sided input to a middle layer is *twice* what it will
be in the DBM, and the DBM's input is the average of the two RBMs' inputs:

* bottom RBM ``(v, x_1)``: the visible layer is doubled — an RBM over two copies ``(v, v')`` with
  tied weights ``W_1`` and tied biases ``b_0``, trained on ``(x, x)``; so
  ``p(x_1 | v, v'=v) = σ(c_1 + 2vW_1)`` on the way up, ``p(v | x_1) = σ(b_0 + W_1x_1)`` on the way
  down;
* top RBM ``(x_{L−1}, x_L)``: the top layer is doubled — two copies ``(x_L, x_L')`` with tied
  ``W_L``, ``c_L``; ``p(x_{L−1} | x_L, x_L') = σ(b + W_Lx_L + W_Lx_L')`` (≈ ``2W_Lx_L``) on the way
  down, ``p(x_L | x_{L−1}) = σ(c_L + x_{L−1}W_L)`` on the way up;
* middle RBMs (``L ≥ 3``; both of their layers are middle layers of the DBM): ordinary RBMs
  with weights ``Ŵ_l``, whose weights are **halved** in the DBM, ``W_l = Ŵ_l / 2`` (the same as
  training them with doubled inputs in both directions);
* composition: ``W_1`` and ``W_L`` as trained (their doubled side is halved back), middle
  ``W_l = Ŵ_l/2``; ``b_0`` from the bottom RBM, ``b_L`` from the top RBM, and for a middle
  layer the average ``b_l = ½(c^{(l)} + b^{(l+1)})`` of its hidden bias in RBM ``l`` and its
  visible bias in RBM ``l+1`` — so a middle layer's DBM pre-activation is exactly the mean of
  its pre-activations in the two RBMs (for ``L = 2``:
  ``b_1 + vW_1 + W_2x_2 = ½(c^{(1)} + 2vW_1) + ½(b^{(2)} + 2W_2x_2)``).
  ``L = 1`` is a single ordinary RBM.

The doubled layers are realised exactly, as RBMs whose doubled layer is two tied copies (a
:class:`pgm.RBM` with ``2n`` units whose two halves are kept equal), not by rescaling weights in
one direction of the sampler: an RBM with ``2W`` up and ``W`` down is not the conditional pair of
any joint distribution, so persistent chains run with it would not sample a model, whereas the
tied-copy RBM is a genuine RBM whose conditionals are the doubled ones given equal copies, and
every objective (CD, PCD, ...) applies to it unchanged.  The copies are tied by averaging the
two halves of every parameter written by the optimiser (a projection onto the tied subspace);
the gradient of the shared parameter is the sum of the two halves' gradients, so with SGD this
is exactly SGD on the shared parameters with half the learning rate — the step size of an
ordinary RBM of the same size.
"""

import numpy as np

import pgm

from .objectives import PCD
from .optimizers import SGD
from .training import fit

__all__ = ["pretrain_greedy"]


class _TiedCopiesRBM(pgm.RBM):
    """Binary RBM whose visible (``copies="visible"``) or hidden (``"hidden"``) layer consists of
    two copies with tied weights and biases; every parameter write re-ties the halves (their
    average), in the model dtype."""

    def __init__(self, n_visible, n_hidden, copies, seed=None, dtype=np.float64):
        self.copies = copies
        self.n_single = n_visible if copies == "visible" else n_hidden
        rng = np.random.default_rng(seed)
        W = 0.01 * rng.standard_normal((n_visible, n_hidden))
        if copies == "visible":
            super().__init__(2 * n_visible, n_hidden, W=np.vstack([W, W]), dtype=dtype)
        else:
            super().__init__(n_visible, 2 * n_hidden, W=np.hstack([W, W]), dtype=dtype)

    def _validate(self):
        # every parameter write (``set_params`` and ``estimators.fit``'s no-copy path) ends here:
        # project onto the tied subspace by binding new arrays (the old ones are left untouched)
        m = self.n_single
        if self.copies == "visible":
            W = 0.5 * (self.W[:m] + self.W[m:])
            b = 0.5 * (self.b[:m] + self.b[m:])
            self.W, self.b = np.vstack([W, W]), np.concatenate([b, b])
        else:
            W = 0.5 * (self.W[:, :m] + self.W[:, m:])
            c = 0.5 * (self.c[:m] + self.c[m:])
            self.W, self.c = np.ascontiguousarray(np.hstack([W, W])), np.concatenate([c, c])
        super()._validate()

    def single(self):
        """``(W, b, c)`` of one copy (float64)."""
        m = self.n_single
        W, b, c = (np.asarray(a, dtype=np.float64) for a in (self.W, self.b, self.c))
        if self.copies == "visible":
            return W[:m], b[:m], c
        return W[:, :m], b, c[:m]

    def mean_h_single(self, x):
        """``p(h | v = v' = x)`` (visible copies) or ``p(h | x)`` with one hidden copy."""
        if self.copies == "visible":
            return self.mean_h(np.hstack([x, x]))
        return self.mean_h(x)[:, :self.n_single]


def pretrain_greedy(model, data, objective=None, optimizer=None, epochs=10, batch_size=None,
                    seed=None):
    """Pretrain a :class:`pgm.DBN` or :class:`pgm.DBM` layer by layer; updates ``model`` in place.

    See the module docstring for the two schemes (DBM: doubled bottom / top RBMs with tied
    copies, halved middle RBMs, averaged biases).

    Parameters
    ----------
    model : pgm.DBN or pgm.DBM
    data : array_like (n, n_visible), binary
    objective : callable returning a fresh objective per layer, default ``lambda: PCD(k=1)``
    optimizer : callable returning a fresh optimiser per layer, default ``lambda: SGD(0.05)``
    epochs, batch_size, seed :
        Passed to :func:`estimators.fit` for every layer (layer ``l`` uses ``seed + l``).

    Returns
    -------
    list of History
        One per layer.  For a DBN the hidden biases of the lower RBMs (not part of the DBN's
        generative model) are kept as ``model.recognition_biases`` for the upward recognition
        pass ``q(x_l | x_{l−1}) = σ(c_l + x_{l−1} W_l)``, e.g. for a variational likelihood bound.

    Examples
    --------
    >>> import numpy as np, pgm, estimators
    >>> x = (np.random.default_rng(0).random((200, 6)) < 0.3).astype(float)
    >>> dbn = pgm.DBN([6, 4, 3], seed=0)
    >>> len(estimators.pretrain_greedy(dbn, x, epochs=2, seed=0))
    2
    >>> dbm = pgm.DBM([6, 4, 3], seed=0)
    >>> len(estimators.pretrain_greedy(dbm, x, epochs=2, seed=0))
    2
    """
    kind = getattr(model, "layered_kind", None)
    if kind not in ("dbn", "dbm"):
        raise TypeError(f"pretrain_greedy supports pgm.DBN and pgm.DBM; got {type(model).__name__}")
    objective = objective or (lambda: PCD(k=1))
    optimizer = optimizer or (lambda: SGD(0.05))
    x = np.asarray(data, dtype=np.float64)
    sizes = model.layer_sizes
    if x.ndim != 2 or x.shape[1] != sizes[0]:
        raise ValueError(f"data must have shape (n, {sizes[0]}), got {x.shape}")
    base = 0 if seed is None else int(seed)

    def train(rbm, x, l):
        return fit(rbm, x, objective(), optimizer(), epochs=epochs, batch_size=batch_size,
                   seed=base + l, progress=False)

    if kind == "dbm":
        return _pretrain_dbm(model, x, train, base)
    L = len(sizes) - 1
    histories, params, recognition = [], {}, []
    for l in range(1, L + 1):
        rbm = pgm.RBM(sizes[l - 1], sizes[l], seed=base + l, dtype=model.dtype)
        if l > 1:  # means are valid inputs of the next RBM only as probabilities: sample them
            x = (np.random.default_rng(base + 100 + l).random(x.shape) < x).astype(np.float64)
        histories.append(train(rbm, x, l))
        params[f"W{l}"] = rbm.W
        params[f"b{l - 1}"] = rbm.b
        if l == L:
            params[f"b{l}"] = rbm.c
        else:
            recognition.append(np.array(rbm.c, dtype=np.float64))
        x = rbm.mean_h(x)
    model.set_params(**params)
    model.recognition_biases = recognition
    return histories


def _pretrain_dbm(model, x, train, base):
    """The DBM scheme of the module docstring; ``train(rbm, data, l)`` fits one layer RBM."""
    sizes = model.layer_sizes
    L = len(sizes) - 1
    histories, W, vis_bias, hid_bias = [], {}, {}, {}
    for l in range(1, L + 1):
        if l > 1:  # means are valid inputs of the next RBM only as probabilities: sample them
            x = (np.random.default_rng(base + 100 + l).random(x.shape) < x).astype(np.float64)
        n_in, n_out = sizes[l - 1], sizes[l]
        if L == 1 or 1 < l < L:   # a lone RBM, or a middle RBM (halved below)
            rbm = pgm.RBM(n_in, n_out, seed=base + l, dtype=model.dtype)
            histories.append(train(rbm, x, l))
            Wl, bl, cl = (np.asarray(a, dtype=np.float64) for a in (rbm.W, rbm.b, rbm.c))
            up = rbm.mean_h(x)
            if L > 1:
                Wl = 0.5 * Wl
        else:                     # bottom: doubled visible layer; top: doubled top layer
            rbm = _TiedCopiesRBM(n_in, n_out, "visible" if l == 1 else "hidden", seed=base + l,
                                 dtype=model.dtype)
            histories.append(train(rbm, np.hstack([x, x]) if l == 1 else x, l))
            Wl, bl, cl = rbm.single()
            up = rbm.mean_h_single(x)
        W[l], vis_bias[l], hid_bias[l] = Wl, bl, cl
        x = np.asarray(up, dtype=np.float64)
    params = {f"W{l}": W[l] for l in range(1, L + 1)}
    params["b0"] = vis_bias[1]
    params[f"b{L}"] = hid_bias[L]
    for l in range(1, L):
        params[f"b{l}"] = 0.5 * (hid_bias[l] + vis_bias[l + 1])
    model.set_params(**params)
    return histories
