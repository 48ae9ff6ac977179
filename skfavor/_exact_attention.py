"""Exact softmax attention, behind :func:`skfavor.attention.softmax_attention`.

Quadratic in the sequence length; computed as the engine computes its
features, in at least float32 and outside autocast, with the output checked
for NaN and inf instead of returned (:ref:`math-numerics`).
"""

from __future__ import annotations

from ._attention_numerics import (
    check_finite,
    compute_dtype,
    full_precision,
    host_errors_ignored,
)
from ._namespace import device as array_device

__all__ = ["exact_attention"]

_NOT_FINITE = (
    "The softmax attention output is NaN or infinite: the inputs contain NaN "
    "or infinity, or their logits overflow (scale them down or pass float64)."
)


def exact_attention(query, key, value, *, causal, scale, xp):
    """``softmax(scale · query keyᵀ) value`` of validated arrays of ``xp``.

    Half-precision inputs are computed in float32 (their logits lose their
    precision, and overflow at 65504) and the result cast back.
    """
    out_dtype, d = query.dtype, query.shape[-1]
    wide = compute_dtype(out_dtype, xp)
    query, key, value = (xp.astype(x, wide, copy=False) for x in (query, key, value))
    with full_precision(xp, query), host_errors_ignored(xp):
        logits = query @ xp.matrix_transpose(key)
        logits = logits * (d**-0.5 if scale is None else scale)
        if causal:
            positions = xp.arange(query.shape[-2], device=array_device(query))
            future = positions[None, :] > positions[:, None]
            logits = xp.where(future, -xp.inf, logits)
        weights = xp.exp(logits - xp.max(logits, axis=-1, keepdims=True))
        out = (weights / xp.sum(weights, axis=-1, keepdims=True)) @ value
    check_finite(out, xp, message=_NOT_FINITE)
    return xp.astype(out, out_dtype, copy=False)
