"""Bad input: clear errors naming the parameter, and no silent inf/NaN/zero rows.

Issue 2, "Done when" point 6; MATH.md §6 for the over/underflow contract.
"""

import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from _helpers import SAMPLERS
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.utils._param_validation import InvalidParameterError

from skfavor import (
    AsymmetricMapWarning,
    AutoSampler,
    DERFSampler,
    FourierSampler,
    GERFSampler,
    PositiveRFSampler,
    UnderflowWarning,
)
from skfavor.nadaraya_watson import NadarayaWatsonClassifier, NadarayaWatsonRegressor

CLASS_NAMES = {
    "posrf": "PositiveRFSampler",
    "gerf": "GERFSampler",
    "sderf": "DERFSampler",
    "aderf": "DERFSampler",
    "saderf": "DERFSampler",
}

# The over/underflow threshold of exp: features beyond it cannot be represented.
LOG_MAX = {np.float32: np.log(np.finfo(np.float32).max), np.float64: 709.78}


@pytest.fixture
def X():
    return np.random.default_rng(0).normal(size=(20, 3))


def _with(X, value):
    """``X`` with one entry replaced by ``value`` (in a dtype that holds it)."""
    X = X.astype(np.result_type(X, value))
    X[3, 1] = value
    return X


# --- input data ------------------------------------------------------------


@pytest.mark.parametrize("family", SAMPLERS)
@pytest.mark.parametrize(
    "value, message",
    [
        (np.nan, "Input {name} contains NaN"),
        (np.inf, "Input {name} contains infinity"),
        (-np.inf, "Input {name} contains infinity"),
    ],
    ids=["nan", "inf", "-inf"],
)
def test_non_finite_input_is_rejected_everywhere(X, family, value, message):
    """NaN and ±inf in X, in keys, and at transform time: a ValueError naming it."""
    bad = _with(X, value)
    sampler = SAMPLERS[family](random_state=0)
    with pytest.raises(ValueError, match=message.format(name="X")):
        sampler.fit(bad)
    with pytest.raises(ValueError, match=message.format(name="keys")):
        sampler.fit(X, keys=bad)
    sampler.fit(X)
    with pytest.raises(ValueError, match=message.format(name="X")):
        sampler.transform(bad)
    with pytest.raises(ValueError, match=message.format(name="Y")):
        sampler.transform_keys(bad)


@pytest.mark.parametrize("family", SAMPLERS)
def test_complex_input_is_rejected(X, family):
    sampler = SAMPLERS[family](random_state=0)
    with pytest.raises(ValueError, match="Complex data not supported"):
        sampler.fit(X + 1j)
    with pytest.raises(ValueError, match="Complex data not supported"):
        sampler.fit(X, keys=X + 1j)
    sampler.fit(X)
    for method in (sampler.transform, sampler.transform_keys):
        with pytest.raises(ValueError, match="Complex data not supported"):
            method(X + 1j)


@pytest.mark.parametrize("family", SAMPLERS)
@pytest.mark.parametrize(
    "strings",
    [
        np.array([["a", "b", "c"], ["d", "e", "f"]]),
        # Numbers as strings were parsed silently before issue 9 (item 8);
        # RBFSampler refuses them, as does every dtype='numeric' estimator.
        np.arange(6.0).reshape(2, 3).astype(str),
        np.arange(6.0).reshape(2, 3).astype(bytes),
        [["0.5", "1", "2"]],
    ],
    ids=["words", "numbers-as-str", "numbers-as-bytes", "list-of-str"],
)
def test_string_input_is_rejected(X, family, strings):
    message = "dtype='numeric' is not compatible with arrays of bytes/strings"
    sampler = SAMPLERS[family](random_state=0)
    with pytest.raises(ValueError, match=message):
        sampler.fit(strings)
    with pytest.raises(ValueError, match=message):
        sampler.partial_fit(strings)
    with pytest.raises(ValueError, match=f"keys: {message}"):
        sampler.fit(X, keys=strings)
    sampler.fit(X)
    with pytest.raises(ValueError, match=f"keys: {message}"):
        sampler.partial_fit(X, keys=strings)
    for method in (sampler.transform, sampler.transform_keys):
        with pytest.raises(ValueError, match=message):
            method(strings)


@pytest.mark.parametrize(
    "estimator", [NadarayaWatsonClassifier, NadarayaWatsonRegressor]
)
def test_nadaraya_watson_rejects_strings(X, estimator):
    message = "dtype='numeric' is not compatible with arrays of bytes/strings"
    y = (X[:, 0] > 0).astype(int)
    with pytest.raises(ValueError, match=message):
        estimator(random_state=0).fit(X.astype(str), y)
    model = estimator(random_state=0).fit(X, y)
    with pytest.raises(ValueError, match=message):
        model.predict(X.astype(str))


def test_integer_and_boolean_input_is_converted_to_float64(X):
    """Numeric non-float input is still accepted, as float64."""
    integers = np.arange(12).reshape(4, 3)
    sampler = DERFSampler(random_state=0).fit(integers, keys=integers > 5)
    np.testing.assert_array_equal(
        sampler.transform(integers), sampler.transform(integers.astype(np.float64))
    )
    assert sampler.transform(integers).dtype == np.float64


def _bad_keys():
    """Invalid key sets of a 3-feature problem, by what is wrong with them."""
    X = np.random.default_rng(0).normal(size=(6, 3))
    nan, inf = X.copy(), X.copy()
    nan[0, 0], inf[0, 0] = np.nan, np.inf
    return {
        "1d": X[:, 0],
        "3d": X[None],
        "scalar": 3.0,
        "no-rows": X[:0],
        "no-columns": X[:, :0],
        "wrong-width": X[:, :2],
        "sparse-wrong-width": sp.csr_matrix(X[:, :2]),
        "sparse-no-rows": sp.csr_matrix((0, 3)),
        "sparse-complex": sp.csr_matrix(X + 1j),
        "sparse-nan": sp.csr_matrix(nan),
        "complex": X + 1j,
        "nan": nan,
        "inf": inf,
        "strings": X.astype(str),
        "object-dict": np.array([[{}, 1.0, 2.0]], dtype=object),
        "ragged": [[1.0, 2.0, 3.0], [1.0, 2.0]],
    }


@pytest.mark.parametrize("case", list(_bad_keys()))
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_every_error_about_keys_names_keys(X, method, case):
    """Issue 9, item 8: whatever is wrong with ``keys``, the error says ``keys``."""
    sampler = DERFSampler("aderf", random_state=0)
    with pytest.raises((ValueError, TypeError), match=r"\bkeys\b"):
        getattr(sampler, method)(X, keys=_bad_keys()[case])


@pytest.mark.parametrize("family", SAMPLERS)
def test_one_dimensional_input_is_rejected(X, family):
    sampler = SAMPLERS[family](random_state=0)
    with pytest.raises(ValueError, match="Expected 2D array, got 1D array"):
        sampler.fit(X[:, 0])
    with pytest.raises(ValueError, match="Expected 2D array, got 1D array"):
        sampler.fit(X, keys=X[:, 0])
    sampler.fit(X)
    for method in (sampler.transform, sampler.transform_keys):
        with pytest.raises(ValueError, match="Expected 2D array, got 1D array"):
            method(X[:, 0])


@pytest.mark.parametrize("family", SAMPLERS)
def test_empty_input_is_rejected(X, family):
    sampler = SAMPLERS[family](random_state=0)
    with pytest.raises(ValueError, match=r"0 sample\(s\)"):
        sampler.fit(X[:0])
    with pytest.raises(ValueError, match=r"0 feature\(s\)"):
        sampler.fit(X[:, :0])


@pytest.mark.parametrize("family", SAMPLERS)
def test_empty_input_is_rejected_at_transform_time(X, family):
    sampler = SAMPLERS[family](random_state=0).fit(X)
    for method in (sampler.transform, sampler.transform_keys):
        with pytest.raises(ValueError, match=r"0 sample\(s\)"):
            method(X[:0])
        with pytest.raises(ValueError, match=r"0 feature\(s\)"):
            method(X[:, :0])


@pytest.mark.parametrize("family", SAMPLERS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_finite_rows_whose_sum_overflows_are_not_called_infinite(X, family, dtype):
    # Plain float arrays are checked by their sum first; an overflowing sum
    # of finite entries must go on to the full check, not be refused.
    sampler = SAMPLERS[family](random_state=0).fit(X.astype(dtype))
    big = np.full((4, 3), np.finfo(dtype).max / 2, dtype=dtype)
    assert not np.isfinite(big.sum())
    for method in (sampler.transform, sampler.transform_keys):
        with pytest.raises(FloatingPointError, match="overflow to inf"):
            method(big)


@pytest.mark.parametrize("family", SAMPLERS)
def test_strided_and_fortran_rows_give_the_features_of_their_copy(X, family):
    sampler = SAMPLERS[family](random_state=0).fit(X)
    wide = np.repeat(X, 2, axis=1)
    for view in (np.asfortranarray(X), wide[:, ::2], X[::-1][::-1]):
        for method in (sampler.transform, sampler.transform_keys):
            np.testing.assert_array_equal(method(view), method(X.copy()))


@pytest.mark.parametrize("family", SAMPLERS)
def test_arrays_after_a_dataframe_fit_warn_of_missing_names(X, family):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    sampler = SAMPLERS[family](random_state=0).fit(frame)
    # Each warning names the argument of its method.
    for method, name in ((sampler.transform, "X"), (sampler.transform_keys, "Y")):
        with pytest.warns(UserWarning, match=f"{name} does not have valid feature"):
            method(X)


@pytest.mark.parametrize("family", SAMPLERS)
def test_keys_of_the_wrong_width_name_keys(X, family):
    sampler = SAMPLERS[family](random_state=0)
    with pytest.raises(ValueError, match="keys has 2 features, but X has 3 features"):
        sampler.fit(X, keys=X[:, :2])


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_keys_with_other_feature_names_are_refused(X, method):
    # Reordered or renamed key columns were accepted and fitted the key map to
    # other features (off by up to 20 on features of about 5); transform_keys
    # already refused them.
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    sampler = DERFSampler("aderf", n_components=8, random_state=0)
    fit = getattr(sampler, method)
    with pytest.raises(ValueError, match=r"^keys: The feature names"):
        fit(frame, keys=frame[["c", "a", "b"]])
    with pytest.raises(ValueError, match=r"^keys: The feature names"):
        fit(frame, keys=frame.rename(columns={"a": "z"}))
    with pytest.warns(UserWarning, match=r"^keys does not have valid feature names"):
        fit(frame, keys=X)
    fit(frame, keys=frame[["a", "b", "c"]] * 2)  # the same names: accepted


def test_auto_sampler_refuses_keys_with_other_feature_names(X):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    auto = AutoSampler(8, criterion="mean_log_variance", random_state=0)
    with pytest.raises(ValueError, match=r"^keys: The feature names"):
        auto.fit(frame, keys=frame[["c", "a", "b"]])


def test_refused_keys_leave_partial_fit_as_it_was(X):
    # A partial_fit refused for its keys had already added its X chunk to the
    # query statistics (the next chunks then fitted other maps), and a refused
    # first call left the sampler looking fitted.
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    half = X.shape[0] // 2
    first, second = X[:half], X[half:]
    sampler = DERFSampler("aderf", n_components=8, random_state=0)
    with pytest.raises(ValueError, match="keys"):
        sampler.partial_fit(first, keys=first[:, :2])
    with pytest.raises(NotFittedError):
        check_is_fitted(sampler)
    sampler.partial_fit(first)
    with pytest.raises(ValueError, match="keys"):
        sampler.partial_fit(second, keys=second[:, :2])
    sampler.partial_fit(second, keys=second)
    clean = DERFSampler("aderf", n_components=8, random_state=0)
    clean.partial_fit(first).partial_fit(second, keys=second)
    np.testing.assert_array_equal(sampler.transform(X), clean.transform(X))


@pytest.mark.parametrize("family", SAMPLERS)
def test_wrong_number_of_features_at_transform_time(X, family):
    sampler = SAMPLERS[family](random_state=0).fit(X)
    name = CLASS_NAMES[family]
    for method in (sampler.transform, sampler.transform_keys):
        with pytest.raises(
            ValueError, match=f"has 4 features, but {name} is expecting 3 features"
        ):
            method(np.hstack([X, X[:, :1]]))


@pytest.mark.parametrize("family", SAMPLERS)
def test_transform_keys_errors_name_its_argument(X, family):
    sampler = SAMPLERS[family](random_state=0).fit(X)
    with pytest.raises(ValueError, match="Y has 2 features"):
        sampler.transform_keys(X[:, :2])
    with pytest.raises(ValueError, match="Input Y contains NaN"):
        sampler.transform_keys(_with(X, np.nan))


@pytest.mark.parametrize("family", SAMPLERS)
def test_transform_before_fit_is_not_fitted_error(X, family):
    sampler = SAMPLERS[family]()
    for method in (sampler.transform, sampler.transform_keys):
        with pytest.raises(NotFittedError, match="not fitted yet"):
            method(X)


# --- constructor parameters ------------------------------------------------


@pytest.mark.parametrize("family", SAMPLERS)
@pytest.mark.parametrize(
    "param, value, expected",
    [
        ("gamma", 0.0, r"a float in the range \(0\.0, inf\)"),
        ("gamma", -1.0, r"a float in the range \(0\.0, inf\)"),
        ("gamma", "bogus", r"a str among \{'scale'\}"),
        ("n_components", 0, r"an int in the range \[1, inf\)"),
        ("n_components", -3, r"an int in the range \[1, inf\)"),
        ("n_components", 1.5, r"an int in the range \[1, inf\)"),
        # A set's order depends on the hash seed.
        ("kernel", "laplacian", r"a str among \{'(rbf|softmax)', '(rbf|softmax)'\}"),
        ("orthogonal", "yes", r"an instance of 'bool'"),
        # bool is an Integral and a Real in Python; issue 9, item 8.
        ("n_components", True, r"an int in the range \[1, inf\) \(a bool is not one\)"),
        (
            "n_components",
            np.True_,
            r"an int in the range \[1, inf\) \(a bool is not one\)",
        ),
        ("gamma", True, r"a float in the range \(0\.0, inf\) \(a bool is not one\)"),
    ],
)
def test_invalid_parameter_names_parameter_value_and_expectation(
    X, family, param, value, expected
):
    """The error names the parameter, the value received and what was expected."""
    sampler = SAMPLERS[family](**{param: value})
    name = CLASS_NAMES[family]
    with pytest.raises(
        InvalidParameterError,
        match=(
            re.escape(f"The '{param}' parameter of {name} must be ")
            + ".*"
            + expected
            + ".*"
            + re.escape(f"Got {value!r} instead.")
        ),
    ):
        sampler.fit(X)


def test_unknown_variant_is_rejected(X):
    with pytest.raises(
        InvalidParameterError,
        match=r"The 'variant' parameter of DERFSampler must be a str among "
        r"\{.*'aderf'.*\}\. Got 'derf' instead\.",
    ):
        DERFSampler("derf").fit(X)


def test_gamma_scale_is_accepted_and_resolved(X):
    """``'scale'`` is the one string accepted: 1 / (n_features · X.var())."""
    sampler = GERFSampler(gamma="scale").fit(X)
    assert sampler.gamma_ == pytest.approx(1.0 / (X.shape[1] * X.var()))


# --- overflow and underflow ------------------------------------------------


def _transform_without_silent_failure(method, X):
    """Call ``method(X)``; assert it raised, warned exactly, or returned sane rows.

    The contract of MATH.md §6: features that overflow raise a
    FloatingPointError; rows whose features all underflow to 0 are counted in
    an UnderflowWarning. Whatever returns is finite and non-negative.

    Returns
    -------
    outcome : {'overflow', 'underflow', 'ok'}
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            features = method(X)
        except FloatingPointError as error:
            assert re.search(rf"overflow to inf in {X.dtype}", str(error)), (
                f"unclear overflow message: {error}"
            )
            return "overflow"
    assert features.dtype == X.dtype
    assert np.all(np.isfinite(features)), "inf or NaN features without an error"
    assert np.all(features >= 0)
    n_zero_rows = int(np.count_nonzero(features.max(axis=1) == 0))
    underflow = [w for w in caught if issubclass(w.category, UnderflowWarning)]
    if n_zero_rows == 0:
        assert not underflow, "UnderflowWarning without an all-zero row"
        return "ok"
    assert len(underflow) == 1, f"{n_zero_rows} all-zero rows without a warning"
    message = str(underflow[0].message)
    assert f"{n_zero_rows} of {X.shape[0]} rows all underflow to 0 in {X.dtype}" in (
        message
    ), message
    return "underflow"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kernel", ["rbf", "softmax"])
@pytest.mark.parametrize("family", SAMPLERS)
@pytest.mark.parametrize("magnitude", [10.0, 30.0, 100.0, 1e20])
def test_large_inputs_raise_or_warn_never_silently(X, family, kernel, dtype, magnitude):
    """Inputs far beyond the fitted data: every all-zero row is reported."""
    sampler = SAMPLERS[family](kernel=kernel, random_state=0).fit(X.astype(dtype))
    big = (X * magnitude).astype(dtype)
    outcomes = {
        _transform_without_silent_failure(sampler.transform, big),
        _transform_without_silent_failure(sampler.transform_keys, big),
    }
    if magnitude >= 100.0:
        # |z|² ≥ 3·10⁴ ≫ log(max float): no feature of these rows can be
        # represented, so the call cannot have been "ok".
        assert outcomes <= {"overflow", "underflow"}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rbf_far_from_origin_underflows_with_warning_for_posrf(dtype):
    """PosRF is data-independent: at |x|² in the thousands its features underflow."""
    rng = np.random.default_rng(1)
    X = rng.normal(loc=30.0, size=(40, 3)).astype(dtype)
    sampler = PositiveRFSampler(gamma=0.5, random_state=0)
    with pytest.warns(UnderflowWarning, match="40 of 40 rows all underflow to 0"):
        features = sampler.fit_transform(X)
    assert np.all(features == 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kernel", ["rbf", "softmax"])
@pytest.mark.parametrize("family", SAMPLERS)
def test_widely_spread_data_reports_every_zero_row(family, kernel, dtype):
    """Fitted on data of |x|² ≈ 3000: the Gaussian kernel is ≈ 0 off the
    diagonal and the softmax kernel reaches e^3000, so some features cannot be
    represented; each such row must be reported (or the call must raise)."""
    X = np.random.default_rng(2).normal(scale=30.0, size=(30, 3)).astype(dtype)
    sampler = SAMPLERS[family](kernel=kernel, gamma=0.5, random_state=0).fit(X)
    for method in (sampler.transform, sampler.transform_keys):
        assert _transform_without_silent_failure(method, X) in {"underflow", "overflow"}


@pytest.mark.parametrize("family", SAMPLERS)
def test_softmax_float32_overflow_raises(family):
    """Inputs aligned with the draws in high dimension: log φ ≈ 3|ω|²/8 ≈ 110.

    That is representable in float64 but above float32's log-max (≈ 88.7), so
    float32 must raise and float64 must return finite features.
    """
    d = 300
    X = np.random.default_rng(3).normal(size=(50, d)) * 0.05
    sampler = SAMPLERS[family](
        kernel="softmax", n_components=8, random_state=0, sampling="iid"
    ).fit(X)
    # Inputs whose transformed version T·z is half a draw: T is the identity
    # except for the asymmetric variants.
    T = getattr(sampler, "query_transform_", np.eye(d))
    aligned = np.linalg.solve(T, 0.5 * sampler.random_weights_.T).T
    features = sampler.transform(aligned)
    assert np.all(np.isfinite(features)) and np.all(features > 0)
    assert LOG_MAX[np.float32] < np.log(features).max() < LOG_MAX[np.float64]
    with pytest.raises(FloatingPointError, match="overflow to inf in float32") as info:
        sampler.transform(aligned.astype(np.float32))
    assert "pass float64 inputs" in str(info.value)


@pytest.mark.parametrize("kernel", ["rbf", "softmax"])
@pytest.mark.parametrize("family", SAMPLERS)
def test_fit_on_huge_float64_data_is_reported(X, family, kernel):
    """Data whose second moments overflow float64: a clear error or warning."""
    huge = X * 1e200
    sampler = SAMPLERS[family](kernel=kernel, random_state=0)
    try:
        sampler.fit(huge)
    except ValueError as error:
        assert re.search(r"overflow|too large", str(error)), str(error)
        return
    outcome = _transform_without_silent_failure(sampler.transform, huge)
    assert outcome in {"overflow", "underflow"}


@pytest.mark.parametrize(
    "method",
    [
        "transform",
        "fit_transform",
        "transform_keys",
    ],
)
def test_underflow_warning_points_at_the_caller(method):
    X = np.random.default_rng(1).normal(loc=30.0, size=(5, 3))
    sampler = PositiveRFSampler(random_state=0).fit(X[:1] * 0)
    with pytest.warns(UnderflowWarning) as record:
        getattr(sampler, method)(X)
    assert [warning.filename for warning in record] == [__file__]


# --- an asymmetric map used as if it were symmetric (issue 9) ---------------


@pytest.mark.parametrize("variant", ["aderf", "saderf"])
def test_asymmetric_variant_in_a_pipeline_warns_once(X, variant):
    """A Pipeline maps training and test rows with transform, the query map:
    their inner products do not estimate the kernel."""
    y = X[:, 0]
    model = make_pipeline(DERFSampler(variant, random_state=0), Ridge())
    with pytest.warns(AsymmetricMapWarning, match="reduces to GERF") as record:
        model.fit(X, y)
        model.predict(X)
        model.predict(X)
    assert len(record) == 1
    assert issubclass(AsymmetricMapWarning, UserWarning)
    assert record[0].filename == __file__
    # Each fit is a new sampler: it warns again.
    with pytest.warns(AsymmetricMapWarning):
        model.fit(X, y).predict(X)


@pytest.mark.parametrize("variant", ["aderf", "saderf"])
def test_asymmetric_variant_fit_then_transform_train_and_test_warns(X, variant):
    """Fitted with keys, the query map alone estimates no kernel."""
    sampler = DERFSampler(variant, random_state=0).fit(X[:10], keys=X[10:] * 2)
    sampler.transform(X[:10])
    with pytest.warns(
        AsymmetricMapWarning, match=f"variant='{variant}'.*estimates no kernel"
    ):
        sampler.transform(X[10:])


@pytest.mark.parametrize("variant", ["aderf", "saderf"])
@pytest.mark.parametrize("keys_first", [False, True])
def test_asymmetric_variant_with_transform_keys_does_not_warn(X, variant, keys_first):
    """The intended use: queries through transform, keys through transform_keys."""
    queries, keys = X[:8], X[8:]
    sampler = DERFSampler(variant, random_state=0).fit(queries, keys=keys)
    with warnings.catch_warnings():
        warnings.simplefilter("error", AsymmetricMapWarning)
        if keys_first:
            sampler.transform_keys(keys)
        sampler.transform(queries)
        sampler.transform_keys(keys)
        sampler.transform(queries[:3])
        sampler.fit_transform(queries, keys=keys)
        sampler.transform_keys(keys)
        sampler.transform(queries)


@pytest.mark.parametrize("family", ["posrf", "gerf", "sderf"])
def test_symmetric_families_in_a_pipeline_do_not_warn(X, family):
    model = make_pipeline(SAMPLERS[family](random_state=0), Ridge())
    with warnings.catch_warnings():
        warnings.simplefilter("error", AsymmetricMapWarning)
        model.fit(X, X[:, 0]).predict(X)


def test_random_weights_are_the_transpose_of_rbfsamplers_orientation():
    # Documented: one row per output feature, unscaled N(0, I) draws.
    from sklearn.kernel_approximation import RBFSampler

    X = np.random.default_rng(0).normal(size=(30, 4))
    ours = GERFSampler(n_components=7, gamma=3.0, random_state=0).fit(X)
    theirs = RBFSampler(n_components=7, gamma=3.0, random_state=0).fit(X)
    assert ours.random_weights_.shape == theirs.random_weights_.T.shape == (7, 4)
    # Unscaled: the squared norms average d, whatever gamma.
    draws = GERFSampler(n_components=4000, gamma=3.0, random_state=0).fit(X)
    assert np.mean(np.sum(draws.random_weights_**2, axis=1)) == pytest.approx(
        4, rel=0.05
    )


def test_auto_sampler_names_the_argument_of_each_method(X):
    """AutoSampler's messages name ``Y`` in transform_keys, as the samplers' do."""
    pd = pytest.importorskip("pandas")
    auto = AutoSampler(n_components=8, max_samples=20, random_state=0).fit(X)
    for method, name in ((auto.transform, "X"), (auto.transform_keys, "Y")):
        with pytest.raises(ValueError, match=f"Input {name} contains NaN"):
            method(_with(X, np.nan))
        with pytest.raises(ValueError, match=f"^{name} has 2 features"):
            method(X[:, :2])
    named = AutoSampler(n_components=8, max_samples=20, random_state=0)
    named.fit(pd.DataFrame(X, columns=["a", "b", "c"]))
    for method, name in ((named.transform, "X"), (named.transform_keys, "Y")):
        with pytest.warns(UserWarning, match=f"{name} does not have valid feature"):
            method(X)


_MAKERS = {
    **SAMPLERS,
    "fourier": FourierSampler,
    "auto": lambda **kw: AutoSampler(n_components=8, **kw),
}


@pytest.mark.parametrize("make", _MAKERS.values(), ids=list(_MAKERS))
def test_errors_at_transform_name_the_estimator_as_validate_data_does(X, make):
    """check_array's messages name the estimator (its NaN hint, its minimum)."""
    estimator = make(random_state=0).fit(X)
    name = type(estimator).__name__
    with pytest.raises(ValueError, match=f"{name} does not accept missing values"):
        estimator.transform(_with(X, np.nan))
    with pytest.raises(ValueError, match=f"is required by {name}"):
        estimator.transform(X[:0])
