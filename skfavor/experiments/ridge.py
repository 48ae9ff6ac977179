"""The Ridge route: ``Pipeline(sampler, RidgeClassifier)`` tuned by GridSearchCV.

At each ``M = d · multiplier``, for RBFSampler, the symmetric skfavor
samplers (the only ones that are correct in a pipeline, :ref:`math-estimators`)
and :class:`~skfavor.AutoSampler` (which picks, in each fit, the symmetric family
or the sin/cos Fourier pair of least cross-validated ridge error on the training
rows, its default criterion ``'ridge_cv'``), a grid
search over ``gamma`` and ``alpha``, against kernel ridge on the exact kernel
tuned over the same grid. σ was tuned for Nadaraya–Watson, so the pipeline
tunes ``gamma`` itself (the data's README).
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import RidgeClassifier
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import LabelEncoder

from .. import UnderflowWarning
from ..datasets import paper_split
from ._common import PAPER_GAMMA, Config, draw_seeds, make_sampler, run_tasks
from ._output import format_draws, mean_and_sem

#: Ridge methods: RBFSampler, the symmetric families and AutoSampler
#: (orthogonal draws).
RIDGE_METHODS = ("rff", "posrf", "gerf", "sderf", "auto")

#: The Ridge route's grid: ``gamma`` around the paper's 0.5 and ``alpha``.
RIDGE_GAMMAS = (0.125, 0.5, 2.0)
RIDGE_ALPHAS = (1e-3, 1e-1, 10.0)

RIDGE_COLUMNS = (
    "dataset",
    "n_features",
    "n_train",
    "n_test",
    "method",
    "multiplier",
    "n_components",
    "repeats",
    "accuracy_mean",
    "accuracy_sem",
    "accuracy_draws",
    "best_gamma",
    "best_alpha",
    "exact_accuracy",
    "exact_gamma",
    "exact_alpha",
    "auto_selected",
)


class ExactKernelRidgeClassifier(ClassifierMixin, BaseEstimator):
    """Kernel ridge on ±1 one-hot targets with the exact Gaussian kernel.

    The ceiling of the Ridge route: :class:`~sklearn.linear_model.RidgeClassifier`
    on the kernel's infinite feature map. Targets are centred, which stands in
    for RidgeClassifier's intercept.

    Parameters
    ----------
    gamma : float, default=0.5
        Parameter of ``exp(-gamma |x - y|²)``.
    alpha : float, default=1.0
        Ridge penalty, as in RidgeClassifier.
    """

    def __init__(self, gamma=0.5, alpha=1.0):
        self.gamma = gamma
        self.alpha = alpha

    def fit(self, X, y):
        """Fit kernel ridge to the centred ±1 one-hot encoding of ``y``.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Training rows.
        y : ndarray of shape (n_samples,)
            Labels.

        Returns
        -------
        self : object
            Fitted classifier.
        """
        encoder = LabelEncoder().fit(y)
        self.classes_ = encoder.classes_
        codes = encoder.transform(y)
        targets = np.where(codes[:, None] == np.arange(self.classes_.size), 1.0, -1.0)
        self.offset_ = targets.mean(axis=0)
        self.ridge_ = KernelRidge(alpha=self.alpha, kernel="rbf", gamma=self.gamma)
        self.ridge_.fit(X, targets - self.offset_)
        return self

    def predict(self, X):
        """Predict the class of largest score.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Rows to classify.

        Returns
        -------
        ndarray of shape (n_samples,)
            Predicted labels.
        """
        scores = self.ridge_.predict(X) + self.offset_
        return self.classes_[np.argmax(scores, axis=1)]


def _grid_search(estimator, grid: dict, seed: int) -> GridSearchCV:
    # Plain K-fold: some abalone classes have a single member, which
    # stratified folds cannot split.
    cv = KFold(n_splits=3, shuffle=True, random_state=seed)
    return GridSearchCV(estimator, grid, cv=cv, error_score=np.nan)


def ridge_draw(split, method: str, n_components: int, seed: int):
    """Test accuracy and chosen ``gamma, alpha`` of one tuned Ridge pipeline.

    Parameters
    ----------
    split : tuple
        ``X_train, X_test, y_train, y_test``.
    method, n_components, seed
        See :func:`make_sampler`; skfavor samplers draw orthogonal features.

    Returns
    -------
    accuracy, gamma, alpha : float
    selected : str
        The family AutoSampler selected in the refit on all training rows
        (``''`` for the other methods).
    """
    X_train, X_test, y_train, y_test = split
    sampler = make_sampler(
        method,
        n_components=n_components,
        gamma=PAPER_GAMMA,
        orthogonal=True,
        random_state=seed,
    )
    pipeline = Pipeline([("sampler", sampler), ("ridge", RidgeClassifier())])
    grid = {"sampler__gamma": RIDGE_GAMMAS, "ridge__alpha": RIDGE_ALPHAS}
    search = _grid_search(pipeline, grid, seed)
    with warnings.catch_warnings():
        # Large gamma on outlying rows underflows positive features; the
        # search scores that setting as it is and moves on.
        warnings.simplefilter("ignore", UnderflowWarning)
        search.fit(X_train, y_train)
        accuracy = search.score(X_test, y_test)
    best = search.best_params_
    fitted = search.best_estimator_.named_steps["sampler"]
    selected = getattr(fitted, "selected_", "")
    return float(accuracy), best["sampler__gamma"], best["ridge__alpha"], selected


def exact_ridge(split, seed: int):
    """Test accuracy and chosen ``gamma, alpha`` of tuned exact kernel ridge."""
    X_train, X_test, y_train, y_test = split
    grid = {"gamma": RIDGE_GAMMAS, "alpha": RIDGE_ALPHAS}
    search = _grid_search(ExactKernelRidgeClassifier(), grid, seed)
    search.fit(X_train, y_train)
    accuracy = search.score(X_test, y_test)
    return float(accuracy), search.best_params_["gamma"], search.best_params_["alpha"]


def run_ridge(name: str, config: Config) -> list[dict]:
    """Tuned Ridge-pipeline accuracy of every symmetric method on one set.

    Parameters
    ----------
    name : str
        UCI set.
    config : Config
        The run's settings.

    Returns
    -------
    list of dict
        One row per (method, multiplier), keyed by :data:`RIDGE_COLUMNS`;
        ``best_gamma`` and ``best_alpha`` are the medians of the draws'
        choices; ``auto_selected`` lists AutoSampler's selections over the
        draws (``'sderf'``, ``'fourier|sderf'``, ...; empty for the other
        methods); ``accuracy_draws`` the accuracy of each draw in seed order
        (the same seeds and folds for every method).
    """
    split = paper_split(
        name, max_train=config.ridge_max_train, max_test=config.max_test
    )
    X_train, _, y_train, y_test = split
    d = X_train.shape[1]
    seeds = draw_seeds(config, config.ridge_repeats)
    exact_accuracy, exact_gamma, exact_alpha = exact_ridge(split, seeds[0])
    points = [
        (m, multiplier) for multiplier in config.multipliers for m in RIDGE_METHODS
    ]
    tasks = [
        (split, method, d * multiplier, seed)
        for method, multiplier in points
        for seed in seeds
    ]
    results = run_tasks(ridge_draw, tasks, config=config, desc=f"Ridge {name}")
    rows = []
    for i, (method, multiplier) in enumerate(points):
        draws = results[i * len(seeds) : (i + 1) * len(seeds)]
        accuracies = [accuracy for accuracy, *_ in draws]
        mean, sem = mean_and_sem(accuracies)
        rows.append(
            dict(
                dataset=name,
                n_features=d,
                n_train=len(y_train),
                n_test=len(y_test),
                method=method,
                multiplier=multiplier,
                n_components=d * multiplier,
                repeats=len(seeds),
                accuracy_mean=mean,
                accuracy_sem=sem,
                accuracy_draws=format_draws(accuracies),
                best_gamma=float(np.median([g for _, g, _, _ in draws])),
                best_alpha=float(np.median([a for _, _, a, _ in draws])),
                exact_accuracy=exact_accuracy,
                exact_gamma=exact_gamma,
                exact_alpha=exact_alpha,
                auto_selected="|".join(sorted({s for *_, s in draws} - {""})),
            )
        )
    return rows
