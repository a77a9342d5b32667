"""pgm.plot: the figures hold the data they were given, mismatched input raises typed errors, and
``import pgm`` does not import matplotlib."""

import subprocess
import sys

import numpy as np
import pytest

import pgm
from pgm.errors import CardinalityError, ModelError

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_import_pgm_does_not_import_matplotlib():
    code = ("import pgm, sys; assert 'matplotlib' not in sys.modules; "
            "import pgm.plot; assert 'matplotlib' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_lazy_attribute():
    import pgm.plot as module

    assert pgm.plot is module and "plot" in pgm.__all__
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        pgm.nonexistent


def test_missing_matplotlib_message(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    for call in (lambda: pgm.plot.marginals({"a": [1.0]}, {"a": [1.0]}),
                 lambda: pgm.plot.sample_grid(np.zeros((1, 4))),
                 lambda: pgm.plot.ais_weights([0.0, 1.0])):
        with pytest.raises(ImportError, match=r'pgm\.plot needs matplotlib: pip install "pgmc\[plots\]"'):
            call()


# ----------------------------------------------------------------------------- marginals

def test_marginals_scatter_holds_the_probabilities():
    bn = pgm.read_bif(pgm.example_path("asia"))
    ref = pgm.exact.marginals(bn)
    est = {v: np.asarray(p) * 0.9 + 0.1 / len(p) for v, p in reversed(list(ref.items()))}
    ax = pgm.plot.marginals(est, ref, label="smoothed")
    xy = ax.collections[0].get_offsets()
    np.testing.assert_allclose(xy[:, 0], np.concatenate([ref[v] for v in ref]))   # reference order
    np.testing.assert_allclose(xy[:, 1], np.concatenate([est[v] for v in ref]))
    err = max(np.max(np.abs(est[v] - ref[v])) for v in ref)
    assert ax.get_title() == f"max |error| = {err:.3g}"
    assert "smoothed" in ax.get_legend().get_texts()[0].get_text()
    diagonal = ax.lines[0]
    assert list(diagonal.get_xdata()) == list(diagonal.get_ydata()) == [0.0, 1.0]


def test_marginals_aligned_sequences_and_given_axes():
    _, ax = plt.subplots()
    ref = np.array([[0.2, 0.8], [0.5, 0.5]])
    est = [[0.25, 0.75], [0.5, 0.5]]
    assert pgm.plot.marginals(est, ref, ax=ax) is ax
    np.testing.assert_allclose(ax.collections[0].get_offsets(), np.c_[ref.ravel(), np.ravel(est)])
    assert ax.get_title() == "max |error| = 0.05"
    # ragged vectors (different cardinalities) are fine too
    pgm.plot.marginals([[1.0], [0.1, 0.2, 0.7]], [[1.0], [0.2, 0.2, 0.6]], ax=ax)
    np.testing.assert_allclose(ax.collections[1].get_offsets()[:, 1], [1.0, 0.1, 0.2, 0.7])


def test_marginals_typed_errors_name_the_variable():
    ref = {"a": [0.5, 0.5], "b": [0.1, 0.9]}
    with pytest.raises(ModelError, match="'b'"):
        pgm.plot.marginals({"a": [0.5, 0.5]}, ref)
    with pytest.raises(ModelError, match="'c'"):
        pgm.plot.marginals({**ref, "c": [1.0]}, ref)
    with pytest.raises(CardinalityError, match="'b'"):
        pgm.plot.marginals({"a": [0.5, 0.5], "b": [0.1, 0.3, 0.6]}, ref)
    with pytest.raises(CardinalityError, match="variable 1"):
        pgm.plot.marginals([[0.5, 0.5], [1.0]], [[0.5, 0.5], [0.5, 0.5]])
    with pytest.raises(ModelError, match="3 variables but reference has 2"):
        pgm.plot.marginals(np.full((3, 2), 0.5), np.full((2, 2), 0.5))
    with pytest.raises(ModelError, match="both"):
        pgm.plot.marginals([[0.5, 0.5], [0.1, 0.9]], ref)
    assert issubclass(ModelError, ValueError)


# ----------------------------------------------------------------------------- sample grid

def test_sample_grid_axes_hold_the_images():
    x = np.random.default_rng(0).integers(0, 2, size=(10, 64)).astype(float)
    fig = pgm.plot.sample_grid(x, ncols=4, titles=["first"], row_labels=["r0", "r1", "r2"])
    assert len(fig.axes) == 10                      # 3 × 4 grid, the two unused cells removed
    for ax, img in zip(fig.axes, x):
        np.testing.assert_array_equal(ax.images[0].get_array(), img.reshape(8, 8))
        assert ax.images[0].get_clim() == (0.0, 1.0)
    assert fig.axes[0].get_title() == "first" and fig.axes[1].get_title() == ""
    assert [fig.axes[i].get_ylabel() for i in (0, 4, 8, 1)] == ["r0", "r1", "r2", ""]
    assert fig.axes[4].get_subplotspec().rowspan.start == 1


def test_sample_grid_shapes():
    fig = pgm.plot.sample_grid(np.arange(24.0).reshape(2, 12), shape=(3, 4))
    np.testing.assert_array_equal(fig.axes[1].images[0].get_array(), np.arange(12.0, 24.0).reshape(3, 4))
    assert fig.axes[0].images[0].get_clim() == (0.0, 23.0)   # one scale for all images
    fig = pgm.plot.sample_grid(np.zeros((5, 2, 3)))            # already shaped images
    assert len(fig.axes) == 5 and fig.axes[0].images[0].get_array().shape == (2, 3)
    with pytest.raises(CardinalityError, match="not a square"):
        pgm.plot.sample_grid(np.zeros((2, 12)))
    with pytest.raises(CardinalityError, match=r"shape=\(3, 3\)"):
        pgm.plot.sample_grid(np.zeros((2, 12)), shape=(3, 3))


# ----------------------------------------------------------------------------- AIS weights

class _Result:
    def __init__(self, log_weights, ess=None):
        self.log_weights = np.asarray(log_weights)
        if ess is not None:
            self.ess = ess


def test_ais_weights_histogram_and_ess():
    lw = np.random.default_rng(1).normal(0.0, 2.0, size=200) + 1000.0     # large: ESS must be stable
    ax = pgm.plot.ais_weights(_Result(lw), bins=17)
    heights = [p.get_height() for p in ax.patches]
    assert len(heights) == 17 and sum(heights) == 200
    w = np.exp(lw - lw.max())
    assert ax.get_title() == f"AIS log-weights: 200 runs, ESS = {w.sum() ** 2 / (w * w).sum():.1f}"
    assert "ESS = 12.5" in pgm.plot.ais_weights(_Result(lw, ess=12.5)).get_title()   # its own ESS


def test_ais_weights_from_samplers_result():
    samplers = pytest.importorskip("samplers")
    res = samplers.AISResult(np.log([1.0, 1.0, 2.0, 4.0]), 0.0, np.linspace(0, 1, 3))
    ax = pgm.plot.ais_weights(res)
    assert sum(p.get_height() for p in ax.patches) == res.runs
    assert ax.get_title() == f"AIS log-weights: 4 runs, ESS = {res.ess:.1f}"


def test_ais_weights_zero_weights_and_errors():
    ax = pgm.plot.ais_weights(np.array([0.0, 0.0, -np.inf]))
    assert sum(p.get_height() for p in ax.patches) == 2
    assert ax.get_title() == "AIS log-weights: 3 runs, ESS = 2.0 (1 of weight 0)"
    with pytest.raises(ValueError, match="NaN"):
        pgm.plot.ais_weights([0.0, np.nan])
    with pytest.raises(ValueError, match="no AIS"):
        pgm.plot.ais_weights([])


# ----------------------------------------------------------------------------- training curves

def test_training_curve_from_history():
    estimators = pytest.importorskip("estimators")
    h = estimators.History([{"epoch": 1, "loss": 2.0, "lr": 0.1, "seconds": 0.3, "acc": 0.5},
                            {"epoch": 2, "loss": 1.5, "lr": 0.1, "seconds": 0.3},
                            {"epoch": 3, "loss": 1.25, "lr": 0.1, "seconds": 0.3, "acc": 0.7}])
    ax = pgm.plot.training_curve(h)
    assert [line.get_label() for line in ax.lines] == ["loss", "acc"]    # bookkeeping left out
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), h["loss"])
    np.testing.assert_array_equal(ax.lines[1].get_ydata(), h["acc"])    # NaN gap at epoch 2
    ax = pgm.plot.training_curve(h, keys="lr")
    assert len(ax.lines) == 1 and ax.get_ylabel() == "lr"
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), [0.1, 0.1, 0.1])
    with pytest.raises(KeyError, match="'elbo'"):
        pgm.plot.training_curve(h, keys=["loss", "elbo"])


def test_training_curve_records_and_columns():
    _, ax = plt.subplots()
    assert pgm.plot.training_curve([{"loss": 3.0}, {"loss": 2.0}], ax=ax) is ax
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [1, 2])      # no epoch column
    ax = pgm.plot.training_curve({"epoch": [5, 6], "kl": [0.4, 0.3]})
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [5, 6])
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), [0.4, 0.3])
    with pytest.raises(ValueError, match="no numeric column"):
        pgm.plot.training_curve([{"epoch": 1, "note": "x"}])


# ----------------------------------------------------------------------------- 2-D panels

def test_density_2d_image():
    ring = pgm.toy.Ring()
    fig, axes = pgm.plot.panel_grid(1, 2)
    assert axes.shape == (1, 2) and not axes[0, 0].axison
    pgm.plot.density_2d(ring.log_prob, ring.bounds, ax=axes[0, 0], n=40, title="ring")
    pts, _ = pgm.toy.grid(ring.bounds, 40)
    lp = ring.log_prob(pts)
    img = axes[0, 0].images[0]
    np.testing.assert_allclose(img.get_array(), np.exp(lp - lp.max()).reshape(40, 40).T)
    assert img.origin == "lower" and list(img.get_extent()) == [-3.5, 3.5, -3.5, 3.5]
    assert axes[0, 0].get_title() == "ring"
    pgm.plot.density_2d(lp, ring.bounds, ax=axes[0, 1])                  # precomputed values
    np.testing.assert_allclose(axes[0, 1].images[0].get_array(), img.get_array())
    with pytest.raises(CardinalityError):
        pgm.plot.density_2d(np.zeros(10), 1.0)


def test_samples_2d_histogram():
    x = np.array([[0.1, 0.1], [0.2, 0.1], [-0.5, 0.5], [9.0, 0.0]])     # the last is out of range
    ax = pgm.plot.samples_2d(x, 1.0, bins=4)
    counts = ax.collections[0].get_array()
    assert counts.sum() == 3 and counts.max() == 2
    with pytest.raises(CardinalityError):
        pgm.plot.samples_2d(np.zeros((3, 3)), 1.0)
