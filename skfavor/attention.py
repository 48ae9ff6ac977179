"""FAVOR# attention: softmax attention in time linear in the sequence length."""

from __future__ import annotations

import contextlib
import math
import sys
import warnings
from numbers import Integral

import numpy as np
from sklearn import get_config
from sklearn.externals.array_api_compat import (
    array_namespace,
    is_array_api_obj,
    is_torch_namespace,
)
from sklearn.externals.array_api_compat import device as array_device
from sklearn.utils import check_random_state

from ._closed_forms import FAMILIES
from ._feature_map import StackedFeatureMap, compile_terms
from ._sampling import SAMPLINGS, draw_weights
from ._statistics import SampleStatistics

#: Most positions whose causal interactions are one masked product: a block of
#: C positions costs O(C·M) work per position, a smaller one more Python steps.
_CAUSAL_BLOCK = 128


def favor_attention(
    query,
    key,
    value,
    *,
    feature_map: str = "sderf",
    n_features: int = 256,
    causal: bool = False,
    orthogonal="deprecated",
    random_state=None,
    key_padding_mask=None,
    sampling: str = "orthogonal",
):
    """Approximate softmax attention with positive random features (FAVOR#).

    Estimates ``softmax(query keyᵀ / √d) value`` in time and memory linear in
    the sequence length. The softmax kernel ``exp(qᵀk / √d)`` is
    ``K0(q / d^¼, k / d^¼)`` (:ref:`math-kernels`), so both inputs are scaled by
    ``d^-¼`` and the kernel is replaced by ``φ_q(q)ᵀ φ_k(k)`` with positive
    random features of the chosen family (:ref:`math-families`):

    ``out = φ_q (φ_kᵀ value) / (φ_q (φ_kᵀ 1))``.

    The family's parameters are fitted in closed form to the centred
    statistics of the queries and keys of each sequence, that is for each
    index of the leading (batch, head) dimensions separately
    (:ref:`math-estimators`, :ref:`math-families`), batched, in the inputs'
    namespace and on their device, in float64. The features and sums are
    evaluated in log space in the inputs' dtype, at least float32 (also under
    ``torch.autocast``), and the result is cast back to the inputs' dtype.
    Gradients flow through the features; the fitted parameters and the
    random directions are constants (:class:`skfavor.nn.FavorAttention` can
    let gradients through the closed forms). Nothing travels from the
    device to the host.

    Parameters
    ----------
    query : array of shape (..., L, d)
        Queries: a NumPy array (or array-like) or a PyTorch tensor. Any number
        of leading (batch, head) dimensions.
    key : array of shape (..., L_k, d)
        Keys, with the same leading dimensions and width as ``query``.
    value : array of shape (..., L_k, d_v)
        Values, one row per key.
    feature_map : {'posrf', 'gerf', 'sderf', 'aderf', 'saderf'}, default='sderf'
        Random-feature family: ``'posrf'`` is FAVOR+, ``'gerf'`` FAVOR++,
        ``'sderf'``, ``'aderf'`` and ``'saderf'`` are FAVOR#. The asymmetric
        families (``'aderf'``, ``'saderf'``) pay off when queries and keys are
        distributed differently (:ref:`math-families`).
    n_features : int, default=256
        Number of random features ``M``.
    causal : bool, default=False
        Unidirectional attention: position ``i`` attends to keys ``j ≤ i``
        only. Needs ``L_k == L``.
    orthogonal : bool
        Former form of ``sampling`` (``True`` is ``'orthogonal'``, ``False``
        ``'iid'``).

        .. deprecated:: 0.2
           ``orthogonal`` is deprecated in 0.2 and will be removed in 0.4;
           use ``sampling``.
    random_state : int, RandomState instance or None, default=None
        Controls the random directions, which are shared by all leading
        indices. Pass an int for reproducible output across calls.
    key_padding_mask : boolean array of shape (..., L_k), default=None
        ``True`` marks padded keys, as in ``torch.nn.MultiheadAttention``:
        they are left out of the key statistics and of the sums, so each
        output equals that of the sequence without its padding. In
        self-attention (``query is key``) and in causal attention the padded
        positions are also left out of the query statistics. Queries that see
        no unpadded key get the output 0.
    sampling : {'orthogonal', 'simplex', 'iid'}, default='orthogonal'
        Coupling of the random directions within blocks of ``d`` rows
        (:ref:`math-sampling`, :ref:`math-simplex`); every coupling keeps the
        estimator unbiased.

    Returns
    -------
    out : array of shape (..., L, d_v)
        The attention estimate, in the namespace, on the device and in the
        dtype of the inputs (NumPy inputs that are not floating point give
        float64).

    Raises
    ------
    ValueError
        If a NumPy input contains NaN or infinity.
    FloatingPointError
        If the features of every key a query sees underflow relative to that
        query's, so that the normaliser is 0: the inputs are too large for
        their dtype. PyTorch inputs raise ``RuntimeError`` with the same
        message instead, from ``torch._assert_async`` (no device-to-host
        copy; on a GPU, at a later CUDA call).

    See Also
    --------
    softmax_attention : The exact attention this function approximates.
    skfavor.DERFSampler : The same feature maps as a scikit-learn transformer.

    Notes
    -----
    The query features are shifted by their per-row maximum and the key
    features by one maximum per sequence (:ref:`math-numerics`): both shifts cancel in
    the ratio. Keys are processed in chunks of positions with a running
    maximum, so that memory stays linear in ``L``; causal attention carries
    the prefix sums ``Σ_{j<s} φ_k(k_j)ᵀ [v_j, 1]`` from one block of
    positions to the next and treats each block's own positions with a
    lower-triangular mask, so no ``(L, M, d_v)`` array is ever formed.

    In causal mode output row ``i`` uses the values, queries and keys at
    positions ``≤ i`` only, except through the fitted family parameters,
    which summarise the whole sequence (``d²`` numbers); ``'posrf'`` has no
    fitted parameters and is strictly causal.

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
    sampling = _check_options(feature_map, n_features, causal, orthogonal, sampling)
    # In causal attention, query i and key i are one position.
    self_attention = query is key or causal
    query, key, value, xp = _check_inputs(query, key, value, causal=causal)
    keep = _check_key_padding_mask(key_padding_mask, key, xp)
    try:
        random_state = check_random_state(random_state)
    except ValueError as exc:
        raise ValueError(
            "random_state must be None, an int or a RandomState instance, got "
            f"{random_state!r}."
        ) from exc
    *lead, n_queries, d = query.shape
    n_keys, d_v = value.shape[-2:]
    n_batch = math.prod(lead)
    if n_batch == 0:
        return xp.zeros(
            (*lead, n_queries, d_v), dtype=query.dtype, device=array_device(query)
        )
    if not is_torch_namespace(xp):
        for name, x in (("query", query), ("key", key), ("value", value)):
            if not bool(xp.all(xp.isfinite(x))):
                raise ValueError(f"{name} contains NaN or infinity.")
    omega = draw_weights(n_features, d, random_state, sampling=sampling)
    if keep is not None:
        keep = xp.reshape(keep, (n_batch, n_keys))
    with _full_precision(xp, query):
        dtype = compute_dtype(query.dtype, xp)
        Q, K, V = (
            xp.astype(xp.reshape(x, (n_batch, *x.shape[-2:])), dtype)
            for x in (query, key, value)
        )
        Q, K = Q * d**-0.25, K * d**-0.25
        query_keep = keep if self_attention else None
        query_map, key_map = fit_maps(
            sequence_statistics(_constant(Q, xp), query_keep, xp),
            sequence_statistics(_constant(K, xp), keep, xp),
            xp.asarray(omega, device=array_device(Q)),
            feature_map,
            dtype,
            xp,
        )
        # A normaliser of 0 is reported below, with its cause, instead.
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if causal:
                out, _ = causal_attention(Q, K, V, query_map, key_map, xp, keep=keep)
            else:
                out = bidirectional_attention(
                    Q, K, V, query_map, key_map, xp, keep=keep
                )
        check_finite(out, xp)
    return xp.astype(xp.reshape(out, (*lead, n_queries, d_v)), query.dtype)


def softmax_attention(query, key, value, *, causal: bool = False):
    """Exact softmax attention ``softmax(query keyᵀ / √d) value``.

    Quadratic in the sequence length; the reference that
    :func:`favor_attention` approximates.

    Parameters
    ----------
    query : array of shape (..., L, d)
        Queries (NumPy array or array-like, or PyTorch tensor).
    key : array of shape (..., L_k, d)
        Keys, with the same leading dimensions and width as ``query``.
    value : array of shape (..., L_k, d_v)
        Values, one row per key.
    causal : bool, default=False
        Position ``i`` attends to keys ``j ≤ i`` only. Needs ``L_k == L``.

    Returns
    -------
    out : array of shape (..., L, d_v)
        The attention output, in the namespace and dtype of the inputs.

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
    if not isinstance(causal, bool | np.bool_):
        raise TypeError(f"causal must be a bool, got {causal!r}.")
    query, key, value, xp = _check_inputs(query, key, value, causal=causal)
    d = query.shape[-1]
    logits = (query @ xp.matrix_transpose(key)) * d**-0.5
    if causal:
        positions = xp.arange(query.shape[-2], device=array_device(query))
        future = positions[None, :] > positions[:, None]
        logits = xp.where(future, -xp.inf, logits)
    logits = logits - xp.max(logits, axis=-1, keepdims=True)
    weights = xp.exp(logits)
    weights = weights / xp.sum(weights, axis=-1, keepdims=True)
    return weights @ value


def compute_dtype(dtype, xp):
    """The dtype of the features and sums: ``dtype``, at least float32.

    Half-precision log-features and sums underflow on ordinary inputs
    (:ref:`math-attention-model`).
    """
    return dtype if xp.finfo(dtype).bits >= 32 else xp.float32


def parameter_dtype(xp, device):
    """Float64 for the closed forms, where the device has it (not Apple's MPS)."""
    if is_torch_namespace(xp) and getattr(device, "type", None) == "mps":
        return xp.float32
    return xp.float64


def sequence_statistics(X, keep, xp) -> SampleStatistics:
    """Statistics of each sequence of ``X`` (..., n, d) in the closed forms' dtype.

    Taken in ``X``'s dtype, centred (:ref:`math-statistics`), then cast: the
    sums are over ``n`` rows, the casts over ``d²`` numbers. ``keep`` (...,
    n) leaves padded rows out (:ref:`math-attention-model`).
    """
    stats = SampleStatistics.from_array(X, mask=keep)
    return cast_statistics(stats, parameter_dtype(xp, array_device(X)), xp)


def cast_statistics(stats: SampleStatistics, dtype, xp) -> SampleStatistics:
    """``stats`` with every array in ``dtype``."""
    return SampleStatistics(
        *(
            xp.astype(part, dtype)
            for part in (stats.n_samples, stats.mean, stats.scatter)
        )
    )


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
    params = FAMILIES[family](_finite(queries, xp), _finite(keys, xp))
    omega = xp.astype(omega, queries.mean.dtype)

    def stacked(side):
        terms = compile_terms(omega, params, scale=1.0, alpha=0.0, side=side)
        return StackedFeatureMap(*(xp.astype(term, dtype) for term in terms))

    query_map = stacked("query")
    return query_map, query_map if params.symmetric else stacked("key")


def _finite(stats: SampleStatistics, xp) -> SampleStatistics:
    """``stats`` with the sets that hold NaN or inf replaced by zeros.

    Non-finite inputs make the output NaN, which :func:`check_finite`
    reports; without this, an eigen-decomposition of their statistics fails
    first, with a message about convergence.
    """
    finite = xp.all(xp.isfinite(stats.scatter), axis=(-2, -1)) & xp.all(
        xp.isfinite(stats.mean), axis=-1
    )
    mean = xp.where(finite[..., None], stats.mean, xp.zeros_like(stats.mean))
    scatter = xp.where(
        finite[..., None, None], stats.scatter, xp.zeros_like(stats.scatter)
    )
    return SampleStatistics(stats.n_samples, mean, scatter)


def check_finite(out, xp) -> None:
    """Raise instead of returning NaN or inf, without a device-to-host copy.

    NumPy outputs raise ``FloatingPointError``; PyTorch outputs are checked by
    ``torch._assert_async``, which raises ``RuntimeError`` at once on the CPU
    and makes a later CUDA call fail on a GPU, with no synchronisation in
    the forward pass.
    """
    message = (
        "The attention output is NaN or infinite: the inputs contain NaN or "
        "infinity, or the attention normaliser underflowed to 0 for some "
        "queries (the random features of every key they see are negligible "
        "next to the largest key's: the queries and keys are too large for "
        "their dtype; scale them down or pass float64 inputs)."
    )
    if is_torch_namespace(xp):
        torch = sys.modules["torch"]
        torch._assert_async(torch.all(torch.isfinite(out)), message)
    elif not bool(xp.all(xp.isfinite(out))):
        raise FloatingPointError(message)


def _constant(X, xp):
    """``X`` without its gradient history (PyTorch), so that the fitted
    parameters are constants."""
    return X.detach() if is_torch_namespace(xp) else X


def _full_precision(xp, x):
    """Leave PyTorch's autocast for the features and sums (float32 at least)."""
    if not is_torch_namespace(xp):
        return contextlib.nullcontext()
    torch = sys.modules["torch"]
    return torch.autocast(array_device(x).type, enabled=False)


def _chunk_length(n_batch: int, n_rows: int, row_floats: int, itemsize: int) -> int:
    """Positions per chunk so that one chunk fits scikit-learn's ``working_memory``."""
    budget = get_config()["working_memory"] * 2**20
    per_position = max(n_batch * row_floats * itemsize, 1)
    return int(min(max(budget // per_position, 1), n_rows))


def _query_features(Q, query_map, xp):
    """Query features shifted by their per-row maximum (:ref:`math-numerics`)."""
    log_phi = query_map.log_features(Q, xp)
    return xp.exp(log_phi - xp.max(log_phi, axis=-1, keepdims=True))


def _key_log_features(K, key_map, keep, xp):
    """Key log-features, with padded keys (``keep`` False) at a finite floor.

    The floor keeps padded keys out of every maximum without putting inf into
    the gradients; :func:`_exp_kept` then gives them the feature 0.
    """
    log_phi = key_map.log_features(K, xp)
    if keep is not None:
        log_phi = xp.where(keep[..., None], log_phi, _floor(log_phi, xp))
    return log_phi


def _exp_kept(log_phi, top, keep, xp):
    """``exp(log φ − top)``, exactly 0 for padded keys."""
    phi = xp.exp(log_phi - top)
    if keep is not None:
        phi = xp.where(keep[..., None], phi, xp.zeros_like(phi))
    return phi


def _floor(log_phi, xp) -> float:
    """A finite log-feature below every real one (half the dtype's minimum)."""
    return xp.finfo(log_phi.dtype).min / 2


def _key_features(K, key_map, keep, carry, xp):
    """Key features on the scale of one running maximum per sequence.

    Every key feature is ``exp(log φ − top)`` for one ``top`` per sequence
    (:ref:`math-numerics`); when a chunk raises the maximum, the sums of
    earlier chunks (``carry = (sums, top)``) are multiplied by ``exp(old −
    new)`` so that they stay on one scale. Padded keys (``keep`` False) get
    the feature 0 and do not enter the maximum (:func:`_key_log_features`).

    Returns
    -------
    sums : array or None
        The rescaled sums of ``carry``.
    top : array of shape (..., 1, 1)
    phi : array of shape (..., n, M)
    """
    log_phi = _key_log_features(K, key_map, keep, xp)
    top = xp.max(log_phi, axis=(-2, -1), keepdims=True)
    sums = None
    if carry is not None:
        sums, old_top = carry
        top = xp.maximum(old_top, top)
        sums = sums * xp.exp(old_top - top)
    return sums, top, _exp_kept(log_phi, top, keep, xp)


def _sums(phi, V, xp, dropped=None):
    """``φᵀ [V, 1]``: the last column carries the normaliser.

    With ``dropped`` (the features after dropout), the values' columns use
    them and the normaliser the others, so that the numerator is unbiased
    and the normaliser exact, as with dropout after the softmax.
    """
    if dropped is None:
        ones = xp.ones((*V.shape[:-1], 1), dtype=V.dtype, device=array_device(V))
        return xp.matrix_transpose(phi) @ xp.concat((V, ones), axis=-1)
    return xp.concat(
        (
            xp.matrix_transpose(dropped) @ V,
            xp.sum(phi, axis=-2)[..., None],
        ),
        axis=-1,
    )


def _ratio(out, d_v):
    return out[..., :d_v] / out[..., d_v:]


def bidirectional_attention(
    Q, K, V, query_map, key_map, xp, *, keep=None, dropout=None
):
    """``φ_q (φ_kᵀ [V, 1])`` then the ratio, with keys and queries in chunks.

    Parameters
    ----------
    Q, K, V : arrays of shapes (..., L, d), (..., L_k, d), (..., L_k, d_v)
        Queries and keys in kernel units, and values, all in the features'
        dtype.
    query_map, key_map : StackedFeatureMap
        Maps whose batch dimensions broadcast against the leading ones.
    xp : namespace
    keep : array of shape (..., L_k), default=None
        False for padded keys.
    dropout : callable, default=None
        Applied to the key features of the numerator (training only).

    Returns
    -------
    out : array of shape (..., L, d_v)
    """
    *lead, n_keys, d_v = V.shape
    n_batch = math.prod(lead)
    n_features = query_map.offset.shape[-1]
    itemsize = xp.finfo(Q.dtype).bits // 8
    step = _chunk_length(n_batch, n_keys, 3 * n_features + d_v, itemsize)
    carry = None
    for start in range(0, n_keys, step):
        rows = slice(start, start + step)
        sums, top, phi = _key_features(
            K[..., rows, :],
            key_map,
            None if keep is None else keep[..., rows],
            carry,
            xp,
        )
        dropped = None if dropout is None else dropout(phi)
        contribution = _sums(phi, V[..., rows, :], xp, dropped)
        carry = (contribution if sums is None else sums + contribution), top
    n_queries = Q.shape[-2]
    step = _chunk_length(n_batch, n_queries, 3 * n_features + d_v, itemsize)
    if keep is None:

        def ratio(out):
            return _ratio(out, d_v)

    else:
        # A sequence whose keys are all padding gives the output 0.
        visible = xp.any(keep, axis=-1)[..., None]

        def ratio(out):
            return _guarded_ratio(out, d_v, visible, xp)

    pieces = [
        ratio(
            _query_features(Q[..., start : start + step, :], query_map, xp) @ carry[0]
        )
        for start in range(0, n_queries, step)
    ]
    return pieces[0] if len(pieces) == 1 else xp.concat(pieces, axis=-2)


def causal_attention(
    Q, K, V, query_map, key_map, xp, *, keep=None, dropout=None, carry=None
):
    """Prefix sums of ``φ_kᵀ [V, 1]`` carried over blocks of positions.

    Within a block of ``C`` positions, the prefix sums are the product with a
    lower-triangular mask, ``(φ_q φ_kᵀ ⊙ tril) [V, 1]``: ``O(C²)`` memory per
    sequence instead of ``O(C·M·d_v)`` for explicit running sums. The carried
    state ``(sums, top)`` is the stabilised decoding state of
    :ref:`math-attention-model`: ``sums = Σ_j e^{ℓ_j − top} [v_j, 1]``.

    Strictly causal also in floating point: the key features of position
    ``j`` are stabilised by the running maximum ``top_j`` of the key
    log-features at positions ``≤ j`` (not by a maximum over the block, which
    would let a large later key underflow the earlier ones), and query ``i``
    sees key ``j ≤ i`` through ``e^{top_j − top_i} ≤ 1``. Queries that see no
    unpadded key (left padding) get the output 0.

    Parameters
    ----------
    Q, K, V, query_map, key_map, xp, keep, dropout
        As in :func:`bidirectional_attention`, with ``L_k = L``.
    carry : tuple (sums, top), default=None
        The state after the positions before ``Q``'s first (decoding).

    Returns
    -------
    out : array of shape (..., L, d_v)
    carry : tuple (sums, top)
        The state after the last position.
    """
    *lead, length, d_v = V.shape
    n_features = query_map.offset.shape[-1]
    itemsize = xp.finfo(Q.dtype).bits // 8
    step = min(
        _CAUSAL_BLOCK,
        _chunk_length(
            math.prod(lead), length, 4 * n_features + d_v + _CAUSAL_BLOCK, itemsize
        ),
    )
    positions = xp.arange(step, device=array_device(Q))
    lower = positions[:, None] >= positions[None, :]
    # Keys seen so far that are not padding; decoding states hold real keys.
    seen = None if keep is None else (0.0 if carry is None else 1.0)
    pieces = []
    for start in range(0, length, step):
        rows = slice(start, start + step)
        width = min(step, length - start)
        tril = lower[:width, :width]
        chunk_keep = None if keep is None else keep[..., rows]
        log_phi = _key_log_features(K[..., rows, :], key_map, chunk_keep, xp)
        # top_j: the running maximum over positions <= j (and the carry).
        position_top = xp.max(log_phi, axis=-1)
        top = xp.max(
            xp.where(tril, position_top[..., None, :], _floor(log_phi, xp)), axis=-1
        )
        if carry is not None:
            sums, old_top = carry
            top = xp.maximum(top, old_top[..., 0])
        phi_k = _exp_kept(log_phi, top[..., None], chunk_keep, xp)
        phi_q = _query_features(Q[..., rows, :], query_map, xp)
        values = V[..., rows, :]
        # e^{top_j − top_i} for j ≤ i (≤ 1), 0 above the diagonal.
        relative = xp.exp(
            xp.where(tril, top[..., None, :] - top[..., :, None], -xp.inf)
        )
        scores = (phi_q @ xp.matrix_transpose(phi_k)) * relative
        last_top = top[..., -1:]
        to_last = xp.exp(top - last_top)[..., None]
        if dropout is None:
            dropped = None
            ones = xp.ones(
                (*values.shape[:-1], 1), dtype=V.dtype, device=array_device(V)
            )
            out = scores @ xp.concat((values, ones), axis=-1)
        else:
            dropped = dropout(phi_k)
            numerator = (phi_q @ xp.matrix_transpose(dropped)) * relative
            out = xp.concat(
                (numerator @ values, xp.sum(scores, axis=-1)[..., None]), axis=-1
            )
        contribution = _sums(
            phi_k * to_last, values, xp, None if dropped is None else dropped * to_last
        )
        if carry is not None:
            out = out + (phi_q @ sums) * xp.exp(old_top[..., 0] - top)[..., None]
            contribution = sums * xp.exp(old_top - last_top[..., None]) + contribution
        carry = contribution, last_top[..., None]
        if chunk_keep is None:
            pieces.append(_ratio(out, d_v))
        else:
            counts = xp.astype(chunk_keep, out.dtype)
            seen_here = seen + xp.sum(
                xp.where(
                    tril, counts[..., None, :], xp.zeros_like(counts[..., None, :])
                ),
                axis=-1,
            )
            pieces.append(_guarded_ratio(out, d_v, seen_here > 0, xp))
            seen = seen_here[..., -1:]
    return (pieces[0] if len(pieces) == 1 else xp.concat(pieces, axis=-2)), carry


def _guarded_ratio(out, d_v, visible, xp):
    """The ratio where a query sees some key, 0 where it sees none (padding).

    The normaliser is replaced by 1 where nothing is visible before dividing,
    so that no 0/0 enters the values or the gradients.
    """
    visible = visible[..., None]
    denominator = xp.where(visible, out[..., d_v:], xp.ones_like(out[..., d_v:]))
    ratio = out[..., :d_v] / denominator
    return xp.where(visible, ratio, xp.zeros_like(ratio))


def _check_options(feature_map, n_features, causal, orthogonal, sampling) -> str:
    """Validate the keyword arguments, naming the one that is wrong.

    Returns the sampling of ω, from the deprecated ``orthogonal`` if given.
    """
    if not isinstance(feature_map, str) or feature_map not in FAMILIES:
        raise ValueError(
            f"feature_map must be one of {sorted(FAMILIES)}, got {feature_map!r}."
        )
    if (
        not isinstance(n_features, Integral)
        or isinstance(n_features, bool)
        or n_features < 1
    ):
        raise ValueError(f"n_features must be an int >= 1, got {n_features!r}.")
    if not isinstance(causal, bool | np.bool_):
        raise TypeError(f"causal must be a bool, got {causal!r}.")
    if not isinstance(sampling, str) or sampling not in SAMPLINGS:
        raise ValueError(
            f"sampling must be one of {list(SAMPLINGS)}, got {sampling!r}."
        )
    if isinstance(orthogonal, str) and orthogonal == "deprecated":
        return sampling
    if not isinstance(orthogonal, bool | np.bool_):
        raise TypeError(f"orthogonal must be a bool, got {orthogonal!r}.")
    warnings.warn(
        "The parameter `orthogonal` is deprecated in 0.2 and will be removed in "
        f"0.4; use sampling={'orthogonal' if orthogonal else 'iid'!r} instead.",
        FutureWarning,
        stacklevel=3,
    )
    return "orthogonal" if orthogonal else "iid"


def _check_key_padding_mask(mask, key, xp):
    """The mask of keys to keep (the negation of ``key_padding_mask``), or None."""
    if mask is None:
        return None
    if not is_array_api_obj(mask):
        mask = np.asarray(mask)
    try:
        mask_xp = array_namespace(mask)
    except TypeError:
        mask_xp = None
    if mask_xp is not xp or not xp.isdtype(mask.dtype, "bool"):
        raise TypeError(
            "key_padding_mask must be a boolean array of the namespace of key "
            f"(True = padding), got {type(mask).__name__} of dtype "
            f"{getattr(mask, 'dtype', None)}."
        )
    if tuple(mask.shape) != tuple(key.shape[:-1]):
        raise ValueError(
            f"key_padding_mask must have shape {tuple(key.shape[:-1])} (one "
            f"entry per key), got {tuple(mask.shape)}."
        )
    return ~mask


def _check_inputs(query, key, value, *, causal):
    """Validate shapes and dtypes; return the arrays and their namespace."""
    arrays = {"query": query, "key": key, "value": value}
    arrays = {
        name: x if is_array_api_obj(x) else np.asarray(x) for name, x in arrays.items()
    }
    try:
        xp = array_namespace(*arrays.values())
    except TypeError as exc:
        kinds = ", ".join(type(x).__name__ for x in (query, key, value))
        raise TypeError(
            "query, key and value must be arrays of one namespace (NumPy arrays "
            f"or PyTorch tensors), got {kinds}."
        ) from exc
    for name, x in arrays.items():
        if not xp.isdtype(x.dtype, "real floating"):
            if is_torch_namespace(xp):
                raise TypeError(
                    f"{name} must have a real floating dtype, got {x.dtype}."
                )
            arrays[name] = xp.astype(x, xp.float64)
    query, key, value = arrays.values()
    if query.ndim < 2:
        raise ValueError(f"query must have shape (..., L, d), got shape {query.shape}.")
    if key.ndim != query.ndim or key.shape[:-2] != query.shape[:-2]:
        raise ValueError(
            f"key must have shape (..., L_k, d) with the leading dimensions of "
            f"query {tuple(query.shape[:-2])}, got shape {tuple(key.shape)}."
        )
    if key.shape[-1] != query.shape[-1]:
        raise ValueError(
            f"key must have the width d={query.shape[-1]} of query, got "
            f"{key.shape[-1]}."
        )
    if value.ndim != key.ndim or value.shape[:-1] != key.shape[:-1]:
        raise ValueError(
            f"value must have shape (..., L_k, d_v) with one row per key "
            f"{tuple(key.shape[:-1])}, got shape {tuple(value.shape)}."
        )
    if query.shape[-2] == 0 or key.shape[-2] == 0 or query.shape[-1] == 0:
        raise ValueError(
            "query and key need at least one position and one feature, got "
            f"shapes {tuple(query.shape)} and {tuple(key.shape)}."
        )
    if causal and key.shape[-2] != query.shape[-2]:
        raise ValueError(
            f"causal=True needs as many keys as queries, got L={query.shape[-2]} "
            f"queries and L_k={key.shape[-2]} keys."
        )
    dtype = xp.result_type(query, key, value)
    query, key, value = (xp.astype(x, dtype, copy=False) for x in (query, key, value))
    return query, key, value, xp
