"""skfavor.nn.FavorAttention: a FAVOR# layer in place of MultiheadAttention."""

import copy
import subprocess
import sys

import numpy as np
import pytest
from sklearn.utils import check_random_state

torch = pytest.importorskip("torch")

from skfavor._sampling import draw_weights  # noqa: E402
from skfavor._statistics import SampleStatistics  # noqa: E402
from skfavor.attention import favor_attention, softmax_attention  # noqa: E402
from skfavor.nn import FavorAttention, FavorDecodingState  # noqa: E402

FAMILIES = ["posrf", "gerf", "sderf", "aderf", "saderf"]
FITTED = ["gerf", "sderf", "aderf", "saderf"]


def _layer(family="sderf", causal=False, **kwargs):
    kwargs = {"n_features": 16, "random_state": 0, "batch_first": True, **kwargs}
    return FavorAttention(8, 2, feature_map=family, causal=causal, **kwargs)


def _inputs(shape=(2, 12, 8), seed=0, dtype=torch.float32, scale=1.0):
    generator = torch.Generator().manual_seed(seed)
    return scale * torch.randn(shape, generator=generator, dtype=dtype)


def _trained(layer, n_steps=3, seed=10):
    """``layer`` after a few training forwards (running statistics updated)."""
    layer.train()
    with torch.no_grad():
        for step in range(n_steps):
            x = _inputs(seed=seed + step, dtype=layer.in_proj_weight.dtype)
            layer(x, x, x)
    return layer


class _HostTransfer(AssertionError):
    pass


@pytest.fixture
def no_host_transfer(monkeypatch):
    """Every device-to-host path of a tensor raises.

    ``bool(t)``, ``float(t)`` and ``int(t)`` read the value in C++ without
    calling the Python ``.item``, so they are patched too, as is ``.cpu()``.
    """

    def refuse(*args, **kwargs):
        raise _HostTransfer("device-to-host transfer")

    for name in [
        "numpy",
        "tolist",
        "item",
        "__array__",
        "__bool__",
        "__float__",
        "__int__",
        "cpu",
    ]:
        monkeypatch.setattr(torch.Tensor, name, refuse)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("family", FAMILIES)
def test_no_host_transfer_in_forward_and_backward(family, causal, request):
    layers = [
        _layer(family, causal, statistics=statistics, parameter_grad=grad)
        for statistics, grad in [("batch", True), ("batch", False), ("running", False)]
        if not (causal and statistics == "batch" and family != "posrf")
    ]
    x = _inputs().requires_grad_()
    mask = torch.zeros(2, 12, dtype=torch.bool)
    mask[1, 9:] = True
    request.getfixturevalue("no_host_transfer")
    for read in [torch.Tensor.item, bool, float]:
        with pytest.raises(_HostTransfer):
            read(x[0, 0, 0])
    for layer in layers:
        for training in [True, False]:
            layer.train(training)
            out, _ = layer(x, x, x, key_padding_mask=mask)
            out.square().sum().backward()
    if causal:
        layer = layers[-1].eval()
        _, state = layer.decode(x[:, :5].detach())
        layer.decode(x[:, 5:6].detach(), state)
    functional = favor_attention(
        x[:, :, :4],
        x[:, :, 4:],
        x,
        feature_map=family,
        causal=causal,
        n_features=8,
        random_state=0,
        key_padding_mask=mask,
    )
    functional.sum().backward()
    assert x.grad is not None


def test_importing_skfavor_does_not_import_torch():
    code = (
        "import sys, skfavor, skfavor.attention; "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_forward_imports_neither_dynamo_nor_onnx():
    # 8522652 made the ONNX-export flag of the DERF fit a Dynamo constant at
    # import and read it through torch.onnx: each import costs about a second,
    # and the layer's first forward took 1.3 s instead of 7 ms (7394cbd).
    code = (
        "import sys, torch; from skfavor.nn import FavorAttention; "
        "x = torch.randn(2, 6, 8); "
        "layer = FavorAttention(8, 2, batch_first=True, feature_map='sderf'); "
        "layer(x, x, x)[0].sum().backward(); layer.eval()(x, x, x); "
        "late = [m for m in ('torch._dynamo', 'torch.onnx') if m in sys.modules]; "
        "assert not late, late"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_multihead_attention_names_shapes_and_uptraining():
    torch.manual_seed(0)
    mha = torch.nn.MultiheadAttention(16, 2, batch_first=True)
    layer = FavorAttention(16, 2, batch_first=True, n_features=512, random_state=0)
    names = dict(mha.named_parameters())
    assert dict(layer.named_parameters()).keys() == names.keys()
    for name, parameter in layer.named_parameters():
        assert parameter.shape == names[name].shape, name
    result = layer.load_state_dict(mha.state_dict(), strict=False)
    assert not result.unexpected_keys
    assert set(result.missing_keys) == {
        "omega",
        "num_batches_tracked",
        "redraw_seed",
        "n_redraws",
        "calls_since_redraw",
        *(f"running_{s}_{m}" for s in ["query", "key"] for m in ["mean", "covariance"]),
    }
    x = _inputs((3, 40, 16), scale=0.7)
    out, weights = layer(x, x, x)
    expected, _ = mha(x, x, x, need_weights=False)
    assert weights is None and out.shape == expected.shape
    # The outputs differ only by the Monte Carlo error of 512 features, a few
    # percent here (measured 0.02-0.04 over seeds); an unrelated layer differs by
    # about 100 %.
    error = torch.linalg.norm(out - expected) / torch.linalg.norm(expected)
    assert error < 0.1
    unbatched, _ = layer(x[0], x[0], x[0])
    torch.testing.assert_close(unbatched, out[0], rtol=1e-5, atol=1e-6)


def test_separate_projections_when_kdim_or_vdim_differ():
    torch.manual_seed(0)
    mha = torch.nn.MultiheadAttention(8, 2, kdim=5, vdim=3, batch_first=True)
    layer = FavorAttention(
        8, 2, kdim=5, vdim=3, batch_first=True, n_features=512, random_state=0
    )
    assert layer.in_proj_weight is None
    assert dict(layer.named_parameters()).keys() == dict(mha.named_parameters()).keys()
    layer.load_state_dict(mha.state_dict(), strict=False)
    q, k, v = _inputs((2, 6, 8)), _inputs((2, 9, 5), 1), _inputs((2, 9, 3), 2)
    out, _ = layer(q, k, v)
    expected, _ = mha(q, k, v)
    assert torch.linalg.norm(out - expected) < 0.1 * torch.linalg.norm(expected)


def test_need_weights_is_a_clear_error():
    x = _inputs()
    with pytest.raises(ValueError, match="need_weights=True is not supported"):
        _layer()(x, x, x, need_weights=True)


def test_statistics_defaults_and_causal_batch_warning():
    # None decides per call: batch statistics for bidirectional calls,
    # running statistics for causal ones.
    assert _layer().statistics is None
    assert _layer(causal=True).statistics is None
    with pytest.warns(UserWarning, match="sees later positions"):
        _layer(causal=True, statistics="batch")


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("family", FAMILIES)
def test_causal_running_statistics_are_strictly_causal(family, training):
    layer = _layer(family, causal=True, n_features=32, dtype=torch.float64)
    layer = _trained(layer).train(training)
    x = _inputs((2, 150, 8), dtype=torch.float64)
    changed = x.clone()
    changed[:, 140:] += 3.0
    # Fresh copies: a training forward updates the running statistics.
    out, _ = copy.deepcopy(layer)(x, x, x)
    moved, _ = copy.deepcopy(layer)(changed, changed, changed)
    # Bitwise equal in the first block of 128 positions; in the block that
    # holds the change, the stabilising maximum of the block's key features
    # (which cancels in the ratio) moves the rounding only. A leak through
    # the fitted parameters changes outputs by percents.
    torch.testing.assert_close(moved[:, :128], out[:, :128], rtol=0, atol=0)
    torch.testing.assert_close(moved[:, :140], out[:, :140], rtol=1e-12, atol=1e-14)
    assert not torch.allclose(moved[:, 140:], out[:, 140:])


def test_batch_statistics_see_the_future_in_causal_mode():
    # Why running statistics are the default for causal attention.
    with pytest.warns(UserWarning):
        layer = _layer("sderf", causal=True, statistics="batch")
    x = _inputs((1, 20, 8))
    changed = x.clone()
    changed[:, 15:] += 3.0
    assert not torch.allclose(
        layer(changed, changed, changed)[0][:, :15], layer(x, x, x)[0][:, :15]
    )


@pytest.mark.parametrize("family", FAMILIES)
def test_decode_equals_the_causal_forward(family):
    layer = _trained(_layer(family, causal=True, n_features=32)).eval()
    x = _inputs((2, 140, 8), seed=3)
    expected, _ = layer(x, x, x)
    pieces, state = [], None
    # One token at a time, then a block across the forward's 128-position block.
    for start, stop in [(0, 1), (1, 2), (2, 5), (5, 133), (133, 140)]:
        out, state = layer.decode(x[:, start:stop], state)
        pieces.append(out)
    assert isinstance(state, FavorDecodingState)
    assert state.sums.shape == (2, 2, 32, 5)
    torch.testing.assert_close(torch.cat(pieces, dim=1), expected, rtol=1e-5, atol=1e-5)


def test_decode_needs_fixed_parameters():
    with pytest.raises(ValueError, match="decode needs running statistics"):
        _layer(statistics="batch").decode(_inputs())


def test_decode_checks_its_state_and_positions():
    # A state continues the sequences of one batch, from a layer of the same
    # heads and features; a step holds at least one position.
    layer = _layer("posrf", causal=True, n_features=32).eval()
    _, state = layer.decode(_inputs((3, 4, 8)))
    with pytest.raises(ValueError, match=r"state.*3 sequences.*got 2"):
        layer.decode(_inputs((2, 1, 8)), state)
    other = _layer("posrf", causal=True, n_features=16).eval()
    with pytest.raises(ValueError, match=r"state.*16 features"):
        layer.decode(_inputs((3, 1, 8)), other.decode(_inputs((3, 4, 8)))[1])
    with pytest.raises(ValueError, match="at least one position"):
        layer.decode(_inputs((3, 0, 8)), state)


@pytest.mark.parametrize(
    "causal, statistics", [(False, "batch"), (False, "running"), (True, "running")]
)
@pytest.mark.parametrize("family", FAMILIES)
def test_padding_equals_the_unpadded_sequence(family, causal, statistics):
    layer = _layer(family, causal, statistics=statistics)
    lengths = [12, 7]
    x = _inputs((2, 12, 8))
    x[1, 7:] = 1e3  # garbage that would dominate any statistic it entered
    mask = torch.arange(12)[None, :] >= torch.tensor(lengths)[:, None]
    padded = copy.deepcopy(layer)
    out, _ = padded(x, x, x, key_padding_mask=mask)
    for i, length in enumerate(lengths):
        alone_layer = copy.deepcopy(layer)
        alone, _ = alone_layer(*(x[i : i + 1, :length],) * 3)
        torch.testing.assert_close(out[i : i + 1, :length], alone, rtol=1e-5, atol=1e-6)
    if statistics == "running":
        # The running statistics saw the 19 real positions only.
        valid = torch.cat([x[0], x[1, :7]])[None].expand(2, -1, -1)
        reference = copy.deepcopy(layer)
        reference(valid[:1], valid[:1], valid[:1])
        for name in ["running_query_mean", "running_key_covariance"]:
            torch.testing.assert_close(
                getattr(padded, name), getattr(reference, name), rtol=1e-5, atol=1e-6
            )


def test_functional_padding_equals_the_unpadded_sequence():
    rng = np.random.default_rng(0)
    q, k, v = rng.normal(scale=0.5, size=(3, 2, 10, 4))
    k[1, 6:] = 1e3
    mask = np.zeros((2, 10), dtype=bool)
    mask[1, 6:] = True
    out = favor_attention(q, k, v, key_padding_mask=mask, random_state=0)
    # L == S: the mask marks padded queries too (favor_attention's rule).
    alone = favor_attention(q[1, :6], k[1, :6], v[1, :6], random_state=0)
    np.testing.assert_allclose(out[1, :6], alone, rtol=1e-12)
    tensors = [torch.from_numpy(a) for a in (q, k, v)]
    out_torch = favor_attention(
        *tensors, key_padding_mask=torch.from_numpy(mask), random_state=0
    )
    np.testing.assert_allclose(out_torch.numpy(), out, rtol=1e-10)
    with pytest.raises(
        ValueError, match="key_padding_mask must have a shape that broadcasts to"
    ):
        favor_attention(q, k, v, key_padding_mask=mask[:, :5])
    with pytest.raises(TypeError, match="key_padding_mask must be a boolean"):
        favor_attention(q, k, v, key_padding_mask=mask.astype(float))


def test_running_statistics_are_an_exponential_moving_average():
    layer = _layer(momentum=0.25, statistics="running").train()
    batches = [_inputs((2, 12, 8), seed=s) for s in range(2)]
    moments = []
    for x in batches:
        with torch.no_grad():
            layer(x, x, x)
        q = layer.in_projection(x, x, x)[0].reshape(2, 12, 2, 4).transpose(1, 2)
        rows = (q * 4**-0.25).transpose(0, 1).reshape(2, 24, 4).double()
        stats = SampleStatistics.from_array(rows)
        moments.append((stats.mean, stats.second_moment()))
    weight = 0.25
    mean = (1 - weight) * moments[0][0] + weight * moments[1][0]
    second = (1 - weight) * moments[0][1] + weight * moments[1][1]
    running = SampleStatistics(
        torch.ones(2, dtype=torch.float64),
        layer.running_query_mean.double(),
        layer.running_query_covariance.double(),
    )
    torch.testing.assert_close(running.mean, mean, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(running.second_moment(), second, rtol=1e-5, atol=1e-6)
    assert int(layer.num_batches_tracked) == 2
    layer.eval()
    frozen = copy.deepcopy(layer.state_dict())
    with torch.no_grad():
        layer(batches[0], batches[0], batches[0])
    for name, value in layer.state_dict().items():
        torch.testing.assert_close(value, frozen[name], rtol=0, atol=0)


@pytest.mark.parametrize("family", FITTED)
def test_parameter_grad_lets_gradients_through_the_closed_forms(family):
    # Away from repeated eigenvalues the closed forms are smooth: with
    # parameter_grad=True the layer is a smooth function of its input and
    # finite differences agree with autograd; with False they do not (the
    # fitted parameters move with the input but are treated as constants).
    x = _inputs((1, 6, 4), seed=1, dtype=torch.float64)
    x.requires_grad_()

    def function(grad):
        layer = FavorAttention(
            4,
            1,
            batch_first=True,
            feature_map=family,
            n_features=8,
            parameter_grad=grad,
            random_state=0,
            dtype=torch.float64,
        )
        return lambda inputs: layer(inputs, inputs, inputs)[0]

    assert torch.autograd.gradcheck(function(True), (x,), atol=1e-6)
    assert not torch.autograd.gradcheck(function(False), (x,), raise_exception=False)


def test_redraw_interval_schedule_and_state_dict():
    layer = _layer(redraw_interval=2).train()
    x = _inputs()
    draws = []
    for _ in range(5):
        layer(x, x, x)
        draws.append(layer.omega.clone())
    # Each draw serves exactly redraw_interval training forwards.
    assert torch.equal(draws[0], draws[1]) and torch.equal(draws[2], draws[3])
    assert not torch.equal(draws[1], draws[2]) and not torch.equal(draws[3], draws[4])
    layer.eval()
    for _ in range(3):
        layer(x, x, x)
    assert torch.equal(layer.omega, draws[4])
    before = layer.omega.clone()
    layer.redraw()
    assert not torch.equal(layer.omega, before)
    restored = _layer(random_state=5)
    restored.load_state_dict(layer.state_dict())
    assert torch.equal(restored.omega, layer.omega)
    torch.testing.assert_close(restored(x, x, x)[0], layer(x, x, x)[0])
    assert torch.equal(_layer(random_state=3).omega, _layer(random_state=3).omega)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("family", FAMILIES)
def test_autocast_bfloat16_computes_features_in_float32(family, causal):
    layer = _trained(_layer(family, causal, n_features=64)).eval()
    # Logits q·k/√d of standard deviation about 3: in bfloat16, exp of the
    # log-features would lose 2-3 digits and the sums several percent.
    x = _inputs((2, 64, 8), scale=3.0)
    expected, _ = layer(x, x, x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, _ = layer(x, x, x)
    assert out.dtype == torch.bfloat16
    assert torch.isfinite(out).all()
    # What remains is the bfloat16 rounding of the projections (8 bits of
    # mantissa, relative 2^-8 per entry) propagated through one layer.
    error = torch.linalg.norm(out.float() - expected) / torch.linalg.norm(expected)
    assert error < 0.03


@pytest.mark.parametrize("family", FAMILIES)
def test_half_precision_one_key_returns_the_value_exactly(family):
    q = torch.randn(3, 5, 8).half()
    k = torch.randn(3, 1, 8).half()
    v = torch.randn(3, 1, 6).half()
    out = favor_attention(q, k, v, feature_map=family, n_features=32, random_state=0)
    assert out.dtype == torch.float16
    assert torch.equal(out, v.expand(-1, 5, -1))
    out = favor_attention(
        q.numpy(), k.numpy(), v.numpy(), feature_map=family, random_state=0
    )
    assert out.dtype == np.float16
    np.testing.assert_array_equal(out, np.broadcast_to(v.numpy(), out.shape))


def test_half_precision_matches_float32():
    # Issue 9 item 7: float16 attention lost precision silently. Computed in
    # float32 inside, the float16 result is the float32 one rounded to float16:
    # within half a float16 spacing (plus float32 rounding). Computing in
    # float16 (main before this change) erred by 1.3e-3, up to 694 spacings.
    rng = np.random.default_rng(0)
    q, k, v = rng.normal(scale=0.8, size=(3, 2, 64, 16)).astype(np.float16)
    wide = favor_attention(*(a.astype(np.float32) for a in (q, k, v)), random_state=0)
    half = favor_attention(q, k, v, random_state=0)
    assert half.dtype == np.float16
    spacing = np.spacing(np.abs(half)).astype(np.float32)
    error = np.abs(half.astype(np.float32) - wide)
    assert np.all(error <= 0.5 * spacing + 1e-6 * np.abs(wide))


def test_non_finite_output_is_an_error_not_nan():
    layer = _layer()
    x = _inputs()
    x[0, 3, 1] = float("nan")
    with pytest.raises(RuntimeError, match="NaN or infinite"):
        layer(x, x, x)


def test_dropout_acts_in_training_only():
    layer = _layer(dropout=0.5)
    plain = _layer()
    plain.load_state_dict(layer.state_dict())
    x = _inputs()
    layer.eval()
    torch.testing.assert_close(layer(x, x, x)[0], plain(x, x, x)[0])
    layer.train()
    assert not torch.allclose(layer(x, x, x)[0], plain(x, x, x)[0])


@pytest.mark.filterwarnings("ignore:causal=True with statistics='batch'")
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("family", FAMILIES)
def test_layer_is_the_functional_per_head(family, causal):
    # With identity projections and one seed, the layer (batch statistics) is
    # favor_attention on each head: same ω, same fit, same sums.
    layer = FavorAttention(
        8,
        2,
        batch_first=True,
        feature_map=family,
        causal=causal,
        statistics="batch",
        n_features=64,
        bias=False,
        random_state=0,
        dtype=torch.float64,
    )
    with torch.no_grad():
        layer.in_proj_weight.copy_(torch.eye(8).repeat(3, 1))
        layer.out_proj.weight.copy_(torch.eye(8))
    x = _inputs((2, 30, 8), scale=0.7, dtype=torch.float64)
    out, _ = layer(x, x, x)
    heads = x.reshape(2, 30, 2, 4).transpose(1, 2).numpy()
    expected = favor_attention(
        heads,
        heads,
        heads,
        feature_map=family,
        n_features=64,
        causal=causal,
        random_state=0,
    )
    expected = torch.from_numpy(expected).transpose(1, 2).reshape(2, 30, 8)
    torch.testing.assert_close(out.detach(), expected, rtol=1e-10, atol=1e-12)
    # And it estimates softmax attention: measured relative errors 0.05-0.09
    # over 4 seeds at 2048 features (q = k makes the diagonal logits large).
    exact = torch.from_numpy(softmax_attention(heads, heads, heads))
    many = favor_attention(
        heads,
        heads,
        heads,
        feature_map=family,
        n_features=2048,
        causal=False,
        random_state=0,
    )
    error = np.linalg.norm(many - exact.numpy()) / np.linalg.norm(exact.numpy())
    assert error < 0.15


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"num_heads": 3}, ValueError, "num_heads must divide embed_dim"),
        ({"feature_map": "favor"}, ValueError, "feature_map must be one of"),
        ({"n_features": 0}, ValueError, "n_features must be an int >= 1"),
        ({"statistics": "ema"}, ValueError, "statistics must be 'batch'"),
        ({"momentum": 0.0}, ValueError, "momentum must be a float in"),
        ({"redraw_interval": 0}, ValueError, "redraw_interval must be an int"),
        ({"dropout": 1.0}, ValueError, "dropout must be a float in"),
        ({"causal": 1}, TypeError, "causal must be a bool"),
        ({"random_state": "seed"}, ValueError, "random_state must be None"),
    ],
)
def test_bad_parameters_name_themselves(kwargs, error, match):
    kwargs = {"embed_dim": 8, "num_heads": 2, "batch_first": True, **kwargs}
    with pytest.raises(error, match=match):
        FavorAttention(**kwargs)


def test_bad_inputs_name_themselves():
    layer = _layer()
    x = _inputs()
    with pytest.raises(ValueError, match="key must have shape"):
        layer(x, x[..., :5], x)
    with pytest.raises(TypeError, match="key_padding_mask must be a bool tensor"):
        layer(x, x, x, key_padding_mask=torch.zeros(2, 12, dtype=torch.int64))
    with pytest.raises(ValueError, match="causal attention needs as many keys"):
        _layer(causal=True)(x, x[:, :5], x[:, :5])
    # Unbatched inputs take a (S,) mask: (1, S) was reported as "must have
    # shape (1, 12), got (1, 1, 12)".
    mask = torch.zeros(1, 12, dtype=torch.bool)
    with pytest.raises(ValueError, match=r"shape \(12,\) for unbatched .* \(1, 12\)"):
        layer(x[0], x[0], x[0], key_padding_mask=mask)


@pytest.mark.parametrize("sampling", ["orthogonal", "simplex", "iid"])
def test_sampling_draws_omega_with_that_coupling(sampling):
    layer = FavorAttention(
        16, 2, batch_first=True, n_features=12, sampling=sampling, random_state=3
    )
    expected = draw_weights(12, 8, check_random_state(3), sampling=sampling)
    np.testing.assert_allclose(layer.omega.double().numpy(), expected, rtol=1e-6)
    with pytest.raises(ValueError, match="sampling must be one of"):
        FavorAttention(16, 2, batch_first=True, sampling="halton")


@pytest.mark.parametrize("feature_map", ["posrf", "sderf", "saderf"])
def test_large_later_keys_do_not_underflow_earlier_ones(feature_map):
    # The key features were stabilised by a maximum over the whole block of
    # positions: a key 87 log-units above the earlier ones underflowed them in
    # float32, so output i depended on later positions (or became NaN).
    torch.manual_seed(0)
    layer = FavorAttention(
        16,
        2,
        batch_first=True,
        feature_map=feature_map,
        n_features=64,
        causal=True,
        random_state=0,
    ).eval()
    x = torch.randn(1, 12, 16)
    x[:, :4] *= 10
    prefix, _ = layer(x[:, :4], x[:, :4], x[:, :4])
    full, _ = layer(x, x, x)
    scale = prefix.abs().max()
    assert (full[:, :4] - prefix).abs().max() <= 1e-5 * scale
    state, steps = None, []
    for t in range(12):
        out, state = layer.decode(x[:, t : t + 1], state)
        steps.append(out)
    assert (torch.cat(steps, 1) - full).abs().max() <= 1e-5 * full.abs().max()


@pytest.mark.parametrize("causal", [True, False])
def test_queries_that_see_no_key_give_zero(causal):
    # Left padding (causal) or a fully padded sequence: the queries that see
    # no key get 0 instead of a 0/0 error for the whole batch; the other
    # sequence is unchanged.
    torch.manual_seed(0)
    x = torch.randn(2, 9, 16)
    mask = torch.zeros(2, 9, dtype=torch.bool)
    if causal:
        mask[0, :3] = True
    else:
        mask[0] = True
    layer = FavorAttention(
        16, 2, batch_first=True, causal=causal, random_state=0
    ).eval()
    out, _ = layer(x, x, x, key_padding_mask=mask)
    alone, _ = layer(x[1:], x[1:], x[1:])
    torch.testing.assert_close(out[1:], alone, rtol=1e-5, atol=1e-6)
    assert torch.isfinite(out).all()
    unseen = mask[0].cumsum(0) == torch.arange(1, 10) if causal else mask[0]
    # Position j sees no key when every key up to j is padding.
    assert torch.equal(out[0, unseen], torch.zeros_like(out[0, unseen]))
    if causal:
        trimmed, _ = layer(x[:1, 3:], x[:1, 3:], x[:1, 3:])
        torch.testing.assert_close(out[:1, 3:], trimmed, rtol=1e-5, atol=1e-6)


def test_causal_functional_leaves_padded_queries_out_of_the_statistics():
    # In causal attention query i and key i are one position: padded
    # positions leave the query statistics too, even for separate arrays.
    rng = np.random.default_rng(0)
    q, k, v = rng.normal(scale=0.5, size=(3, 1, 8, 4))
    mask = np.zeros((1, 8), dtype=bool)
    mask[0, 5:] = True
    kwargs = dict(feature_map="sderf", causal=True, random_state=0, n_features=16)
    out = favor_attention(q, k, v, key_padding_mask=mask, **kwargs)
    moved = q.copy()
    moved[:, 5:] += 3.0
    again = favor_attention(moved, k, v, key_padding_mask=mask, **kwargs)
    np.testing.assert_allclose(again[:, :5], out[:, :5], rtol=1e-12)


def test_in_projection_and_split_heads_match_multihead_attention():
    """The layer's public projections equal MultiheadAttention's, and
    split_heads puts head h's columns in slice h."""
    from skfavor.nn import split_heads

    torch.manual_seed(0)
    mha = torch.nn.MultiheadAttention(8, 2, batch_first=True)
    layer = FavorAttention.from_multihead_attention(mha, random_state=0)
    x = torch.randn(3, 5, 8)
    q, k, v = layer.in_projection(x, x, x)
    W, b = mha.in_proj_weight, mha.in_proj_bias
    for i, got in enumerate((q, k, v)):
        expected = x @ W[8 * i : 8 * (i + 1)].T + b[8 * i : 8 * (i + 1)]
        torch.testing.assert_close(got, expected)
    heads = split_heads(q, 2)
    assert heads.shape == (3, 2, 5, 4)
    torch.testing.assert_close(heads[:, 1], q[..., 4:])
