"""Kernel ridge regression with random features, fitted from streamed statistics."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import (
    ClassifierMixin,
    RegressorMixin,
    _fit_context,
    clone,
)
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_array, compute_sample_weight
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from ._namespace import refuse_array_api
from ._positive_sampler import _NotBool, _positive_floats
from ._ridge_algebra import grid_results, grid_scores, ridge_path
from ._ridge_base import (
    _adopted_sampler,
    _BaseRandomFeatureRidge,
    _checked_sampler,
    _fill_doc,
    _fit_sampler,
    _float_dtype,
    _sampler_parameters,
    _SingleAlphaRidge,
)
from ._streaming import (
    fold_labels,
    fold_statistics,
    is_dask_array,
    merge_statistics,
    one_bucket,
)
from ._validation import _float_rows

__all__ = [
    "RandomFeatureRidge",
    "RandomFeatureRidgeCV",
    "RandomFeatureRidgeClassifier",
]


@_fill_doc
class RandomFeatureRidge(RegressorMixin, _SingleAlphaRidge):
    """Ridge regression on random features, fitted without the feature matrix.

    Equal to ``Pipeline([("f", sampler), ("r", Ridge(alpha=alpha))])`` up to
    rounding (multi-output targets, ``sample_weight`` and ``fit_intercept``
    included), in memory ``O(n_components²)`` instead of
    ``O(n_samples · n_components)``: an approximate kernel ridge regression
    that scales to millions of rows (:ref:`math-ridge-statistics`).

    Parameters
    ----------
    {shared_parameters}

    alpha : float, default=1.0
        Regularisation strength, > 0, as in :class:`~sklearn.linear_model.Ridge`
        (the ridge's ``alpha``; the kernel's coefficient of ``|z|²`` is the
        sampler's ``norm_coefficient_``).

    fit_intercept : bool, default=True
        Whether to fit an intercept (centred features and targets).

    {shared_block}

    {shared_random_state}

    Attributes
    ----------
    coef_ : ndarray of shape (n_components,) or (n_targets, n_components)
        Weights of the random features.

    intercept_ : float or ndarray of shape (n_targets,)
        Independent term; ``0.0`` when ``fit_intercept=False``.

    {shared_attributes}

    See Also
    --------
    RandomFeatureRidgeCV : Exact K-fold choice of ``alpha`` and ``n_components``
        from one pass.
    RandomFeatureRidgeClassifier : The same model for classification.
    sklearn.kernel_ridge.KernelRidge : Exact kernel ridge, ``O(n²)`` memory.

    Notes
    -----
    {shared_notes}

    :meth:`partial_fit` accumulates the statistics of chunks; the sampler is
    fitted on the first chunk, or used as given when already fitted. So that
    it can go on after :meth:`fit` too, a fitted model keeps the
    ``(n_components + n_targets)²`` float64 statistics (32 MiB at 2048
    features), in memory and when pickled, where a pipeline's ``Ridge`` keeps
    ``coef_``.

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from skfavor import DERFSampler
    >>> from skfavor.kernel_ridge import RandomFeatureRidge
    >>> X, y = make_regression(n_samples=500, n_features=5, random_state=0)
    >>> sampler = DERFSampler(n_components=200, gamma=0.05, random_state=0)
    >>> model = RandomFeatureRidge(sampler, alpha=0.1).fit(X, y)
    >>> model.coef_.shape
    (200,)
    >>> model.score(X, y) > 0.9
    True
    """

    def __init__(
        self,
        sampler=None,
        *,
        alpha=1.0,
        fit_intercept=True,
        block_size=None,
        random_state=None,
    ):
        self.sampler = sampler
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.block_size = block_size
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the sampler, then the ridge weights, streaming row blocks.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Training rows: in memory, a :class:`numpy.memmap` (integers too:
            each block is converted to floats in turn), or a Dask array (row
            chunks, reduced where they live).

        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the squared errors (the sampler's
            statistics stay unweighted, as in a pipeline).

        Returns
        -------
        self : object
            Fitted estimator.
        """
        X, y, sample_weight = self._check_inputs(X, y, sample_weight, reset=True)
        self._y_1d = y.ndim == 1
        return self._fit_regression(X, self._targets_2d(y), sample_weight)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Accumulate the statistics of one chunk of rows and re-solve.

        On the first call the sampler is fitted on this chunk, unless it was
        given already fitted (for instance by its own ``partial_fit`` over
        all chunks in a first pass), in which case a copy is used as it is.
        The feature map is then fixed, and after any sequence of calls the
        model equals :meth:`fit` with that map on the concatenated chunks, up
        to rounding. Each call solves an ``n_components``-sized system.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            A chunk of training rows.

        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Its targets.

        sample_weight : array-like of shape (n_samples,), default=None
            Its non-negative weights. A chunk of weights all 0 adds nothing
            (refused on the first call, which has nothing to fit yet).

        Returns
        -------
        self : object
            Fitted estimator.
        """
        first_call = not hasattr(self, "sampler_")
        X, y, sample_weight = self._check_inputs(
            X, y, sample_weight, reset=first_call, zero_weights=not first_call
        )
        Y = self._targets_2d(y)
        if first_call:
            self._y_1d = y.ndim == 1
            self._n_targets = Y.shape[1]
            given = self.sampler
            if given is not None and hasattr(given, "random_weights_"):
                self.sampler_ = _adopted_sampler(given, self)
            else:
                sampler = _checked_sampler(
                    given, seed=False, random_state=self.random_state
                )
                (x_statistics,) = self._x_statistics(X, one_bucket(X.shape[0]), 1)
                self.sampler_ = _fit_sampler(sampler, x_statistics)
            self._sampler_parameters = _sampler_parameters(given, self.random_state)
            self._statistics = None
        else:
            self._check_unchanged_sampler()
            if Y.shape[1] != self._n_targets or (y.ndim == 1) != self._y_1d:
                raise ValueError(
                    f"y has shape {y.shape}, but the earlier chunks had "
                    f"{self._n_targets} target(s) of "
                    f"{'1' if self._y_1d else '2'} dimension(s)."
                )
        chunk = self._fit_statistics(X, Y, sample_weight, self.sampler_)
        self._statistics = merge_statistics((self._statistics, chunk))
        return self._solve_statistics(_float_dtype(X))

    def predict(self, X):
        """Predict targets, mapping the rows block by block.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows to predict.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_targets)
            Predictions, in ``X``'s float dtype.
        """
        return self._decision_values(X)


@_fill_doc
class RandomFeatureRidgeClassifier(ClassifierMixin, _SingleAlphaRidge):
    """Ridge classification on random features, fitted without the feature matrix.

    As :class:`~sklearn.linear_model.RidgeClassifier`: the classes are coded as
    ±1 targets (one column per class, one column for two classes), a
    :class:`RandomFeatureRidge` is fitted to them, and the predicted class is
    the largest decision value (its sign for two classes). Equal to
    ``Pipeline([("f", sampler), ("r", RidgeClassifier(alpha=alpha))])`` up to
    rounding.

    Parameters
    ----------
    {shared_parameters}

    alpha : float, default=1.0
        Regularisation strength, > 0 (the ridge's ``alpha``, not the
        sampler's ``norm_coefficient_``).

    fit_intercept : bool, default=True
        Whether to fit an intercept.

    class_weight : dict or 'balanced', default=None
        Weights of the classes, multiplied into ``sample_weight``, as in
        :class:`~sklearn.linear_model.RidgeClassifier`.

    {shared_block}

    {shared_random_state}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.

    coef_ : ndarray of shape (n_components,) or (n_classes, n_components)
        Weights of the random features (one row for two classes).

    intercept_ : ndarray of shape (1,) or (n_classes,)
        Independent terms.

    multilabel_ : bool
        Whether ``y`` was a multilabel indicator matrix (read-only).

    {shared_attributes}

    See Also
    --------
    RandomFeatureRidge : The regressor.
    sklearn.linear_model.RidgeClassifier : The same on explicit features.

    Notes
    -----
    {shared_notes}

    Examples
    --------
    >>> from sklearn.datasets import make_moons
    >>> from skfavor import DERFSampler
    >>> from skfavor.kernel_ridge import RandomFeatureRidgeClassifier
    >>> X, y = make_moons(n_samples=400, noise=0.1, random_state=0)
    >>> sampler = DERFSampler(n_components=100, gamma=2.0, random_state=0)
    >>> model = RandomFeatureRidgeClassifier(sampler, alpha=0.01).fit(X, y)
    >>> model.score(X, y) > 0.95
    True
    """

    _parameter_constraints: dict = {
        **_SingleAlphaRidge._parameter_constraints,
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }

    def __init__(
        self,
        sampler=None,
        *,
        alpha=1.0,
        fit_intercept=True,
        class_weight=None,
        block_size=None,
        random_state=None,
    ):
        self.sampler = sampler
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.class_weight = class_weight
        self.block_size = block_size
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the sampler, then the ridge weights of the ±1 class codes.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Training rows; a Dask array is reduced chunk by chunk where its
            chunks live (its labels and weights are computed).

        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels (or a multilabel indicator matrix).

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the squared errors.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        refuse_array_api(self, X, y, sample_weight)
        if is_dask_array(X):
            X, y, sample_weight = self._lazy_inputs(X, y, sample_weight)
        else:
            X, y = validate_data(
                self,
                X,
                y,
                accept_sparse="csr",
                dtype="numeric",
                multi_output=True,
                y_numeric=False,
            )
            X = _float_rows(X)
        check_classification_targets(y)
        self._label_binarizer = LabelBinarizer(pos_label=1, neg_label=-1)
        Y = self._label_binarizer.fit_transform(y).astype(np.float64)
        self.classes_ = self._label_binarizer.classes_
        multilabel = self._label_binarizer.y_type_.startswith("multilabel")
        if not multilabel:
            # RidgeClassifier's conversion, with its DataConversionWarning.
            y = column_or_1d(y, warn=True)
        weights = _check_sample_weight(
            sample_weight, X, dtype=np.float64, ensure_non_negative=True
        )
        if self.class_weight:
            weights = weights * compute_sample_weight(self.class_weight, y)
        self._y_1d = False
        # RidgeClassifier's shapes: for two classes a 1-D coef_ and an
        # intercept_ of shape (1,).
        self._fit_regression(X, Y, weights)
        # No partial_fit to continue: the (M + n_classes)² statistics go.
        del self._statistics
        return self

    def _lazy_inputs(self, X, y, sample_weight):
        """A Dask ``X`` checked and left lazy, to be reduced chunk by chunk;
        its labels (needed whole to code the classes) and weights computed."""
        y, sample_weight = (
            value.compute() if is_dask_array(value) else value
            for value in (y, sample_weight)
        )
        y = check_array(y, ensure_2d=False, dtype=None, input_name="y")
        X, _, _ = self._check_inputs(X, np.zeros(y.shape[0]), None, reset=True)
        return X, y, sample_weight

    def decision_function(self, X):
        """Decision values: ``φ(x) coef_ᵀ + intercept_``, in blocks of rows.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows to score.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            One column per class, one value per row for two classes.
        """
        return self._decision_values(X)

    def predict(self, X):
        """Predict class labels (largest decision value, or its sign).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows to classify.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_labels)
            Predicted labels.
        """
        scores = self.decision_function(X)
        if self._label_binarizer.y_type_.startswith("multilabel"):
            return self._label_binarizer.inverse_transform(2 * (scores > 0) - 1)
        if scores.ndim == 1:
            return self.classes_[(scores > 0).astype(int)]
        return self.classes_[np.argmax(scores, axis=1)]

    @property
    def multilabel_(self) -> bool:
        """Whether ``y`` was a multilabel indicator matrix at ``fit``."""
        check_is_fitted(self)
        return self._label_binarizer.y_type_.startswith("multilabel")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


@_fill_doc
class RandomFeatureRidgeCV(RegressorMixin, _BaseRandomFeatureRidge):
    """Ridge on random features with exact K-fold choice of ``alpha`` and ``m``.

    Scores every ``alpha`` in ``alphas`` and every feature count ``m`` in
    ``n_components`` by K-fold cross-validation, from statistics gathered in
    one pass over the data, and refits the best model on all rows. The scores
    are those of ``GridSearchCV(Pipeline([("f", sampler), ("r", Ridge())]),
    {"f__n_components": n_components, "r__alpha": alphas}, cv=cv,
    scoring=scoring)`` up to rounding, and the same model is chosen
    (:ref:`math-ridge-statistics`); with ``sample_weight``, those of its
    ``fit(X, y, r__sample_weight=sample_weight)``. ``GridSearchCV``'s
    ``scoring=None`` is the model's R² (``'r2'`` here), this one's is
    ``'neg_mean_squared_error'``.

    Parameters
    ----------
    {shared_parameters}

    alphas : array-like of float or float, default=(0.1, 1.0, 10.0)
        Regularisation strengths (the ridge's ``alpha``) to try, each > 0.

    n_components : array-like of int or int, default=None
        Feature counts ``m`` to try, each at most the sampler's
        ``n_components`` ``M``; ``None`` tries ``M`` alone. The features of
        ``m`` are the first ``m`` of ``M``, rescaled (:ref:`math-nested`), so
        every ``m`` comes from the same pass.

    cv : int, cross-validation generator or iterable, default=5
        As in :class:`~sklearn.model_selection.GridSearchCV`; an int gives
        :class:`~sklearn.model_selection.KFold`. The test folds must split
        the rows (each row in exactly one test fold, the training rows of a
        fold being all the others).

    scoring : {'neg_mean_squared_error', 'r2'}, default=None
        Score of the held-out rows; ``None`` is ``'neg_mean_squared_error'``.
        Both are quadratic forms in the held-out statistics, averaged
        uniformly over the targets, and unweighted even with
        ``sample_weight``: what ``GridSearchCV``'s scorers compute without
        metadata routing.

    fit_intercept : bool, default=True
        Whether to fit an intercept.

    {shared_block}

    random_state : int, RandomState instance or None, default=None
        Seeds the default sampler (``sampler=None``:
        ``DERFSampler(random_state=random_state)``), and draws the one seed
        that an unseeded sampler gets for all its fits (every fold and the
        refit draw the same ω). A sampler with its own ``random_state`` (an
        int or a ``RandomState`` instance, copied by each clone) keeps it. See
        :term:`Glossary <random_state>`.

    Attributes
    ----------
    alpha_ : float
        The chosen ``alpha``.

    n_components_ : int
        The chosen feature count.

    best_score_ : float
        Mean held-out score of the chosen model.

    best_index_ : int
        Index of the chosen candidate in ``cv_results_``.

    cv_results_ : dict of ndarrays
        As :class:`~sklearn.model_selection.GridSearchCV`'s, with the
        candidates in its order (``n_components`` outer, ``alphas`` inner):
        ``params``, ``param_n_components``, ``param_alpha``,
        ``split{{k}}_test_score``, ``mean_test_score``, ``std_test_score`` and
        ``rank_test_score``.

    coef_ : ndarray of shape (`n_components_`,) or (n_targets, `n_components_`)
        Weights of the refitted model.

    intercept_ : float or ndarray of shape (n_targets,)
        Its independent term.

    {shared_attributes}

    See Also
    --------
    RandomFeatureRidge : One ``alpha`` and feature count.
    sklearn.linear_model.RidgeCV : The same choice on explicit features.

    Notes
    -----
    The training statistics of a fold are the merge of the other folds'
    (:ref:`math-statistics`), the held-out squared error is a quadratic form
    in the held-out fold's statistics, each fold and ``m`` is solved by one
    Cholesky factorisation per ``alpha`` (grids of more than eight alphas
    share one eigendecomposition per fold and ``m``; the refit is one
    Cholesky solve), and the statistics of ``m`` features are the
    leading block of those of ``M`` (:ref:`math-nested`).

    The sampler itself is fitted to the training rows of each fold, as in the
    pipeline. When its fitted map does not depend on the data (a
    :class:`~skfavor.PositiveRFSampler` with a numeric ``gamma``) one map
    serves every fold: the pass costs one ``transform`` and
    ``n · (M + n_targets)²`` flops. Otherwise each block is mapped by each
    fold's map and by the refit's map: ``K + 1`` transforms and
    ``(K + 1) · n · (M + n_targets)²`` flops, still one pass over the data
    (after the cheap pass for the sampler statistics), and ``2K + 1``
    statistics of size ``(M + n_targets)²`` in memory. With ``sample_weight``
    the held-out rows' unweighted statistics are taken as well: ``K`` more
    statistics, and up to twice the scatter flops.
    ``GridSearchCV`` fits ``K · len(alphas) · len(n_components)`` pipelines
    instead.

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from skfavor import DERFSampler
    >>> from skfavor.kernel_ridge import RandomFeatureRidgeCV
    >>> X, y = make_regression(n_samples=500, n_features=5, random_state=0)
    >>> sampler = DERFSampler(n_components=200, gamma=0.05, random_state=0)
    >>> model = RandomFeatureRidgeCV(
    ...     sampler, alphas=[0.01, 0.1, 1.0], n_components=[50, 100, 200]
    ... ).fit(X, y)
    >>> len(model.cv_results_["params"])
    9
    >>> model.n_components_ in (50, 100, 200)
    True
    """

    _parameter_constraints: dict = {
        **_BaseRandomFeatureRidge._parameter_constraints,
        "alphas": ["array-like", _NotBool(Real, 0.0, None, closed="neither")],
        "n_components": [
            "array-like",
            _NotBool(Integral, 1, None, closed="left"),
            None,
        ],
        "cv": ["cv_object"],
        "scoring": [StrOptions({"neg_mean_squared_error", "r2"}), None],
    }

    def __init__(
        self,
        sampler=None,
        *,
        alphas=(0.1, 1.0, 10.0),
        n_components=None,
        cv=5,
        scoring=None,
        fit_intercept=True,
        block_size=None,
        random_state=None,
    ):
        self.sampler = sampler
        self.alphas = alphas
        self.n_components = n_components
        self.cv = cv
        self.scoring = scoring
        self.fit_intercept = fit_intercept
        self.block_size = block_size
        self.random_state = random_state

    def _grid(self, M: int):
        # A 2-D grid is refused, as by RidgeCV, not flattened into another one.
        alphas = _positive_floats(self.alphas, "alphas")
        counts = self.n_components
        if counts is None or isinstance(counts, Integral):
            counts = [M if counts is None else counts]
        counts = list(counts)
        if not counts or any(
            isinstance(m, bool | np.bool_)
            or not isinstance(m, Integral)
            or not 1 <= m <= M
            for m in counts
        ):
            raise ValueError(
                "n_components must be a non-empty list of ints between 1 and the "
                f"sampler's n_components={M}, got {self.n_components!r}."
            )
        return [float(a) for a in alphas], [int(m) for m in counts]

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, groups=None):
        """Cross-validate every ``alpha`` and feature count, then refit.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Training rows.

        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the squared errors in training (each
            fold's fit and the refit). The held-out scores stay unweighted,
            as in ``GridSearchCV(...).fit(X, y, r__sample_weight=...)``.

        groups : array-like of shape (n_samples,), default=None
            Group labels for a group-aware ``cv``.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        X, y, sample_weight = self._check_inputs(X, y, sample_weight, reset=True)
        y_memory = y.compute() if is_dask_array(y) else y
        sampler = _checked_sampler(
            self.sampler, seed=True, random_state=self.random_state
        )
        M = sampler.n_components
        alphas, counts = self._grid(M)
        fold, K = fold_labels(self.cv, X, y_memory, groups)
        x_parts = self._x_statistics(X, fold, K)
        x_train = [
            merge_statistics(x_parts[j] for j in range(K) if j != k) for k in range(K)
        ]
        refit_map = _fit_sampler(clone(sampler), merge_statistics(x_parts))
        fold_maps = [_fit_sampler(clone(sampler), s) for s in x_train]
        Y = self._targets_2d(y)
        train, test, full = fold_statistics(
            X,
            Y,
            sample_weight,
            refit_map,
            fold_maps,
            fold,
            self._block_rows(M + Y.shape[1], X.shape[0]),
        )
        scores = grid_scores(
            train, test, M, counts, alphas, self.fit_intercept, self.scoring
        )
        self.cv_results_, self.best_index_ = grid_results(scores, counts, alphas)
        self.best_score_ = float(self.cv_results_["mean_test_score"][self.best_index_])
        self.n_components_ = counts[self.best_index_ // len(alphas)]
        self.alpha_ = alphas[self.best_index_ % len(alphas)]
        ((coef, intercept),) = ridge_path(
            full, M, self.n_components_, [self.alpha_], fit_intercept=self.fit_intercept
        )
        self._set_solution(coef, intercept, y.ndim == 1, _float_dtype(X))
        final = clone(sampler).set_params(n_components=self.n_components_)
        self.sampler_ = _fit_sampler(final, merge_statistics(x_parts))
        return self

    def predict(self, X):
        """Predict with the refitted model, mapping the rows block by block.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows to predict.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_targets)
            Predictions, in ``X``'s float dtype.
        """
        return self._decision_values(X)
