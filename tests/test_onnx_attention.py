"""ONNX export of skfavor's attention (torch.onnx.export): onnxruntime agrees
with PyTorch, and exports that would give a wrong graph are refused."""

import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("skl2onnx")  # imported by skfavor.integrations.onnx
ort = pytest.importorskip("onnxruntime")


def _export_attention(module, inputs, path, batch_axis=0):
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnxscript")  # torch.onnx's dynamo exporter
    names = ["query", "key", "value", "key_padding_mask"]
    batch = torch.export.Dim("batch")
    dynamic_shapes = {name: {batch_axis: batch} for name in names[:3]}
    dynamic_shapes["key_padding_mask"] = {0: batch}
    torch.onnx.export(
        module,
        inputs,
        str(path),
        input_names=names,
        output_names=["output"],
        dynamo=True,
        dynamic_shapes=dynamic_shapes,
    )
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _attention_inputs(torch, n, length, embed_dim, seed, batch_first=True):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, length, embed_dim, generator=generator) * 2.0
    mask = torch.zeros(n, length, dtype=torch.bool)
    mask[0, length - 3 :] = True  # one padded sequence
    return (x if batch_first else x.transpose(0, 1).contiguous()), mask


# torch's exporter warns about its own internals (a deprecated pytree check,
# the renaming of the dynamic batch axis).
@pytest.mark.filterwarnings("ignore:`isinstance\\(treespec:FutureWarning")
@pytest.mark.filterwarnings("ignore:# The axis name:UserWarning")
@pytest.mark.parametrize(
    "feature_map, causal, statistics, batch_first",
    [
        ("sderf", False, "running", True),
        ("saderf", True, None, False),
        ("gerf", False, "batch", True),
    ],
)
def test_favor_attention_exports(
    feature_map, causal, statistics, batch_first, tmp_path
):
    torch = pytest.importorskip("torch")
    from skfavor.integrations.onnx import exportable_attention
    from skfavor.nn import FavorAttention

    layer = FavorAttention(
        16,
        2,
        batch_first=batch_first,
        feature_map=feature_map,
        n_features=32,
        causal=causal,
        statistics=statistics,
        random_state=0,
    )
    x, mask = _attention_inputs(torch, 3, 12, 16, 0, batch_first)
    layer(x, x, x)  # one training step: running statistics unlike their start
    layer.eval()
    module = exportable_attention(layer)
    # Distinct example tensors: one tensor passed three times would leave the
    # graph reading one input for all three.
    session = _export_attention(
        module,
        (x, x.clone(), x.clone(), mask),
        tmp_path / "attention.onnx",
        int(not batch_first),
    )
    # Held-out inputs, with another batch size: the batch dimension is dynamic.
    for n in (3, 5):
        x, mask = _attention_inputs(torch, n, 12, 16, n, batch_first)
        feeds = {"query": x, "key": x, "value": x, "key_padding_mask": mask}
        (output,) = session.run(None, {k: v.numpy() for k, v in feeds.items()})
        with torch.no_grad():
            expected = layer(x, x, x, key_padding_mask=mask)[0].numpy()
        np.testing.assert_allclose(output, expected, rtol=1e-4, atol=1e-4)
        # The padded keys are out of the sums: outputs move if they are not.
        with torch.no_grad():
            unmasked = layer(x, x, x)[0].numpy()
        assert np.abs(unmasked - expected).max() > 1e-3


@pytest.mark.parametrize("statistics", ["running", "batch"])
def test_exportable_attention_checks_inputs_as_the_layer(statistics):
    # The running-statistics module skipped the layer's checks: a uint8 mask
    # was ignored (outputs as without a mask), a float mask failed in `~`, a
    # (1, S) mask was broadcast and unbatched inputs failed to unpack.
    torch = pytest.importorskip("torch")
    from skfavor.integrations.onnx import exportable_attention
    from skfavor.nn import FavorAttention

    layer = FavorAttention(
        8,
        2,
        batch_first=True,
        feature_map="gerf",
        statistics=statistics,
        n_features=16,
        random_state=0,
    ).eval()
    module = exportable_attention(layer)
    x = torch.randn(2, 6, 8, generator=torch.Generator().manual_seed(0))
    mask = torch.zeros(2, 6, dtype=torch.bool)
    mask[1, 4:] = True
    with torch.no_grad():
        expected = layer(x, x, x, key_padding_mask=mask)[0]
        torch.testing.assert_close(module(x, x, x, mask), expected)
        float_mask = torch.zeros(2, 6).masked_fill(mask, float("-inf"))
        torch.testing.assert_close(module(x, x, x, float_mask), expected)
        torch.testing.assert_close(module(x[0], x[0], x[0]), layer(x[0], x[0], x[0])[0])
        with pytest.raises(TypeError, match="key_padding_mask"):
            module(x, x, x, mask.to(torch.uint8))
        with pytest.raises(ValueError, match="key_padding_mask"):
            module(x, x, x, mask[:1])
        with pytest.raises(ValueError, match="query"):
            module(x[..., :4], x, x)


@pytest.mark.filterwarnings("ignore:`isinstance\\(treespec:FutureWarning")
@pytest.mark.filterwarnings("ignore:# The axis name:UserWarning")
@pytest.mark.parametrize("statistics", ["running", "batch"])
def test_exported_attention_reads_its_three_inputs(statistics, tmp_path):
    # Exported from (x, x, x, mask), the graph read only `value` (torch.export
    # keeps one input of an aliased tensor): fed a distinct query and key it
    # was off by 1.5 to 1.8. Such examples are now refused; a graph exported
    # from distinct tensors serves cross-attention too.
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnxscript")
    from skfavor.integrations.onnx import exportable_attention
    from skfavor.nn import FavorAttention

    layer = FavorAttention(
        16,
        2,
        batch_first=True,
        feature_map="gerf",
        statistics=statistics,
        n_features=32,
        random_state=0,
    ).eval()
    module = exportable_attention(layer)
    x, mask = _attention_inputs(torch, 3, 12, 16, 0)
    # torch.onnx wraps the module's ValueError in its TorchExportError.
    with pytest.raises(Exception, match="Export with distinct tensors"):
        torch.onnx.export(
            module, (x, x, x, mask), str(tmp_path / "a.onnx"), dynamo=True
        )
    session = _export_attention(
        module, (x, x.clone(), x.clone(), mask), tmp_path / "attention.onnx"
    )
    q, _ = _attention_inputs(torch, 3, 12, 16, 1)
    feeds = {"query": q, "key": x, "value": x, "key_padding_mask": mask}
    (output,) = session.run(None, {k: v.numpy() for k, v in feeds.items()})
    with torch.no_grad():
        expected = layer(q, x, x, key_padding_mask=mask)[0].numpy()
    np.testing.assert_allclose(output, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.filterwarnings("ignore:`isinstance\\(treespec:FutureWarning")
@pytest.mark.parametrize("batch_first", [True, False])
def test_dynamic_sequence_length_is_refused_at_export(batch_first, tmp_path):
    # Asked for a dynamic sequence axis, torch.onnx.export fell back to a
    # graph specialised to the example's length without a word: the user
    # learnt it from onnxruntime at serving time ("Expected: 8").
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnxscript")
    from skfavor.integrations.onnx import exportable_attention
    from skfavor.nn import FavorAttention

    layer = FavorAttention(
        8, 2, batch_first=batch_first, feature_map="gerf", n_features=16
    ).eval()
    module = exportable_attention(layer)
    x = torch.randn(2, 6, 8)
    x = x if batch_first else x.transpose(0, 1)
    length = torch.export.Dim("length", min=2, max=1024)
    axis = int(batch_first)
    shapes = {name: {axis: length} for name in ("query", "key", "value")}
    with pytest.raises(Exception, match="sequence length"):
        torch.onnx.export(
            module,
            (x, x.clone(), x.clone()),
            str(tmp_path / "a.onnx"),
            dynamo=True,
            dynamic_shapes=shapes,
        )


@pytest.mark.filterwarnings("ignore:`isinstance\\(treespec:FutureWarning")
@pytest.mark.parametrize("feature_map", ["gerf", "sderf"])
def test_functional_attention_export(feature_map, tmp_path):
    # favor_attention inside a user's module: GERF's per-sequence fit is part
    # of the graph; SDERF's eigen-decomposition failed deep in torch.onnx
    # ("No ONNX function found for aten._linalg_eigh"), naming no remedy.
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnxscript")
    from skfavor.attention import favor_attention

    omega = torch.randn(16, 8, generator=torch.Generator().manual_seed(0))

    class Attention(torch.nn.Module):
        def forward(self, query, key, value):
            return favor_attention(
                query, key, value, feature_map=feature_map, omega=omega
            )

    generator = torch.Generator().manual_seed(1)
    x = torch.randn(2, 2, 6, 8, generator=generator)
    path = tmp_path / "f.onnx"
    names = ["query", "key", "value"]
    if feature_map == "sderf":
        with pytest.raises(Exception, match="eigen-decomposition"):
            torch.onnx.export(Attention().eval(), (x, x.clone(), x.clone()), str(path))
        return
    torch.onnx.export(
        Attention().eval(), (x, x.clone(), x.clone()), str(path), input_names=names
    )
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    y = 3.0 * torch.randn(2, 2, 6, 8, generator=generator) + 1.0
    (output,) = session.run(None, {name: y.numpy() for name in names})
    expected = Attention()(y, y, y).numpy()
    # float32 rounding of the fitted maps: 1e-5 of the outputs' scale.
    scale = np.abs(expected).max()
    np.testing.assert_allclose(output, expected, rtol=1e-5, atol=1e-5 * scale)


@pytest.mark.parametrize("statistics", ["running", "batch"])
def test_exportable_attention_is_a_snapshot(statistics):
    # The running-statistics module shared the layer's parameters but froze
    # its maps: after a training step or load_state_dict it mixed the new
    # projections with the old maps (off by 0.5 to 1.3), and so did its graph.
    torch = pytest.importorskip("torch")
    from skfavor.integrations.onnx import exportable_attention
    from skfavor.nn import FavorAttention

    def layer(seed):
        return FavorAttention(
            8,
            2,
            batch_first=True,
            feature_map="gerf",
            statistics=statistics,
            n_features=16,
            random_state=seed,
        )

    x = 2.0 * torch.randn(2, 6, 8, generator=torch.Generator().manual_seed(0))
    trained = layer(0)
    trained(x, x, x)
    module = exportable_attention(trained.eval())
    with torch.no_grad():
        expected = trained(x, x, x)[0]
        trained.train()(3 * x, 3 * x, 3 * x)
        trained.load_state_dict(layer(5).state_dict())
        trained.eval()
        assert (trained(x, x, x)[0] - expected).abs().max() > 0.1
        torch.testing.assert_close(module(x, x.clone(), x.clone()), expected)


@pytest.mark.filterwarnings("ignore:`isinstance\\(treespec:FutureWarning")
@pytest.mark.parametrize("feature_map", ["posrf", "gerf"])
def test_model_calling_the_layer_as_self_attention_exports(feature_map, tmp_path):
    # A model passes one tensor as query, key and value
    # (nn.TransformerEncoderLayer): exporting the whole model is right as it
    # is, so the refusal of aliased examples belongs to exportable_attention's
    # modules, whose three inputs are the graph's (d5f44c1 moved it into the
    # layer's checks, and this export failed). The DERF families fit their
    # maps by an eigen-decomposition in the layer's forward, which ONNX does
    # not have: refused with the ValueError of the functional export.
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnxscript")
    from skfavor.integrations.onnx import exportable_attention
    from skfavor.nn import FavorAttention

    torch.manual_seed(0)
    model = torch.nn.TransformerEncoderLayer(16, 2, 32, batch_first=True, dropout=0)
    model.self_attn = FavorAttention(
        16,
        2,
        batch_first=True,
        n_features=32,
        feature_map=feature_map,
        statistics="running",
        random_state=0,
    )
    x = torch.randn(4, 8, 16)
    for _ in range(3):
        model(x)  # running statistics of the training rows
    model.eval()
    with torch.no_grad():
        expected = model(x).numpy()
    path = str(tmp_path / "encoder.onnx")
    torch.onnx.export(model, (x,), path, dynamo=True, input_names=["x"])
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"x": x.numpy()})
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    model.self_attn = FavorAttention(
        16, 2, batch_first=True, n_features=32, statistics="running"
    ).eval()
    # The refusal says what holds: exportable_attention's module is a graph
    # of its own and does not take the layer's place in the model (it lacks
    # the layer's attributes and call signature); the model is not exported.
    with pytest.raises(Exception, match="eigen-decomposition") as refused:
        torch.onnx.export(model, (x,), path, dynamo=True)
    assert "cannot be exported as a whole" in str(refused.value)
    model.self_attn = exportable_attention(model.self_attn)
    with pytest.raises(Exception, match="batch_first"):
        torch.onnx.export(model, (x,), path, dynamo=True)


@pytest.mark.filterwarnings("ignore:`isinstance\\(treespec:FutureWarning")
def test_layer_exported_without_the_helper_checks_its_inputs(tmp_path):
    # A dynamic sequence axis gave a graph of the example's length: the
    # check was in exportable_attention's modules only. One tensor passed
    # three times is not refused by the layer (a model may call it so,
    # above): its graph is a self-attention's, as deploy.rst says.
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnxscript")
    from skfavor.nn import FavorAttention

    layer = FavorAttention(
        8, 2, batch_first=True, feature_map="gerf", n_features=16
    ).eval()
    x = torch.randn(2, 6, 8)
    path = str(tmp_path / "a.onnx")
    length = torch.export.Dim("length", min=2, max=1024)
    shapes = {name: {1: length} for name in ("query", "key", "value")}
    with pytest.raises(Exception, match="sequence length"):
        torch.onnx.export(
            layer, (x, x.clone(), x.clone()), path, dynamo=True, dynamic_shapes=shapes
        )


@pytest.mark.filterwarnings("ignore:`isinstance\\(treespec:FutureWarning")
@pytest.mark.filterwarnings("ignore:# The axis name:UserWarning")
@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
def test_float64_attention_export_agrees_to_1e_6(tmp_path):
    # As deploy.rst says: torch.onnx rounds the graph's Python scalars to
    # float32, so a float64 export agrees to about 1e-7, not 1e-15.
    torch = pytest.importorskip("torch")
    from skfavor.integrations.onnx import exportable_attention
    from skfavor.nn import FavorAttention

    layer = FavorAttention(
        16,
        2,
        batch_first=True,
        feature_map="gerf",
        n_features=32,
        random_state=0,
        dtype=torch.float64,
    ).eval()
    generator = torch.Generator().manual_seed(0)
    x, mask = _attention_inputs(torch, 2, 8, 16, 0)
    x = x.double()
    session = _export_attention(
        exportable_attention(layer), (x, x.clone(), x.clone(), mask), tmp_path / "a"
    )
    y = 3.0 * torch.randn(3, 8, 16, generator=generator, dtype=torch.float64)
    mask = torch.zeros(3, 8, dtype=torch.bool)
    feeds = {"query": y, "key": y, "value": y, "key_padding_mask": mask}
    (output,) = session.run(None, {k: v.numpy() for k, v in feeds.items()})
    with torch.no_grad():
        expected = layer(y, y, y)[0].numpy()
    assert output.dtype == np.float64
    scale = np.abs(expected).max()
    np.testing.assert_allclose(output, expected, rtol=0, atol=1e-6 * scale)


def test_favor_attention_export_refusals():
    pytest.importorskip("torch")
    from skfavor.integrations.onnx import exportable_attention
    from skfavor.nn import FavorAttention

    derf = FavorAttention(
        8, 2, batch_first=True, feature_map="sderf", statistics="batch"
    )
    with pytest.raises(ValueError, match="eigen-decomposition"):
        exportable_attention(derf.eval())
    with pytest.raises(ValueError, match="training mode"):
        exportable_attention(derf.train())
    with pytest.raises(TypeError, match="FavorAttention"):
        exportable_attention(object())
