"""Positive random features for the Gaussian (RBF) and softmax kernels."""

from __future__ import annotations

import numpy as np
from sklearn.utils._param_validation import StrOptions

from ._docstrings import fill_doc
from ._positive_sampler import AsymmetricMapWarning, _BasePositiveSampler

__all__ = [
    "AsymmetricMapWarning",
    "DERFSampler",
    "GERFSampler",
    "PositiveRFSampler",
]

_SHARED_PARAMETERS = """n_components : int, default=100
        Number of random features, the dimensionality of the output (the
        map's width; ``n_features`` always means the input's width).

    kernel : {'rbf', 'softmax'}, default='rbf'
        Kernel to approximate: ``'rbf'`` is ``exp(-gamma * |x - y|²)``, exactly
        the kernel of :class:`~sklearn.kernel_approximation.RBFSampler`;
        ``'softmax'`` is ``exp(gamma * xᵀy)``.

    gamma : 'scale' or float, default=1.0
        Kernel parameter, > 0. ``'scale'`` uses ``1 / (n_features * X.var())``
        as :class:`~sklearn.kernel_approximation.RBFSampler` does. The value
        used is stored in ``gamma_``.

    sampling : {'orthogonal', 'simplex', 'iid'}, default='orthogonal'
        Coupling of the random directions, each marginally N(0, I):
        ``'orthogonal'`` draws blocks of orthogonal rows (:ref:`math-sampling`),
        ``'simplex'`` blocks of simplex vertices (:ref:`math-simplex`; the
        lowest variance for PosRF), ``'iid'`` independent rows.

    orthogonal : bool, default=True
        Former form of ``sampling`` (``True`` is ``'orthogonal'``, ``False``
        ``'iid'``); refused together with a ``sampling`` other than
        ``'orthogonal'``.

        .. deprecated:: 0.2
           ``orthogonal`` is deprecated in 0.2 and will be removed in 0.4;
           use ``sampling`` instead.

    random_state : int, RandomState instance or None, default=None
        Controls the random directions. Pass an int for reproducible features
        across calls. See :term:`Glossary <random_state>`."""

_SHARED_ATTRIBUTES = """random_weights_ : ndarray of shape \
        (n_components, `n_features_in_`)
        The raw random directions ω, each row marginally N(0, I), one row per
        output feature. This is the transpose of the orientation of
        :class:`~sklearn.kernel_approximation.RBFSampler`'s ``random_weights_``
        (``(n_features, n_components)``), and unscaled: RBFSampler stores
        ``√(2 gamma) ω``, here the bandwidth ``gamma_`` is applied to the inputs
        (:ref:`math-kernels`) and the family's frame and ``√(1 − 4a)`` are
        folded in when the map is compiled (:ref:`math-families`).

    gamma_ : float
        The kernel parameter used (``gamma``, or its value for ``'scale'``).

    center_ : ndarray of shape (`n_features_in_`,)
        Origin at which the map is evaluated (``x − center_``): the mean of the
        query and key means for the Gaussian kernel's data-dependent families
        (the variance-optimal shift), zeros otherwise.

    query_map_ : FeatureMap
        The fitted map of :meth:`transform`, ``φ(x) = exp((x − c) Wᵀ + offset +
        q(x − c))`` with public ``weights`` (``W``, on raw inputs: the bandwidth,
        the family's frame and ``√(1 − 4a)`` are folded in), ``offset``,
        ``quadratic`` (``q(z) = zᵀ C z``; a float is ``C = c I``, a vector a
        diagonal) and ``center`` (:ref:`math-families`). What exporters and the
        Nadaraya–Watson estimators read.

    key_map_ : FeatureMap
        The fitted map of :meth:`transform_keys`; the same object as
        ``query_map_`` for a symmetric family.

    family_parameters_ : FrameParameters
        The family's fitted parameters in kernel units (:ref:`math-families`):
        ``a``, ``frame``, ``query_transform``, ``key_transform`` and
        ``symmetric`` (whether one map serves queries and keys), as
        :func:`skfavor.metrics.log_second_moment` takes them.

    kernel_scale_ : float
        Inputs in kernel units are ``z = kernel_scale_ · (x − center_)``:
        ``√(2 gamma_)`` for the Gaussian kernel, ``√gamma_`` for softmax
        (:ref:`math-kernels`).

    norm_coefficient_ : float
        The kernel's coefficient ``α`` of ``|z|²`` in kernel units
        (:ref:`math-variances`): ``−½`` for the Gaussian kernel, ``0`` for
        softmax. Not the ridge's ``alpha``.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X`
        has feature names that are all strings."""


_fill_doc = fill_doc(
    shared_parameters=_SHARED_PARAMETERS, shared_attributes=_SHARED_ATTRIBUTES
)


@_fill_doc
class PositiveRFSampler(_BasePositiveSampler):
    """Positive random features of FAVOR+ (PosRF), independent of the data.

    ``φ(x) = M^-½ exp(ωᵀz − ½|z|²)`` (softmax kernel; the Gaussian kernel
    multiplies by ``exp(-½|z|²)`` once more), with ``z`` the input in kernel
    units (:ref:`math-kernels`, :ref:`math-families`).

    Parameters
    ----------
    {shared_parameters}

    Attributes
    ----------
    {shared_attributes}

    See Also
    --------
    GERFSampler : The same map with the optimal ``a`` (lower variance).
    DERFSampler : Dense-exponential random features (lowest variance).
    sklearn.kernel_approximation.RBFSampler : Random Fourier features.

    References
    ----------
    .. [1] K. Choromanski et al., "Rethinking Attention with Performers",
       ICLR 2021.

    Examples
    --------
    >>> import numpy as np
    >>> from skfavor import PositiveRFSampler
    >>> X = np.array([[0.0, 0.0], [1.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    >>> sampler = PositiveRFSampler(n_components=8, random_state=0).fit(X)
    >>> features = sampler.transform(X)
    >>> features.shape, bool((features > 0).all())
    ((4, 8), True)
    """

    _data_dependent = False

    def _family(self) -> str:
        return "posrf"


@_fill_doc
class GERFSampler(_BasePositiveSampler):
    """Generalised exponential random features with the optimal ``a`` (OPRF).

    The FAVOR++ map ``(1−4a)^{d/4} exp(a|ω|² + √(1−4a) ωᵀz − ½|z|²)`` with ``a``
    fitted in closed form to the data statistics (:ref:`math-families`):
    ``a = a*((tr MX + tr MY + 2 μXᵀμY) / d)``. Symmetric: one map for all rows.

    Parameters
    ----------
    {shared_parameters}

    Attributes
    ----------
    a_ : float
        The fitted ``a`` (≤ 0; ``0`` gives :class:`PositiveRFSampler`).

    {shared_attributes}

    See Also
    --------
    PositiveRFSampler : ``a = 0``.
    DERFSampler : One ``a`` per eigen-direction of the data (lower variance).

    References
    ----------
    .. [1] V. Likhosherstov et al., "Chefs' Random Tables: Non-Trigonometric
       Random Features", NeurIPS 2022.

    Examples
    --------
    >>> import numpy as np
    >>> from skfavor import GERFSampler
    >>> X = np.array([[0.0, 0.0], [1.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    >>> sampler = GERFSampler(n_components=8, random_state=0).fit(X)
    >>> round(sampler.a_, 4)
    -0.3202
    >>> sampler.transform(X).shape
    (4, 8)
    """

    def _family(self) -> str:
        return "gerf"

    def _set_family_attributes(self, params) -> None:
        self.a_ = float(params.a[0])


@_fill_doc
class DERFSampler(_BasePositiveSampler):
    """Dense-exponential random features (FAVOR#): SDERF, ADERF or SADERF.

    All parameters are fitted in closed form to the statistics of the query
    set ``X`` and the key set ``keys`` (:ref:`math-families`):

    * ``'sderf'`` (symmetric, the default): one ``a_l`` per eigen-direction of
      ``MXY``; one map for every row, so it is correct in a ``Pipeline``.
    * ``'aderf'`` (asymmetric): GERF on ``T₁x`` for queries and ``T₂y`` for keys,
      with ``T₁ᵀT₂ = I`` fitted to the two sets' second moments.
    * ``'saderf'`` (asymmetric): the same with diagonal ``T₁ = Ψ``,
      ``T₂ = Ψ⁻¹``.

    Asymmetric variants only pay off when queries and keys are distributed
    differently; use :meth:`transform` for queries and :meth:`transform_keys`
    for keys. A linear model in a ``Pipeline`` sees one map only, so use the
    symmetric ``'sderf'`` there: an asymmetric sampler whose :meth:`transform`
    is called a second time since ``fit`` while :meth:`transform_keys` never
    was (what a ``Pipeline`` does at ``predict``) issues an
    :class:`AsymmetricMapWarning`, once per fit. Mapping several batches of
    queries before the keys issues it too; filter it there.

    Parameters
    ----------
    variant : {'sderf', 'aderf', 'saderf'}, default='sderf'
        Which dense-exponential family to fit.

    {shared_parameters}

    Attributes
    ----------
    a_ : ndarray of shape (`n_features_in_`,)
        The fitted ``a_l`` of each direction of the frame (all ≤ 0; constant
        for the asymmetric variants).

    frame_ : ndarray of shape (`n_features_in_`, `n_features_in_`)
        Orthonormal frame ``R`` of the directions (``ω' = R ω``): the transposed
        eigenvectors of ``MXY`` for ``'sderf'``, the identity otherwise.

    query_transform_ : ndarray of shape (`n_features_in_`, `n_features_in_`)
        Linear map ``T₁`` applied to queries in kernel units, in the frame
        (the identity for ``'sderf'``, ``Ψ`` for ``'saderf'``).

    key_transform_ : ndarray of shape (`n_features_in_`, `n_features_in_`)
        Linear map ``T₂`` applied to keys; ``T₁ᵀT₂ = I``.

    {shared_attributes}

    See Also
    --------
    GERFSampler : One ``a`` for all directions.
    sklearn.kernel_approximation.RBFSampler : Random Fourier features.

    Notes
    -----
    Eigenvalues and diagonals of singular second moments (one-hot or constant
    columns) are floored at ``1e-6`` times their maximum (:ref:`math-numerics`).

    References
    ----------
    .. [1] V. Likhosherstov, K. Choromanski, A. Dubey, F. Liu, T. Sarlos and
       A. Weller, "Dense-Exponential Random Features: Sharp Positive Estimators
       of the Gaussian Kernel", NeurIPS 2023 (arXiv:2302.00787).

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from sklearn.linear_model import Ridge
    >>> from sklearn.pipeline import make_pipeline
    >>> from skfavor import DERFSampler
    >>> X, y = make_regression(n_samples=200, n_features=5, random_state=0)
    >>> model = make_pipeline(
    ...     DERFSampler(n_components=200, gamma=0.05, random_state=0), Ridge()
    ... )
    >>> model.fit(X, y).score(X, y) > 0.9
    True
    """

    _parameter_constraints: dict = {
        **_BasePositiveSampler._parameter_constraints,
        "variant": [StrOptions({"sderf", "aderf", "saderf"})],
    }

    def __init__(
        self,
        variant="sderf",
        *,
        n_components=100,
        kernel="rbf",
        gamma=1.0,
        sampling="orthogonal",
        orthogonal="deprecated",
        random_state=None,
    ):
        super().__init__(
            n_components=n_components,
            kernel=kernel,
            gamma=gamma,
            sampling=sampling,
            orthogonal=orthogonal,
            random_state=random_state,
        )
        self.variant = variant

    def _family(self) -> str:
        return self.variant

    @property
    def _asymmetric(self) -> bool:
        return self.variant != "sderf"

    def _set_family_attributes(self, params) -> None:
        d = params.a.shape[0]

        def full(T):
            if T is None:
                return np.eye(d)
            return np.diag(T) if T.ndim == 1 else T

        self.a_ = params.a
        self.frame_ = full(params.frame)
        self.query_transform_ = full(params.query_transform)
        self.key_transform_ = full(params.key_transform)
