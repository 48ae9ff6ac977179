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

from skfavor import (
    AutoSampler,
    DERFSampler,
    FourierSampler,
    GERFSampler,
    PositiveRFSampler,
    RandomFeatureRidge,
    RandomFeatureRidgeClassifier,
    RandomFeatureRidgeCV,
    UnderflowWarning,
)

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


def test_torch_partial_fit_follows_the_latest_namespace():
    """A NumPy chunk after a tensor chunk: every public array follows the last
    call's namespace (random_weights_ was left a tensor, so transform refused
    the NumPy rows it was fitted on)."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    X = rng.normal(size=(50, 3))
    reference = DERFSampler(n_components=6, random_state=0).fit(X)
    with config_context(array_api_dispatch=True):
        sampler = DERFSampler(n_components=6, random_state=0)
        sampler.partial_fit(torch.asarray(X[:20]))
        sampler.partial_fit(X[20:])
        assert isinstance(sampler.random_weights_, np.ndarray)
        assert isinstance(sampler.center_, np.ndarray)
        out = sampler.transform(X)
    np.testing.assert_allclose(out, reference.transform(X), rtol=1e-10)


# scikit-learn's check_array calls torch.asarray, which warns on such a tensor.
@pytest.mark.filterwarnings("ignore:torch.asarray:UserWarning")
def test_torch_fit_on_a_tensor_that_requires_grad():
    """The fit is host work on the values (failed in Tensor.numpy()); the
    transform stays differentiable."""
    torch = pytest.importorskip("torch")
    X = np.random.default_rng(4).normal(size=(30, 3))
    reference = GERFSampler(n_components=5, random_state=0).fit(X)
    rows = torch.asarray(X).requires_grad_(True)
    with config_context(array_api_dispatch=True):
        sampler = GERFSampler(n_components=5, random_state=0).fit(rows)
        out = sampler.transform(rows)
    np.testing.assert_allclose(out.detach().numpy(), reference.transform(X), rtol=1e-10)
    out.sum().backward()
    # d/dx Σ_k φ_k(x) = Σ_k φ_k(x) ∂ log φ_k / ∂x, checked on the first row.
    weights = sampler.query_map_.weights
    C = sampler.query_map_.quadratic
    u = X[0] - sampler.query_map_.center
    phi = reference.transform(X[:1])[0]
    grad = phi @ weights + 2 * phi.sum() * (u * C if np.ndim(C) < 2 else C @ u)
    np.testing.assert_allclose(rows.grad[0].numpy(), grad, rtol=1e-8)


def _numpy_only_estimators():
    from skfavor.nadaraya_watson import (
        NadarayaWatsonClassifier,
        NadarayaWatsonRegressor,
    )

    return {
        "fourier": lambda: FourierSampler(n_components=6, random_state=0),
        "auto": lambda: AutoSampler(n_components=6, random_state=0),
        "ridge": lambda: RandomFeatureRidge(random_state=0),
        "ridge_cv": lambda: RandomFeatureRidgeCV(random_state=0),
        "ridge_classifier": lambda: RandomFeatureRidgeClassifier(random_state=0),
        "nw_regressor": lambda: NadarayaWatsonRegressor(random_state=0),
        "nw_classifier": lambda: NadarayaWatsonClassifier(random_state=0),
    }


@pytest.mark.parametrize("name", list(_numpy_only_estimators()))
def test_numpy_only_estimators_refuse_tensors_under_dispatch(name):
    """They failed in NumPy calls on tensors (TypeError: Cannot interpret
    'torch.float32' as a data type, AttributeError: astype) or blamed a
    namespace the user never passed; with dispatch off, scikit-learn converts
    the tensor and the result is NumPy's."""
    torch = pytest.importorskip("torch")
    make = _numpy_only_estimators()[name]
    rng = np.random.default_rng(5)
    X = rng.normal(size=(40, 3))
    y = (X[:, 0] > 0).astype(np.int64)
    method = "transform" if "ridge" not in name and "nw" not in name else "predict"
    fitted = make().fit(X, y)
    expected = getattr(fitted, method)(X)
    with config_context(array_api_dispatch=True):
        with pytest.raises(TypeError, match=r"NumPy arrays.*torch\.Tensor"):
            make().fit(torch.asarray(X), torch.asarray(y))
        with pytest.raises(TypeError, match=r"NumPy arrays.*torch\.Tensor"):
            getattr(fitted, method)(torch.asarray(X))
    np.testing.assert_allclose(getattr(fitted, method)(torch.asarray(X)), expected)


def test_feature_map_names_a_tensor_it_cannot_take():
    """FeatureMap.transform (public, no scikit-learn checks) took a tensor with
    dispatch off into NumPy code: AttributeError 'Tensor' has no 'astype'.
    With dispatch on it maps the tensor on its device."""
    torch = pytest.importorskip("torch")
    X = np.random.default_rng(6).normal(size=(10, 3))
    sampler = DERFSampler(n_components=4, random_state=0).fit(X)
    rows = torch.asarray(X)
    with pytest.raises(TypeError, match=r"X must be a NumPy array.*torch\.Tensor"):
        sampler.query_map_.transform(rows)
    with config_context(array_api_dispatch=True):
        out = sampler.query_map_.transform(rows)
    np.testing.assert_allclose(out.numpy(), sampler.transform(X), rtol=1e-12)


@pytest.mark.parametrize("kind", ["list", "dataframe", "csr"])
def test_dispatch_on_takes_numpy_route_inputs(kind):
    """With array_api_dispatch=True (set globally, say), transform refused a
    list, a DataFrame or a CSR matrix even after fit on the same input: their
    device (None) differed from the fitted NumPy arrays' ('cpu')."""
    pd = pytest.importorskip("pandas")
    from scipy import sparse

    X = np.random.default_rng(7).normal(size=(12, 3))
    convert = {
        "list": lambda a: a.tolist(),
        "dataframe": pd.DataFrame,
        "csr": sparse.csr_matrix,
    }[kind]
    expected = DERFSampler(n_components=5, random_state=0).fit(X).transform(X)
    with config_context(array_api_dispatch=True):
        sampler = DERFSampler(n_components=5, random_state=0).fit(convert(X))
        out = sampler.transform(convert(X))
    np.testing.assert_allclose(out, expected, rtol=1e-10)


@pytest.mark.parametrize("transductive", [False, True])
def test_nadaraya_watson_takes_dask_arrays_under_dispatch(transductive):
    """refuse_array_api lets Dask arrays pass (scikit-learn's checks leave them
    as they are under dispatch), but the NumPy-only feature map then refused
    them (TypeError: X must be a NumPy array); before the refusal they were
    computed in memory, as with dispatch off."""
    da = pytest.importorskip("dask.array")
    from skfavor.nadaraya_watson import NadarayaWatsonRegressor

    rng = np.random.default_rng(8)
    X = rng.normal(size=(40, 3))
    y = X[:, 0] - 2 * X[:, 1]
    make = lambda: NadarayaWatsonRegressor(  # noqa: E731
        PositiveRFSampler(n_components=8, random_state=0), transductive=transductive
    )
    expected = make().fit(X, y).predict(X)
    lazy = da.from_array(X, chunks=(20, 3))
    with config_context(array_api_dispatch=True):
        out = make().fit(lazy, y).predict(lazy)
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, expected, rtol=1e-10)
