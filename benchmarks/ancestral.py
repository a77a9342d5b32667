"""Ancestral sampling speed on the 37-node ALARM network (10⁴ samples), median of repeats.

Compares with pgmpy's ``BayesianModelSampling.forward_sample`` when pgmpy is installed.
Target: ≤ 0.02 s (pgmpy: 0.23 s on this machine).
"""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _common import emit, header, median_time  # noqa: E402

import pgm  # noqa: E402
import samplers  # noqa: E402


def main(n=10_000, repeats=7):
    header("ancestral")
    bn = pgm.read_bif(pgm.example_path("alarm"))
    samplers.ancestral(bn, 10, seed=0)
    t, _ = median_time(lambda: samplers.ancestral(bn, n, seed=1), repeats)
    rec = {"model": "alarm", "samples": n, "median_seconds": round(t, 5), "target_seconds": 0.02}
    try:
        from pgmpy.readwrite import BIFReader
        from pgmpy.sampling import BayesianModelSampling

        import gzip

        model = BIFReader(string=gzip.decompress(open(pgm.example_path("alarm"), "rb").read()).decode()).get_model()
        sampler = BayesianModelSampling(model)
        tp, _ = median_time(lambda: sampler.forward_sample(size=n, show_progress=False), 3)
        rec.update(pgmpy_median_seconds=round(tp, 4), speedup_vs_pgmpy=round(tp / t, 1))
    except ImportError:
        rec["pgmpy"] = "not installed"
    emit(rec)


if __name__ == "__main__":
    main()
