"""Marginals from samplers.sample (replica exchange over compiled single-site Gibbs) on real
UAI-2014 problems against the official .MAR marginals: max-abs error ≤ 0.02.

Budgets (replicas R, geometric ladder from β_min, chains × sweeps) are documented per problem;
`benchmarks/uai_sampling.py` runs larger budgets over several seeds.  Plain single-site Gibbs
cannot pass this at any practical budget on DBN_11 or Segmentation_11 (chains stay in one
mode: errors ≈ 0.5), which is why the tempered kernel is used.
"""

import numpy as np
import pytest

import pgm
import samplers

from .conftest import slow


#: problem -> (R, beta_min, chains, draws, thin, warmup)
BUDGETS = {
    "DBN_11": (12, 0.2, 16, 2500, 2, 1000),
    "Segmentation_11": (12, 0.25, 16, 5000, 4, 2000),
    "Segmentation_12": (12, 0.25, 16, 2500, 2, 1000),
    "ObjectDetection_11": (12, 0.2, 16, 1500, 2, 1000),
}


@pytest.mark.parametrize("name", [slow(n) if n == "Segmentation_11" else n for n in sorted(BUDGETS)])
def test_tempered_gibbs_marginals_match_reference(uai_dir, name):
    R, beta_min, chains, draws, thin, warmup = BUDGETS[name]
    f = str(uai_dir / f"{name}.uai")
    model = pgm.read_uai(f, evidence=f + ".evid")
    s = samplers.sample(model, method="gibbs", tempering=samplers.geometric_betas(beta_min, R),
                        chains=chains, draws=draws, thin=thin, warmup=warmup, seed=2026,
                        keep_states=True, progress=False)
    ref = pgm.read_marginals(f + ".MAR")
    mar = s.marginals()
    err = max(np.abs(mar[v] - ref[v]).max() for v in model.variables)
    assert err <= 0.02, err
    assert min(s.info["round_trips"]) > 10
