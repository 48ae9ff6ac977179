"""The cases of the attention golden test, and how to record them.

``python tests/_golden_attention.py`` rewrites ``tests/data/golden_attention.npz``
from the current code: run it only to accept a deliberate change of numbers.
"""

import warnings
from pathlib import Path

import numpy as np

PATH = Path(__file__).parent / "data" / "golden_attention.npz"
FAMILIES = ["posrf", "gerf", "sderf", "aderf", "saderf"]
LAYER_CONFIGS = {
    "sderf_batch": {"feature_map": "sderf"},
    "aderf_batch": {"feature_map": "aderf"},
    "gerf_causal_running": {"feature_map": "gerf", "causal": True},
    "sderf_causal_running": {"feature_map": "sderf", "causal": True},
    "posrf_causal_running": {"feature_map": "posrf", "causal": True},
}


def functional_cases():
    """``(name, args, kwargs)`` of every recorded :func:`favor_attention` call.

    Masked bidirectional cases use either ``query is key`` or fewer queries
    than keys, where every version agrees on which queries the statistics see.
    """
    rng = np.random.default_rng(0)
    q = rng.normal(scale=0.7, size=(2, 2, 6, 4))
    k = rng.normal(scale=0.7, size=(2, 2, 6, 4)) + 0.3
    v = rng.normal(size=(2, 2, 6, 3))
    q_short = q[..., :4, :]
    mask = np.zeros((2, 2, 6), dtype=bool)
    mask[0, :, 4:] = True
    mask[1, 1, :2] = True
    for dtype in (np.float32, np.float64):
        cq, ck, cv, cs = (x.astype(dtype) for x in (q, k, v, q_short))
        for family in FAMILIES:
            base = {"feature_map": family, "n_features": 16, "random_state": 0}
            tag = f"{family}_{np.dtype(dtype).name}"
            yield f"fn_{tag}", (cq, ck, cv), base
            yield f"fn_{tag}_causal", (cq, ck, cv), {**base, "causal": True}
            yield (
                f"fn_{tag}_causal_mask",
                (cq, ck, cv),
                {**base, "causal": True, "key_padding_mask": mask},
            )
            yield (
                f"fn_{tag}_self_mask",
                (cq, cq, cv),
                {**base, "key_padding_mask": mask},
            )
            yield (
                f"fn_{tag}_cross_mask",
                (cs, ck, cv),
                {**base, "key_padding_mask": mask},
            )


def layer_inputs():
    rng = np.random.default_rng(1)
    return {
        "x": rng.normal(size=(2, 7, 8)).astype(np.float32),
        "y": rng.normal(size=(2, 5, 8)).astype(np.float32),
        "mask": np.array([[False] * 7, [False] * 5 + [True] * 2]),
    }


def make_layer(torch, FavorAttention, name, weights):
    """The layer of config ``name`` with the recorded weights and directions."""
    kwargs = {"n_features": 16, "random_state": 0, **LAYER_CONFIGS[name]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        try:
            layer = FavorAttention(8, 2, batch_first=True, **kwargs)
        except TypeError:
            layer = FavorAttention(8, 2, **kwargs)
    if weights is not None:
        with torch.no_grad():
            for param in ("in_proj_weight", "in_proj_bias", "omega"):
                getattr(layer, param).copy_(
                    torch.from_numpy(weights[f"{name}_{param}"])
                )
            layer.out_proj.weight.copy_(torch.from_numpy(weights[f"{name}_out_w"]))
            layer.out_proj.bias.copy_(torch.from_numpy(weights[f"{name}_out_b"]))
    return layer


def layer_outputs(torch, FavorAttention, weights=None):
    """Outputs of every layer config: train, eval, padded, cross and decode."""
    data = layer_inputs()
    x, y = torch.from_numpy(data["x"]), torch.from_numpy(data["y"])
    mask = torch.from_numpy(data["mask"])
    out = {}
    for name, config in LAYER_CONFIGS.items():
        if weights is None:
            torch.manual_seed(0)
        layer = make_layer(torch, FavorAttention, name, weights)
        with torch.no_grad():
            layer.in_proj_bias.normal_() if weights is None else None
            layer.out_proj.bias.normal_() if weights is None else None
        for param in ("in_proj_weight", "in_proj_bias", "omega"):
            out[f"{name}_{param}"] = getattr(layer, param).detach().numpy().copy()
        out[f"{name}_out_w"] = layer.out_proj.weight.detach().numpy().copy()
        out[f"{name}_out_b"] = layer.out_proj.bias.detach().numpy().copy()
        with torch.no_grad():
            layer.train()
            out[f"{name}_train"] = layer(x, x, x)[0].numpy()
            out[f"{name}_train_mask"] = layer(x, x, x, key_padding_mask=mask)[0].numpy()
            out[f"{name}_running_key_mean"] = layer.running_key_mean.numpy().copy()
            layer.eval()
            out[f"{name}_eval"] = layer(x, x, x)[0].numpy()
            if not config.get("causal"):
                out[f"{name}_eval_y"] = layer(y, x, x)[0].numpy()
            else:
                first, state = layer.decode(x[:, :3])
                rest, _ = layer.decode(x[:, 3:], state)
                out[f"{name}_decode"] = torch.cat([first, rest], dim=1).numpy()
    return out


def functional_outputs(favor_attention):
    return {name: favor_attention(*args, **kw) for name, args, kw in functional_cases()}


def torch_functional_outputs(torch, favor_attention):
    """A few functional calls on tensors (the namespace route), float32."""
    out = {}
    for name, args, kw in functional_cases():
        if ("float32" in name and "sderf" in name) or "aderf_float32_causal" in name:
            targs = [torch.from_numpy(np.ascontiguousarray(a)) for a in args]
            if args[0] is args[1]:
                targs[1] = targs[0]
            kw = dict(kw)
            if "key_padding_mask" in kw:
                kw["key_padding_mask"] = torch.from_numpy(kw["key_padding_mask"])
            out[f"torch_{name}"] = favor_attention(*targs, **kw).numpy()
    return out


if __name__ == "__main__":
    import torch

    from skfavor.attention import favor_attention
    from skfavor.nn import FavorAttention

    record = functional_outputs(favor_attention)
    record.update(torch_functional_outputs(torch, favor_attention))
    record.update(layer_outputs(torch, FavorAttention))
    PATH.parent.mkdir(exist_ok=True)
    np.savez_compressed(PATH, **record)
    print(f"{len(record)} arrays written to {PATH}")
