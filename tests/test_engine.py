"""The attention engine and the functional form's options (issues 16 and 17)."""

import warnings

import numpy as np
import pytest

from skfavor._sampling import draw_weights
from skfavor.attention import (
    AttentionStatistics,
    CausalStatisticsWarning,
    FavorState,
    check_attention_option,
    favor_attention,
    favor_heads,
    softmax_attention,
)

FITTED = ["gerf", "sderf", "aderf", "saderf"]


def _qkv(shape=(2, 3, 12, 4), n_keys=None, seed=0):
    rng = np.random.default_rng(seed)
    n_keys = shape[-2] if n_keys is None else n_keys
    q = rng.normal(scale=0.6, size=shape)
    k = rng.normal(scale=0.6, size=(*shape[:-2], n_keys, shape[-1])) + 0.2
    v = rng.normal(size=(*shape[:-2], n_keys, 3))
    return q, k, v


def test_scale_is_the_softmax_scale():
    q, k, v = _qkv()
    d, scale = q.shape[-1], 0.9
    out = favor_attention(q, k, v, scale=scale, random_state=0)
    # scale s on (q, k) equals the default 1/√d on (c q, c k), c = (s √d)^½.
    c = (scale * d**0.5) ** 0.5
    np.testing.assert_allclose(
        out, favor_attention(q * c, k * c, v, random_state=0), rtol=1e-9
    )
    exact = softmax_attention(q, k, v, scale=scale)
    default = softmax_attention(q, k, v)
    assert np.abs(exact - default).max() > 0.05
    wide = favor_attention(q, k, v, scale=scale, n_features=4096, random_state=0)
    assert np.abs(wide - exact).max() < 0.3 * np.abs(wide - default).max()


@pytest.mark.parametrize("bad", [0.0, -1.0, float("inf"), "x", True])
def test_bad_scale_is_named(bad):
    q, k, v = _qkv()
    with pytest.raises(ValueError, match="scale must be None or a float > 0"):
        favor_attention(q, k, v, scale=bad)


def test_fixed_omega_equals_the_drawn_one():
    q, k, v = _qkv()
    omega = draw_weights(32, 4, np.random.RandomState(0), sampling="orthogonal")
    expected = favor_attention(q, k, v, n_features=32, random_state=0)
    np.testing.assert_array_equal(favor_attention(q, k, v, omega=omega), expected)
    np.testing.assert_array_equal(
        favor_attention(q, k, v, omega=omega, n_features=32), expected
    )
    with pytest.raises(ValueError, match="sampling='iid' cannot apply"):
        favor_attention(q, k, v, omega=omega, sampling="iid")
    with pytest.raises(ValueError, match="n_features=16 disagrees with omega's 32"):
        favor_attention(q, k, v, omega=omega, n_features=16)
    with pytest.raises(ValueError, match=r"omega must have shape \(M, 4\)"):
        favor_attention(q, k, v, omega=omega[:, :3])


@pytest.mark.parametrize("family", FITTED)
def test_outside_statistics_equal_the_batch_fit_and_do_not_warn(family):
    q, k, v = _qkv()
    stats = AttentionStatistics.from_sequences(q, k)
    expected = favor_attention(q, k, v, feature_map=family, random_state=0)
    out = favor_attention(q, k, v, feature_map=family, statistics=stats, random_state=0)
    np.testing.assert_allclose(out, expected, rtol=1e-10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        favor_attention(q, k, v, feature_map=family, causal=True, statistics=stats)


@pytest.mark.parametrize("family", FITTED)
@pytest.mark.parametrize("scale", [None, 0.37])
def test_batch_fit_and_from_sequences_take_one_route_to_the_statistics(family, scale):
    # The fit used to scale the statistics and from_sequences the rows: in
    # float32 the two rounded apart, although they compute the same moments.
    q, k, v = (x.astype(np.float32) for x in _qkv())
    stats = AttentionStatistics.from_sequences(q, k, scale=scale)
    kwargs = {"feature_map": family, "scale": scale, "random_state": 0}
    expected = favor_attention(q, k, v, **kwargs)
    out = favor_attention(q, k, v, statistics=stats, **kwargs)
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("family", FITTED)
def test_causal_fit_on_the_sequence_warns_and_outside_statistics_are_causal(family):
    q, k, v = _qkv()
    with pytest.warns(CausalStatisticsWarning, match="sees later positions"):
        favor_attention(q, k, v, feature_map=family, causal=True)
    # Statistics of a calibration set (pooled, one per head) keep row i
    # independent of positions after i.
    calibration = _qkv(shape=(3, 40, 4), seed=5)
    stats = AttentionStatistics.from_sequences(*calibration[:2])
    later = q.copy(), k.copy(), v.copy()
    for x in later:
        x[..., 8:, :] += 3.0
    kwargs = {"feature_map": family, "causal": True, "statistics": stats}
    out = favor_attention(q, k, v, random_state=0, **kwargs)
    moved = favor_attention(*later, random_state=0, **kwargs)
    np.testing.assert_allclose(out[..., :8, :], moved[..., :8, :], rtol=1e-12)
    assert np.abs(out[..., 8:, :] - moved[..., 8:, :]).max() > 0.1


@pytest.mark.parametrize("field", AttentionStatistics._fields)
def test_outside_statistics_that_are_not_finite_are_refused(field):
    # Non-finite statistics used to be replaced by zeros in the fit, so the
    # output stayed finite and the statistics were silently ignored.
    q, k, v = _qkv()
    stats = AttentionStatistics.from_sequences(q, k)
    part = np.array(getattr(stats, field))
    part[(0,) * part.ndim] = np.nan
    bad = stats._replace(**{field: part})
    with pytest.raises(ValueError, match=rf"statistics\.{field} contains NaN or inf"):
        favor_attention(q, k, v, statistics=bad, random_state=0)


def test_outside_statistics_that_do_not_broadcast_are_named():
    q, k, v = _qkv()  # leading dimensions (2, 3)
    stats = AttentionStatistics.from_sequences(q[:, :2], k[:, :2])  # (2, 2)
    message = r"statistics\.query_mean has leading dimensions \(2, 2\)"
    with pytest.raises(ValueError, match=message):
        favor_attention(q, k, v, statistics=stats, random_state=0)


def test_outside_statistics_that_are_not_finite_are_refused_for_tensors():
    torch = pytest.importorskip("torch")
    q, k, v = (torch.tensor(x, dtype=torch.float32) for x in _qkv())
    stats = AttentionStatistics.from_sequences(q, k)
    bad = stats._replace(key_covariance=stats.key_covariance * float("inf"))
    with pytest.raises(RuntimeError, match=r"statistics\.key_covariance contains NaN"):
        favor_attention(q, k, v, statistics=bad, random_state=0)


def test_posrf_causal_does_not_warn():
    q, k, v = _qkv()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        favor_attention(q, k, v, feature_map="posrf", causal=True)


def test_statistics_from_sequences_are_the_kernel_unit_moments():
    q, k, _ = _qkv(n_keys=9)
    mask = np.zeros((2, 3, 9), dtype=bool)
    mask[1, :, 6:] = True
    stats = AttentionStatistics.from_sequences(q, k, key_padding_mask=mask, scale=0.5)
    rows = k[1, 2, :6] * 0.5**0.5
    np.testing.assert_allclose(stats.key_mean[1, 2], rows.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(
        stats.key_covariance[1, 2], np.cov(rows.T, bias=True), rtol=1e-10
    )
    # L != S: no query is padding.
    np.testing.assert_allclose(
        stats.query_mean[1, 2], (q[1, 2] * 0.5**0.5).mean(axis=0), rtol=1e-12
    )


@pytest.mark.parametrize("torch_inputs", [False, True])
def test_statistics_of_empty_sequences_are_refused_as_by_favor_attention(
    torch_inputs,
):
    # from_sequences says it raises as favor_attention does for its inputs;
    # on sequences of no position it returned NaN means (NumPy with a
    # RuntimeWarning, PyTorch without a word) where favor_attention refuses.
    empty, full = np.zeros((2, 0, 4)), np.ones((2, 3, 4))
    if torch_inputs:
        torch = pytest.importorskip("torch")
        empty, full = torch.from_numpy(empty), torch.from_numpy(full)
    for query, key in ((empty, empty), (full, empty), (empty, full)):
        with pytest.raises(ValueError, match="at least one position"):
            AttentionStatistics.from_sequences(query, key)


def test_heads_share_an_n_by_s_mask():
    q, k, v = _qkv(n_keys=10)
    mask = np.zeros((2, 10), dtype=bool)
    mask[0, 7:] = True
    heads = np.broadcast_to(mask[:, None, :], (2, 3, 10))
    np.testing.assert_array_equal(
        favor_attention(q, k, v, key_padding_mask=mask, random_state=0),
        favor_attention(q, k, v, key_padding_mask=heads, random_state=0),
    )


@pytest.mark.parametrize("family", ["posrf", "sderf", "aderf"])
def test_cross_attention_with_padding_equals_the_trimmed_keys(family):
    q, k, v = _qkv(n_keys=10)
    mask = np.zeros((2, 3, 10), dtype=bool)
    mask[1, :, 6:] = True
    out = favor_attention(
        q, k, v, feature_map=family, key_padding_mask=mask, random_state=0
    )
    alone = favor_attention(
        q[1], k[1, :, :6], v[1, :, :6], feature_map=family, random_state=0
    )
    np.testing.assert_allclose(out[1], alone, rtol=1e-10)


@pytest.mark.parametrize("causal", [False, True])
def test_non_finite_padding_is_ignored(causal):
    q, k, v = _qkv()
    mask = np.zeros((2, 3, 12), dtype=bool)
    mask[0, :, 9:] = True
    kwargs = {"key_padding_mask": mask, "causal": causal, "random_state": 0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CausalStatisticsWarning)
        clean = favor_attention(q, k, v, **kwargs)
        dirty = [x.copy() for x in (q, k, v)]
        for x, value in zip(dirty, (np.nan, np.inf, -np.inf), strict=True):
            x[0, :, 9:] = value
        out = favor_attention(*dirty, **kwargs)
    real = ~mask
    np.testing.assert_allclose(out[real], clean[real], rtol=1e-12)
    assert np.all(np.isfinite(out))
    dirty[0][1, 0, 0] = np.nan
    with pytest.raises(ValueError, match="query contains NaN"):
        favor_attention(*dirty, **kwargs)


def test_self_attention_does_not_depend_on_the_tensor_objects():
    torch = pytest.importorskip("torch")
    q, _, v = (torch.from_numpy(x) for x in _qkv())
    mask = torch.zeros(2, 12, dtype=torch.bool)
    mask[1, 8:] = True
    same = favor_attention(q, q, v, key_padding_mask=mask, random_state=0)
    clone = favor_attention(q, q.clone(), v, key_padding_mask=mask, random_state=0)
    torch.testing.assert_close(clone, same, rtol=0, atol=0)
    moved = q.clone()
    moved[1, :, 8:] += 5.0
    shifted = favor_attention(
        moved, moved.clone(), v, key_padding_mask=mask, random_state=0
    )
    torch.testing.assert_close(shifted[1, :, :8], same[1, :, :8])


def test_numerator_dropout_is_unbiased():
    q, k, v = _qkv(shape=(1, 1, 12, 4))
    plain = favor_attention(q, k, v, random_state=0)
    rng = np.random.RandomState(1)
    draws = []
    for _ in range(400):
        omega = draw_weights(256, 4, np.random.RandomState(0), sampling="orthogonal")
        draws.append(
            favor_attention(q, k, v, omega=omega, dropout_p=0.3, random_state=rng)
        )
    draws = np.array(draws)
    assert np.abs(draws[0] - plain).max() > 1e-3
    error = np.abs(draws.mean(axis=0) - plain).max()
    assert error < 4 * draws.std(axis=0).max() / 400**0.5
    with pytest.raises(ValueError, match=r"dropout_p=0\.3 with NumPy inputs needs"):
        favor_attention(q, k, v, dropout_p=0.3)
    with pytest.raises(ValueError, match=r"dropout_p must be a float in \[0, 1\)"):
        favor_attention(q, k, v, dropout_p=1.0, random_state=0)


def test_tensor_dropout_uses_torch_generator():
    torch = pytest.importorskip("torch")
    q, k, v = (torch.from_numpy(x) for x in _qkv())
    torch.manual_seed(0)
    first = favor_attention(q, k, v, dropout_p=0.5, random_state=0)
    torch.manual_seed(0)
    again = favor_attention(q, k, v, dropout_p=0.5, random_state=0)
    torch.testing.assert_close(first, again, rtol=0, atol=0)
    assert (first - favor_attention(q, k, v, random_state=0)).abs().max() > 1e-3


@pytest.mark.parametrize(
    "position, bad",
    [
        (0, np.ones((2, 4, 3)) * (1 + 1j)),
        (1, np.full((2, 4, 3), "a")),
        (2, np.full((2, 4, 3), None, dtype=object)),
    ],
)
def test_complex_and_string_inputs_are_refused_by_name(position, bad):
    arrays = [np.ones((2, 4, 3)) for _ in range(3)]
    arrays[position] = bad
    name = ["query", "key", "value"][position]
    with pytest.raises(TypeError, match=f"{name} must have a real floating dtype"):
        favor_attention(*arrays)


@pytest.mark.parametrize("causal", [False, True])
def test_state_continues_a_sequence(causal):
    q, k, v = _qkv()
    omega = draw_weights(16, 4, np.random.RandomState(0), sampling="orthogonal")
    stats = AttentionStatistics.from_sequences(q, k)
    whole, state = favor_heads(
        q,
        k,
        v,
        omega,
        family="aderf",
        causal=causal,
        statistics=stats,
        output_final_state=True,
    )
    assert isinstance(state, FavorState)
    first, middle = favor_heads(
        q[..., :5, :],
        k[..., :5, :],
        v[..., :5, :],
        omega,
        family="aderf",
        causal=True,
        statistics=stats,
        output_final_state=True,
    )
    rest, end = favor_heads(
        q[..., 5:, :],
        k[..., 5:, :],
        v[..., 5:, :],
        omega,
        family="aderf",
        causal=True,
        initial_state=middle,
        output_final_state=True,
    )
    if causal:
        np.testing.assert_allclose(
            np.concatenate([first, rest], axis=-2), whole, rtol=1e-10
        )
    np.testing.assert_allclose(
        end.sums * np.exp(end.top), state.sums * np.exp(state.top), rtol=1e-10
    )


def _chunked(q, k, v, omega, keep, split, **options):
    """Outputs of the positions before ``split``, then of the rest from its state."""
    first, middle = favor_heads(
        *(x[..., :split, :] for x in (q, k, v)),
        omega,
        keep=keep[..., :split],
        output_final_state=True,
        **options,
    )
    rest, _ = favor_heads(
        *(x[..., split:, :] for x in (q, k, v)),
        omega,
        keep=keep[..., split:],
        initial_state=middle,
        **{**options, "statistics": None},
    )
    return first, rest


def _left_padded(shape):
    """Keys to keep: the first sequence's first 7 positions are padding."""
    keep = np.ones(shape, dtype=bool)
    keep[0, :, :7] = False
    return keep


@pytest.mark.parametrize("causal", [False, True])
def test_state_of_only_padding_continues_as_the_whole(causal):
    # Chunked prefill of a left-padded batch (transformers' prefill_chunk_size):
    # the first chunk of a row can be all padding, and the next chunk can start
    # with padding too. Its state holds no key; the queries of the next chunk
    # that see none get 0, the others the whole sequence's outputs (the
    # continuation assumed that a state always held a key and divided 0 by 0).
    q, k, v = _qkv()
    omega = draw_weights(16, 4, np.random.RandomState(0), sampling="orthogonal")
    stats = AttentionStatistics.from_sequences(q, k)
    keep = _left_padded(q.shape[:-1])
    options = {"family": "aderf", "causal": causal, "statistics": stats}
    whole, _ = favor_heads(q, k, v, omega, keep=keep, **options)
    first, rest = _chunked(q, k, v, omega, keep, 5, **options)
    assert np.isfinite(rest).all()
    np.testing.assert_array_equal(first[0], 0)  # they see no key
    if causal:
        np.testing.assert_allclose(
            np.concatenate([first, rest], axis=-2), whole, rtol=1e-10, atol=1e-12
        )
    else:
        # The second chunk's queries see its keys and the state's (none for the
        # padded sequence): every key, as in the whole sequence.
        np.testing.assert_allclose(rest, whole[..., 5:, :], rtol=1e-10, atol=1e-12)
        # A chunk of padding after a state of padding: no key to see, 0 (0/0).
        shorter = (x[..., :7, :] for x in (q, k, v))
        _, padded = _chunked(*shorter, omega, keep[..., :7], 5, **options)
        np.testing.assert_array_equal(padded[0], 0)


@pytest.mark.parametrize("causal", [False, True])
def test_state_continuation_with_padding_takes_tensors(causal):
    # The continuation of a state with a key mask, on tensors: the check of
    # which states hold a key must use the torch namespace's functions (the
    # bidirectional one called xp.logical_or, which it lacks).
    torch = pytest.importorskip("torch")
    q, k, v = _qkv()
    omega = draw_weights(16, 4, np.random.RandomState(0), sampling="orthogonal")
    arrays = (q, k, v, omega, _left_padded(q.shape[:-1]))
    options = {"family": "aderf", "causal": causal}
    expected = _chunked(*arrays, 5, **options)
    got = _chunked(*(torch.from_numpy(x) for x in arrays), 5, **options)
    for out, reference in zip(got, expected, strict=True):
        np.testing.assert_allclose(out.numpy(), reference, rtol=1e-10, atol=1e-12)


def test_engine_widens_half_precision_and_casts_back():
    torch = pytest.importorskip("torch")
    q, k, v = (torch.from_numpy(x).to(torch.float16) for x in _qkv())
    omega = torch.from_numpy(draw_weights(16, 4, np.random.RandomState(0)))
    out, _ = favor_heads(q, k, v, omega, family="sderf")
    wide, _ = favor_heads(q.float(), k.float(), v.float(), omega, family="sderf")
    assert out.dtype == torch.float16
    torch.testing.assert_close(out.float(), wide, rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize(
    "name, value, error, match",
    [
        ("feature_map", "rbf", ValueError, "feature_map must be one of"),
        ("n_features", 0, ValueError, "n_features must be an int >= 1, got 0"),
        ("causal", 1, TypeError, "causal must be a bool, got 1"),
        ("sampling", "sobol", ValueError, "sampling must be one of"),
        ("dropout", -0.1, ValueError, r"dropout must be a float in \[0, 1\)"),
    ],
)
def test_one_check_per_option(name, value, error, match):
    with pytest.raises(error, match=match):
        check_attention_option(name, value)
    assert check_attention_option("n_features", 3) == 3


def test_padded_query_rule_is_one_rule():
    from skfavor.attention import padded_query_rule

    keep, query_keep = np.array([True, False]), np.array([False, True, True])
    assert padded_query_rule(keep, query_keep, 3, 2) is query_keep
    assert padded_query_rule(keep, None, 2, 2) is keep
    assert padded_query_rule(keep, None, 3, 2) is None
    # An explicit query mask takes those queries out of the statistics.
    q, k, v = _qkv(n_keys=9)
    omega = draw_weights(16, 4, np.random.RandomState(0))
    query_keep = np.ones(q.shape[:-1], dtype=bool)
    query_keep[..., 8:] = False
    out, _ = favor_heads(q, k, v, omega, family="sderf", query_keep=query_keep)
    alone, _ = favor_heads(q[..., :8, :], k, v, omega, family="sderf")
    np.testing.assert_allclose(out[..., :8, :], alone, rtol=1e-10)


def test_engine_takes_the_query_mask_as_given():
    # The engine does not guess which queries a key mask marks: with as many
    # queries as keys, a cross-attention's key padding says nothing of its
    # queries. Front ends decide (the function: padded_query_rule; the layer
    # and the adapter: self-attention or causal) and pass query_keep.
    q, k, v = _qkv(shape=(2, 3, 8, 4))
    omega = draw_weights(16, 4, np.random.RandomState(0))
    keep = np.ones(k.shape[:-1], dtype=bool)
    keep[..., 5:] = False
    out, _ = favor_heads(q, k, v, omega, family="sderf", keep=keep)
    every = np.ones(q.shape[:-1], dtype=bool)
    kept, _ = favor_heads(q, k, v, omega, family="sderf", keep=keep, query_keep=every)
    np.testing.assert_allclose(out, kept, rtol=1e-12)
    marked, _ = favor_heads(q, k, v, omega, family="sderf", keep=keep, query_keep=keep)
    assert np.abs(out[..., :5, :] - marked[..., :5, :]).max() > 1e-3
    # The function keeps its documented rule: L == S, the key mask marks both.
    fn = favor_attention(
        q, k, v, omega=omega, feature_map="sderf", key_padding_mask=~keep
    )
    np.testing.assert_allclose(fn[..., :5, :], marked[..., :5, :], rtol=1e-10)


def test_attention_statistics_as_the_closed_forms_take_them():
    # One conversion (count 1, scatter = covariance) for every caller: the
    # engine's fit to outside statistics and the ONNX export's frozen maps.
    rng = np.random.default_rng(0)
    mean = rng.normal(size=(3, 4)).astype(np.float32)
    covariance = np.broadcast_to(np.eye(4, dtype=np.float32), (3, 4, 4))
    stats = AttentionStatistics(mean, covariance, 2 * mean, 3 * covariance)
    queries, keys = stats.sample_statistics(np.float64)
    for part, (m, c) in (
        (queries, (mean, covariance)),
        (keys, (2 * mean, 3 * covariance)),
    ):
        assert part.mean.dtype == part.scatter.dtype == np.float64
        np.testing.assert_array_equal(part.n_samples, np.ones(3))
        np.testing.assert_array_equal(part.mean, m)
        np.testing.assert_array_equal(part.scatter, c)
        np.testing.assert_array_equal(part.covariance, c)


@pytest.mark.parametrize(
    "change, error, match",
    [
        ({"scale": -1.0}, ValueError, "scale must be None or a float > 0, got -1.0"),
        ({"key_padding_mask": np.ones((2, 3, 12), int)}, TypeError, "key_padding_m"),
        ({"query_padding_mask": np.zeros((2, 3, 5), bool)}, ValueError, "query_padd"),
        ({"key": np.ones((2, 3, 12, 3))}, ValueError, "key must have the width d=4"),
        ({"query": np.ones(4)}, ValueError, r"query must have shape \(..., L, d\)"),
        ({"query": np.full((2, 3, 12, 4), np.nan)}, ValueError, "query contains NaN"),
        ({"key": "keys"}, TypeError, "key must have a real floating dtype"),
    ],
)
def test_statistics_from_sequences_refuse_bad_arguments_by_name(change, error, match):
    # Unchecked, scale=-1 gave complex statistics cast to real, an int mask of
    # ones (~1 == -2, truthy) kept every padded row, and NaN gave NaN means.
    q, k, _ = _qkv()
    arguments = {"query": q, "key": k, **change}
    with pytest.raises(error, match=match):
        AttentionStatistics.from_sequences(
            arguments.pop("query"), arguments.pop("key"), **arguments
        )


def test_statistics_from_sequences_take_an_n_by_s_mask_for_every_head():
    # As favor_attention's: with as many sequences as heads, an (N, S) mask
    # broadcast by NumPy's rules masked head j by sequence j's padding.
    q, k, _ = _qkv(shape=(3, 3, 10, 4))
    mask = np.zeros((3, 10), dtype=bool)
    mask[0, 7:] = True
    k[0, :, 7:] = np.nan  # padding is ignored
    stats = AttentionStatistics.from_sequences(q, k, key_padding_mask=mask)
    np.testing.assert_allclose(
        stats.key_mean[0, 2], k[0, 2, :7].mean(axis=0) * 4**-0.25, rtol=1e-12
    )
    np.testing.assert_allclose(
        stats.query_mean[2, 0], q[2, 0].mean(axis=0) * 4**-0.25, rtol=1e-12
    )


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_omega_is_named(bad):
    # Unchecked: inf leaked NumPy's "invalid value in matmul" RuntimeWarning
    # and both ended in an error that blamed the inputs.
    q, k, v = _qkv()
    omega = draw_weights(8, 4, np.random.RandomState(0), sampling="orthogonal")
    omega[3, 1] = bad
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="omega contains NaN or infinity"):
            favor_attention(q, k, v, omega=omega)


def test_non_finite_omega_is_named_for_tensors():
    torch = pytest.importorskip("torch")
    q, k, v = (torch.as_tensor(x) for x in _qkv())
    omega = torch.ones(8, 4, dtype=torch.float64)
    omega[0, 0] = float("inf")
    with pytest.raises(RuntimeError, match="omega contains NaN or infinity"):
        favor_attention(q, k, v, omega=omega)


def test_omega_that_is_not_numeric_is_a_type_error():
    q, k, v = _qkv()
    with pytest.raises(TypeError, match="omega must be real floating point, got <U"):
        favor_attention(q, k, v, omega="omega")


def test_favor_attention_and_from_sequences_take_one_mask_shape_rule():
    # favor_attention wanted the keys' exact rows (or (N, S) of 4-D inputs)
    # where from_sequences, which says it leaves padding out "as by
    # favor_attention", took any shape that broadcasts to them.
    q, k, v = _qkv(shape=(2, 3, 10, 4))
    mask = np.zeros((1, 10), dtype=bool)
    mask[0, 7:] = True
    k[..., 7:, :] = np.nan  # padding is ignored
    v[..., 7:, :] = np.nan
    out = favor_attention(q, k, v, key_padding_mask=mask, random_state=0)
    full = np.broadcast_to(mask, (2, 3, 10))
    expected = favor_attention(q, k, v, key_padding_mask=full, random_state=0)
    np.testing.assert_array_equal(out, expected)
    message = r"key_padding_mask must have a shape that broadcasts to \(2, 3, 10\)"
    for call in (favor_attention, AttentionStatistics.from_sequences):
        args = (q, k, v) if call is favor_attention else (q, k)
        with pytest.raises(ValueError, match=message):
            call(*args, key_padding_mask=np.zeros((5, 10), dtype=bool))


def test_sampling_and_the_deprecated_orthogonal_together_are_refused():
    # orthogonal overrode sampling: sampling='simplex', orthogonal=False drew
    # i.i.d. directions behind a FutureWarning suggesting sampling='iid'.
    q, k, v = _qkv()
    message = r"sampling='simplex' and the deprecated orthogonal=False"
    with pytest.raises(ValueError, match=message):
        favor_attention(q, k, v, sampling="simplex", orthogonal=False)
