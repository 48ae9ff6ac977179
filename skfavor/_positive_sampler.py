"""The machinery of the positive samplers: validation, statistics, fit and maps.

:class:`_BasePositiveSampler` draws ω, fits a family's closed forms to the
statistics of the rows (:ref:`math-statistics`, :ref:`math-families`),
compiles the query and key :class:`~skfavor.FeatureMap` and maps rows; the
public samplers of :mod:`skfavor.kernel_approximation` name their family and
publish its parameters.
"""

from __future__ import annotations

import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn import get_config
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils import check_random_state
from sklearn.utils._array_api import (
    _convert_to_numpy,
    _is_numpy_namespace,
    _max_precision_float_dtype,
    get_namespace,
    get_namespace_and_device,
)
from sklearn.utils._param_validation import Hidden, Interval, StrOptions
from sklearn.utils._set_output import _wrap_data_with_container
from sklearn.utils.validation import check_is_fitted, validate_data

from ._closed_forms import FAMILIES
from ._feature_map import _caller_stacklevel, compile_feature_map
from ._namespace import is_array
from ._sampling import SAMPLINGS, draw_weights, resolve_sampling
from ._statistics import SampleStatistics
from ._validation import _float_rows, checked_keys, checked_rows


def _same_parameter(value, other) -> bool:
    """Whether two values of a parameter are the same: one object, or equal values.

    A ``RandomState`` instance is the same source only if it is the same
    object; ``None`` is the same as ``None``; values that cannot be compared
    are not the same.
    """
    if value is other:
        return True
    if isinstance(value, np.random.RandomState) or isinstance(
        other, np.random.RandomState
    ):
        return False
    try:
        return bool(value == other)
    except (TypeError, ValueError):
        return False


class _NotBool(Interval):
    """An :class:`Interval` that refuses ``bool``, which Python counts as a number.

    ``n_components=True`` or ``gamma=True`` is a mistake, not 1.
    """

    def is_satisfied_by(self, val) -> bool:
        return not isinstance(val, bool | np.bool_) and super().is_satisfied_by(val)

    def __str__(self) -> str:
        return f"{super().__str__()} (a bool is not one)"


def _positive_floats(values, name: str) -> np.ndarray:
    """A float or a 1-D list of them as float64, each finite and > 0.

    The parameter constraints check a scalar only. An empty, 2-D or
    non-numeric list, a bool in it (a mistake, not 1.0) or an entry that is
    not positive and finite is refused with a ValueError naming ``name``.
    """
    try:
        floats = np.atleast_1d(np.asarray(values, dtype=np.float64))
        given = np.asarray(values, dtype=object).ravel()
    except (TypeError, ValueError):
        floats = given = np.empty(0)
    if (
        floats.ndim != 1
        or floats.size == 0
        or any(isinstance(value, bool | np.bool_) for value in given)
        or not np.all(np.isfinite(floats))
        or np.any(floats <= 0)
    ):
        raise ValueError(
            f"{name} must be a non-empty list of positive floats, got {values!r}."
        )
    return floats


def _statistics(X) -> SampleStatistics:
    """Float64 statistics on the host of a NumPy, sparse or array-API ``X``."""
    if sp.issparse(X):
        return SampleStatistics.from_array(X)
    xp, _ = get_namespace(X)
    # The fit is host work on the values: a tensor that requires grad is read
    # without its graph (Tensor.numpy() refuses it).
    values = X.detach() if hasattr(X, "detach") else X
    return SampleStatistics.from_array(_convert_to_numpy(values, xp))


class AsymmetricMapWarning(UserWarning):
    """An asymmetric sampler's query map was used for both sides of the kernel.

    ``DERFSampler(variant='aderf')`` and ``'saderf'`` map queries with
    :meth:`~DERFSampler.transform` (φ₁) and keys with
    :meth:`~DERFSampler.transform_keys` (φ₂), fitted to the two sets: only
    ``φ₁(x)ᵀφ₂(y)`` estimates the kernel. Fitted without keys (as in a
    :class:`~sklearn.pipeline.Pipeline`) the two maps coincide and the variant
    reduces to GERF, with none of its gain; fitted with keys,
    ``φ₁(x)ᵀφ₁(y)`` estimates no kernel. Issued, once per fit, at the second
    call to ``transform`` since the fit when ``transform_keys`` was never
    called, which is what a Pipeline does (``fit_transform`` on the training
    rows, then ``transform`` on the test rows).
    """


class _BasePositiveSampler(
    ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator
):
    """Fits one family's closed-form parameters and compiles its feature map.

    Subclasses name their family in :meth:`_family` and may publish its fitted
    parameters in :meth:`_set_family_attributes`. Data-dependent families
    evaluate the Gaussian kernel's map at ``x − center_`` (see
    :meth:`_fit_maps`).
    """

    _data_dependent = True

    _parameter_constraints: dict = {
        "n_components": [_NotBool(Integral, 1, None, closed="left")],
        "kernel": [StrOptions({"rbf", "softmax"})],
        "gamma": [StrOptions({"scale"}), _NotBool(Real, 0.0, None, closed="neither")],
        "sampling": [StrOptions(set(SAMPLINGS))],
        "orthogonal": ["boolean", Hidden(StrOptions({"deprecated"}))],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        n_components=100,
        kernel="rbf",
        gamma=1.0,
        sampling="orthogonal",
        orthogonal="deprecated",
        random_state=None,
    ):
        self.n_components = n_components
        self.kernel = kernel
        self.gamma = gamma
        self.sampling = sampling
        self.orthogonal = orthogonal
        self.random_state = random_state

    def _family(self) -> str:
        raise NotImplementedError

    def _set_family_attributes(self, params) -> None:
        """Publish the fitted family parameters as ``*_`` attributes."""

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, *, keys=None):
        """Draw the random directions and fit the family's parameters.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The query set (for a transformer in a pipeline: the training data).

        y : None
            Ignored; present for API consistency.

        keys : {array-like, sparse matrix} of shape (n_keys, n_features), \
                default=None
            The key set. Data-dependent families fit their parameters to the
            statistics of both sets (:ref:`math-estimators`); by default the key set is
            ``X``.

        Returns
        -------
        self : object
            Fitted sampler.
        """
        X = _float_rows(validate_data(self, X, accept_sparse="csr", dtype="numeric"))
        key_statistics = None if keys is None else _statistics(checked_keys(self, keys))
        return self._fit_statistics(_statistics(X), key_statistics, X)

    def _fit_statistics(self, queries, keys=None, X=None):
        """Draw ω and fit the family to the statistics of the rows.

        All that :meth:`fit` does after validating its inputs: the closed forms
        need the count, mean and scatter of the rows alone
        (:ref:`math-statistics`), so statistics from a stream, from Dask chunks
        or from a merge of cross-validation folds give the same fit as the rows
        themselves. ``n_features_in_`` must be set; ``X`` (optional) gives the
        array namespace of the fitted attributes.
        """
        self._reset_map_usage()
        self._draw_weights()
        self._query_statistics = queries
        self._key_statistics = keys
        return self._refit(X)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None, *, keys=None):
        """Accumulate the statistics of a chunk of data and refit the parameters.

        The random directions are drawn on the first call; the float64
        statistics of the chunks merge (:ref:`math-statistics`), so after any
        sequence of calls the sampler equals :meth:`fit` on the concatenated
        chunks (same ``random_state``), up to rounding.

        ``n_components``, ``sampling`` (or ``orthogonal``) and ``random_state``
        fix the random directions: a later call after :meth:`set_params` changed
        one of them raises a ValueError (call :meth:`fit` to start afresh). ``gamma``,
        ``kernel`` and ``variant`` are refitted from the statistics at each
        call, so a change takes effect at the next call.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            A chunk of the query set.

        y : None
            Ignored; present for API consistency.

        keys : {array-like, sparse matrix} of shape (n_keys, n_features), \
                default=None
            A chunk of the key set. As long as no call has passed keys, the key
            statistics are those of the queries. From the first call that
            passes keys on, they are those of the key chunks alone: the rows
            of earlier calls without keys do not count as keys (pass ``keys``
            with every chunk, or with none).

        Returns
        -------
        self : object
            Fitted sampler.
        """
        first_call = not hasattr(self, "random_weights_")
        if not first_call:
            self._check_same_draw()
        X = _float_rows(
            validate_data(
                self, X, accept_sparse="csr", dtype="numeric", reset=first_call
            )
        )
        # The keys are checked before any state changes: a refused call
        # leaves the statistics (and, first, the unfitted sampler) as they were.
        try:
            key_chunk = None if keys is None else _statistics(checked_keys(self, keys))
        except (TypeError, ValueError):
            if first_call:
                for name in ("n_features_in_", "feature_names_in_"):
                    self.__dict__.pop(name, None)
            raise
        chunk = _statistics(X)
        self._reset_map_usage()
        if first_call:
            self._draw_weights()
            self._query_statistics, self._key_statistics = chunk, None
        else:
            self._query_statistics = self._query_statistics + chunk
        if key_chunk is not None:
            self._key_statistics = (
                key_chunk
                if self._key_statistics is None
                else self._key_statistics + key_chunk
            )
        return self._refit(X)

    #: The parameters that fix the random directions ω (``partial_fit`` cannot
    #: change them); the others are refitted from the statistics at each call.
    _draw_parameters = ("n_components", "sampling", "orthogonal", "random_state")

    def _draw_weights(self) -> None:
        self._drawn_with = {name: getattr(self, name) for name in self._draw_parameters}
        # NumPy copies of the fitted arrays that the fitting itself uses, kept
        # apart from the public ones, which follow X's namespace (array API).
        self._host = {}
        self.random_weights_ = self._host["random_weights"] = draw_weights(
            self.n_components,
            self.n_features_in_,
            check_random_state(self.random_state),
            # 'orthogonal' is the default: only another name is known given.
            sampling=resolve_sampling(
                self.sampling,
                self.orthogonal,
                given=self.sampling != "orthogonal",
                stacklevel=_caller_stacklevel(),
            ),
        )

    def _reset_map_usage(self) -> None:
        """Forget which maps were used: each fit is a new pair of maps.

        A mutable record, so that mapping rows leaves the sampler's attributes
        as they were (the fitted model does not change).
        """
        self._map_usage = {"query_transforms": 0, "keys_mapped": False}

    @property
    def _asymmetric(self) -> bool:
        """Whether the family has separate query and key maps."""
        return False

    def _note_query_transform(self) -> None:
        """Warn, once per fit, when an asymmetric sampler seems used as symmetric.

        The intended use maps queries with ``transform`` and keys with
        ``transform_keys``, in either order; a second ``transform`` before any
        ``transform_keys`` is what a Pipeline does (``fit_transform`` on the
        training rows, ``transform`` on the test rows).
        """
        usage = self._map_usage
        if not self._asymmetric or usage["keys_mapped"]:
            return
        usage["query_transforms"] += 1
        if usage["query_transforms"] != 2:
            return
        if self._key_statistics is None:
            consequence = (
                "Fitted without keys, its two maps coincide and it reduces to "
                "GERF, without the gain of an asymmetric variant: use "
                "variant='sderf' where one map serves all rows (a Pipeline)."
            )
        else:
            consequence = (
                "Fitted with keys, its two maps differ, so transform(X) @ "
                "transform(Y).T estimates no kernel: map the keys with "
                "transform_keys."
            )
        warnings.warn(
            f"{self!r} maps queries with transform and keys with transform_keys, "
            "but transform was called twice since fit and transform_keys never, "
            f"as a Pipeline does. {consequence}",
            AsymmetricMapWarning,
            stacklevel=_caller_stacklevel(),
        )

    def _check_same_draw(self) -> None:
        """Refuse a ``partial_fit`` after ``set_params`` changed ω's parameters.

        The statistics keep the past chunks but not ω's draw: keeping the old ω
        would silently ignore the new value (``n_components`` and the output
        width would disagree), and a new ω would no longer equal ``fit`` on the
        concatenation for a ``random_state`` instance, whose state has moved on.
        """
        for name, drawn in self._drawn_with.items():
            value = getattr(self, name)
            if _same_parameter(value, drawn):
                continue
            raise ValueError(
                f"{name} changed from {drawn!r} to {value!r} since the random "
                "directions were drawn (by fit or the first partial_fit); "
                f"partial_fit keeps them. Set {name}={drawn!r} back to go on "
                "streaming, or call fit to start afresh with the new value."
            )

    def _refit(self, X):
        """Resolve gamma and fit the family to the accumulated statistics.

        The fitting is small float64 work on the host; for array-API inputs
        (``array_api_dispatch=True``) the public fitted arrays are then moved to
        ``X``'s namespace and device, as scikit-learn's ``Nystroem`` does.
        """
        queries = self._query_statistics
        keys = queries if self._key_statistics is None else self._key_statistics
        for name, stats in (("X", queries), ("keys", keys)):
            if not (
                np.all(np.isfinite(stats.scatter)) and np.all(np.isfinite(stats.mean))
            ):
                raise ValueError(
                    f"The second moments of {name} overflow float64: the inputs "
                    "are too large; scale them down."
                )
        self.gamma_ = self._resolve_gamma(queries)
        self._set_kernel_units()
        # Inputs too large for the kernel give infinite terms: reported below,
        # naming the input, instead of numpy's overflow warnings.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            self._fit_maps(queries, keys)
        self._check_fitted_terms(queries, keys)
        self._n_features_out = self.n_components
        # All public arrays follow the namespace of this call's X (a
        # partial_fit may pass NumPy rows after tensors), the drawn ω included.
        self.random_weights_ = self._host["random_weights"]
        xp, is_array_api, device = get_namespace_and_device(
            np.empty(0) if X is None else X
        )
        if is_array_api and not _is_numpy_namespace(xp):
            dtype = _max_precision_float_dtype(xp, device)
            for name, value in list(vars(self).items()):
                if name.endswith("_") and isinstance(value, np.ndarray):
                    setattr(self, name, xp.asarray(value, dtype=dtype, device=device))
        return self

    def _resolve_gamma(self, queries: SampleStatistics) -> float:
        """``gamma``, or ``1 / (n_features · Var)`` over all entries for 'scale'.

        The variance of all entries of X comes from the statistics, so that
        :meth:`partial_fit` and :meth:`fit` agree.
        """
        if self.gamma != "scale":
            return float(self.gamma)
        variance = float(queries.entry_variance())
        return 1.0 / (self.n_features_in_ * variance) if variance > 0 else 1.0

    def _check_fitted_terms(self, queries, keys) -> None:
        """Fail in ``fit`` when the inputs are too large for the kernel.

        The closed forms square second moments in kernel units, so finite but
        huge inputs (``|x|`` near 1e140) would give infinite parameters and
        every later ``transform`` would fail: name the input instead.
        """
        maps = (self.query_map_, self.key_map_)
        if all(
            np.all(np.isfinite(np.asarray(term)))
            for feature_map in maps
            for term in (feature_map.weights, feature_map.offset, feature_map.quadratic)
        ):
            return
        moments = {
            name: float(np.max(np.abs(stats.second_moment(self.center_))))
            for name, stats in (("X", queries), ("keys", keys))
        }
        name = max(moments, key=moments.get)
        raise ValueError(
            f"{name} is too large for this kernel: its second moment about "
            f"center_ reaches {moments[name]:.3g}, times gamma_={self.gamma_:.3g}, "
            "and the fitted feature map is not finite. Scale the inputs down or "
            "lower gamma."
        )

    def _set_kernel_units(self) -> None:
        """``kernel_scale_`` and ``norm_coefficient_`` of the fitted kernel.

        Inputs in kernel units are ``z = kernel_scale_ · (x − center_)``
        (:ref:`math-kernels`); the kernel's log is then ``zxᵀzy +
        norm_coefficient_ (|zx|² + |zy|²)``.
        """
        factor = 2.0 if self.kernel == "rbf" else 1.0
        self.kernel_scale_ = float(np.sqrt(factor * self.gamma_))
        self.norm_coefficient_ = -0.5 if self.kernel == "rbf" else 0.0

    def fit_statistics(self, queries: SampleStatistics, keys=None):
        """Draw ω and fit the family to the statistics of the rows alone.

        Equal to :meth:`fit` on any rows with these statistics: the closed
        forms need only the count, mean and scatter of the query and key sets
        (:ref:`math-statistics`), so statistics gathered from a stream, from
        Dask chunks or from a merge of cross-validation folds give the same
        sampler as the rows themselves. The parameters are validated as in
        :meth:`fit`; ``n_features_in_`` is the statistics' width.

        Parameters
        ----------
        queries : SampleStatistics
            Float64 count, mean and centred scatter of the query set (see
            ``skfavor._statistics.SampleStatistics``; they merge with ``+``).

        keys : SampleStatistics, default=None
            Those of the key set; by default the key set is the query set.

        Returns
        -------
        self : object
            Fitted sampler.
        """
        self._validate_params()
        self.n_features_in_ = int(queries.mean.shape[0])
        if keys is not None and keys.mean.shape[0] != self.n_features_in_:
            raise ValueError(
                f"keys has {keys.mean.shape[0]} features, but X has "
                f"{self.n_features_in_} features; both must have the same width."
            )
        return self._fit_statistics(queries, keys)

    def _fit_maps(self, query_stats, key_stats) -> None:
        """Fit the family to the statistics and compile the query and key maps.

        The Gaussian kernel is translation invariant but the variance of a
        positive estimator is not: it grows with ``|x + y − 2c|²`` for the
        origin ``c`` (:ref:`math-variances`). Data-dependent families therefore
        shift the origin to ``center_ = (μX + μY) / 2``, which is the optimal shift for
        GERF and SDERF jointly with their other parameters, and then fit the
        closed forms to the shifted statistics. The softmax kernel is not
        translation invariant, so it is never shifted.
        """
        n_features = self.n_features_in_
        if self.kernel == "rbf" and self._data_dependent:
            center = 0.5 * (query_stats.mean + key_stats.mean)
        else:
            center = np.zeros(n_features)
        scale = self.kernel_scale_
        params = FAMILIES[self._family()](
            query_stats.shifted(center).scaled(scale),
            key_stats.shifted(center).scaled(scale),
        )
        self.center_ = self._host["center"] = center
        self.family_parameters_ = params
        maps = {
            side: compile_feature_map(
                self._host["random_weights"],
                params,
                scale=scale,
                alpha=self.norm_coefficient_,
                center=center,
                side=side,
            )
            for side in (("query",) if params.symmetric else ("query", "key"))
        }
        self.query_map_ = maps["query"]
        self.key_map_ = maps.get("key", maps["query"])
        self._set_family_attributes(params)

    def transform(self, X):
        """Map queries (or, for a symmetric family, any rows) to features φ₁.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows to map.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components)
            Positive features; ``transform(X) @ transform_keys(Y).T`` is an
            unbiased estimate of the kernel matrix ``K(X, Y)``.
        """
        X = self._validate_input(X, "X", "transform")
        self._note_query_transform()
        return self.query_map_.transform(X)

    def transform_keys(self, Y):
        """Map keys to features φ₂ (the same map as :meth:`transform` when symmetric).

        Parameters
        ----------
        Y : {array-like, sparse matrix} of shape (n_samples, n_features)
            Key rows to map.

        Returns
        -------
        Y_new : ndarray of shape (n_samples, n_components)
            Positive key features.
        """
        checked = self._validate_input(Y, "Y", "transform_keys")
        self._map_usage["keys_mapped"] = True
        features = self.key_map_.transform(checked)
        # scikit-learn wraps only transform and fit_transform for set_output;
        # the key map honours the same configuration.
        return _wrap_data_with_container("transform", features, Y, self)

    def _validate_input(self, X, name: str, method: str):
        """Check rows to map, with errors that name the argument ``name``."""
        check_is_fitted(self)
        if get_config()["array_api_dispatch"]:
            fitted_xp, _, fitted_device = get_namespace_and_device(self.random_weights_)
            # Lists, DataFrames and sparse matrices take the NumPy route (their
            # device is None, not NumPy's 'cpu').
            routed = X if is_array(X) and not sp.issparse(X) else np.empty(0)
            xp, _, device = get_namespace_and_device(routed)
            if (xp.__name__, str(device)) != (fitted_xp.__name__, str(fitted_device)):
                raise ValueError(
                    f"Inputs passed to {type(self).__name__}.{method}() must use "
                    "the same namespace and the same device as those passed to "
                    f"fit(): got {xp.__name__} on {device}, fitted on "
                    f"{fitted_xp.__name__} on {fitted_device}."
                )
        return checked_rows(self, X, name)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.array_api_support = True
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
