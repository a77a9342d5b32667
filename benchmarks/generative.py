"""NADE and VAE training epochs on binarised digits against their matrix products (issue 13, item 5).

Data: the binarised 8×8 digits training split of ``examples/digits_models.py`` (1 500 × 64).
Timed: one call of ``estimators.fit(model, train, objective, Adam, epochs=1, batch_size=B)`` —
what a user runs — from a model already trained for a few epochs (realistic weights), median of
``repeats``.

The bound measured in the same process is the dense matrix products a pass needs, with
``numpy.matmul`` on the same shapes, repeated once per minibatch:

* NADE (``D`` visible, ``H`` hidden): the forward pass does ``D`` rank-1 updates of the running
  pre-activation (``B·D·H`` multiply-adds) and ``D`` row dots ``h_i·V_i`` (``B·D·H``); the backward
  pass twice that.  As dense products this is six ``(B, D) @ (D, H)`` products per minibatch —
  the same multiply-add count in BLAS's best layout.
* VAE: every dense layer costs one product forward and two backward (``δ Wᵀ`` and ``aᵀ δ``):
  three per layer of the encoder and of the decoder.

The ratio ``epoch time / product time`` says how much everything else (activations, sampling,
the per-position loop of NADE, the optimiser, validation) adds.  NADE's cost is dominated by its
``2·B·D·H`` logistic evaluations per minibatch, not by multiply-adds, so its line also gives
the time of that many ``np.tanh`` evaluations and the ratio against products + logistics.

Usage: ``OPENBLAS_NUM_THREADS=1 python benchmarks/generative.py [--repeats 5] [--batch 100]``.
Prints JSON lines.
"""

import argparse
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import estimators  # noqa: E402
import pgm  # noqa: E402
from benchmarks._common import emit, header, median_time  # noqa: E402


def digits_train():
    from sklearn.datasets import load_digits

    x = (load_digits().data >= 8).astype(np.float64)
    return x[np.random.default_rng(0).permutation(len(x))[:1500]]


def _batches(n, batch):
    return [min(batch, n - a) for a in range(0, n, batch)]


def nade_products(D, H, n, batch):
    W = np.ones((D, H))
    xs = [np.ones((b, D)) for b in set(_batches(n, batch))]
    sizes = _batches(n, batch)
    by_size = {x.shape[0]: x for x in xs}

    def run():
        for b in sizes:
            x = by_size[b]
            for _ in range(6):
                x @ W
    return run


def nade_sigmoids(D, H, n, batch):
    """The ``2·B·D·H`` logistic evaluations of a minibatch (``h_i`` forward, again backward), as
    ``np.tanh`` on contiguous arrays: the other floor of NADE, whose hidden units are
    recomputed at every position."""
    a = {b: np.full((b, D * H), 0.3) for b in set(_batches(n, batch))}
    sizes = _batches(n, batch)

    def run():
        for b in sizes:
            for _ in range(2):
                np.tanh(a[b])
    return run


def vae_products(model, n, batch):
    layers = [np.asarray(W) for W in model.encoder.weights] + [np.asarray(W) for W in model.decoder.weights]
    sizes = _batches(n, batch)
    acts = {b: [np.ones((b, W.shape[0])) for W in layers] for b in set(sizes)}
    deltas = {b: [np.ones((b, W.shape[1])) for W in layers] for b in set(sizes)}

    def run():
        for b in sizes:
            for W, a, d in zip(layers, acts[b], deltas[b]):
                a @ W
                d @ W.T
                a.T @ d
    return run


def epoch(model, x, objective, batch, seed):
    def run():
        estimators.fit(model, x, objective, estimators.Adam(lr=1e-3), epochs=1, batch_size=batch, seed=seed,
                       progress=False)
    return run


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--batch", type=int, default=100)
    args = ap.parse_args(argv)
    header("generative")
    x = digits_train()
    n, D = x.shape
    cases = [("nade", pgm.NADE(D, 100, seed=0), estimators.MaximumLikelihood(), nade_products(D, 100, n, args.batch))]
    if hasattr(pgm, "VAE"):
        vae = pgm.VAE(D, 10, hidden=(100,), seed=0)
        cases.append(("vae", vae, estimators.ELBO(k=1), vae_products(vae, n, args.batch)))
    for name, model, objective, products in cases:
        epoch(model, x, objective, args.batch, 1)()           # warm-up: compile, realistic weights
        for _ in range(4):
            epoch(model, x, objective, args.batch, 2)()
        t_epoch, times = median_time(epoch(model, x, objective, args.batch, 3), args.repeats)
        t_mm, _ = median_time(products, args.repeats)
        extra = {}
        if name == "nade":
            t_sig, _ = median_time(nade_sigmoids(D, 100, n, args.batch), args.repeats)
            extra = {"sigmoid_s": round(t_sig, 4),
                     "ratio_epoch_over_matmul_plus_sigmoid": round(t_epoch / (t_mm + t_sig), 2)}
        emit({"model": name, "n_train": n, "batch": args.batch, "epoch_s": round(t_epoch, 4),
              "matmul_s": round(t_mm, 4), "ratio_epoch_over_matmul": round(t_epoch / t_mm, 2), **extra,
              "epoch_times_s": [round(t, 4) for t in times],
              "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS", "default")})


if __name__ == "__main__":
    main()
