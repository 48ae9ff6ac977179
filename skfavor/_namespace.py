"""The array namespace of the math: one lookup that ``torch.compile`` can trace.

Every module of the package obtains its namespace here, never from
``array_api_compat`` directly. For PyTorch tensors :func:`get_namespace`
returns :mod:`skfavor._torch_namespace`, plain ``torch`` calls under array-API
names, which ``torch.compile`` traces without a graph break (it skips
``array_api_compat``, which breaks the graph at every call). Any other input
gets ``array_api_compat``'s namespace, so the NumPy route is unchanged.
"""

from __future__ import annotations

import sys

import scipy.sparse as sp
from sklearn import get_config
from sklearn.externals.array_api_compat import (
    array_namespace,
    is_array_api_obj,
    is_dask_array,
    is_numpy_array,
)
from sklearn.externals.array_api_compat import device as _compat_device

__all__ = [
    "device",
    "get_namespace",
    "is_array",
    "is_torch_namespace",
    "refuse_array_api",
]


def _is_tensor(x) -> bool:
    # Only a tensor can exist if torch was imported: no import of torch here.
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def get_namespace(*arrays):
    """The array-API namespace of ``arrays``.

    Parameters
    ----------
    *arrays : arrays
        Of one namespace (NumPy arrays, PyTorch tensors, ...). Python scalars
        and None are ignored.

    Returns
    -------
    namespace
        :mod:`skfavor._torch_namespace` if any array is a PyTorch tensor, else
        ``array_api_compat``'s namespace of the arrays.

    Raises
    ------
    TypeError
        If the arrays are of several namespaces, or of none.
    """
    tensors = [_is_tensor(x) for x in arrays]
    if not any(tensors):
        return array_namespace(*arrays)
    for x, tensor in zip(arrays, tensors, strict=True):
        if not tensor and is_array_api_obj(x):
            raise TypeError(
                "Multiple namespaces for array inputs: PyTorch tensors and "
                f"{type(x).__name__}."
            )
    from . import _torch_namespace

    return _torch_namespace


def is_torch_namespace(xp) -> bool:
    """Whether ``xp`` is the namespace that :func:`get_namespace` gives tensors."""
    name = getattr(xp, "__name__", "")
    return name in ("skfavor._torch_namespace", "torch") or name.endswith(
        "array_api_compat.torch"
    )


def device(x):
    """The device of the array ``x`` (``x.device`` for a tensor)."""
    if _is_tensor(x):
        return x.device
    return _compat_device(x)


def is_array(x) -> bool:
    """Whether ``x`` is an array of some array-API namespace."""
    return _is_tensor(x) or is_array_api_obj(x)


def refuse_array_api(estimator, *arrays) -> None:
    """Refuse arrays of an array-API library other than NumPy under dispatch.

    With ``array_api_dispatch=True`` scikit-learn's checks leave such arrays
    as they are, and an estimator without an array-API route would fail
    later in a NumPy call, with a message about neither. NumPy arrays, sparse
    matrices, Dask arrays, lists and DataFrames pass; so does everything with
    dispatch off, where scikit-learn converts to NumPy.

    Raises
    ------
    TypeError
        Naming the estimator and the type of the first such array.
    """
    if not get_config()["array_api_dispatch"]:
        return
    for array in arrays:
        if (
            array is None
            or sp.issparse(array)
            or is_numpy_array(array)
            or is_dask_array(array)
            or not is_array(array)
        ):
            continue
        kind = type(array)
        raise TypeError(
            f"{type(estimator).__name__} takes NumPy arrays or SciPy sparse "
            f"matrices, not {kind.__module__}.{kind.__qualname__} (with "
            "array_api_dispatch=True it has no array-API route). Convert the "
            "inputs to NumPy, or turn array_api_dispatch off so that "
            "scikit-learn converts them; PositiveRFSampler, GERFSampler and "
            "DERFSampler take array-API inputs."
        )
