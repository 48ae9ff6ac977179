"""The benchmark scripts import: they are run by hand, not by the tests, so a
change of the package's API could break them unseen (2e2af7e: two attention
benchmarks imported a function that had been removed)."""

import importlib.util
import json
import pathlib
import subprocess
import sys

import pytest

BENCHMARKS = sorted(
    (pathlib.Path(__file__).parents[1] / "benchmarks").glob("bench_*.py")
)

#: Loads each script given on the command line as a module (its main() is
#: not run) and prints {path: error or null}; one process for all of them.
_LOADER = """
import importlib.util, json, sys, traceback
errors = {}
for path in sys.argv[1:]:
    sys.path.insert(0, path.rsplit("/", 1)[0])
    spec = importlib.util.spec_from_file_location("bench", path)
    try:
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
        errors[path] = None
    except BaseException:
        errors[path] = traceback.format_exc()[-2000:]
print(json.dumps(errors))
"""


def _needs(script) -> list:
    source = script.read_text()
    return [
        library
        for library in ("torch", "transformers")
        if f"import {library}" in source or f"from {library}" in source
    ]


@pytest.fixture(scope="module")
def import_errors():
    # In a process of its own: some scripts set environment variables
    # (SCIPY_ARRAY_API) before importing SciPy.
    runnable = [
        str(script)
        for script in BENCHMARKS
        if all(importlib.util.find_spec(library) for library in _needs(script))
    ]
    result = subprocess.run(
        [sys.executable, "-c", _LOADER, *runnable],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("script", BENCHMARKS, ids=lambda path: path.stem)
def test_benchmark_imports(script, import_errors):
    for library in _needs(script):
        pytest.importorskip(library)
    assert import_errors[str(script)] is None, import_errors[str(script)]
