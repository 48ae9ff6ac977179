"""What the kernel-ridge estimators share: the sampler, the inputs, the solution.

:class:`_BaseRandomFeatureRidge` checks the inputs (in memory or Dask), streams
the statistics of the sampler's rows (:mod:`skfavor._streaming`), stores the
solution in :class:`~sklearn.linear_model.Ridge`'s shapes and predicts block by
block; :class:`_SingleAlphaRidge` solves one ``alpha`` (the ridge's
regularisation) from the statistics (:mod:`skfavor._ridge_algebra`). The
public estimators and their docstrings are in :mod:`skfavor.kernel_ridge`.
"""

from __future__ import annotations

import copy
import inspect
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from ._docstrings import fill_doc
from ._feature_map import _float_dtype
from ._namespace import refuse_array_api
from ._positive_sampler import (
    _BasePositiveSampler,
    _NotBool,
    _same_parameter,
)
from ._ridge_algebra import ridge_solution
from ._statistics import SampleStatistics
from ._streaming import (
    TableRow,
    accumulate,
    block_rows,
    check_lazy_inputs,
    is_dask_array,
    one_bucket,
    row_blocks,
)
from ._validation import _float_rows
from .kernel_approximation import DERFSampler

#: scikit-learn 1.8 refuses all-zero weights in ``_check_sample_weight``
#: unless told otherwise; _check_inputs makes its own check, the same in every version.
_ZEROS = (
    {"allow_all_zero_weights": True}
    if "allow_all_zero_weights" in inspect.signature(_check_sample_weight).parameters
    else {}
)


def _checked_sampler(sampler, *, seed: bool, random_state=None):
    """An unfitted clone of ``sampler``, checked.

    ``None`` gives ``DERFSampler(random_state=random_state)``, with that
    ``random_state`` itself (an instance advances from fit to fit).

    Only skfavor samplers are accepted: the fit reads their statistics-only
    closed forms, and the model selection relies on their nested draws
    (:ref:`math-nested`). Asymmetric maps are refused: a linear model sees one
    map for training and test rows (:ref:`math-estimators`). With ``seed``, an
    unseeded sampler gets one integer seed, drawn from ``random_state``, so
    that every map fitted from it (one per fold, and the refit) draws the
    same ω. A sampler's own ``RandomState`` instance is kept: each clone
    copies it, so every map draws the same ω from it, as in ``GridSearchCV``.
    """
    given = sampler
    if sampler is None:
        # Not cloned: a RandomState instance is used, and advanced, as such
        # (clone would fit a copy of it, the same at every fit).
        sampler = DERFSampler(random_state=random_state)
    else:
        sampler = clone(sampler)
    if not isinstance(sampler, _BasePositiveSampler):
        raise TypeError(
            "sampler must be a skfavor sampler (PositiveRFSampler, GERFSampler or "
            f"DERFSampler) or None, got {type(sampler).__name__}."
        )
    variant = sampler.get_params().get("variant", "sderf")
    if variant != "sderf":
        raise ValueError(
            f"sampler=DERFSampler(variant={variant!r}) has separate query and key "
            "maps, but a ridge model maps training and test rows with one map: "
            "use variant='sderf' (symmetric)."
        )
    if seed:
        state = sampler.get_params()["random_state"]
        if state is None or (given is None and not isinstance(state, Integral)):
            state = check_random_state(random_state).randint(np.iinfo(np.int32).max)
            sampler.set_params(random_state=int(state))
    return sampler


def _fit_sampler(sampler, statistics: SampleStatistics):
    """Fit an unfitted skfavor ``sampler`` to the statistics of its rows.

    Equal to ``sampler.fit(X)`` for any ``X`` with these statistics: the
    samplers draw ω from ``random_state`` and fit their closed forms to the
    count, mean and scatter of the rows alone (:ref:`math-statistics`). This
    lets the statistics come from a stream, from Dask chunks or from a merge
    of cross-validation folds.
    """
    sampler.fit_statistics(statistics)
    if not sampler.family_parameters_.symmetric:
        raise ValueError(
            f"{type(sampler).__name__} fitted an asymmetric map; a ridge model "
            "needs one map for every row."
        )
    return sampler


def _sampler_parameters(sampler, random_state) -> dict:
    """What fixes the map of a ``sampler`` parameter: its class and parameters.

    For ``None``, the ridge's ``random_state``, which seeds the default sampler.
    """
    if sampler is None:
        return {"class": None, "random_state": random_state}
    return {"class": type(sampler), **sampler.get_params(deep=False)}


def _same_parameters(first: dict, second: dict) -> bool:
    """Whether two :func:`_sampler_parameters` are the same, value by value
    as the samplers' own ``partial_fit`` compares its draw's parameters."""
    return first.keys() == second.keys() and all(
        _same_parameter(value, second[name]) for name, value in first.items()
    )


def _adopted_sampler(given, model):
    """A copy of the fitted skfavor sampler ``given``, checked against ``model``.

    Its ``n_components`` is its fitted width. Its map must be symmetric, and
    its input width and feature names those of the rows that ``model`` was
    given (``n_features_in_``, ``feature_names_in_``). The model checks the
    names of later rows itself, so the copy, which maps validated arrays,
    keeps none.
    """
    _checked_sampler(given, seed=False)
    sampler = copy.deepcopy(given)
    # Its fitted width, which its transform keeps, whatever n_components
    # was set to since (the solve reads n_components).
    sampler.set_params(n_components=len(sampler.get_feature_names_out()))
    if not sampler.family_parameters_.symmetric:
        raise ValueError(
            "The fitted sampler has an asymmetric map; a ridge model "
            "needs one map for every row."
        )
    if sampler.n_features_in_ != model.n_features_in_:
        raise ValueError(
            f"X has {model.n_features_in_} features, but the fitted "
            f"sampler expects {sampler.n_features_in_}."
        )
    names = sampler.__dict__.pop("feature_names_in_", None)
    mine = getattr(model, "feature_names_in_", None)
    if names is not None and mine is None:
        warnings.warn(
            "X does not have valid feature names, but the sampler was "
            "fitted with feature names",
            UserWarning,
            stacklevel=4,
        )
    elif names is not None and list(names) != list(mine):
        raise ValueError(
            f"X has the feature names {list(mine)}, but the sampler was "
            f"fitted with {list(names)}; they must match, in order."
        )
    return sampler


class _BaseRandomFeatureRidge(BaseEstimator):
    """Streams row blocks through a sampler into ``[φ, y]`` statistics."""

    _parameter_constraints: dict = {
        "sampler": [HasMethods(["fit", "transform"]), None],
        "fit_intercept": ["boolean"],
        "block_size": [_NotBool(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
    }

    def _block_rows(self, n_columns: int, n_rows: int) -> int:
        return block_rows(n_columns, n_rows, self.block_size)

    def _check_inputs(self, X, y, sample_weight, *, reset: bool, zero_weights=False):
        """Validated ``X``, 2-D float64 targets and weights (Dask stays lazy).

        ``zero_weights`` accepts weights that are all 0 (a chunk that adds
        nothing to statistics gathered already).
        """
        refuse_array_api(self, X, y, sample_weight)
        if is_dask_array(X):
            X, y, sample_weight = check_lazy_inputs(
                X, y, sample_weight, estimator_name=type(self).__name__
            )
            if reset:
                self.n_features_in_ = X.shape[1]
            elif X.shape[1] != self.n_features_in_:
                raise ValueError(
                    f"X has {X.shape[1]} features, but {type(self).__name__} is "
                    f"expecting {self.n_features_in_} features as input."
                )
            return X, y, sample_weight
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse="csr",
            dtype="numeric",
            multi_output=True,
            y_numeric=True,
            reset=reset,
        )
        X = _float_rows(X)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=np.float64, ensure_non_negative=True, **_ZEROS
            )
            if not zero_weights and not np.any(sample_weight):
                # scikit-learn >= 1.8's own message; 1.7 has no such check.
                raise ValueError(
                    "Sample weights must contain at least one non-zero number."
                )
        return X, np.asarray(y, dtype=np.float64), sample_weight

    @staticmethod
    def _targets_2d(y):
        return y.reshape(-1, 1) if y.ndim == 1 else y

    def _x_statistics(self, X, labels, n_buckets):
        """Unweighted statistics of the rows of ``X`` per bucket (one pass)."""
        (row,) = accumulate(
            X,
            None,
            None,
            [TableRow(None, labels, n_buckets)],
            self._block_rows(X.shape[1], X.shape[0]),
        )
        return row

    def _set_solution(self, coef, intercept, n_targets_1d: bool, dtype):
        """Store ``coef_`` and ``intercept_`` in Ridge's shapes.

        As :class:`~sklearn.linear_model.Ridge`: one target gives a 1-D
        ``coef_`` (and 1-D predictions), whether ``y`` was of shape (n,) or
        (n, 1); the intercept is a float for the former and of shape (1,)
        for the latter.
        """
        coef = coef.T.astype(dtype, copy=False)
        intercept = np.asarray(intercept, dtype=dtype)
        if n_targets_1d:
            self.coef_, self.intercept_ = coef[0], float(intercept[0])
        elif coef.shape[0] == 1:
            self.coef_, self.intercept_ = coef[0], intercept
        else:
            self.coef_, self.intercept_ = coef, intercept
        if not self.fit_intercept:
            self.intercept_ = 0.0

    def _decision_values(self, X):
        """``φ(x) coef_ᵀ + intercept_`` of each row, streamed in blocks."""
        check_is_fitted(self)
        refuse_array_api(self, X)
        if is_dask_array(X):
            raise TypeError(
                "predict takes in-memory rows; for a Dask array X (in one block "
                "across columns: X.rechunk({1: -1})) use "
                "dask.array.map_blocks(model.predict, X, drop_axis=1, "
                "dtype=X.dtype), or for n_targets > 1 chunks=(X.chunks[0], "
                "(n_targets,)) in place of drop_axis=1."
            )
        X = _float_rows(
            validate_data(self, X, accept_sparse="csr", dtype="numeric", reset=False)
        )
        dtype = _float_dtype(X)
        coef = np.atleast_2d(self.coef_)
        out = np.empty((X.shape[0], coef.shape[0]), dtype=dtype)
        for rows in row_blocks(X.shape[0], self._block_rows(coef.shape[1], X.shape[0])):
            out[rows] = self.sampler_.transform(X[rows]) @ coef.T.astype(dtype)
        out += np.asarray(self.intercept_, dtype=dtype)
        return out[:, 0] if np.ndim(self.coef_) == 1 else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.target_tags.multi_output = True
        return tags


_SHARED_PARAMETERS = """sampler : skfavor sampler, default=None
        The random-feature map: :class:`~skfavor.PositiveRFSampler`,
        :class:`~skfavor.GERFSampler` or a symmetric
        :class:`~skfavor.DERFSampler` (``variant='sderf'``; the asymmetric
        variants are refused). It is cloned and fitted on the training rows,
        unweighted, as in a pipeline. ``None`` means
        :class:`~skfavor.DERFSampler` with its defaults."""

_SHARED_BLOCK = """block_size : int, default=None
        Rows per block streamed through the sampler. ``None`` follows the
        feature maps' policy: blocks of at most 8 MiB of float64 ``[φ, y]``
        rows, within scikit-learn's ``working_memory``. The memory of ``fit``
        is ``O((n_components + n_targets)² + block_size · n_components)``
        beside a few bytes per row (``y``, and one byte per row and fold,
        two with ``sample_weight``, for the folds' labels)."""

_SHARED_RANDOM_STATE = """random_state : int, RandomState instance or None, default=None
        Seeds the default sampler (``sampler=None``:
        ``DERFSampler(random_state=random_state)``); a given sampler keeps its
        own ``random_state``. Pass an int for reproducible fits. See
        :term:`Glossary <random_state>`."""

_SHARED_ATTRIBUTES = """sampler_ : skfavor sampler
        The sampler fitted on the training rows.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X`
        has feature names that are all strings."""

_SHARED_NOTES = """The training rows are mapped block by block, and only the
    float64 count, mean and centred scatter of the stacked rows ``[φ(x), y]``
    are kept, merged exactly from block to block (:ref:`math-statistics`):
    ``A = Σ (φ − φ̄)(φ − φ̄)ᵀ`` and ``B = Σ (φ − φ̄)(y − ȳ)ᵀ`` (weighted by
    ``sample_weight``), then ``coef = (A + αI)⁻¹ B`` and
    ``intercept = ȳ − φ̄ᵀ coef`` (:ref:`math-ridge-statistics`). The sampler's
    own statistics take a first, cheaper pass (``O(n · n_features²)``). The
    result equals ``Pipeline([("f", sampler), ("r", Ridge(alpha))])`` up to
    rounding, without the ``n × n_components`` feature matrix. A Dask array
    ``X`` is reduced chunk by chunk where its chunks live."""

_fill_doc = fill_doc(
    shared_parameters=_SHARED_PARAMETERS,
    shared_block=_SHARED_BLOCK,
    shared_random_state=_SHARED_RANDOM_STATE,
    shared_attributes=_SHARED_ATTRIBUTES,
    shared_notes=_SHARED_NOTES,
)


class _SingleAlphaRidge(_BaseRandomFeatureRidge):
    """Fit of one ``alpha``: sampler pass, then ``[φ, y]`` statistics pass."""

    _parameter_constraints: dict = {
        **_BaseRandomFeatureRidge._parameter_constraints,
        "alpha": [_NotBool(Real, 0.0, None, closed="neither")],
    }

    def _fit_statistics(self, X, Y, weights, sampler):
        """Statistics of ``[φ, y]`` over all rows for a fitted ``sampler``."""
        labels = one_bucket(X.shape[0])
        ((statistics,),) = accumulate(
            X,
            Y,
            weights,
            [TableRow(sampler, labels, 1)],
            self._block_rows(sampler.n_components + Y.shape[1], X.shape[0]),
        )
        return statistics

    def _fit_regression(self, X, Y, weights):
        self._n_targets = Y.shape[1]
        sampler = _checked_sampler(
            self.sampler, seed=False, random_state=self.random_state
        )
        (x_statistics,) = self._x_statistics(X, one_bucket(X.shape[0]), 1)
        self.sampler_ = _fit_sampler(sampler, x_statistics)
        self._sampler_parameters = _sampler_parameters(self.sampler, self.random_state)
        self._statistics = self._fit_statistics(X, Y, weights, self.sampler_)
        return self._solve_statistics(_float_dtype(X))

    def _check_unchanged_sampler(self) -> None:
        """Refuse a ``sampler`` changed since ``sampler_`` was fitted.

        ``partial_fit`` keeps the map of its first call (or of ``fit``), as
        the samplers' own ``partial_fit`` keeps its draw: a new sampler, or
        new parameters of it, would otherwise be ignored without a word.
        """
        if not hasattr(self, "_sampler_parameters"):
            return  # Fitted before the parameters were recorded.
        if not _same_parameters(
            self._sampler_parameters,
            _sampler_parameters(self.sampler, self.random_state),
        ):
            raise ValueError(
                "sampler changed since sampler_ was fitted (by fit or the first "
                "partial_fit; random_state too, for sampler=None), to "
                f"{self.sampler!r}; partial_fit keeps sampler_. Set it back to "
                "go on streaming, or call fit to start afresh."
            )

    def _solve_statistics(self, dtype):
        statistics = self._statistics
        if statistics is None:
            raise ValueError(
                "sample_weight sums to 0: there is nothing to fit; give some rows "
                "a positive weight."
            )
        coef, intercept = ridge_solution(
            statistics,
            self.sampler_.n_components,
            self.alpha,
            fit_intercept=self.fit_intercept,
        )
        self._set_solution(coef, intercept, self._y_1d, dtype)
        return self
