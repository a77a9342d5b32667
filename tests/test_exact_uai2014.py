"""Exact inference against the official UAI-2014 references (ln Z and .MAR marginals)."""

import json

import numpy as np
import pytest

import pgm

NAMES = ["CSP_11", "DBN_11", "DBN_12", "Grids_11", "Grids_12", "Grids_15", "ObjectDetection_11",
         "Pedigree_11", "Promedus_11", "Promedus_12", "Segmentation_11", "Segmentation_12"]


@pytest.mark.parametrize("name", NAMES)
def test_log_partition_and_marginals_match_reference(uai_dir, name):
    ref = json.load(open(uai_dir / "reference.json"))[name]
    f = str(uai_dir / f"{name}.uai")
    model = pgm.read_uai(f, evidence=f + ".evid")
    assert len(model.evidence) == ref["n_evidence"]
    log_z = pgm.exact.log_partition(model)
    assert abs(log_z - ref["lnZ"]) <= 1e-6 * max(1.0, abs(ref["lnZ"])), (log_z, ref["lnZ"])
    mar = pgm.exact.marginals(model)
    expected = pgm.read_marginals(f + ".MAR")
    err = max(np.abs(mar[v] - expected[v]).max() for v in model.variables)
    assert err <= 1e-5, err
