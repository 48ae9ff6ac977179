"""FAVOR# attention: softmax attention in time linear in the sequence length."""

from __future__ import annotations

import math
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
from ._sampling import draw_weights
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
    orthogonal: bool = True,
    random_state=None,
):
    """Approximate softmax attention with positive random features (FAVOR#).

    Estimates ``softmax(query keyᵀ / √d) value`` in time and memory linear in
    the sequence length. The softmax kernel ``exp(qᵀk / √d)`` is
    ``K0(q / d^¼, k / d^¼)`` (:ref:`math-kernels`), so both inputs are scaled by
    ``d^-¼`` and the kernel is replaced by ``φ_q(q)ᵀ φ_k(k)`` with positive
    random features of the chosen family (:ref:`math-families`):

    ``out = φ_q (φ_kᵀ value) / (φ_q (φ_kᵀ 1))``.

    The family's parameters are fitted in closed form to the statistics of the
    queries and keys of each sequence, that is for each index of the leading
    (batch, head) dimensions separately, in float64 on the host (:ref:`math-estimators`,
    §3). The features are evaluated in log space in the inputs' namespace, on
    their device and in their dtype, so gradients flow through them; the
    fitted parameters and random directions are constants.

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
    orthogonal : bool, default=True
        Draw the random directions in blocks of orthogonal rows with Gaussian
        marginals (:ref:`math-sampling`); ``False`` draws them i.i.d.
    random_state : int, RandomState instance or None, default=None
        Controls the random directions, which are shared by all leading
        indices. Pass an int for reproducible output across calls.

    Returns
    -------
    out : array of shape (..., L, d_v)
        The attention estimate, in the namespace, on the device and in the
        dtype of the inputs (NumPy inputs that are not floating point give
        float64).

    Raises
    ------
    FloatingPointError
        If the features of every key a query sees underflow relative to that
        query's, so that the normaliser is 0: the inputs are too large for
        their dtype.

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
    _check_options(feature_map, n_features, causal, orthogonal)
    query, key, value, xp = _check_inputs(query, key, value, causal=causal)
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
    scale = d**-0.25
    Q = xp.reshape(query, (n_batch, n_queries, d)) * scale
    K = xp.reshape(key, (n_batch, n_keys, d)) * scale
    V = xp.reshape(value, (n_batch, n_keys, d_v))
    omega = draw_weights(n_features, d, random_state, orthogonal=orthogonal)
    query_map, key_map = _fit_maps(Q, K, omega, feature_map, xp)
    attend = _causal_attention if causal else _bidirectional_attention
    # A normaliser of 0 is reported below, with its cause, instead.
    with np.errstate(divide="ignore", invalid="ignore"):
        out = attend(Q, K, V, query_map, key_map, xp)
    if not bool(xp.all(xp.isfinite(out))):
        if not bool(xp.all(xp.isfinite(value))):
            raise ValueError("value contains NaN or infinity.")
        raise FloatingPointError(
            "The attention normaliser underflowed to 0 for some queries: the "
            "random features of every key they see are negligible next to the "
            "largest key's. The queries and keys are too large for their dtype; "
            "scale them down or pass float64 inputs."
        )
    return xp.reshape(out, (*lead, n_queries, d_v))


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


def _fit_maps(Q, K, omega, family, xp):
    """Fit ``family`` to each sequence's statistics and compile both maps.

    The centred statistics are taken on the inputs' device (at least in
    float32) and only they travel to the host, where the closed forms run in
    float64, batched over the sequences (:ref:`math-statistics`,
    :ref:`math-families`). Their precision steers the variance only: the
    estimator is unbiased for any fitted parameters.
    """
    queries = _host_statistics(Q, xp)
    keys = _host_statistics(K, xp)
    for name, stats in (("query", queries), ("key", keys)):
        if not (np.all(np.isfinite(stats.scatter)) and np.all(np.isfinite(stats.mean))):
            raise ValueError(f"{name} contains NaN or infinity, or values too large.")
    params = FAMILIES[family](queries, keys)
    dtype, device = Q.dtype, array_device(Q)

    def stacked(side):
        terms = compile_terms(omega, params, scale=1.0, alpha=0.0, side=side)
        return StackedFeatureMap(
            *(
                xp.asarray(np.asarray(term), dtype=dtype, device=device)
                for term in terms
            )
        )

    query_map = stacked("query")
    return query_map, query_map if params.symmetric else stacked("key")


def _host_statistics(X, xp) -> SampleStatistics:
    """Float64 NumPy statistics of each sequence of ``X`` (B, n, d)."""
    if not is_torch_namespace(xp):
        return SampleStatistics.from_array(np.asarray(X, dtype=np.float64))
    X = X.detach()
    if xp.finfo(X.dtype).bits < 32:
        X = xp.astype(X, xp.float32)
    stats = SampleStatistics.from_array(X)
    return SampleStatistics(
        *(_to_host(part) for part in (stats.n_samples, stats.mean, stats.scatter))
    )


def _to_host(X) -> np.ndarray:
    """A float64 NumPy copy of a detached PyTorch tensor."""
    return np.asarray(X.cpu(), dtype=np.float64)


def _chunk_length(n_batch: int, n_rows: int, row_floats: int, itemsize: int) -> int:
    """Positions per chunk so that one chunk fits scikit-learn's ``working_memory``."""
    budget = get_config()["working_memory"] * 2**20
    per_position = max(n_batch * row_floats * itemsize, 1)
    return int(min(max(budget // per_position, 1), n_rows))


def _with_ones(V, xp):
    """``[V, 1]``: the last column carries the normaliser through the products."""
    ones = xp.ones((*V.shape[:-1], 1), dtype=V.dtype, device=array_device(V))
    return xp.concat((V, ones), axis=-1)


def _query_features(Q, query_map, xp):
    """Query features shifted by their per-row maximum (:ref:`math-numerics`)."""
    log_phi = query_map.log_features(Q, xp)
    return xp.exp(log_phi - xp.max(log_phi, axis=-1, keepdims=True))


def _rescaled(state, top, log_phi, xp):
    """Shift ``log_phi`` by the running key maximum and rescale ``state`` to it.

    Every key feature is ``exp(log φ − top)`` for one ``top`` per sequence
    (:ref:`math-numerics`); when a chunk raises the maximum, the sums of earlier chunks
    are multiplied by ``exp(old − new)`` so that they stay on one scale.
    """
    chunk_top = xp.max(log_phi, axis=(1, 2), keepdims=True)
    if state is None:
        return None, chunk_top, xp.exp(log_phi - chunk_top)
    new_top = xp.maximum(top, chunk_top)
    return state * xp.exp(top - new_top), new_top, xp.exp(log_phi - new_top)


def _bidirectional_attention(Q, K, V, query_map, key_map, xp):
    """``φ_q (φ_kᵀ [V, 1])`` then the ratio, with keys and queries in chunks."""
    n_batch, n_keys, d_v = V.shape
    n_features = query_map.offset.shape[-1]
    itemsize = xp.finfo(Q.dtype).bits // 8
    step = _chunk_length(n_batch, n_keys, 3 * n_features + d_v, itemsize)
    state = top = None
    for start in range(0, n_keys, step):
        rows = slice(start, start + step)
        log_phi = key_map.log_features(K[:, rows, :], xp)
        state, top, phi = _rescaled(state, top, log_phi, xp)
        contribution = xp.matrix_transpose(phi) @ _with_ones(V[:, rows, :], xp)
        state = contribution if state is None else state + contribution
    n_queries = Q.shape[1]
    step = _chunk_length(n_batch, n_queries, 3 * n_features + d_v, itemsize)
    pieces = []
    for start in range(0, n_queries, step):
        out = _query_features(Q[:, start : start + step, :], query_map, xp) @ state
        pieces.append(out[..., :d_v] / out[..., d_v:])
    return xp.concat(pieces, axis=1)


def _causal_attention(Q, K, V, query_map, key_map, xp):
    """Prefix sums of ``φ_kᵀ [V, 1]`` carried over blocks of positions.

    Within a block of ``C`` positions, the prefix sums are the product with a
    lower-triangular mask, ``(φ_q φ_kᵀ ⊙ tril) [V, 1]``: ``O(C²)`` memory per
    sequence instead of ``O(C·M·d_v)`` for explicit running sums.
    """
    n_batch, length, d_v = V.shape
    n_features = query_map.offset.shape[-1]
    itemsize = xp.finfo(Q.dtype).bits // 8
    step = min(
        _CAUSAL_BLOCK,
        _chunk_length(n_batch, length, 4 * n_features + d_v + _CAUSAL_BLOCK, itemsize),
    )
    positions = xp.arange(step, device=array_device(Q))
    mask = xp.astype(positions[:, None] >= positions[None, :], Q.dtype)
    state = top = None
    pieces = []
    for start in range(0, length, step):
        rows = slice(start, start + step)
        width = min(step, length - start)
        log_phi = key_map.log_features(K[:, rows, :], xp)
        state, top, phi_k = _rescaled(state, top, log_phi, xp)
        phi_q = _query_features(Q[:, rows, :], query_map, xp)
        values = _with_ones(V[:, rows, :], xp)
        scores = (phi_q @ xp.matrix_transpose(phi_k)) * mask[:width, :width]
        out = scores @ values
        contribution = xp.matrix_transpose(phi_k) @ values
        if state is None:
            state = contribution
        else:
            out = out + phi_q @ state
            state = state + contribution
        pieces.append(out[..., :d_v] / out[..., d_v:])
    return xp.concat(pieces, axis=1)


def _check_options(feature_map, n_features, causal, orthogonal) -> None:
    """Validate the keyword arguments, naming the one that is wrong."""
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
    for name, flag in (("causal", causal), ("orthogonal", orthogonal)):
        if not isinstance(flag, bool | np.bool_):
            raise TypeError(f"{name} must be a bool, got {flag!r}.")


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
