"""One evaluation table: every density model of the toolkit on the same binarised 8×8 digits.

Data (SPEC.md §6: identical preprocessing for every model): scikit-learn's bundled digits
(1 797 images of 8×8 pixels with grey levels 0–16), binarised by thresholding at 8 (pixel = 1
when its level is ≥ 8), shuffled by ``numpy.random.default_rng(0).permutation`` and split into
the first 1 500 images for training and the other 297 for testing (the split of
``tests/test_estimators_digits.py``).

Models and how their test log-likelihood (nats per image) is obtained:

* ``independent`` — independent Bernoulli pixels (smoothed frequencies): exact;
* ``rbm`` — RBM, 100 hidden units, PCD-1: ``log Z`` by AIS (error bar from the AIS runs and the
  test images);
* ``dbn`` — DBN 64–100–64, greedy PCD pretraining: importance-weighted lower bound
  (:func:`samplers.dbn_log_likelihood`, the up-pass as proposal) with the top RBM's ``log Z``
  by AIS;
* ``dbm`` — DBM 64–100–64, greedy pretraining then variational PCD: mean-field lower bound
  (:func:`pgm.inference.mean_field`) with ``log Z`` by AIS; ``dbm_centred`` the same budget
  with the centring trick (``VariationalPCD(centering=True)``);
* ``sbn`` — sigmoid belief net 64–100, wake–sleep: importance-sampled bound with the
  recognition network as proposal (k = 5 000);
* ``fvsbn``, ``nade`` — fully visible sigmoid belief net and NADE (100 hidden), exact
  likelihood, maximum likelihood with Adam;
* ``vae`` — VAE (one hidden layer of 100 tanh units each side, 10 latent dimensions, Bernoulli
  pixels), reparameterised ELBO with Adam: IWAE bound with k = 5 000.

Every row also reports the training time and a memorisation check (SPEC §6): the mean Hamming
distance from 300 model samples to their nearest training image, beside the same distance for
the test images (a model that copies its training set would score near 0).  With matplotlib, a
figure shows 8 samples per model above their nearest training images.

Usage::

    python examples/digits_models.py [--seed 0] [--only nade,vae] [--scale 1.0] [--out digits_models.png]

Prints one JSON line per model, then the table.
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

MODELS = ("independent", "rbm", "dbn", "dbm", "dbm_centred", "sbn", "fvsbn", "nade", "vae")


def digits():
    """``(train, test)``: binarised digits, the fixed split described in the module docstring."""
    from sklearn.datasets import load_digits

    x = (load_digits().data >= 8).astype(np.float64)
    perm = np.random.default_rng(0).permutation(len(x))
    return x[perm[:1500]], x[perm[1500:]]


class Row:
    """One line of the table."""

    def __init__(self, name, per_image, extra_std=0.0, how="exact", seconds=0.0, samples=None, note=""):
        per_image = np.asarray(per_image, dtype=np.float64)
        self.name, self.how, self.seconds, self.samples, self.note = name, how, seconds, samples, note
        self.mean = float(per_image.mean())
        self.std_data = float(per_image.std(ddof=1) / np.sqrt(per_image.size))
        self.std = float(np.hypot(self.std_data, extra_std))
        self.per_image = per_image


def _epochs(e, scale):
    return max(1, int(round(e * scale)))


def _chain_samples(model, n, seed, warmup=2000):
    s = samplers.sample(model, chains=n, draws=1, warmup=warmup, seed=seed, progress=False)
    return np.asarray(s.states[:, -1, :], dtype=np.float64)


def _ais(model, train, seed, betas=20000, runs=100):
    return samplers.ais(model, betas=samplers.linear_betas(betas), runs=runs,
                        base=samplers.base_rate(train), seed=seed)


def independent(train, test, seed, scale):
    t0 = time.perf_counter()
    p = (train.sum(0) + 1.0) / (train.shape[0] + 2.0)
    seconds = time.perf_counter() - t0
    ll = test @ np.log(p) + (1 - test) @ np.log1p(-p)
    samples = (np.random.default_rng(seed).random((300, train.shape[1])) < p).astype(float)
    return Row("independent", ll, how="exact", seconds=seconds, samples=samples)


def rbm(train, test, seed, scale):
    model = pgm.RBM(64, 100, seed=seed)
    epochs = _epochs(50, scale)
    t0 = time.perf_counter()
    E.fit(model, train, E.PCD(k=1, chains=100),
          E.SGD(E.InverseTimeDecay(0.05, steps=1500)), epochs=epochs, batch_size=10, seed=seed, progress=False)
    seconds = time.perf_counter() - t0
    r = _ais(model, train, seed + 1)
    ll = samplers.log_likelihood(model, test, r)
    return Row("rbm", ll.per_example, ll.std_log_z, how=f"AIS ({r.log_z:.2f} ± {r.log_z_std:.3f})",
               seconds=seconds, samples=_chain_samples(model, 300, seed + 2))


def dbn(train, test, seed, scale):
    model = pgm.DBN([64, 100, 64], seed=seed)
    t0 = time.perf_counter()
    E.pretrain_greedy(model, train, objective=lambda: E.PCD(k=1, chains=100),
                      optimizer=lambda: E.SGD(E.InverseTimeDecay(0.05, steps=1500)),
                      epochs=_epochs(40, scale), batch_size=10, seed=seed)
    seconds = time.perf_counter() - t0
    # AIS for the top RBM from a base-rate model of its visible layer (h¹ of the training images)
    up = pgm.network.sigmoid(model.biases[1] + train @ model.weights[0])
    h1 = (np.random.default_rng(seed + 4).random(up.shape) < up).astype(np.float64)
    r = _ais(model.top_rbm, h1, seed + 1)
    ll = samplers.dbn_log_likelihood(model, test, r, samples=1000, seed=seed + 3)
    return Row("dbn", ll.per_example, ll.std_log_z, how="IW bound k=1000 + AIS",
               seconds=seconds, samples=_chain_samples(model, 300, seed + 2))


def _dbm(name, train, test, seed, scale, centering):
    model = pgm.DBM([64, 100, 64], seed=seed)
    t0 = time.perf_counter()
    E.pretrain_greedy(model, train, objective=lambda: E.PCD(k=1, chains=100),
                      optimizer=lambda: E.SGD(E.InverseTimeDecay(0.05, steps=1500)),
                      epochs=_epochs(30, scale), batch_size=10, seed=seed)
    E.fit(model, train, E.VariationalPCD(k=1, chains=100, centering=centering),
          E.SGD(E.InverseTimeDecay(0.01, steps=1500)), epochs=_epochs(30, scale), batch_size=10, seed=seed + 5,
          progress=False)
    seconds = time.perf_counter() - t0
    r = samplers.ais(model, betas=samplers.linear_betas(20000), runs=100, base=samplers.base_rate(train),
                     seed=seed + 1)
    mf = pgm.inference.mean_field(model, test, iterations=100, log_z=r.log_z)
    return Row(name, mf.elbo, r.log_z_std, how="mean-field bound + AIS",
               seconds=seconds, samples=_chain_samples(model, 300, seed + 2))


def dbm(train, test, seed, scale):
    return _dbm("dbm", train, test, seed, scale, centering=False)


def dbm_centred(train, test, seed, scale):
    """The same budget as ``dbm`` (pretraining, 30 epochs of variational PCD) with centring."""
    return _dbm("dbm_centred", train, test, seed, scale, centering=True)


def sbn(train, test, seed, scale):
    model = pgm.SigmoidBeliefNet((64, 100), seed=seed)
    objective = E.WakeSleep()
    t0 = time.perf_counter()
    E.fit(model, train, objective, E.Adam(lr=3e-3), epochs=_epochs(200, scale), batch_size=20, seed=seed,
          progress=False)
    seconds = time.perf_counter() - t0
    ll = objective.importance_bound(model, test, k=5000, seed=seed + 1)
    return Row("sbn", ll, how="IS bound k=5000 (recognition proposal)", seconds=seconds,
               samples=samplers.ancestral(model, 300, seed=seed + 2))


def _exact_model(name, model, train, test, seed, scale, epochs, lr):
    t0 = time.perf_counter()
    E.fit(model, train, E.MaximumLikelihood(), E.Adam(lr=lr), epochs=_epochs(epochs, scale), batch_size=20,
          seed=seed, progress=False)
    seconds = time.perf_counter() - t0
    return Row(name, model.log_prob(test), how="exact", seconds=seconds,
               samples=samplers.ancestral(model, 300, seed=seed + 2))


def fvsbn(train, test, seed, scale):
    return _exact_model("fvsbn", pgm.FVSBN(64, seed=seed), train, test, seed, scale, epochs=100, lr=3e-3)


def nade(train, test, seed, scale):
    return _exact_model("nade", pgm.NADE(64, 100, seed=seed), train, test, seed, scale, epochs=150, lr=3e-3)


def vae(train, test, seed, scale):
    model = pgm.VAE(64, 10, hidden=(100,), seed=seed)
    t0 = time.perf_counter()
    E.fit(model, train, E.ELBO(k=1), E.Adam(lr=3e-3), epochs=_epochs(300, scale), batch_size=50, seed=seed,
          progress=False)
    seconds = time.perf_counter() - t0
    return Row("vae", model.iwae_bound(test, k=5000, seed=seed + 1), how="IWAE k=5000", seconds=seconds,
               samples=samplers.ancestral(model, 300, seed=seed + 2))


def nearest_distance(samples, train):
    """Hamming distance from each row of ``samples`` to its nearest training image, and its index."""
    d = samples @ (1 - train).T + (1 - samples) @ train.T
    return d.min(axis=1), d.argmin(axis=1)


def figure(rows, train, path):
    """Per model, 8 samples above their nearest training images (``pgm.plot.sample_grid``)."""
    os.environ.setdefault("MPLBACKEND", "Agg")     # a file, no window (unless the user chose a backend)
    k = 8
    images, labels = [], []
    for row in rows:
        _, idx = nearest_distance(row.samples[:k], train)
        images += [row.samples[:k], train[idx]]
        labels += [row.name, "nearest"]
    fig = pgm.plot.sample_grid(np.concatenate(images), shape=(8, 8), ncols=k, cmap="gray_r", vmin=0, vmax=1,
                               row_labels=labels, figsize=(k * 0.9, 2 * len(rows) * 0.95))
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", default=",".join(MODELS), help=f"comma-separated subset of {MODELS}")
    ap.add_argument("--scale", type=float, default=1.0, help="multiplies every epoch count")
    ap.add_argument("--out", default="digits_models.png", help="figure path (needs matplotlib)")
    args = ap.parse_args(argv)
    names = [m.strip() for m in args.only.split(",") if m.strip()]
    bad = [m for m in names if m not in MODELS]
    if bad:
        ap.error(f"unknown models {bad}; expected some of {MODELS}")
    train, test = digits()
    test_to_train, _ = nearest_distance(test, train)
    rows = []
    for name in names:
        row = globals()[name](train, test, args.seed, args.scale)
        d, _ = nearest_distance(row.samples, train)
        row.nearest = float(d.mean())
        rows.append(row)
        print(json.dumps({"model": name, "test_ll": round(row.mean, 3), "std": round(row.std, 3),
                          "how": row.how, "train_seconds": round(row.seconds, 2),
                          "sample_to_train_hamming": round(row.nearest, 2),
                          "test_to_train_hamming": round(float(test_to_train.mean()), 2)}), flush=True)
    print()
    print(f"{'model':<12} {'test log-lik (nats/image)':>26} {'train s':>9} {'nearest':>8}  how")
    for row in rows:
        print(f"{row.name:<12} {row.mean:>17.2f} ± {row.std:<6.2f} {row.seconds:>9.1f} {row.nearest:>8.2f}  {row.how}")
    print(f"(nearest: mean Hamming distance of 300 samples to their nearest training image; "
          f"test images: {test_to_train.mean():.2f})")
    by_name = {r.name: r for r in rows}
    pairs = [(a, "independent") for a in by_name if a != "independent"] + [("nade", "fvsbn"), ("vae", "nade"),
                                                                         ("dbm_centred", "dbm")]
    for a, b in pairs:
        if a in by_name and b in by_name:
            d = by_name[a].per_image - by_name[b].per_image      # paired over the same test images
            print(json.dumps({"paired_difference": f"{a} - {b}", "mean": round(float(d.mean()), 3),
                              "std_error": round(float(d.std(ddof=1) / np.sqrt(d.size)), 3)}))
    try:
        figure(rows, train, args.out)
        print(json.dumps({"figure": os.path.abspath(args.out)}))
    except ImportError:
        print(json.dumps({"figure": None, "reason": "matplotlib is not installed"}))


if __name__ == "__main__":
    main()
