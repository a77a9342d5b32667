"""UAI, BIF and .npz persistence: round trips, malformed input, and a fuzz test of the parsers."""

import gzip

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pgm
from pgm.errors import EvidenceError, ParseError

from .conftest import random_bayesian_network, random_markov_network


def same_distribution(a, b, atol=1e-12):
    ea, eb = pgm.exact.enumerate(a), pgm.exact.enumerate(b)
    np.testing.assert_array_equal(ea.states, eb.states)
    np.testing.assert_allclose(ea.log_prob, eb.log_prob, atol=atol)
    assert ea.log_z == pytest.approx(eb.log_z, abs=atol)


def test_uai_markov_round_trip_with_evidence(tmp_path):
    m = random_markov_network(np.random.default_rng(0), n_vars=6, n_factors=7, zeros=True)
    m = pgm.MarkovNetwork(m.factors, variables=m.variables, cardinalities=m.cardinalities,
                          evidence={m.variables[2]: 1})
    pgm.write_uai(m, tmp_path / "m.uai", evidence_path=tmp_path / "m.uai.evid")
    back = pgm.read_uai(tmp_path / "m.uai", evidence=tmp_path / "m.uai.evid")
    assert back.evidence == {2: 1}
    assert pgm.exact.log_partition(back) == pytest.approx(pgm.exact.log_partition(m), abs=1e-12)
    renamed = pgm.MarkovNetwork([pgm.DiscreteFactor([m.index(v) for v in f.scope], f.table)
                                 for f in m.factors], variables=range(6),
                                cardinalities=[m.cardinalities[v] for v in m.variables])
    same_distribution(renamed, pgm.read_uai(tmp_path / "m.uai"))


def test_uai_bayes_round_trip(tmp_path):
    bn = random_bayesian_network(np.random.default_rng(1), n_vars=6)
    pgm.write_uai(bn, tmp_path / "b.uai")
    assert open(tmp_path / "b.uai").read().startswith("BAYES")
    back = pgm.read_uai(tmp_path / "b.uai")
    assert isinstance(back, pgm.BayesianNetwork)
    ea, eb = pgm.exact.enumerate(bn), pgm.exact.enumerate(back)
    np.testing.assert_allclose(ea.log_prob, eb.log_prob, atol=1e-12)


@pytest.mark.parametrize("suffix", [".bif", ".bif.gz"])
def test_bif_round_trip(tmp_path, suffix):
    bn = pgm.read_bif(pgm.example_path("alarm"))
    assert bn.n_variables == 37 and bn.graph.number_of_edges() == 46
    assert bn.parameter_count() == 509  # the published figure for ALARM
    path = tmp_path / f"alarm{suffix}"
    pgm.write_bif(bn, path)
    back = pgm.read_bif(path)
    assert back.variables == bn.variables
    assert back.cpds["HR"].state_names["HR"] == ["LOW", "NORMAL", "HIGH"]
    for v in bn.variables:
        assert back.cpds[v].parents == bn.cpds[v].parents
        np.testing.assert_allclose(back.cpds[v].values, bn.cpds[v].values, atol=1e-15)


def test_bif_reads_all_bundled_networks_and_exact_agrees_with_enumeration():
    for name, n in [("asia", 8), ("child", 20), ("insurance", 27)]:
        bn = pgm.read_bif(pgm.example_path(name))
        assert bn.n_variables == n
        assert pgm.exact.log_partition(bn) == pytest.approx(0.0, abs=1e-10)
    asia = pgm.read_bif(pgm.example_path("asia"))
    e = pgm.exact.enumerate(asia, {"dysp": 0})
    mar = pgm.exact.marginals(asia, {"dysp": 0})
    j = asia.index("lung")
    np.testing.assert_allclose(mar["lung"], np.bincount(e.states[:, j], e.prob), atol=1e-12)


def test_bif_default_rows_and_comments():
    text = """// comment
    network test { property author "me"; }
    variable a { type discrete [ 2 ] { yes, no }; property x y; }
    /* block
       comment */
    variable b { type discrete [ 3 ] { lo, mid, hi }; }
    probability ( a ) { table 0.25, 0.75; }
    probability ( b | a ) {
      (no) 0.1, 0.2, 0.7;
      default 0.2, 0.3, 0.5;
    }
    """
    bn = pgm.io.bif.parse_bif(text)
    np.testing.assert_allclose(bn.cpds["b"].values[:, 0], [0.2, 0.3, 0.5])
    np.testing.assert_allclose(bn.cpds["b"].values[:, 1], [0.1, 0.2, 0.7])


def test_npz_save_load_all_kinds(tmp_path):
    mn = random_markov_network(np.random.default_rng(2), zeros=True)
    mn = pgm.MarkovNetwork(mn.factors, variables=mn.variables, cardinalities=mn.cardinalities,
                           evidence={mn.variables[0]: 1})
    for model in (mn, mn.to_factor_graph()):
        model.save(tmp_path / "m.npz")
        back = pgm.load(tmp_path / "m.npz")
        assert type(back) is type(model) and back.evidence == model.evidence
        same_distribution(back, model, atol=0)
    bn = pgm.BayesianNetwork([pgm.TabularCPD("a", 2, [0.3, 0.7], state_names={"a": ["n", "y"]}),
                              pgm.LogisticCPD(3, ["a"], [1.2], -0.3),
                              pgm.LinearGaussianCPD("g", ["a", 3], [0.5, 2.0], 1.0, 0.3)])
    bn.save(tmp_path / "b.npz")
    back = pgm.load(tmp_path / "b.npz")
    assert back.variables == ["a", 3, "g"]
    x = np.array([[0, 1, 0.3], [1, 0, -2.0]])
    np.testing.assert_allclose(back.log_prob(x), bn.log_prob(x))
    assert back.cpds["a"].state_names == {"a": ["n", "y"]}
    with np.load(tmp_path / "b.npz", allow_pickle=False) as data:  # no object arrays inside
        assert all(data[k].dtype != object for k in data.files)


def test_load_rejects_bad_files(tmp_path):
    p = tmp_path / "x.npz"
    np.savez(p, a=np.zeros(3))
    with pytest.raises(ParseError, match="__meta__"):
        pgm.load(p)
    (tmp_path / "y.npz").write_bytes(b"garbage")
    with pytest.raises(ParseError):
        pgm.load(tmp_path / "y.npz")
    np.savez(p, __meta__=np.array('{"format": "pgmc-model", "version": 99}'))
    with pytest.raises(ParseError, match="version"):
        pgm.load(p)


GOOD_UAI = "MARKOV\n3\n2 2 3\n2\n2 0 1\n2 1 2\n4\n1 2 3 4\n6\n1 1 1 2 2 2\n"


@pytest.mark.parametrize("text, match", [
    ("", "end of file"),
    ("MARKOV\n3\n2 2\n", "end of file"),
    ("MARKOV\n2\n2 -2\n0\n", ">= 1"),
    ("MARKOV\n2\n2 two\n0\n", "integer"),
    ("BAYESIAN\n1\n2\n0\n", "preamble"),
    ("MARKOV\n2\n2 2\n1\n2 0 5\n4\n1 1 1 1\n", "only 2 variables"),
    ("MARKOV\n2\n2 2\n1\n2 0 0\n4\n1 1 1 1\n", "repeats"),
    ("MARKOV\n2\n2 2\n1\n2 0 1\n3\n1 1 1\n", "needs 4 entries"),
    ("MARKOV\n2\n2 2\n1\n2 0 1\n4\n1 1 x 1\n", "number"),
    ("MARKOV\n2\n2 2\n1\n2 0 1\n4\n1 1 -1 1\n", "negative"),
    ("MARKOV\n2\n2 2\n1\n2 0 1\n4\n1 1 1 1 7\n", "trailing"),
    (GOOD_UAI[:-8], "end of file"),
    ("BAYES\n2\n2 2\n2\n1 0\n2 0 1\n2\n0.5 0.5\n4\n0.5 0.6 0.5 0.5\n", "not normalised"),
    ("BAYES\n2\n2 2\n1\n1 0\n2\n0.5 0.5\n", "no CPD"),
])
def test_malformed_uai_raises_parse_error(tmp_path, text, match):
    p = tmp_path / "bad.uai"
    p.write_text(text)
    with pytest.raises(ParseError, match=match):
        pgm.read_uai(p)


def test_uai_errors_carry_line_numbers(tmp_path):
    p = tmp_path / "bad.uai"
    p.write_text("MARKOV\n2\n2 2\n1\n2 0 1\n4\n1 1 x 1\n")
    with pytest.raises(ParseError) as info:
        pgm.read_uai(p)
    assert info.value.line == 7 and "bad.uai:7" in str(info.value)


def test_bad_evidence_files(tmp_path):
    (tmp_path / "m.uai").write_text(GOOD_UAI)
    for text, exc in [("1 2 3", EvidenceError), ("1 5 0", EvidenceError), ("2 0 1", ParseError),
                      ("1 0 x", ParseError), ("2 0 1 0 0", EvidenceError)]:
        (tmp_path / "m.evid").write_text(text)
        with pytest.raises(exc):
            pgm.read_uai(tmp_path / "m.uai", evidence=tmp_path / "m.evid")
    (tmp_path / "m.evid").write_text("1 2 2")
    assert pgm.read_uai(tmp_path / "m.uai", evidence=tmp_path / "m.evid").evidence == {2: 2}


@pytest.mark.parametrize("text, match", [
    ("variable a { type discrete [ 2 ] { x, y }; }", "no probability block"),
    ("variable a { type discrete [ 3 ] { x, y }; }\nprobability ( a ) { table 0.5, 0.5; }", "declares 3"),
    ("variable a { type discrete [ -1 ] { }; }", ">= 1"),
    ("variable a { type continuous; }", "discrete"),
    ("variable a { type discrete [ 2 ] { x, y }; }\nprobability ( a ) { table 0.5, x; }", "number"),
    ("variable a { type discrete [ 2 ] { x, y }; }\nprobability ( a ) { table 0.5; }", "needs 2"),
    ("variable a { type discrete [ 2 ] { x, y }; }\nprobability ( a | b ) { table 0.5, 0.5; }", "undeclared"),
    ("variable a { type discrete [ 2 ] { x, y }; }\nprobability ( a ) { table 0.5, 0.7; }", "not normalised"),
    ("variable a { type discrete [ 2 ] { x, y }; }\nvariable b { type discrete [ 2 ] { x, y }; }\n"
     "probability ( a ) { table 0.5, 0.5; }\nprobability ( b | a ) { (x) 0.5, 0.5; }", "no row"),
    ("variable a { type discrete [ 2 ] { x, y }; }\nvariable b { type discrete [ 2 ] { x, y }; }\n"
     "probability ( a | b ) { (x) 0.5, 0.5; (y) 0.5, 0.5; }\n"
     "probability ( b | a ) { (x) 0.5, 0.5; (y) 0.5, 0.5; }", "cycle"),
    ("variable a { type discrete [ 2 ] { x, y }; }\nprobability ( a ) { table 0.5, 0.5; ", "end of file"),
    ("banana", "expected 'network'"),
])
def test_malformed_bif_raises_parse_error(tmp_path, text, match):
    p = tmp_path / "bad.bif"
    p.write_text(text)
    with pytest.raises(ParseError, match=match):
        pgm.read_bif(p)


def test_corrupt_gzip(tmp_path):
    p = tmp_path / "bad.bif.gz"
    p.write_bytes(gzip.compress(b"network x {}")[:15])
    with pytest.raises(ParseError):
        pgm.read_bif(p)


ALARM_TEXT = gzip.decompress(open(pgm.example_path("asia"), "rb").read()).decode()
ALLOWED = (ValueError, KeyError, TypeError)


def _mutations():
    tokens = st.sampled_from(["", " ", "-1", "0", "2", "1e400", "nan", "x", "{", "}", ";", "(",
                              ")", "|", ",", "[", "]", "MARKOV", "BAYES", "\n", "table", "0.5"])
    return st.lists(st.tuples(st.floats(0, 1), st.integers(0, 3), tokens), min_size=1, max_size=6)


def _mutate(text, muts):
    for frac, op, tok in muts:
        i = int(frac * len(text))
        if op == 0:
            text = text[:i] + tok + text[i:]
        elif op == 1:
            text = text[:i] + text[i + 1 + len(tok):]
        elif op == 2:
            text = text[:i]
        else:
            text = text[:i] + tok + text[i + len(tok):]
    return text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(muts=_mutations())
def test_fuzz_bif_parser_raises_only_typed_errors(muts):
    text = _mutate(ALARM_TEXT, muts)
    try:
        pgm.io.bif.parse_bif(text)
    except ALLOWED:
        pass


@settings(max_examples=300, deadline=None)
@given(muts=_mutations())
def test_fuzz_uai_parser_raises_only_typed_errors(muts):
    text = _mutate(GOOD_UAI + "\n", muts)
    try:
        from pgm.io.uai import parse_uai

        parse_uai(text)
    except ALLOWED:
        pass


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_fuzz_random_text(text):
    from pgm.io.uai import parse_uai

    for parse in (parse_uai, pgm.io.bif.parse_bif):
        try:
            parse(text)
        except ALLOWED:
            pass
