"""The bundled UCI data sets against ../shared/datasets/uci/README.md.

The expected encoding is re-derived here from the raw text files, independently
of skfavor.datasets: numeric columns first, then one one-hot block per
categorical column in column order; labels are the sorted distinct values of
the last column mapped to 0..k-1.
"""

from importlib import resources

import numpy as np
import pytest
from sklearn.utils import Bunch

import skfavor.datasets
from skfavor.datasets import UCI_DATASETS, load_uci, paper_split

#: The README's table: file, separator (None: whitespace), categorical
#: columns, dropped columns, rows, features after one-hot, classes, σ.
README = {
    "abalone": ("abalone.data", ",", [0], [], 4177, 10, 28, 0.41331138),
    "banknote": ("banknote.txt", ",", [], [], 1372, 4, 2, 1.06445901),
    "car": ("car.data", ",", list(range(6)), [], 1728, 21, 4, 0.77656608),
    "yeast": ("yeast.data", None, [], [0], 1484, 8, 10, 0.90918797),
    "cmc": ("cmc.data", ",", [], [], 1473, 9, 3, 0.48389667),
    "nursery": ("nursery.data", ",", list(range(8)), [], 12960, 27, 5, 0.18788887),
    "wifi": ("wifi.txt", None, [], [], 2000, 7, 4, 0.21997651),
    "chess": ("chess.data", ",", list(range(6)), [], 28056, 40, 18, 0.25754408),
}


def _raw_rows(name):
    """The file's non-blank lines split into stripped fields (README: "Skip
    blank lines; keep every other line")."""
    filename, separator = README[name][:2]
    text = resources.files("skfavor.datasets").joinpath("data", filename).read_text()
    rows = [
        [field.strip() for field in line.split(separator)]
        for line in text.splitlines()
        if line.strip()
    ]
    assert len({len(row) for row in rows}) == 1, "ragged file"
    return np.array(rows, dtype=object)


def _sort_key(value):
    try:
        return (0, float(value), "")
    except ValueError:
        return (1, 0.0, value)


@pytest.fixture(scope="module")
def loaded():
    """``load_uci(name)`` of each name, loaded once for the module."""
    return {}


def _load(loaded, name):
    if name not in loaded:
        loaded[name] = load_uci(name)
    return loaded[name]


@pytest.fixture(scope="module", params=UCI_DATASETS)
def dataset(request, loaded):
    name = request.param
    return name, _load(loaded, name), _raw_rows(name)


def test_the_eight_names():
    assert sorted(UCI_DATASETS) == sorted(README)


def test_shape_dtype_classes_and_sigma(dataset):
    name, bunch, _ = dataset
    _, _, _, _, n_rows, n_features, n_classes, sigma = README[name]
    assert isinstance(bunch, Bunch)
    assert bunch.data.shape == (n_rows, n_features)
    assert bunch.data.dtype == np.float64
    assert np.all(np.isfinite(bunch.data))
    assert bunch.target.shape == (n_rows,)
    assert np.issubdtype(bunch.target.dtype, np.integer)
    np.testing.assert_array_equal(np.unique(bunch.target), np.arange(n_classes))
    assert len(bunch.target_names) == n_classes
    assert len(bunch.feature_names) == n_features
    assert bunch.sigma == sigma
    assert name in bunch.DESCR and str(n_rows) in bunch.DESCR


def test_labels_are_the_sorted_distinct_values_of_the_last_column(dataset):
    _, bunch, raw = dataset
    labels = raw[:, -1]
    distinct = sorted(set(labels), key=_sort_key)
    np.testing.assert_array_equal(
        bunch.target, [distinct.index(value) for value in labels]
    )
    np.testing.assert_array_equal(
        np.asarray(bunch.target_names)[bunch.target].astype(str), labels.astype(str)
    )


def test_numeric_columns_first_then_one_hot_blocks(dataset):
    name, bunch, raw = dataset
    _, _, categorical, drop = README[name][:4]
    columns = [j for j in range(raw.shape[1] - 1) if j not in drop]
    numeric = [j for j in columns if j not in categorical]
    X = bunch.data
    np.testing.assert_array_equal(X[:, : len(numeric)], raw[:, numeric].astype(float))

    start = len(numeric)
    for j in categorical:
        values = raw[:, j]
        distinct = sorted(set(values), key=_sort_key)
        block = X[:, start : start + len(distinct)]
        assert set(np.unique(block)) <= {0.0, 1.0}
        np.testing.assert_array_equal(block.sum(axis=1), 1.0)
        # Each column marks exactly one raw value, and each value one column.
        for k in range(len(distinct)):
            assert len(set(values[block[:, k] == 1])) == 1
        assert len({values[block[:, k] == 1][0] for k in range(len(distinct))}) == (
            len(distinct)
        )
        for k, feature_name in enumerate(
            bunch.feature_names[start : start + len(distinct)]
        ):
            column, _, value = feature_name.partition("=")
            assert column == f"x{j}"
            np.testing.assert_array_equal(block[:, k], values == value)
        start += len(distinct)
    assert start == X.shape[1]


def test_return_X_y(dataset):
    name, bunch, _ = dataset
    X, y = load_uci(name, return_X_y=True)
    np.testing.assert_array_equal(X, bunch.data)
    np.testing.assert_array_equal(y, bunch.target)


@pytest.mark.parametrize("bad", ["iris", "Car", ""])
def test_unknown_name_is_a_value_error_naming_it(bad):
    with pytest.raises(ValueError, match=f"got {bad!r}") as info:
        load_uci(bad)
    assert "banknote" in str(info.value)
    with pytest.raises(ValueError, match=f"got {bad!r}"):
        paper_split(bad)


# --- the experiments' protocol -----------------------------------------------


def _reference_split(bunch):
    """README: permute with default_rng(42), first 95 % train, standardise with
    the train mean and std (zero std counts as 1), multiply by σ."""
    n = bunch.data.shape[0]
    order = np.random.default_rng(42).permutation(n)
    n_train = round(0.95 * n)
    train, test = bunch.data[order[:n_train]], bunch.data[order[n_train:]]
    std = train.std(axis=0)
    std[std == 0] = 1.0
    mean = train.mean(axis=0)
    return (
        (train - mean) / std * bunch.sigma,
        (test - mean) / std * bunch.sigma,
        bunch.target[order[:n_train]],
        bunch.target[order[n_train:]],
    )


@pytest.mark.parametrize("name", UCI_DATASETS)
def test_paper_split_follows_the_protocol(loaded, name):
    sigma, n = README[name][7], README[name][4]
    X_train, X_test, y_train, y_test = paper_split(name)
    # round(0.95 n): car (1641.6) and yeast (1409.8) are where this differs from
    # int(0.95 n).
    assert X_train.shape[0] == round(0.95 * n)
    assert X_train.shape[0] + X_test.shape[0] == n
    assert X_train.shape[1] == X_test.shape[1] == README[name][5]
    np.testing.assert_allclose(X_train.mean(axis=0), 0.0, atol=1e-10)
    np.testing.assert_allclose(X_train.std(axis=0), sigma, rtol=1e-10)
    for got, expected in zip(
        (X_train, X_test, y_train, y_test),
        _reference_split(_load(loaded, name)),
        strict=True,
    ):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ["car", "wifi"])
def test_paper_split_is_deterministic_and_truncates_after_scaling(name):
    full = paper_split(name)
    again = paper_split(name)
    for a, b in zip(full, again, strict=True):
        np.testing.assert_array_equal(a, b)
    X_train, X_test, y_train, y_test = paper_split(name, max_train=100, max_test=20)
    assert X_train.shape[0] == 100 and X_test.shape[0] == 20
    # The first rows of each part, standardised with the whole train part.
    np.testing.assert_array_equal(X_train, full[0][:100])
    np.testing.assert_array_equal(X_test, full[1][:20])
    np.testing.assert_array_equal(y_train, full[2][:100])
    np.testing.assert_array_equal(y_test, full[3][:20])


def test_paper_split_leaves_constant_columns_at_zero(monkeypatch):
    """A zero standard deviation counts as 1: a constant column becomes 0, not
    NaN. No bundled set has one, so a small stand-in is loaded instead."""
    rng = np.random.default_rng(0)
    data = np.column_stack([rng.normal(size=40), np.full(40, 7.0)])
    fake = Bunch(data=data, target=np.arange(40) % 2, sigma=0.5)
    monkeypatch.setattr(skfavor.datasets, "load_uci", lambda name: fake)
    X_train, X_test, _, _ = paper_split("stand-in")
    assert X_train.shape == (38, 2) and X_test.shape == (2, 2)
    np.testing.assert_array_equal(X_train[:, 1], 0.0)
    np.testing.assert_array_equal(X_test[:, 1], 0.0)
    np.testing.assert_allclose(X_train[:, 0].std(), 0.5)
