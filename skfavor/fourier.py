"""Random Fourier features of the Gaussian (RBF) kernel as sin/cos pairs."""

from __future__ import annotations

from numbers import Integral, Real
from typing import NamedTuple

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

from ._blocks import BlockPlan, plan_blocks, run_in_blocks
from ._namespace import refuse_array_api
from ._positive_sampler import _NotBool
from ._sampling import SAMPLINGS, draw_weights
from ._statistics import column_moments, entry_variance
from ._validation import _float_rows, checked_rows

#: Most bytes of the threads' buffers, as a fraction of the output ...
_PART_FRACTION = 0.04

#: ... but at least this many per thread: parts of fewer rows spend more on
#: Python and on BLAS's packing of the weights than on the transform.
_MIN_PART_BYTES = 2**17


#: Dense rows at most this wide, to more features than their columns, are
#: mapped in their own output rows
#: (:meth:`FourierSampler._transform_in_place`) where the pairs' buffers
#: would take more than ``_PART_FRACTION`` of the output: short outputs, since
#: each thread's buffers take at least ``_MIN_PART_BYTES``. The product is
#: then twice as wide, which rows this narrow pay for: time over the pairs'
#: route at 1000 x d -> 256 (medians of 151, interleaved, load 0.3), float32 /
#: float64: d 32 0.93 / 0.94, d 48 1.00 / 0.92-0.95, d 64 1.02-1.03 /
#: 0.95-0.97 (peaks 1.03, 1.04, 1.05 against 1.15 to 1.16).
_IN_PLACE_MAX_FEATURES = 48

#: Bytes of output per part on that route: ``[x − c, 1]`` rows for it stay
#: within a few % of the output, and a part's product, cosine and scaling
#: within a core's cache.
_IN_PLACE_PART_BYTES = 2**16


def _rows_per_part(output_bytes, row_width, dtype, n_threads, n_block_rows) -> int:
    """Rows of phases at a time: all threads' buffers within a few % of the output.

    Large outputs get ``_PART_FRACTION`` of their size, small ones
    ``_MIN_PART_BYTES`` a thread; never more rows than a block's.
    """
    row_bytes = max(row_width, 1) * np.dtype(dtype).itemsize
    share = int(_PART_FRACTION * output_bytes) // max(n_threads, 1)
    budget = max(share, _MIN_PART_BYTES)
    return int(max(1, min(budget // row_bytes, n_block_rows)))


class _PairsPlan(NamedTuple):
    """Blocks, parts and buffers of :meth:`FourierSampler._transform_pairs`."""

    #: The package's plan of blocks and threads (:func:`plan_blocks`).
    blocks: BlockPlan
    #: Rows of a part: each thread's buffers hold one part's phases at a time.
    part_rows: int
    #: Columns of the shifted rows ``x − c`` (0 for sparse rows).
    n_shifted: int
    #: Columns of the scratch for contiguous cosines and sines: the pairs in
    #: float32, whose cos/sin numpy vectorises only into contiguous outputs
    #: (strided: 2.0 times the time; float64's are not vectorised here, and
    #: the copy would cost more than it saves).
    n_scratch: int
    #: Bytes of all threads' buffers.
    buffer_bytes: int

    @classmethod
    def of(cls, X, features):
        """The plan for mapping ``X`` into ``features``."""
        n_components = features.shape[1]
        # Blocks bound the work units, parts (below) the memory.
        blocks = plan_blocks(
            X.shape[0],
            n_components,
            X.shape[1],
            X.dtype.itemsize,
            None,
            sparse=sp.issparse(X),
        )
        n_shifted = 0 if sp.issparse(X) else X.shape[1]
        n_scratch = n_components // 2 if X.dtype == np.float32 else 0
        width = n_shifted + n_components - n_components // 2 + n_scratch
        part_rows = _rows_per_part(
            features.nbytes, width, X.dtype, blocks.n_threads, blocks.n_block_rows
        )
        buffer_bytes = blocks.n_threads * part_rows * width * X.dtype.itemsize
        return cls(blocks, part_rows, n_shifted, n_scratch, buffer_bytes)


def _in_place_weights(directions_T, scale, offset, dtype):
    """``[[ω₁, ω₁, ω₂, ω₂, …], [0, −π/2, 0, −π/2, …]]`` (and ``[ω, u]`` last
    for an odd width), ``ω`` the columns of ``directions_T`` times ``scale``:
    the product of ``[x − c, 1]`` by these is every phase of the output, the
    sine's a quarter turn back. Scaled in float64 and rounded into ``dtype``,
    with no float64 copy of the weights."""
    n_features, n_directions = directions_T.shape
    n_pairs = n_directions - offset.size
    weights = np.zeros((n_features + 1, 2 * n_pairs + offset.size), dtype=dtype)
    for first in (0, 1):
        np.multiply(
            directions_T[:, :n_pairs], scale, out=weights[:-1, first : 2 * n_pairs : 2]
        )
    weights[-1, 1 : 2 * n_pairs : 2] = -np.pi / 2
    if offset.size:
        np.multiply(directions_T[:, -1], scale, out=weights[:-1, -1])
        weights[-1, -1] = offset[0]
    return weights


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

    def _terms(self, dtype, in_place=False):
        """The product's weights and the center in ``dtype``, cached.

        ``√(2 gamma_) Wᵀ`` (C-ordered: SciPy copies a dense operand of a sparse
        product otherwise), or with ``in_place`` the weights of
        :meth:`_transform_in_place`: each scaled direction twice, and a last
        row of the phases' offsets (0 and −π/2 for a pair, ``u`` for a lone
        cosine), made in float64 and rounded to ``dtype``. The cache is keyed
        by both and checked against the fitted attributes it was made from, so
        that assigning new ``gamma_``, ``random_weights_``, ``random_offset_``
        or ``center_`` takes effect. The offset (one number at most) is
        compared by value, so that an edit in place (``random_offset_ += 1``)
        takes effect too, as on the pairs' route, which reads it at each call.
        """
        cast = self.__dict__.setdefault("_cast", {})
        entry = cast.get((dtype, in_place))
        if entry is not None:
            gamma, directions, center, offset = entry[0]
            if not (
                gamma == self.gamma_
                and directions is self.random_weights_
                and center is self.center_
                and np.array_equal(offset, self.random_offset_)
            ):
                entry = None
        if entry is None:
            offset = np.array(self.random_offset_, copy=True)
            sources = (self.gamma_, self.random_weights_, self.center_, offset)
            # Scaled in float64 and rounded into dtype: no float64 copy of the
            # weights (a third of the output more in a first call at
            # 1000 x 300 -> 1024 float32).
            scale = np.sqrt(2.0 * self.gamma_)
            if in_place:
                weights = _in_place_weights(
                    self.random_weights_.T, scale, offset, dtype
                )
            else:
                # One C-ordered array.
                weights = np.empty(self.random_weights_.shape[::-1], dtype=dtype)
                np.multiply(self.random_weights_.T, scale, out=weights)
            terms = (weights, self.center_.astype(dtype))
            entry = cast[(dtype, in_place)] = (sources, terms)
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
        X = checked_rows(self, X, "X")
        # The fitted width, not the parameter: set_params waits for a refit.
        features = np.empty((X.shape[0], self._n_features_out), dtype=X.dtype)
        pairs = _PairsPlan.of(X, features)
        if (
            not sp.issparse(X)
            and X.shape[1] <= _IN_PLACE_MAX_FEATURES
            # Outputs narrower than [x − c, 1] would need more rows of these
            # for a part than of the output, which the pairs' route bounds.
            and features.shape[1] > X.shape[1]
            and pairs.buffer_bytes > _PART_FRACTION * features.nbytes
        ):
            self._transform_in_place(X, features)
        else:
            self._transform_pairs(X, features, pairs)
        return features

    def _transform_in_place(self, X, features) -> None:
        """Map short outputs of dense narrow rows in their own rows.

        RBFSampler's way: each direction appears twice in the product, the
        sine as the cosine a quarter turn back (``sin t = cos(t − π/2)``), with
        the phases' offsets as the weights of a column of ones. One product
        writes every phase of a part into its output rows, and one contiguous
        cosine and one scaling there finish it: no phase buffer and no
        strided stores, whose buffers would be a large share of a short
        output. The results differ from :meth:`_transform_pairs`'s by
        rounding only.
        """
        weights, center = self._terms(X.dtype, in_place=True)
        n_rows, n_features = X.shape
        itemsize = X.dtype.itemsize
        part_rows = max(1, _IN_PLACE_PART_BYTES // features[:1].nbytes)

        def extra_bytes(n_block_rows):
            # The [x − c, 1] rows and numpy's buffer for the broadcast subtraction.
            return 2 * min(n_block_rows, part_rows) * (n_features + 1) * itemsize

        plan = plan_blocks(
            n_rows,
            features.shape[1],
            n_features,
            itemsize,
            None,
            block_extra_bytes=extra_bytes,
        )
        part_rows = min(part_rows, plan.n_block_rows)
        scale = X.dtype.type(np.sqrt(2.0 / features.shape[1]))

        def make_worker():
            # Each thread's own [x − c, 1] rows for a part of a block at a time.
            rows_with_one = np.empty((part_rows, n_features + 1), dtype=X.dtype)
            rows_with_one[:, -1] = 1

            def worker(rows):
                for start in range(rows.start, rows.stop, part_rows):
                    part = slice(start, min(start + part_rows, rows.stop))
                    shifted = rows_with_one[: part.stop - part.start]
                    np.subtract(X[part], center, out=shifted[:, :-1])
                    out = np.matmul(shifted, weights, out=features[part])
                    np.cos(out, out=out)
                    out *= scale
                return 0, 0

            return worker

        run_in_blocks(
            n_rows,
            plan.n_block_rows,
            plan.n_threads,
            make_worker,
            blas_threads=plan.blas_threads,
        )

    def _transform_pairs(self, X, features, pairs) -> None:
        """Map rows a part of a block at a time: phases in a buffer, then cos/sin pairs.

        The product is half as wide as the output; the cosines and sines of a
        part's phases are stored into its interleaved columns (:meth:`_fill`).
        ``pairs`` is the route's plan (:class:`_PairsPlan`).
        """
        weights_T, center = self._terms(X.dtype)
        # A sparse row stays sparse: the shift becomes a phase per direction.
        shift = (center @ weights_T).astype(X.dtype) if sp.issparse(X) else None
        part_rows, n_shifted = pairs.part_rows, pairs.n_shifted
        n_phases = weights_T.shape[1]

        def make_worker():
            # Each thread's own buffers for a part of a block at a time.
            shifted = np.empty((part_rows, n_shifted), dtype=X.dtype)
            phases = np.empty((part_rows, n_phases), dtype=X.dtype)
            scratch = np.empty((part_rows, pairs.n_scratch), dtype=X.dtype)

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
                    self._fill(out, features[part], scratch[:n])
                return 0, 0

            return worker

        run_in_blocks(
            X.shape[0],
            pairs.blocks.n_block_rows,
            pairs.blocks.n_threads,
            make_worker,
            blas_threads=pairs.blocks.blas_threads,
        )

    def _fill(self, phases, features, scratch) -> None:
        """Write the cos/sin pairs (and lone cosine) of ``phases`` into ``features``.

        Called on a part of a block at a time (:func:`~skfavor._blocks.run_in_blocks`),
        with the phases in a thread's buffer, so the transform's peak memory is
        its output and those buffers; each part's strided writes stay in cache.
        With a ``scratch`` of the pairs' shape (float32, :class:`_PairsPlan`),
        the cosines and sines are taken into it and copied to their strided
        columns: numpy vectorises them for contiguous outputs only.
        """
        n_components = features.shape[1]
        n_pairs = n_components // 2
        pairs = phases[:, :n_pairs]
        for function, first in ((np.cos, 0), (np.sin, 1)):
            columns = features[:, first : 2 * n_pairs : 2]
            if scratch.size:
                columns[...] = function(pairs, out=scratch)
            else:
                function(pairs, out=columns)
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
