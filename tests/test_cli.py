"""The ``pgm`` console script (estimators/cli.py): the demo converges and explains its
diagnostics; exact inference on a bundled network."""

import re

from estimators.cli import main


def test_demo_uses_a_converging_sampler_and_explains_rhat_and_ess(capsys):
    assert main(["demo", "--size", "16", "--draws", "2000", "--seed", "5"]) == 0
    out = capsys.readouterr().out
    assert "swendsen_wang" in out and "R-hat compares" in out and "ESS is" in out
    rhat = float(re.search(r"R-hat of \|m\| = ([0-9.]+)", out).group(1))
    assert rhat <= 1.01, out


def test_exact_on_a_bundled_network(capsys):
    assert main(["exact", "asia", "--show", "2"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"ln Z = -?0\.000000000 ", out) and out.count("P(") == 2
