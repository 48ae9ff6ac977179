"""ONNX export (skfavor.integrations.onnx): onnxruntime agrees with scikit-learn."""

import warnings

import numpy as np
import pytest

pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
skl2onnx = pytest.importorskip("skl2onnx")

from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import skfavor.integrations.onnx  # noqa: E402, F401  (registers the converters)
from skfavor import (  # noqa: E402
    AsymmetricMapWarning,
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
from skfavor.nadaraya_watson import (  # noqa: E402
    NadarayaWatsonClassifier,
    NadarayaWatsonRegressor,
    NonPositiveDenominatorWarning,
)

#: Relative agreement required of onnxruntime, per dtype (issue 21).
RTOL = {np.float32: 1e-5, np.float64: 1e-12}

FAMILIES = {
    "posrf": lambda kernel: PositiveRFSampler(kernel=kernel),
    "gerf": lambda kernel: GERFSampler(kernel=kernel),
    "sderf": lambda kernel: DERFSampler("sderf", kernel=kernel),
    "aderf": lambda kernel: DERFSampler("aderf", kernel=kernel),
    "saderf": lambda kernel: DERFSampler("saderf", kernel=kernel),
}


def _session(model, X, options=None):
    onx = skl2onnx.to_onnx(model, X[:1], options=options)
    return ort.InferenceSession(
        onx.SerializeToString(), providers=["CPUExecutionProvider"]
    )


def _run(model, X, options=None):
    session = _session(model, X, options)
    return session.run(None, {session.get_inputs()[0].name: X})


def _data(dtype, shift=0.0, seed=0, n=300, d=5):
    """Training rows, held-out rows (another seed) and a regression target."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * [1.0, 0.5, 2.0, 1.0, 0.3][:d]
    X_test = rng.normal(size=(60, d)) * 1.2 + 0.3
    y = np.sin(X[:, 0]) + X[:, 1] * X[:, 2]
    return (X + shift).astype(dtype), (X_test + shift).astype(dtype), y


def _sampler_cases():
    cases = []
    for name in FAMILIES:
        for kernel in ("rbf", "softmax"):
            # Far from the origin only where the sampler itself is accurate:
            # the Gaussian kernel's data-dependent families, evaluated at
            # x − center_. PosRF has no center and the softmax kernel is not
            # translation invariant; both overflow there, in Python too.
            shifts = [0.0]
            if kernel == "rbf" and name != "posrf":
                shifts.append(1e4)
            cases += [(name, kernel, shift) for shift in shifts]
    return cases


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, kernel, shift", _sampler_cases())
def test_positive_sampler_agrees(name, kernel, shift, dtype):
    X, X_test, _ = _data(dtype, shift)
    sampler = FAMILIES[name](kernel).set_params(gamma=0.2, random_state=0)
    # Keys distributed unlike the queries, so that the asymmetric variants'
    # query and key maps differ: the graph must be the query map.
    sampler.fit(X, keys=(X_test - X_test.mean(0)) * 0.5 + X.mean(0))
    expected = sampler.transform(X_test)
    (features,) = _run(sampler, X_test)
    assert features.dtype == dtype
    assert features.shape == expected.shape
    np.testing.assert_allclose(features, expected, rtol=RTOL[dtype], atol=0)
    if name in ("aderf", "saderf"):
        assert not np.allclose(features, sampler.transform_keys(X_test), rtol=1e-3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shift", [0.0, 1e4])
def test_fourier_sampler_agrees(shift, dtype):
    X, X_test, _ = _data(dtype, shift)
    sampler = FourierSampler(n_components=64, gamma=0.3, random_state=0).fit(X)
    expected = sampler.transform(X_test)
    (features,) = _run(sampler, X_test)
    assert features.dtype == dtype
    # Signed features near 0 have no relative accuracy: the tolerance is
    # relative to their scale √(2/M), the bound of each feature.
    scale = np.sqrt(2.0 / sampler.n_components)
    np.testing.assert_allclose(features, expected, rtol=0, atol=RTOL[dtype] * scale)
    # The cos/sin interleaving: each pair's squares sum to 2/M.
    pairs = features[:, 0::2] ** 2 + features[:, 1::2] ** 2
    np.testing.assert_allclose(pairs, scale**2, rtol=1e-5)


@pytest.mark.parametrize("n_components", [1, 7])
def test_odd_fourier_sampler_agrees(n_components):
    X, X_test, _ = _data(np.float64, 0.0)
    sampler = FourierSampler(n_components=n_components, gamma=0.3, random_state=0)
    expected = sampler.fit(X).transform(X_test)
    (features,) = _run(sampler, X_test)
    scale = np.sqrt(2.0 / n_components)
    np.testing.assert_allclose(
        features, expected, rtol=0, atol=RTOL[np.float64] * scale
    )


@pytest.mark.parametrize("fitted, asked", [(5, 6), (6, 4)])
def test_exported_fourier_sampler_is_the_fitted_one(fitted, asked):
    # set_params waits for the next fit in transform; the graph read the
    # parameter and gave other features (or failed to build).
    X, X_test, _ = _data(np.float64, 0.0)
    sampler = FourierSampler(n_components=fitted, gamma=0.3, random_state=0).fit(X)
    expected = sampler.transform(X_test)
    sampler.set_params(n_components=asked)
    (features,) = _run(sampler, X_test)
    np.testing.assert_allclose(features, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("fitted_transductive", [False, True])
def test_nadaraya_watson_export_follows_the_fitted_mode(fitted_transductive):
    # predict follows the mode of the last fit; the converter read the
    # parameter: an inductive fit set to transductive was refused, and the
    # other way round failed on a missing key_sums_.
    X, X_test, y = _data(np.float64)
    model = NadarayaWatsonRegressor(
        GERFSampler(n_components=32, random_state=0),
        transductive=fitted_transductive,
    ).fit(X, y)
    model.set_params(transductive=not fitted_transductive)
    if fitted_transductive:
        with pytest.raises(NotImplementedError, match="transductive=True"):
            skl2onnx.to_onnx(model, X_test[:1])
        return
    (predicted,) = _run(model, X_test)
    np.testing.assert_allclose(predicted.ravel(), model.predict(X_test), rtol=1e-9)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("gamma, selected", [(0.01, "fourier"), (1.0, "sderf")])
def test_auto_sampler_exports_its_choice(gamma, selected, dtype):
    X, X_test, _ = _data(dtype)
    sampler = AutoSampler(64, gamma=gamma, random_state=0).fit(X)
    assert sampler.selected_ == selected
    (features,) = _run(sampler, X_test)
    expected = sampler.transform(X_test)
    atol = RTOL[dtype] * np.abs(expected).max()
    np.testing.assert_allclose(features, expected, rtol=RTOL[dtype], atol=atol)


def _assert_predictions(actual, expected, dtype):
    """Agreement to RTOL relative to the size of the predictions."""
    actual = np.asarray(actual).reshape(expected.shape)
    scale = np.abs(expected).max()
    np.testing.assert_allclose(actual, expected, rtol=0, atol=RTOL[dtype] * scale)


def _samplers():
    return [
        GERFSampler(n_components=80, gamma=0.2, random_state=0),
        DERFSampler(n_components=80, gamma=0.2, random_state=1),
        FourierSampler(n_components=80, gamma=0.2, random_state=2),
    ]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shift", [0.0, 1e4])
@pytest.mark.parametrize("sampler", _samplers()[:2], ids=lambda s: type(s).__name__)
def test_ridge_agrees(sampler, shift, dtype):
    X, X_test, y = _data(dtype, shift)
    Y = np.column_stack([y, -2 * y + 1])
    for model, target in [
        (RandomFeatureRidge(sampler, alpha=0.1), y),
        (RandomFeatureRidge(sampler, alpha=0.1), Y),
        (RandomFeatureRidgeCV(sampler, alphas=[0.1, 1.0], cv=3), y),
    ]:
        model.fit(X, target)
        (predictions,) = _run(model, X_test)
        expected = model.predict(X_test)
        assert predictions.dtype == dtype
        assert predictions.shape == (X_test.shape[0], np.ndim(target))
        _assert_predictions(predictions, expected, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "labels",
    [[3, 7], [0, 1, 2], ["b", "a", "c"], [False, True]],
    ids=["binary", "ints", "strings", "bools"],
)
def test_ridge_classifier_agrees(labels, dtype):
    X, X_test, y = _data(dtype)
    codes = np.digitize(y, np.quantile(y, np.linspace(0, 1, len(labels) + 1)[1:-1]))
    model = RandomFeatureRidgeClassifier(_samplers()[1], alpha=0.1)
    model.fit(X, np.asarray(labels)[codes])
    predicted, scores = _run(model, X_test, {id(model): {"zipmap": False}})
    np.testing.assert_array_equal(predicted, model.predict(X_test))
    if isinstance(labels[0], bool):
        assert predicted.dtype == np.int64  # as documented: 0 and 1
    decision = model.decision_function(X_test)
    if len(labels) == 2:
        assert scores.shape == (X_test.shape[0], 2)
        _assert_predictions(scores[:, 0], -decision, dtype)
        decision, scores = decision, scores[:, 1]
    _assert_predictions(scores, decision, dtype)
    # Both predicted classes occur: the labels test something.
    assert np.unique(predicted).size == len(labels)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("sampler", _samplers(), ids=lambda s: type(s).__name__)
def test_nadaraya_watson_agrees(sampler, dtype):
    X, X_test, y = _data(dtype)
    # Far query rows: their features would all underflow without the per-row
    # stabilisation, which the graph applies as predict does.
    X_test = np.vstack([X_test, X_test[:5] * 8]).astype(dtype)
    regressor = NadarayaWatsonRegressor(sampler).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NonPositiveDenominatorWarning)
        expected = regressor.predict(X_test)
    (predictions,) = _run(regressor, X_test)
    assert predictions.dtype == dtype
    assert np.all(np.isfinite(predictions))
    _assert_predictions(predictions, expected, dtype)

    labels = np.array(["low", "mid", "high"])[np.digitize(y, [-0.5, 0.5])]
    classifier = NadarayaWatsonClassifier(sampler).fit(X, labels)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NonPositiveDenominatorWarning)
        expected_labels = classifier.predict(X_test)
    predicted, shares = _run(classifier, X_test, {id(classifier): {"zipmap": False}})
    np.testing.assert_array_equal(predicted, expected_labels)
    assert shares.shape == (X_test.shape[0], 3)
    np.testing.assert_allclose(shares.sum(axis=1), 1.0, rtol=1e-5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NonPositiveDenominatorWarning)
        _assert_predictions(shares, classifier.predict_proba(X_test), dtype)


@pytest.mark.parametrize(
    "model",
    # The classifiers stopped in skl2onnx's parser ("No known ways to
    # retrieve the number of classes"), before any check of ours.
    [
        GERFSampler(n_components=8),
        RandomFeatureRidge(),
        NadarayaWatsonRegressor(),
        RandomFeatureRidgeClassifier(),
        NadarayaWatsonClassifier(),
    ],
    ids=lambda m: type(m).__name__,
)
def test_unfitted_models_are_refused_as_not_fitted(model):
    # They failed with an AttributeError on a fitted attribute.
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError, match="not fitted"):
        skl2onnx.to_onnx(model, np.zeros((2, 3), np.float32))


def test_nadaraya_watson_of_an_auto_sampler_is_stabilised():
    # predict and the graph lost the per-row stabilisation on an AutoSampler:
    # far rows got the training mean instead of its choice's prediction.
    X, _, y = _data(np.float64)
    far = np.vstack([X[:3] * 8, X[:3] * 30])
    auto = AutoSampler(
        64,
        gamma=2.0,
        candidates=["gerf"],
        criterion="mean_log_variance",
        random_state=0,
    )
    model = NadarayaWatsonRegressor(auto).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        expected = model.predict(far)
    chosen = NadarayaWatsonRegressor(model.sampler_.sampler_).fit(X, y)
    np.testing.assert_allclose(expected, chosen.predict(far), rtol=1e-12)
    (predictions,) = _run(model, far)
    _assert_predictions(predictions, expected, np.float64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nadaraya_watson_fallback_rows_agree(dtype):
    # Signed Fourier features estimate negative total weights for rows far
    # from the data: predict gives those the fallback, and so must the graph.
    X, X_test, y = _data(dtype)
    X_test = np.vstack([X_test, X_test * 3]).astype(dtype)
    sampler = FourierSampler(n_components=8, gamma=2.0, random_state=0)
    regressor = NadarayaWatsonRegressor(sampler).fit(X, y)
    with pytest.warns(NonPositiveDenominatorWarning) as record:
        expected = regressor.predict(X_test)
    assert record[0].message.n_rows > 0
    (predictions,) = _run(regressor, X_test)
    _assert_predictions(predictions, expected, dtype)
    assert np.any(predictions.ravel() == np.asarray(regressor.target_mean_, dtype))

    labels = np.digitize(y, [-0.5, 0.5])
    classifier = NadarayaWatsonClassifier(sampler).fit(X, labels)
    with pytest.warns(NonPositiveDenominatorWarning):
        expected_labels = classifier.predict(X_test)
    predicted, shares = _run(classifier, X_test, {id(classifier): {"zipmap": False}})
    np.testing.assert_array_equal(predicted, expected_labels)
    fallback = np.all(shares == (classifier.classes_ == classifier.majority_class_), 1)
    assert fallback.sum() == record[0].message.n_rows


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pipelines_convert(dtype):
    X, X_test, y = _data(dtype)
    regression = make_pipeline(
        StandardScaler(), DERFSampler(n_components=64, gamma=0.2, random_state=0)
    )
    regression.steps.append(("ridge", RandomFeatureRidge(alpha=0.1)))
    regression.fit(X, y)
    (predictions,) = _run(regression, X_test)
    _assert_predictions(predictions, regression.predict(X_test), dtype)

    classification = make_pipeline(
        StandardScaler(),
        RandomFeatureRidgeClassifier(
            GERFSampler(n_components=64, gamma=0.2, random_state=0)
        ),
    ).fit(X, y > 0)
    options = None if dtype == np.float32 else {"zipmap": False}
    predicted, probabilities = _run(classification, X_test, options)
    np.testing.assert_array_equal(predicted, classification.predict(X_test))
    if dtype == np.float32:
        # skl2onnx's default for classifiers: one dict per row.
        assert set(probabilities[0]) == {0, 1}


def test_float64_zipmap_is_refused_by_name():
    X, _, y = _data(np.float64)
    model = RandomFeatureRidgeClassifier(GERFSampler(random_state=0)).fit(X, y > 0)
    with pytest.raises(ValueError, match="zipmap"):
        skl2onnx.to_onnx(model, X[:1])


def test_unexportable_models_are_refused():
    X, _, y = _data(np.float64)
    transductive = NadarayaWatsonRegressor(
        GERFSampler(random_state=0), transductive=True
    ).fit(X, y)
    with pytest.raises(NotImplementedError, match="transductive"):
        skl2onnx.to_onnx(transductive, X[:1])
    multilabel = RandomFeatureRidgeClassifier(GERFSampler(random_state=0))
    multilabel.fit(X, np.column_stack([y > 0, y > 1]).astype(int))
    with pytest.raises(NotImplementedError, match="multilabel"):
        skl2onnx.to_onnx(multilabel, X[:1], options={"zipmap": False})


def test_overflow_gives_inf_features_as_documented():
    """A row whose features overflow: ``transform`` raises, the graph gives inf.

    The log-features are bounded above (:ref:`math-numerics`) by about
    ``|ω|²/2``, which passes float32's ``log(max) ≈ 88.7`` in 256 dimensions, at
    the row ``z = ω`` of the longest direction. The other rows of the batch are
    unaffected, and a ridge model downstream predicts a non-finite value for
    that row only.
    """
    rng = np.random.default_rng(0)
    X = (0.1 * rng.normal(size=(300, 256))).astype(np.float32)
    y = X[:, 0]
    sampler = PositiveRFSampler(kernel="softmax", gamma=1.0, random_state=0).fit(X)
    longest = np.argmax(np.linalg.norm(sampler.random_weights_, axis=1))
    far = np.vstack([X[:3], sampler.random_weights_[longest]])
    far = far.astype(np.float32)
    with pytest.raises(FloatingPointError):
        sampler.transform(far)
    (features,) = _run(sampler, far)
    np.testing.assert_allclose(features[:3], sampler.transform(far[:3]), rtol=1e-5)
    logs = sampler.query_map_.log_features(far[3:].astype(np.float64))[0]
    overflow = logs > np.log(np.finfo(np.float32).max) + 1e-3
    assert overflow.any()
    assert np.all(np.isposinf(features[3, overflow]))
    assert not np.any(np.isnan(features))

    model = RandomFeatureRidge(sampler, alpha=0.1).fit(X, y)
    (predictions,) = _run(model, far)
    assert np.all(np.isfinite(predictions[:3]))
    assert not np.isfinite(predictions[3, 0])


def test_underflow_gives_zero_rows_as_documented():
    """A row whose features all underflow: ``transform`` warns, the graph gives 0."""
    X, X_test, _ = _data(np.float32)
    sampler = GERFSampler(gamma=1.0, random_state=0).fit(X)
    far = np.vstack([X_test[:3], X_test[:1] + 60]).astype(np.float32)
    with pytest.warns(UnderflowWarning):
        expected = sampler.transform(far)
    (features,) = _run(sampler, far)
    np.testing.assert_array_equal(features[3], 0.0)
    np.testing.assert_allclose(features, expected, rtol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nadaraya_watson_non_finite_rows_give_nan(dtype):
    # predict raises a ValueError on NaN or inf inputs; the graph gave such
    # rows the fallback (target_mean_, the majority class's indicator), a
    # prediction that looks valid. Other graphs propagate NaN as they should.
    X, X_test, y = _data(dtype)
    rows = X_test[:5].copy()
    rows[:3, 1] = [np.nan, np.inf, -np.inf]
    sampler = GERFSampler(n_components=32, gamma=0.2, random_state=0)
    regressor = NadarayaWatsonRegressor(sampler).fit(X, np.column_stack([y, -y]))
    with pytest.raises(ValueError, match=r"NaN|infinity"):
        regressor.predict(rows)
    (predictions,) = _run(regressor, rows)
    assert np.all(np.isnan(predictions[:3]))
    _assert_predictions(predictions[3:], regressor.predict(rows[3:]), dtype)

    classifier = NadarayaWatsonClassifier(sampler).fit(X, y > 0)
    predicted, shares = _run(classifier, rows, {id(classifier): {"zipmap": False}})
    assert np.all(np.isnan(shares[:3]))
    np.testing.assert_array_equal(predicted[3:], classifier.predict(rows[3:]))
    _assert_predictions(shares[3:], classifier.predict_proba(rows[3:]), dtype)

    # As documented, the other graphs give such rows NaN too.
    (features,) = _run(classifier.sampler_, rows)
    assert np.all(np.isnan(features[:3]).any(axis=1))
    ridge = RandomFeatureRidgeClassifier(sampler).fit(X, y > 0)
    _, scores = _run(ridge, rows, {id(ridge): {"zipmap": False}})
    assert np.all(np.isnan(scores[:3]))


def test_dataframe_fitted_models_convert_from_a_numpy_sample():
    # As deploy.rst says: a DataFrame sample makes one input per column,
    # which the converters refuse; a NumPy sample converts the same model.
    pd = pytest.importorskip("pandas")
    X, X_test, _ = _data(np.float64)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    sampler = GERFSampler(n_components=16, random_state=0).fit(frame)
    with pytest.raises(RuntimeError, match="at most 1 input"):
        skl2onnx.to_onnx(sampler, frame[:1])
    (features,) = _run(sampler, X_test)
    expected = sampler.transform(pd.DataFrame(X_test, columns=frame.columns))
    np.testing.assert_allclose(features, expected, rtol=1e-12)


def test_asymmetric_sampler_exports_without_warning():
    X, X_test, _ = _data(np.float64)
    sampler = DERFSampler("aderf", random_state=0).fit(X, keys=X_test)
    with warnings.catch_warnings():
        warnings.simplefilter("error", AsymmetricMapWarning)
        _run(sampler, X_test)


@pytest.mark.parametrize("target_opset", [11, 13, 17])
def test_older_opsets(target_opset):
    # ReduceMax takes its axes as an attribute before opset 18, ReduceSum and
    # Squeeze before 13: the classifier's graph was invalid below 13
    # (onnxruntime: "INVALID_GRAPH" at its Squeeze).
    X, X_test, y = _data(np.float64)
    sampler = DERFSampler(gamma=0.2, random_state=0)
    regressor = NadarayaWatsonRegressor(sampler).fit(X, y)
    classifier = NadarayaWatsonClassifier(sampler).fit(X, y > 0)
    for model in (regressor, classifier):
        onx = skl2onnx.to_onnx(
            model,
            X[:1],
            target_opset=target_opset,
            options={id(classifier): {"zipmap": False}},
        )
        assert onx.opset_import[0].version <= target_opset
        session = ort.InferenceSession(
            onx.SerializeToString(), providers=["CPUExecutionProvider"]
        )
        outputs = session.run(None, {session.get_inputs()[0].name: X_test})
        if model is regressor:
            _assert_predictions(outputs[0], model.predict(X_test), np.float64)
        else:
            np.testing.assert_array_equal(outputs[0], model.predict(X_test))
