"""Checks of the rows a transformer maps, with errors that name the argument.

scikit-learn's ``check_array`` and feature-name checks, as
``validate_data(reset=False)`` runs them, with a short route for plain float
rows (:func:`checked_rows`) and the package's float dtype rule
(:func:`_as_float`).
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_array
from sklearn.utils._array_api import get_namespace
from sklearn.utils.validation import validate_data

from ._feature_map import _caller_stacklevel


def _as_float(X):
    """``X``, checked numeric, in float32 if it is float32 and float64 otherwise.

    The checks use ``dtype='numeric'``, as scikit-learn's estimators do, so that
    arrays of strings are refused rather than parsed; integers, booleans and
    other floats then become float64 here, in ``X``'s namespace.
    """
    if sp.issparse(X):
        return X if X.dtype in (np.float32, np.float64) else X.astype(np.float64)
    xp, _ = get_namespace(X)
    if X.dtype in (xp.float32, xp.float64):
        return X
    return xp.astype(X, xp.float64)


def _float_rows(X):
    """``X`` in floats, or a NumPy array of other numbers (an integer memmap of
    data larger than memory) as it is, to be converted block by block."""
    if isinstance(X, np.ndarray) and X.dtype not in (np.float32, np.float64):
        return X
    return _as_float(X)


def _check_named(X, name: str, **kwargs):
    """``check_array`` of ``X`` to floats, with every error naming ``name``.

    scikit-learn names the input in some of its messages ("Input keys contains
    NaN") but not in others ("Expected 2D array"); a user who passed two
    arrays must know which one is wrong.
    """
    try:
        return _as_float(
            check_array(
                X, accept_sparse="csr", dtype="numeric", input_name=name, **kwargs
            )
        )
    except (TypeError, ValueError) as error:
        if re.search(rf"\b{name}\b", str(error)):
            raise
        raise type(error)(f"{name}: {error}") from error


def check_feature_names(estimator, rows, name: str) -> None:
    """scikit-learn's feature-name check of ``rows``, its messages naming ``name``.

    ``validate_data(..., reset=False)`` says "X" in its errors and warnings
    whatever the argument; keys must be named as such.
    """
    # ensure_2d=False: the names alone, before the array is checked (the
    # width is checked on the checked array).
    options = {"skip_check_array": True, "reset": False, "ensure_2d": False}
    if name == "X":
        validate_data(estimator, rows, **options)
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            validate_data(estimator, rows, **options)
        except (TypeError, ValueError) as error:
            raise type(error)(f"{name}: {error}") from error
    for warning in caught:
        message = re.sub(r"^X ", f"{name} ", str(warning.message))
        warnings.warn(message, warning.category, stacklevel=_caller_stacklevel())


def _plain_float_rows(X) -> bool:
    """Whether ``X`` is rows that ``check_array`` would return as they are.

    A NumPy array (not a subclass) of float32 or float64, 2-D, with rows and
    columns, whose sum is finite (so every entry is). Anything else, an
    overflowing sum of finite entries included, takes the general checks.
    """
    if type(X) is not np.ndarray or X.ndim != 2 or 0 in X.shape:
        return False
    if X.dtype not in (np.float32, np.float64):
        return False
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.isfinite(np.add.reduce(X, axis=None)))


def checked_keys(estimator, keys):
    """``keys`` given to ``fit`` as floats, of the width and feature names of ``X``.

    ``estimator`` has just validated ``X`` (its ``n_features_in_`` and
    ``feature_names_in_``). Columns reordered or renamed would fit the key
    map to other features.
    """
    checked = _check_named(keys, "keys")
    if checked.shape[1] != estimator.n_features_in_:
        raise ValueError(
            f"keys has {checked.shape[1]} features, but X has "
            f"{estimator.n_features_in_} features; both must have the same width."
        )
    check_feature_names(estimator, keys, "keys")
    return checked


def checked_rows(estimator, X, name: str):
    """Rows to map, checked as ``validate_data(reset=False)`` checks them.

    In its order: the column names (on the input as the user passed it),
    then ``check_array`` (its messages naming the estimator), then the width.
    Plain float rows for an estimator fitted without names take a short
    route: what the names check and ``check_array`` would do to them is
    nothing (the general checks cost a sixth of a transform of
    1000 x 32 -> 256). Errors name the argument ``name``.

    Returns
    -------
    checked : ndarray or sparse matrix in float32 or float64
    """
    plain = not hasattr(estimator, "feature_names_in_") and _plain_float_rows(X)
    checked = X
    if not plain:
        check_feature_names(estimator, X, name)
        checked = _check_named(X, name, estimator=estimator)
    if checked.shape[1] != estimator.n_features_in_:
        raise ValueError(
            f"{name} has {checked.shape[1]} features, but "
            f"{type(estimator).__name__} is expecting {estimator.n_features_in_} "
            "features as input."
        )
    return checked
