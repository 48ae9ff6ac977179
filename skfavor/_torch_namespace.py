"""Plain ``torch`` calls under the array-API names that the package uses.

Returned by :func:`skfavor._namespace.get_namespace` for tensors. Each function
is one call into ``torch`` with the array API's signature, so that
``torch.compile`` traces the package's math without a graph break. Importing
this module imports PyTorch; only :func:`~skfavor._namespace.get_namespace`
imports it, once a tensor is seen.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import torch

from ._torch_matrix_functions import symmetric_functions  # noqa: F401

bool = torch.bool
float16 = torch.float16
bfloat16 = torch.bfloat16
float32 = torch.float32
float64 = torch.float64
int32 = torch.int32
int64 = torch.int64
inf = math.inf
nan = math.nan
pi = math.pi
finfo = torch.finfo
exp = torch.exp
log = torch.log
log1p = torch.log1p
sqrt = torch.sqrt
isfinite = torch.isfinite
maximum = torch.maximum
minimum = torch.minimum
broadcast_to = torch.broadcast_to
reshape = torch.reshape
matmul = torch.matmul
zeros_like = torch.zeros_like
ones_like = torch.ones_like
abs = torch.abs


def _dims(axis):
    return tuple(axis) if isinstance(axis, tuple | list) else axis


def sum(x, /, *, axis=None, dtype=None, keepdims=False):
    if axis is None:
        out = torch.sum(x, dtype=dtype)
        return out.reshape((1,) * x.ndim) if keepdims else out
    return torch.sum(x, dim=_dims(axis), keepdim=keepdims, dtype=dtype)


def mean(x, /, *, axis=None, keepdims=False):
    if axis is None:
        out = torch.mean(x)
        return out.reshape((1,) * x.ndim) if keepdims else out
    return torch.mean(x, dim=_dims(axis), keepdim=keepdims)


def max(x, /, *, axis=None, keepdims=False):
    if axis is None:
        out = torch.amax(x)
        return out.reshape((1,) * x.ndim) if keepdims else out
    return torch.amax(x, dim=_dims(axis), keepdim=keepdims)


def all(x, /, *, axis=None, keepdims=False):
    if axis is None:
        out = torch.all(x)
        return out.reshape((1,) * x.ndim) if keepdims else out
    return torch.all(x, dim=_dims(axis), keepdim=keepdims)


def any(x, /, *, axis=None, keepdims=False):
    if axis is None:
        out = torch.any(x)
        return out.reshape((1,) * x.ndim) if keepdims else out
    return torch.any(x, dim=_dims(axis), keepdim=keepdims)


def where(condition, x1, x2, /):
    return torch.where(condition, x1, x2)


def matrix_transpose(x, /):
    return x.mT


def astype(x, dtype, /, *, copy=True, device=None):
    out = x.to(dtype=dtype, device=device)
    return out.clone() if copy and out is x else out


def asarray(obj, /, *, dtype=None, device=None, copy=None):
    return torch.as_tensor(obj, dtype=dtype, device=device)


def concat(arrays, /, *, axis=0):
    return torch.cat(tuple(arrays), dim=axis)


def zeros(shape, *, dtype=None, device=None):
    return torch.zeros(shape, dtype=dtype, device=device)


def ones(shape, *, dtype=None, device=None):
    return torch.ones(shape, dtype=dtype, device=device)


def full(shape, fill_value, *, dtype=None, device=None):
    return torch.full(shape, fill_value, dtype=dtype, device=device)


def eye(n_rows, n_cols=None, /, *, dtype=None, device=None):
    n_cols = n_rows if n_cols is None else n_cols
    return torch.eye(n_rows, n_cols, dtype=dtype, device=device)


def arange(start, /, stop=None, step=1, *, dtype=None, device=None):
    if stop is None:
        start, stop = 0, start
    return torch.arange(start, stop, step, dtype=dtype, device=device)


def result_type(*arrays_and_dtypes):
    dtypes = [x if isinstance(x, torch.dtype) else x.dtype for x in arrays_and_dtypes]
    out = dtypes[0]
    for dtype in dtypes[1:]:
        out = torch.promote_types(out, dtype)
    return out


_KINDS = {
    "bool": lambda dtype: dtype == torch.bool,
    "real floating": lambda dtype: dtype.is_floating_point,
    "complex floating": lambda dtype: dtype.is_complex,
    "numeric": lambda dtype: dtype != torch.bool,
    "signed integer": lambda dtype: (
        not dtype.is_floating_point and not dtype.is_complex and dtype.is_signed
    ),
    "unsigned integer": lambda dtype: dtype in (torch.uint8,),
    "integral": lambda dtype: (
        dtype != torch.bool and not dtype.is_floating_point and not dtype.is_complex
    ),
}


def isdtype(dtype, kind) -> bool:
    if isinstance(kind, tuple):
        return _any_true(isdtype(dtype, k) for k in kind)
    if isinstance(kind, torch.dtype):
        return dtype == kind
    return _KINDS[kind](dtype)


def _any_true(values) -> bool:
    for value in values:
        if value:
            return True
    return False


def _diagonal(x, /, *, offset=0):
    return torch.diagonal(x, offset=offset, dim1=-2, dim2=-1)


def _svd(x, /, *, full_matrices=True):
    return torch.linalg.svd(x, full_matrices=full_matrices)


linalg = SimpleNamespace(diagonal=_diagonal, eigh=torch.linalg.eigh, svd=_svd)
