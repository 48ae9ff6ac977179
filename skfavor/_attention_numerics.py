"""Precision and finiteness in the attention engine.

For :func:`~skfavor.attention.favor_heads`: the dtypes of the features and of
the closed forms, the split of the softmax scale between queries and keys
(:ref:`math-kernels`), the replacement of non-finite statistics before the
closed forms, the check of the output without a device-to-host copy, and the
contexts that leave autocast and NumPy's floating-point warnings out of the
engine (:ref:`math-numerics`).
"""

from __future__ import annotations

import contextlib
import sys

import numpy as np

from ._namespace import device as array_device
from ._namespace import is_torch_namespace
from ._statistics import SampleStatistics

__all__ = [
    "check_finite",
    "compute_dtype",
    "finite_statistics",
    "full_precision",
    "host_errors_ignored",
    "kernel_factor",
    "parameter_dtype",
    "rows_statistics",
    "sequence_statistics",
]


def kernel_factor(scale, d: int) -> float:
    """The factor ``scale**0.5`` of queries and keys (``d^-¼`` by default)."""
    return d**-0.25 if scale is None else float(scale) ** 0.5


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


def finite_statistics(stats: SampleStatistics, xp) -> SampleStatistics:
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


_NOT_FINITE = (
    "The attention output is NaN or infinite: the inputs contain NaN or "
    "infinity, or the attention normaliser underflowed to 0 for some "
    "queries (the random features of every key they see are negligible "
    "next to the largest key's: the queries and keys are too large for "
    "their dtype; scale them down or pass float64 inputs, converting a "
    "module that makes them with .double() first)."
)


def check_finite(out, xp, *, message: str = _NOT_FINITE) -> None:
    """Raise instead of returning NaN or inf, without a device-to-host copy.

    NumPy outputs raise ``FloatingPointError``; PyTorch outputs are checked by
    ``torch._assert_async``, which raises ``RuntimeError`` at once on the CPU
    and makes a later CUDA call fail on a GPU, with no synchronisation in
    the forward pass (and no graph break under ``torch.compile``).
    """
    if is_torch_namespace(xp):
        torch = sys.modules["torch"]
        if out.numel() == 0:  # nothing to check (amax refuses empty arrays)
            return
        # Two vectorised reductions, not isfinite's full-size passes: the
        # minimum and maximum are NaN if any entry is, and ±inf if any entry
        # is. (Along one named dimension, which ONNX exporters translate;
        # ``aminmax(dim=0)`` would be 25 times slower on the CPU.)
        flat = out.reshape(-1)
        extremes = torch.stack((torch.amax(flat, dim=0), torch.amin(flat, dim=0)))
        torch._assert_async(torch.all(torch.isfinite(extremes)), message)
    elif not bool(xp.all(xp.isfinite(out))):
        raise FloatingPointError(message)


def host_errors_ignored(xp):
    """NumPy's floating-point warnings off (a 0 normaliser is reported anyway)."""
    if is_torch_namespace(xp):
        return contextlib.nullcontext()
    return np.errstate(divide="ignore", invalid="ignore", over="ignore")


def full_precision(xp, x):
    """Leave PyTorch's autocast for the features and sums (float32 at least)."""
    if not is_torch_namespace(xp):
        return contextlib.nullcontext()
    torch = sys.modules["torch"]
    return torch.autocast(array_device(x).type, enabled=False)


def sequence_statistics(X, keep, xp) -> SampleStatistics:
    """Statistics of each sequence of ``X`` (..., n, d), in the closed forms' dtype.

    Taken in ``X``'s dtype, centred (:ref:`math-statistics`), then cast: the
    sums are over ``n`` rows, the casts over ``d²`` numbers. ``keep``
    (..., n) leaves padded rows out.
    """
    if X.ndim == 2:
        # One sequence takes the batched route, not the samplers' host route.
        one = None if keep is None else keep[None, ...]
        stats = sequence_statistics(X[None, ...], one, xp)
        return SampleStatistics(stats.n_samples[0], stats.mean[0], stats.scatter[0])
    stats = SampleStatistics.from_array(X, mask=keep)
    wide = parameter_dtype(xp, array_device(X))
    parts = (stats.n_samples, stats.mean, stats.scatter)
    return SampleStatistics(*(xp.astype(part, wide) for part in parts))


def rows_statistics(query, key, keep, query_keep, scale, xp):
    """``AttentionStatistics.from_sequences`` of checked inputs, masks as given.

    Parameters
    ----------
    query, key : arrays of shapes (..., L, d) and (..., S, d)
    keep, query_keep : bool arrays that broadcast to (..., S) and (..., L), or None
        ``True`` for the rows to keep; None keeps every row (no rule picks the
        queries: the layer decides them, as for ``favor_heads``).
    scale : float or None
        The attention scale; ``None`` is ``1/√d``.
    xp : namespace

    Returns
    -------
    queries, keys : SampleStatistics
        In kernel units (:func:`kernel_factor`), in the closed forms' dtype:
        the statistics of the rows as given, then scaled (a pass over d²
        numbers in the closed forms' dtype, not over the rows).
    """
    factor = kernel_factor(scale, query.shape[-1])
    sides = []
    for x, mask in ((query, query_keep), (key, keep)):
        mask = None if mask is None else xp.broadcast_to(mask, x.shape[:-1])
        x = xp.astype(x, compute_dtype(x.dtype, xp), copy=False)
        sides.append(sequence_statistics(x, mask, xp).scaled(factor))
    return tuple(sides)
