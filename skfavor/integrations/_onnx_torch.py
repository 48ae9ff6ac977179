"""The eval-mode forward of :class:`~skfavor.nn.FavorAttention` as an exportable module.

Imported by :func:`skfavor.integrations.onnx.exportable_attention` only, so that
the skl2onnx converters do not import PyTorch.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from .._attention_numerics import compute_dtype
from .._feature_map import StackedFeatureMap
from .._namespace import get_namespace
from ..attention import fit_maps
from ..nn import FavorAttention

#: Families whose closed forms use no eigen-decomposition (ONNX has none), so
#: that batch statistics can be fitted inside the graph.
_EIGH_FREE = ("posrf", "gerf")


def check_distinct_when_exporting(query, key, value) -> None:
    """Refuse one tensor passed as two inputs of an export.

    ``torch.export`` keeps one graph input for a tensor passed several times
    and leaves the others unread: a graph exported from ``(x, x, x, mask)``
    computes from ``value`` alone, whatever query and key it is fed. Checked
    here, where the three inputs are the graph's, not in the layer, which a
    model may call with one tensor (``nn.TransformerEncoderLayer``).
    """
    aliased = query is key or key is value or query is value
    if aliased and torch.compiler.is_exporting():
        raise ValueError(
            "The export's example query, key and value are one tensor passed more "
            "than once: torch.export would keep one graph input and ignore the "
            "others. Export with distinct tensors, e.g. (x, x.clone(), x.clone(), "
            "mask)."
        )


class _LayerOutput(nn.Module):
    """``layer(query, key, value, key_padding_mask)[0]``: the layer as it is."""

    def __init__(self, layer: FavorAttention):
        super().__init__()
        self.layer = layer

    def forward(self, query, key, value, key_padding_mask=None):
        check_distinct_when_exporting(query, key, value)
        return self.layer(query, key, value, key_padding_mask=key_padding_mask)[0]


class FrozenFavorAttention(nn.Module):
    """A FavorAttention with running statistics, its maps compiled once.

    The closed forms of the running statistics are fitted here, in float64,
    and their compiled terms (:ref:`math-families`) kept as buffers: the
    graph holds them as constants, and no eigen-decomposition is traced. The
    forward is the layer's in eval mode: projections, heads scaled to kernel
    units ``x / head_dim^¼``, the engine of :mod:`skfavor.attention`, the
    output projection.

    Parameters
    ----------
    layer : FavorAttention
        In eval mode, with ``statistics='running'``; the maps are those of its
        buffers now. :func:`exportable` passes a copy, so that later changes
        of the user's layer cannot pair its new projections with these maps.
    """

    def __init__(self, layer: FavorAttention):
        super().__init__()
        self.layer = layer
        with torch.no_grad():
            dtype = compute_dtype(
                layer.out_proj.weight.dtype, get_namespace(layer.omega)
            )
            maps = fit_maps(
                *layer.running_statistics().sample_statistics(torch.float64),
                layer.omega,
                layer.feature_map,
                dtype,
                get_namespace(layer.omega),
            )
        for side, stacked in zip(("query", "key"), maps, strict=True):
            for name in ("weights", "offset", "quadratic"):
                self.register_buffer(f"{side}_{name}", getattr(stacked, name).clone())

    def _map(self, side: str) -> StackedFeatureMap:
        return StackedFeatureMap(
            *(
                getattr(self, f"{side}_{name}")
                for name in ("weights", "offset", "quadratic")
            )
        )

    def forward(self, query, key, value, key_padding_mask=None):
        check_distinct_when_exporting(query, key, value)
        maps = self._map("query"), self._map("key")
        return self.layer.forward_with_maps(
            query, key, value, key_padding_mask, maps=maps
        )


def exportable(layer: FavorAttention) -> nn.Module:
    """See :func:`skfavor.integrations.onnx.exportable_attention`."""
    if not isinstance(layer, FavorAttention):
        raise TypeError(f"layer must be a FavorAttention, got {type(layer).__name__}.")
    if layer.training:
        raise ValueError(
            "layer is in training mode: its running statistics would change and "
            "its features be dropped at each call. Call layer.eval() before "
            "exporting it."
        )
    # A snapshot: the module shared the layer's parameters, and training it
    # or loading weights afterwards mixed new projections with frozen maps.
    layer = copy.deepcopy(layer)
    statistics = layer.statistics or ("running" if layer.causal else "batch")
    if statistics == "running":
        return FrozenFavorAttention(layer).eval()
    if layer.feature_map in _EIGH_FREE:
        return _LayerOutput(layer).eval()
    raise ValueError(
        f"FavorAttention(feature_map={layer.feature_map!r}, statistics='batch') "
        "fits each sequence's parameters by eigen-decompositions, which ONNX does "
        "not have. Export a layer with statistics='running' (its maps are then "
        "constants of the graph), or feature_map='posrf' or 'gerf', whose batch "
        "fit needs none."
    )
