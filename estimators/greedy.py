"""Greedy layer-wise pretraining of deep belief networks (SPEC.md §5, "DBN ... Train: greedy
layer-wise RBMs (each trained on samples / means of the previous hidden layer)").

Layer ``l`` is an RBM ``(x_{l−1}, x_l)`` fitted with :func:`estimators.fit` to the data (``l = 1``)
or to the hidden means ``σ(c_{l−1} + x W_{l−1})`` of the layer below.  Its weights and visible
biases become the DBN's generative ``W_l, b_{l−1}``; the top RBM also gives ``b_L``.
DBMs (which need the weight-halving / doubled-input scheme) are not supported yet.
"""

import numpy as np

__all__ = ["pretrain_greedy"]


def pretrain_greedy(model, data, objective=None, optimizer=None, epochs=10, batch_size=None,
                    seed=None):
    """Pretrain a :class:`pgm.DBN` layer by layer; updates ``model`` in place.

    Parameters
    ----------
    model : pgm.DBN
    data : array_like (n, n_visible), binary
    objective : callable returning a fresh objective per layer, default ``lambda: PCD(k=1)``
    optimizer : callable returning a fresh optimiser per layer, default ``lambda: SGD(0.05)``
    epochs, batch_size, seed :
        Passed to :func:`estimators.fit` for every layer (layer ``l`` uses ``seed + l``).

    Returns
    -------
    list of History
        One per layer.  The hidden biases of the lower RBMs (not part of the DBN's generative
        model) are kept as ``model.recognition_biases`` for the upward recognition pass
        ``q(x_l | x_{l−1}) = σ(c_l + x_{l−1} W_l)``, e.g. for a variational likelihood bound.

    Examples
    --------
    >>> import numpy as np, pgm, estimators
    >>> x = (np.random.default_rng(0).random((200, 6)) < 0.3).astype(float)
    >>> dbn = pgm.DBN([6, 4, 3], seed=0)
    >>> len(estimators.pretrain_greedy(dbn, x, epochs=2, seed=0))
    2
    """
    import pgm

    from .objectives import PCD
    from .optimizers import SGD
    from .training import fit

    if getattr(model, "layered_kind", None) != "dbn":
        raise TypeError(f"pretrain_greedy supports pgm.DBN; got {type(model).__name__}"
                        + (" (DBM pretraining with weight halving is not implemented yet)"
                           if getattr(model, "layered_kind", None) == "dbm" else ""))
    objective = objective or (lambda: PCD(k=1))
    optimizer = optimizer or (lambda: SGD(0.05))
    x = np.asarray(data, dtype=np.float64)
    sizes = model.layer_sizes
    if x.ndim != 2 or x.shape[1] != sizes[0]:
        raise ValueError(f"data must have shape (n, {sizes[0]}), got {x.shape}")
    L = len(sizes) - 1
    base = 0 if seed is None else int(seed)
    histories, params, recognition = [], {}, []
    for l in range(1, L + 1):
        rbm = pgm.RBM(sizes[l - 1], sizes[l], seed=base + l, dtype=model.dtype)
        if l > 1:  # means are valid inputs of the next RBM only as probabilities: sample them
            x = (np.random.default_rng(base + 100 + l).random(x.shape) < x).astype(np.float64)
        histories.append(fit(rbm, x, objective(), optimizer(), epochs=epochs, batch_size=batch_size,
                             seed=base + l, progress=False))
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
