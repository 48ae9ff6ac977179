"""torch.compile: the layer and the engine trace into one graph, as eager computes."""

import copy
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from skfavor.attention import favor_heads  # noqa: E402
from skfavor.nn import FavorAttention  # noqa: E402

FAMILIES = ["posrf", "gerf", "sderf", "aderf", "saderf"]


def _layer(family, causal, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return FavorAttention(
            16,
            2,
            feature_map=family,
            causal=causal,
            n_features=8,
            random_state=0,
            **kwargs,
        )


def _inputs(seed=0, shape=(2, 10, 16)):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def _padding():
    mask = torch.zeros(2, 10, dtype=torch.bool)
    mask[1, 7:] = True
    return mask


def test_layer_with_dropout_and_padding_is_one_graph():
    torch._dynamo.reset()
    layer = _layer("aderf", True, dropout=0.1).train()
    x = _inputs()
    explanation = torch._dynamo.explain(layer)(x, x, x, key_padding_mask=_padding())
    assert explanation.graph_break_count == 0, explanation.break_reasons
    assert explanation.graph_count == 1


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("family", FAMILIES)
def test_compiled_layer_equals_eager(family, causal, training):
    # fullgraph=True fails on any graph break.
    torch._dynamo.reset()
    eager = _layer(family, causal).train(training)
    compiled_layer = copy.deepcopy(eager)
    compiled = torch.compile(compiled_layer, fullgraph=True, backend="aot_eager")
    x, mask = _inputs(), _padding()
    for seed in (1, 2):
        y = _inputs(seed)
        expected = eager(y, x, x, key_padding_mask=mask)[0]
        out = compiled(y, x, x, key_padding_mask=mask)[0]
        torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)
    for name, buffer in eager.named_buffers():
        torch.testing.assert_close(dict(compiled_layer.named_buffers())[name], buffer)


def test_compiled_backward_equals_eager():
    torch._dynamo.reset()
    eager = _layer("sderf", False)
    compiled_layer = copy.deepcopy(eager)
    compiled = torch.compile(compiled_layer, fullgraph=True, backend="aot_eager")
    x = _inputs()
    eager(x, x, x)[0].square().sum().backward()
    compiled(x, x, x)[0].square().sum().backward()
    torch.testing.assert_close(
        compiled_layer.in_proj_weight.grad, eager.in_proj_weight.grad
    )


def test_compiled_decode_has_no_graph_break():
    torch._dynamo.reset()
    layer = _layer("sderf", True).eval()
    x = _inputs()
    _, state = layer.decode(x[:, :4])
    explanation = torch._dynamo.explain(layer.decode)(x[:, 4:], state)
    assert explanation.graph_break_count == 0, explanation.break_reasons


@pytest.mark.parametrize("causal", [False, True])
def test_engine_compiles_with_fullgraph(causal):
    torch._dynamo.reset()
    q, k, v = (_inputs(seed, (2, 3, 9, 4)) for seed in range(3))
    omega = torch.from_numpy(np.random.default_rng(0).normal(size=(8, 4)))
    keep = torch.ones(2, 1, 9, dtype=torch.bool)
    keep[0, 0, 6:] = False

    def engine(q, k, v):
        return favor_heads(
            q,
            k,
            v,
            omega,
            family="aderf",
            causal=causal,
            keep=keep,
            output_final_state=True,
        )

    expected, expected_state = engine(q, k, v)
    out, state = torch.compile(engine, fullgraph=True, backend="aot_eager")(q, k, v)
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(state.sums, expected_state.sums)


def test_compiled_layer_still_reports_non_finite_outputs():
    torch._dynamo.reset()
    layer = torch.compile(_layer("sderf", False), fullgraph=True, backend="aot_eager")
    x = _inputs()
    x[0, 3] = float("nan")
    with pytest.raises(RuntimeError, match="NaN or infinite"):
        layer(x, x, x)


@pytest.mark.slow
def test_inductor_compiled_layer_equals_eager():
    torch._dynamo.reset()
    eager = _layer("sderf", False).eval()
    compiled = torch.compile(copy.deepcopy(eager), fullgraph=True)
    x = _inputs()
    torch.testing.assert_close(compiled(x, x, x)[0], eager(x, x, x)[0])


@pytest.mark.parametrize("causal", [False, True])
def test_function_with_fixed_directions_compiles_with_fullgraph(causal):
    """favor_attention on tensors with omega (and, causal, outside statistics)
    traces into one graph: the random state is resolved only for a draw."""
    from skfavor.attention import AttentionStatistics, favor_attention

    q, k, v = (_inputs(seed, (2, 2, 10, 8)) for seed in range(3))
    omega = _inputs(3, (16, 8))
    statistics = AttentionStatistics.from_sequences(q, k) if causal else None

    def attend(q, k, v):
        return favor_attention(
            q, k, v, omega=omega, statistics=statistics, causal=causal
        )

    torch.testing.assert_close(
        torch.compile(attend, backend="eager", fullgraph=True)(q, k, v),
        attend(q, k, v),
    )
    with pytest.raises(ValueError, match="random_state must be"):
        favor_attention(q, k, v, omega=omega, random_state="seed")
