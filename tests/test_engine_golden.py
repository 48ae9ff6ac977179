"""Golden test: attention outputs stay those recorded from skfavor 0.2.0.

The numbers in ``tests/data/golden_attention.npz`` were recorded by
``tests/_golden_attention.py`` before the attention engine was restructured;
every refactoring must reproduce them to float tolerance.
"""

import numpy as np
import pytest
from _golden_attention import (
    PATH,
    functional_cases,
    layer_outputs,
    torch_functional_outputs,
)

from skfavor.attention import favor_attention

GOLDEN = np.load(PATH)


def _tolerance(dtype):
    return {"rtol": 1e-5, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-10}


@pytest.mark.parametrize(
    "name, args, kwargs", list(functional_cases()), ids=lambda c: str(c)[:40]
)
def test_favor_attention_matches_the_recorded_outputs(name, args, kwargs):
    out = favor_attention(*args, **kwargs)
    assert out.dtype == args[0].dtype
    np.testing.assert_allclose(out, GOLDEN[name], **_tolerance(out.dtype))


def test_favor_attention_on_tensors_matches_the_recorded_outputs():
    torch = pytest.importorskip("torch")
    for name, out in torch_functional_outputs(torch, favor_attention).items():
        np.testing.assert_allclose(out, GOLDEN[name], rtol=1e-5, atol=1e-6)


def test_layer_matches_the_recorded_outputs():
    torch = pytest.importorskip("torch")
    from skfavor.nn import FavorAttention

    outputs = layer_outputs(torch, FavorAttention, weights=GOLDEN)
    for name, out in outputs.items():
        np.testing.assert_allclose(
            out, GOLDEN[name], rtol=1e-5, atol=1e-6, err_msg=name
        )
