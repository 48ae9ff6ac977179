"""The eight UCI data sets of the FAVOR# kernel-regression experiments.

The files are bundled from the UCI Machine Learning Repository (Dua and Graff,
CC BY 4.0) and encoded as the data README says: numeric columns first, then
one-hot blocks of the categorical columns in column order; labels mapped to
``0..k-1`` in sorted order.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import numpy as np
from sklearn.utils import Bunch

__all__ = ["UCI_DATASETS", "load_uci", "paper_split"]


@dataclass(frozen=True)
class _UCISpec:
    filename: str
    separator: str | None  # None: any whitespace
    categorical: tuple[int, ...]
    drop: tuple[int, ...]
    sigma: float


_SPECS = {
    "abalone": _UCISpec("abalone.data", ",", (0,), (), 0.41331138),
    "banknote": _UCISpec("banknote.txt", ",", (), (), 1.06445901),
    "car": _UCISpec("car.data", ",", tuple(range(6)), (), 0.77656608),
    "yeast": _UCISpec("yeast.data", None, (), (0,), 0.90918797),
    "cmc": _UCISpec("cmc.data", ",", (), (), 0.48389667),
    "nursery": _UCISpec("nursery.data", ",", tuple(range(8)), (), 0.18788887),
    "wifi": _UCISpec("wifi.txt", None, (), (), 0.21997651),
    "chess": _UCISpec("chess.data", ",", tuple(range(6)), (), 0.25754408),
}

#: Names accepted by :func:`load_uci`, in the order of the paper's table.
UCI_DATASETS = tuple(_SPECS)


def _sorted_distinct(values: np.ndarray) -> np.ndarray:
    """Distinct values, sorted numerically when they are all numbers."""
    distinct = np.unique(values)
    try:
        order = np.argsort(distinct.astype(np.float64), kind="stable")
    except ValueError:
        return distinct
    return distinct[order]


def _read_rows(spec: _UCISpec) -> np.ndarray:
    text = resources.files(__name__).joinpath("data", spec.filename).read_text()
    rows = [
        [field.strip() for field in line.split(spec.separator)]
        for line in text.splitlines()
        if line.strip()
    ]
    return np.array(rows, dtype=object)


def load_uci(name: str, *, return_X_y: bool = False):
    """Load one of the bundled UCI classification data sets, unscaled.

    ================  =====  ========  =======  ==========
    name              rows   features  classes  σ
    ================  =====  ========  =======  ==========
    abalone           4177   10        28       0.41331138
    banknote          1372   4         2        1.06445901
    car               1728   21        4        0.77656608
    yeast             1484   8         10       0.90918797
    cmc               1473   9         3        0.48389667
    nursery           12960  27        5        0.18788887
    wifi              2000   7         4        0.21997651
    chess             28056  40        18       0.25754408
    ================  =====  ========  =======  ==========

    Parameters
    ----------
    name : str
        One of ``skfavor.datasets.UCI_DATASETS``.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``data`` (float64, numeric columns then one-hot blocks), ``target``
        (int64 labels ``0..k-1``), ``feature_names``, ``target_names``,
        ``sigma`` (the paper's bandwidth for standardised data) and ``DESCR``.
    (data, target) : tuple
        If ``return_X_y`` is True.

    Examples
    --------
    >>> from skfavor.datasets import load_uci
    >>> X, y = load_uci("banknote", return_X_y=True)
    >>> X.shape, int(y.max()) + 1
    ((1372, 4), 2)
    """
    if name not in _SPECS:
        raise ValueError(f"name must be one of {list(UCI_DATASETS)}, got {name!r}.")
    spec = _SPECS[name]
    rows = _read_rows(spec)
    labels = rows[:, -1]
    columns = [j for j in range(rows.shape[1] - 1) if j not in spec.drop]
    numeric = [j for j in columns if j not in spec.categorical]
    blocks = [rows[:, numeric].astype(np.float64)]
    feature_names = [f"x{j}" for j in numeric]
    for j in spec.categorical:
        categories = _sorted_distinct(rows[:, j])
        blocks.append((rows[:, j][:, None] == categories[None, :]).astype(np.float64))
        feature_names += [f"x{j}={c}" for c in categories]
    data = np.hstack(blocks)
    target_names = _sorted_distinct(labels)
    target = np.array(
        [np.flatnonzero(target_names == value)[0] for value in labels], dtype=np.int64
    )
    if return_X_y:
        return data, target
    return Bunch(
        data=data,
        target=target,
        feature_names=np.array(feature_names, dtype=object),
        target_names=target_names,
        sigma=spec.sigma,
        DESCR=(
            f"UCI {name} data set ({data.shape[0]} rows, {data.shape[1]} features "
            f"after one-hot encoding, {len(target_names)} classes). Source: UCI "
            "Machine Learning Repository (Dua and Graff), CC BY 4.0."
        ),
    )


def paper_split(name: str, *, max_train=None, max_test=None):
    """The experiments' protocol: split, standardise and scale by σ.

    Rows are permuted with ``numpy.random.default_rng(42)``; the first 95 % are
    the training set, the last 5 % the test set. Features are standardised
    with the training mean and standard deviation (a zero deviation counts as
    1) and multiplied by the set's σ, so that the Gaussian kernel of the
    experiments is ``exp(-|x - y|² / 2)`` (``gamma = 0.5``).

    Parameters
    ----------
    name : str
        One of ``skfavor.datasets.UCI_DATASETS``.
    max_train, max_test : int, default=None
        Keep only the first rows of each part (after the permutation and the
        standardisation), to subsample the large sets.

    Returns
    -------
    X_train, X_test, y_train, y_test : ndarray
        Scaled features and labels.
    """
    bunch = load_uci(name)
    X, y = bunch.data, bunch.target
    order = np.random.default_rng(42).permutation(X.shape[0])
    n_train = round(0.95 * X.shape[0])
    train, test = order[:n_train], order[n_train:]
    mean = X[train].mean(axis=0)
    std = X[train].std(axis=0)
    std[std == 0] = 1.0
    X = (X - mean) / std * bunch.sigma
    train, test = train[:max_train], test[:max_test]
    return X[train], X[test], y[train], y[test]
