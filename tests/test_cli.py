"""The ``pgm`` console script (estimators/cli.py): the demo converges and explains its
diagnostics; exact inference on a bundled network; ``pgm solve`` answers the UAI tasks (MAR, PR,
MAP) with every method and writes the competition's files, checked against the UAI-2014
references; ``pgm info``, ``pgm sample``, ``pgm --version``; evidence by state name; every user
error is one line on stderr with exit status 2."""

import json
import math
import re

import numpy as np
import pytest

import pgm
from estimators.cli import main
from tests.conftest import UAI_DIR

MAP_DIR = UAI_DIR.parent / "uai2014map"


def test_demo_uses_a_converging_sampler_and_explains_rhat_and_ess(capsys):
    assert main(["demo", "--size", "16", "--draws", "2000", "--seed", "5"]) == 0
    out = capsys.readouterr().out
    assert "swendsen_wang" in out and "R-hat compares" in out and "ESS is" in out
    rhat = float(re.search(r"R-hat of \|m\| = ([0-9.]+)", out).group(1))
    assert rhat <= 1.01, out


def test_exact_on_a_bundled_network(capsys):
    assert main(["exact", "asia", "--show", "2"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"ln Z = 0\.000000000 ", out) and out.count("P(") == 2   # never "-0.000000000"
    assert "P(asia) = yes 0.0100  no 0.9900" in out                          # state names


def test_exact_honours_bif_evidence_by_state_name(capsys):
    assert main(["exact", "asia", "smoke=yes", "--show", "3"]) == 0
    out = capsys.readouterr().out
    assert "evidence: 1" in out and "ln P(evidence) = -0.693147181" in out
    assert "P(smoke) = yes 1.0000  no 0.0000" in out


# ---------------------------------------------------------------------------- pgm solve
def _uai(uai_dir, name):
    return str(uai_dir / f"{name}.uai")


@pytest.mark.parametrize("name", ["Segmentation_12", "Grids_11"])
def test_solve_mar_auto_writes_the_reference_marginals(name, uai_dir, tmp_path, capsys):
    out = tmp_path / f"{name}.MAR"
    ref = uai_dir / f"{name}.uai.MAR"
    assert main(["solve", _uai(uai_dir, name), "--task", "MAR", "--method", "auto",
                 "-o", str(out), "--reference", str(ref)]) == 0
    text = capsys.readouterr().out
    assert "auto: exact inference" in text and f"wrote {out}" in text
    mine, theirs = pgm.read_marginals(out), pgm.read_marginals(ref)
    assert len(mine) == len(theirs)
    err = max(float(np.abs(a - b).max()) for a, b in zip(mine, theirs))
    assert err < 1e-5                                   # the reference is rounded to 6 digits
    printed = float(re.search(r"max-abs marginal error vs reference: ([0-9.e+-]+)", text).group(1))
    assert printed == pytest.approx(err, rel=1e-2)
    assert open(out).read().startswith(f"MAR\n{len(theirs)} {len(theirs[0])} ")


def test_solve_pr_exact_matches_reference_json(uai_dir, tmp_path, capsys):
    out = tmp_path / "grids.PR"
    ref = json.loads((uai_dir / "reference.json").read_text())["Grids_12"]["lnZ"]
    assert main(["solve", _uai(uai_dir, "Grids_12"), "--task", "PR", "--method", "exact", "-o", str(out),
                 "--reference", str(uai_dir / "reference.json")]) == 0
    lines = out.read_text().split()
    assert lines[0] == "PR"
    log10 = pgm.read_pr(out)
    assert log10 * math.log(10) == pytest.approx(ref, rel=1e-6)   # .PR holds log10 Z
    assert "ln Z error vs reference" in capsys.readouterr().out


def test_solve_pt_marginals_within_002(uai_dir, tmp_path, capsys):
    out = tmp_path / "pt.MAR"
    assert main(["solve", _uai(uai_dir, "Segmentation_12"), "--method", "pt", "--chains", "8", "--draws", "2000",
                 "--replicas", "8", "--seed", "0", "-o", str(out)]) == 0
    assert "8 replicas" in capsys.readouterr().out
    ref = pgm.read_marginals(uai_dir / "Segmentation_12.uai.MAR")
    err = max(float(np.abs(a - b).max()) for a, b in zip(pgm.read_marginals(out), ref))
    assert err < 0.02                                   # 0.0054 at most over seeds 0..9


def test_solve_ais_log_z_within_half_a_nat(uai_dir, tmp_path, capsys):
    out = tmp_path / "ais.PR"
    ref = json.loads((uai_dir / "reference.json").read_text())["Segmentation_12"]["lnZ"]
    assert main(["solve", _uai(uai_dir, "Segmentation_12"), "--task", "PR", "--method", "ais", "--runs", "64",
                 "--betas", "5000", "--seed", "0", "-o", str(out)]) == 0
    assert "64 runs x 5000 temperatures" in capsys.readouterr().out
    assert abs(pgm.read_pr(out) * math.log(10) - ref) < 0.5   # sd 0.085 over seeds 0..19


def test_solve_map_reaches_the_reference_score(tmp_path, capsys):
    if not (MAP_DIR / "Segmentation_12.uai").exists():
        pytest.skip(f"UAI 2014 MAP problems not found at {MAP_DIR}")
    out = tmp_path / "seg.MAP"
    ref = MAP_DIR / "Segmentation_12.uai.MAP"
    assert main(["solve", str(MAP_DIR / "Segmentation_12.uai"), "--task", "MAP", "-o", str(out),
                 "--reference", str(ref)]) == 0
    text = capsys.readouterr().out
    assert "auto: exact inference" in text and "(reaches or beats it)" in text
    model = pgm.read_uai(MAP_DIR / "Segmentation_12.uai")
    score = float(model.log_unnormalized(pgm.read_map(out)))
    assert score >= -52.525366817 - 1e-6                # README of uai2014map; exact gives -51.151


@pytest.mark.parametrize("method", ["bp", "anneal"])
def test_solve_map_by_approximate_methods(method, tmp_path, capsys):
    if not (MAP_DIR / "Segmentation_12.uai").exists():
        pytest.skip(f"UAI 2014 MAP problems not found at {MAP_DIR}")
    out = tmp_path / "seg.MAP"
    assert main(["solve", str(MAP_DIR / "Segmentation_12.uai"), "--task", "MAP", "--method", method,
                 "--seed", "1", "-o", str(out), "--reference", str(MAP_DIR / "Segmentation_12.uai.MAP")]) == 0
    assert "(reaches or beats it)" in capsys.readouterr().out


def test_solve_bif_evidence_by_state_name_and_formats(tmp_path, capsys):
    bn = pgm.read_bif(pgm.example_path("alarm"))
    exact = pgm.exact.marginals(bn, evidence={"HR": 2, "BP": 0})
    (tmp_path / "ev.json").write_text(json.dumps({"HR": "HIGH", "BP": 0}))
    (tmp_path / "ev.txt").write_text("HR=high, BP=LOW\n")
    forms = [["HR=HIGH", "BP=LOW"], ["--evidence", "HR=2", "BP=0"], ["--evidence", str(tmp_path / "ev.json")],
             ["-e", str(tmp_path / "ev.txt")], ["--evidence", '{"HR": "HIGH", "BP": "LOW"}'],
             ["--task", "MAR", "HR=HIGH", "BP=LOW"]]        # pairs after the options too
    for k, form in enumerate(forms):
        out = tmp_path / f"a{k}.MAR"
        assert main(["solve", "alarm", *form, "--method", "exact", "-o", str(out)]) == 0, form
        text = capsys.readouterr().out
        assert "evidence on 2" in text and "P(HISTORY) = TRUE 0.0" in text
        for v, m in zip(bn.variables, pgm.read_marginals(out)):
            np.testing.assert_allclose(m, exact[v], atol=1e-9)
    # ln P(e) of a Bayesian network, in the .PR file as log10
    out = tmp_path / "a.PR"
    assert main(["solve", str(pgm.example_path("alarm")), "HR=HIGH", "BP=LOW", "--task", "pr", "-o", str(out)]) == 0
    assert pgm.read_pr(out) * math.log(10) == pytest.approx(pgm.exact.log_partition(bn, evidence={"HR": 2, "BP": 0}))
    assert "ln P(evidence)" in capsys.readouterr().out


def test_solve_uses_the_evid_file_beside_a_uai_model(tmp_path, capsys):
    m = pgm.MarkovNetwork([pgm.DiscreteFactor([0, 1], [[1.0, 2.0], [3.0, 4.0]]),
                           pgm.DiscreteFactor([1, 2], [[2.0, 1.0], [1.0, 5.0]])])
    path = tmp_path / "chain.uai"
    m.evidence = {1: 1}
    pgm.write_uai(m, path, evidence_path=str(path) + ".evid")
    assert main(["solve", str(path), "--task", "PR", "-o", str(tmp_path / "c.PR")]) == 0
    assert "evidence on 1 (from " in capsys.readouterr().out
    assert pgm.read_pr(tmp_path / "c.PR") * math.log(10) == pytest.approx(math.log(6 * 6))
    assert main(["solve", str(path), "--task", "PR", "--no-evidence", "-o", str(tmp_path / "d.PR")]) == 0
    assert pgm.read_pr(tmp_path / "d.PR") * math.log(10) == pytest.approx(pgm.exact.log_partition(m, evidence={}))
    # default output name: the model file's name + .TASK, in the current folder
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path)
        assert main(["solve", str(path), "--task", "MAP", "--method", "bp"]) == 0
    assert pgm.read_map(tmp_path / "chain.uai.MAP").tolist() == [1, 1, 1]


@pytest.mark.parametrize("method", ["gibbs", "bp", "mf"])
def test_solve_mar_approximate_methods_on_a_small_network(method, tmp_path, capsys):
    bn = pgm.read_bif(pgm.example_path("earthquake"))
    ev = {"MaryCalls": bn.cpds["MaryCalls"].state_names["MaryCalls"].index("True")}
    out = tmp_path / "e.MAR"
    assert main(["solve", "earthquake", "MaryCalls=True", "--method", method, "--draws", "4000", "--seed", "3",
                 "-o", str(out)]) == 0
    assert f"method: {method}" in capsys.readouterr().out
    mine = pgm.read_marginals(out)
    exact = pgm.exact.marginals(bn, evidence=ev)
    err = max(float(np.abs(a - exact[v]).max()) for v, a in zip(bn.variables, mine))
    if method == "mf":      # mode-seeking: q settles on "no alarm"; only check it is a distribution
        assert all(abs(a.sum() - 1) < 1e-6 for a in mine) and mine[4].tolist() == [1.0, 0.0]
        assert main(["solve", "earthquake", "MaryCalls=True", "--method", "mf", "--task", "PR", "-o", "-"]) == 0
        cap = capsys.readouterr()
        assert "lower bound" in cap.err
        assert float(cap.out.split()[1]) * math.log(10) <= pgm.exact.log_partition(bn, evidence=ev) + 1e-9
    else:                   # a polytree: BP is exact; Gibbs within its Monte Carlo error
        assert err < (0.03 if method == "gibbs" else 1e-6), err


def test_solve_answer_to_stdout_and_quiet(uai_dir, capsys):
    assert main(["solve", _uai(uai_dir, "Grids_12"), "--task", "PR", "-o", "-"]) == 0
    cap = capsys.readouterr()
    assert cap.out.split()[0] == "PR" and len(cap.out.split()) == 2 and "method: exact" in cap.err


def test_solve_time_limit_stops_a_sampler_early(uai_dir, tmp_path, capsys):
    out = tmp_path / "t.MAR"
    assert main(["solve", _uai(uai_dir, "Segmentation_12"), "--method", "gibbs", "--draws", "10000000",
                 "--warmup", "100", "--time-limit", "1", "-o", str(out)]) == 0
    assert "time limit reached" in capsys.readouterr().out
    assert len(pgm.read_marginals(out)) == 229
    # exact inference cannot stop early: no answer, exit status 3, one line
    assert main(["solve", _uai(uai_dir, "Grids_15"), "--method", "exact", "--time-limit", "0.05",
                 "-o", str(tmp_path / "x.MAR")]) == 3
    err = capsys.readouterr().err
    assert err.startswith("pgm: error: time limit") and err.count("\n") == 1
    assert not (tmp_path / "x.MAR").exists()


def test_solve_auto_falls_back_below_the_memory_limit(uai_dir, tmp_path, capsys):
    assert main(["solve", _uai(uai_dir, "Segmentation_12"), "--memory-limit", "1K", "--show", "0",
                 "-o", str(tmp_path / "b.MAR"), "--reference", str(uai_dir / "Segmentation_12.uai.MAR")]) == 0
    out = capsys.readouterr().out
    assert "auto: loopy belief propagation, since exact inference is too large" in out
    assert float(re.search(r"marginal error vs reference: ([0-9.e+-]+)", out).group(1)) < 0.05
    assert main(["solve", _uai(uai_dir, "Segmentation_12"), "--method", "exact", "--memory-limit", "1K",
                 "-o", str(tmp_path / "c.MAR")]) == 2
    assert capsys.readouterr().err.startswith("pgm: error: exact inference would allocate")
    if (MAP_DIR / "Segmentation_12.uai").exists():     # MAP: max-product BP, then annealing from it
        assert main(["solve", str(MAP_DIR / "Segmentation_12.uai"), "--task", "MAP", "--memory-limit", "1K",
                     "-o", str(tmp_path / "d.MAP"), "--reference", str(MAP_DIR / "Segmentation_12.uai.MAP")]) == 0
        out = capsys.readouterr().out
        assert "auto: max-product BP, then simulated annealing" in out and "(reaches or beats it)" in out


# ---------------------------------------------------------------------------- info, sample, version
def test_info_summarises_a_model(uai_dir, capsys):
    assert main(["info", "alarm", "HR=HIGH"]) == 0
    out = capsys.readouterr().out
    assert "variables: 37" in out and "37 CPDs" in out and "cardinalities: 2: 13, 3: 17, 4: 7" in out
    assert "evidence: 1 observed" in out and "state names: yes" in out
    assert re.search(r"treewidth estimate: \d+", out) and "exact inference memory" in out and "fits" in out
    assert main(["info", _uai(uai_dir, "Grids_15")]) == 0
    out = capsys.readouterr().out
    assert "variables: 400" in out and "factors: 1160" in out and "treewidth estimate: 20" in out


def test_sample_writes_arviz_netcdf(tmp_path, capsys):
    import arviz as az

    out = tmp_path / "run.nc"
    assert main(["sample", "asia", "smoke=yes", "--chains", "2", "--draws", "200", "--seed", "1",
                 "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "2 chains x 200 draws" in text and f"wrote {out}" in text and "P(smoke) = yes 1.0000" in text
    post = az.from_netcdf(out).posterior
    assert post["x"].shape == (2, 200, 8) and "energy" in post
    assert (post["x"].values[..., 2] == 0).all()          # smoke clamped to "yes" (state 0)


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"pgm {pgm.__version__}"


def test_demo_messages_for_one_chain_and_an_odd_lattice(capsys):
    assert main(["demo", "--size", "3", "--method", "block_gibbs", "--chains", "1", "--draws", "20"]) == 0
    out = capsys.readouterr().out
    assert "1 chain x 20 draws" in out and "chains x" not in out
    assert "checkerboard" not in out and "R-hat needs at least 2 chains" in out


# ---------------------------------------------------------------------------- user errors
BAD = [
    (["solve", "missing.uai"], "not found"),
    (["solve", "missing.bif"], "model file 'missing.bif' not found"),
    (["solve", "alrm"], "did you mean 'alarm'"),
    (["solve", "{malformed_uai}"], "needs 4 numbers"),
    (["solve", "{malformed_bif}"], "expected"),
    (["solve", "{unknown_format}"], "cannot tell the format"),
    (["solve", "alarm", "HR=HIG"], "not one of LOW, NORMAL, HIGH"),
    (["solve", "alarm", "HRX=HIGH"], "unknown variable 'HRX'"),
    (["solve", "alarm", "HR=7"], "outside its domain 0..2"),
    (["solve", "alarm", "HR=HIGH", "HR=LOW"], "two states"),
    (["solve", "alarm", "--evidence", "missing.evid"], "evidence file 'missing.evid' not found"),
    (["solve", "alarm", "--evidence", "{not json"], "not valid JSON"),
    (["solve", "alarm", "--evidence", "{bad_evid}"], "evidence"),
    (["solve", "alarm", "--task", "XYZ"], "invalid choice"),
    (["solve", "alarm", "--method", "pt", "--task", "PR"], "does not answer --task PR"),
    (["solve", "alarm", "--seed", "-1"], "seed"),
    (["solve", "alarm", "--chains", "0"], "chains must be an integer >= 1"),
    (["solve", "alarm", "--draws", "many"], "draws"),
    (["solve", "alarm", "--time-limit", "-3"], "time-limit"),
    (["solve", "alarm", "--memory-limit", "12Q"], "memory limit"),
    (["solve", "alarm", "--threads", "999"], "--threads"),
    (["solve", "alarm", "--reference", "missing.MAR"], "reference file"),
    (["solve", "alarm", "--reference", "{malformed_uai}"], "reference starts with MAR, PR or MAP"),
    (["solve", "alarm", "--task", "PR", "--reference", "{mar_reference}"], "the task is PR"),
    (["solve", "alarm", "-o", "/nonexistent/folder/x.MAR"], "cannot write"),
    (["solve", "alarm", "--bogus"], "unrecognized arguments"),
    (["sample", "asia", "-o", "run.txt"], "netCDF"),
    (["exact", "asia", "--show", "-2"], "show"),
    (["exact", "missing.bif"], "model file 'missing.bif' not found"),
    (["demo", "--seed", "-1"], "seed"),
    (["demo", "--size", "2"], "size must be an integer >= 3"),
    (["info", "missing.uai"], "not found"),
    (["nosuchcommand"], "invalid choice"),
]


@pytest.fixture
def bad_files(tmp_path):
    files = {"malformed_uai": "MARKOV\n2\n2 2\n1\n2 0 1\n4\n1 2 3\n",
             "malformed_bif": "network x {\nvariable a { type discrete [ 2 ] { y, n }; }\nprobability ( a ) { table 0.5",
             "unknown_format": "hello\n", "bad_evid": "2 0 1\n", "mar_reference": "MAR\n1 2 0.5 0.5\n"}
    names = {"malformed_uai": "bad.uai", "malformed_bif": "bad.bif", "unknown_format": "what.txt",
             "bad_evid": "bad.evid", "mar_reference": "ref.MAR"}
    out = {}
    for key, text in files.items():
        p = tmp_path / names[key]
        p.write_text(text)
        out[key] = str(p)
    return out


@pytest.mark.parametrize("argv, needle", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_user_errors_are_one_line_with_status_2(argv, needle, bad_files, capsys):
    argv = [a.format(**bad_files) if a.startswith("{") and a[1:-1] in bad_files else a for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("pgm: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err and needle in err, err
    assert "no bundled example named" not in err or "bif" not in " ".join(argv)


def test_debug_shows_the_traceback(capsys):
    with pytest.raises(Exception, match="not found"):
        main(["solve", "missing.uai", "--debug"])
    with pytest.raises(Exception, match="outside its domain"):
        main(["--debug", "exact", "alarm", "HR=9"])


def test_the_console_script_exits_with_status_2_and_one_line():
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "estimators.cli", "solve", "missing.bif"], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr == "pgm: error: model file 'missing.bif' not found\n"
