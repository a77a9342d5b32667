"""Bounded, deterministic fuzzing of every reader and loader (issue 16, "make the fuzzing
permanent"): mutated small inputs (``tests/_fuzz_inputs.py``: byte flips, truncation, nasty
numbers and tokens, line edits, corrupt gzip streams, small gzip / npz bombs, corrupt npz
members, arrays of other shapes and dtypes, huge declared ``.npy`` shapes, edited JSON headers)
go through ``pgm.read_uai``, ``pgm.read_evidence``, ``pgm.read_marginals``, ``pgm.read_map``,
``pgm.read_pr``, ``pgm.read_bif`` (plain and gzip), ``pgm.load``, ``samplers.ChainState.load``,
``estimators.load_checkpoint`` and ``estimators.fit(..., resume=True)`` in this process.  Each
must succeed or raise one of the typed errors of :mod:`pgm.errors` — never another exception,
never an allocation above 1 GiB (the address space is limited to what the process uses plus
1 GiB while these tests run) and never more than a few seconds.

Hypothesis drives the mutations (``derandomize=True``: the same examples on every run).  The
long, multi-process version with large bombs is ``benchmarks/fuzz.py``.
"""

import functools
import json
import os
import resource
import signal
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests import _fuzz_inputs as F

#: examples per kind: all kinds together stay within ~10 s on one core
EXAMPLES = 80
#: seconds one input may take before it counts as a hang
INPUT_TIMEOUT = 5
GiB = 1 << 30


@functools.lru_cache(maxsize=None)
def _corpus():
    return F.build_corpus(bombs="small")


class _Hang(Exception):
    pass


def _on_alarm(signum, frame):
    raise _Hang(f"an input took more than {INPUT_TIMEOUT} s")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module", autouse=True)
def _memory_limit():
    """Limit the address space to what this process maps now + 1 GiB, so that an allocation
    above 1 GiB fails (MemoryError) instead of swapping the machine; restored afterwards."""
    _corpus()                                    # build the seeds (and import everything) first
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    try:
        with open("/proc/self/status") as fh:
            vm = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmSize:"))
    except (OSError, StopIteration):             # not Linux: no limit
        yield
        return
    want = vm + GiB if hard == resource.RLIM_INFINITY else min(vm + GiB, hard)
    resource.setrlimit(resource.RLIMIT_AS, (want, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _check(kind, rng, workdir):
    corpus = _corpus()
    seed = rng.choice(corpus[kind])
    data, steps = F.mutate(kind, seed, rng, corpus["_bombs"])
    path = os.path.join(workdir, "input" + F.SUFFIX[kind])
    with open(path, "wb") as fh:
        fh.write(data)
    what = f"{F.READER[kind]} on {seed.name!r} after {' | '.join(steps)}"
    old = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, INPUT_TIMEOUT)
    try:
        F.read_input(kind, path, seed.ctx)
    except F.typed_errors():
        pass
    except MemoryError as exc:
        raise AssertionError(f"{what}: allocation over 1 GiB ({exc})") from exc
    except F.Runaway as exc:
        raise AssertionError(f"{what}: {exc}") from None
    except _Hang as exc:
        raise AssertionError(f"{what}: {exc}") from exc
    except Exception as exc:  # noqa: BLE001 (the point of the test)
        raise AssertionError(f"{what}: untyped {type(exc).__name__}: {exc}") from exc
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


# no shrinking: a failure prints the mutation that caused it, and the run time stays bounded
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                phases=(Phase.explicit, Phase.generate),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.mark.parametrize("kind", F.KINDS)
@FUZZ
@given(rng=st.randoms(use_true_random=False))
def test_reader_gives_a_typed_error_or_a_result(kind, rng, workdir):
    _check(kind, rng, workdir)


def test_seeds_are_read_without_error(workdir):
    """Every unmutated seed is valid (so that mutations start from readable files)."""
    corpus = _corpus()
    for kind in F.KINDS:
        for seed in corpus[kind]:
            path = os.path.join(workdir, "seed" + F.SUFFIX[kind])
            with open(path, "wb") as fh:
                fh.write(seed.data)
            F.read_input(kind, path, seed.ctx)


def test_cases_are_reproducible():
    """Input ``i`` of a seeded run is the same bytes every time (``benchmarks/fuzz.py
    --reproduce``)."""
    corpus = _corpus()
    for i in (0, 7, 8, 9, 10, 123):
        a, b = F.make_case(5, i, corpus), F.make_case(5, i, corpus)
        assert a["data"] == b["data"] and a["steps"] == b["steps"] and a["kind"] == F.KINDS[i % len(F.KINDS)]


def test_fuzz_benchmark_runs():
    """benchmarks/fuzz.py runs a few inputs in child processes and prints its JSON table (no
    assertion on the outcomes: that is the test above)."""
    script = os.path.join(F.ROOT, "benchmarks", "fuzz.py")
    out = subprocess.run([sys.executable, script, "--n", "44", "--seed", "1", "--no-bombs", "--batch", "20"],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    lines = [json.loads(line) for line in out.splitlines()]
    rows = {r["kind"]: r for r in lines if "kind" in r}
    assert set(rows) == set(F.KINDS) | {"total"}
    total = rows.pop("total")
    outcomes = ("ok", "typed", "untyped", "hangs", "over_1GiB", "deaths")
    assert total["n"] == 44 == sum(r["n"] for r in rows.values())
    assert all(r["n"] == sum(r[o] for o in outcomes) for r in rows.values())
    assert total["harness_errors"] == 0
