"""Property-based fuzzing (hypothesis) of the spec loader and both inventory readers.

The property: whatever the document (generated structures in the spec's own vocabulary, mutations of real
files, alias bombs, deep nesting, huge lists, bytes that are not text), loading it either succeeds or raises the
project's own error class with one line, in bounded time and memory; never another exception, never a hang.

The normal suite runs a bounded number of cases (about 15 s); `WIRE_FUZZ_SCALE=N` multiplies them for a long
run (the figures in docs/testing.md come from `WIRE_FUZZ_SCALE=20 pytest -m slow tests/test_fuzz_loaders.py`).
"""

from __future__ import annotations

import os
import resource
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bundler.bundle.spec import load_spec, loads_spec
from bundler.errors import BundleError, SpecError
from bundler.island.preflight import inventory as preflight_inventory
from bundler.island.preflight.rules import PreflightError
from bundler.island.values import inventory as values_inventory
from bundler.island.values.errors import ValuesError

REPO = Path(__file__).resolve().parents[1]
SCALE = int(os.environ.get("WIRE_FUZZ_SCALE", "1"))
PER_CASE_SECONDS = 5.0
# Ansible parses an inventory at about 3 CPU seconds per 20,000 values, and this machine is shared.
INVENTORY_SECONDS = 30.0
MAX_LINE = 1000  # one line an operator can read, not a value echoed whole
STATS: Counter = Counter()


def fuzz_settings(examples: int):
    return settings(max_examples=examples * SCALE, deadline=None, database=None, derandomize=SCALE == 1,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


# --- hostile pieces -----------------------------------------------------------------------------------------


def laughs(levels: int, fan: int) -> str:
    lines = [f"l0: &l0 [{', '.join(['lol'] * fan)}]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * fan)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


HOSTILE = st.one_of(
    st.builds(laughs, st.integers(2, 12), st.integers(2, 12)),
    st.integers(10, 3000).map(lambda n: "[" * n + "]" * n),
    st.integers(10, 3000).map(lambda n: "{a: " * n + "1" + "}" * n),
    st.integers(10, 400).map(lambda n: "".join(" " * i + "k:\n" for i in range(n))),
    st.integers(1000, 60_000).map(lambda n: "[" + ",".join(f"r{i}:1" for i in range(n)) + "]"),
    st.sampled_from([
        "&a [*a]", "*nowhere", "!!python/object/apply:os.system ['true']", "<<: *x", "? [a, b]\n: c", "\t",
        "\x00", "\ufeff", "%YAML 9.9\n---\n", "--- !!binary AAAA", "...", "- - -", ": : :", "'", '"\\', "&", "!",
        "{", "[", "]", "}", "|\n  x", ">-\n", "version: 1\nversion: 1\n", "1e999999", "0x" + "f" * 500,
        "bob:s3cret@reg.example:5000", "a@sha256:" + "a" * 64, "x" * 20_000, "\udcff",
    ]),
)

SPEC_KEYS = ["version", "name", "registries", "images", "refs", "platforms", "exclude", "charts", "debs",
             "files", "toolchain", "mirror", "insecure", "ref", "repo", "values", "targets", "packages", "suite",
             "sources", "uri", "suites", "components", "signed_by", "url", "sha256", "sha512", "path", "python",
             "collections", "quay.io", "docker.io", "baseline", "architecture", "signing_key", "<<"]
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=40),
    st.sampled_from(["quay.io/wire/brig:5.0", "linux/amd64", "https://charts.example/wire", "oci://r/x", "1",
                     "^4.40", "bookworm", "a" * 64, "bob:pw@host:5000", "redis@sha256:" + "b" * 64, "..", "/etc"]),
)
STRUCTURES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=8) | st.dictionaries(st.sampled_from(SPEC_KEYS) | st.text(max_size=10),
                                                                inner, max_size=8),
    max_leaves=80,
)
SPEC_DOCS = st.builds(lambda version, body: {"version": version, **body}, st.sampled_from([1, 1, 1, 2, "1", None]),
                      st.dictionaries(st.sampled_from(SPEC_KEYS), STRUCTURES, max_size=6))


@st.composite
def mutated(draw, base: str) -> str:
    """A real file with a few hostile edits: inserted pieces, cut spans, a truncated tail, a repeated span."""
    text = base
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["insert", "cut", "truncate", "repeat"]))
        if op == "insert":
            text = text[:at] + draw(HOSTILE | st.text(max_size=20)) + text[at:]
        elif op == "cut":
            text = text[:at] + text[at + draw(st.integers(1, 200)):]
        elif op == "truncate":
            text = text[:at]
        else:
            text = text[:at] + text[at:at + 200] * draw(st.integers(2, 50)) + text[at:]
    return text


# --- the property -------------------------------------------------------------------------------------------


def one_line_or_ok(what: str, call, errors: tuple[type[BaseException], ...],
                   seconds: float = PER_CASE_SECONDS) -> None:
    """`call()` succeeds or raises one of `errors` with a single readable line; within the time limit."""
    started = time.monotonic()
    try:
        call()
        STATS[f"{what}: accepted"] += 1
    except errors as exc:
        message = str(exc)
        assert message and "\n" not in message and "\r" not in message, f"{what}: not one line: {message!r}"
        assert len(message) <= MAX_LINE, f"{what}: a {len(message)}-character line: {message[:300]!r}..."
        STATS[f"{what}: refused"] += 1
    took = time.monotonic() - started
    assert took < seconds, f"{what}: took {took:.1f} s"


def max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.fixture(scope="module", autouse=True)
def bounded_memory():
    before = max_rss_mib()
    yield
    grown = max_rss_mib() - before
    print(f"\nfuzz cases: {dict(sorted(STATS.items()))}; peak RSS grew {grown:.0f} MiB")
    assert grown < 600, f"the loaders' peak memory grew {grown:.0f} MiB"


# --- the spec loader ----------------------------------------------------------------------------------------

WIRE_SPEC = (REPO / "examples" / "wire.yaml").read_text()


@fuzz_settings(150)
@given(SPEC_DOCS)
def test_generated_specs(doc):
    text = yaml.safe_dump(doc, allow_unicode=True)
    one_line_or_ok("spec generated", lambda: loads_spec(text, "s.yaml"), (SpecError,))


@fuzz_settings(150)
@given(mutated(WIRE_SPEC))
def test_mutated_wire_spec(text):
    one_line_or_ok("spec mutated", lambda: loads_spec(text, "s.yaml"), (SpecError,))


@fuzz_settings(40)
@given(st.binary(max_size=4000) | mutated(WIRE_SPEC).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_spec_files_of_any_bytes(tmp_path_factory, raw):
    path = tmp_path_factory.mktemp("spec") / "s.yaml"
    path.write_bytes(raw)
    one_line_or_ok("spec file", lambda: load_spec(path), (SpecError,))


# --- the inventory readers ----------------------------------------------------------------------------------

INVENTORY_KEYS = ["all", "hosts", "children", "vars", "ansible_host", "wire_domain", "wire_external_ip",
                  "kube_node", "cassandra", "minio", "elasticsearch", "sft", "restund", "assethost",
                  "preflight_ignore", "preflight_sizing_cassandra", "preflight_address", "wire1", "db1"]
INVENTORY_DOCS = st.recursive(
    SCALARS | st.sampled_from(["192.168.122.10", "10.0.0.1", "::1", "example.com"]),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.sampled_from(INVENTORY_KEYS), inner,
                                                                max_size=6),
    max_leaves=40,
)
EXAMPLE_INVENTORY = (REPO / "inventory" / "examples" / "single-vm" / "hosts.yml").read_text()
READERS = {
    "values": (lambda path: values_inventory.load(path), (ValuesError,)),
    "preflight": (lambda path: preflight_inventory.from_file(path), (PreflightError,)),
}


@pytest.mark.parametrize("reader", list(READERS))
@fuzz_settings(20)
@given(doc=st.one_of(INVENTORY_DOCS.map(lambda d: yaml.safe_dump(d, allow_unicode=True)),
                     mutated(EXAMPLE_INVENTORY)))
def test_inventories(tmp_path_factory, reader, doc):
    path = tmp_path_factory.mktemp("inv") / "hosts.yml"
    path.write_text(doc, encoding="utf-8", errors="surrogatepass")
    read, errors = READERS[reader]
    one_line_or_ok(f"inventory via {reader}", lambda: read(path), errors, INVENTORY_SECONDS)


def test_the_error_classes_are_the_projects():
    assert issubclass(ValuesError, BundleError) and issubclass(PreflightError, BundleError)


@pytest.mark.slow
@pytest.mark.skipif(SCALE == 1, reason="the long run: WIRE_FUZZ_SCALE=20 pytest -m slow tests/test_fuzz_loaders.py")
def test_long_run_marker():
    """Marks the module's long run; the cases themselves are the tests above, multiplied by WIRE_FUZZ_SCALE."""
    assert SCALE > 1
