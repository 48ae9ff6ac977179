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


#: The libraries the golden file was recorded with. Bit for bit holds with
#: these; other releases of NumPy, SciPy or their BLAS round differently (the
#: minimum versions of CI), so there the test allows a few units of rounding.
RECORDED_WITH = {"numpy": "2.4.6", "scipy": "1.17.1", "scikit-learn": "1.9.1"}


def _recording_environment() -> bool:
    from importlib.metadata import version

    return all(version(name) == v for name, v in RECORDED_WITH.items())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_outputs_equal_the_recorded_ones_bit_for_bit(outputs, golden, dtype):
    names = [name for name in golden if name.startswith(f"{dtype}/")]
    exact = _recording_environment()
    for name in names:
        assert outputs[name].dtype == golden[name].dtype, name
        if exact:
            np.testing.assert_array_equal(outputs[name], golden[name], err_msg=name)
        elif np.issubdtype(golden[name].dtype, np.floating):
            rtol = 1e-4 if golden[name].dtype == np.float32 else 1e-10
            np.testing.assert_allclose(
                outputs[name], golden[name], rtol=rtol, atol=rtol, err_msg=name
            )
        else:
            np.testing.assert_array_equal(outputs[name], golden[name], err_msg=name)
