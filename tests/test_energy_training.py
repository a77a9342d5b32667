"""Training continuous energies (issue 7, acceptance 3): an MLP energy learns the toy 2-D
densities of :mod:`pgm.toy` with each of PCD (Langevin negative phase), score matching, denoising
score matching and NCE; ``KL(data ‖ model)`` is integrated on a 200 × 200 grid and must be below
the stated threshold.  The recipes and seeds are those of ``examples/energy_2d.py`` (same figures); the
thresholds are about twice the values measured with these seeds (PCD, whose result varies
more from seed to seed: 0.26–0.62 on the eight Gaussians at half or full budget, 0.15–0.35 on the
moons; its thresholds are looser) and far below the KL of the best Gaussian fit (ring 0.96, eight Gaussians 1.82, moons 0.89).

Also: a user-defined energy class implementing the documented protocol works with the samplers
and the objectives.
"""

import importlib.util
import os

import numpy as np
import pytest

import estimators as E
import pgm
import samplers

from .conftest import slow

_EXAMPLE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "energy_2d.py")
_spec = importlib.util.spec_from_file_location("energy_2d_example", _EXAMPLE)
example = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(example)

#: (density, method) → KL threshold (nats) with the example's recipes
THRESHOLDS = {
    ("ring", "pcd"): 0.05, ("ring", "sm"): 0.1, ("ring", "dsm"): 0.1, ("ring", "nce"): 0.1,
    ("8gaussians", "pcd"): 0.5, ("8gaussians", "sm"): 0.1, ("8gaussians", "dsm"): 0.3,
    ("8gaussians", "nce"): 0.15,
    ("moons", "pcd"): 0.4, ("moons", "sm"): 0.3, ("moons", "dsm"): 0.3, ("moons", "nce"): 0.2,
}


#: one density per method runs by default; the other cells of the table with PGMC_SLOW_TESTS=1
DEFAULT = {("ring", "pcd"), ("8gaussians", "sm"), ("ring", "dsm"), ("8gaussians", "nce")}


@pytest.mark.parametrize("density,method", [
    (d, m) if (d, m) in DEFAULT else slow(d, m) for d, m in THRESHOLDS], ids=[f"{d}-{m}" for d, m in THRESHOLDS])
def test_mlp_energy_learns_2d_density(density, method):
    model, kl, _ = example.train(pgm.toy.DENSITIES[density](), method)
    assert kl < THRESHOLDS[(density, method)], f"KL(data‖model) = {kl:.4f}"


class QuarticEnergy:
    """A user-written model: ``E(x) = a Σ x_i⁴ / 4 + ½ x·x − b·x`` with parameters ``a`` and ``b``.

    It implements the protocol of pgm/mlp.py (no library base class).
    """

    sampler_family = "continuous"

    def __init__(self, dim):
        self.dim = dim
        self.a, self.b = np.array(0.5), np.zeros(dim)

    @property
    def params(self):
        return {"a": self.a, "b": self.b}

    def set_params(self, **values):
        for k, v in values.items():
            self.params[k][...] = v

    def energy(self, x):
        return self.a * np.sum(x**4, 1) / 4 + 0.5 * np.sum(x * x, 1) - x @ self.b

    free_energy = energy

    def grad_x(self, x):
        return self.a * x**3 + x - self.b

    def laplacian(self, x):
        return 3 * self.a * np.sum(x * x, 1) + self.dim

    @staticmethod
    def _w(x, weights):
        return np.full(len(x), 1 / len(x)) if weights is None else np.asarray(weights, float)

    def grad_energy(self, x, weights=None):
        w = self._w(x, weights)
        return {"a": np.array(w @ np.sum(x**4, 1) / 4), "b": -(w @ x)}

    grad_free_energy = grad_energy

    def grad_grad_x(self, x, v, weights=None):
        w = self._w(x, weights)
        return {"a": np.array(w @ np.sum(v * x**3, 1)), "b": -(w @ v)}

    def grad_laplacian(self, x, weights=None):
        w = self._w(x, weights)
        return {"a": np.array(3 * w @ np.sum(x * x, 1)), "b": np.zeros(self.dim)}


def test_user_defined_energy_works_with_samplers_and_objectives():
    truth = QuarticEnergy(2)
    truth.set_params(a=1.0, b=[0.5, -0.5])
    s = samplers.sample(truth, method="hmc", chains=4, draws=2500, warmup=500, seed=0, progress=False)
    data = s.states.reshape(-1, 2)
    assert s.info["method"] == "hmc" and np.mean(s.sample_stats["acceptance_rate"]) > 0.6
    for method in ("mala", "mh", "langevin"):
        assert samplers.sample(truth, method=method, chains=2, draws=50, seed=1, progress=False).states.shape == (2, 50, 2)
    fits = {}
    for name, objective, opt, epochs in [
        ("sm", E.ScoreMatching(), E.Adam(0.05), 30),
        ("dsm", E.DenoisingScoreMatching(0.05, n_noise=2, antithetic=True), E.Adam(0.05), 30),
        ("nce", E.NCE(ratio=2), E.Adam(0.05), 30),
        ("pcd", E.PCD(k=5, chains=200, method="langevin", sampler_options={"step_size": 0.05}), E.Adam(0.05), 30),
        ("cd", E.CD(k=5, method="mala", sampler_options={"step_size": 0.05}), E.Adam(0.05), 30),
    ]:
        m = QuarticEnergy(2)
        E.fit(m, data, objective, opt, epochs=epochs, batch_size=500, seed=2, progress=False)
        fits[name] = (float(m.a), m.b.copy())
    for name, (a, b) in fits.items():   # 10 000 correlated draws: recovery within ~0.15
        assert abs(a - 1.0) < 0.2 and np.max(np.abs(b - [0.5, -0.5])) < 0.15, (name, a, b)
