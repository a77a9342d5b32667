"""Learn 2-D densities with implicit generators: a GAN (adversarial training) and a GMMN (MMD).

For each toy density of :mod:`pgm.toy` (a ring, eight Gaussians, two moons) train

* ``gan`` — ``GAN(2, 4)`` with swish networks ``4 → 64 → 64 → 2`` (generator) and
  ``2 → 64 → 64 → 1`` (discriminator), :class:`estimators.Adversarial` (non-saturating generator
  loss, instance noise τ = 0.05), Adam (β₁ = 0, β₂ = 0.9) with the learning rate cosine-decayed
  from 1e-3 to 5e-5 over 200 epochs (6 400 simultaneous updates);
* ``gmmn`` — ``GMMN(2, 4)`` with a tanh generator ``4 → 64 → 64 → 2``, :class:`estimators.MMD`
  (unbiased MMD², Gaussian kernels of bandwidths 0.05, 0.1, 0.2, 0.5, 1, 2; 256 generator samples
  per update), Adam with the learning rate cosine-decayed from 3e-3 over 40 epochs;

each on 8 000 samples, batch 256.  A generator has no density to evaluate, so the model density
is estimated from 10⁵ generator samples by a Gaussian kernel density estimate of bandwidth
``KDE_BANDWIDTH = 0.05`` (binned on a grid four times finer than the evaluation grid, then
evaluated exactly by separable Gaussian sums), and ``KL(data ‖ model)`` is integrated on the
200 × 200 grid of :func:`pgm.toy.kl_divergence`.  For scale each line also reports the KL of the
best (moment-matched) Gaussian (``examples/energy_2d.py``) and ``kde_floor``, the KL of the same
estimator applied to 10⁵ *exact* samples of the density (what the density estimate alone costs).

Usage::

    python examples/generators_2d.py [--epochs-scale 1.0] [--out generators_2d.png] [--only ring:gan]

Prints one JSON line per (density, model): KL, the Gaussian-fit KL, the KDE floor, seconds.
"""

import os

# small matrices: BLAS threads only add synchronisation (and stall on a loaded machine)
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
for _p in (ROOT, HERE):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import estimators as E  # noqa: E402
import pgm  # noqa: E402
import samplers  # noqa: E402
from energy_2d import gaussian_kl  # noqa: E402
from estimators.adversarial import Adversarial  # noqa: E402
from estimators.mmd import MMD  # noqa: E402
from pgm.generators import GAN, GMMN  # noqa: E402

MODELS = ("gan", "gmmn")
N_DATA = 8000
BATCH = 256
N_SAMPLES = 100_000
KDE_BANDWIDTH = 0.05
GRID = 200


def kde_log_density(samples, bounds, bandwidth=KDE_BANDWIDTH, n=GRID, refine=4):
    """``log q`` at the ``n × n`` cell centres of :func:`pgm.toy.grid` for the Gaussian kernel
    density estimate ``q(x) = (1/N) Σ_k N(x; y_k, bandwidth² I)`` of ``samples`` ``y_k`` (each
    sample moved to the centre of its cell on a ``refine``-times finer grid; samples outside
    ``[−bounds, bounds]²`` are dropped and ``q`` is renormalised on the grid by the caller).

    The 2-D Gaussian kernel factorises, so ``q = Φ C Φᵀ / N`` with ``C`` the fine-grid counts and
    ``Φ`` the 1-D kernel between coarse and fine cell centres (exact Gaussian sums, no FFT
    truncation; values below 1e-300 are clipped there).
    """
    fine = n * refine
    h = 2.0 * bounds / fine
    edges = -bounds + h * np.arange(fine + 1)
    counts, _, _ = np.histogram2d(samples[:, 0], samples[:, 1], bins=[edges, edges])
    centres_fine = -bounds + h * (np.arange(fine) + 0.5)
    centres = -bounds + (2.0 * bounds / n) * (np.arange(n) + 0.5)
    phi = np.exp(-0.5 * ((centres[:, None] - centres_fine[None, :]) / bandwidth) ** 2) \
        / (math.sqrt(2.0 * math.pi) * bandwidth)
    q = phi @ counts @ phi.T / samples.shape[0]
    return np.log(np.maximum(q, 1e-300)).ravel()


def kl_from_samples(density, samples):
    """``KL(density ‖ KDE(samples))`` on the 200 × 200 grid."""
    lq = kde_log_density(samples, density.bounds)
    return pgm.toy.kl_divergence(density, lambda pts: lq, n=GRID)


def _updates(epochs):
    return epochs * ((N_DATA + BATCH - 1) // BATCH)


def train(density, which, scale=1.0, seed=0):
    """Train a GAN or a GMMN on ``density``; return ``(model, seconds)``."""
    data = density.sample(N_DATA, np.random.default_rng(seed))
    t0 = time.perf_counter()
    if which == "gan":
        epochs = max(1, int(round(200 * scale)))
        model = GAN(2, 4, generator_hidden=(64, 64), discriminator_hidden=(64, 64), activation="swish",
                    seed=seed)
        lr = E.CosineDecay(1e-3, _updates(epochs), final=5e-5)
        E.fit(model, data, Adversarial(loss="non_saturating", instance_noise=0.05),
              E.Adam(lr=lr, beta1=0.0, beta2=0.9), epochs=epochs, batch_size=BATCH, seed=seed + 1,
              progress=False)
    elif which == "gmmn":
        epochs = max(1, int(round(40 * scale)))
        model = GMMN(2, 4, hidden=(64, 64), activation="tanh", seed=seed)
        lr = E.CosineDecay(3e-3, _updates(epochs))
        E.fit(model, data, MMD(bandwidths=(0.05, 0.1, 0.2, 0.5, 1.0, 2.0)), E.Adam(lr=lr),
              epochs=epochs, batch_size=BATCH, seed=seed + 1, progress=False)
    else:
        raise ValueError(f"unknown model {which!r}; expected one of {MODELS}")
    return model, time.perf_counter() - t0


def evaluate(density, model, seed=2):
    """``(KL(data ‖ KDE of 10⁵ generator samples), the samples)``."""
    samples = samplers.ancestral(model, N_SAMPLES, seed=seed)
    return kl_from_samples(density, samples), samples


def _plot(results, path):
    """One row per density: exact samples, then each generator's (``pgm.plot``)."""
    os.environ.setdefault("MPLBACKEND", "Agg")     # a file, no window (unless the user chose a backend)
    names = list(pgm.toy.DENSITIES)
    fig, axes = pgm.plot.panel_grid(len(names), 1 + len(MODELS), size=2.4)
    for r, name in enumerate(names):
        density = pgm.toy.DENSITIES[name]()
        panels = [("data", density.sample(N_SAMPLES, np.random.default_rng(1)))]
        panels += [(f"{m}  KL={results[(name, m)][0]:.3f}", results[(name, m)][1])
                   for m in MODELS if (name, m) in results]
        for ax, (title, s) in zip(axes[r], panels):
            pgm.plot.samples_2d(s, density.bounds, ax=ax, bins=150, title=f"{name}: {title}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs-scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="generators_2d.png", help="figure path (needs matplotlib)")
    ap.add_argument("--only", nargs="*", default=None, help="density:model pairs, e.g. ring:gan")
    args = ap.parse_args(argv)
    pairs = [tuple(p.split(":")) for p in args.only] if args.only else \
        [(d, m) for d in pgm.toy.DENSITIES for m in MODELS]
    results, floors, gaussians = {}, {}, {}
    for name, which in pairs:
        density = pgm.toy.DENSITIES[name]()
        if name not in floors:
            floors[name] = kl_from_samples(density, density.sample(N_SAMPLES, np.random.default_rng(7)))
            gaussians[name] = gaussian_kl(density)
        model, seconds = train(density, which, args.epochs_scale, seed=args.seed)
        kl, samples = evaluate(density, model)
        results[(name, which)] = (kl, samples)
        print(json.dumps({"density": name, "model": which, "kl": round(kl, 4),
                          "gaussian_kl": round(gaussians[name], 4), "kde_floor": round(floors[name], 4),
                          "kde_bandwidth": KDE_BANDWIDTH, "seconds": round(seconds, 1)}), flush=True)
    try:
        _plot(results, args.out)
        print(json.dumps({"figure": os.path.abspath(args.out)}))
    except ImportError:
        print(json.dumps({"figure": None, "reason": "matplotlib is not installed"}))


if __name__ == "__main__":
    main()
