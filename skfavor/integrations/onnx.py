"""ONNX export of skfavor's estimators (skl2onnx) and of its attention layer.

Importing this module imports skl2onnx and onnx (the ``onnx`` extra; ``import
skfavor`` imports neither) and registers a shape calculator and a converter for
every skfavor estimator, so that ``skl2onnx.to_onnx(model, X[:1])`` converts
pipelines that contain them, in float32 and float64 (see :ref:`deploy`).

The graphs read the estimators' public fitted attributes only: a positive
sampler's ``query_map_`` (the map that ``transform`` applies), a Fourier
sampler's ``random_weights_``, ``gamma_`` and ``center_``, a ridge model's
``coef_`` and ``intercept_``, a Nadaraya–Watson model's ``key_sums_`` and
``key_totals_``. Each graph evaluates what the estimator evaluates, in the same
order and dtype, so that onnxruntime agrees with scikit-learn to rounding.

Overflow: ``transform`` raises a FloatingPointError when a feature overflows
and warns (:class:`~skfavor.UnderflowWarning`) when all the features of a row
underflow. A graph cannot raise, so the exported sampler returns what the
exponential gives: ``inf`` for each overflowing feature, a row of zeros for a
row that underflows; a ridge model downstream then predicts ``±inf`` or
``nan`` for such a row (its intercept for an underflowing one). Check
``numpy.isfinite`` on the output where inputs may be far from the training
data. The Nadaraya–Watson graphs are stabilised as ``predict`` is
(:ref:`math-numerics`) and never overflow.

Rows with NaN or inf, which every ``transform`` and ``predict`` refuses with a
ValueError, give NaN features, predictions and scores (the Nadaraya–Watson
graphs too, instead of their fallback); the label of such a row means nothing.
"""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper
from skl2onnx import update_registered_converter
from skl2onnx._parse import _parse_sklearn_classifier
from skl2onnx.common.data_types import (
    DoubleTensorType,
    FloatTensorType,
    Int64TensorType,
    StringTensorType,
)
from skl2onnx.common.utils import (
    check_input_and_output_numbers,
    check_input_and_output_types,
)
from sklearn.utils.validation import check_is_fitted

from ..auto import AutoSampler
from ..fourier import FourierSampler
from ..kernel_approximation import DERFSampler, GERFSampler, PositiveRFSampler
from ..kernel_ridge import (
    RandomFeatureRidge,
    RandomFeatureRidgeClassifier,
    RandomFeatureRidgeCV,
)
from ..nadaraya_watson import NadarayaWatsonClassifier, NadarayaWatsonRegressor

__all__ = ["CONVERTERS", "exportable_attention"]

_POSITIVE = (PositiveRFSampler, GERFSampler, DERFSampler)


class _Graph:
    """Nodes of one operator's graph, in the float dtype of its input."""

    def __init__(self, scope, operator, container):
        self.scope, self.container = scope, container
        double = isinstance(operator.inputs[0].type, DoubleTensorType)
        self.dtype = np.dtype(np.float64 if double else np.float32)
        self.opset = container.target_opset or 13

    def constant(self, value, dtype=None) -> str:
        """An initializer holding ``value`` (in the graph's dtype by default)."""
        array = np.asarray(value, dtype=self.dtype if dtype is None else dtype)
        name = self.scope.get_unique_variable_name("const")
        if array.dtype.kind in "OUS":
            strings = [str(s).encode("utf-8") for s in array.ravel()]
            self.container.add_initializer(
                name, TensorProto.STRING, list(array.shape), strings
            )
        else:
            tensor = numpy_helper.from_array(np.ascontiguousarray(array), name)
            self.container.add_initializer(name, None, None, tensor)
        return name

    def node(self, op_type: str, *inputs: str, output: str | None = None, **attrs):
        """Add one node; returns the name of its output."""
        output = output or self.scope.get_unique_variable_name(op_type.lower())
        self.container.add_node(
            op_type,
            list(inputs),
            [output],
            name=self.scope.get_unique_operator_name(op_type),
            **attrs,
        )
        return output

    def reduce(self, op_type: str, x: str) -> str:
        """``op_type`` ('ReduceSum', 'ReduceMax') over axis 1, kept as a column."""
        axes_as_input = self.opset >= (13 if op_type == "ReduceSum" else 18)
        if axes_as_input:
            return self.node(op_type, x, self.constant([1], np.int64), keepdims=1)
        return self.node(op_type, x, axes=[1], keepdims=1)

    def squeeze_columns(self, x: str) -> str:
        """The (N, 1) column ``x`` as a vector (Squeeze's axes an attribute
        before opset 13)."""
        if self.opset >= 13:
            return self.node("Squeeze", x, self.constant([1], np.int64))
        return self.node("Squeeze", x, axes=[1])

    def cast(self, x: str, dtype, output: str | None = None) -> str:
        """``x`` cast to the NumPy ``dtype``."""
        to = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
        return self.node("Cast", x, output=output, to=to)


def _input(operator) -> str:
    return operator.inputs[0].full_name


# --- Samplers ---------------------------------------------------------------


def _log_features(g: _Graph, X: str, feature_map) -> str:
    """``log φ(x) = [x − c, 1, q(x − c)] [W, offset, 1]ᵀ`` (:ref:`math-families`).

    One product of the augmented rows, as
    :meth:`skfavor.FeatureMap.log_features` makes it, with the center
    subtracted first so that rows far from the origin stay exact.
    """
    weights = np.asarray(feature_map.weights, dtype=np.float64)
    offset = np.asarray(feature_map.offset, dtype=np.float64)
    C = feature_map.quadratic
    center = feature_map.center
    Z = X
    if center is not None and np.any(center):
        Z = g.node("Sub", X, g.constant(center))
    if np.ndim(C) == 0:
        squares = g.reduce("ReduceSum", g.node("Mul", Z, Z))
        row = g.node("Mul", squares, g.constant(C))
    elif np.ndim(C) == 1:
        row = g.node("MatMul", g.node("Mul", Z, Z), g.constant(np.asarray(C)[:, None]))
    else:
        row = g.reduce(
            "ReduceSum", g.node("Mul", g.node("MatMul", Z, g.constant(C)), Z)
        )
    ones = g.node("Expand", g.constant([[1.0]]), g.node("Shape", row))
    augmented = g.node("Concat", Z, ones, row, axis=1)
    terms = np.vstack([weights.T, offset[None, :], np.ones((1, offset.size))])
    return g.node("MatMul", augmented, g.constant(terms))


def _fourier_features(g: _Graph, X: str, sampler: FourierSampler) -> str:
    """``(M/2)^-½ [cos ωᵀz, sin ωᵀz]`` interleaved, as ``FourierSampler.transform``.

    An odd ``n_components`` ends with ``cos(ωᵀz + u)``, ``u`` the sampler's
    ``random_offset_``.
    """
    weights = np.sqrt(2.0 * sampler.gamma_) * np.asarray(sampler.random_weights_)
    center = np.asarray(sampler.center_, dtype=np.float64)
    n_components = _n_features_out(sampler)
    n_pairs = n_components // 2
    shifted = g.node("Sub", X, g.constant(center))
    columns = []
    if n_pairs:
        phases = g.node(
            "MatMul", shifted, g.constant(weights[:n_pairs].astype(g.dtype).T)
        )
        column = g.constant([0, -1, 1], np.int64)
        pairs = g.node(
            "Concat",
            g.node("Reshape", g.node("Cos", phases), column),
            g.node("Reshape", g.node("Sin", phases), column),
            axis=2,
        )
        columns.append(g.node("Reshape", pairs, g.constant([0, 2 * n_pairs], np.int64)))
    if n_components % 2:
        last = g.node(
            "MatMul", shifted, g.constant(weights[n_pairs:].astype(g.dtype).T)
        )
        offset = g.constant(np.asarray(sampler.random_offset_, dtype=np.float64))
        columns.append(g.node("Cos", g.node("Add", last, offset)))
    features = columns[0] if len(columns) == 1 else g.node("Concat", *columns, axis=1)
    norm = g.constant(g.dtype.type(np.sqrt(2.0 / n_components)))
    return g.node("Mul", features, norm)


def _features(g: _Graph, X: str, sampler) -> str:
    """The output of ``sampler.transform`` for the rows ``X``."""
    if isinstance(sampler, AutoSampler):
        return _features(g, X, sampler.sampler_)
    if isinstance(sampler, FourierSampler):
        return _fourier_features(g, X, sampler)
    if isinstance(sampler, _POSITIVE):
        return g.node("Exp", _log_features(g, X, sampler.query_map_))
    raise TypeError(
        "skfavor.integrations.onnx converts skfavor samplers only, got "
        f"{type(sampler).__name__}."
    )


def _n_features_out(sampler) -> int:
    """The fitted width (``n_components`` may have been set since the fit)."""
    if isinstance(sampler, AutoSampler):
        return _n_features_out(sampler.sampler_)
    if isinstance(sampler, FourierSampler):
        return len(sampler.get_feature_names_out())
    return int(np.shape(sampler.query_map_.weights)[0])


def _check_float_input(operator, n_outputs: int) -> int | None:
    """Validate a fitted model, one float input and ``n_outputs`` outputs.

    Returns the batch dimension.
    """
    check_is_fitted(operator.raw_operator)
    check_input_and_output_numbers(
        operator, input_count_range=1, output_count_range=n_outputs
    )
    check_input_and_output_types(
        operator, good_input_types=[FloatTensorType, DoubleTensorType]
    )
    return operator.inputs[0].get_first_dimension()


def _sampler_shape(operator) -> None:
    n_rows = _check_float_input(operator, 1)
    n_columns = _n_features_out(operator.raw_operator)
    operator.outputs[0].type = type(operator.inputs[0].type)([n_rows, n_columns])


def _convert_sampler(scope, operator, container) -> None:
    g = _Graph(scope, operator, container)
    features = _features(g, _input(operator), operator.raw_operator)
    g.node("Identity", features, output=operator.outputs[0].full_name)


# --- Ridge ------------------------------------------------------------------


def _ridge_scores(g: _Graph, X: str, model) -> str:
    """``φ(x) coef_ᵀ + intercept_`` of shape (N, n_targets), as ``predict``."""
    coef = np.atleast_2d(np.asarray(model.coef_, dtype=np.float64))
    products = g.node(
        "MatMul", _features(g, X, model.sampler_), g.constant(coef.T.astype(g.dtype))
    )
    intercept = np.asarray(model.intercept_, dtype=np.float64).reshape(1, -1)
    return g.node("Add", products, g.constant(intercept))


def _regressor_shape(operator) -> None:
    n_rows = _check_float_input(operator, 1)
    model = operator.raw_operator
    if isinstance(model, NadarayaWatsonRegressor):
        _check_not_transductive(model)
        n_targets = np.size(model.target_mean_)
    else:
        n_targets = np.atleast_2d(model.coef_).shape[0]
    operator.outputs[0].type = type(operator.inputs[0].type)([n_rows, n_targets])


def _convert_ridge(scope, operator, container) -> None:
    g = _Graph(scope, operator, container)
    scores = _ridge_scores(g, _input(operator), operator.raw_operator)
    g.node("Identity", scores, output=operator.outputs[0].full_name)


def _classes(model) -> tuple[np.ndarray, type]:
    """The class labels as an int64 or string array, and the label tensor type."""
    classes = np.asarray(model.classes_)
    if classes.dtype.kind in "iub":
        return classes.astype(np.int64), Int64TensorType
    if classes.dtype.kind in "OU" and all(isinstance(c, str) for c in classes):
        return classes.astype(str), StringTensorType
    raise TypeError(
        f"{type(model).__name__} is converted with integer or string class labels, "
        f"got classes_ of dtype {classes.dtype}."
    )


def _classifier_shape(operator) -> None:
    n_rows = _check_float_input(operator, 2)
    model = operator.raw_operator
    if isinstance(model, NadarayaWatsonClassifier):
        _check_not_transductive(model)
    if getattr(model, "multilabel_", False):
        raise NotImplementedError(
            f"{type(model).__name__} fitted to a multilabel indicator matrix is not "
            "converted (its predictions are a matrix of labels); fit it to one "
            "label per row."
        )
    double = isinstance(operator.inputs[0].type, DoubleTensorType)
    if double and operator.scope_inst.get_options(model, {"zipmap": True})["zipmap"]:
        raise ValueError(
            "ONNX's ZipMap takes float32 probabilities only, and the input is "
            f"float64: convert {type(model).__name__} with "
            "options={'zipmap': False} (the second output is then a tensor), as "
            "for scikit-learn's classifiers."
        )
    classes, label_type = _classes(model)
    operator.outputs[0].type = label_type([n_rows])
    operator.outputs[1].type = type(operator.inputs[0].type)([n_rows, classes.size])


def _labels(g: _Graph, model, codes: str, output: str) -> None:
    """``classes_[codes]`` into ``output``."""
    classes, _ = _classes(model)
    g.node("Gather", g.constant(classes, classes.dtype), codes, output=output, axis=0)


def _convert_ridge_classifier(scope, operator, container) -> None:
    """Labels and the decision values, one column per class.

    For two classes ``decision_function`` gives one value ``s`` per row; the
    graph's second output is ``[-s, s]``, so that its argmax is the label, as
    skl2onnx's linear classifiers do.
    """
    g = _Graph(scope, operator, container)
    model = operator.raw_operator
    scores = _ridge_scores(g, _input(operator), model)
    if np.ndim(model.coef_) == 1:
        scores = g.node("Concat", g.node("Neg", scores), scores, axis=1)
    g.node("Identity", scores, output=operator.outputs[1].full_name)
    codes = g.node("ArgMax", scores, axis=1, keepdims=0)
    _labels(g, model, codes, operator.outputs[0].full_name)


# --- Nadaraya-Watson --------------------------------------------------------


def _check_not_transductive(model) -> None:
    """Refuse a model fitted transductively (as ``predict``, by its fitted
    state: ``transductive`` may have been set since the fit)."""
    if not hasattr(model, "key_sums_"):
        raise NotImplementedError(
            f"{type(model).__name__}(transductive=True) refits its sampler on each "
            "batch it predicts, which a fixed graph cannot do; fit it with "
            "transductive=False to export it."
        )


def _nadaraya_watson_parts(g: _Graph, X: str, model) -> tuple[str, str]:
    """Float64 numerators ``φ₁(x)ᵀ key_sums_`` and denominators, as ``predict``.

    A skfavor positive sampler's query features (an AutoSampler's choice's
    too) are divided by their largest entry per row in log space
    (:ref:`math-numerics`), as ``predict`` does.
    """
    sampler = model.sampler_
    if isinstance(sampler, AutoSampler):
        sampler = sampler.sampler_
    if isinstance(sampler, _POSITIVE):
        logs = _log_features(g, X, sampler.query_map_)
        features = g.node("Exp", g.node("Sub", logs, g.reduce("ReduceMax", logs)))
    else:
        features = _features(g, X, sampler)
    if g.dtype != np.float64:
        features = g.cast(features, np.float64)
    sums = g.constant(model.key_sums_, np.float64)
    totals = g.constant(np.asarray(model.key_totals_)[:, None], np.float64)
    return g.node("MatMul", features, sums), g.node("MatMul", features, totals)


def _nan_where_not_finite(g: _Graph, X: str, y: str) -> str:
    """``y`` (float64) plus ``Σ_k 0·x_k``: NaN on the rows of ``X`` with NaN or inf.

    ``predict`` raises a ValueError on such rows; the graph cannot raise, and
    their estimated total weight (NaN, 0 or inf) would otherwise give them the
    fallback, a prediction that looks valid.
    """
    zeros = g.reduce("ReduceSum", g.node("Mul", X, g.constant(0.0)))
    if g.dtype != np.float64:
        zeros = g.cast(zeros, np.float64)
    return g.node("Add", y, zeros)


def _not_positive(g: _Graph, totals: str) -> str:
    """``~(totals > 0)``: the rows that ``predict`` gives the fallback (NaN too)."""
    return g.node("Not", g.node("Greater", totals, g.constant(0.0, np.float64)))


def _convert_nadaraya_watson_regressor(scope, operator, container) -> None:
    g = _Graph(scope, operator, container)
    model = operator.raw_operator
    sums, totals = _nadaraya_watson_parts(g, _input(operator), model)
    fallback = g.constant(np.reshape(model.target_mean_, (1, -1)), np.float64)
    y = g.node("Where", _not_positive(g, totals), fallback, g.node("Div", sums, totals))
    y = _nan_where_not_finite(g, _input(operator), y)
    g.cast(y, g.dtype, output=operator.outputs[0].full_name)


def _convert_nadaraya_watson_classifier(scope, operator, container) -> None:
    """Labels, and each class's share of the estimated kernel weight.

    The second output is ``votes / Σ votes`` (for positive features, the
    kernel-weighted class frequencies); rows whose total weight is not
    positive get the label and the indicator of the most frequent class, as
    ``predict`` gives them; rows with NaN or inf, which ``predict`` refuses,
    get NaN shares (and that label).
    """
    g = _Graph(scope, operator, container)
    model = operator.raw_operator
    votes, totals = _nadaraya_watson_parts(g, _input(operator), model)
    fallback = _not_positive(g, totals)
    majority = int(np.flatnonzero(model.classes_ == model.majority_class_)[0])
    indicator = np.zeros((1, len(model.classes_)))
    indicator[0, majority] = 1.0
    shares = g.node(
        "Where",
        fallback,
        g.constant(indicator, np.float64),
        g.node("Div", votes, totals),
    )
    shares = _nan_where_not_finite(g, _input(operator), shares)
    g.cast(shares, g.dtype, output=operator.outputs[1].full_name)
    codes = g.node(
        "Where",
        g.squeeze_columns(fallback),
        g.constant(majority, np.int64),
        g.node("ArgMax", votes, axis=1, keepdims=0),
    )
    _labels(g, model, codes, operator.outputs[0].full_name)


#: skl2onnx's classifier options: ``zipmap`` (by default the probabilities
#: become a list of dicts, as for scikit-learn's classifiers; ``False`` keeps
#: the tensor); ``nocl`` (labels as codes) is not offered.
_CLASSIFIER_OPTIONS = {"zipmap": [True, False], "nocl": [False]}


def _fitted_classifier_parser(scope, model, inputs, custom_parsers=None):
    """skl2onnx's classifier parser, after the check that ``model`` is fitted.

    Its parser reads ``classes_`` before any shape calculator of ours runs:
    an unfitted classifier gave "No known ways to retrieve the number of
    classes" instead of scikit-learn's NotFittedError.
    """
    check_is_fitted(model)
    return _parse_sklearn_classifier(
        scope, model, inputs, custom_parsers=custom_parsers
    )


#: The registered models: class, shape calculator, converter, options.
CONVERTERS = {
    **{
        cls: (_sampler_shape, _convert_sampler, None)
        for cls in (*_POSITIVE, FourierSampler, AutoSampler)
    },
    RandomFeatureRidge: (_regressor_shape, _convert_ridge, None),
    RandomFeatureRidgeCV: (_regressor_shape, _convert_ridge, None),
    NadarayaWatsonRegressor: (
        _regressor_shape,
        _convert_nadaraya_watson_regressor,
        None,
    ),
    RandomFeatureRidgeClassifier: (
        _classifier_shape,
        _convert_ridge_classifier,
        _CLASSIFIER_OPTIONS,
    ),
    NadarayaWatsonClassifier: (
        _classifier_shape,
        _convert_nadaraya_watson_classifier,
        _CLASSIFIER_OPTIONS,
    ),
}

for _cls, (_shape, _convert, _options) in CONVERTERS.items():
    update_registered_converter(
        _cls,
        f"Skfavor{_cls.__name__}",
        _shape,
        _convert,
        options=_options,
        parser=None if _options is None else _fitted_classifier_parser,
    )


def exportable_attention(layer):
    """A module of ``layer``'s eval-mode forward that ``torch.onnx.export`` takes.

    Its ``forward(query, key, value, key_padding_mask=None)`` returns the
    attention output alone (``layer(...)[0]``), for batched inputs in the
    layer's layout (``batch_first``) and a bool ``key_padding_mask``; the
    layer's ``causal`` decides causality (no ``attn_mask`` or ``is_causal``).
    What is exported depends on the layer's statistics (:ref:`deploy`;
    ``statistics=None`` is ``'running'`` for a causal layer, ``'batch'``
    otherwise):

    * ``statistics='running'`` (any feature map): the maps compiled from the
      running statistics now are buffers of the module, constants of the
      graph; the closed forms (eigen-decompositions for the DERF families)
      are not part of it.
    * ``statistics='batch'`` with ``feature_map='posrf'`` or ``'gerf'``: the
      layer itself, whose per-sequence fit needs no eigen-decomposition.
    * ``statistics='batch'`` with a DERF family is refused: ONNX has no
      eigen-decomposition.

    Parameters
    ----------
    layer : skfavor.nn.FavorAttention
        In eval mode.

    Returns
    -------
    torch.nn.Module
        In eval mode: a snapshot of ``layer`` now, on a copy of its
        parameters and buffers. Call this function again after training
        ``layer`` or loading weights into it.

    Raises
    ------
    ValueError
        If ``layer`` is in training mode, or fits a DERF family to batch
        statistics; when exported, if the example query, key and value are
        one tensor passed more than once (export from ``x.clone()``s:
        ``torch.export`` would read one input for all), or if their sequence
        axis is dynamic (the graph holds for the example's length only: pad
        to it).

    Examples
    --------
    >>> import torch
    >>> from skfavor.nn import FavorAttention
    >>> from skfavor.integrations.onnx import exportable_attention
    >>> layer = FavorAttention(
    ...     8, 2, batch_first=True, n_features=16, causal=True, random_state=0
    ... )
    >>> module = exportable_attention(layer.eval())
    >>> x = torch.randn(1, 5, 8)
    >>> bool(torch.allclose(module(x, x, x), layer(x, x, x)[0]))
    True
    """
    from ._onnx_torch import exportable

    return exportable(layer)
