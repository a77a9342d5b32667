"""Fill in the missing bottom half of binarised digits by conditional sampling (SPEC.md §5).

An RBM (64 visible, 100 hidden, PCD-1, 50 epochs) is trained on the binarised 8×8 digits split of
``examples/digits_models.py``.  For test images the top four rows (32 pixels) are clamped through
``samplers.sample(rbm, evidence={pixel: value, ...})`` and the free pixels are sampled by block
Gibbs (100 chains per image, 200 warm-up sweeps, 50 draws per chain).  Reported: the mean
absolute error on the hidden half of the conditional pixel means and of the most probable value
of each pixel (mean > ½) against the truth, beside two baselines — the training pixel frequencies (independent pixels) and the bottom half of the
training image whose top half is nearest (Hamming).  With matplotlib, a figure shows the clamped
half, 4 completions and the truth per image.

Usage::

    python examples/inpainting_digits.py [--seed 0] [--images 40] [--out inpainting.png]
"""

import argparse
import json
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import estimators as E  # noqa: E402
import pgm  # noqa: E402
import samplers  # noqa: E402

TOP = np.arange(32)          # the clamped pixels: the top four rows
BOTTOM = np.arange(32, 64)


def digits():
    from sklearn.datasets import load_digits

    x = (load_digits().data >= 8).astype(np.float64)
    perm = np.random.default_rng(0).permutation(len(x))
    return x[perm[:1500]], x[perm[1500:]]


def complete(rbm, image, seed, chains=100, warmup=200, draws=50):
    """Samples ``(chains·draws, 64)`` of the image with its top half clamped."""
    ev = {int(i): int(image[i]) for i in TOP}
    s = samplers.sample(rbm, chains=chains, draws=draws, warmup=warmup, evidence=ev, seed=seed, progress=False)
    return s.states.reshape(-1, 64).astype(np.float64)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--images", type=int, default=40)
    ap.add_argument("--out", default="inpainting.png")
    args = ap.parse_args(argv)
    train, test = digits()
    rbm = pgm.RBM(64, 100, seed=args.seed)
    t0 = time.perf_counter()
    E.fit(rbm, train, E.PCD(k=1, chains=100), E.SGD(E.InverseTimeDecay(0.05, steps=1500)), epochs=50,
          batch_size=10, seed=args.seed, progress=False)
    t_train = time.perf_counter() - t0
    freq = train.mean(0)
    errors = {"rbm_conditional_mean": [], "rbm_most_probable_pixels": [], "pixel_frequencies": [],
              "nearest_top_half": []}
    shown = []
    t0 = time.perf_counter()
    for k, image in enumerate(test[:args.images]):
        x = complete(rbm, image, args.seed + 1 + k)
        assert np.all(x[:, TOP] == image[TOP])       # clamped pixels never move
        truth = image[BOTTOM]
        m = x[:, BOTTOM].mean(0)
        errors["rbm_conditional_mean"].append(np.abs(m - truth).mean())
        errors["rbm_most_probable_pixels"].append(np.abs((m > 0.5) - truth).mean())
        errors["pixel_frequencies"].append(np.abs(freq[BOTTOM] - truth).mean())
        near = np.argmin(np.abs(train[:, TOP] - image[TOP]).sum(1))
        errors["nearest_top_half"].append(np.abs(train[near, BOTTOM] - truth).mean())
        if k < 6:
            shown.append((image, x[:: len(x) // 4][:4]))
    t_sample = time.perf_counter() - t0
    out = {name: {"mean_abs_error": round(float(np.mean(e)), 4),
                  "std_error": round(float(np.std(e, ddof=1) / np.sqrt(len(e))), 4)} for name, e in errors.items()}
    print(json.dumps({"images": args.images, "train_seconds": round(t_train, 1),
                      "sampling_seconds": round(t_sample, 1), **out}))
    os.environ.setdefault("MPLBACKEND", "Agg")     # a file, no window (unless the user chose a backend)
    try:
        images = []
        for image, completions in shown:
            clamped = image.copy()
            clamped[BOTTOM] = 0.5
            images += [clamped, *completions, image]
        fig = pgm.plot.sample_grid(np.array(images), shape=(8, 8), ncols=6, cmap="gray_r", vmin=0, vmax=1,
                                   titles=["given", "sample", "sample", "sample", "sample", "truth"],
                                   figsize=(6 * 0.9, len(shown) * 0.95))
        fig.tight_layout()
        fig.savefig(args.out, dpi=120)
        print(json.dumps({"figure": os.path.abspath(args.out)}))
    except ImportError:
        print(json.dumps({"figure": None, "reason": "matplotlib is not installed"}))


if __name__ == "__main__":
    main()
