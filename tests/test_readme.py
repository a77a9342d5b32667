"""The ```python snippets of README.md run, and print what their comments say.

Each block is executed in a fresh namespace (cwd = repository root, stdout captured).  Every
``print(...)`` line of a block must carry a comment whose first part — up to the first run of
two spaces, the rest being free annotation — is the expected output: its numbers (and
``True`` / ``False`` / ``nan``) are compared in order with those of the printed line.  A number
written with ``d`` decimals must agree to half a unit of its last digit (``...`` after it: the
printed value starts with those digits), never tighter than a relative 1e-6 — exact results are
written with enough digits that this is their tolerance, results of seeded stochastic runs with
the digits the README shows.  Blocks that read ``../shared/...`` files are skipped when those are
absent.
"""

import ast
import contextlib
import io
import math
import pathlib
import re
import tokenize

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

_BLOCK = re.compile(r"^```python[ \t]*\n(.*?)^```", re.M | re.S)
_SHARED = re.compile(r"""["'](\.\./shared/[^"']+)["']""")
_VALUE = re.compile(
    r"(?<![\w.])(?:True|False|[-+]?nan|[-+]?inf"
    r"|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?:\.\.\.)?)(?![\w])"
)
REL = 1e-6


def _blocks():
    text = README.read_text(encoding="utf-8")
    out = []
    for m in _BLOCK.finditer(text):
        line = text.count("\n", 0, m.start()) + 2       # first code line, 1-based
        out.append(pytest.param(m.group(1), id=f"README.md:{line}"))
    return out


def _print_comments(code):
    """``[(lineno, expected text)]`` for each top-level ``print(...)`` statement, in order."""
    comments = {}
    for tok in tokenize.generate_tokens(io.StringIO(code).readline):
        if tok.type == tokenize.COMMENT:
            comments[tok.start[0]] = tok.string.lstrip("#").strip()
    out = []
    for node in ast.parse(code).body:
        call = node.value if isinstance(node, ast.Expr) else None
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "print":
            comment = comments.get(node.end_lineno) or comments.get(node.lineno)
            assert comment, f"snippet line {node.lineno}: print(...) without a '# expected output' comment"
            out.append((node.lineno, re.split(r"\s{2,}", comment, maxsplit=1)[0]))
    return out


def _values(text):
    return _VALUE.findall(text.replace("≈", " ").replace("−", "-"))


def _matches(printed, expected):
    """Whether one printed token agrees with the README's token (see the module docstring)."""
    if expected in ("True", "False") or printed in ("True", "False"):
        return printed == expected
    truncated = expected.endswith("...")
    e_text = expected[:-3] if truncated else expected
    e, p = float(e_text), float(printed)
    if math.isnan(e) or math.isnan(p):
        return math.isnan(e) and math.isnan(p)
    if math.isinf(e) or math.isinf(p):
        return e == p
    mantissa, _, exponent = e_text.lower().lstrip("+-").partition("e")
    decimals = len(mantissa.partition(".")[2]) - int(exponent or 0)
    unit = 10.0 ** -decimals
    if abs(p - e) <= REL * abs(e):
        return True
    if truncated:                      # the printed value starts with the shown digits
        return 0 <= (abs(p) - abs(e)) < unit * (1 + 1e-9) and (p >= 0) == (e >= 0)
    return abs(p - e) <= 0.5 * unit * (1 + 1e-9)


@pytest.mark.parametrize(
    "printed, expected, ok",
    [("390.077166473775", "390.077166", True), ("390.078", "390.077166", False),
     ("0.0101", "0.0101", True), ("0.035", "0.02", False), ("0.078", "0.02", False),
     ("0.7823", "0.782", True), ("0.7826", "0.782", False), ("-6.9093", "-6.9093", True),
     ("0.123499", "0.1234...", True), ("0.12339", "0.1234...", False), ("0.12351", "0.1234...", False),
     ("1284", "1284", True), ("1285", "1284", False), ("True", "True", True), ("False", "True", False)],
)
def test_comparison_rule(printed, expected, ok):
    assert _matches(printed, expected) is ok


def test_readme_has_snippets():
    assert len(_blocks()) >= 4


@pytest.mark.parametrize("code", _blocks())
def test_readme_snippet(code, monkeypatch):
    missing = [p for p in _SHARED.findall(code) if not (ROOT / p).resolve().exists()]
    if missing:
        pytest.skip(f"needs {missing[0]} (absent)")
    expected = _print_comments(code)
    monkeypatch.chdir(ROOT)
    try:                               # BLAS threads only slow these small products down on a
        from threadpoolctl import threadpool_limits      # loaded machine; results do not change
        limits = threadpool_limits(1)
    except ImportError:
        limits = contextlib.nullcontext()
    buffer = io.StringIO()
    with limits, contextlib.redirect_stdout(buffer):
        exec(compile(code, str(README), "exec"), {"__name__": "__readme__"})
    lines = buffer.getvalue().splitlines()
    assert len(lines) == len(expected), f"printed {len(lines)} lines, comments for {len(expected)}:\n{buffer.getvalue()}"
    for line, (lineno, comment) in zip(lines, expected):
        got, want = _values(line), _values(comment)
        assert want, f"snippet line {lineno}: comment {comment!r} states no value"
        assert len(got) == len(want), f"snippet line {lineno}: printed {line!r}, README says {comment!r}"
        bad = [(g, w) for g, w in zip(got, want) if not _matches(g, w)]
        assert not bad, f"snippet line {lineno}: printed {line!r}, README says {comment!r}"
