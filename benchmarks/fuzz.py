"""Fuzzing of every reader and loader (issue 16, "make the fuzzing permanent").

Runs ``--n`` mutated inputs (default 10 000; kinds take turns) through the readers of
``tests/_fuzz_inputs.py``: ``pgm.read_uai`` (plain and gzip), ``pgm.read_evidence``,
``pgm.read_marginals`` (.MAR), ``pgm.read_map`` (.MAP), ``pgm.read_pr`` (.PR), ``pgm.read_bif``
(plain and .bif.gz), ``pgm.load`` (``model.save`` files), ``samplers.ChainState.load``,
``estimators.load_checkpoint`` and ``estimators.fit(..., checkpoint=path, resume=True)``.  Each
input is built from a seed file (small UAI-2014 problems, the bundled BIF examples, hand-made
files, saves of small models, chain states and checkpoints) by seeded mutations: byte flips,
truncation, random insertions, numbers replaced by huge / negative / nan / ``1_0`` / non-ASCII
digits, duplicated or deleted lines, corrupt or truncated gzip streams, gzip bombs (a few hundred
MB of zeros, spaces or newlines in under 1 MB), and for ``.npz`` files corrupt members, arrays
of other shapes and dtypes, ``.npy`` headers declaring huge shapes, edited JSON headers and npz
bombs.

Inputs run in batches (``--batch``, default 200) in forked child processes whose address space
is limited to what they use at the start plus 1 GiB (``RLIMIT_AS``), so an allocation above
1 GiB raises ``MemoryError``.  A child that dies, or that does not answer within ``--timeout``
plus 5 s, is replaced and the rest of its batch goes on in a new one.  Outcomes per input:

* ``ok`` — read (and ``repr``-ed) without an error;
* ``typed`` — an exception whose class is one of ``pgm.errors`` (ParseError, ModelError, ...);
* ``untyped`` — any other exception (``untyped_types`` counts them by class; ``untyped_examples``
  gives one input per class and innermost toolkit frame);
* ``hangs`` — more than ``--timeout`` seconds (default 10; a per-input ``SIGALRM`` in the child,
  or the child killed by the parent when the alarm cannot interrupt C code), or a resumed fit
  that trains far more epochs than asked;
* ``over_1GiB`` — ``MemoryError`` under the address-space limit;
* ``deaths`` — the child process killed by a signal or exiting by itself.

Prints one JSON line per kind and a total line.  Every example names its input ``index``;
``python benchmarks/fuzz.py --seed S --reproduce INDEX`` rebuilds that input (same ``--seed``
and ``--quick`` / ``--no-bombs`` as the run), writes it to a file and runs its reader in this
process with a traceback.

Run ``python benchmarks/fuzz.py [--n 10000] [--seed 0] [--quick] [--jobs 1]``.
"""

import argparse
import collections
import json
import multiprocessing
import multiprocessing.connection
import os
import resource
import shutil
import signal
import sys
import tempfile
import time
import traceback
import warnings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from benchmarks._common import emit, header  # noqa: E402
from tests import _fuzz_inputs as F  # noqa: E402

GiB = 1 << 30
OUTCOMES = ("ok", "typed", "untyped", "hangs", "over_1GiB", "deaths")
PROJECT_DIRS = tuple(os.path.join(ROOT, d) + os.sep for d in ("pgm", "samplers", "estimators"))
MAX_EXAMPLES = 12


class _Hang(BaseException):
    pass


def _on_alarm(signum, frame):
    raise _Hang()


def _vm_size():
    """Virtual memory size of this process in bytes."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def limit_address_space(extra=GiB):
    """``RLIMIT_AS`` = what this process maps now + ``extra``: an allocation above ``extra``
    fails (``MemoryError``)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    want = _vm_size() + extra
    if hard != resource.RLIM_INFINITY:
        want = min(want, hard)
    resource.setrlimit(resource.RLIMIT_AS, (want, hard))
    return want


def _where(tb):
    """``(innermost toolkit frame, innermost frame)`` of a traceback as ``path:line in fn``."""
    frames = traceback.extract_tb(tb)
    site = origin = None
    for fr in frames:
        label = f"{_short(fr.filename)}:{fr.lineno} in {fr.name}"
        origin = label
        if fr.filename.startswith(PROJECT_DIRS):
            site = label
    return site, origin


def _short(path):
    for marker in ("site-packages" + os.sep, "lib" + os.sep + "python3"):
        if marker in path:
            return path.split(marker, 1)[1]
    return os.path.relpath(path, ROOT) if path.startswith(ROOT) else path


def run_one(case, path, typed, timeout):
    """Run one input in this process: a result dict (outcome, exception, where, seconds)."""
    with open(path, "wb") as fh:
        fh.write(case["data"])
    res = {"index": case["index"], "kind": case["kind"], "base": case["base"],
           "mutation": " | ".join(case["steps"])[:300]}
    t = time.perf_counter()
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        try:
            F.read_input(case["kind"], path, case["ctx"])
            res["outcome"] = "ok"
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except (_Hang, F.Runaway) as exc:
        res["outcome"] = "hangs"
        res["error"] = type(exc).__name__ if isinstance(exc, F.Runaway) else f"alarm after {timeout} s"
        res["message"] = str(exc)[:200]
        res["site"], res["origin"] = _where(exc.__traceback__)
    except MemoryError as exc:
        res["outcome"] = "over_1GiB"
        res["error"] = type(exc).__name__
        res["message"] = str(exc)[:200]
        res["site"], res["origin"] = _where(exc.__traceback__)
    except Exception as exc:  # noqa: BLE001 (classifying is the point)
        res["outcome"] = "typed" if isinstance(exc, typed) else "untyped"
        res["error"] = type(exc).__name__
        res["message"] = str(exc)[:200]
        res["site"], res["origin"] = _where(exc.__traceback__)
    res["seconds"] = round(time.perf_counter() - t, 4)
    return res


def _child(indices, conn, seed, corpus, bombs, timeout, workdir):
    limit_address_space()
    warnings.simplefilter("ignore")
    signal.signal(signal.SIGALRM, _on_alarm)
    typed = F.typed_errors()
    for i in indices:
        try:
            case = F.make_case(seed, i, corpus, bombs)
        except Exception as exc:  # noqa: BLE001 (a bug of the fuzzer, reported apart)
            conn.send({"index": i, "outcome": "harness_error", "error": type(exc).__name__,
                       "message": "".join(traceback.format_exception(exc))[-600:]})
            continue
        path = os.path.join(workdir, "input" + F.SUFFIX[case["kind"]])
        conn.send(run_one(case, path, typed, timeout))
    conn.close()


class _Table:
    def __init__(self):
        self.rows = collections.OrderedDict((k, self._row(k)) for k in F.KINDS)
        self.harness_errors = []

    @staticmethod
    def _row(kind):
        return {"kind": kind, "reader": F.READER[kind], "n": 0, **{o: 0 for o in OUTCOMES},
                "untyped_types": {}, "untyped_examples": {}, "over_1GiB_examples": {}, "hang_examples": {},
                "death_examples": {}, "over_1s": 0, "max_seconds": 0.0, "slowest_index": None}

    def add(self, res):
        if res["outcome"] == "harness_error":
            self.harness_errors.append(res)
            return
        row = self.rows[res["kind"]]
        row["n"] += 1
        out = res["outcome"]
        row[out] += 1
        row["over_1s"] += res.get("seconds", 0) > 1
        if res.get("seconds", 0) > row["max_seconds"]:
            row["max_seconds"], row["slowest_index"] = res["seconds"], res["index"]
        example = {k: res[k] for k in ("index", "base", "mutation", "message", "origin")
                   if res.get(k) not in (None, "")}
        key = f"{res.get('error')} at {res.get('site') or res.get('origin')}"
        if out == "untyped":
            row["untyped_types"][res["error"]] = row["untyped_types"].get(res["error"], 0) + 1
            self._example(row["untyped_examples"], key, example)
        elif out in ("over_1GiB", "hangs"):
            self._example(row[f"{'hang' if out == 'hangs' else out}_examples"], key, example)
        elif out == "deaths":
            self._example(row["death_examples"], res["error"], example)

    @staticmethod
    def _example(d, key, example):
        if key in d:
            d[key]["count"] += 1
        elif len(d) < MAX_EXAMPLES:
            d[key] = {"count": 1, **example}


def _lost(case_index, seed, corpus, bombs, outcome, error):
    """A result for an input whose child died or was killed."""
    try:
        case = F.make_case(seed, case_index, corpus, bombs)
        kind, base, steps = case["kind"], case["base"], " | ".join(case["steps"])[:300]
    except Exception:  # noqa: BLE001
        kind, base, steps = F.KINDS[case_index % len(F.KINDS)], "?", "?"
    return {"index": case_index, "kind": kind, "base": base, "mutation": steps, "outcome": outcome,
            "error": error, "message": error}


def run(args, corpus, bombs):
    ctx = multiprocessing.get_context("fork")
    todo = collections.deque(list(range(a, min(a + args.batch, args.n))) for a in range(0, args.n, args.batch))
    table = _Table()
    workroot = tempfile.mkdtemp(prefix="pgm-fuzz-")
    active = {}  # conn -> [process, remaining indices (deque), last message time]
    n_children = 0
    try:
        while todo or active:
            while todo and len(active) < args.jobs:
                indices = todo.popleft()
                workdir = os.path.join(workroot, str(n_children))
                os.makedirs(workdir, exist_ok=True)
                rx, tx = ctx.Pipe(duplex=False)
                p = ctx.Process(target=_child, args=(indices, tx, args.seed, corpus, bombs, args.timeout, workdir),
                                daemon=True)
                p.start()
                tx.close()
                n_children += 1
                active[rx] = [p, collections.deque(indices), time.monotonic()]
            grace = args.timeout + 5
            now = time.monotonic()
            wait_s = max(0.05, min(last + grace - now for _, _, last in active.values()))
            for rx in multiprocessing.connection.wait(list(active), timeout=wait_s):
                p, remaining, _ = active[rx]
                try:
                    while rx.poll():
                        res = rx.recv()
                        if remaining and remaining[0] == res["index"]:
                            remaining.popleft()
                        table.add(res)
                        active[rx][2] = time.monotonic()
                except (EOFError, OSError):
                    p.join(5)
                    if remaining:
                        code = p.exitcode
                        if code is not None and code < 0:
                            error = f"killed by {signal.Signals(-code).name}"
                        else:
                            error = f"exited with code {code}"
                        table.add(_lost(remaining.popleft(), args.seed, corpus, bombs, "deaths", error))
                        if remaining:
                            todo.appendleft(list(remaining))
                    rx.close()
                    del active[rx]
            now = time.monotonic()
            for rx, (p, remaining, last) in list(active.items()):
                if now - last > args.timeout + 5:
                    p.kill()
                    p.join(5)
                    if remaining:
                        table.add(_lost(remaining.popleft(), args.seed, corpus, bombs, "hangs",
                                        f"killed after {args.timeout + 5} s without an answer"))
                        if remaining:
                            todo.appendleft(list(remaining))
                    rx.close()
                    del active[rx]
    finally:
        for rx, (p, _, _) in active.items():
            p.kill()
        shutil.rmtree(workroot, ignore_errors=True)
    return table, n_children


def reproduce(args, corpus, bombs):
    case = F.make_case(args.seed, args.reproduce, corpus, bombs)
    out = args.out or tempfile.mkdtemp(prefix="pgm-fuzz-case-")
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, f"case{args.reproduce}{F.SUFFIX[case['kind']]}")
    print(f"input {args.reproduce}: kind {case['kind']} ({F.READER[case['kind']]}), seed file {case['base']!r}, "
          f"{len(case['data'])} bytes\nmutation: {' | '.join(case['steps'])}\nwritten to {path}", flush=True)
    limit_address_space()
    signal.signal(signal.SIGALRM, _on_alarm)
    res = run_one(case, path, F.typed_errors(), args.timeout)
    if res["outcome"] not in ("ok",):
        # run it again unguarded for the full traceback
        signal.setitimer(signal.ITIMER_REAL, args.timeout)
        try:
            F.read_input(case["kind"], path, case["ctx"])
        except BaseException:  # noqa: BLE001
            traceback.print_exc()
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    print(json.dumps(res))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=10_000, help="number of inputs (kinds take turns)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="550 inputs, small bombs")
    ap.add_argument("--no-bombs", action="store_true", help="no gzip / npz bombs")
    ap.add_argument("--batch", type=int, default=200, help="inputs per child process")
    ap.add_argument("--jobs", type=int, default=1, help="child processes at a time")
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds per input before it counts as a hang")
    ap.add_argument("--reproduce", type=int, default=None, metavar="INDEX",
                    help="rebuild input INDEX of the run with this --seed, write it and read it here")
    ap.add_argument("--out", default=None, help="folder for --reproduce (default: a new temporary folder)")
    args = ap.parse_args(argv)
    if args.quick and args.n == ap.get_default("n"):
        args.n = 550
    bombs_size = None if args.no_bombs else ("small" if args.quick else "big")
    if args.reproduce is None:
        header("fuzz")
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        corpus = F.build_corpus(bombs=bombs_size)
    build_s = time.perf_counter() - t
    bombs = bombs_size is not None
    if args.reproduce is not None:
        return reproduce(args, corpus, bombs)
    t = time.perf_counter()
    table, children = run(args, corpus, bombs)
    seconds = time.perf_counter() - t
    total = {"kind": "total", "n": 0, **{o: 0 for o in OUTCOMES}}
    for row in table.rows.values():
        emit(row)
        for k in ("n",) + OUTCOMES:
            total[k] += row[k]
    for err in table.harness_errors[:5]:
        emit({"harness_error": err})
    total.update({"harness_errors": len(table.harness_errors), "seed": args.seed, "bombs": bombs_size,
                  "timeout_s": args.timeout, "address_space_extra_GiB": 1, "children": children,
                  "corpus_seconds": round(build_s, 1), "seconds": round(seconds, 1),
                  "seeds": {k: len(v) for k, v in corpus.items() if k in F.KINDS},
                  "reproduce": f"python benchmarks/fuzz.py --seed {args.seed}"
                               f"{' --quick' if args.quick else ''}{' --no-bombs' if args.no_bombs else ''}"
                               f" --reproduce INDEX"})
    emit(total)


if __name__ == "__main__":
    main()
