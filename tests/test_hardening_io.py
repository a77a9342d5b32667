"""Regression tests of issue 16 ("Hardening"), items 2, 3, 4 and the file parts of 9: every
reader and loader turns a malformed file into a typed error naming the file, sizes declared by a
file are checked before anything of that size is allocated, and number syntax is strict.

Memory is measured with :mod:`tracemalloc` (numpy reports its array data there too)."""

import contextlib
import gzip
import io
import json
import time
import tracemalloc
import zipfile

import numpy as np
import pytest

import estimators as E
import pgm
import samplers
from pgm.errors import EvidenceError, ParseError

MiB = 2**20


@contextlib.contextmanager
def peak_memory():
    """``with peak_memory() as mem: ...`` then ``mem["MiB"]``: the peak traced allocation."""
    out = {}
    tracemalloc.start()
    try:
        yield out
    finally:
        out["MiB"] = tracemalloc.get_traced_memory()[1] / MiB
        tracemalloc.stop()


def raises_naming(path, fn, *args, error=ParseError, match=None, **kwargs):
    """``fn(*args)`` raises ``error`` whose message names ``path`` (and matches ``match``)."""
    with pytest.raises(error, match=match) as info:
        fn(*args, **kwargs)
    assert str(path) in str(info.value), str(info.value)
    return info.value


# ----------------------------------------------------------------------------- npz helpers
def npy(arr):
    out = io.BytesIO()
    np.save(out, arr, allow_pickle=False)
    return out.getvalue()


def npy_header(descr, shape):
    """A ``.npy`` version 1.0 header (no data) declaring ``descr`` and ``shape``."""
    text = ("{'descr': %r, 'fortran_order': False, 'shape': %r, }" % (descr, tuple(shape))).encode()
    pad = (-(10 + len(text) + 1)) % 64
    text += b" " * pad + b"\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text


def members(path):
    with zipfile.ZipFile(path) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def write_zip(path, items, deflated=()):
    with zipfile.ZipFile(path, "w") as zf:
        for name, blob in items.items():
            zf.writestr(name, blob, zipfile.ZIP_DEFLATED if name in deflated else zipfile.ZIP_STORED)
    return path


def with_meta(path, out, edit):
    """A copy of the npz ``path`` at ``out`` whose JSON ``__meta__`` went through ``edit``."""
    items = members(path)
    meta = json.loads(str(np.load(io.BytesIO(items["__meta__.npy"]), allow_pickle=False)))
    meta = edit(meta)
    items["__meta__.npy"] = npy(np.array(json.dumps(meta)))
    return write_zip(out, items)


def with_arrays(path, out, **arrays):
    """A copy of the npz ``path`` at ``out`` with arrays replaced (``None`` deletes one)."""
    items = members(path)
    for name, arr in arrays.items():
        key = name.replace("__", "/") + ".npy" if "__" in name and name != "__meta__" else name + ".npy"
        if arr is None:
            del items[key]
        else:
            items[key] = arr if isinstance(arr, bytes) else npy(arr)
    return write_zip(out, items)


# ----------------------------------------------------------------------------- item 2: loaders
def _saved_model(tmp_path):
    path = tmp_path / "model.npz"
    pgm.MarkovNetwork([pgm.DiscreteFactor(["a", "b"], [[1.0, 2.0], [3.0, 4.0]])], evidence={"b": 1}).save(path)
    return path


def _saved_state(tmp_path):
    path = tmp_path / "state.npz"
    rng = np.random.default_rng(0)
    samplers.ChainState(rng.integers(0, 2, (3, 5)), rng.integers(1, 2**63, (3, 4), dtype=np.uint64),
                        step_size=[0.1, 0.2, 0.3]).save(path)
    return path


def _bm():
    rng = np.random.default_rng(0)
    w = np.triu(rng.normal(0, 0.3, (4, 4)), 1)
    return pgm.BoltzmannMachine(w + w.T, rng.normal(0, 0.3, 4))


def _binary():
    return np.random.default_rng(1).integers(0, 2, (32, 4)).astype(float)


SETUPS = {"sgd": lambda: (_bm(), _binary(), E.PCD(k=1, chains=3), E.SGD(0.05, momentum=0.9)),
          "adam": lambda: (_bm(), _binary(), E.CD(k=1), E.Adam(0.01))}
FIT = dict(batch_size=16, seed=3, progress=False)


def _checkpoint(tmp_path, setup="sgd"):
    path = tmp_path / f"ckpt-{setup}.npz"
    model, x, obj, opt = SETUPS[setup]()
    E.fit(model, x, obj, opt, epochs=2, checkpoint=path, **FIT)
    return path


LOADERS = {"pgm.load": (pgm.load, _saved_model),
           "ChainState.load": (samplers.ChainState.load, _saved_state),
           "load_checkpoint": (E.load_checkpoint, _checkpoint)}


@pytest.mark.parametrize("loader", sorted(LOADERS))
def test_npz_loaders_turn_every_corrupt_archive_into_a_parse_error_naming_the_file(loader, tmp_path):
    """Was: zipfile.BadZipFile, TypeError (a .npy file), AttributeError (``__meta__`` a JSON
    list), json.JSONDecodeError, MemoryError / OverflowError (a header declaring a huge shape),
    ValueError (object arrays), and numpy's advice to set ``allow_pickle``."""
    load, make = LOADERS[loader]
    good = make(tmp_path)
    raw = good.read_bytes()
    first = next(n for n in members(good) if n != "__meta__.npy")
    cases = {
        "garbage": b"garbage",
        "zip-magic-then-garbage": b"PK\x03\x04" + b"garbage" * 10,
        "truncated": raw[:len(raw) // 2],
        "empty": b"",
        "npy": npy(np.zeros(3)),
    }
    for name, data in cases.items():
        path = tmp_path / f"{name}.npz"
        path.write_bytes(data)
        err = raises_naming(path, load, path)
        assert "allow_pickle" not in str(err)
    archives = {
        "meta-json-list": {"__meta__.npy": npy(np.array("[1, 2]"))},
        "meta-2d-floats": {"__meta__.npy": npy(np.zeros((2, 2)))},
        "meta-not-json": {"__meta__.npy": npy(np.array("{not json"))},
        "object-array": {first: npy_header("|O", (1,)) + b"\x80\x04K\x01."},
        "huge-declared-shape": {first: npy_header("<f8", (2**40,)) + bytes(64)},
        "header-lies-about-size": {first: npy_header("<f8", (1000,)) + bytes(16)},
        "corrupt-header": {first: b"\x93NUMPY\x01\x00\x10\x00{'descr': '<f8'\n"},
        "not-npy-member": {"readme.txt": b"hello"},
    }
    for name, change in archives.items():
        path = write_zip(tmp_path / f"{name}.npz", {**members(good), **change})
        raises_naming(path, load, path)


def test_saved_model_records_are_validated(tmp_path):
    """Was: AttributeError, KeyError (a missing array), IndexError (evidence / scope indices),
    TypeError (an unhashable kind) and the model classes' own errors, untyped."""
    good = _saved_model(tmp_path)
    edits = {
        "variables-not-records": lambda m: {**m, "variables": [1, 2]},
        "variables-missing": lambda m: {k: v for k, v in m.items() if k != "variables"},
        "duplicate-variable": lambda m: {**m, "variables": [m["variables"][0]] * 2},
        "evidence-index-out-of-range": lambda m: {**m, "evidence": [[5, 1]]},
        "evidence-state-out-of-range": lambda m: {**m, "evidence": [[1, 7]]},
        "evidence-not-pairs": lambda m: {**m, "evidence": {"b": 1}},
        "scope-out-of-range": lambda m: {**m, "factors": [[0, 9]]},
        "scope-repeats": lambda m: {**m, "factors": [[0, 0]]},
        "cardinalities-short": lambda m: {**m, "cardinalities": [2]},
        "cardinality-zero": lambda m: {**m, "cardinalities": [2, 0]},
        "cardinality-wrong": lambda m: {**m, "cardinalities": [2, 3]},
        "kind-unhashable": lambda m: {**m, "kind": ["MarkovNetwork"]},
        "kind-unknown": lambda m: {**m, "kind": "Banana"},
        "extra-factor": lambda m: {**m, "factors": [[0, 1], [0]]},
    }
    for name, edit in edits.items():
        path = with_meta(good, tmp_path / f"{name}.npz", edit)
        raises_naming(path, pgm.load, path)
    for name, arrays in {"missing-array": {"factor_0": None},
                         "nan-table": {"factor_0": np.full((2, 2), np.nan)},
                         "string-table": {"factor_0": np.array([["a", "b"], ["c", "d"]])},
                         "unexpected-array": {"zz": np.zeros(2)}}.items():
        path = with_arrays(good, tmp_path / f"{name}.npz", **arrays)
        raises_naming(path, pgm.load, path)
    bn = tmp_path / "bn.npz"
    pgm.BayesianNetwork([pgm.TabularCPD("a", 2, [0.3, 0.7]), pgm.LogisticCPD("b", ["a"], [1.5], -0.5),
                         pgm.LinearGaussianCPD("g", ["a"], [2.0], 1.0, 0.5)]).save(bn)
    for name, edit in {
        "cpd-type": lambda m: {**m, "cpds": [{**m["cpds"][0], "type": "Banana"}] + m["cpds"][1:]},
        "cpds-short": lambda m: {**m, "cpds": m["cpds"][:2]},
        "tabular-parent-not-discrete": lambda m: {**m, "cpds": m["cpds"][:2] + [
            {"type": "TabularCPD", "parents": [2], "cardinality": 2}]},
        "parent-is-self": lambda m: {**m, "cpds": [{**m["cpds"][0], "parents": [0]}] + m["cpds"][1:]},
        "variance-negative": lambda m: {**m, "cpds": m["cpds"][:2] + [{**m["cpds"][2], "variance": -1}]},
        "bias-not-a-number": lambda m: {**m, "cpds": [m["cpds"][0], {**m["cpds"][1], "bias": "x"}, m["cpds"][2]]},
        "state-names-bad": lambda m: {**m, "cpds": [{**m["cpds"][0], "state_names": {"9": ["x", "y"]}}]
                                      + m["cpds"][1:]},
    }.items():
        path = with_meta(bn, tmp_path / f"bn-{name}.npz", edit)
        raises_naming(path, pgm.load, path)
    assert pgm.load(bn).variables == ["a", "b", "g"]


def test_chain_state_arrays_are_validated(tmp_path):
    """Was: a 1-D ``x`` or float random streams loaded silently (``repr`` then raised
    IndexError, the sampler failed later)."""
    good = _saved_state(tmp_path)
    x = np.zeros((3, 5))
    rng = np.ones((3, 4), dtype=np.uint64)
    for name, arrays in {
        "x-1d": {"x": np.zeros(15)},
        "x-nan": {"x": np.full((3, 5), np.nan)},
        "x-strings": {"x": np.array([["a"] * 5] * 3)},
        "rng-float": {"rng_state": rng.astype(float)},
        "rng-rows": {"rng_state": np.ones((2, 4), dtype=np.uint64)},
        "rng-missing": {"rng_state": None},
        "swap-rows-do-not-divide": {"swap_rng_state": np.ones((2, 4), dtype=np.uint64)},
        "step-negative": {"step_size": np.array([0.1, -0.2, 0.3])},
        "step-length": {"step_size": np.array([0.1, 0.2])},
        "unexpected": {"zz": x},
    }.items():
        path = with_arrays(good, tmp_path / f"{name}.npz", **arrays)
        raises_naming(path, samplers.ChainState.load, path)
    state = samplers.ChainState.load(good)
    assert repr(state) == "ChainState(chains=3, n_vars=5)" and state.step_size.tolist() == [0.1, 0.2, 0.3]


def _edit_checkpoint(src, dst, meta=None, **arrays):
    items = members(src)
    if meta is not None:
        m = json.loads(str(np.load(io.BytesIO(items["__meta__.npy"]), allow_pickle=False)))
        items["__meta__.npy"] = npy(np.array(json.dumps(meta(m))))
    for name, arr in arrays.items():
        key = name.replace("__", "/") + ".npy"
        if arr is None:
            del items[key]
        else:
            items[key] = npy(arr)
    return write_zip(dst, items)


def _resume(path, setup="sgd"):
    model, x, obj, opt = SETUPS[setup]()
    before = {k: np.array(v, copy=True) for k, v in model.params.items()}
    try:
        E.fit(model, x, obj, opt, epochs=4, checkpoint=path, resume=True, **FIT)
    finally:
        _resume.unchanged = all(np.array_equal(before[k], v) for k, v in model.params.items())


def test_resume_validates_the_optimizer_state_and_leaves_the_run_unchanged(tmp_path):
    """Was: optimiser slots of any shape, NaN, negative second moments, unknown names and a
    non-integer ``t`` were loaded as they were (failing or diverging later, untyped)."""
    good = _checkpoint(tmp_path, "sgd")
    for name, kw in {
        "velocity-shape": {"optimizer__velocity__W": np.zeros((3, 3))},
        "velocity-nan": {"optimizer__velocity__W": np.full((4, 4), np.nan)},
        "velocity-unknown-param": {"optimizer__velocity__zz": np.zeros(4)},
        "slot-kind-unknown": {"optimizer__m__W": np.zeros((4, 4))},
        "param-shape": {"param__W": np.zeros((3, 3))},
        "param-missing": {"param__b": None},
        "t-negative": {"meta": lambda m: {**m, "optimizer_state": {"t": -4}}},
        "t-string": {"meta": lambda m: {**m, "optimizer_state": {"t": "4"}}},
        "rng-state": {"meta": lambda m: {**m, "rng": {"bit_generator": "PCG64", "state": 5}}},
        "objective-state-unknown": {"objective__zz": np.zeros(2)},
    }.items():
        path = _edit_checkpoint(good, tmp_path / f"{name}.npz", **kw)
        raises_naming(path, _resume, path)
        assert _resume.unchanged, name
    adam = _checkpoint(tmp_path, "adam")
    path = _edit_checkpoint(adam, tmp_path / "adam-v-negative.npz", optimizer__v__W=-np.ones((4, 4)))
    raises_naming(path, _resume, path, "adam", match="negative")
    assert _resume.unchanged
    _resume(good)                                  # the unedited checkpoint still resumes


def test_resume_refuses_a_bad_epoch_or_history_and_another_run(tmp_path):
    """Was: ``epoch = -3`` trained 7 epochs where 4 were asked, ``"2"`` raised TypeError, and a
    checkpoint of another run raised a plain ValueError."""
    good = _checkpoint(tmp_path)
    for name, edit in {"epoch-negative": lambda m: {**m, "epoch": -3, "history": []},
                       "epoch-string": lambda m: {**m, "epoch": "2"},
                       "history-short": lambda m: {**m, "history": m["history"][:1]},
                       "history-not-records": lambda m: {**m, "history": [1, 2]},
                       "header-missing-rng": lambda m: {k: v for k, v in m.items() if k != "rng"}}.items():
        path = _edit_checkpoint(good, tmp_path / f"{name}.npz", meta=edit)
        raises_naming(path, _resume, path)
        raises_naming(path, E.load_checkpoint, path)
    model, x, _, opt = SETUPS["sgd"]()
    raises_naming(good, E.fit, model, x, E.PCD(k=1, chains=5), opt, epochs=3, checkpoint=good, resume=True,
                  match="does not match", **FIT)


# ----------------------------------------------------------------------------- item 3: gzip
TEXT_READERS = {"read_uai": pgm.read_uai, "read_bif": pgm.read_bif, "read_evidence": pgm.read_evidence,
                "read_marginals": pgm.read_marginals, "read_map": pgm.read_map, "read_pr": pgm.read_pr}


@pytest.mark.parametrize("reader", sorted(TEXT_READERS))
def test_corrupt_gzip_is_a_parse_error_naming_the_file(reader, tmp_path):
    """Was: zlib.error escaped (a corrupt deflate stream)."""
    data = gzip.compress(b"MARKOV\n2\n2 2\n1\n2 0 1\n4\n1 2 3 4\n" * 50, mtime=0)
    bad_stream = bytearray(data)
    bad_stream[10] ^= 0xFF                         # "invalid code lengths set": a zlib.error
    bad_crc = bytearray(data)
    bad_crc[-8] ^= 0xFF
    for name, blob in {"deflate": bytes(bad_stream), "truncated": data[:30], "crc": bytes(bad_crc),
                       "garbage-tail": data + b"garbage", "header": data[:3] + b"\xff" + data[4:]}.items():
        path = tmp_path / f"{name}.gz"
        path.write_bytes(blob)
        raises_naming(path, TEXT_READERS[reader], path, match="gzip")


# ----------------------------------------------------------------------------- item 4: sizes
def test_a_gzip_bomb_is_refused_at_the_text_limit_without_inflating_it(tmp_path, monkeypatch):
    """Was: ``gzip.decompress`` inflated everything (a 3.1 MB .bif.gz to 3 GiB)."""
    from pgm.io import files

    monkeypatch.setattr(files, "MAX_TEXT_BYTES", 2 * MiB)
    bomb = tmp_path / "bomb.bif.gz"
    bomb.write_bytes(gzip.compress(b"network x {\n}\n" + b" " * (64 * MiB), mtime=0))
    assert bomb.stat().st_size < 100_000
    with peak_memory() as mem:
        raises_naming(bomb, pgm.read_bif, bomb, match="MAX_TEXT_BYTES")
    assert mem["MiB"] < 8, mem
    plain = tmp_path / "big.uai"
    plain.write_bytes(b"MARKOV " + b" " * (3 * MiB))
    raises_naming(plain, pgm.read_uai, plain, match="MAX_TEXT_BYTES")
    assert files.read_text(plain, max_bytes=4 * MiB).startswith("MARKOV")


def test_reading_text_costs_the_text_not_an_object_per_token(tmp_path):
    """Was: the tokenizer built a (token, line) tuple for every token of the file first (~100
    bytes per 2-character number) before looking at any of them."""
    n = 400_000
    good = tmp_path / "table.uai"
    good.write_text(f"MARKOV\n1\n{n}\n1\n1 0\n{n}\n" + "1 " * n)
    with peak_memory() as mem:
        model = pgm.read_uai(good)
    assert model.cardinalities[0] == n
    assert mem["MiB"] < 16, mem                    # text 0.8 MB, table 3.2 MB (the old reader: 41 MiB)
    bad = tmp_path / "bad.uai"
    bad.write_text("MARKOV 1 2 1 1 5 " + "1 " * n)
    with peak_memory() as mem:
        raises_naming(bad, pgm.read_uai, bad, match="names variable 5")
    assert mem["MiB"] < 8, mem


def _bif_with_parents(k, rows=""):
    parents = [f"p{i}" for i in range(k)]
    text = "".join(f"variable {v} {{ type discrete [ 2 ] {{ a, b }}; }}\n" for v in parents + ["c"])
    text += "".join(f"probability ( {v} ) {{ table 0.5, 0.5; }}\n" for v in parents)
    return text + f"probability ( c | {', '.join(parents)} ) {{ {rows} }}\n"


def test_bif_table_larger_than_the_file_can_hold_is_refused_before_allocation(tmp_path):
    """Was: a 1.4 kB file with 25 parents and no rows allocated 512 MiB, then 6.25 GiB in the
    error path (np.argwhere); here 20 parents (16 MiB, then 160 MiB)."""
    path = tmp_path / "wide.bif"
    path.write_text(_bif_with_parents(20))
    with peak_memory() as mem:
        raises_naming(path, pgm.read_bif, path, match="entries")
    assert mem["MiB"] < 4, mem


def test_bif_missing_row_is_reported_without_materialising_every_missing_index(tmp_path):
    """Was: ``np.argwhere`` over all missing configurations (18 parents: 38 MB of indices for a
    4 MB table) to name the first one."""
    path = tmp_path / "missing.bif"
    path.write_text(_bif_with_parents(18, "(" + ", ".join(["a"] * 18) + ") 0.5, 0.5;"))
    with peak_memory() as mem:
        err = raises_naming(path, pgm.read_bif, path, match="no row")
    assert "('b', 'a'" in str(err) or "'b')" in str(err)
    assert mem["MiB"] < 12, mem


def _deflated(path, name, arr):
    """The npz ``path`` with member ``name`` replaced by ``arr``, deflated (a small file)."""
    items = members(path)
    items[name] = npy(arr)
    return write_zip(path, items, deflated={name})


def test_npz_sizes_are_checked_before_any_array_is_inflated(tmp_path, monkeypatch):
    """Was: a 3.1 MB .npz was decompressed to 3.2 GB before any size check.  Now the declared
    sizes (zip directory, .npy headers) meet the limit and the shapes the header record implies
    before any data is read."""
    from pgm.io import files

    zeros = np.zeros(4 * MiB)                      # 32 MiB of float64, deflated to ~32 kB
    model = _deflated(_saved_model(tmp_path), "factor_0.npy", zeros)
    state = _deflated(_saved_state(tmp_path), "x.npy", zeros)
    ckpt = _deflated(_checkpoint(tmp_path), "param/W.npy", zeros)
    assert max(p.stat().st_size for p in (model, state, ckpt)) < 200_000
    for path, load in ((model, pgm.load), (state, samplers.ChainState.load), (ckpt, _resume)):
        with peak_memory() as mem:
            raises_naming(path, load, path, match="shape")
        assert mem["MiB"] < 8, (path, mem)
    monkeypatch.setattr(files, "MAX_NPZ_BYTES", 4 * MiB)
    for path, load in ((model, pgm.load), (state, samplers.ChainState.load), (ckpt, E.load_checkpoint)):
        with peak_memory() as mem:
            raises_naming(path, load, path, match="MAX_NPZ_BYTES")
        assert mem["MiB"] < 4, (path, mem)


def test_settings_may_not_ask_for_more_parameters_than_the_file_stores(tmp_path):
    """Was: ``GaussianEnergy`` settings ``dim=30000`` allocated 6.7 GiB (``np.eye``) before the
    stored arrays were compared; here ``dim=3000`` (72 MB)."""
    path = tmp_path / "g.npz"
    pgm.GaussianEnergy(np.zeros(3), np.eye(3)).save(path)
    for name, settings in {"gaussian": {"dim": 3000}, "gaussian-str": {"dim": "3000"},
                           "gaussian-inf": {"dim": 1e400}}.items():
        bad = with_meta(path, tmp_path / f"{name}.npz", lambda m: {**m, "settings": settings})
        with peak_memory() as mem:
            raises_naming(bad, pgm.load, bad, match="declare")
        assert mem["MiB"] < 4, (name, mem)
    nade = tmp_path / "nade.npz"
    pgm.NADE(4, 3, seed=0).save(nade)
    bad = with_meta(nade, tmp_path / "nade-big.npz", lambda m: {**m, "settings": {"n_visible": 4, "n_hidden": 10**6}})
    with peak_memory() as mem:
        raises_naming(bad, pgm.load, bad, match="declare")
    assert mem["MiB"] < 4, mem
    mpot = tmp_path / "mpot.npz"
    pgm.io.persist._parametric_kinds()["MPoT"](6, 4, 3, 2).save(mpot)
    bad = with_meta(mpot, tmp_path / "mpot-big.npz", lambda m: {**m, "settings": {
        "n_visible": 2000, "n_factors": 1, "n_hidden": 2000, "n_mean_hidden": None}})  # W: 2000 x 2000
    with peak_memory() as mem:
        raises_naming(bad, pgm.load, bad, match="declare")
    assert mem["MiB"] < 4, mem
    fewer = with_meta(path, tmp_path / "g2.npz", lambda m: {**m, "settings": {"dim": 2}})
    raises_naming(fewer, pgm.load, fewer, match="shape")


def _parametric_models():
    from pgm.io.persist import _parametric_kinds

    P = type("Kinds", (), _parametric_kinds())
    return [P.MLPEnergy(3, hidden=(4, 5)), P.MLPEnergy(2, hidden=(3,), dtype=np.float32),
            P.GaussianEnergy(np.zeros(3), np.eye(3)), P.Network((3, 4, 2)), P.FVSBN(5), P.NADE(5, 3),
            P.VAE(6, 2, hidden=(4,)), P.VAE(6, 2, hidden=(4, 3), likelihood="gaussian"),
            P.SigmoidBeliefNet((5, 3, 2)), P.Recognition((5, 3, 2)), P.DAEChain(5, hidden=(4,)),
            P.DAEChain(5, hidden=(4,), likelihood="bernoulli", corruption="salt_pepper", noise=0.2),
            P.DAEChain(5, hidden=(4,), variance=0.5), P.GSN(5, 3, hidden=(4,)), P.GSN(5, 3, likelihood="gaussian"),
            P.GSN(5, 3, likelihood="gaussian", variance=0.3), P.ConditionalRBM(5, 3, 2),
            P.MeanCovarianceRBM(6, 4, 3, 2), P.MPoT(6, 4, 3, 2), P.MPoT(6, 4, 3),
            P.GAN(5, 2, generator_hidden=(4,), discriminator_hidden=(3,)), P.GMMN(5, 2, hidden=(4,))]


def test_every_parametric_kind_round_trips_and_its_settings_formula_is_exact(tmp_path):
    """The settings bound above must never refuse a genuine file: for every kind the number of
    parameters the settings imply (computed without building the model) is what it stores."""
    from pgm.io.persist import _implied_elements, _parametric_kinds

    seen = set()
    for i, m in enumerate(_parametric_models()):
        kind = type(m).__name__
        seen.add(kind)
        stored = sum(int(np.size(v)) for v in m.params.values())
        assert _implied_elements(kind, json.loads(json.dumps(m.settings()))) == stored, kind
        path = tmp_path / f"m{i}.npz"
        m.save(path)
        back = pgm.load(path)
        assert type(back) is type(m)
        for k, v in m.params.items():
            np.testing.assert_array_equal(back.params[k], v)
    assert seen == set(_parametric_kinds())


# ----------------------------------------------------------------------------- item 9: files
def test_read_marginals_checks_probabilities_and_trailing_content(tmp_path):
    """Was: NaN, negative values, vectors not summing to one and trailing junk were accepted."""
    path = tmp_path / "m.MAR"
    for text, match in [("MAR 1 2 nan 0.5", "finite"), ("MAR 1 2 -0.5 1.5", "-0.5"), ("MAR 1 2 1.5 0", "1.5"),
                        ("MAR 1 2 0.2 0.2", "sums to"), ("MAR 1 2 0.5 0.5 junk", "trailing"),
                        ("MAR 2 2 0.5 0.5 1 1 1", "trailing"), ("MAR 1 2 inf 0", "finite")]:
        path.write_text(text)
        raises_naming(path, pgm.read_marginals, path, match=match)
    path.write_text("MAR\n2 2 0.3333 0.6667 3 0.1 0.2 0.7\n")   # rounded: within 1e-3
    assert [m.tolist() for m in pgm.read_marginals(path)] == [[0.3333, 0.6667], [0.1, 0.2, 0.7]]
    path.write_text("MAR\n1 2 0.5 0.5\n-BEGIN-\n1 2 0.1 0.9\n")
    assert pgm.read_marginals(path)[0].tolist() == [0.1, 0.9]


def test_write_marginals_refuses_what_read_marginals_refuses(tmp_path):
    """Was: ``write_marginals`` wrote unnormalised vectors and values above one, which the
    reader then refused."""
    path = tmp_path / "m.MAR"
    for bad in ([[0.2, 0.2]], [[1.5, -0.5]], [[1.2]]):
        with pytest.raises(ValueError, match="marginal 0"):
            pgm.write_marginals(path, bad)
    pgm.write_marginals(path, {0: [0.25, 0.75], 1: np.full(3, 1 / 3)})
    np.testing.assert_allclose(pgm.read_marginals(path)[1], np.full(3, 1 / 3), rtol=1e-11)


def test_read_evidence_out_of_range_is_an_evidence_error_naming_variable_and_domain(tmp_path):
    """Was: IndexError when only ``cardinalities`` were given, and ``read_evidence(path, model)``
    compared indices with the model (TypeError)."""
    path = tmp_path / "e.evid"
    path.write_text("1 5 0\n")
    err = raises_naming(path, pgm.read_evidence, path, cardinalities=[2, 2], error=EvidenceError)
    assert "variable 5" in str(err) and "0..1" in str(err)
    path.write_text("2 0 1\n1 2\n")
    err = raises_naming(path, pgm.read_evidence, path, cardinalities=[2, 2], error=EvidenceError)
    assert "value 2 of variable 1" in str(err) and "0..1" in str(err) and f"{path}:2" in str(err)
    uai = tmp_path / "m.uai"
    uai.write_text("MARKOV\n3\n2 2 3\n1\n2 0 1\n4\n1 2 3 4\n")
    model = pgm.read_uai(uai)
    path.write_text("2 0 1 2 2\n")
    assert pgm.read_evidence(path, model) == {0: 1, 2: 2}
    path.write_text("1 2 3\n")
    raises_naming(path, pgm.read_evidence, path, model, error=EvidenceError, match=r"0\.\.2")
    with pytest.raises(FileNotFoundError):
        pgm.read_evidence(tmp_path / "missing.evid", model)
    with pytest.raises(FileNotFoundError):
        pgm.read_evidence(str(tmp_path / "missing.evid"))
    assert pgm.read_evidence("1\n2 0 1 2 0", cardinalities=[2, 2, 3]) == {0: 1, 2: 0}   # older format
    assert pgm.read_evidence("1 0", cardinalities=[2]) == {} and pgm.read_evidence("0") == {}


@pytest.mark.parametrize("number", ["1_0", "\u0662", "\uff12"])
def test_numbers_are_ascii_only(number, tmp_path):
    """Was: Python's ``int()`` / ``float()`` took ``1_0`` (= 10) and non-ASCII digits, so
    ``MARKOV 1 1_0 …`` read as a variable of 10 states."""
    cases = {
        "c.uai": (pgm.read_uai, f"MARKOV 1 {number} 1 1 0 2 1 1"),
        "t.uai": (pgm.read_uai, f"MARKOV 1 2 1 1 0 2 1 {number}"),
        "s.uai": (pgm.read_uai, f"MARKOV 1 2 1 1 {number} 2 1 1"),
        "e.evid": (pgm.read_evidence, f"1 0 {number}"),
        "m.MAP": (pgm.read_map, f"MAP 2 {number} 1"),
        "m.MAR": (pgm.read_marginals, f"MAR 1 2 0.5 {number}"),
        "m.PR": (pgm.read_pr, f"PR {number}"),
        "k.bif": (pgm.read_bif, f"variable a {{ type discrete [ {number} ] {{ x, y }}; }}\n"
                                "probability ( a ) { table 0.5, 0.5; }"),
        "t.bif": (pgm.read_bif, "variable a { type discrete [ 2 ] { x, y }; }\n"
                                f"probability ( a ) {{ table 0.5, {number}; }}"),
    }
    for name, (read, text) in cases.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        raises_naming(path, read, path)
    for other in ("\u00b2", "0x2", "2e", "+-2", "--2"):        # refused before too
        path = tmp_path / "o.uai"
        path.write_text(f"MARKOV 1 {other} 1 1 0 2 1 1", encoding="utf-8")
        raises_naming(path, pgm.read_uai, path, match="integer")


def test_result_files_refuse_trailing_content_and_keep_the_last_solution(tmp_path):
    """Was: ``read_map`` ignored everything after the last state."""
    path = tmp_path / "m.MAP"
    path.write_text("MAP 2 1 1 junk")
    raises_naming(path, pgm.read_map, path, match="trailing")
    path.write_text(f"MAP 1 {2**64}")
    raises_naming(path, pgm.read_map, path, match="64-bit")
    path.write_text("MPE\n2 1 0\n-BEGIN-\n2 0 1\n")
    assert pgm.read_map(path).tolist() == [0, 1]
    path.write_text("PR\n1e400\n")
    raises_naming(path, pgm.read_pr, path, match="finite")


def test_bif_lexer_comments_quotes_and_non_finite_numbers(tmp_path):
    """Was: an unclosed ``/*`` made the comment regex scan to the end from every opener
    (quadratic: 30 000 openers took 13 s), a lone ``"`` was skipped silently, ``//`` inside a
    quoted name cut the line, and ``nan`` in a table was taken for a missing row."""
    path = tmp_path / "c.bif"
    path.write_text("/* x" * 5000)
    t0 = time.perf_counter()
    raises_naming(path, pgm.read_bif, path, match="unterminated /\\* comment")
    assert time.perf_counter() - t0 < 2
    path.write_text('variable "a { type discrete [ 2 ] { x, y }; }')
    raises_naming(path, pgm.read_bif, path, match="unterminated quoted")
    path.write_text('variable "a//b" { type discrete [ 2 ] { x, y }; } // comment\n'
                    'probability ( "a//b" ) { table 0.25, /* inline */ 0.75; }')
    assert pgm.read_bif(path).variables == ["a//b"]
    path.write_text("variable a { type discrete [ 2 ] { x, y }; }\nprobability ( a ) { table nan, 0.5; }")
    raises_naming(path, pgm.read_bif, path, match="finite number")


def test_a_giant_token_is_refused_and_not_copied_into_the_message(tmp_path):
    """Was: a corrupt file whose 'preamble' was a megabyte-long word put it whole into the
    message (``repr`` of the token)."""
    for name, read in (("x.uai", pgm.read_uai), ("x.bif", pgm.read_bif), ("x.MAR", pgm.read_marginals)):
        path = tmp_path / name
        path.write_text("Q" * MiB)
        err = raises_naming(path, read, path)
        assert len(str(err)) < 400, len(str(err))


def test_write_bif_quotes_names_so_that_they_read_back(tmp_path):
    """Was: names with spaces, commas or ``//`` were written bare, so the file did not parse."""
    bn = pgm.BayesianNetwork([
        pgm.TabularCPD("a b", 2, [0.3, 0.7], state_names={"a b": ["lo w", "hi,gh"]}),
        pgm.TabularCPD("c", 2, [[0.1, 0.6], [0.9, 0.4]], ["a b"], [2],
                       state_names={"a b": ["lo w", "hi,gh"], "c": ["table", "x//y"]})])
    path = tmp_path / "names.bif.gz"
    pgm.write_bif(bn, path, name="my network")
    back = pgm.read_bif(path)
    assert back.variables == ["a b", "c"]
    assert back.cpds["c"].state_names == {"a b": ["lo w", "hi,gh"], "c": ["table", "x//y"]}
    np.testing.assert_allclose(back.cpds["c"].values, bn.cpds["c"].values)
    with pytest.raises(ValueError, match="double quote"):
        pgm.write_bif(pgm.BayesianNetwork([pgm.TabularCPD('say "hi"', 2, [0.5, 0.5])]), tmp_path / "q.bif")
