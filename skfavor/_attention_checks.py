"""Validation of the attention front ends' arguments, once, at each public entry.

One check per option (:func:`check_attention_option`), shared by
:func:`skfavor.attention.favor_attention` and :class:`skfavor.nn.FavorAttention`,
and the checks of the function's arrays. The engine,
:func:`skfavor.attention.favor_heads`, trusts what passes them.
"""

from __future__ import annotations

import functools
import math
import sys
from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state

from ._closed_forms import FAMILIES
from ._namespace import device as array_device
from ._namespace import get_namespace, is_array, is_torch_namespace
from ._sampling import SAMPLINGS, resolve_sampling

__all__ = [
    "canonical_mask",
    "check_attention_option",
    "check_finite_inputs",
    "check_function_options",
    "check_inputs",
    "check_omega",
    "check_random_state_option",
    "check_sequences",
    "check_statistics",
    "dropout_option",
]


def _is_int(value) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def _is_real(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


#: One check per option shared by the front ends: ``(test, expected)``.
_OPTIONS = {
    "feature_map": (lambda v: isinstance(v, str) and v in FAMILIES, sorted(FAMILIES)),
    "n_features": (lambda v: _is_int(v) and v >= 1, "an int >= 1"),
    "causal": (lambda v: isinstance(v, bool | np.bool_), "a bool"),
    "parameter_grad": (lambda v: isinstance(v, bool | np.bool_), "a bool"),
    "sampling": (lambda v: isinstance(v, str) and v in SAMPLINGS, list(SAMPLINGS)),
    "dropout": (lambda v: _is_real(v) and 0 <= v < 1, "a float in [0, 1)"),
    "scale": (
        lambda v: v is None or (_is_real(v) and 0 < v < math.inf),
        "None or a float > 0",
    ),
}

_TYPE_ERRORS = ("causal", "parameter_grad")


def check_attention_option(name: str, value, *, parameter: str | None = None):
    """Validate one attention option; every front end shares these checks.

    Parameters
    ----------
    name : {'feature_map', 'n_features', 'causal', 'parameter_grad', \
'sampling', 'dropout', 'scale'}
        The option.
    value : object
        The value received.
    parameter : str, default=None
        The parameter's name in the caller's signature, for the message
        (e.g. ``'dropout_p'``); ``None`` is ``name``.

    Returns
    -------
    object
        ``value``, unchanged.

    Raises
    ------
    ValueError or TypeError
        Naming the parameter, the value and what was expected (``TypeError``
        for flags that are not bools).

    Examples
    --------
    >>> from skfavor.attention import check_attention_option
    >>> check_attention_option("n_features", 0)
    Traceback (most recent call last):
    ...
    ValueError: n_features must be an int >= 1, got 0.
    """
    test, expected = _OPTIONS[name]
    if not test(value):
        error = TypeError if name in _TYPE_ERRORS else ValueError
        kind = "one of " if isinstance(expected, list) else ""
        raise error(f"{parameter or name} must be {kind}{expected}, got {value!r}.")
    return value


def check_random_state_option(random_state):
    """``random_state`` checked, and the generator that resolves it on demand.

    Returns ``(random_state, rng)`` where ``rng()`` is
    :func:`sklearn.utils.check_random_state` of it: resolved only where a draw
    is needed (no ``omega`` given, or NumPy dropout), so that a call with
    fixed directions on tensors traces in one graph under ``torch.compile``.
    """
    if not isinstance(random_state, type(None) | Integral | np.random.RandomState):
        raise ValueError(
            "random_state must be None, an int or a RandomState instance, got "
            f"{random_state!r}."
        )
    return random_state, functools.partial(check_random_state, random_state)


def check_omega(omega, n_features, d, xp, like):
    """Fixed directions as an (M, d) array of ``like``'s namespace and device."""
    try:
        omega = xp.asarray(omega, device=array_device(like))
    except (TypeError, ValueError, RuntimeError) as exc:
        raise TypeError(
            f"omega must be an array of shape (M, {d}), got {omega!r}."
        ) from exc
    if not xp.isdtype(omega.dtype, "real floating"):
        raise TypeError(f"omega must be real floating point, got {omega.dtype}.")
    if omega.ndim != 2 or omega.shape[1] != d or omega.shape[0] == 0:
        raise ValueError(
            f"omega must have shape (M, {d}) with M >= 1, got {tuple(omega.shape)}."
        )
    _check_finite_statistic(omega, "omega", xp)
    if n_features is not None and n_features != omega.shape[0]:
        raise ValueError(
            f"n_features={n_features!r} disagrees with omega's {omega.shape[0]} "
            "rows: pass n_features=None with fixed directions."
        )
    return omega


def canonical_mask(mask, key, xp):
    """The keys to keep (the negation of ``key_padding_mask``), or None.

    Any shape that broadcasts to ``key``'s rows (..., S), broadcast to them;
    an (N, S) mask of 4-D keys (N, H, S, d) applies to every head. The rule
    of :meth:`~skfavor.attention.AttentionStatistics.from_sequences` too.
    """
    return _rows_mask(mask, key, xp, "key_padding_mask")


def _boolean_mask(mask, x, xp, name):
    """``mask`` as a boolean array of ``x``'s namespace, or a TypeError."""
    if not is_array(mask):
        mask = np.asarray(mask)
    try:
        mask_xp = get_namespace(mask, x)
    except TypeError:
        mask_xp = None
    if mask_xp is None or not xp.isdtype(mask.dtype, "bool"):
        raise TypeError(
            f"{name} must be a boolean array of the inputs' namespace (True = "
            f"padding), got {type(mask).__name__} of dtype "
            f"{getattr(mask, 'dtype', None)}."
        )
    return mask


def check_finite_inputs(query, key, value, query_keep, keep, xp) -> None:
    """Refuse NaN or inf in NumPy inputs, outside the padding (rows not kept)."""
    for name, x, rows in (
        ("query", query, query_keep),
        ("key", key, keep),
        ("value", value, keep),
    ):
        finite = xp.all(xp.isfinite(x), axis=-1)
        if rows is not None:
            finite = finite | ~rows
        if not bool(xp.all(finite)):
            raise ValueError(f"{name} contains NaN or infinity.")


def check_inputs(query, key, value, *, causal):
    """Validate shapes and dtypes; return the arrays and their namespace."""
    arrays, xp = _real_arrays({"query": query, "key": key, "value": value})
    query, key, value = arrays.values()
    _check_shapes(query, key, value, causal)
    dtype = xp.result_type(query, key, value)
    query, key, value = (xp.astype(x, dtype, copy=False) for x in (query, key, value))
    return query, key, value, xp


def check_sequences(query, key, key_padding_mask, query_padding_mask, scale):
    """Validate the arguments of ``AttentionStatistics.from_sequences``.

    Returns the arrays, their namespace and the rows to keep of each (the
    negated masks, broadcast to the rows; None without a mask).
    """
    check_attention_option("scale", scale)
    arrays, xp = _real_arrays({"query": query, "key": key})
    query, key = arrays.values()
    if query.ndim < 2 or key.ndim < 2:
        name, x = ("query", query) if query.ndim < 2 else ("key", key)
        raise ValueError(f"{name} must have shape (..., L, d), got shape {x.shape}.")
    if key.shape[-1] != query.shape[-1]:
        raise ValueError(
            f"key must have the width d={query.shape[-1]} of query, got "
            f"{key.shape[-1]}."
        )
    _check_not_empty(query, key)
    keep = _rows_mask(key_padding_mask, key, xp, "key_padding_mask")
    query_keep = _rows_mask(query_padding_mask, query, xp, "query_padding_mask")
    return query, key, keep, query_keep, xp


def _check_not_empty(query, key):
    """Statistics and attention need a position on each side and a feature."""
    if query.shape[-2] == 0 or key.shape[-2] == 0 or query.shape[-1] == 0:
        raise ValueError(
            "query and key need at least one position and one feature, got "
            f"shapes {tuple(query.shape)} and {tuple(key.shape)}."
        )


def _rows_mask(mask, x, xp, name):
    """The rows of ``x`` (..., n, d) to keep: ``~mask`` broadcast to them.

    ``mask`` broadcasts against ``x``'s rows; an (N, n) mask of 4-D ``x``
    (N, H, n, d) applies to every head.
    """
    if mask is None:
        return None
    mask = _boolean_mask(mask, x, xp, name)
    rows = tuple(x.shape[:-1])
    if x.ndim == 4 and tuple(mask.shape) == (rows[0], rows[2]):
        mask = mask[:, None, :]
    try:
        fits = np.broadcast_shapes(tuple(mask.shape), rows) == rows
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(
            f"{name} must have a shape that broadcasts to {rows} (one entry per "
            f"row), got {tuple(mask.shape)}."
        )
    return xp.broadcast_to(~mask, rows)


def _real_arrays(arrays):
    """``arrays`` (a dict by name) as arrays of one namespace, real floating."""
    arrays = {name: x if is_array(x) else np.asarray(x) for name, x in arrays.items()}
    try:
        xp = get_namespace(*arrays.values())
    except TypeError as exc:
        kinds = ", ".join(type(x).__name__ for x in arrays.values())
        raise TypeError(
            f"{', '.join(arrays)} must be arrays of one namespace (NumPy arrays "
            f"or PyTorch tensors), got {kinds}."
        ) from exc
    for name, x in arrays.items():
        if xp.isdtype(x.dtype, "real floating"):
            continue
        if is_torch_namespace(xp) or not xp.isdtype(x.dtype, ("bool", "integral")):
            raise TypeError(
                f"{name} must have a real floating dtype (NumPy inputs may also be "
                f"integer or boolean), got {x.dtype}."
            )
        arrays[name] = xp.astype(x, xp.float64)
    return arrays, xp


def _check_shapes(query, key, value, causal) -> None:
    if query.ndim < 2:
        raise ValueError(f"query must have shape (..., L, d), got shape {query.shape}.")
    if key.ndim != query.ndim or key.shape[:-2] != query.shape[:-2]:
        raise ValueError(
            f"key must have shape (..., S, d) with the leading dimensions of "
            f"query {tuple(query.shape[:-2])}, got shape {tuple(key.shape)}."
        )
    if key.shape[-1] != query.shape[-1]:
        raise ValueError(
            f"key must have the width d={query.shape[-1]} of query, got "
            f"{key.shape[-1]}."
        )
    if value.ndim != key.ndim or value.shape[:-1] != key.shape[:-1]:
        raise ValueError(
            f"value must have shape (..., S, d_v) with one row per key "
            f"{tuple(key.shape[:-1])}, got shape {tuple(value.shape)}."
        )
    _check_not_empty(query, key)
    if causal and key.shape[-2] != query.shape[-2]:
        raise ValueError(
            f"causal=True needs as many keys as queries, got L={query.shape[-2]} "
            f"queries and S={key.shape[-2]} keys."
        )


def check_function_options(
    feature_map, causal, orthogonal, sampling, scale, dropout, omega
):
    """Validate the function's options; return the sampling of ω."""
    check_attention_option("feature_map", feature_map)
    check_attention_option("causal", causal)
    check_attention_option("scale", scale)
    check_attention_option("dropout", dropout, parameter="dropout_p")
    if sampling is not None:
        check_attention_option("sampling", sampling)
        if omega:
            raise ValueError(
                f"sampling={sampling!r} cannot apply to the given omega: pass "
                "sampling=None with fixed directions."
            )
    return resolve_sampling(
        "orthogonal" if sampling is None else sampling,
        orthogonal,
        given=sampling is not None,
        stacklevel=3,
    )


def dropout_option(p, random_state, xp):
    """The engine's dropout: torch's generator for tensors, else ``random_state``."""
    if p == 0:
        return None
    if is_torch_namespace(xp):
        return float(p)
    given, resolve = random_state
    if given is None:
        raise ValueError(
            f"dropout_p={p!r} with NumPy inputs needs random_state (an int or a "
            "RandomState instance), got None."
        )

    rng = resolve()

    def dropout(phi):
        kept = rng.random_sample(phi.shape) >= p
        return np.where(kept, phi / (1 - p), 0.0).astype(phi.dtype, copy=False)

    return dropout


def check_statistics(statistics, kind, d, xp, like):
    """Outside statistics as arrays of ``like``'s namespace and device, or None."""
    if statistics is None:
        return None
    if not isinstance(statistics, kind):
        raise TypeError(
            "statistics must be None or an AttentionStatistics, got "
            f"{type(statistics).__name__}."
        )
    parts = [xp.asarray(part, device=array_device(like)) for part in statistics]
    for name, part in zip(statistics._fields, parts, strict=True):
        square = name.endswith("covariance")
        ok = part.ndim >= 1 + square and tuple(part.shape[-1 - square :]) == (
            (d, d) if square else (d,)
        )
        if not ok or not xp.isdtype(part.dtype, "real floating"):
            raise ValueError(
                f"statistics.{name} must be a real array of shape "
                f"(..., {'d, d' if square else 'd'}) with d={d}, got shape "
                f"{tuple(part.shape)} and dtype {part.dtype}."
            )
        lead = tuple(part.shape[: part.ndim - 1 - square])
        try:
            np.broadcast_shapes(lead, tuple(like.shape[:-2]))
        except ValueError:
            raise ValueError(
                f"statistics.{name} has leading dimensions {lead}, which do not "
                f"broadcast against the inputs' {tuple(like.shape[:-2])}."
            ) from None
        _check_finite_statistic(part, f"statistics.{name}", xp)
    return kind(*parts)


def _check_finite_statistic(part, name, xp) -> None:
    """Refuse NaN or inf in statistics (the fit would replace them, silently, by
    zeros) or in ``omega``; tensors without a device-to-host copy."""
    message = f"{name} contains NaN or infinity."
    finite = xp.all(xp.isfinite(part))
    if is_torch_namespace(xp):
        # No device-to-host copy: a RuntimeError, as for the output's check.
        torch = sys.modules["torch"]
        torch._assert_async(finite, message)
    elif not bool(finite):
        raise ValueError(message)


def check_decoding_state(state, n_sequences: int, num_heads: int, omega_shape) -> None:
    """Raise unless ``state`` (a :class:`~skfavor.attention.FavorState`) continues
    ``n_sequences`` sequences of a layer of ``num_heads`` heads and directions
    of shape ``omega_shape`` (M, head_dim)."""
    n_features, head_dim = omega_shape
    held = tuple(state.sums.shape)
    if held != (n_sequences, num_heads, n_features, head_dim + 1):
        raise ValueError(
            f"state holds {held[0]} sequences of {held[1]} heads with {held[2]} "
            f"features each; this call got {n_sequences} sequences for a layer "
            f"of {num_heads} heads with {n_features} features of width {head_dim}."
        )
