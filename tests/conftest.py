import os
import pathlib

import numpy as np
import pytest

import pgm

ROOT = pathlib.Path(__file__).resolve().parents[1]
UAI_DIR = pathlib.Path(os.environ.get("PGM_UAI_DIR", ROOT.parent / "shared" / "uai2014"))


#: ``PGMC_SLOW_TESTS=1`` also runs the tests marked ``slow``: long reproductions of documented
#: tables (every cell of examples/energy_2d.py, every Kaufman AIS case, ...) whose shorter
#: siblings run by default, keeping the default suite within ~10 minutes on 2 cores
RUN_SLOW = os.environ.get("PGMC_SLOW_TESTS") == "1"


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: a long reproduction; runs with PGMC_SLOW_TESTS=1")


def pytest_collection_modifyitems(config, items):
    if RUN_SLOW:
        return
    skip = pytest.mark.skip(reason="long reproduction: run with PGMC_SLOW_TESTS=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def slow(*values, **kwargs):
    """A ``pytest.param`` marked slow (see RUN_SLOW)."""
    return pytest.param(*values, marks=pytest.mark.slow, **kwargs)


@pytest.fixture(scope="session")
def uai_dir():
    if not (UAI_DIR / "reference.json").exists():
        pytest.skip(f"UAI 2014 problems not found at {UAI_DIR} (set PGM_UAI_DIR)")
    return UAI_DIR


def random_markov_network(rng, n_vars=6, n_factors=6, max_card=3, max_arity=3, zeros=False):
    """Random discrete model with mixed cardinalities and factors of arity 1..max_arity."""
    cards = {f"x{i}": int(rng.integers(2, max_card + 1)) for i in range(n_vars)}
    names = list(cards)
    factors = []
    for _ in range(n_factors):
        k = int(rng.integers(1, max_arity + 1))
        scope = list(rng.choice(names, size=k, replace=False))
        table = rng.gamma(1.0, size=[cards[v] for v in scope])
        if zeros:
            table[rng.random(table.shape) < 0.15] = 0.0
        factors.append(pgm.DiscreteFactor(scope, table))
    return pgm.MarkovNetwork(factors, variables=names, cardinalities=cards)


def random_bayesian_network(rng, n_vars=6, max_card=3, max_parents=2, p_edge=0.5):
    cards = [int(rng.integers(2, max_card + 1)) for _ in range(n_vars)]
    cpds = []
    for i in range(n_vars):
        cand = [j for j in range(i) if rng.random() < p_edge]
        parents = list(rng.permutation(cand)[:max_parents]) if cand else []
        pc = [cards[p] for p in parents]
        vals = rng.dirichlet(np.ones(cards[i]), size=int(np.prod(pc, dtype=int))).T
        cpds.append(pgm.TabularCPD(f"v{i}", cards[i], vals, [f"v{p}" for p in parents], pc))
    order = list(rng.permutation(n_vars))
    return pgm.BayesianNetwork([cpds[i] for i in order])


def chi_square_pvalue(observed, expected):
    """Pearson chi-square p-value with cells of expected count < 5 pooled into one."""
    from scipy import stats

    observed = np.asarray(observed, dtype=float)
    expected = np.asarray(expected, dtype=float)
    small = expected < 5
    obs = list(observed[~small])
    exp = list(expected[~small])
    if small.any():
        obs.append(observed[small].sum())
        exp.append(expected[small].sum())
    obs, exp = np.array(obs), np.array(exp)
    if len(obs) < 2:
        return 1.0
    stat = np.sum((obs - exp) ** 2 / exp)
    return float(stats.chi2.sf(stat, len(obs) - 1))
