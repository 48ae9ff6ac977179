"""The backward of :func:`~skfavor._matrix_functions.symmetric_functions` in PyTorch.

Imported with :mod:`skfavor._torch_namespace`, whose ``symmetric_functions``
it is. The derivative of ``F(M) = Q diag(f(μ)) Qᵀ``, ``μ`` the (floored)
eigenvalues, is the Daleckii–Krein formula of :ref:`math-numerics`: it is
defined at repeated eigenvalues, where ``torch.linalg.eigh``'s own backward
divides by zero.
"""

from __future__ import annotations

import sys

import torch
from torch.autograd.function import once_differentiable

from ._matrix_functions import evaluate, floored
from ._namespace import get_namespace


def _onnx_export_flag() -> bool:
    """``torch.onnx.is_in_onnx_export()``, without importing ``torch.onnx``.

    An export has imported it; reaching for the attribute otherwise imports
    it (about a second).
    """
    onnx = sys.modules.get("torch.onnx")
    return onnx is not None and onnx.is_in_onnx_export()


#: The flag as a constant of a Dynamo trace (:func:`_in_onnx_export`).
_CONSTANT_FLAG: list = []


def _in_onnx_export() -> bool:
    """Whether ``torch.onnx.export`` runs, read under Dynamo too.

    Dynamo (torch.onnx's strict fallback, tried after the plain trace) reads
    the flag as False unless it is a constant of its trace; decorated with
    ``assume_constant_result``, ``torch.compile`` also reads it once, without
    a graph break. Decorating imports torch._dynamo (1.3 s at a layer's first
    forward), so it is done once, outside any trace, in a process that has
    imported torch._dynamo already, as an export does before its plain trace.
    """
    if not _CONSTANT_FLAG:
        # Not while Dynamo traces (is_compiling is also True in a plain
        # export trace, where decorating is fine and needed).
        tracing = torch.compiler.is_dynamo_compiling()
        if "torch._dynamo" not in sys.modules or tracing:
            return _onnx_export_flag()
        _CONSTANT_FLAG.append(torch.compiler.assume_constant_result(_onnx_export_flag))
    return _CONSTANT_FLAG[0]()


def symmetric_functions(M, functions, floor, gram):
    """:func:`~skfavor._matrix_functions.symmetric_functions` of a tensor.

    Through :class:`SymmetricFunctions` where ``M`` requires a gradient and
    autograd records, else the plain forward. Refused inside
    ``torch.onnx.export``: ONNX has no eigen-decomposition, and torch.onnx
    failed at its last step ("No ONNX function found for
    aten._linalg_eigh"), naming no remedy. Other ``torch.export`` targets
    may have one.
    """
    if _in_onnx_export():
        raise ValueError(
            "The DERF feature maps (feature_map='sderf', 'aderf', 'saderf') fit "
            "their parameters by an eigen-decomposition, which ONNX does not "
            "have, so they cannot be fitted inside an exported graph, and a "
            "model holding such a layer cannot be exported as a whole. Export "
            "the attention alone, a FavorAttention with statistics='running', "
            "through skfavor.integrations.onnx.exportable_attention (its maps "
            "are then constants of a graph of its own; the module does not "
            "take the layer's place in a model), or use feature_map='posrf' or "
            "'gerf'."
        )
    if M.requires_grad and torch.is_grad_enabled():
        eigenvalues, vectors, *matrices = SymmetricFunctions.apply(
            M, functions, floor, gram
        )
        return eigenvalues, vectors, matrices
    return evaluate(M, functions, floor, gram)


class SymmetricFunctions(torch.autograd.Function):
    """``(λ, Q, F_1, …, F_k)`` of ``M``; ``Q`` carries no gradient."""

    @staticmethod
    def forward(M, functions, floor, gram):
        eigenvalues, vectors, matrices = evaluate(M, functions, floor, gram)
        return (eigenvalues, vectors, *matrices)

    @staticmethod
    def setup_context(ctx, inputs, output):
        M, ctx.functions, ctx.floor, ctx.gram = inputs
        ctx.save_for_backward(output[0], output[1], M)
        ctx.mark_non_differentiable(output[1])

    @staticmethod
    @once_differentiable
    def backward(ctx, eigenvalue_gradient, _vectors, *gradients):
        eigenvalues, vectors, M = ctx.saved_tensors
        gradient = matrix_gradient(
            eigenvalues,
            vectors,
            ctx.functions,
            ctx.floor,
            gradients,
            eigenvalue_gradient,
        )
        if ctx.gram:
            # d(C Cᵀ) = dC Cᵀ + C dCᵀ and the gradient is symmetric.
            gradient = 2.0 * gradient @ M
        return gradient, None, None, None


def matrix_gradient(
    eigenvalues, vectors, functions, floor, gradients, eigenvalue_gradient
):
    """``dL/dM`` from the gradients ``G_k`` of the matrix functions and of ``λ``.

    ``dL/dM = Q (diag(dL/dλ) + Σ_k Γ_k ∘ (Qᵀ sym(G_k) Q)) Qᵀ``
    (:ref:`math-numerics`; the first term is ``eigh``'s own), plus,
    where the floor binds (``μ_i = floor · λ_max``), the dependence of the
    floored values on the largest eigenvalue, shared equally by the
    eigenvalues equal to it (as the gradient of a maximum is).
    """
    tolerance = torch.finfo(eigenvalues.dtype).eps ** (1.0 / 3.0)
    values = floored(eigenvalues, floor, get_namespace(eigenvalues))
    top = torch.amax(eigenvalues, dim=-1, keepdim=True)
    positive = (top > 0).to(eigenvalues.dtype)
    slope = torch.ones_like(eigenvalues)
    if floor is not None:
        slope = (eigenvalues >= floor * top).to(eigenvalues.dtype) * positive
    vectors_t = vectors.transpose(-2, -1)
    total = torch.diag_embed(eigenvalue_gradient)
    top_gradient = torch.zeros_like(top)
    for function, gradient in zip(functions, gradients, strict=True):
        if gradient is None:
            continue
        projected = (
            vectors_t @ (0.5 * (gradient + gradient.transpose(-2, -1))) @ vectors
        )
        derivative = function.derivative(values)
        total = total + projected * _divided_differences(
            function.value(values), derivative * slope, eigenvalues, tolerance
        )
        if floor is not None:
            diagonal = torch.diagonal(projected, dim1=-2, dim2=-1)
            floored_slope = derivative * (1.0 - slope) * positive
            top_gradient = top_gradient + floor * torch.sum(
                floored_slope * diagonal, dim=-1, keepdim=True
            )
    if floor is not None:
        at_top = (eigenvalues == top).to(eigenvalues.dtype)
        share = at_top / torch.sum(at_top, dim=-1, keepdim=True)
        total = total + torch.diag_embed(top_gradient * share)
    return vectors @ total @ vectors_t


def _divided_differences(f, derivative, eigenvalues, tolerance):
    """``Γ_ij = (f_i − f_j) / (λ_i − λ_j)``, ``f_i = f(μ_i)`` with ``μ`` floored.

    Where ``|λ_i − λ_j| ≤ tolerance · max(|λ_i|, |λ_j|)`` (``i = j``, ties)
    the difference would cancel: the mean of the two derivatives
    ``f'(μ) dμ/dλ`` is used, equal to the divided difference up to the square
    of the gap. ``tolerance = eps^⅓`` balances that against rounding.
    """
    gap = eigenvalues[..., :, None] - eigenvalues[..., None, :]
    size = torch.maximum(
        eigenvalues.abs()[..., :, None], eigenvalues.abs()[..., None, :]
    )
    close = gap.abs() <= tolerance * size
    divided = (f[..., :, None] - f[..., None, :]) / torch.where(
        close, torch.ones_like(gap), gap
    )
    mean_slope = 0.5 * (derivative[..., :, None] + derivative[..., None, :])
    return torch.where(close, mean_slope, divided)
