"""FavorAttention in place of torch.nn.MultiheadAttention (issue 16)."""

import copy
import inspect
import warnings

import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

from skfavor.nn import FavorAttention, replace_attention  # noqa: E402

E, H = 16, 2


def _layer(**kwargs):
    kwargs = {"n_features": 32, "random_state": 0, "batch_first": True, **kwargs}
    return FavorAttention(E, H, **kwargs)


def _inputs(shape=(2, 10, E), seed=0, dtype=torch.float32):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=generator, dtype=dtype)


def _padding(lengths, length):
    return torch.arange(length)[None, :] >= torch.tensor(lengths)[:, None]


def test_constructor_takes_multihead_attentions_positional_order():
    mha = inspect.signature(nn.MultiheadAttention).parameters
    favor = inspect.signature(FavorAttention).parameters
    assert list(favor)[: len(mha)] == list(mha)
    assert all(p.kind == p.KEYWORD_ONLY for p in list(favor.values())[len(mha) :])
    layer = FavorAttention(E, H, 0.25, False, False, False, 5, 3, False)
    assert (layer.dropout, layer.kdim, layer.vdim) == (0.25, 5, 3)
    assert layer.in_proj_bias is None and layer.out_proj.bias is None
    assert layer.batch_first is False
    forward = inspect.signature(nn.MultiheadAttention.forward).parameters
    assert list(inspect.signature(FavorAttention.forward).parameters) == list(forward)


def test_every_attribute_of_multihead_attention_is_there():
    # bias_k, bias_v and add_zero_attn were missing: code that reads them
    # (as PyTorch's own modules read in_proj_bias) raised AttributeError.
    mha = nn.MultiheadAttention(E, H, batch_first=True)
    layer = _layer()
    for name in vars(mha):
        if not name.startswith("__"):
            assert hasattr(layer, name), name
    assert (layer.bias_k, layer.bias_v, layer.add_zero_attn) == (None, None, False)


def test_batch_first_default_warns_and_stays_batch_first():
    with pytest.warns(FutureWarning, match="becomes False"):
        layer = FavorAttention(E, H, random_state=0)
    assert layer.batch_first is True
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        FavorAttention(E, H, batch_first=True)
        FavorAttention(E, H, batch_first=False)


@pytest.mark.parametrize("causal", [False, True])
def test_sequence_first_layout(causal):
    # batch_first=False takes and returns (L, N, E): the same attention per
    # sequence as the batch-first layer (0.2.0 attended across the batch).
    first = _layer(causal=causal)
    second = _layer(causal=causal, batch_first=False)
    second.load_state_dict(first.state_dict())
    x = _inputs((3, 10, E))
    mask = _padding([10, 6, 8], 10)
    expected, _ = first(x, x, x, key_padding_mask=mask)
    seq = x.transpose(0, 1)
    out, _ = second(seq, seq, seq, key_padding_mask=mask)
    assert out.shape == (10, 3, E)
    torch.testing.assert_close(out.transpose(0, 1), expected)
    with pytest.raises(ValueError, match=r"must have shape \(length, N, 16\)"):
        second(seq, seq[..., :5], seq)


@pytest.mark.parametrize("name", ["add_bias_kv", "add_zero_attn"])
def test_appended_keys_are_refused(name):
    with pytest.raises(ValueError, match=f"{name}=True is not supported"):
        FavorAttention(E, H, batch_first=True, **{name: True})
    mha = nn.MultiheadAttention(E, H, **{name: True})
    with pytest.raises(ValueError, match=f"{name}=True is not supported"):
        FavorAttention.from_multihead_attention(mha)


def test_need_weights_true_is_an_error_and_the_default_is_false():
    layer = _layer()
    x = _inputs()
    out, weights = layer(x, x, x)
    assert weights is None and out.shape == x.shape
    with pytest.raises(ValueError, match="need_weights=True is not supported"):
        layer(x, x, x, need_weights=True)
    # Accepted for MultiheadAttention's signature, with no weights to average.
    torch.testing.assert_close(layer(x, x, x, average_attn_weights=False)[0], out)


@pytest.mark.parametrize("kind", ["bool", "float", "batched", "hint"])
def test_causal_attn_mask_selects_causal_attention(kind):
    layer = _layer().eval()
    causal = _layer(causal=True).eval()
    causal.load_state_dict(layer.state_dict())
    x = _inputs()
    float_mask = nn.Transformer.generate_square_subsequent_mask(10)
    masks = {
        "bool": {"attn_mask": float_mask.isinf()},
        "float": {"attn_mask": float_mask},
        "batched": {"attn_mask": float_mask.expand(2 * H, -1, -1)},
        "hint": {"is_causal": True},
    }
    out, _ = layer(x, x, x, **masks[kind])
    torch.testing.assert_close(out, causal(x, x, x)[0], rtol=0, atol=0)
    assert not torch.allclose(out, layer(x, x, x)[0])
    # Strictly causal: later positions never change earlier outputs.
    changed = x.clone()
    changed[:, 6:] += 3.0
    moved, _ = layer(changed, changed, changed, **masks[kind])
    torch.testing.assert_close(moved[:, :6], out[:, :6], rtol=1e-6, atol=1e-7)


def test_other_attn_masks_are_refused():
    layer = _layer()
    x = _inputs()
    causal = nn.Transformer.generate_square_subsequent_mask(10)
    refused = [
        torch.zeros(10, 10),  # masks nothing: pass attn_mask=None
        causal.T,
        torch.where(causal.isinf(), causal, -1.0),  # an additive bias
        torch.rand(10, 10) > 0.5,
    ]
    for mask in refused:
        with pytest.raises(ValueError, match="linear attention cannot apply"):
            layer(x, x, x, attn_mask=mask)
    with pytest.raises(ValueError, match="linear attention cannot apply"):
        layer(x, x[:, :7], x[:, :7], attn_mask=causal[:, :7])
    with pytest.raises(ValueError, match="attn_mask must have shape"):
        layer(x, x, x, attn_mask=causal[:9, :9])
    # A 3-D mask is one per batch element and head, as MultiheadAttention
    # checks: (N, L, S) or another first dimension is refused.
    for n_masks in (2, 3, 2 * H + 1):
        with pytest.raises(
            ValueError, match=r"attn_mask must have shape.*\(4, 10, 10\)"
        ):
            layer(x, x, x, attn_mask=causal.expand(n_masks, -1, -1))
    unbatched = _inputs((10, E))
    with pytest.raises(ValueError, match=r"attn_mask must have shape.*\(2, 10, 10\)"):
        layer(unbatched, unbatched, unbatched, attn_mask=causal.expand(4, -1, -1))
    out, _ = layer(unbatched, unbatched, unbatched, attn_mask=causal.expand(H, -1, -1))
    assert out.shape == (10, E)
    with pytest.raises(ValueError, match="causal attention needs as many keys"):
        layer(x, x[:, :7], x[:, :7], is_causal=True)


def test_mask_values_off_the_host_are_checked_by_assert_async(monkeypatch):
    # On an accelerator or under torch.compile the values are not read on
    # the host: torch._assert_async raises (here at once, on the CPU).
    monkeypatch.setattr(torch.compiler, "is_compiling", lambda: True)
    layer = _layer().eval()
    x = _inputs()
    with pytest.raises(RuntimeError, match="linear attention cannot apply"):
        layer(x, x, x, attn_mask=torch.zeros(10, 10))
    with pytest.raises(RuntimeError, match="-inf or values <= -1e4 \\(padding\\) or 0"):
        layer(x, x, x, key_padding_mask=torch.ones(2, 10))
    mask = nn.Transformer.generate_square_subsequent_mask(10)
    torch.testing.assert_close(
        layer(x, x, x, attn_mask=mask)[0], layer(x, x, x, is_causal=True)[0]
    )


@pytest.mark.parametrize("causal", [False, True])
def test_float_key_padding_mask_as_multihead_attention_takes_it(causal):
    layer = _layer(causal=causal).eval()
    x = _inputs()
    mask = _padding([10, 6], 10)
    additive = torch.zeros(2, 10).masked_fill(mask, float("-inf"))
    torch.testing.assert_close(
        layer(x, x, x, key_padding_mask=additive)[0],
        layer(x, x, x, key_padding_mask=mask)[0],
        rtol=0,
        atol=0,
    )
    with pytest.raises(ValueError, match="must hold -inf"):
        layer(x, x, x, key_padding_mask=additive.masked_fill(~mask, -1.0))


@pytest.mark.parametrize("fill", [-1e9, torch.finfo(torch.float32).min, -1e4])
def test_large_negative_masks_mask_as_in_multihead_attention(fill):
    """Masks built with -1e9 or finfo.min (whose softmax weights are exactly 0
    in MultiheadAttention) mask as -inf does."""
    layer = _layer(causal=False).eval()
    x = _inputs()
    mask = _padding([10, 6], 10)
    additive = torch.zeros(2, 10).masked_fill(mask, fill)
    torch.testing.assert_close(
        layer(x, x, x, key_padding_mask=additive)[0],
        layer(x, x, x, key_padding_mask=mask)[0],
        rtol=0,
        atol=0,
    )
    causal = torch.zeros(10, 10).masked_fill(
        torch.ones(10, 10, dtype=torch.bool).triu(1), fill
    )
    torch.testing.assert_close(
        layer(x, x, x, attn_mask=causal)[0],
        layer(x, x, x, is_causal=True)[0],
        rtol=0,
        atol=0,
    )
    with pytest.raises(ValueError, match="must hold -inf"):
        layer(x, x, x, key_padding_mask=additive.masked_fill(~mask, -0.5e4))


def test_empty_batch_and_lengths_as_multihead_attention():
    torch.manual_seed(0)
    mha = nn.MultiheadAttention(E, H, batch_first=True)
    with torch.no_grad():
        mha.out_proj.bias.normal_()
    layer = FavorAttention.from_multihead_attention(mha, random_state=0)
    for q, kv in [((0, 4), (0, 5)), ((2, 0), (2, 5)), ((2, 4), (2, 0))]:
        query, key = torch.randn(*q, E), torch.randn(*kv, E)
        out, _ = layer(query, key, key)
        expected, _ = mha(query, key, key, need_weights=False)
        assert out.shape == expected.shape
        torch.testing.assert_close(out, expected)


def test_from_multihead_attention_copies_dimensions_and_weights():
    torch.manual_seed(0)
    mha = nn.MultiheadAttention(
        8, 2, dropout=0.2, bias=False, kdim=5, vdim=3, dtype=torch.float64
    ).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        layer = FavorAttention.from_multihead_attention(
            mha, feature_map="gerf", n_features=16
        )
    assert (layer.embed_dim, layer.num_heads, layer.kdim, layer.vdim) == (8, 2, 5, 3)
    assert layer.dropout == 0.2 and layer.batch_first is False
    assert layer.feature_map == "gerf" and not layer.training
    assert layer.in_proj_bias is None and layer.out_proj.bias is None
    for name, parameter in mha.named_parameters():
        assert torch.equal(dict(layer.named_parameters())[name], parameter), name
        assert dict(layer.named_parameters())[name].dtype == torch.float64
    with pytest.raises(TypeError, match="come from mha"):
        FavorAttention.from_multihead_attention(mha, embed_dim=8)
    with pytest.raises(TypeError, match=r"must be a torch\.nn\.MultiheadAttention"):
        FavorAttention.from_multihead_attention(layer)


def test_replace_attention_swaps_every_layer_in_place():
    model = nn.Transformer(
        E, H, 1, 1, dim_feedforward=32, dropout=0.0, batch_first=True
    )
    shared = nn.MultiheadAttention(E, H, batch_first=True)
    container = nn.ModuleDict({"a": shared, "b": nn.Sequential(shared), "m": model})
    assert replace_attention(container, n_features=16) is container
    assert not any(isinstance(m, nn.MultiheadAttention) for m in container.modules())
    assert container["a"] is container["b"][0]
    decoder = model.decoder.layers[0]
    assert decoder.self_attn.statistics is None
    assert decoder.multihead_attn.statistics == "running"
    assert model.encoder.use_nested_tensor is False
    swapped = replace_attention(nn.MultiheadAttention(E, H, batch_first=True))
    assert isinstance(swapped, FavorAttention)


def test_replace_attention_refuses_what_it_cannot_swap():
    # Not a module: a TypeError naming the argument, not an AttributeError.
    with pytest.raises(TypeError, match=r"module must be a torch\.nn\.Module, got 'x'"):
        replace_attention("x")
    # No MultiheadAttention (a Hugging Face model, a model swapped already):
    # nothing is replaced, and the call says so instead of returning silently.
    model = nn.Sequential(nn.Linear(E, E))
    with pytest.warns(UserWarning, match=r"holds no torch\.nn\.MultiheadAttention"):
        assert replace_attention(model, n_features=16) is model


def _trimmed_rows(out, lengths, run):
    """Assert ``out[i, :lengths[i]] == run(i)`` for each sequence."""
    for i, length in enumerate(lengths):
        torch.testing.assert_close(
            out[i : i + 1, :length], run(i), rtol=1e-5, atol=1e-5
        )


@pytest.mark.parametrize("batch_first", [True, False])
def test_swapped_encoder_layer_ignores_padding(batch_first):
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(
        E, H, dim_feedforward=32, dropout=0.0, batch_first=batch_first
    )
    layer = replace_attention(layer, n_features=32, random_state=0).eval()
    lengths = [10, 6]
    x = _inputs()
    x[1, 6:] = float("nan")  # padding is left out, NaN included
    mask = _padding(lengths, 10)

    def run(src, **kwargs):
        src = src if batch_first else src.transpose(0, 1)
        out = layer(src, **kwargs)
        return out if batch_first else out.transpose(0, 1)

    out = run(x, src_key_padding_mask=mask)
    _trimmed_rows(out, lengths, lambda i: run(x[i : i + 1, : lengths[i]]))


def _decoder_inputs():
    tgt, memory = _inputs((2, 7, E), seed=1), _inputs((2, 9, E), seed=2)
    tgt[1, 4:] = 1e3
    memory[1, 5:] = float("inf")
    return tgt, memory, [7, 4], [9, 5]


def test_swapped_decoder_layer_ignores_padding():
    torch.manual_seed(0)
    layer = nn.TransformerDecoderLayer(E, H, 32, dropout=0.0, batch_first=True)
    layer = replace_attention(layer, n_features=32, random_state=0).eval()
    tgt, memory, tgt_lengths, memory_lengths = _decoder_inputs()

    def run(t, m, **kwargs):
        mask = nn.Transformer.generate_square_subsequent_mask(t.shape[1])
        return layer(t, m, tgt_mask=mask, **kwargs)

    out = run(
        tgt,
        memory,
        tgt_key_padding_mask=_padding(tgt_lengths, 7),
        memory_key_padding_mask=_padding(memory_lengths, 9),
    )
    _trimmed_rows(
        out,
        tgt_lengths,
        lambda i: run(
            tgt[i : i + 1, : tgt_lengths[i]], memory[i : i + 1, : memory_lengths[i]]
        ),
    )


def _swapped_transformer():
    torch.manual_seed(0)
    model = nn.Transformer(
        E, H, 2, 2, dim_feedforward=32, dropout=0.0, batch_first=True
    )
    return replace_attention(model, n_features=32, random_state=0).eval()


def test_swapped_transformer_ignores_padding():
    model = _swapped_transformer()
    tgt, src, tgt_lengths, src_lengths = _decoder_inputs()
    src[1, 5:] = 1e3  # the encoder's self-attention sees src: finite garbage

    def run(s, t, **kwargs):
        mask = nn.Transformer.generate_square_subsequent_mask(t.shape[1])
        return model(s, t, tgt_mask=mask, **kwargs)

    src_mask = _padding(src_lengths, 9)
    out = run(
        src,
        tgt,
        src_key_padding_mask=src_mask,
        tgt_key_padding_mask=_padding(tgt_lengths, 7),
        memory_key_padding_mask=src_mask,
    )
    _trimmed_rows(
        out,
        tgt_lengths,
        lambda i: run(
            src[i : i + 1, : src_lengths[i]], tgt[i : i + 1, : tgt_lengths[i]]
        ),
    )


def test_swapped_transformer_decoder_is_strictly_causal():
    model = _swapped_transformer()
    src, tgt = _inputs((2, 9, E), seed=3), _inputs((2, 8, E), seed=4)
    mask = nn.Transformer.generate_square_subsequent_mask(8)
    out = model(src, tgt, tgt_mask=mask)
    for position in [7, 4, 1]:
        changed = tgt.clone()
        changed[:, position:] += 3.0
        moved = model(src, changed, tgt_mask=mask)
        torch.testing.assert_close(
            moved[:, :position], out[:, :position], rtol=1e-5, atol=1e-6
        )
        assert (moved[:, position] - out[:, position]).abs().max() > 1e-2


def _encoder_layer(heads=2):
    torch.manual_seed(0)
    return nn.TransformerEncoderLayer(
        E, heads, dim_feedforward=32, dropout=0.0, batch_first=True
    ).eval()


@pytest.mark.filterwarnings("ignore:The PyTorch API of nested tensors")
@pytest.mark.parametrize("stack", [False, True])
def test_encoder_inference_fast_path_is_never_taken(stack):
    # In eval under no_grad or inference_mode, TransformerEncoderLayer (and
    # TransformerEncoder's nested tensors) compute softmax attention from
    # in_proj_weight without calling the attention module.
    softmax = _encoder_layer()
    if stack:
        softmax = nn.TransformerEncoder(softmax, 2, enable_nested_tensor=True).eval()
    favor = replace_attention(copy.deepcopy(softmax), n_features=32, random_state=0)
    x = _inputs()
    mask = _padding([10, 6], 10)
    expected = favor(x, src_key_padding_mask=mask)
    with torch.no_grad():
        exact = softmax(x, src_key_padding_mask=mask)
        no_grad = favor(x, src_key_padding_mask=mask)
    with torch.inference_mode():
        inference = favor(x, src_key_padding_mask=mask)
    for out in (no_grad, inference):
        torch.testing.assert_close(out[:, :6], expected[:, :6], rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(out[0], expected[0], rtol=1e-6, atol=1e-6)
    assert (no_grad[:, :6] - exact[:, :6]).abs().max() > 1e-3


def test_cross_attention_with_padding_and_other_lengths():
    # nn.py expanded the key mask to the queries' shape: L != S crashed.
    layer = _layer().eval()
    q, kv = _inputs((2, 5, E), seed=1), _inputs((2, 9, E), seed=2)
    kv[1, 6:] = float("nan")
    mask = _padding([9, 6], 9)
    out, _ = layer(q, kv, kv, key_padding_mask=mask)
    alone, _ = layer(q[1:], kv[1:, :6], kv[1:, :6])
    torch.testing.assert_close(out[1:], alone, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("statistics", [None, "running"])
def test_cross_attention_of_equal_lengths_never_masks_the_queries(statistics):
    # With as many decoder positions as memory positions, the memory's padding
    # was taken for the queries': the real query at a padded memory position
    # was zeroed (output 0.18 off), as MultiheadAttention never does, and left
    # out of the running statistics in training.
    torch.manual_seed(0)
    layer = nn.TransformerDecoderLayer(E, H, 32, dropout=0.0, batch_first=True)
    layer = replace_attention(
        layer, n_features=32, random_state=0, statistics=statistics
    )
    tgt, memory = _inputs((2, 5, E), seed=1), _inputs((2, 5, E), seed=2)
    pad = _padding([4, 5], 5)
    longer = torch.cat([memory, _inputs((2, 1, E), seed=3)], 1)
    longer_pad = torch.cat([pad, torch.ones(2, 1, dtype=torch.bool)], 1)
    equal, other = copy.deepcopy(layer), copy.deepcopy(layer)
    out = equal(tgt, memory, memory_key_padding_mask=pad)
    expected = other(tgt, longer, memory_key_padding_mask=longer_pad)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)
    for name, value in other.state_dict().items():
        torch.testing.assert_close(
            equal.state_dict()[name], value, rtol=1e-6, atol=1e-7
        )
    equal.eval(), other.eval()
    with torch.no_grad():
        out = equal(tgt, memory, memory_key_padding_mask=pad)
        expected = other(tgt, longer, memory_key_padding_mask=longer_pad)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("statistics", [None, "running"])
def test_cross_attention_of_other_key_width_never_masks_the_queries(statistics):
    # kdim != embed_dim: the rows cannot be a copy of the queries, so no query
    # is padding, in the forward and in the running statistics' update.
    layer = FavorAttention(
        E, H, kdim=8, vdim=8, batch_first=True, n_features=32, random_state=0
    )
    layer.statistics = statistics
    tgt, memory = _inputs((2, 5, E), seed=1), _inputs((2, 5, 8), seed=2)
    pad = _padding([4, 5], 5)
    longer = torch.cat([memory, _inputs((2, 1, 8), seed=3)], 1)
    longer_pad = torch.cat([pad, torch.ones(2, 1, dtype=torch.bool)], 1)
    equal, other = copy.deepcopy(layer), copy.deepcopy(layer)
    out, _ = equal(tgt, memory, memory, key_padding_mask=pad)
    expected, _ = other(tgt, longer, longer, key_padding_mask=longer_pad)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)
    for name, value in other.state_dict().items():
        torch.testing.assert_close(
            equal.state_dict()[name], value, rtol=1e-6, atol=1e-7
        )


@pytest.mark.parametrize(
    "statistics, causal", [(None, False), ("running", False), (None, True)]
)
def test_padding_never_matters_whatever_the_tensor_objects(statistics, causal):
    # The query statistics left padding out only when `query is key`: with
    # x, x.clone(), x the real outputs changed (by up to 0.98) and training
    # wrote the padding into running_query_mean.
    layer = _layer(statistics=statistics, causal=causal)
    lengths = [10, 6]
    x = _inputs()
    x[1, 6:] = 1e3
    mask = _padding(lengths, 10)
    same, copied = copy.deepcopy(layer), copy.deepcopy(layer)
    out, _ = same(x, x, x, key_padding_mask=mask)
    other, _ = copied(x, x.clone(), x, key_padding_mask=mask)
    torch.testing.assert_close(other, out, rtol=0, atol=0)
    for name, value in same.state_dict().items():
        torch.testing.assert_close(copied.state_dict()[name], value, rtol=0, atol=0)
    for i, length in enumerate(lengths):
        part = x[i : i + 1, :length]
        alone, _ = copy.deepcopy(layer)(part, part.clone(), part)
        torch.testing.assert_close(out[i : i + 1, :length], alone, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("causal", [False, True])
def test_fully_padded_batch_leaves_the_running_statistics_unchanged(causal):
    layer = _layer(statistics="running", causal=causal).train()
    before = copy.deepcopy(layer.state_dict())
    x = _inputs()
    x[:] = float("nan")
    out, _ = layer(x, x, x, key_padding_mask=torch.ones(2, 10, dtype=torch.bool))
    assert torch.isfinite(out).all()
    for name, value in layer.state_dict().items():
        torch.testing.assert_close(value, before[name], rtol=0, atol=0)


@pytest.mark.parametrize("cast", ["half", "bfloat16", "double"])
def test_casting_keeps_directions_and_statistics_at_least_float32(cast):
    layer = _layer(statistics="running")
    x = _inputs()
    with torch.no_grad():
        layer(x, x, x)
    before = {name: copy.deepcopy(getattr(layer, name)) for name in _WIDE}
    expected, _ = layer.eval()(x, x, x)
    layer = layer.half() if cast == "half" else layer.to(getattr(torch, cast))
    dtype = {"half": torch.float16, "bfloat16": torch.bfloat16}.get(cast, torch.float64)
    assert layer.in_proj_weight.dtype == dtype
    for name, value in before.items():
        buffer = getattr(layer, name)
        assert buffer.dtype == (torch.float64 if cast == "double" else torch.float32)
        assert torch.equal(buffer.to(value.dtype), value), name
    out, _ = layer(*(x.to(dtype),) * 3)
    assert out.dtype == dtype and torch.isfinite(out).all()
    error = torch.linalg.norm(out.double() - expected.double()) / torch.linalg.norm(
        expected.double()
    )
    assert error < (1e-6 if cast == "double" else 0.05)


_WIDE = [
    "omega",
    "running_query_mean",
    "running_query_covariance",
    "running_key_mean",
    "running_key_covariance",
]


def test_causal_calls_with_batch_statistics_warn():
    layer = _layer(statistics="batch")
    x = _inputs()
    with pytest.warns(UserWarning, match="sees later"):
        layer(x, x, x, is_causal=True)


def test_decode_of_a_swapped_decoder_self_attention():
    # A layer that is causal per call decodes as its causal forward does.
    layer = _layer().train()
    with torch.no_grad():
        for seed in range(3):
            x = _inputs(seed=10 + seed)
            layer(x, x, x, is_causal=True)
    layer.eval()
    x = _inputs(seed=5)
    expected, _ = layer(x, x, x, is_causal=True)
    first, state = layer.decode(x[:, :4])
    second, _ = layer.decode(x[:, 4:], state)
    torch.testing.assert_close(
        torch.cat([first, second], 1), expected, rtol=1e-5, atol=1e-5
    )


def test_mask_checks_compile_in_one_graph():
    from skfavor._torch_masks import causal_mask_selects_causal, key_keep

    check = torch.compile(
        lambda attn, padding: (
            causal_mask_selects_causal(attn, False, 10, 10),
            key_keep(padding, (2, 10)),
        ),
        fullgraph=True,
        backend="eager",
    )
    causal = nn.Transformer.generate_square_subsequent_mask(10)
    padding = torch.zeros(2, 10).masked_fill(_padding([10, 6], 10), float("-inf"))
    selected, keep = check(causal, padding)
    assert selected and torch.equal(keep, ~_padding([10, 6], 10))
    with pytest.raises(RuntimeError, match="linear attention cannot apply"):
        check(torch.zeros(10, 10), padding)


@pytest.mark.parametrize("reentrant", [False, True])
def test_activation_checkpointing_runs_the_training_side_effects_once(reentrant):
    # torch.utils.checkpoint runs the forward again in backward: the layer
    # redrew ω and updated its running statistics a second time there, and
    # the recomputed forward used the new ω (gradients 34 % off).
    from torch.utils.checkpoint import checkpoint

    layer = _layer(causal=True, redraw_interval=1).train()
    layer(_inputs(seed=5), _inputs(seed=5), _inputs(seed=5))  # running != initial
    plain, checkpointed = copy.deepcopy(layer), copy.deepcopy(layer)
    x = _inputs(seed=1)

    def run(module, x):
        return module(x, x, x)[0]

    for module, call in (
        (plain, run),
        (
            checkpointed,
            lambda m, x: checkpoint(run, m, x, use_reentrant=reentrant),
        ),
    ):
        inputs = x.clone().requires_grad_(True)
        (call(module, inputs) ** 2).sum().backward()
        module.input_grad = inputs.grad
    torch.testing.assert_close(checkpointed.input_grad, plain.input_grad)
    for (name, parameter), other in zip(
        plain.named_parameters(), checkpointed.parameters(), strict=True
    ):
        torch.testing.assert_close(other.grad, parameter.grad, msg=name)
    for name, value in plain.state_dict().items():
        torch.testing.assert_close(checkpointed.state_dict()[name], value, msg=name)


@pytest.mark.filterwarnings("ignore:The PyTorch API of nested tensors")
def test_encoder_swapped_after_construction_takes_its_nested_tensors():
    # An encoder built with MultiheadAttention keeps use_nested_tensor; its
    # layers swapped by hand then received nested tensors in eval under
    # no_grad and raised "pass a padded tensor", which the caller had done.
    torch.manual_seed(0)
    encoder = nn.TransformerEncoder(_encoder_layer(), 2, enable_nested_tensor=True)
    encoder.eval()
    for layer in encoder.layers:
        layer.self_attn = FavorAttention.from_multihead_attention(
            layer.self_attn, n_features=32, random_state=0
        )
    assert encoder.use_nested_tensor
    x = _inputs()
    x[1, 6:] = float("nan")
    mask = _padding([10, 6], 10)
    expected = encoder(x, src_key_padding_mask=mask)  # with gradients: padded
    with torch.no_grad():
        out = encoder(x, src_key_padding_mask=mask)
    torch.testing.assert_close(out[0], expected[0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(out[1, :6], expected[1, :6], rtol=1e-5, atol=1e-6)
    assert torch.equal(out[1, 6:], torch.zeros(4, E))  # the nested path's fill
    nested = torch.nested.nested_tensor([x[0], x[1, :6]])
    with pytest.raises(ValueError, match=r"key_padding_mask=None.*nested=\[True, F"):
        encoder.layers[0].self_attn(nested, x, x)
    with pytest.raises(ValueError, match="query is key: False"):
        encoder.layers[0].self_attn(nested, nested.clone(), nested)


def test_layer_builds_under_a_meta_device_context():
    # As MultiheadAttention does (deferred initialisation): the seed of the
    # draws was read with .item() from a tensor made on the meta device.
    with torch.device("meta"):
        layer = FavorAttention(E, H, batch_first=True, n_features=8)
    assert layer.omega.device.type == "meta"
    assert layer.in_proj_weight.device.type == "meta"
    layer = layer.to_empty(device="cpu")
    assert layer.omega.shape == (8, E // H) and layer.redraw_seed.device.type == "cpu"


def test_causal_cross_attention_never_masks_the_queries():
    # A causal cross-attention (a decoder layer's memory_mask with
    # memory_is_causal) took the memory's padding for the queries': real
    # queries at padded memory positions were zeroed, their outputs 0.3 to
    # 0.6 off MultiheadAttention's.
    layer = _layer(statistics="running").eval()
    q, kv = _inputs(seed=1), _inputs(seed=2)
    mask = _padding([10, 6], 10)
    out, _ = layer(q, kv, kv, key_padding_mask=mask, is_causal=True)
    # Queries 6 to 9 of the second sequence see exactly keys 0 to 5.
    seen, _ = layer(q[1:, 6:], kv[1:, :6], kv[1:, :6])
    torch.testing.assert_close(out[1:, 6:], seen, rtol=1e-5, atol=1e-6)
