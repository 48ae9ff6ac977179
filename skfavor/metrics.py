"""Exact variances of random-feature kernel estimators (:ref:`math-variances`)."""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import cdist
from sklearn.kernel_approximation import RBFSampler
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted

from ._positive_sampler import _BasePositiveSampler
from .fourier import FourierSampler

__all__ = [
    "log_second_moment",
    "log_variance",
    "squared_distances",
    "trigonometric_log_variance",
]


def _as_dense(X, n_features: int, name: str) -> np.ndarray:
    X = check_array(X, accept_sparse="csr", dtype=np.float64, input_name=name)
    if X.shape[1] != n_features:
        raise ValueError(
            f"{name} has {X.shape[1]} features, but the sampler was fitted on "
            f"{n_features} features."
        )
    return X.toarray() if hasattr(X, "toarray") else X


def squared_distances(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """``|x − y|²`` of every pair of rows, from the differences.

    Exactly 0 for identical rows and without the cancellation of
    ``|x|² + |y|² − 2xᵀy`` for close ones, where the variances of
    :ref:`math-variances` are smallest.

    Parameters
    ----------
    X : ndarray of shape (n_samples_X, n_features)
        First rows.
    Y : ndarray of shape (n_samples_Y, n_features)
        Second rows.

    Returns
    -------
    ndarray of shape (n_samples_X, n_samples_Y)
    """
    return cdist(X, Y, "sqeuclidean")


def _rbf_sampler_gamma(sampler: RBFSampler, X: np.ndarray) -> float:
    """The kernel parameter of a fitted RBFSampler, from its public parameters.

    A numeric ``gamma`` is the parameter itself. scikit-learn resolves
    ``gamma='scale'`` on the training rows, ``1 / (n_features · X.var())``,
    and keeps the value private: it is resolved here on ``X`` the same way,
    which is the training value when ``X`` is the training data. Its
    ``random_weights_`` are ``√(2 gamma)`` times standard normal draws, so
    rows of another scale are recognised and refused.
    """
    if sampler.gamma != "scale":
        return float(sampler.gamma)
    variance = float(np.var(X))
    gamma = 1.0 / (X.shape[1] * variance) if variance != 0 else 1.0
    weights = np.asarray(sampler.random_weights_)
    ratio = float(np.mean(weights**2)) / (2.0 * gamma)
    # The mean of N squared standard normals: 1 ± √(2/N); 8 standard errors.
    if abs(ratio - 1.0) > 8.0 * np.sqrt(2.0 / weights.size):
        raise ValueError(
            "RBFSampler(gamma='scale') resolved gamma on its training rows and "
            "does not expose the value; X is not of their scale (gamma "
            f"{gamma:.3g} from X, about {gamma * ratio:.3g} from the sampler's "
            "random_weights_). Pass the training rows as X, or fit the "
            "RBFSampler with a numeric gamma."
        )
    return gamma


def _log_relative_variance(params, Zx, Zy) -> np.ndarray:
    """``log(Var/K²)`` of each pair, in kernel units (:ref:`math-variances`).

    With ``T₁ᵀT₂ = I`` in an orthonormal frame, ``2 log K`` cancels the cross
    term and the norms of ``log E2``, which leaves terms that are each ≥ 0:
    ``log(E2/K²) = Σ_l [log(1−4a_l) − ½ log(1−8a_l) + (s_1l + s_2l)²/(1−8a_l)]``.
    Taking ``log E2 − 2 log K`` as the difference of the large terms instead
    loses every digit where ``Var ≪ K²`` (``x ≈ −y`` for PosRF, whose
    variance ``K²(e^{|x+y|²} − 1)`` vanishes there). ``log expm1(r)`` is
    taken as ``r + log(−expm1(−r))``, which does not overflow past r = 709.
    """
    Sx = params.transformed_input(Zx, "query")
    Sy = params.transformed_input(Zy, "key")
    a = np.broadcast_to(np.asarray(params.a, dtype=np.float64), Sx.shape[1:])
    root = 1.0 / np.sqrt(1.0 - 8.0 * a)
    constant = np.sum(np.log1p(-4.0 * a) - 0.5 * np.log1p(-8.0 * a))
    log_ratio = constant + cdist(Sx * root, -Sy * root, "sqeuclidean")
    with np.errstate(divide="ignore"):
        return log_ratio + np.log(-np.expm1(-log_ratio))


def trigonometric_log_variance(X, Y=None, *, gamma, kind="phase"):
    """Exact per-pair log variance of one random Fourier feature.

    See :ref:`math-variances`.

    For the Gaussian kernel ``K = exp(-gamma |x − y|²)`` and ``Δ = 2 gamma
    |x − y|²`` (the squared distance in kernel units):

    * ``kind='phase'`` (``√2 cos(ωᵀx + u)``, RBFSampler):
      ``Var = 1 + ½ e^{−2Δ} − e^{−Δ}``;
    * ``kind='sincos'`` (a pair ``cos``/``sin`` per direction):
      ``Var = ½ (1 − e^{−Δ})²``.

    Parameters
    ----------
    X : array-like of shape (n_samples_X, n_features)
        First arguments.
    Y : array-like of shape (n_samples_Y, n_features), default=None
        Second arguments; ``X`` if None.
    gamma : float
        Parameter of the Gaussian kernel.
    kind : {'phase', 'sincos'}, default='phase'
        Which trigonometric estimator.

    Returns
    -------
    ndarray of shape (n_samples_X, n_samples_Y)
        ``log Var`` of each pair (``-inf`` where the variance is 0).
    """
    X = check_array(X, dtype=np.float64, input_name="X")
    Y = X if Y is None else check_array(Y, dtype=np.float64, input_name="Y")
    # The sin/cos variance is ~Δ²/2 for close rows: distances without
    # cancellation.
    delta = 2.0 * gamma * squared_distances(X, Y)
    if kind == "phase":
        variance = 1.0 + 0.5 * np.exp(-2.0 * delta) - np.exp(-delta)
    elif kind == "sincos":
        variance = 0.5 * np.expm1(-delta) ** 2
    else:
        raise ValueError(f"kind must be 'phase' or 'sincos', got {kind!r}.")
    with np.errstate(divide="ignore"):
        return np.log(variance)


def log_second_moment(params, Zx, Zy, *, alpha):
    """``log E[(f⁽¹⁾(ω, x) f⁽²⁾(ω, y))²]`` of each pair, in kernel units.

    See :ref:`math-variances`.

    The mean of this over all pairs is the objective that every closed form of
    :ref:`math-families` minimises.

    Parameters
    ----------
    params : FrameParameters
        A family's parameters (``family_parameters_`` of a fitted sampler).
    Zx : ndarray of shape (n_samples_X, n_features)
        Queries in kernel units (``scale · x``).
    Zy : ndarray of shape (n_samples_Y, n_features)
        Keys in kernel units.
    alpha : float
        The kernel's coefficient of ``|z|²`` (``norm_coefficient_`` of a
        fitted sampler): ``-0.5`` for the Gaussian kernel, ``0`` for the
        softmax kernel. Not a ridge's ``alpha``.

    Returns
    -------
    ndarray of shape (n_samples_X, n_samples_Y)
    """
    Sx = params.transformed_input(Zx, "query")
    Sy = params.transformed_input(Zy, "key")
    a = params.a
    weight = 2.0 * (1.0 - 4.0 * a) / (1.0 - 8.0 * a)
    row_x = (Sx**2) @ weight - (Sx**2).sum(1) + 2.0 * alpha * (Zx**2).sum(1)
    row_y = (Sy**2) @ weight - (Sy**2).sum(1) + 2.0 * alpha * (Zy**2).sum(1)
    return (
        np.sum(np.log1p(-4.0 * a))
        - 0.5 * np.sum(np.log1p(-8.0 * a))
        + row_x[:, None]
        + row_y[None, :]
        + 2.0 * (Sx * weight) @ Sy.T
    )


def log_variance(sampler, X, Y=None):
    """Exact log variance of the kernel estimate of one random feature.

    For a fitted skfavor sampler, the closed form of :ref:`math-variances` for
    ``f⁽¹⁾(ω, x) f⁽²⁾(ω, y)`` with ``ω ~ N(0, I)``; for a fitted
    :class:`~sklearn.kernel_approximation.RBFSampler`, that of the
    random-phase Fourier feature; for a fitted :class:`~skfavor.FourierSampler`,
    that of one feature's share of a sin/cos pair (twice the pair's
    variance ``½(1 − K²)²``, since a pair is two features), so that the
    variance of the estimate with ``M`` i.i.d. features is
    ``exp(log_variance) / M`` for every sampler and families compare at equal
    ``n_components``. For a fitted :class:`~skfavor.AutoSampler`, that of the
    sampler it selected.

    The formulas hold for i.i.d. directions (``sampling='iid'``); orthogonal
    and simplex couplings lower the variance of the ``M``-feature estimate
    further, by an amount this per-feature figure does not include.

    Parameters
    ----------
    sampler : fitted skfavor sampler, FourierSampler, AutoSampler or RBFSampler
        The estimator whose variance to compute.
    X : {array-like, sparse matrix} of shape (n_samples_X, n_features)
        Queries (first arguments of the kernel).
    Y : {array-like, sparse matrix} of shape (n_samples_Y, n_features), \
            default=None
        Keys (second arguments); ``X`` if None.

    Returns
    -------
    ndarray of shape (n_samples_X, n_samples_Y)
        ``log Var`` of each pair.

    Examples
    --------
    >>> import numpy as np
    >>> from skfavor import DERFSampler, GERFSampler
    >>> from skfavor.metrics import log_variance
    >>> X = np.random.default_rng(0).normal(size=(50, 3))
    >>> gerf = GERFSampler(gamma=0.5, random_state=0).fit(X)
    >>> sderf = DERFSampler(gamma=0.5, random_state=0).fit(X)
    >>> bool(log_variance(sderf, X).mean() <= log_variance(gerf, X).mean())
    True
    """
    check_is_fitted(sampler)
    sampler = getattr(sampler, "sampler_", sampler)
    n_features = sampler.n_features_in_
    X = _as_dense(X, n_features, "X")
    Y = X if Y is None else _as_dense(Y, n_features, "Y")
    if isinstance(sampler, RBFSampler):
        gamma = _rbf_sampler_gamma(sampler, X)
        return trigonometric_log_variance(X, Y, gamma=gamma)
    if isinstance(sampler, FourierSampler):
        pair = trigonometric_log_variance(X, Y, gamma=sampler.gamma_, kind="sincos")
        return pair + np.log(2.0)
    if not isinstance(sampler, _BasePositiveSampler):
        raise TypeError(
            "sampler must be a fitted skfavor sampler or RBFSampler, got "
            f"{type(sampler).__name__}."
        )
    # The compiled map keeps the center on the host, whatever the namespace
    # of the public center_.
    center, scale = sampler.query_map_.center, sampler.kernel_scale_
    if center is None:
        center = np.zeros(n_features)
    Zx, Zy = (X - center) * scale, (Y - center) * scale
    if sampler.kernel == "rbf":
        log_k = -0.5 * squared_distances(Zx, Zy)
    else:
        log_k = Zx @ Zy.T
    return 2.0 * log_k + _log_relative_variance(sampler.family_parameters_, Zx, Zy)
