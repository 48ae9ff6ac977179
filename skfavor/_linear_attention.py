"""Linear attention on fitted feature maps: bidirectional and causal, in blocks.

Given queries and keys in kernel units, values, and the compiled query and key
maps (:class:`~skfavor._feature_map.StackedFeatureMap`), these functions
evaluate ``φ_q (φ_kᵀ [V, 1])`` and its ratio (:ref:`math-attention-model`) in
time and memory linear in the sequence length, in any array-API namespace.
They know nothing of statistics, families or their callers: the engine
(:func:`skfavor.attention.favor_heads`) fits the maps and calls them.
"""

from __future__ import annotations

import math

import numpy as np

from ._namespace import device as array_device
from ._namespace import is_torch_namespace

#: Most positions whose causal interactions are one masked product: a block of
#: C positions costs O(C·M) work per position, a smaller one more Python steps.
#: Accelerators take :data:`CAUSAL_BLOCK`, the CPU :data:`CPU_CAUSAL_BLOCK`
#: (2 to 4 % faster there, forward and backward, L 512 to 2048, M 256, d 64).
CAUSAL_BLOCK = 128
CPU_CAUSAL_BLOCK = 64

#: Bytes of one block's per-position temporaries (features and sums): sized for
#: the cache, not for scikit-learn's ``working_memory`` (1 GiB), so that each
#: block's features are still cached when their products read them.
BLOCK_BYTES = 2**23

#: Fewest positions per block: below this the per-block steps cost more than
#: the cache misses they save.
MIN_BLOCK = 64


def block_length(n_batch: int, n_rows: int, row_floats: int, itemsize: int) -> int:
    """Positions per block: the package's one block-size policy for attention.

    As many positions as fit :data:`BLOCK_BYTES` when each costs
    ``n_batch · row_floats`` numbers of ``itemsize`` bytes, at least
    :data:`MIN_BLOCK` and at most ``n_rows``, evened out so that the blocks
    of ``n_rows`` have equal lengths (the last one shorter by less than their
    number).
    """
    per_position = max(n_batch * row_floats * itemsize, 1)
    step = int(min(max(BLOCK_BYTES // per_position, MIN_BLOCK), max(n_rows, 1)))
    # As many blocks, of equal lengths: no short last block of its own steps.
    n_blocks = -(-max(n_rows, 1) // step)
    return -(-max(n_rows, 1) // n_blocks)


def position_blocks(X, step: int, xp):
    """``X`` (..., n, k) in blocks of ``step`` positions, the last one shorter.

    Tensors are split once: the gradient of a split is one concatenation,
    where the gradient of each block's slice would be a zero-filled tensor
    of the whole sequence (backward then grew as ``n² / step``).
    """
    if is_torch_namespace(xp):
        # No positions, no blocks (a split would give one empty block).
        return X.split(step, dim=-2) if X.shape[-2] else ()
    return [X[..., start : start + step, :] for start in range(0, X.shape[-2], step)]


def _shift_maximum(log_phi, xp, axis):
    """The stabilising maximum of ``log_phi`` over ``axis``, without gradient.

    Every output is invariant to the shifts (they cancel in the ratio,
    :ref:`math-numerics`), so their exact gradient is 0: cutting it, where
    every use of the shift derives from this one, keeps autograd exact and
    lets :func:`_shifted_exp` work in place.
    """
    top = xp.max(log_phi, axis=axis, keepdims=True)
    return top.detach() if hasattr(top, "detach") else top


def _shifted_exp(log_phi, top, xp):
    """``exp(log_phi − top)`` written into ``log_phi``, a temporary nothing else reads.

    One full-size allocation fewer than ``exp(log_phi - top)``: PyTorch's
    ``sub_`` and ``exp_`` keep autograd exact (the product that made
    ``log_phi`` does not read it back, exp's backward reads its output, and
    ``top`` carries no gradient); NumPy writes in place too; other namespaces
    copy.
    """
    if hasattr(log_phi, "exp_"):
        return log_phi.sub_(top).exp_()
    if isinstance(log_phi, np.ndarray):
        np.subtract(log_phi, top, out=log_phi)
        return np.exp(log_phi, out=log_phi)
    return xp.exp(log_phi - top)


def folded_weights(feature_map, xp):
    """``[W, offset, 1]ᵀ``: the map's GEMM operand with the per-row terms folded in.

    ``log φ(x) = [x, 1, q(x)] [W, offset, 1]ᵀ`` is one product instead of a
    product and two full-size broadcast additions (:ref:`math-families`).
    """
    weights, offset = feature_map.weights, feature_map.offset
    ones = xp.ones(offset.shape, dtype=offset.dtype, device=array_device(offset))
    columns = (weights, offset[..., None], ones[..., None])
    return xp.matrix_transpose(xp.concat(columns, axis=-1))


def augmented(X, feature_map, xp):
    """``[x, 1, q(x)]`` of the rows of ``X`` (..., n, d): the left operand of
    :func:`log_features`' product with :func:`folded_weights`."""
    row = feature_map.row_term(X, xp)
    ones = xp.ones(row.shape, dtype=X.dtype, device=array_device(X))
    # row has the batch shape of X and of the map broadcast together.
    X = xp.broadcast_to(X, (*row.shape, X.shape[-1]))
    return xp.concat((X, ones[..., None], row[..., None]), axis=-1)


def log_features(X, feature_map, folded, xp):
    """``log φ`` of the rows of ``X`` (..., n, d): (..., n, M), one product."""
    return augmented(X, feature_map, xp) @ folded


def query_features(Q, feature_map, folded, xp):
    """Query features shifted by their per-row maximum (:ref:`math-numerics`)."""
    return _stabilised_queries(log_features(Q, feature_map, folded, xp), xp)


def _stabilised_queries(log_phi, xp):
    """``exp(log φ − max per row)``, written into ``log_phi``.

    The package's one query stabilisation: the shift cancels in the ratio.
    """
    return _shifted_exp(log_phi, _shift_maximum(log_phi, xp, -1), xp)


def _floor(log_phi, xp) -> float:
    """A finite log-feature below every real one (half the dtype's minimum)."""
    return xp.finfo(log_phi.dtype).min / 2


def _key_log_features(K, key_map, folded, keep, xp):
    """Key log-features, with padded keys at a finite floor (:func:`_floored`)."""
    return _floored(log_features(K, key_map, folded, xp), keep, xp)


def _floored(log_phi, keep, xp):
    """``log_phi`` with padded keys (``keep`` False) at a finite floor.

    The floor keeps padded keys out of every maximum without putting inf into
    the gradients; :func:`_exp_kept` then gives them the feature 0.
    """
    if keep is not None:
        log_phi = xp.where(keep[..., None], log_phi, _floor(log_phi, xp))
    return log_phi


def _holds_keys(carry, xp):
    """Whether a state ``(sums, top)`` holds a real key, of shape (..., 1).

    A state of padded positions alone (the first chunk of a left-padded row)
    keeps ``top`` at the floor of :func:`_floored`; any real key raises it.
    """
    top = carry[1][..., 0]
    return top > _floor(top, xp)


def _exp_kept(log_phi, top, keep, xp):
    """``exp(log φ − top)``, exactly 0 for padded keys."""
    phi = _shifted_exp(log_phi, top, xp)
    if keep is not None:
        phi = xp.where(keep[..., None], phi, xp.zeros_like(phi))
    return phi


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
        (xp.matrix_transpose(dropped) @ V, xp.sum(phi, axis=-2)[..., None]), axis=-1
    )


def _ratio(out, d_v):
    return out[..., :d_v] / out[..., d_v:]


def _guarded_ratio(out, d_v, visible, xp):
    """The ratio where a query sees some key, 0 where it sees none (padding).

    The normaliser is replaced by 1 where nothing is visible before dividing,
    so that no 0/0 enters the values or the gradients.
    """
    visible = visible[..., None]
    denominator = xp.where(visible, out[..., d_v:], xp.ones_like(out[..., d_v:]))
    ratio = out[..., :d_v] / denominator
    return xp.where(visible, ratio, xp.zeros_like(ratio))


def bidirectional_attention(
    Q, K, V, query_map, key_map, xp, *, keep=None, dropout=None, carry=None
):
    """``φ_q (φ_kᵀ [V, 1])`` then the ratio, with keys and queries in blocks.

    Every key feature is ``exp(log φ − top)`` for one running ``top`` per
    sequence (:ref:`math-numerics`); when a block raises the maximum, the sums
    of earlier blocks are rescaled by ``exp(old − new)``.

    Parameters
    ----------
    Q, K, V : arrays of shapes (..., L, d), (..., S, d), (..., S, d_v)
        Queries and keys in the units the maps take (:func:`favor_heads`
        passes its inputs with maps rescaled to them), and values, all in the
        features' dtype.
    query_map, key_map : StackedFeatureMap
        Maps whose batch dimensions broadcast against the leading ones.
    xp : namespace
    keep : array of shape (..., S), default=None
        False for padded keys.
    dropout : callable, default=None
        Applied to the key features of the numerator (training only).
    carry : tuple (sums, top), default=None
        Sums over keys seen before ``K`` (a decoding state).

    Returns
    -------
    out : array of shape (..., L, d_v)
    carry : tuple (sums, top)
        The sums over every key, with ``top`` of shape (..., 1, 1).
    """
    *lead, n_keys, d_v = V.shape
    n_batch = math.prod(lead)
    n_features = query_map.offset.shape[-1]
    itemsize = xp.finfo(Q.dtype).bits // 8
    step = block_length(n_batch, n_keys, 2 * n_features + d_v, itemsize)
    key_folded = folded_weights(key_map, xp)
    guarded = keep is not None
    had_carry = None if carry is None else _holds_keys(carry, xp)
    key_blocks = zip(
        position_blocks(K, step, xp), position_blocks(V, step, xp), strict=True
    )
    for start, (K_block, V_block) in zip(
        range(0, n_keys, step), key_blocks, strict=True
    ):
        rows = slice(start, start + step)
        block_keep = None if keep is None else keep[..., rows]
        log_phi = _key_log_features(K_block, key_map, key_folded, block_keep, xp)
        top = _shift_maximum(log_phi, xp, (-2, -1))
        if carry is not None:
            top = xp.maximum(carry[1], top)
        phi = _exp_kept(log_phi, top, block_keep, xp)
        dropped = None if dropout is None else dropout(phi)
        contribution = _sums(phi, V_block, xp, dropped)
        if carry is not None:
            contribution = carry[0] * xp.exp(carry[1] - top) + contribution
        carry = contribution, top
    sums = carry[0]
    n_queries = Q.shape[-2]
    step = block_length(n_batch, n_queries, 2 * n_features + d_v, itemsize)
    query_folded = folded_weights(query_map, xp)
    visible = None
    if guarded:
        visible = xp.any(keep, axis=-1)[..., None]
        if had_carry is not None:
            visible = visible | had_carry
    pieces = []
    for Q_block in position_blocks(Q, step, xp):
        phi_q = query_features(Q_block, query_map, query_folded, xp)
        out = phi_q @ sums
        pieces.append(
            _guarded_ratio(out, d_v, visible, xp) if guarded else _ratio(out, d_v)
        )
    return (pieces[0] if len(pieces) == 1 else xp.concat(pieces, axis=-2)), carry


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
        As in :func:`bidirectional_attention`, with ``S = L``.
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
    row_floats = 3 * n_features + d_v + CAUSAL_BLOCK
    on_cpu = getattr(array_device(Q), "type", "cpu") == "cpu"
    largest = CPU_CAUSAL_BLOCK if on_cpu else CAUSAL_BLOCK
    step = min(largest, block_length(math.prod(lead), length, row_floats, itemsize))
    positions = xp.arange(step, device=array_device(Q))
    lower = positions[:, None] >= positions[None, :]
    folded = folded_weights(query_map, xp), folded_weights(key_map, xp)
    # [x, 1, q(x)] and [V, 1] once for the sequence, not once per block.
    inputs = augmented(Q, query_map, xp), augmented(K, key_map, xp)
    ones = xp.ones((*V.shape[:-1], 1), dtype=V.dtype, device=array_device(V))
    values = xp.concat((V, ones), axis=-1)
    # Keys seen so far that are not padding (a state of padding alone holds none).
    seen = None
    if keep is not None:
        seen = 0.0 if carry is None else xp.astype(_holds_keys(carry, xp), Q.dtype)
    pieces = []
    blocks = zip(
        *(position_blocks(X, step, xp) for X in (*inputs, values)), strict=True
    )
    for start, (query_rows, key_rows, value_rows) in zip(
        range(0, length, step), blocks, strict=True
    ):
        block_keep = None if keep is None else keep[..., start : start + step]
        out, carry, tril = _causal_block(
            query_rows @ folded[0],
            key_rows @ folded[1],
            value_rows,
            lower,
            block_keep,
            dropout,
            carry,
            xp,
        )
        if block_keep is None:
            pieces.append(_ratio(out, d_v))
        else:
            counts = xp.astype(block_keep, out.dtype)[..., None, :]
            seen_here = seen + xp.sum(
                xp.where(tril, counts, xp.zeros_like(counts)), axis=-1
            )
            pieces.append(_guarded_ratio(out, d_v, seen_here > 0, xp))
            seen = seen_here[..., -1:]
    return (pieces[0] if len(pieces) == 1 else xp.concat(pieces, axis=-2)), carry


def _causal_block(log_q, log_k, values, lower, keep, dropout, carry, xp):
    """Unnormalised outputs of one block of positions, and the state after it.

    ``log_q`` and ``log_k`` are the block's query and key log-features (the
    function overwrites them), ``values`` its ``[V, 1]``.
    """
    width = values.shape[-2]
    tril = lower[:width, :width]
    log_phi = _floored(log_k, keep, xp)
    # top_j: the running maximum over positions <= j (and the carry).
    position_top = _shift_maximum(log_phi, xp, -1)[..., 0]
    top = xp.max(
        xp.where(tril, position_top[..., None, :], _floor(log_phi, xp)), axis=-1
    )
    if carry is not None:
        sums, old_top = carry
        top = xp.maximum(top, old_top[..., 0])
    phi_k = _exp_kept(log_phi, top[..., None], keep, xp)
    phi_q = _stabilised_queries(log_q, xp)
    # e^{top_j − top_i} for j ≤ i (≤ 1), 0 above the diagonal.
    relative = xp.exp(xp.where(tril, top[..., None, :] - top[..., :, None], -xp.inf))
    scores = (phi_q @ xp.matrix_transpose(phi_k)) * relative
    last_top = top[..., -1:]
    # Rescaling to the block's last maximum weighs the rows of [V, 1]
    # (d_v + 1 columns), not the features (M columns).
    to_last = xp.exp(top - last_top)[..., None]
    V = values[..., :-1]
    if dropout is None:
        out = scores @ values
        contribution = xp.matrix_transpose(phi_k) @ (values * to_last)
    else:
        dropped = dropout(phi_k)
        numerator = (phi_q @ xp.matrix_transpose(dropped)) * relative
        out = xp.concat((numerator @ V, xp.sum(scores, axis=-1)[..., None]), axis=-1)
        contribution = xp.concat(
            (
                xp.matrix_transpose(dropped) @ (V * to_last),
                xp.matrix_transpose(phi_k) @ to_last,
            ),
            axis=-1,
        )
    if carry is not None:
        out = out + (phi_q @ sums) * xp.exp(old_top[..., 0] - top)[..., None]
        contribution = sums * xp.exp(old_top - last_top[..., None]) + contribution
    return out, (contribution, last_top[..., None]), tril
