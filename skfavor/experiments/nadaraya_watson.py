"""The Nadaraya–Watson route: the paper's random-feature protocol on one UCI set.

For ``M = d · multiplier`` features and independent draws, the test accuracy
of the vote ``argmax_c Σ_j K̂(x, x_j)[y_j = c]`` at the set's σ (``gamma = 0.5``
on the scaled data), against the same vote with the exact kernel. skfavor
samplers are refitted on the test set as queries and the training set as
keys (``transductive=True``), as in the paper; RBFSampler does not depend on
the data.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.metrics import euclidean_distances
from sklearn.utils import gen_batches

from ..datasets import paper_split
from ..nadaraya_watson import NadarayaWatsonClassifier, NonPositiveDenominatorWarning
from ._common import PAPER_GAMMA, Config, draw_seeds, make_sampler, run_tasks
from ._output import format_draws, mean_and_sem

#: Nadaraya–Watson methods: (name, orthogonal) pairs. RBFSampler draws i.i.d.
NW_METHODS = (
    ("rff", False),
    *(
        (family, orthogonal)
        for family in ("posrf", "gerf", "sderf", "aderf", "saderf")
        for orthogonal in (False, True)
    ),
)

NW_COLUMNS = (
    "dataset",
    "n_features",
    "n_train",
    "n_test",
    "method",
    "orthogonal",
    "multiplier",
    "n_components",
    "repeats",
    "accuracy_mean",
    "accuracy_sem",
    "accuracy_draws",
    "fallback_rate",
    "exact_accuracy",
)


def exact_nw_accuracy(X_train, X_test, y_train, y_test, *, gamma=PAPER_GAMMA):
    """Accuracy of the Nadaraya–Watson vote with the exact Gaussian kernel.

    Parameters
    ----------
    X_train, X_test : ndarray
        Training (keys) and test (queries) rows.
    y_train, y_test : ndarray
        Their integer labels.
    gamma : float, default=0.5
        Parameter of ``exp(-gamma |x - y|²)``.

    Returns
    -------
    float
        Test accuracy.
    """
    one_hot = (y_train[:, None] == np.unique(y_train)[None, :]).astype(np.float64)
    classes = np.unique(y_train)
    predictions = []
    for rows in gen_batches(X_test.shape[0], 256):
        log_weights = -gamma * euclidean_distances(X_test[rows], X_train, squared=True)
        # A per-row shift cancels in the vote and keeps far rows from 0.
        log_weights -= log_weights.max(axis=1, keepdims=True)
        predictions.append(classes[(np.exp(log_weights) @ one_hot).argmax(axis=1)])
    return float(np.mean(np.concatenate(predictions) == y_test))


def nw_draw(split, method: str, orthogonal: bool, n_components: int, seed: int):
    """Accuracy and fallback rate of one draw of Nadaraya–Watson features.

    Parameters
    ----------
    split : tuple
        ``X_train, X_test, y_train, y_test``.
    method, orthogonal, n_components, seed
        See :func:`make_sampler`.

    Returns
    -------
    accuracy : float
        Test accuracy.
    fallback_rate : float
        Share of test rows whose estimated total weight was not positive
        (predicted as the majority class; only signed features get there).
    """
    X_train, X_test, y_train, y_test = split
    sampler = make_sampler(
        method,
        n_components=n_components,
        gamma=PAPER_GAMMA,
        orthogonal=orthogonal,
        random_state=seed,
    )
    model = NadarayaWatsonClassifier(sampler, transductive=method != "rff")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", NonPositiveDenominatorWarning)
        y_pred = model.fit(X_train, y_train).predict(X_test)
    fallback = sum(
        w.message.n_rows
        for w in caught
        if issubclass(w.category, NonPositiveDenominatorWarning)
    )
    return float(np.mean(y_pred == y_test)), fallback / len(y_test)


def run_nadaraya_watson(name: str, config: Config) -> list[dict]:
    """Nadaraya–Watson accuracy of every method at every multiplier on one set.

    Parameters
    ----------
    name : str
        UCI set.
    config : Config
        The run's settings.

    Returns
    -------
    list of dict
        One row per (method, orthogonal, multiplier), keyed by
        :data:`NW_COLUMNS`; ``accuracy_draws`` holds the accuracy of each
        draw in seed order, the same seeds for every method (so that
        methods are compared draw by draw).
    """
    split = paper_split(name, max_train=config.max_train, max_test=config.max_test)
    X_train, X_test, y_train, y_test = split
    d = X_train.shape[1]
    exact = exact_nw_accuracy(X_train, X_test, y_train, y_test)
    seeds = draw_seeds(config, config.repeats)
    points = [
        (method, orthogonal, multiplier)
        for multiplier in config.multipliers
        for method, orthogonal in NW_METHODS
    ]
    tasks = [
        (split, method, orthogonal, d * multiplier, seed)
        for method, orthogonal, multiplier in points
        for seed in seeds
    ]
    results = run_tasks(nw_draw, tasks, config=config, desc=f"NW {name}")
    rows = []
    for i, (method, orthogonal, multiplier) in enumerate(points):
        draws = results[i * len(seeds) : (i + 1) * len(seeds)]
        accuracies = [accuracy for accuracy, _ in draws]
        mean, sem = mean_and_sem(accuracies)
        rows.append(
            dict(
                dataset=name,
                n_features=d,
                n_train=len(y_train),
                n_test=len(y_test),
                method=method,
                orthogonal=orthogonal,
                multiplier=multiplier,
                n_components=d * multiplier,
                repeats=len(seeds),
                accuracy_mean=mean,
                accuracy_sem=sem,
                accuracy_draws=format_draws(accuracies),
                fallback_rate=float(np.mean([rate for _, rate in draws])),
                exact_accuracy=exact,
            )
        )
    return rows
