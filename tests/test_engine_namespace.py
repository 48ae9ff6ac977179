"""skfavor._namespace: tensors get plain torch calls that agree with the array API."""

import numpy as np
import pytest
from sklearn.externals.array_api_compat import array_namespace

from skfavor._namespace import device, get_namespace, is_array, is_torch_namespace

torch = pytest.importorskip("torch")


def test_numpy_keeps_array_api_compat_namespace():
    x = np.ones(3)
    assert get_namespace(x) is array_namespace(x)
    assert not is_torch_namespace(get_namespace(x))
    assert is_array(x) and not is_array([1.0])


def test_tensors_get_the_traceable_namespace_and_mixtures_are_refused():
    x = torch.ones(3)
    xp = get_namespace(x, None, 1.0)
    assert xp.__name__ == "skfavor._torch_namespace"
    assert is_torch_namespace(xp)
    assert device(x) == x.device
    with pytest.raises(TypeError, match="Multiple namespaces"):
        get_namespace(x, np.ones(3))


def _same(ours, reference):
    if isinstance(reference, tuple):
        for a, b in zip(ours, reference, strict=True):
            _same(a, b)
        return
    torch.testing.assert_close(ours, reference, rtol=0, atol=0)


def test_every_function_agrees_with_array_api_compat():
    x = torch.randn(2, 3, 4, generator=torch.Generator().manual_seed(0))
    xp, ref = get_namespace(x), array_namespace(x)
    spd = x[0].mT @ x[0] + torch.eye(4)
    calls = [
        ("sum", (x,), {"axis": (-2, -1), "keepdims": True}),
        ("sum", (x,), {}),
        ("mean", (x,), {"axis": -2}),
        ("max", (x,), {"axis": (-2, -1), "keepdims": True}),
        ("max", (x,), {"axis": -1}),
        ("all", (x > -10,), {"axis": (-2, -1)}),
        ("any", (x > 1,), {"axis": -1}),
        ("where", (x > 0, x, torch.zeros_like(x)), {}),
        ("matrix_transpose", (x,), {}),
        ("astype", (x, torch.float64), {}),
        ("concat", ((x, x),), {"axis": -1}),
        ("exp", (x,), {}),
        ("log1p", (x.abs(),), {}),
        ("sqrt", (x.abs(),), {}),
        ("maximum", (x, torch.zeros_like(x)), {}),
        ("reshape", (x, (6, 4)), {}),
        ("broadcast_to", (x[:, :1], (2, 3, 4)), {}),
        ("eye", (3,), {"dtype": torch.float64}),
        ("arange", (5,), {}),
        ("zeros", ((2, 3),), {"dtype": torch.float32}),
        ("ones", ((2, 3),), {"dtype": torch.float32}),
        ("asarray", ([1.0, 2.0],), {"dtype": torch.float64}),
    ]
    for name, args, kwargs in calls:
        _same(getattr(xp, name)(*args, **kwargs), getattr(ref, name)(*args, **kwargs))
    _same(xp.linalg.diagonal(x), ref.linalg.diagonal(x))
    _same(tuple(xp.linalg.eigh(spd)), tuple(ref.linalg.eigh(spd)))
    _same(
        tuple(xp.linalg.svd(spd, full_matrices=False)),
        tuple(ref.linalg.svd(spd, full_matrices=False)),
    )
    assert xp.result_type(x, torch.ones(1, dtype=torch.float64)) == torch.float64
    assert xp.finfo(torch.float32).bits == 32
    for dtype, kind in [
        (torch.float32, "real floating"),
        (torch.bool, "bool"),
        (torch.int64, "integral"),
        (torch.complex64, "complex floating"),
    ]:
        assert xp.isdtype(dtype, kind) and ref.isdtype(dtype, kind)
        assert xp.isdtype(dtype, ("bool", kind))
    assert not xp.isdtype(torch.int32, "real floating")
    assert xp.inf == float("inf") and xp.float64 is torch.float64


def test_astype_copies_unless_told_not_to():
    x = torch.ones(3)
    xp = get_namespace(x)
    assert xp.astype(x, torch.float32) is not x
    assert xp.astype(x, torch.float32, copy=False) is x
