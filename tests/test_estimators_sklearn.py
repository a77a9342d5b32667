"""estimators.BernoulliRBM: the scikit-learn–style estimator (scikit-learn itself optional)."""

import numpy as np
import pytest

import estimators as E
import pgm
import samplers
from pgm.errors import CardinalityError, EvidenceError


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    teacher = pgm.RBM(8, 3, W=rng.normal(0, 1.5, (8, 3)), b=rng.normal(0, 0.5, 8))
    with samplers.threads(1):
        return samplers.sample(teacher, chains=400, draws=1, warmup=100, seed=0, progress=False).states[:, 0, :]


def test_fit_transform_and_fitted_attributes(data):
    m = E.BernoulliRBM(n_components=4, learning_rate=0.05, batch_size=20, n_iter=5, random_state=0)
    assert not hasattr(m, "components_")
    out = m.fit_transform(data)
    assert out.shape == (400, 4) and np.all((out > 0) & (out < 1))
    assert m.components_.shape == (4, 8) and m.intercept_hidden_.shape == (4,)
    assert m.intercept_visible_.shape == (8,) and m.h_samples_.shape == (20, 4) and m.n_features_in_ == 8
    np.testing.assert_array_equal(m.components_, m.rbm_.W.T)
    assert len(m.history_) == 5


def test_training_improves_the_exact_likelihood(data):
    m = E.BernoulliRBM(n_components=3, learning_rate=0.05, batch_size=20, n_iter=0, random_state=0).fit(data)
    before = pgm.exact.log_likelihood(m.rbm_, data).mean()
    m.set_params(n_iter=15).fit(data)
    after = pgm.exact.log_likelihood(m.rbm_, data).mean()
    assert after > before + 0.5


def test_random_state_makes_fits_reproducible(data):
    a = E.BernoulliRBM(n_components=3, n_iter=2, random_state=7).fit(data)
    b = E.BernoulliRBM(n_components=3, n_iter=2, random_state=7).fit(data)
    c = E.BernoulliRBM(n_components=3, n_iter=2, random_state=8).fit(data)
    np.testing.assert_array_equal(a.components_, b.components_)
    assert not np.array_equal(a.components_, c.components_)


def test_partial_fit_continues(data):
    m = E.BernoulliRBM(n_components=3, batch_size=25, random_state=1)
    m.partial_fit(data[:200])
    w1 = m.components_.copy()
    m.partial_fit(data[200:])
    assert m.components_.shape == (3, 8) and not np.array_equal(w1, m.components_)


def test_score_samples_is_the_exact_pseudo_log_likelihood(data):
    m = E.BernoulliRBM(n_components=3, n_iter=1, random_state=0).fit(data)
    x = data[:5].astype(float)
    ref = []
    for row in x:
        f0 = m.rbm_.free_energy(row)
        total = 0.0
        for i in range(8):
            y = row.copy()
            y[i] = 1 - y[i]
            total += -np.logaddexp(0.0, f0 - m.rbm_.free_energy(y))
        ref.append(total)
    np.testing.assert_allclose(m.score_samples(x), ref, rtol=1e-12)


def test_gibbs_and_params(data):
    m = E.BernoulliRBM(n_components=3, n_iter=1, random_state=0).fit(data)
    v = m.gibbs(data[:10])
    assert v.shape == (10, 8) and set(np.unique(v)) <= {0.0, 1.0}
    params = m.get_params()
    assert params["n_components"] == 3 and params["random_state"] == 0
    assert E.BernoulliRBM(**params).get_params() == params
    with pytest.raises(ValueError, match="invalid parameter"):
        m.set_params(n_hidden=3)


def test_errors(data):
    with pytest.raises(AttributeError, match="not fitted"):
        E.BernoulliRBM().transform(data)
    m = E.BernoulliRBM(n_components=2, n_iter=1, random_state=0).fit(data)
    with pytest.raises(CardinalityError):
        m.transform(data[:, :5])
    with pytest.raises(EvidenceError, match="binary"):
        m.fit(data * 0.5)
    with pytest.raises(ValueError, match="n_components"):
        E.BernoulliRBM(n_components=0).fit(data)


def test_scikit_learn_integration(data):
    pytest.importorskip("sklearn")
    from sklearn.base import clone
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    m = E.BernoulliRBM(n_components=3, n_iter=2, random_state=0)
    assert clone(m).get_params() == m.get_params()
    y = data[:, 0]
    pipe = Pipeline([("rbm", m), ("clf", LogisticRegression())]).fit(data[:, 1:], y)
    assert pipe.score(data[:, 1:], y) > 0.5
