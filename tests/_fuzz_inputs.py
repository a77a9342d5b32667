"""Inputs for fuzzing every reader and loader (shared by ``benchmarks/fuzz.py`` and
``tests/test_fuzz.py``; issue 16, "make the fuzzing permanent").

* :func:`build_corpus` — the seed inputs of each kind (:data:`KINDS`): small UAI models (the
  smallest UAI-2014 problems and hand-made ones), evidence, ``.MAR``/``.MAP``/``.PR`` result files,
  BIF plain and gzip-compressed (the bundled examples), saved models (``model.save``),
  :class:`samplers.ChainState` saves and :func:`estimators.fit` checkpoints; optionally gzip and
  npz bombs.
* :func:`mutate` — one mutated input from a seed and a ``random.Random``-like generator (a
  Hypothesis ``st.randoms()`` works too): byte flips, truncation, random insertions, number and
  token replacement, duplicated / deleted / swapped lines, for gzip a corrupt or truncated
  stream, for npz corrupt members (with and without a valid CRC), arrays of other shapes and
  dtypes, ``.npy`` headers declaring huge shapes or odd dtypes, edited JSON headers (wrong types,
  huge numbers, missing keys), deleted / renamed / duplicated members.  Returns the bytes and a
  short description of what was done.
* :func:`read_input` — the reader or loader of a kind, applied to a file (the loaded object is
  then ``repr``-ed, so that a loader that accepts a malformed object is caught too).
* :func:`make_case` — the input number ``index`` of a seeded run (what the benchmark runs and
  ``benchmarks/fuzz.py --reproduce`` rebuilds).

Imports of the toolkit happen inside the functions: importing this module is cheap.
"""

import gzip
import io
import json
import math
import os
import random
import re
import struct
import warnings
import zipfile
import zlib

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared")
UAI_DIR = os.environ.get("PGM_UAI_DIR", os.path.join(SHARED, "uai2014"))
MAP_DIR = os.path.join(SHARED, "uai2014map")

#: input kinds, each with its reader (see :func:`read_input`)
KINDS = ("uai", "uai_evid", "mar", "map", "pr", "bif", "bif_gz", "model_npz", "chain_state",
         "checkpoint_load", "checkpoint_resume")

#: file name suffix per kind
SUFFIX = {"uai": ".uai", "uai_evid": ".uai.evid", "mar": ".uai.MAR", "map": ".uai.MAP", "pr": ".uai.PR",
          "bif": ".bif", "bif_gz": ".bif.gz", "model_npz": ".npz", "chain_state": ".npz",
          "checkpoint_load": ".npz", "checkpoint_resume": ".npz"}

#: what reads each kind (for the report)
READER = {"uai": "pgm.read_uai", "uai_evid": "pgm.read_evidence(path, n, cards)",
          "mar": "pgm.read_marginals", "map": "pgm.read_map", "pr": "pgm.read_pr",
          "bif": "pgm.read_bif", "bif_gz": "pgm.read_bif", "model_npz": "pgm.load",
          "chain_state": "samplers.ChainState.load", "checkpoint_load": "estimators.load_checkpoint",
          "checkpoint_resume": "estimators.fit(..., checkpoint=path, resume=True)"}

NPZ_KINDS = ("model_npz", "chain_state", "checkpoint_load", "checkpoint_resume")


class Runaway(BaseException):
    """A resumed fit trained far more epochs than asked (a checkpoint's epoch counter was not
    validated); raised by the guard callback so that the input counts as a hang at once."""


class Seed:
    """One seed input: ``name``, ``data`` (bytes) and ``ctx`` (what its reader needs)."""

    def __init__(self, name, data, ctx=None):
        self.name = name
        self.data = bytes(data)
        self.ctx = dict(ctx or {})

    def __repr__(self):
        return f"Seed({self.name!r}, {len(self.data)} bytes)"


def typed_errors():
    """The project's typed errors: every exception class defined in :mod:`pgm.errors`."""
    import pgm.errors as errors

    return tuple(c for c in vars(errors).values()
                 if isinstance(c, type) and issubclass(c, Exception) and not issubclass(c, Warning)
                 and c.__module__ == errors.__name__)


# ----------------------------------------------------------------------------- seed corpus
TINY_UAI = [
    ("tiny-markov", b"MARKOV 2 2 2 1 2 0 1 4 1 2 3 4"),
    ("tiny-markov-lines", b"MARKOV\n3\n2 3 2\n3\n1 0\n2 0 1\n0\n\n2\n0.5 1.5\n\n6\n1 2 3 4 5 6\n\n1\n7.0\n"),
    ("tiny-bayes", b"BAYES\n2\n2 2\n2\n1 0\n2 0 1\n\n2\n0.3 0.7\n\n4\n0.9 0.1 0.2 0.8\n"),
]

TINY_BIF = b"""// a hand-made network: comments, properties, quoted names, default rows
network "tiny" {
  property author = fuzz ;
}
/* block
   comment */
variable a {
  type discrete [ 2 ] { yes, no };
  property position = (1, 2) ;
}
variable "b c" {
  type discrete [ 3 ] { lo, mid, hi };
}
variable d {
  type discrete [ 2 ] { t, f };
}
probability ( a ) {
  table 0.25, 0.75;
}
probability ( "b c" | a ) {
  (yes) 0.2, 0.3, 0.5;
  (no) 0.1, 0.1, 0.8;
}
probability ( d | a, "b c" ) {
  default 0.5, 0.5;
  (yes, lo) 0.9, 0.1;
  (no, hi) 0.05, 0.95;
}
"""

BIF_EXAMPLES = ("asia", "cancer", "earthquake", "child", "alarm", "insurance")
UAI_SHARED = ("Grids_11", "Grids_12", "DBN_11", "CSP_11", "Pedigree_11", "Promedus_12")
MAP_SHARED = ("wcsp_11", "Segmentation_12", "ProteinFolding_11", "ImageAlignment_12", "ObjectDetection_11")


def _read(path):
    with open(path, "rb") as fh:
        return fh.read()


def _bm(d=4, seed=0):
    import pgm

    rng = np.random.default_rng(seed)
    w = np.triu(rng.normal(0, 0.3, (d, d)), 1)
    return pgm.BoltzmannMachine(w + w.T, rng.normal(0, 0.3, d))


def _binary():
    return np.random.default_rng(1).integers(0, 2, (32, 4)).astype(float)


def _real():
    return np.random.default_rng(1).normal([0.5, -0.5], 1.0, size=(32, 2))


def _setups():
    """Small training runs (model, data, objective, optimiser) whose checkpoints are fuzzed."""
    import estimators as E
    import pgm

    return {
        "PCD/BM/SGD-momentum": lambda: (_bm(), _binary(), E.PCD(k=1, chains=3), E.SGD(0.05, momentum=0.9)),
        "CD/BM/Adam": lambda: (_bm(), _binary(), E.CD(k=1), E.Adam(0.01)),
        "FastPCD/RBM/Adam-schedule": lambda: (pgm.RBM(4, 2, seed=0), _binary(), E.FastPCD(1, 4, 0.05, 0.9),
                                              E.Adam(E.ExponentialDecay(0.02, 0.5, steps=10))),
        "NCE/Gaussian/SGD": lambda: (pgm.GaussianEnergy(np.zeros(2), np.eye(2)), _real(), E.NCE(ratio=2),
                                     E.SGD(0.05, momentum=0.5)),
        "SM/MLP/Adam": lambda: (pgm.MLPEnergy(2, hidden=(3,), activation="tanh", seed=0, quadratic=0.1),
                                _real(), E.ScoreMatching(), E.Adam(0.01)),
    }


CHECKPOINT_EPOCHS = 2
FIT_OPTIONS = dict(batch_size=16, seed=3, progress=False)


def _saved(tmp, name, save):
    path = os.path.join(tmp, name)
    save(path)
    data = _read(path)
    os.remove(path)
    return _normalised(data) if name.endswith(".npz") else data


def _normalised(data):
    """The same npz with fixed member timestamps and, in a checkpoint's history, fixed epoch
    times, so that a seed is the same bytes in every run (and an input can be rebuilt)."""
    members = _members(data)
    out = []
    for name, blob in members:
        if name == "__meta__.npy":
            meta = json.loads(str(np.load(io.BytesIO(blob), allow_pickle=False)))
            for rec in meta.get("history", []) if isinstance(meta, dict) else []:
                if "seconds" in rec:
                    rec["seconds"] = 0.001
            blob = _npy(np.array(json.dumps(meta)))
        out.append((name, blob))
    return _zip(out)


def build_corpus(bombs="big", tmpdir=None):
    """Seeds of every kind: ``{kind: [Seed, ...]}``, plus ``"_bombs"``: ``{"gz": [...],
    "npz": [...]}`` (``bombs``: ``"big"`` — a few hundred MB of zeros, spaces or newlines in
    under 1 MB —, ``"small"`` — a few MB, for in-process tests — or ``None``)."""
    import tempfile

    import estimators as E
    import pgm
    import samplers

    own_tmp = tmpdir is None
    tmp = tempfile.mkdtemp(prefix="pgm-fuzz-corpus-") if own_tmp else tmpdir
    corpus = {k: [] for k in KINDS}

    # UAI models and their evidence
    for name, text in TINY_UAI:
        corpus["uai"].append(Seed(name, text))
    asia = pgm.read_bif(pgm.example_path("asia"))
    corpus["uai"].append(Seed("asia-bayes", _saved(tmp, "asia.uai", lambda p: pgm.write_uai(asia, p))))
    tiny_ctx = {"n": 3, "cards": [2, 3, 2]}
    corpus["uai_evid"] += [Seed("tiny-evid", b"2 0 1 1 2\n", tiny_ctx),
                           Seed("tiny-evid-old", b"1\n2 0 1 2 0\n", tiny_ctx),
                           Seed("tiny-evid-empty", b"0\n", tiny_ctx)]
    for name in UAI_SHARED:
        path = os.path.join(UAI_DIR, f"{name}.uai")
        if not os.path.exists(path):
            continue
        text = _read(path)
        corpus["uai"].append(Seed(name, text))
        model = pgm.read_uai(path)
        ctx = {"n": model.n_variables, "cards": [model.cardinalities[v] for v in model.variables]}
        if os.path.exists(path + ".evid"):
            corpus["uai_evid"].append(Seed(name, _read(path + ".evid"), ctx))
        if os.path.exists(path + ".MAR"):
            corpus["mar"].append(Seed(name, _read(path + ".MAR")))

    # result files
    corpus["mar"] += [Seed("tiny-mar", b"MAR 2 2 0.25 0.75 1 1.0"),
                      Seed("tiny-mar-solutions", b"MAR\n1 2 0.5 0.5\n-BEGIN-\n1 2 0.1 0.9\n")]
    for name in MAP_SHARED:
        path = os.path.join(MAP_DIR, f"{name}.uai.MAP")
        if os.path.exists(path):
            corpus["map"].append(Seed(name, _read(path)))
    corpus["map"] += [Seed("tiny-map", b"MAP 3 0 2 1"),
                      Seed("tiny-mpe-solutions", b"MPE\n2 1 0\n-BEGIN-\n2 0 0\n")]
    corpus["pr"] += [Seed("tiny-pr", b"PR\n-0.301029995664\n"), Seed("tiny-pr-inf", b"PR\n-inf\n"),
                     Seed("tiny-pr-solutions", b"PR\n-BEGIN-\n1.5\n-BEGIN-\n-2.25e3\n")]

    # BIF
    corpus["bif"].append(Seed("tiny", TINY_BIF))
    corpus["bif_gz"].append(Seed("tiny", gzip.compress(TINY_BIF, mtime=0)))
    for name in BIF_EXAMPLES:
        raw = _read(pgm.example_path(name))
        corpus["bif_gz"].append(Seed(name, raw))
        corpus["bif"].append(Seed(name, gzip.decompress(raw)))

    # saved models
    models = {
        "markov-str": pgm.MarkovNetwork([pgm.DiscreteFactor(["a", "b"], [[1.0, 2.0], [3.0, 4.0]]),
                                         pgm.DiscreteFactor(["b", "c"], np.arange(1.0, 7.0).reshape(2, 3))],
                                        evidence={"c": 1}),
        "markov-int": pgm.read_uai(_text_path(tmp, TINY_UAI[1][1])),
        "factor-graph": pgm.FactorGraph([pgm.DiscreteFactor(["a"], [1.0, 3.0]),
                                         pgm.DiscreteFactor(["a", "b"], [[1.0, 2.0], [3.0, 4.0]])]),
        "bayes-asia": asia,
        "bayes-logistic": pgm.BayesianNetwork([pgm.TabularCPD("a", 2, [0.3, 0.7]),
                                               pgm.LogisticCPD("b", ["a"], [1.5], -0.5)]),
        "bayes-gaussian": pgm.BayesianNetwork([pgm.LinearGaussianCPD("x", [], [], 0.5, 2.0),
                                               pgm.LinearGaussianCPD("y", ["x"], [2.0], 1.0, 0.5)]),
        "gaussian": pgm.GaussianEnergy(np.zeros(2), np.eye(2)),
        "mlp": pgm.MLPEnergy(2, hidden=(3,), activation="tanh", seed=0, quadratic=0.1),
        "fvsbn": pgm.FVSBN(4, seed=0),
        "nade": pgm.NADE(4, 3, seed=0),
    }
    for name, m in models.items():
        corpus["model_npz"].append(Seed(name, _saved(tmp, f"{name}.npz", m.save)))

    # chain states
    rng = np.random.default_rng(0)
    states = {
        "discrete": samplers.ChainState(rng.integers(0, 2, (3, 5)), rng.integers(0, 2**63, (3, 4), dtype=np.uint64)),
        # a tempered run: x and rng_state hold every replica (chains × R rows), one swap stream per chain
        "tempered": samplers.ChainState(rng.integers(0, 3, (6, 4)), rng.integers(0, 2**63, (6, 4), dtype=np.uint64),
                                        swap_rng_state=rng.integers(0, 2**63, (3, 4), dtype=np.uint64)),
        "continuous": samplers.ChainState(rng.normal(size=(2, 3)), rng.integers(0, 2**63, (2, 4), dtype=np.uint64),
                                          step_size=[0.1, 0.2], extra={"level": np.array([0, 1])}),
    }
    for name, s in states.items():
        corpus["chain_state"].append(Seed(name, _saved(tmp, f"{name}.npz", s.save)))

    # training checkpoints
    for label, make in _setups().items():
        model, x, obj, opt = make()
        path = os.path.join(tmp, "ckpt.npz")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            E.fit(model, x, obj, opt, epochs=CHECKPOINT_EPOCHS, checkpoint=path, **FIT_OPTIONS)
        data = _normalised(_read(path))
        os.remove(path)
        corpus["checkpoint_load"].append(Seed(label, data))
        corpus["checkpoint_resume"].append(Seed(label, data, {"setup": label}))

    corpus["_bombs"] = _bombs(bombs)
    if own_tmp:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return corpus


def _text_path(tmp, text):
    path = os.path.join(tmp, "text.uai")
    with open(path, "wb") as fh:
        fh.write(text)
    return path


# ----------------------------------------------------------------------------- bombs
def _gzip_stream(chunks, level=9):
    """A gzip file of the concatenated ``chunks`` (an iterable of bytes), streamed."""
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=level, mtime=0) as fh:
        for c in chunks:
            fh.write(c)
    return out.getvalue()


def _repeat(unit, total, head=b""):
    yield head
    block = unit * max(1, (1 << 22) // len(unit))
    left = total
    while left > 0:
        piece = block[:left]
        yield piece
        left -= len(piece)


def _npy_header(descr, shape, fortran=False, version=1):
    text = "{'descr': %r, 'fortran_order': %r, 'shape': %r, }" % (descr, fortran, tuple(shape))
    return _npy_wrap(text.encode("latin1"), version)


def _npy_wrap(header, version=1):
    magic = b"\x93NUMPY" + bytes([version, 0])
    fmt = "<H" if version == 1 else "<I"
    pre = len(magic) + struct.calcsize(fmt)
    pad = (-(pre + len(header) + 1)) % 64
    header = header + b" " * pad + b"\n"
    return magic + struct.pack(fmt, len(header)) + header


def _deflated_zeros_npy(nbytes):
    """``(crc32, raw deflate bytes, size)`` of a ``.npy`` float64 zeros array of ``nbytes``."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    crc, size, parts = 0, 0, []
    for c in _repeat(b"\0", nbytes, _npy_header("<f8", (nbytes // 8,))):
        crc = zlib.crc32(c, crc)
        size += len(c)
        parts.append(comp.compress(c))
    parts.append(comp.flush())
    return crc, b"".join(parts), size


def _raw_zip(entries):
    """A zip file from ``(name, method, crc, compressed bytes, size)`` entries (method 0: stored,
    8: deflated), written by hand so that a prebuilt deflate stream can be reused."""
    out = bytearray()
    central = bytearray()
    for name, method, crc, comp, size in entries:
        n = name.encode()
        offset = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 33, crc, len(comp), size, len(n), 0) + n + comp
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 33, crc, len(comp), size,
                               len(n), 0, 0, 0, 0, 0, offset) + n
    cd_offset = len(out)
    out += central
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(central), cd_offset, 0)
    return bytes(out)


def _bombs(size):
    """Compressed bombs, each at most 1 MB: ``{"gz": [(name, gzip bytes)], "npz": [(name, crc,
    deflated .npy bytes, size)]}`` (an npz bomb replaces one member of a saved file)."""
    if size is None:
        return {"gz": [], "npz": []}
    mb = 1 << 20
    if size == "big":
        sizes = {"zeros": 900 * mb, "newlines": 300 * mb, "spaces": 300 * mb, "digits": 300 * mb,
                 "comment-openers": 2 * mb, "bif-then-spaces": 300 * mb}
        npz = [("zeros-f8-950MB", 950 * mb), ("zeros-f8-300MB", 300 * mb)]
    else:
        sizes = {"zeros": 4 * mb, "newlines": 2 * mb, "spaces": 2 * mb, "digits": 2 * mb,
                 "comment-openers": 4096, "bif-then-spaces": 2 * mb}
        npz = [("zeros-f8-4MB", 4 * mb)]
    units = {"zeros": (b"\0", b""), "newlines": (b"\n", b""), "spaces": (b" ", b""), "digits": (b"1 ", b"MARKOV "),
             "comment-openers": (b"/*", b""), "bif-then-spaces": (b" ", b"network x {\n}\nvariable a {\n")}
    gz = []
    for name, total in sizes.items():
        unit, head = units[name]
        gz.append((f"{name}-{total // mb}MB" if total >= mb else f"{name}-{total}B",
                   _gzip_stream(_repeat(unit, total, head))))
    return {"gz": gz, "npz": [(name, *_deflated_zeros_npy(n)) for name, n in npz]}


# ----------------------------------------------------------------------------- byte / text mutators
NASTY_NUMBERS = [b"99999999999999999999999999", b"1e308", b"1e309", b"-1", b"-2147483649", b"0", b"-0",
                 b"nan", b"NaN", b"inf", b"-inf", b"1_0", "\u0661\u0662".encode(), "\uff11\uff12".encode(),
                 "\u00b2".encode(), "\U0001d7d9".encode(), b"0x10", b"1e5", b"1.5", b"+3", b"2147483648",
                 b"9223372036854775808", b"4294967297", b"1000000", b"100000000", b"1e-320", b"", b"1" * 400,
                 b"1e", b"--1", b"\x00", b"3.", b".5", b"1e+400", b"-1e-400", b"0.0", b"2"]
NASTY_WORDS = [b"MARKOV", b"BAYES", b"MAR", b"MAP", b"MPE", b"PR", b"-BEGIN-", b"{", b"}", b"(", b")", b";",
               b"|", b"[", b"]", b",", b'"', b"/*", b"*/", b"//", b"table", b"default", b"probability",
               b"variable", b"network", b"property", b"type", b"discrete", b"continuous", b"\xff\xfe",
               "\u00e9".encode(), b"\r", b"\x0b", b"\x1c", "\u2028".encode(), "\u00a0".encode()]
_NUM = re.compile(rb"[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?")
_WORD = re.compile(rb"\S+")


def _randbytes(rng, n):
    return bytes(rng.randrange(256) for _ in range(n))


def _pos(rng, data, end=False):
    return rng.randrange(len(data) + (1 if end else 0)) if (data or end) else 0


def m_flip(data, rng):
    if not data:
        return data, "flip(empty)"
    b = bytearray(data)
    k = rng.randint(1, 8)
    at = []
    for _ in range(k):
        i = rng.randrange(len(b))
        b[i] ^= (1 << rng.randrange(8)) if rng.random() < 0.5 else rng.randrange(1, 256)
        at.append(i)
    return bytes(b), f"flip{k}@{at[0]}"


def m_truncate(data, rng):
    i = rng.randrange(len(data) + 1) if rng.random() < 0.7 else max(0, len(data) - rng.randint(1, 16))
    return data[:i], f"truncate@{i}/{len(data)}"


def m_insert(data, rng):
    i = _pos(rng, data, end=True)
    r = rng.random()
    if r < 0.3:
        ins = _randbytes(rng, rng.randint(1, 64))
    elif r < 0.6:
        ins = bytes(rng.choice(b"0123456789 .-\n\teE") for _ in range(rng.randint(1, 32)))
    else:
        ins = b" " + rng.choice(NASTY_NUMBERS + NASTY_WORDS) + b" "
    return data[:i] + ins + data[i:], f"insert@{i}:{ins[:24]!r}"


def m_number(data, rng):
    n = rng.randint(1, 3)
    out = []
    for _ in range(n):
        m = _NUM.search(data, _pos(rng, data)) or _NUM.search(data)
        if m is None:
            return m_insert(data, rng)
        new = rng.choice(NASTY_NUMBERS)
        data = data[:m.start()] + new + data[m.end():]
        out.append(f"{m.group()[:12]!r}->{new[:12]!r}@{m.start()}")
    return data, "number:" + ",".join(out)


def m_token(data, rng):
    m = _WORD.search(data, _pos(rng, data)) or _WORD.search(data)
    if m is None:
        return m_insert(data, rng)
    r = rng.random()
    new = b"" if r < 0.2 else rng.choice(NASTY_WORDS if r < 0.7 else NASTY_NUMBERS)
    return data[:m.start()] + new + data[m.end():], f"token:{m.group()[:12]!r}->{new[:12]!r}@{m.start()}"


def m_lines(data, rng):
    lines = data.split(b"\n")
    i = rng.randrange(len(lines))
    op = rng.choice(("duplicate", "delete", "swap", "repeat", "move"))
    if op == "duplicate":
        lines.insert(i, lines[i])
    elif op == "delete":
        del lines[i]
    elif op == "swap":
        j = rng.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
        op = f"swap{j}"
    elif op == "repeat":
        k = rng.randint(2, 50)
        lines[i:i + 1] = [lines[i]] * k
        op = f"repeat{k}"
    else:
        line = lines.pop(i)
        lines.insert(rng.randrange(len(lines) + 1), line)
    return b"\n".join(lines), f"line-{op}@{i}"


def m_chunk(data, rng):
    if not data:
        return m_insert(data, rng)
    a = rng.randrange(len(data))
    b = min(len(data), a + rng.randint(1, 2048))
    i = _pos(rng, data, end=True)
    return data[:i] + data[a:b] + data[i:], f"chunk[{a}:{b}]->@{i}"


TEXT_MUTATORS = ((m_flip, 2), (m_truncate, 1), (m_insert, 2), (m_number, 4), (m_token, 2), (m_lines, 2),
                 (m_chunk, 1))


def _weighted(rng, items):
    total = sum(w for _, w in items)
    r = rng.random() * total
    for it, w in items:
        r -= w
        if r < 0:
            return it
    return items[-1][0]


def mutate_text(data, rng, max_ops=3):
    steps = []
    for _ in range(rng.randint(1, max_ops)):
        data, d = _weighted(rng, TEXT_MUTATORS)(data, rng)
        steps.append(d)
    return data, steps


def bif_blowup(text, rng):
    """Append variables and a probability block whose table has ``states ** parents`` entries
    (a few hundred bytes of text declaring up to terabytes)."""
    parents, states = rng.choice(((11, 10), (8, 10), (25, 2), (29, 2), (40, 3)))
    names = ", ".join(f"s{i}" for i in range(states))
    out = [text.decode("latin1"), ""]
    for i in range(parents):
        out.append(f"variable fz{i} {{\n  type discrete [ {states} ] {{ {names} }};\n}}")
        out.append(f"probability ( fz{i} ) {{\n  table {', '.join(['1'] + ['0'] * (states - 1))};\n}}")
    out.append("variable fzc {\n  type discrete [ 2 ] { y, n };\n}")
    out.append(f"probability ( fzc | {', '.join(f'fz{i}' for i in range(parents))} ) {{\n  default 0.5, 0.5;\n}}")
    return "\n".join(out).encode("latin1"), f"bif-blowup:{states}^{parents}"


# ----------------------------------------------------------------------------- gzip
def mutate_gzip(data, rng, bombs):
    """``data`` is a gzip file."""
    r = rng.random()
    if bombs and r < 0.015:
        name, raw = rng.choice(bombs)
        return raw, [f"gzip-bomb:{name}"]
    if r < 0.5:
        text, steps = mutate_text(gzip.decompress(data), rng)
        return gzip.compress(text, mtime=0), ["text"] + steps + ["gzip"]
    if r < 0.6:
        text, steps = mutate_text(gzip.decompress(data), rng)
        out, more = _corrupt_gzip(gzip.compress(text, mtime=0), rng)
        return out, ["text"] + steps + ["gzip"] + more
    return _corrupt_gzip(data, rng)


def _corrupt_gzip(data, rng):
    op = rng.choice(("flip-body", "flip-header", "truncate", "garbage-tail", "second-member", "bad-crc",
                     "bad-size", "insert"))
    b = bytearray(data)
    if op == "flip-body" and len(b) > 20:
        i = rng.randrange(10, len(b) - 8)
        b[i] ^= rng.randrange(1, 256)
        return bytes(b), [f"gzip-flip-body@{i}"]
    if op == "flip-header":
        i = rng.randrange(min(10, len(b)))
        b[i] ^= 1 << rng.randrange(8)
        return bytes(b), [f"gzip-flip-header@{i}"]
    if op == "truncate":
        i = rng.randrange(len(b) + 1)
        return bytes(b[:i]), [f"gzip-truncate@{i}/{len(b)}"]
    if op == "garbage-tail":
        return bytes(b) + _randbytes(rng, rng.randint(1, 32)), ["gzip-garbage-tail"]
    if op == "second-member":
        return bytes(b) + gzip.compress(rng.choice(NASTY_WORDS + NASTY_NUMBERS), mtime=0), ["gzip-second-member"]
    if op == "bad-crc" and len(b) >= 8:
        b[-8] ^= 0xFF
        return bytes(b), ["gzip-bad-crc"]
    if op == "bad-size" and len(b) >= 4:
        b[-4:] = struct.pack("<I", rng.choice((0, 1, 0xFFFFFFFF)))
        return bytes(b), ["gzip-bad-size"]
    out, d = m_insert(bytes(b), rng)
    return out, ["gzip-" + d]


# ----------------------------------------------------------------------------- npz / zip / npy
def _members(data):
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return [(i.filename, zf.read(i)) for i in zf.infolist()]


def _zip(members, compress=False):
    out = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names are intended
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED) as zf:
            for name, blob in members:
                info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
                zf.writestr(info, blob)
    return out.getvalue()


def _npy(arr):
    out = io.BytesIO()
    np.save(out, arr, allow_pickle=False)
    return out.getvalue()


def _parse_npy(blob):
    """``(header_dict_text, data)`` of a ``.npy`` blob, or None."""
    if not blob.startswith(b"\x93NUMPY") or len(blob) < 10:
        return None
    if blob[6] == 1:
        n = struct.unpack("<H", blob[8:10])[0]
        start = 10
    else:
        n = struct.unpack("<I", blob[8:12])[0]
        start = 12
    return blob[start:start + n], blob[start + n:]


def _load_npy(blob):
    try:
        return np.load(io.BytesIO(blob), allow_pickle=False)
    except Exception:
        return None


HUGE_SHAPES = [repr(s) for s in ((10**12,), (2**40, 2**40), (125_000_000,), (200_000_000,), (3, 10**9), (-1,), (),
                                  (0,), (1,) * 40, 5, (1.5,), (2**63,), (2**64,), (100_000, 100_000), None,
                                  (2**31, 2), (7,))]
ODD_DESCRS = ["<i8", "|b1", "<c16", "<U10", "|S3", "|O", "<M8[s]", "<m8[D]", "<f2", "|V8", "<f99", "bogus",
              "[('a', '<f8')]", "<u8", ">f8", "|i1", "<U0", "", "<f8"]


def _edit_header(blob, rng):
    parsed = _parse_npy(blob)
    if parsed is None:
        return m_flip(blob, rng)[0], "npy-not-parsed-flip"
    header, data = parsed
    text = header.decode("latin1")
    op = rng.choice(("shape", "shape", "descr", "fortran", "flip", "version", "data-truncate", "data-extend"))
    if op == "shape":
        new = rng.choice(HUGE_SHAPES)
        text2 = re.sub(r"'shape': \([^)]*\)", f"'shape': {new}", text)
        return _npy_wrap(text2.strip().encode("latin1")) + data, f"npy-shape={new[:40]}"
    if op == "descr":
        new = rng.choice(ODD_DESCRS)
        lit = new if new.startswith("[") else repr(new)
        text2 = re.sub(r"'descr': ('[^']*'|\[.*?\])", f"'descr': {lit}", text)
        return _npy_wrap(text2.strip().encode("latin1")) + data, f"npy-descr={new}"
    if op == "fortran":
        text2 = text.replace("False", "True") if "False" in text else text.replace("True", "'yes'")
        return _npy_wrap(text2.strip().encode("latin1")) + data, "npy-fortran"
    if op == "flip":
        h, d = m_flip(header, rng)
        return blob[:len(blob) - len(data) - len(header)] + h + data, "npy-header-" + d
    if op == "version":
        b = bytearray(blob)
        b[6] = rng.choice((0, 2, 3, 9))
        return bytes(b), f"npy-version={b[6]}"
    if op == "data-truncate":
        i = rng.randrange(len(data) + 1)
        return blob[:len(blob) - len(data)] + data[:i], f"npy-data-truncate@{i}/{len(data)}"
    return blob + _randbytes(rng, rng.randint(1, 64)), "npy-data-extend"


def _other_array(arr, rng):
    """An array of another shape, dtype or content than ``arr``."""
    a = np.asarray(arr)
    op = rng.choice(("dtype", "dtype", "shape", "values", "scalar", "empty", "unrelated", "strings"))
    if op == "dtype":
        dt = rng.choice(("int8", "int64", "uint64", "bool", "float32", "float16", "complex128", "<U3", "S3",
                         "datetime64[s]"))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return a.astype(dt), f"array-dtype={dt}"
        except (TypeError, ValueError, OverflowError):
            return np.zeros(a.shape, dtype=dt), f"array-zeros-dtype={dt}"
    if op == "shape":
        choices = [a.reshape(-1), a[None], a.T, np.concatenate([a.reshape(-1)] * 2)]
        if a.ndim >= 1 and a.shape[0] > 1:
            choices.append(a[:1])
        if a.ndim >= 2:
            choices.append(a.reshape(a.shape[0], -1)[:, :1])
        k = rng.randrange(len(choices))
        return np.ascontiguousarray(choices[k]), f"array-shape#{k}->{choices[k].shape}"
    if op == "values":
        b = np.array(a, copy=True)
        if b.size and b.dtype.kind in "fc":
            v = rng.choice((np.nan, np.inf, -np.inf, -1.0, 1e308, 0.0, -1e308))
            b.reshape(-1)[rng.randrange(b.size)] = v
            return b, f"array-value={v}"
        if b.size and b.dtype.kind in "iu":
            info = np.iinfo(b.dtype)
            v = rng.choice((info.max, info.min, -1 if b.dtype.kind == "i" else info.max, 2, 1000))
            b.reshape(-1)[rng.randrange(b.size)] = v
            return b, f"array-value={v}"
        return np.full(3, np.nan), "array-nan3"
    if op == "scalar":
        return np.array(rng.choice((0.0, 1, np.nan, -5))), "array-0d"
    if op == "empty":
        return np.zeros((0,) + a.shape[1:], dtype=a.dtype) if a.ndim else np.zeros(0), "array-empty"
    if op == "strings":
        return np.array(["a", "bb"]), "array-strings"
    shape = tuple(rng.randint(0, 4) for _ in range(rng.randint(1, 3)))
    return np.ones(shape), f"array-unrelated{shape}"


NASTY_JSON = [None, True, False, 0, -1, 1, 2, 10**9, 10**18, 2**64, -10**12, 1.5, -0.0, math.nan, math.inf,
              -math.inf, "", "0", "x", "PCD", "SGD", [], [0], [[0, 1]], {}, {"t": "int", "v": 0},
              {"t": "str", "v": None}, [10**6] * 3, [-1, -1], "\u00e9", [None], {"type": "PCD"}]


def _json_paths(obj, path=(), out=None, depth=0):
    out = [] if out is None else out
    if depth > 8 or len(out) > 400:
        return out
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.append(path + (k,))
            _json_paths(v, path + (k,), out, depth + 1)
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:20]):
            out.append(path + (i,))
            _json_paths(v, path + (i,), out, depth + 1)
    return out


def mutate_json(meta, rng):
    """Edit a JSON document (a parsed ``__meta__``): returns the new document and a description."""
    paths = _json_paths(meta)
    if not paths or rng.random() < 0.05:
        new = rng.choice(([], 0, "x", None, [meta]))
        return new, f"json-root={json.dumps(new)[:30]}"
    path = rng.choice(paths)
    parent = meta
    for p in path[:-1]:
        parent = parent[p]
    key = path[-1]
    where = "/".join(map(str, path))
    old = parent[key]
    op = rng.random()
    if op < 0.25:
        del parent[key]
        return meta, f"json-delete:{where}"
    if op < 0.75:
        new = rng.choice(NASTY_JSON)
        parent[key] = json.loads(json.dumps(new))
        return meta, f"json-set:{where}={json.dumps(new)[:30]}"
    if op < 0.85 and isinstance(old, (int, float)) and not isinstance(old, bool):
        new = old + rng.choice((-1, 1, -old - 1, 10**6))
        parent[key] = new
        return meta, f"json-number:{where}={new}"
    if op < 0.92:
        parent[key] = str(old) if not isinstance(old, str) else [old]
        return meta, f"json-retype:{where}"
    if isinstance(old, list) and old:
        parent[key] = old + old[:1] * rng.randint(1, 5)
        return meta, f"json-extend:{where}"
    parent[key] = [old]
    return meta, f"json-wrap:{where}"


def _meta_blob(rng, members):
    for name, blob in members:
        if name == "__meta__.npy":
            arr = _load_npy(blob)
            if arr is not None:
                try:
                    return json.loads(str(arr))
                except ValueError:
                    return None
    return None


def mutate_npz(data, rng, bombs):
    """``data`` is an ``np.savez`` file (a zip of ``.npy`` members, one ``__meta__`` JSON)."""
    members = _members(data)
    r = rng.random()
    if bombs and r < 0.004:
        name, crc, comp, size = rng.choice(bombs)
        target = rng.choice([m for m, _ in members if m != "__meta__.npy"] or ["x.npy"])
        entries = [(n, 8, crc, comp, size) if n == target else (n, 0, zlib.crc32(b), b, len(b)) for n, b in members]
        return _raw_zip(entries), [f"npz-bomb:{name}->{target}"]
    if r < 0.30:
        meta = _meta_blob(rng, members)
        if meta is None:
            return m_flip(data, rng)[0], ["npz-flip(no meta)"]
        steps = []
        for _ in range(rng.randint(1, 2)):
            meta, d = mutate_json(meta, rng)
            steps.append(d)
        text = json.dumps(meta)
        members = [(n, _npy(np.array(text)) if n == "__meta__.npy" else b) for n, b in members]
        return _zip(members), steps
    if r < 0.38:
        new, d = rng.choice((
            (lambda: (np.array("{not json"), "meta-not-json")),
            (lambda: (np.array("[1, 2]"), "meta-json-list")),
            (lambda: (np.array("7"), "meta-json-number")),
            (lambda: (np.array('"pgmc-model"'), "meta-json-string")),
            (lambda: (np.array(7), "meta-int-array")),
            (lambda: (np.array(b'{"format": 1}'), "meta-bytes-array")),
            (lambda: (np.array(["{}", "{}"]), "meta-1d-strings")),
            (lambda: (np.array(""), "meta-empty")),
            (lambda: (np.array('{"format": "pgmc-model", "version": 1}'), "meta-minimal")),
        ))()
        members = [(n, _npy(new) if n == "__meta__.npy" else b) for n, b in members]
        return _zip(members), [d]
    if r < 0.52:
        i = rng.randrange(len(members))
        name, blob = members[i]
        arr = _load_npy(blob)
        if arr is None:
            return m_flip(data, rng)[0], ["npz-flip"]
        new, d = _other_array(arr, rng)
        members[i] = (name, _npy(new))
        return _zip(members), [f"{name}:{d}"]
    if r < 0.66:
        i = rng.randrange(len(members))
        name, blob = members[i]
        new, d = _edit_header(blob, rng)
        members[i] = (name, new)
        return _zip(members), [f"{name}:{d}"]
    if r < 0.78:
        op = rng.choice(("delete", "delete", "duplicate", "rename", "add", "swap", "member-flip", "member-truncate"))
        i = rng.randrange(len(members))
        name, blob = members[i]
        if op == "delete":
            del members[i]
        elif op == "duplicate":
            alt = _npy(_other_array(_load_npy(blob) if _load_npy(blob) is not None else np.zeros(2), rng)[0])
            members.append((name, alt))
        elif op == "rename":
            new = rng.choice((name[:-4], name + ".npy", "../" + name, "", name.upper(), "extra/" + name,
                              "param/" + name, "__meta__.npy"))
            members[i] = (new, blob)
            op = f"rename->{new!r}"
        elif op == "add":
            new = rng.choice(("param/zz.npy", "objective/zz.npy", "optimizer/zz.npy", "own/zz.npy", "extra/zz.npy",
                              "factor_99.npy", "cpd_99.npy", "param_zz.npy", "swap_rng_state.npy", "step_size.npy",
                              "zz.npy"))
            members.append((new, _npy(np.zeros(rng.choice(((2,), (4, 4), (3, 4), ()))))))
            op = f"add:{new}"
        elif op == "swap":
            j = rng.randrange(len(members))
            other = members[j][0]
            members[i], members[j] = (name, members[j][1]), (other, blob)
            op = f"swap-data-with:{other}"
        elif op == "member-flip":
            members[i] = (name, m_flip(blob, rng)[0])
        else:
            members[i] = (name, blob[:rng.randrange(len(blob) + 1)])
        return _zip(members), [f"npz-{op}:{name}"]
    if r < 0.85:
        # corrupt member data in place: the CRC no longer matches (or, deflated, the stream breaks)
        compress = rng.random() < 0.5
        z = _zip(members, compress=compress)
        with zipfile.ZipFile(io.BytesIO(z)) as zf:
            info = rng.choice(zf.infolist())
        start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
        if info.compress_size == 0:
            return z, ["npz-crc(empty member)"]
        b = bytearray(z)
        k = start + rng.randrange(info.compress_size)
        b[k] ^= rng.randrange(1, 256)
        return bytes(b), [f"npz-{'deflated-' if compress else ''}corrupt-member:{info.filename}@{k}"]
    if r < 0.90:
        choice = rng.choice(("npy", "empty", "text", "pickle-npy"))
        if choice == "npy":
            return members[0][1], ["npz-replaced-by-npy"]
        if choice == "empty":
            return b"", ["npz-empty-file"]
        if choice == "text":
            return b"MARKOV 1 2 1 1 0 2 1 1\n", ["npz-replaced-by-text"]
        return _npy_header("|O", (1,)) + b"\x80\x04K\x01.", ["npz-replaced-by-object-npy"]
    out, steps = mutate_text(data, rng, max_ops=2)
    return out, ["raw-" + s for s in steps]


# ----------------------------------------------------------------------------- the mutation of a kind
def mutate(kind, seed, rng, bombs=None):
    """A mutated input of ``kind`` from ``seed`` (:class:`Seed`): ``(bytes, [steps])``.

    ``bombs``: the ``"_bombs"`` entry of :func:`build_corpus` (or None: no bombs)."""
    bombs = bombs or {"gz": [], "npz": []}
    if kind in ("bif", "bif_gz") and rng.random() < 0.03:
        text = gzip.decompress(seed.data) if kind == "bif_gz" else seed.data
        text, step = bif_blowup(text, rng)
        return (gzip.compress(text, mtime=0) if kind == "bif_gz" else text), [step]
    if kind == "bif_gz":
        return mutate_gzip(seed.data, rng, bombs["gz"])
    if kind in NPZ_KINDS:
        return mutate_npz(seed.data, rng, bombs["npz"])
    if kind == "uai" and rng.random() < 0.12:
        # read_uai also reads gzip-compressed files: mutate those too (and the bombs)
        return mutate_gzip(gzip.compress(seed.data, mtime=0), rng, bombs["gz"])
    data, steps = mutate_text(seed.data, rng)
    return data, steps


def make_case(seed, index, corpus, bombs=True):
    """Input number ``index`` of the run seeded ``seed``: a dict with ``kind``, ``base`` (the
    seed's name), ``data``, ``steps`` and ``ctx``.  Kinds take turns."""
    rng = random.Random(f"pgm-fuzz:{seed}:{index}")
    kind = KINDS[index % len(KINDS)]
    base = rng.choice(corpus[kind])
    data, steps = mutate(kind, base, rng, corpus["_bombs"] if bombs else None)
    return {"kind": kind, "base": base.name, "data": data, "steps": steps, "ctx": base.ctx, "index": index}


# ----------------------------------------------------------------------------- readers
def read_input(kind, path, ctx):
    """Run the reader of ``kind`` on ``path`` and ``repr`` what it returns."""
    import estimators
    import pgm
    import samplers

    if kind == "uai":
        out = pgm.read_uai(path)
    elif kind == "uai_evid":
        out = pgm.read_evidence(path, ctx["n"], ctx["cards"])
    elif kind == "mar":
        out = pgm.read_marginals(path)
    elif kind == "map":
        out = pgm.read_map(path)
    elif kind == "pr":
        out = pgm.read_pr(path)
    elif kind in ("bif", "bif_gz"):
        out = pgm.read_bif(path)
    elif kind == "model_npz":
        out = pgm.load(path)
    elif kind == "chain_state":
        out = samplers.ChainState.load(path)
    elif kind == "checkpoint_load":
        out = estimators.load_checkpoint(path)
    elif kind == "checkpoint_resume":
        model, x, obj, opt = _setups()[ctx["setup"]]()
        seen = []

        def guard(epoch, model, history):
            seen.append(epoch)
            if len(seen) > 4 * CHECKPOINT_EPOCHS:
                raise Runaway(f"resumed fit ran {len(seen)} epochs of {CHECKPOINT_EPOCHS} (epoch {epoch})")

        out = estimators.fit(model, x, obj, opt, epochs=CHECKPOINT_EPOCHS, checkpoint=path, resume=True,
                             callbacks=[guard], **FIT_OPTIONS)
    else:
        raise KeyError(kind)
    repr(out)
    return out
