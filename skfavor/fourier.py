"""Random Fourier features of the Gaussian (RBF) kernel as sin/cos pairs."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.validation import check_is_fitted, validate_data

from ._blocks import plan_blocks, run_in_blocks
from ._namespace import refuse_array_api
from ._positive_sampler import _as_float, _float_rows, _NotBool
from ._sampling import SAMPLINGS, draw_weights
from ._statistics import column_moments, entry_variance

#: Most bytes of the threads' buffers, as a fraction of the output ...
_PART_FRACTION = 0.04

#: ... but at least this many per thread: parts of fewer rows spend more on
#: Python and on BLAS's packing of the weights than on the transform.
_MIN_PART_BYTES = 2**17


def _rows_per_part(output_bytes, row_width, dtype, n_threads, n_block_rows) -> int:
    """Rows of phases at a time: all threads' buffers within a few % of the output.

    Large outputs get ``_PART_FRACTION`` of their size, small ones
    ``_MIN_PART_BYTES`` a thread; never more rows than a block's.
    """
    row_bytes = max(row_width, 1) * np.dtype(dtype).itemsize
    share = int(_PART_FRACTION * output_bytes) // max(n_threads, 1)
    budget = max(share, _MIN_PART_BYTES)
    return int(max(1, min(budget // row_bytes, n_block_rows)))


class FourierSampler(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Random Fourier features as sin/cos pairs, with coupled directions.

    ``φ(x) = (M/2)^-½ [cos ω₁ᵀz, sin ω₁ᵀz, …, cos ω_{M/2}ᵀz, sin ω_{M/2}ᵀz]``
    with ``z = √(2 gamma) x`` the input in kernel units (:ref:`math-kernels`)
    and ``M = n_components``: ``φ(x)ᵀφ(y)`` is an unbiased estimate of
    ``exp(-gamma |x − y|²)``. An odd ``M`` ends with one feature
    ``(M/2)^-½ cos(ωᵀz + u)`` of random phase ``u`` (RBFSampler's form, which
    is unbiased alone; a lone cosine is not). Per feature this has a lower
    variance than the random phase ``√2 cos(ωᵀz + u)`` of
    :class:`~sklearn.kernel_approximation.RBFSampler` (:ref:`math-variances`),
    and orthogonal directions (Yu et al., 2016) or simplex directions lower it
    further (:ref:`math-sampling`, :ref:`math-simplex`).

    The features are **not positive**: kernel estimates can be negative, so
    ratios of them (Nadaraya–Watson, attention normalisers) can change sign
    or divide by numbers near 0. Use a positive family there
    (:class:`PositiveRFSampler`, :class:`GERFSampler`, :class:`DERFSampler`);
    a linear model on the features (Ridge) is fine.

    Parameters
    ----------
    n_components : int, default=100
        Number of features, ≥ 1: ``n_components // 2`` directions each give
        a cos/sin pair, and an odd number ends with one random-phase feature
        of one more direction.

    gamma : 'scale' or float, default=1.0
        Parameter of the kernel ``exp(-gamma |x − y|²)``, > 0. ``'scale'``
        uses ``1 / (n_features * X.var())`` as
        :class:`~sklearn.kernel_approximation.RBFSampler` does. The value used
        is stored in ``gamma_``.

    sampling : {'orthogonal', 'simplex', 'iid'}, default='orthogonal'
        Coupling of the directions, each marginally N(0, I)
        (:ref:`math-sampling`, :ref:`math-simplex`). Orthogonal and simplex
        directions are drawn in ``n_features × n_features`` blocks: for inputs
        with very many columns (sparse text features), use ``'iid'``.

    random_state : int, RandomState instance or None, default=None
        Controls the random directions. Pass an int for reproducible features
        across calls. See :term:`Glossary <random_state>`.

    Attributes
    ----------
    random_weights_ : ndarray of shape ((n_components + 1) // 2, `n_features_in_`)
        The directions ω, each row marginally N(0, I) (before the kernel
        scale ``√(2 gamma_)``).

    random_offset_ : ndarray of shape (n_components % 2,)
        The phase ``u ~ U[0, 2π)`` of the last feature for an odd
        ``n_components``; empty for an even one.

    gamma_ : float
        The kernel parameter used (``gamma``, or its value for ``'scale'``).

    center_ : ndarray of shape (`n_features_in_`,)
        Mean of the training rows. The estimate is translation invariant, so
        dense rows are shifted by it before the product, which keeps float32
        phases accurate far from the origin.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X`
        has feature names that are all strings.

    See Also
    --------
    sklearn.kernel_approximation.RBFSampler : Random-phase Fourier features.
    AutoSampler : Chooses between these and the positive families.

    Notes
    -----
    Output columns alternate cos and sin of one direction, so the first
    ``m`` (even) columns times ``√(M/m)`` are the ``m``-feature map of the
    same seed (:ref:`math-nested`), for an odd ``M`` too.

    References
    ----------
    .. [1] A. Rahimi and B. Recht, "Random Features for Large-Scale Kernel
       Machines", NIPS 2007.
    .. [2] F. X. Yu, A. T. Suresh, K. Choromanski, D. Holtmann-Rice and
       S. Kumar, "Orthogonal Random Features", NIPS 2016.

    Examples
    --------
    >>> import numpy as np
    >>> from skfavor import FourierSampler
    >>> X = np.array([[0.0, 0.0], [1.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    >>> sampler = FourierSampler(n_components=8, random_state=0).fit(X)
    >>> features = sampler.transform(X)
    >>> features.shape
    (4, 8)
    >>> bool(np.allclose((features**2).sum(1), 1.0))
    True
    """

    _parameter_constraints: dict = {
        "n_components": [_NotBool(Integral, 1, None, closed="left")],
        "gamma": [StrOptions({"scale"}), _NotBool(Real, 0.0, None, closed="neither")],
        "sampling": [StrOptions(set(SAMPLINGS))],
        "random_state": ["random_state"],
    }

    def __init__(
        self, *, n_components=100, gamma=1.0, sampling="orthogonal", random_state=None
    ):
        self.n_components = n_components
        self.gamma = gamma
        self.sampling = sampling
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Draw the directions (and resolve ``gamma='scale'`` on ``X``).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.

        y : None
            Ignored; present for API consistency.

        Returns
        -------
        self : object
            Fitted sampler.
        """
        refuse_array_api(self, X)
        self._cast = {}
        # An integer memmap stays as it is: column_moments converts each block.
        X = _float_rows(validate_data(self, X, accept_sparse="csr", dtype="numeric"))
        # The mean and the entries' variance only: no n_features² scatter.
        n, mean, squares = column_moments(X)
        if not np.all(np.isfinite(mean)):
            raise ValueError("X is too large: its mean overflows float64.")
        if self.gamma == "scale":
            with np.errstate(over="ignore", invalid="ignore"):
                variance = float(entry_variance(mean, np.sum(squares) / n))
            if not np.isfinite(variance):
                raise ValueError(
                    "X is too large for gamma='scale': the variance of X "
                    "overflows float64; scale X down or pass a numeric gamma."
                )
            self.gamma_ = 1.0 / (self.n_features_in_ * variance) if variance else 1.0
        else:
            self.gamma_ = float(self.gamma)
        self.center_ = mean
        random_state = check_random_state(self.random_state)
        self.random_weights_ = draw_weights(
            (self.n_components + 1) // 2,
            self.n_features_in_,
            random_state,
            sampling=self.sampling,
        )
        # Drawn after the directions, so that an even map's draws are unchanged.
        self.random_offset_ = random_state.uniform(
            0.0, 2.0 * np.pi, size=self.n_components % 2
        )
        self._n_features_out = self.n_components
        return self

    def __getstate__(self):
        """The estimator's state, without the cached casts of its weights.

        A copy: the live estimator keeps its cache (``BaseEstimator`` may return
        ``__dict__`` itself).
        """
        state = dict(super().__getstate__())
        state.pop("_cast", None)
        return state

    def _terms(self, dtype):
        """``√(2 gamma_) Wᵀ`` (C-ordered) and the center in ``dtype``, cached.

        The cache is keyed by ``dtype`` and checked against the fitted
        attributes it was made from, so that assigning new ``gamma_``,
        ``random_weights_`` or ``center_`` takes effect. ``Wᵀ`` is stored
        C-ordered: SciPy copies a dense operand of a sparse product otherwise.
        """
        sources = (self.gamma_, self.random_weights_, self.center_)
        cast = self.__dict__.setdefault("_cast", {})
        entry = cast.get(dtype)
        if entry is None or not (
            entry[0][0] == sources[0]
            and entry[0][1] is sources[1]
            and entry[0][2] is sources[2]
        ):
            # One C-ordered array, scaled in float64 and rounded to dtype.
            weights_T = np.empty(self.random_weights_.shape[::-1], dtype=dtype)
            np.multiply(
                self.random_weights_.T, np.sqrt(2.0 * self.gamma_), out=weights_T
            )
            terms = (weights_T, self.center_.astype(dtype))
            entry = cast[dtype] = (sources, terms)
        return entry[1]

    def transform(self, X):
        """Map rows to the sin/cos features.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows to map.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components)
            Features; ``transform(X) @ transform(Y).T`` is an unbiased
            estimate of ``exp(-gamma_ |x − y|²)``.
        """
        check_is_fitted(self)
        refuse_array_api(self, X)
        X = _as_float(
            validate_data(self, X, accept_sparse="csr", dtype="numeric", reset=False)
        )
        weights_T, center = self._terms(X.dtype)
        # The fitted width, not the parameter: set_params waits for a refit.
        n_components = self._n_features_out
        features = np.empty((X.shape[0], n_components), dtype=X.dtype)
        # Blocks bound the work units, parts (below) the memory.
        plan = plan_blocks(
            X.shape[0],
            n_components,
            X.shape[1],
            X.dtype.itemsize,
            None,
            sparse=sp.issparse(X),
        )
        n_threads, n_block_rows = plan.n_threads, plan.n_block_rows
        n_phases = n_components - n_components // 2
        # A sparse row stays sparse: the shift becomes a phase per direction.
        shift = (center @ weights_T).astype(X.dtype) if sp.issparse(X) else None
        n_shifted = 0 if sp.issparse(X) else X.shape[1]
        part_rows = _rows_per_part(
            features.nbytes, n_shifted + n_phases, X.dtype, n_threads, n_block_rows
        )

        def make_worker():
            # Each thread's own buffers for a part of a block at a time.
            shifted = np.empty((part_rows, n_shifted), dtype=X.dtype)
            phases = np.empty((part_rows, n_phases), dtype=X.dtype)

            def worker(rows):
                for start in range(rows.start, rows.stop, part_rows):
                    part = slice(start, min(start + part_rows, rows.stop))
                    n = part.stop - part.start
                    if shift is not None:
                        out = safe_sparse_dot(X[part], weights_T, dense_output=True)
                        out -= shift
                    else:
                        np.subtract(X[part], center, out=shifted[:n])
                        out = np.matmul(shifted[:n], weights_T, out=phases[:n])
                    self._fill(out, features[part])
                return 0, 0

            return worker

        run_in_blocks(
            X.shape[0],
            n_block_rows,
            n_threads,
            make_worker,
            blas_threads=plan.blas_threads,
        )
        return features

    def _fill(self, phases, features) -> None:
        """Write the cos/sin pairs (and lone cosine) of ``phases`` into ``features``.

        Called on a part of a block at a time (:func:`~skfavor._blocks.run_in_blocks`),
        with the phases in a thread's buffer, so the transform's peak memory is
        its output and those buffers; each part's strided writes stay in cache.
        """
        n_components = features.shape[1]
        n_pairs = n_components // 2
        pairs = phases[:, :n_pairs]
        np.cos(pairs, out=features[:, 0 : 2 * n_pairs : 2])
        np.sin(pairs, out=features[:, 1 : 2 * n_pairs : 2])
        if n_components % 2:
            last = phases[:, n_pairs] + self.random_offset_.astype(phases.dtype)
            np.cos(last, out=features[:, -1])
        features *= phases.dtype.type(np.sqrt(2.0 / n_components))

    def transform_keys(self, Y):
        """The same map as :meth:`transform` (the estimator is symmetric).

        Parameters
        ----------
        Y : {array-like, sparse matrix} of shape (n_samples, n_features)
            Key rows to map.

        Returns
        -------
        Y_new : ndarray of shape (n_samples, n_components)
        """
        return self.transform(Y)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
