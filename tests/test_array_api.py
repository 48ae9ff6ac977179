"""Array API: PyTorch tensors and array-api-strict arrays in and out (issue 5).

Random draws and the small eigen work stay in NumPy on the host; the feature
map runs in the input's namespace and device and matches NumPy to float
tolerance. scikit-learn's own array-API estimator checks run too.
"""

import numpy as np
import pytest
from _helpers import SAMPLERS
from sklearn import config_context
from sklearn.utils._array_api import yield_namespace_device_dtype_combinations
from sklearn.utils._testing import _array_api_for_tests
from sklearn.utils.estimator_checks import (
    check_array_api_input,
    check_array_api_input_and_values,
)

from skfavor import DERFSampler, PositiveRFSampler, UnderflowWarning

pytestmark = pytest.mark.array_api


def _namespaces():
    """(namespace, device, dtype) triples whose library is installed."""
    for name, device, dtype in yield_namespace_device_dtype_combinations():
        if name == "numpy" or (name == "cupy" and device is None):
            continue
        if name == "array_api_strict" and dtype != "float64":
            continue
        yield pytest.param(name, device, dtype, id=f"{name}-{device}-{dtype}")


NAMESPACES = list(_namespaces())


def _namespace(name, device):
    """The namespace and device object (skips when the library is missing)."""
    pytest.importorskip("torch" if name == "torch" else name)
    return _array_api_for_tests(name, device)


def _to_numpy(array):
    if hasattr(array, "cpu"):  # torch
        return array.detach().cpu().numpy()
    if hasattr(array, "get"):  # cupy
        return array.get()
    return np.from_dlpack(array)


@pytest.mark.parametrize("name, device, dtype", NAMESPACES)
@pytest.mark.parametrize("kernel", ["rbf", "softmax"])
@pytest.mark.parametrize("family", SAMPLERS)
def test_namespace_in_namespace_out(family, kernel, name, device, dtype):
    xp, device = _namespace(name, device)
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(40, 5)) * 0.5).astype(dtype)
    Y = (rng.normal(size=(30, 5)) * 0.3 + 0.2).astype(dtype)
    params = dict(n_components=24, kernel=kernel, gamma=0.4, random_state=0)
    reference = SAMPLERS[family](**params).fit(X, keys=Y)
    X_xp = xp.asarray(X, device=device)
    Y_xp = xp.asarray(Y, device=device)
    with config_context(array_api_dispatch=True):
        sampler = SAMPLERS[family](**params).fit(X_xp, keys=Y_xp)
        for method in ("transform", "transform_keys"):
            out = getattr(sampler, method)(X_xp if method == "transform" else Y_xp)
            expected = getattr(reference, method)(X if method == "transform" else Y)
            assert type(out) is type(X_xp)
            assert out.dtype == X_xp.dtype
            assert str(out.device) == str(X_xp.device)
            rtol = 1e-5 if dtype == "float32" else 1e-10
            np.testing.assert_allclose(_to_numpy(out), expected, rtol=rtol)
        # The random draws are NumPy's: the same seed gives the same ω.
        np.testing.assert_array_equal(
            _to_numpy(sampler.random_weights_), reference.random_weights_
        )


def test_torch_partial_fit_matches_numpy():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    X = rng.normal(size=(60, 4))
    reference = DERFSampler(random_state=0).fit(X)
    with config_context(array_api_dispatch=True):
        sampler = DERFSampler(random_state=0)
        for chunk in (X[:25], X[25:]):
            sampler.partial_fit(torch.asarray(chunk))
        out = sampler.transform(torch.asarray(X))
    np.testing.assert_allclose(out.numpy(), reference.transform(X), rtol=1e-10)


def test_torch_overflow_and_underflow_are_reported():
    """Inputs aligned with the draws overflow float32 (log φ ≈ |ω|²/2 ≈ 150);
    inputs far from them underflow every feature (MATH.md §6)."""
    torch = pytest.importorskip("torch")
    d = 300
    X = np.random.default_rng(3).normal(size=(50, d)) * 0.05
    with config_context(array_api_dispatch=True):
        sampler = PositiveRFSampler(
            kernel="softmax", n_components=8, random_state=0
        ).fit(torch.asarray(X))
        aligned = torch.asarray(sampler.random_weights_, dtype=torch.float32)
        with pytest.raises(FloatingPointError, match="overflow to inf in torch"):
            sampler.transform(aligned)
        with pytest.warns(UnderflowWarning, match="8 of 8 rows all underflow"):
            sampler.transform(-aligned * 3)


@pytest.mark.parametrize("name, device, dtype", NAMESPACES)
@pytest.mark.parametrize(
    "check", [check_array_api_input, check_array_api_input_and_values]
)
@pytest.mark.parametrize("family", SAMPLERS)
def test_sklearn_array_api_checks(family, check, name, device, dtype):
    _namespace(name, device)
    estimator = SAMPLERS[family](n_components=16, random_state=0)
    check(
        type(estimator).__name__,
        estimator,
        array_namespace=name,
        device_name=device,
        dtype_name=dtype,
    )
