"""The masks of ``torch.nn.MultiheadAttention``'s forward, in FAVOR's terms,
and the layout of its inputs (batch first, unbatched, nested, heads).

A key padding mask becomes ``keep`` (True for real keys); an attention mask is
accepted only when it is the causal mask (it then selects causal attention),
since linear attention never forms the ``L × S`` matrix a general mask acts on.

Checking a mask's values needs its values. On the CPU in eager mode the check
runs on the host and raises ``ValueError`` at once; elsewhere (an accelerator,
or under ``torch.compile``) it is a ``torch._assert_async``, which raises
``RuntimeError`` without a device-to-host copy (on a GPU, at a later CUDA
call) and adds no graph break.
"""

from __future__ import annotations

import torch


def require(condition: torch.Tensor, message: str) -> None:
    """Raise ``ValueError(message)`` unless the bool tensor ``condition`` holds.

    On the host for CPU tensors in eager mode; otherwise by
    ``torch._assert_async`` (``RuntimeError``), with no host synchronisation.
    """
    if condition.device.type == "cpu" and not torch.compiler.is_compiling():
        if not bool(condition):
            raise ValueError(message)
    else:
        torch._assert_async(condition, message)


#: Additive mask values at or below this mask a position: ``exp(-1e4)`` is 0 in
#: every floating dtype, so MultiheadAttention's softmax gives such positions a
#: weight of exactly 0, as with -inf (masks are often built with -1e9 or
#: ``torch.finfo(dtype).min``).
MASKED = -1e4


def _masked(mask: torch.Tensor) -> torch.Tensor:
    """Where an additive float mask masks (``-inf`` or ``≤ MASKED``)."""
    return mask <= MASKED


def key_keep(key_padding_mask, shape) -> torch.Tensor | None:
    """``keep`` (True = real key) from a key padding mask of shape ``shape``.

    Parameters
    ----------
    key_padding_mask : Tensor or None
        Bool (``True`` = padded) or floating additive (``-inf``, or any value
        ``≤ -1e4`` such as ``-1e9`` or ``torch.finfo(dtype).min``, = padded;
        ``0`` = real), as ``torch.nn.MultiheadAttention`` takes it.
    shape : tuple (N, S)

    Returns
    -------
    bool Tensor of shape (N, S) or None
    """
    if key_padding_mask is None:
        return None
    if not isinstance(key_padding_mask, torch.Tensor) or not (
        key_padding_mask.dtype == torch.bool or key_padding_mask.is_floating_point()
    ):
        raise TypeError(
            "key_padding_mask must be a bool tensor (True = padding) or a float "
            "tensor (-inf = padding, 0 = key), got "
            f"{getattr(key_padding_mask, 'dtype', type(key_padding_mask))}."
        )
    if tuple(key_padding_mask.shape) != tuple(shape):
        raise ValueError(
            f"key_padding_mask must have shape {tuple(shape)}, got "
            f"{tuple(key_padding_mask.shape)}."
        )
    if key_padding_mask.dtype == torch.bool:
        return ~key_padding_mask
    keep = key_padding_mask == 0
    require(
        torch.all(keep | _masked(key_padding_mask)),
        "A float key_padding_mask must hold -inf or values <= -1e4 (padding) or "
        "0 (key) only: linear attention cannot add other values to the "
        "attention logits.",
    )
    return keep


def causal_mask_selects_causal(
    attn_mask, is_causal, n_queries, n_keys, n_masks=None
) -> bool:
    """Whether a call is causal, after checking ``attn_mask`` is the causal mask.

    Parameters
    ----------
    attn_mask : Tensor or None
        Of shape (L, S) or (N·num_heads, L, S); bool (``True`` = not allowed)
        or floating additive (``-inf`` or ``≤ -1e4`` = not allowed), as
        ``torch.nn.Transformer.generate_square_subsequent_mask`` makes it.
    is_causal : bool or None
        The caller's hint (``True`` selects causal attention; None is False).
    n_queries, n_keys : int
        ``L`` and ``S``.
    n_masks : int, default=None
        ``N·num_heads``, the first dimension a 3-D ``attn_mask`` must have
        (``num_heads`` for unbatched inputs); None leaves it unchecked.

    Returns
    -------
    bool
    """
    if is_causal is None:
        is_causal = False
    if not isinstance(is_causal, bool):
        raise TypeError(f"is_causal must be a bool, got {is_causal!r}.")
    if attn_mask is None:
        return is_causal
    refused = (
        "linear attention cannot apply an arbitrary attn_mask: it never forms "
        "the L×S attention matrix. Only the causal mask (True, or -inf or "
        "<= -1e4, above the diagonal and False, or 0, elsewhere, as "
        "nn.Transformer.generate_square_subsequent_mask makes it) is accepted, "
        "and selects causal attention"
    )
    if not isinstance(attn_mask, torch.Tensor) or not (
        attn_mask.dtype == torch.bool or attn_mask.is_floating_point()
    ):
        raise TypeError(
            f"attn_mask must be a bool or float tensor, got {type(attn_mask)} "
            f"({getattr(attn_mask, 'dtype', None)})."
        )
    if (
        attn_mask.dim() not in (2, 3)
        or tuple(attn_mask.shape[-2:]) != (n_queries, n_keys)
        or (attn_mask.dim() == 3 and n_masks not in (None, attn_mask.shape[0]))
    ):
        raise ValueError(
            f"attn_mask must have shape (L, S) = ({n_queries}, {n_keys}) or "
            f"(N*num_heads, L, S) = {(n_masks or 'N*num_heads', n_queries, n_keys)}, "
            f"got {tuple(attn_mask.shape)}."
        )
    if n_queries != n_keys:
        raise ValueError(f"{refused}; with L={n_queries} != S={n_keys} it cannot be.")
    later = torch.ones(
        n_queries, n_keys, dtype=torch.bool, device=attn_mask.device
    ).triu(1)
    if attn_mask.dtype == torch.bool:
        causal = torch.all(attn_mask == later)
    else:
        causal = torch.all(torch.where(later, _masked(attn_mask), attn_mask == 0))
    require(causal, f"{refused}. Got another attn_mask.")
    return True


def check_exported_inputs(layer, query, key, value) -> None:
    """Refuse a dynamic sequence axis in a ``torch.export`` of the layer.

    The engine's loop over blocks of positions is unrolled when traced, so the
    graph holds for the example's length only, and ``torch.onnx.export`` falls
    back to such a graph without a word. (One tensor passed as query, key and
    value is right inside a model, e.g. ``nn.TransformerEncoderLayer``;
    :func:`~skfavor.integrations.onnx.exportable_attention`'s modules, whose
    three inputs are the graph's, refuse it.)
    """
    if not torch.compiler.is_exporting():
        return
    axis = 1 if layer.batch_first and query.dim() == 3 else 0
    for name, x in (("query", query), ("key", key)):
        # A SymInt has a ``node``, an int none. ``isinstance(length, SymInt)``
        # is False under Dynamo (torch.export's strict mode, which
        # torch.onnx.export tries next), where this ``hasattr`` stops the trace.
        if hasattr(x.shape[axis], "node"):
            raise ValueError(
                f"The export's {name} has a dynamic sequence length (axis {axis} "
                "in dynamic_shapes): the exported graph holds for the example's "
                "sequence length only. Make only the batch axis dynamic, export "
                "at the longest length you serve, and pad shorter sequences, "
                "marking the padding in key_padding_mask."
            )


def layer_inputs(layer, query, key, value, key_padding_mask):
    """Check a :class:`~skfavor.nn.FavorAttention` call's inputs.

    Against the layer's public ``embed_dim``, ``kdim``, ``vdim`` and
    ``batch_first``. Returns (N, L, ·) tensors, ``keep`` (N, S) or None and
    whether the inputs were unbatched.
    """
    for name, x in (("query", query), ("key", key), ("value", value)):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(x)}.")
        if x.is_nested:
            raise ValueError(
                f"{name} is a nested tensor: pass a padded tensor and a "
                "key_padding_mask."
            )
    check_exported_inputs(layer, query, key, value)
    unbatched = query.dim() == 2
    layout = (
        "length, "
        if unbatched
        else ("N, length, " if layer.batch_first else "length, N, ")
    )
    widths = {"query": layer.embed_dim, "key": layer.kdim, "value": layer.vdim}
    for name, x in (("query", query), ("key", key), ("value", value)):
        if (
            x.dim() != query.dim()
            or x.dim() not in (2, 3)
            or (x.shape[-1] != widths[name])
        ):
            raise ValueError(
                f"{name} must have shape ({layout}{widths[name]}), like query "
                f"(batch_first={layer.batch_first}), got {tuple(x.shape)}."
            )
    if unbatched:
        query, key, value = query[None], key[None], value[None]
        if isinstance(key_padding_mask, torch.Tensor):
            if key_padding_mask.dim() != 1:
                raise ValueError(
                    f"key_padding_mask must have shape ({key.shape[1]},) for "
                    f"unbatched inputs, got {tuple(key_padding_mask.shape)}."
                )
            key_padding_mask = key_padding_mask[None]
    elif not layer.batch_first:
        query, key, value = (x.transpose(0, 1) for x in (query, key, value))
    if query.shape[0] != key.shape[0] or key.shape[:2] != value.shape[:2]:
        raise ValueError(
            "query, key and value must have one batch size and key and value "
            f"one length, got shapes {tuple(query.shape)}, {tuple(key.shape)} "
            f"and {tuple(value.shape)} (batch first)."
        )
    keep = key_keep(key_padding_mask, key.shape[:2])
    return query, key, value, keep, unbatched


def padded_queries(query, key, keep, self_attention):
    """The queries (N, L) that ``keep``'s padding also marks, or None.

    ``keep`` (N, S) marks real keys. A self-attention (``query is key`` as
    the caller passed them) has one position per query and key: its queries
    are ``keep``. With as many queries as keys otherwise, the queries are
    ``keep`` only where the real rows of ``query`` and ``key`` are equal (a
    copy of the same sequence), decided on the device; a cross-attention,
    causal or not, keeps every query, as ``MultiheadAttention`` never masks
    them. None where no query is padding (other lengths, or rows of other
    widths).
    """
    if keep is None or query.shape[1] != key.shape[1]:
        return None
    if self_attention:
        return keep
    if query.shape[-1] != key.shape[-1]:
        return None
    same = torch.all((query == key) | ~keep[..., None])
    return keep | ~same


def sanitised(x: torch.Tensor, keep: torch.Tensor | None) -> torch.Tensor:
    """``x`` with padded positions (``keep`` False) set to 0, NaN and inf included."""
    if keep is None:
        return x
    return torch.where(keep[..., None], x, torch.zeros_like(x))


def unnested(layer, query, key, value, key_padding_mask):
    """Padded inputs for nested ones, and the function that re-nests the output.

    ``nn.TransformerEncoder`` built with ``MultiheadAttention`` layers packs a
    padded batch into nested tensors (rows of their own lengths) in eval mode
    without gradients, and calls its layers with them: a
    :class:`~skfavor.nn.FavorAttention` swapped in afterwards receives them.
    Only that self-attention (``query is key``) is taken: a nested
    cross-attention's query padding could not reach the query statistics.
    The inputs are padded with zeros, their lengths make the key padding mask
    and the output's rows are cut back to them. The lengths are the nested
    tensors' host metadata: no value leaves the device. Inputs that are not
    nested come back unchanged, with the identity.
    """
    tensors = (query, key, value)
    nested = [isinstance(x, torch.Tensor) and x.is_nested for x in tensors]
    if not any(nested):
        return query, key, value, key_padding_mask, lambda out: out
    lengths = [
        [row.shape[0] for row in x.unbind()] if is_nested else None
        for x, is_nested in zip(tensors, nested, strict=True)
    ]
    if (
        query is not key
        or lengths[2] != lengths[1]
        or key_padding_mask is not None
        or not layer.batch_first
    ):
        raise ValueError(
            "nested inputs are taken for a self-attention as nn.TransformerEncoder "
            "passes them: query is key, value nested of the same lengths, "
            "batch_first=True and key_padding_mask=None (the lengths mark the "
            f"padding); got nested={nested}, query is key: {query is key}, "
            f"batch_first={layer.batch_first}, key_padding_mask "
            f"{'None' if key_padding_mask is None else 'given'}. Pass padded "
            "tensors and a key_padding_mask otherwise."
        )
    padded = {}
    for x in tensors:  # once per tensor object, so that `query is key` holds
        if id(x) not in padded:
            padded[id(x)] = torch.nested.to_padded_tensor(x, 0.0)
    query, key, value = (padded[id(x)] for x in tensors)
    positions = torch.arange(key.shape[1], device=key.device)
    padding = positions >= torch.tensor(lengths[0], device=key.device)[:, None]

    def nest(out):
        rows = [row[:length] for row, length in zip(out, lengths[0], strict=True)]
        return torch.nested.as_nested_tensor(rows, layout=tensors[0].layout)

    return query, key, value, padding, nest


def split_heads(x, num_heads):
    """Split the last dimension into heads: (N, L, E) to (N, H, L, E/H).

    Parameters
    ----------
    x : Tensor of shape (N, L, E)
    num_heads : int
        Must divide ``E``.

    Returns
    -------
    Tensor of shape (N, num_heads, L, E // num_heads)
        A view of ``x``: head ``h`` holds columns ``h·E/H`` to ``(h+1)·E/H``.
    """
    n, length, _ = x.shape
    return x.reshape(n, length, num_heads, -1).transpose(1, 2)


def merge_heads(x):
    """The inverse of :func:`split_heads`: (N, H, L, E/H) to (N, L, E).

    Parameters
    ----------
    x : Tensor of shape (N, H, L, E/H)

    Returns
    -------
    Tensor of shape (N, L, H · E/H)
        Head ``h`` in columns ``h·E/H`` to ``(h+1)·E/H``.
    """
    n, heads, length, width = x.shape
    return x.transpose(1, 2).reshape(n, length, heads * width)


def repeat_heads(x, num_heads):
    """Grouped key heads for every query head: (N, H_kv, S, D) to (N, H, S, D).

    Parameters
    ----------
    x : Tensor of shape (N, H_kv, S, D)
    num_heads : int
        The query heads ``H``, a multiple of ``H_kv``.

    Returns
    -------
    Tensor of shape (N, num_heads, S, D)
        Key head ``j`` serves query heads ``j·H/H_kv`` to ``(j+1)·H/H_kv − 1``;
        ``x`` itself when ``H_kv == H``.
    """
    n, h_kv, s, d = x.shape
    if h_kv == num_heads:
        return x
    if num_heads % h_kv:
        raise ValueError(
            f"The number of query heads {num_heads} must be a multiple of the "
            f"number of key heads {h_kv}."
        )
    return (
        x[:, :, None]
        .expand(n, h_kv, num_heads // h_kv, s, d)
        .reshape(n, num_heads, s, d)
    )
