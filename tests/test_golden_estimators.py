"""Bit-for-bit the numbers of 0.2.0 at a fixed random_state (issue 17).

``tests/data/golden_estimators.npz`` holds the outputs of every public
estimator (samplers, kernel ridge, Nadaraya–Watson) in float32 and float64, as
recorded by ``tests/data/generate_golden_estimators.py`` (see its docstring for
how and where). A refactoring that changes any of them, even in the last bit,
fails here.
"""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

_DATA = Path(__file__).with_name("data")


def _generator():
    path = _DATA / "generate_golden_estimators.py"
    spec = importlib.util.spec_from_file_location("generate_golden_estimators", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def outputs():
    return _generator().golden_outputs()


@pytest.fixture(scope="module")
def golden():
    with np.load(_DATA / "golden_estimators.npz") as data:
        return {name: data[name] for name in data.files}


def test_every_recorded_output_is_recomputed(outputs, golden):
    assert sorted(outputs) == sorted(golden)
    assert len(golden) > 200


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_outputs_equal_the_recorded_ones_bit_for_bit(outputs, golden, dtype):
    names = [name for name in golden if name.startswith(f"{dtype}/")]
    for name in names:
        assert outputs[name].dtype == golden[name].dtype, name
        np.testing.assert_array_equal(outputs[name], golden[name], err_msg=name)
