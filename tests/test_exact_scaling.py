"""Exact inference that scales: requisite-node pruning of Bayesian-network queries (barren
nodes, d-separated parts), per-variable marginals on large networks, and a memory limit that
follows the machine."""

import numpy as np
import pytest

import pgm
from pgm.errors import TooLargeError


def _random_evidence(bn, rng, k):
    out = {}
    for v in rng.choice(bn.variables, size=k, replace=False):
        out[v] = int(rng.integers(0, bn.cardinalities[v]))
    return out


@pytest.mark.parametrize("name", ["alarm", "child", "insurance"])
def test_pruned_queries_equal_unpruned_inference(name):
    """A query on the requisite sub-network equals the same query on the moralised network
    (which nothing prunes), for random variables and random (possible) evidence; log P(e) from
    the ancestors of the evidence equals the full computation."""
    bn = pgm.read_bif(pgm.example_path(name))
    mn = bn.to_markov_network()
    rng = np.random.default_rng(1)
    for trial in range(6):
        ev = _random_evidence(bn, rng, 3)
        full_lz = pgm.exact.log_partition(mn, evidence=ev)
        if not np.isfinite(full_lz):
            continue
        assert abs(pgm.exact.log_partition(bn, evidence=ev) - full_lz) < 1e-10
        q = [v for v in rng.choice(bn.variables, size=2, replace=False)]
        np.testing.assert_allclose(pgm.exact.query(bn, q, evidence=ev), pgm.exact.query(mn, q, evidence=ev),
                                   atol=1e-12)


def test_per_variable_marginals_equal_the_calibrated_tree(monkeypatch):
    bn = pgm.read_bif(pgm.example_path("alarm"))
    ev = {"HR": 2, "BP": 0}
    full = pgm.exact.marginals(bn, evidence=ev)
    monkeypatch.setattr(pgm.exact, "PER_NODE_ABOVE", 0)
    per_node = pgm.exact.marginals(bn, evidence=ev)
    for v in bn.variables:
        np.testing.assert_allclose(per_node[v], full[v], atol=1e-12)


def test_munin1_with_evidence_on_four_leaves():
    """The network of the issue: log P(e), a query and all marginals in seconds (37 s for all
    marginals without pruning); marginals are distributions, observed ones point masses, and a
    query agrees with the corresponding marginal."""
    bn = pgm.read_bif(pgm.example_path("munin1"))
    leaves = [v for v in bn.variables if not bn.children(v)][:4]
    ev = {v: 0 for v in leaves}
    assert np.isfinite(pgm.exact.log_partition(bn, evidence=ev))
    marg = pgm.exact.marginals(bn, evidence=ev)
    assert all(abs(m.sum() - 1) < 1e-9 and np.all(m >= 0) for m in marg.values())
    for v in leaves:
        assert marg[v][0] == 1.0
    # marginals share a calibrated tree among variables with the same requisite sub-network
    # (the ancestors of the evidence) and run one query for each of the others: both kinds agree
    # with single queries
    for v in bn.variables[:: 12]:
        np.testing.assert_allclose(pgm.exact.query(bn, [v], evidence=ev), marg[v], atol=1e-12)


def test_default_memory_limit_follows_available_memory(monkeypatch):
    limit, why = pgm.exact.default_memory_limit()
    assert 0 < limit and "available" in why or "fallback" in why
    monkeypatch.setattr(pgm.exact, "_available_memory", lambda: 2**21)     # 2 MiB available
    grid = pgm.Ising.grid(12, 12, coupling=0.3).to_markov_network()
    with pytest.raises(TooLargeError, match=r"50% of the 0.00195 GiB of memory available"):
        pgm.exact.marginals(grid)
    small = pgm.Ising.grid(8, 8, coupling=0.3).to_markov_network()
    with pytest.raises(TooLargeError, match="available"):
        pgm.exact.marginals(small, memory_limit=None)
    assert np.isfinite(pgm.exact.log_partition(small, memory_limit=2**30))   # an explicit limit wins
    monkeypatch.setattr(pgm.exact, "_available_memory", lambda: None)
    assert pgm.exact.default_memory_limit()[0] == pgm.exact.MEMORY_LIMIT
