"""FAVOR# attention: softmax attention in time linear in the sequence length.

This module owns the attention engine, :func:`favor_heads`, which every front
end calls once per forward (the function :func:`favor_attention`, the layer
:class:`skfavor.nn.FavorAttention`, the Hugging Face integration), the types
that cross that interface (:class:`AttentionStatistics`, :class:`FavorState`),
and the validation of the options that the front ends share
(:func:`check_attention_option`).
"""

from __future__ import annotations

import math
import sys
import warnings
from typing import Any, NamedTuple

from ._attention_checks import (
    canonical_mask,
    check_attention_option,
    check_finite_inputs,
    check_function_options,
    check_inputs,
    check_omega,
    check_random_state_option,
    check_sequences,
    check_statistics,
    dropout_option,
)
from ._attention_numerics import (
    check_finite,
    compute_dtype,
    finite_statistics,
    full_precision,
    host_errors_ignored,
    kernel_factor,
    parameter_dtype,
    rows_statistics,
)
from ._closed_forms import FAMILIES
from ._exact_attention import exact_attention
from ._feature_map import StackedFeatureMap, compile_terms
from ._linear_attention import bidirectional_attention, causal_attention
from ._namespace import device as array_device
from ._namespace import get_namespace, is_torch_namespace
from ._sampling import draw_weights
from ._statistics import SampleStatistics

__all__ = [
    "AttentionStatistics",
    "CausalStatisticsWarning",
    "FavorState",
    "check_attention_option",
    "favor_attention",
    "favor_heads",
    "softmax_attention",
]


class CausalStatisticsWarning(UserWarning):
    """Causal attention fitted to the statistics of its own sequence.

    The fitted parameters of every family but ``'posrf'`` summarise the whole
    sequence (``d²`` numbers), so each output sees later positions through
    them. Pass statistics from outside the sequence (running statistics, a
    calibration set) for strictly causal attention.
    """


class FavorState(NamedTuple):
    """The state that a causal pass carries from one call to the next (decoding).

    Attributes
    ----------
    sums : array of shape (..., M, d_v + 1)
        ``Σ_j e^{ℓ_j − top} [v_j, 1]`` over the positions seen so far
        (:ref:`math-attention-model`).
    top : array of shape (..., 1, 1)
        The running maximum ``top`` of the key log-features.
    query_map, key_map : StackedFeatureMap
        The maps of the pass that made the state: a continuation uses them.
    """

    sums: Any
    top: Any
    query_map: StackedFeatureMap
    key_map: StackedFeatureMap


class AttentionStatistics(NamedTuple):
    """Query and key statistics in kernel units, supplied to the engine from outside.

    Kernel units are the inputs times ``scale**0.5`` (:ref:`math-kernels`):
    with the default scale, ``x / d^¼``. The leading dimensions broadcast
    against the (batch, head) dimensions of the attention inputs: shape
    ``(d,)`` is one set for everything, ``(H, d)`` one per head.

    Attributes
    ----------
    query_mean, key_mean : array of shape (..., d)
    query_covariance, key_covariance : array of shape (..., d, d)
        Centred covariances (divided by the count).
    """

    query_mean: Any
    query_covariance: Any
    key_mean: Any
    key_covariance: Any

    def sample_statistics(self, dtype) -> tuple[SampleStatistics, SampleStatistics]:
        """The query and key statistics as the closed forms take them, in ``dtype``.

        A count of 1, so that the scatter is the covariance
        (:ref:`math-statistics`); the fit reads only the mean and covariance.

        Parameters
        ----------
        dtype : dtype of the statistics' namespace
            Usually float64 (the closed forms' dtype).

        Returns
        -------
        queries, keys : SampleStatistics
        """
        xp = get_namespace(self.query_mean)
        parts = [xp.astype(part, dtype) for part in self]

        def one_set(mean, covariance):
            one = xp.ones(mean.shape[:-1], dtype=dtype, device=array_device(mean))
            return SampleStatistics(one, mean, covariance)

        return one_set(*parts[:2]), one_set(*parts[2:])

    @classmethod
    def from_sequences(
        cls,
        query,
        key,
        *,
        key_padding_mask=None,
        query_padding_mask=None,
        scale: float | None = None,
    ) -> AttentionStatistics:
        """Statistics of each sequence of ``query`` and ``key`` (..., L, d).

        Padded rows are left out as by :func:`favor_attention`
        (:func:`padded_query_rule`): the queries of ``query_padding_mask``,
        else those of ``key_padding_mask`` when ``L == S``. To pool sequences
        (a calibration set), put their rows into one sequence axis first.

        Parameters
        ----------
        query : array of shape (..., L, d)
        key : array of shape (..., S, d)
        key_padding_mask, query_padding_mask : bool array of shape (..., S) or (..., L)
            ``True`` marks padding. Any shape that broadcasts to the rows; an
            (N, S) mask of 4-D inputs (N, H, S, d) applies to every head.
        scale : float, default=None
            The attention scale; ``None`` is ``1/√d``.

        Returns
        -------
        AttentionStatistics
            In float64 (float32 on Apple's MPS), on the inputs' device.

        Raises
        ------
        TypeError, ValueError
            As :func:`favor_attention` for its inputs, masks and ``scale``.

        Examples
        --------
        >>> import numpy as np
        >>> from skfavor.attention import AttentionStatistics
        >>> x = np.random.default_rng(0).normal(size=(4, 100, 16))
        >>> stats = AttentionStatistics.from_sequences(x, x)
        >>> stats.query_mean.shape, stats.key_covariance.shape
        ((4, 16), (4, 16, 16))
        """
        query, key, keep, query_keep, xp = check_sequences(
            query, key, key_padding_mask, query_padding_mask, scale
        )
        query_keep = padded_query_rule(keep, query_keep, query.shape[-2], key.shape[-2])
        if not is_torch_namespace(xp):
            check_finite_inputs(query, key, key, query_keep, keep, xp)
        queries, keys = rows_statistics(query, key, keep, query_keep, scale, xp)
        return cls(queries.mean, queries.covariance, keys.mean, keys.covariance)


def padded_query_rule(keep, query_keep, n_queries: int, n_keys: int):
    """Which queries the statistics leave out, for callers that know only masks.

    An explicit query mask if given; else the key mask when there are as many
    queries as keys (self-attention, causal attention: query ``i`` and key
    ``i`` are one position); else none. Masks here mark what to keep. The
    rule of :func:`favor_attention` and :meth:`AttentionStatistics.from_sequences`;
    :func:`favor_heads` takes its masks as given.
    """
    if query_keep is not None:
        return query_keep
    return keep if n_queries == n_keys else None


def fit_maps(queries, keys, omega, family, dtype, xp):
    """Fit ``family`` to the statistics and compile the query and key maps.

    The closed forms run batched in the statistics' namespace, dtype and
    device (:ref:`math-families`); the compiled terms are cast to ``dtype``,
    the dtype of the features. Symmetric families return one map twice.

    Parameters
    ----------
    queries, keys : SampleStatistics
        Statistics in kernel units, of batch shape ``B`` (any dimensions).
    omega : array of shape (M, d)
        The random directions, in the statistics' namespace and device.
    family : str
        A key of the closed forms' table.
    dtype : dtype
        Dtype of the compiled terms.
    xp : namespace

    Returns
    -------
    query_map, key_map : StackedFeatureMap
    """
    params = FAMILIES[family](
        finite_statistics(queries, xp), finite_statistics(keys, xp)
    )
    omega = xp.astype(omega, queries.mean.dtype)

    def stacked(side):
        terms = compile_terms(omega, params, scale=1.0, alpha=0.0, side=side)
        return StackedFeatureMap(*(xp.astype(term, dtype) for term in terms))

    query_map = stacked("query")
    return query_map, query_map if params.symmetric else stacked("key")


def favor_heads(
    q,
    k,
    v,
    omega,
    *,
    family: str,
    causal: bool = False,
    scale: float | None = None,
    keep=None,
    query_keep=None,
    statistics: AttentionStatistics | None = None,
    maps: tuple[StackedFeatureMap, StackedFeatureMap] | None = None,
    initial_state: FavorState | None = None,
    output_final_state: bool = False,
    dropout=None,
    parameter_grad: bool = False,
):
    """The FAVOR attention engine: one call per forward of every front end.

    Estimates ``softmax(scale · q kᵀ) v`` per leading (batch, head) index
    with positive random features (:ref:`math-attention-model`). It owns,
    in this order: widening to at least float32 (also under
    ``torch.autocast``), the scale split (``q`` and ``k`` each times
    ``scale**0.5``, :ref:`math-kernels`, applied to their statistics and to
    the maps' weights rather than to every row, except when decoding from
    ``initial_state``), the padding (padded rows are
    replaced, not multiplied, by 0, so NaN or inf there is ignored), the
    maps (fitted to the batch statistics of ``q`` and ``k``, or to
    ``statistics``, or taken from ``maps`` or ``initial_state``), the
    bidirectional or causal evaluation in blocks, the finiteness check and
    the cast back to ``q``'s dtype. It trusts its inputs: the front ends
    validate them once.

    Masks are taken as given (``query_keep`` None: every query): which queries
    a key mask marks is the front ends' call (:func:`favor_attention`: by
    :func:`padded_query_rule`; the layer, the adapter: self- or causal attention).

    Parameters
    ----------
    q, k, v : arrays of shapes (..., L, d), (..., S, d), (..., S, d_v)
        One namespace, one dtype, leading dimensions equal.
    omega : array of shape (M, d)
        The random directions.
    family : {'posrf', 'gerf', 'sderf', 'aderf', 'saderf'}
    causal : bool, default=False
        Position ``i`` attends to keys ``j ≤ i`` (needs ``S == L``).
    scale : float, default=None
        The softmax scale; ``None`` is ``1/√d``.
    keep, query_keep : bool arrays of shapes (..., S) and (..., L), default=None
        ``True`` for the keys (queries) to keep; any shape that broadcasts
        against the leading dimensions, e.g. (N, 1, S) over heads.
    statistics : AttentionStatistics, default=None
        Statistics from outside the inputs (running, calibration), in kernel
        units, in the inputs' namespace and device.
    maps : (StackedFeatureMap, StackedFeatureMap), default=None
        Compiled query and key maps; skips the fit.
    initial_state : FavorState, default=None
        The state after earlier positions (decoding); its maps are used
        unless ``maps`` is given (``omega`` and ``statistics`` are then
        unused). Not checked: it must come from inputs of the same leading
        dimensions, compute dtype and device (one of other leading dimensions
        broadcasts against them, one of another dtype fails in the sums).
    output_final_state : bool, default=False
        Return the state after the last position.
    dropout : float or callable, default=None
        Dropout of the key features in the numerator only (the normaliser
        stays exact): a probability (PyTorch's generator) or a function of
        the features.
    parameter_grad : bool, default=False
        Let gradients flow through the fit to batch statistics.

    Returns
    -------
    out : array of shape (..., L, d_v)
        In ``q``'s namespace, device and dtype.
    state : FavorState or None
    """
    xp = get_namespace(q, k, v)
    out_dtype = q.dtype
    with full_precision(xp, q):
        dtype = compute_dtype(q.dtype, xp)
        factor = kernel_factor(scale, q.shape[-1])
        Q = xp.astype(q, dtype, copy=False)
        K = xp.astype(k, dtype, copy=False)
        V = xp.astype(v, dtype, copy=False)
        Q, query_keep = _kept_rows(Q, query_keep, xp)
        K, keep = _kept_rows(K, keep, xp)
        V, _ = _kept_rows(V, keep, xp)
        if maps is None and initial_state is not None:
            maps = initial_state.query_map, initial_state.key_map
        if maps is None:
            queries, keys = _fit_statistics(
                Q, K, query_keep, keep, statistics, parameter_grad, xp, family, scale
            )
            omega = xp.asarray(omega, device=array_device(Q))
            maps = fit_maps(queries, keys, omega, family, dtype, xp)
        carry = None if initial_state is None else initial_state[:2]
        evaluate = causal_attention if causal else bidirectional_attention
        Q, K, input_maps = _in_input_units(Q, K, maps, factor, initial_state)
        with host_errors_ignored(xp):
            out, carry = evaluate(
                Q,
                K,
                V,
                *input_maps,
                xp,
                keep=keep,
                dropout=_dropout(dropout),
                carry=carry,
            )
        check_finite(out, xp)
    state = FavorState(*carry, *maps) if output_final_state else None
    return xp.astype(out, out_dtype, copy=False), state


def _in_input_units(Q, K, maps, factor, initial_state):
    """Queries, keys and maps such that the maps read the rows as they come.

    The maps take kernel units, ``factor`` times the inputs
    (:func:`kernel_factor`). The factor goes into the maps' weights for
    whole sequences (a pass over (B, M, d) numbers instead of two over
    (B, L, d)), into the queries and keys when decoding from
    ``initial_state`` (steps of a few positions). The choice never reads a
    shape, so that exported graphs keep their dynamic dimensions.
    """
    if initial_state is not None:
        return Q * factor, K * factor, maps
    query_map, key_map = maps
    query_map = query_map.rescaled(factor)
    key_map = query_map if key_map is maps[0] else key_map.rescaled(factor)
    return Q, K, (query_map, key_map)


def _kept_rows(X, keep, xp):
    """``X`` with the rows not kept replaced by 0, and ``keep`` broadcast to it."""
    if keep is None:
        return X, None
    keep = xp.broadcast_to(keep, X.shape[:-1])
    return xp.where(keep[..., None], X, xp.zeros_like(X)), keep


#: Families whose closed form reads only the statistics' batch shape and
#: dtype (:ref:`math-families`): their batch statistics are never computed.
_SHAPE_ONLY = frozenset({"posrf"})


def _fit_statistics(
    Q, K, query_keep, keep, statistics, parameter_grad, xp, family, scale
):
    """Query and key statistics for the fit, in the closed forms' dtype.

    ``Q`` and ``K`` are in input units, the statistics in kernel units
    (:func:`rows_statistics`, the route of :meth:`AttentionStatistics.from_sequences`).
    """
    if statistics is None and family in _SHAPE_ONLY:
        # Two O(L·d²) passes saved: placeholders of the right batch shape.
        wide = parameter_dtype(xp, array_device(Q))
        zeros = xp.zeros(
            Q.shape[:-2] + Q.shape[-1:], dtype=wide, device=array_device(Q)
        )
        stats = SampleStatistics(
            zeros[..., 0] + 1, zeros, zeros[..., None] * zeros[..., None, :]
        )
        return stats, stats
    if statistics is None:
        if not parameter_grad and hasattr(Q, "detach"):
            Q, K = Q.detach(), K.detach()
        return rows_statistics(Q, K, keep, query_keep, scale, xp)
    return statistics.sample_statistics(parameter_dtype(xp, array_device(Q)))


def _dropout(dropout):
    """The dropout function of the numerator's key features, or None."""
    if dropout is None or callable(dropout):
        return dropout
    functional = sys.modules["torch"].nn.functional
    p = float(dropout)
    return None if p == 0 else lambda phi: functional.dropout(phi, p, training=True)


def favor_attention(
    query,
    key,
    value,
    *,
    feature_map: str = "sderf",
    n_features: int | None = None,
    causal: bool = False,
    orthogonal="deprecated",
    random_state=None,
    key_padding_mask=None,
    sampling: str | None = None,
    scale: float | None = None,
    omega=None,
    statistics: AttentionStatistics | None = None,
    dropout_p: float = 0.0,
):
    """Approximate softmax attention with positive random features (FAVOR#).

    Estimates ``softmax(scale · query keyᵀ) value`` in time and memory linear
    in the sequence length. The softmax kernel ``exp(scale · qᵀk)`` is
    ``K0(q √scale, k √scale)`` (:ref:`math-kernels`), so both inputs are
    scaled by ``√scale`` and the kernel is replaced by ``φ_q(q)ᵀ φ_k(k)``
    with positive random features of the chosen family (:ref:`math-families`):

    ``out = φ_q (φ_kᵀ value) / (φ_q (φ_kᵀ 1))``.

    The family's parameters are fitted in closed form to the centred
    statistics of the queries and keys of each sequence, that is for each
    index of the leading (batch, head) dimensions separately
    (:ref:`math-estimators`, :ref:`math-families`), batched, in the inputs'
    namespace and on their device, in float64 — or to ``statistics`` from
    outside the sequence. The features and sums are evaluated in log space
    in the inputs' dtype, at least float32 (also under ``torch.autocast``),
    and the result is cast back to the inputs' dtype. Gradients flow through
    the features; the fitted parameters and the random directions are
    constants. Nothing travels from the device to the host. This function
    validates its arguments and makes one call to the engine,
    :func:`favor_heads`.

    Parameters
    ----------
    query : array of shape (..., L, d)
        Queries: a NumPy array (or array-like) or a PyTorch tensor. Any number
        of leading (batch, head) dimensions. Real floating point (NumPy
        integers and booleans are taken as float64).
    key : array of shape (..., S, d)
        Keys, with the same leading dimensions and width as ``query``.
    value : array of shape (..., S, d_v)
        Values, one row per key.
    feature_map : {'posrf', 'gerf', 'sderf', 'aderf', 'saderf'}, default='sderf'
        Random-feature family: ``'posrf'`` is FAVOR+, ``'gerf'`` FAVOR++,
        ``'sderf'``, ``'aderf'`` and ``'saderf'`` are FAVOR#. The asymmetric
        families (``'aderf'``, ``'saderf'``) pay off when queries and keys are
        distributed differently (:ref:`math-families`).
    n_features : int, default=None
        Number of random features ``M``: 256 when the directions are drawn;
        with ``omega``, None or ``omega``'s number of rows.
    causal : bool, default=False
        Unidirectional attention: position ``i`` attends to keys ``j ≤ i``
        only. Needs ``S == L``. With a fitted family (not ``'posrf'``) and no
        ``statistics``, the fit sees the whole sequence: a
        :class:`CausalStatisticsWarning` says so.
    orthogonal : bool
        Former form of ``sampling`` (``True`` is ``'orthogonal'``, ``False``
        ``'iid'``); refused together with ``sampling``.

        .. deprecated:: 0.2
           ``orthogonal`` is deprecated in 0.2 and will be removed in 0.4;
           use ``sampling``.
    random_state : int, RandomState instance or None, default=None
        Controls the random directions, which are shared by all leading
        indices, and the dropout of NumPy inputs. Pass an int for
        reproducible output across calls.
    key_padding_mask : boolean array of shape (..., S) or (N, S), default=None
        ``True`` marks padded keys, as in ``torch.nn.MultiheadAttention``;
        any shape that broadcasts to the keys' rows (..., S), and shape
        (N, S) with 4-D inputs (N, H, S, d) applies to every head.
        Padded keys are left out of the key statistics and of the sums, and
        their values may be NaN or inf: each output equals that of the
        sequence without its padding. When ``L == S`` (self- and causal
        attention) the mask also marks padded queries, which are left out of
        the query statistics; their own outputs are unspecified (finite).
        Queries that see no unpadded key get the output 0.
    sampling : {'orthogonal', 'simplex', 'iid'}, default=None
        Coupling of the random directions within blocks of ``d`` rows
        (:ref:`math-sampling`, :ref:`math-simplex`); ``None`` is
        ``'orthogonal'``. Every coupling keeps the estimator unbiased.
    scale : float, default=None
        The softmax scale; ``None`` is ``1/√d``.
    omega : array of shape (M, d), default=None
        Fixed random directions (e.g. a layer's), instead of a draw; then
        ``sampling`` must be None.
    statistics : AttentionStatistics, default=None
        Query and key statistics from outside the sequence (running
        statistics, a calibration set), in kernel units; their leading
        dimensions broadcast against those of the inputs.
    dropout_p : float, default=0.0
        Dropout probability of the key features in the numerator (the
        normaliser stays exact), the analogue of dropout on the attention
        weights. NumPy inputs need an int or RandomState ``random_state``.

    Returns
    -------
    out : array of shape (..., L, d_v)
        The attention estimate, in the namespace, on the device and in the
        dtype of the inputs (NumPy inputs that are not floating point give
        float64).

    Raises
    ------
    TypeError
        If an input is complex, a string or of another namespace.
    ValueError
        If a NumPy input contains NaN or infinity outside the padding, or
        ``statistics`` do not broadcast against the inputs, or ``statistics``
        or ``omega`` contain NaN or infinity (for PyTorch, a ``RuntimeError``
        from ``torch._assert_async``).
    FloatingPointError
        If the features of every key a query sees underflow relative to that
        query's, so that the normaliser is 0: the inputs are too large for
        their dtype. PyTorch inputs raise ``RuntimeError`` with the same
        message instead, from ``torch._assert_async`` (no device-to-host
        copy; on a GPU, at a later CUDA call).

    Warns
    -----
    CausalStatisticsWarning
        With ``causal=True``, a fitted family and no ``statistics``.

    See Also
    --------
    softmax_attention : The exact attention this function approximates.
    favor_heads : The engine under this function and the layer.
    skfavor.DERFSampler : The same feature maps as a scikit-learn transformer.

    Notes
    -----
    The query features are shifted by their per-row maximum and the key
    features by one maximum per sequence (:ref:`math-numerics`): both shifts
    cancel in the ratio. Keys are processed in blocks of positions with a
    running maximum, so that memory stays linear in ``L``; causal attention
    carries the prefix sums ``Σ_{j<s} φ_k(k_j)ᵀ [v_j, 1]`` from one block of
    positions to the next and treats each block's own positions with a
    lower-triangular mask, so no ``(L, M, d_v)`` array is ever formed.

    Examples
    --------
    >>> import numpy as np
    >>> from skfavor.attention import favor_attention, softmax_attention
    >>> rng = np.random.default_rng(0)
    >>> q, k = rng.normal(scale=0.5, size=(2, 2, 50, 8))
    >>> v = rng.normal(size=(2, 50, 8))
    >>> out = favor_attention(q, k, v, n_features=512, random_state=0)
    >>> out.shape
    (2, 50, 8)
    >>> exact = softmax_attention(q, k, v)
    >>> bool(np.linalg.norm(out - exact) < 0.15 * np.linalg.norm(exact))
    True
    """
    sampling = check_function_options(
        feature_map, causal, orthogonal, sampling, scale, dropout_p, omega is not None
    )
    query, key, value, xp = check_inputs(query, key, value, causal=causal)
    keep = canonical_mask(key_padding_mask, key, xp)
    random_state = check_random_state_option(random_state)
    *lead, n_queries, d = query.shape
    if math.prod(lead) == 0:
        shape = (*lead, n_queries, value.shape[-1])
        return xp.zeros(shape, dtype=query.dtype, device=array_device(query))
    query_keep = padded_query_rule(keep, None, n_queries, key.shape[-2])
    if not is_torch_namespace(xp):
        check_finite_inputs(query, key, value, query_keep, keep, xp)
    if omega is None:
        n_features = 256 if n_features is None else n_features
        check_attention_option("n_features", n_features)
        omega = draw_weights(n_features, d, random_state[1](), sampling=sampling)
    omega = check_omega(omega, n_features, d, xp, query)
    statistics = check_statistics(statistics, AttentionStatistics, d, xp, query)
    if causal and feature_map != "posrf" and statistics is None:
        warnings.warn(
            f"favor_attention(causal=True, feature_map={feature_map!r}) fits the "
            "family to the statistics of the whole sequence: each output sees "
            "later positions through d² numbers. Pass statistics= from outside "
            "the sequence, or feature_map='posrf', for strictly causal attention.",
            CausalStatisticsWarning,
            stacklevel=2,
        )
    out, _ = favor_heads(
        query,
        key,
        value,
        omega,
        family=feature_map,
        causal=causal,
        scale=scale,
        keep=keep,
        query_keep=query_keep,
        statistics=statistics,
        dropout=dropout_option(dropout_p, random_state, xp),
    )
    return out


def softmax_attention(query, key, value, *, causal: bool = False, scale=None):
    """Exact softmax attention ``softmax(scale · query keyᵀ) value``.

    Quadratic in the sequence length; the reference that
    :func:`favor_attention` approximates.

    Parameters
    ----------
    query : array of shape (..., L, d)
        Queries (NumPy array or array-like, or PyTorch tensor).
    key : array of shape (..., S, d)
        Keys, with the same leading dimensions and width as ``query``.
    value : array of shape (..., S, d_v)
        Values, one row per key.
    causal : bool, default=False
        Position ``i`` attends to keys ``j ≤ i`` only. Needs ``S == L``.
    scale : float, default=None
        The softmax scale; ``None`` is ``1/√d``.

    Returns
    -------
    out : array of shape (..., L, d_v)
        The attention output, in the namespace and dtype of the inputs
        (computed in at least float32, as :func:`favor_attention`).

    Raises
    ------
    ValueError, FloatingPointError
        NaN or inf in NumPy inputs; logits that overflow (tensors: a
        ``RuntimeError`` from ``torch._assert_async``).

    Examples
    --------
    >>> import numpy as np
    >>> from skfavor.attention import softmax_attention
    >>> q = k = np.eye(2)
    >>> v = np.array([[1.0], [0.0]])
    >>> softmax_attention(q, k, v).round(3)
    array([[0.67],
           [0.33]])
    """
    check_attention_option("causal", causal)
    check_attention_option("scale", scale)
    query, key, value, xp = check_inputs(query, key, value, causal=causal)
    if not is_torch_namespace(xp):
        check_finite_inputs(query, key, value, None, None, xp)
    return exact_attention(query, key, value, causal=causal, scale=scale, xp=xp)
