"""FAVOR# attention against exact softmax attention and the core's feature maps."""

import warnings

import numpy as np
import pytest
from scipy.special import softmax
from sklearn import config_context

from skfavor import DERFSampler, GERFSampler, PositiveRFSampler
from skfavor.attention import favor_attention, softmax_attention

FAMILIES = ["posrf", "gerf", "sderf", "aderf", "saderf"]
FAVOR_SHARP = ["sderf", "aderf", "saderf"]


def _sampler(family, n_features, d, seed):
    """The scikit-learn transformer with ``family``'s map for ``exp(qᵀk / √d)``."""
    common = dict(
        n_components=n_features, kernel="softmax", gamma=d**-0.5, random_state=seed
    )
    if family == "posrf":
        return PositiveRFSampler(**common)
    if family == "gerf":
        return GERFSampler(**common)
    return DERFSampler(family, **common)


def _reference_attention(query, key, value, family, n_features, causal, seed):
    """Unchunked, unstabilised FAVOR attention from the public transformers."""
    d = query.shape[-1]
    out = np.empty((*query.shape[:-1], value.shape[-1]))
    for index in np.ndindex(query.shape[:-2]):
        sampler = _sampler(family, n_features, d, seed)
        sampler.fit(query[index], keys=key[index])
        kernel = sampler.transform(query[index]) @ sampler.transform_keys(key[index]).T
        if causal:
            kernel = np.tril(kernel)
        out[index] = kernel @ value[index] / kernel.sum(axis=1, keepdims=True)
    return out


def _relative_error(estimate, exact):
    return np.linalg.norm(estimate - exact) / np.linalg.norm(exact)


def _shifted_sets(seed, scale=0.5, shape=(2, 2, 64, 8)):
    """Queries and keys from different distributions: opposite means, and
    per-coordinate spreads that are reciprocal between the two sets."""
    rng = np.random.default_rng(seed)
    spread = np.exp(rng.uniform(-0.7, 0.7, size=shape[-1]))
    query = scale * (rng.normal(size=shape) * spread + 0.7)
    key = scale * (rng.normal(size=shape) / spread - 0.7)
    value = rng.normal(size=(*shape[:-1], 4))
    return query, key, value


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("family", FAMILIES)
def test_matches_the_transformers_features(family, causal):
    # Several key/query chunks and causal blocks: the running maxima, prefix
    # sums and masks must reproduce the plain ratio of kernel estimates.
    query, key, value = _shifted_sets(0, shape=(2, 1, 300, 5))
    with config_context(working_memory=0.05):
        out = favor_attention(
            query,
            key,
            value,
            feature_map=family,
            n_features=32,
            causal=causal,
            random_state=7,
        )
    expected = _reference_attention(query, key, value, family, 32, causal, seed=7)
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-12)


def test_parameters_are_fitted_per_leading_index():
    query, key, value = _shifted_sets(1, shape=(2, 3, 20, 4))
    out = favor_attention(query, key, value, random_state=0)
    for index in np.ndindex(2, 3):
        alone = favor_attention(query[index], key[index], value[index], random_state=0)
        np.testing.assert_allclose(out[index], alone, rtol=1e-12)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("family", FAMILIES)
def test_error_shrinks_as_n_features_grows(family, causal):
    # The error is a Monte Carlo error ∝ M^-½: 32 times more features should
    # divide it by about 5.7; over three data draws the ratio was 0.16–0.33,
    # PosRF's heavy tails giving the largest.
    query, key, value = _shifted_sets(2)
    exact = softmax_attention(query, key, value, causal=causal)

    def mean_error(n_features):
        return np.mean(
            [
                _relative_error(
                    favor_attention(
                        query,
                        key,
                        value,
                        feature_map=family,
                        n_features=n_features,
                        causal=causal,
                        random_state=seed,
                    ),
                    exact,
                )
                for seed in range(8)
            ]
        )

    few, many = mean_error(16), mean_error(512)
    assert many < 0.5 * few


@pytest.mark.parametrize("causal", [False, True])
def test_favor_sharp_beats_favor_plus_on_shifted_sets(causal):
    # Over five disjoint sets of four data draws and 12 seeds each, FAVOR+
    # erred by 0.19–0.31 and the FAVOR# variants by 0.51–0.77 times as much.
    mean_errors = {family: [] for family in ["posrf", *FAVOR_SHARP]}
    for data_seed in range(4):
        query, key, value = _shifted_sets(data_seed)
        exact = softmax_attention(query, key, value, causal=causal)
        for family, errors in mean_errors.items():
            errors.extend(
                _relative_error(
                    favor_attention(
                        query,
                        key,
                        value,
                        feature_map=family,
                        n_features=64,
                        causal=causal,
                        random_state=seed,
                    ),
                    exact,
                )
                for seed in range(12)
            )
    favor_plus = np.mean(mean_errors.pop("posrf"))
    for family, errors in mean_errors.items():
        assert np.mean(errors) < 0.9 * favor_plus, family


def test_causal_rows_depend_only_on_earlier_positions():
    query, key, value = _shifted_sets(3, shape=(2, 200, 6))
    later = np.zeros(200, dtype=bool)
    later[150:] = True
    changed = [np.where(later[:, None], x + 1.0, x) for x in (query, key, value)]
    # PosRF has no fitted parameters: its row i sees positions <= i only, also
    # across the 128-position causal blocks.
    kwargs = dict(feature_map="posrf", causal=True, random_state=0)
    out = favor_attention(query, key, value, **kwargs)
    np.testing.assert_allclose(
        favor_attention(*changed, **kwargs)[:, :150], out[:, :150], rtol=1e-12
    )
    for i in (0, 127, 128, 149):
        prefix = slice(0, i + 1)
        alone = favor_attention(
            query[:, i : i + 1],
            key[:, prefix],
            value[:, prefix],
            feature_map="posrf",
            random_state=0,
        )
        # Rounding relative to the outputs' scale (entries can nearly cancel).
        np.testing.assert_allclose(
            out[:, i : i + 1], alone, rtol=1e-12, atol=1e-12 * np.abs(out).max()
        )
    # Fitted families see the future only through their parameters, which
    # the values do not enter.
    for family in FAVOR_SHARP:
        kwargs = dict(feature_map=family, causal=True, random_state=0)
        out = favor_attention(query, key, value, **kwargs)
        moved = favor_attention(query, key, changed[2], **kwargs)
        np.testing.assert_allclose(moved[:, :150], out[:, :150], rtol=1e-12)
        assert not np.allclose(moved[:, 150:], out[:, 150:])


def test_random_state_controls_the_draw():
    query, key, value = _shifted_sets(4, shape=(30, 4))
    first = favor_attention(query, key, value, random_state=3)
    np.testing.assert_array_equal(
        favor_attention(query, key, value, random_state=3), first
    )
    assert not np.allclose(favor_attention(query, key, value, random_state=4), first)


@pytest.mark.parametrize("causal", [False, True])
def test_softmax_attention_is_exact(causal):
    rng = np.random.default_rng(0)
    query, key, value = rng.normal(size=(3, 2, 7, 3))
    logits = query @ key.transpose(0, 2, 1) / np.sqrt(3)
    if causal:
        logits = np.where(np.triu(np.ones((7, 7), dtype=bool), 1), -np.inf, logits)
    expected = softmax(logits, axis=-1) @ value
    np.testing.assert_allclose(
        softmax_attention(query, key, value, causal=causal), expected, rtol=1e-12
    )


def test_softmax_attention_refuses_what_would_be_nan():
    # It returned NaN silently for NaN inputs and for logits that overflow
    # (with NumPy's RuntimeWarning), as favor_attention does not.
    query = np.ones((4, 3))
    bad = query.copy()
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match="key contains NaN"):
        softmax_attention(query, bad, query)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(FloatingPointError, match="logits overflow"):
            softmax_attention(query * 1e200, query * 1e200, query)


def test_softmax_attention_computes_half_precision_in_float32():
    # In float16 the logits q·k lose their precision (and overflow at 65504).
    torch = pytest.importorskip("torch")
    generator = torch.Generator().manual_seed(0)
    q, k, v = torch.randn(3, 20, 64, generator=generator, dtype=torch.float64)
    q, k = 40 * q, 40 * k
    half = softmax_attention(q.half(), k.half(), v.half())
    assert half.dtype == torch.float16
    # As the float64 attention of the same (rounded) inputs, to half's rounding;
    # computed in float16 it was off by more than 1.
    wide = softmax_attention(q.half().double(), k.half().double(), v.half().double())
    torch.testing.assert_close(half.double(), wide, rtol=2e-3, atol=2e-3)


def test_shapes_and_dtypes():
    rng = np.random.default_rng(0)
    query = rng.normal(size=(5, 3)).astype(np.float32)
    key = rng.normal(size=(9, 3)).astype(np.float32)
    value = rng.normal(size=(9, 2)).astype(np.float32)
    out = favor_attention(query, key, value, feature_map="aderf", random_state=0)
    assert out.shape == (5, 2) and out.dtype == np.float32
    as_lists = favor_attention(
        query.tolist(), key.tolist(), value.tolist(), random_state=0
    )
    assert as_lists.dtype == np.float64
    empty = favor_attention(
        np.ones((0, 4, 5, 3)), np.ones((0, 4, 9, 3)), np.ones((0, 4, 9, 2))
    )
    assert empty.shape == (0, 4, 5, 2)


def test_underflow_is_an_error_not_nan():
    rng = np.random.default_rng(0)
    query, key, value = (10 * rng.normal(size=(3, 30, 4))).astype(np.float32)
    with pytest.raises(FloatingPointError, match="normaliser underflowed"):
        favor_attention(query, key, value, n_features=64, random_state=0)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"feature_map": "favor"}, ValueError, "feature_map must be one of"),
        ({"n_features": 0}, ValueError, "n_features must be an int >= 1, got 0"),
        ({"n_features": 2.5}, ValueError, "n_features must be an int"),
        ({"n_features": True}, ValueError, "n_features must be an int"),
        ({"causal": "yes"}, TypeError, "causal must be a bool"),
        ({"orthogonal": 1}, TypeError, "orthogonal must be a bool"),
        ({"random_state": "seed"}, ValueError, "random_state must be None"),
    ],
)
def test_bad_options_name_the_parameter(kwargs, error, match):
    x = np.ones((4, 3))
    with pytest.raises(error, match=match):
        favor_attention(x, x, x, **kwargs)


@pytest.mark.parametrize(
    "shapes, causal, match",
    [
        (((3,), (3, 3), (3, 3)), False, r"query must have shape \(..., L, d\)"),
        (((2, 4, 3), (3, 4, 3), (3, 4, 3)), False, "key must have shape"),
        (((4, 3), (4, 2), (4, 3)), False, "key must have the width d=3"),
        (((4, 3), (5, 3), (4, 3)), False, "value must have shape"),
        (((4, 3), (5, 3), (5, 3)), True, "causal=True needs as many keys"),
        (((0, 3), (5, 3), (5, 3)), False, "at least one position"),
    ],
)
def test_bad_shapes_name_the_parameter(shapes, causal, match):
    query, key, value = (np.ones(shape) for shape in shapes)
    with pytest.raises(ValueError, match=match):
        favor_attention(query, key, value, causal=causal)


def test_non_finite_inputs_are_rejected():
    query = np.ones((4, 3))
    bad = query.copy()
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match="query contains NaN"):
        favor_attention(bad, query, query)
    with pytest.raises(ValueError, match="key contains NaN"):
        favor_attention(query, bad, query)
    with pytest.raises(ValueError, match="value contains NaN"):
        favor_attention(query, query, bad)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("family", FAMILIES)
def test_numpy_and_torch_agree(family, causal):
    torch = pytest.importorskip("torch")
    query, key, value = _shifted_sets(5, shape=(2, 2, 40, 6))
    kwargs = dict(feature_map=family, causal=causal, n_features=64, random_state=1)
    expected = favor_attention(query, key, value, **kwargs)
    out = favor_attention(*map(torch.from_numpy, (query, key, value)), **kwargs)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float64
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10, atol=1e-12)
    single = favor_attention(
        *(torch.tensor(x, dtype=torch.float32) for x in (query, key, value)), **kwargs
    )
    assert single.dtype == torch.float32
    np.testing.assert_allclose(single.numpy(), expected, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("family", FAMILIES)
def test_gradients_flow_through_the_features(family, causal):
    torch = pytest.importorskip("torch")
    inputs = [
        torch.tensor(x, requires_grad=True) for x in _shifted_sets(6, shape=(2, 30, 4))
    ]
    out = favor_attention(*inputs, feature_map=family, causal=causal, random_state=0)
    (out**2).sum().backward()
    for x in inputs:
        assert x.grad is not None
        assert torch.isfinite(x.grad).all()
        assert (x.grad != 0).any()


@pytest.mark.parametrize("causal", [False, True])
def test_posrf_gradient_is_exact(causal):
    # PosRF has no fitted parameters, so the estimate is a smooth function of
    # the inputs alone and finite differences must agree with autograd.
    torch = pytest.importorskip("torch")
    inputs = tuple(
        torch.tensor(x, requires_grad=True) for x in _shifted_sets(7, shape=(8, 3))
    )
    assert torch.autograd.gradcheck(
        lambda q, k, v: favor_attention(
            q, k, v, feature_map="posrf", n_features=16, causal=causal, random_state=0
        ),
        inputs,
    )


def test_torch_rejects_integer_and_mixed_inputs():
    torch = pytest.importorskip("torch")
    x = torch.ones((4, 3))
    with pytest.raises(TypeError, match="value must have a real floating dtype"):
        favor_attention(x, x, torch.ones((4, 3), dtype=torch.int64))
    with pytest.raises(TypeError, match="one namespace"):
        favor_attention(x, x, np.ones((4, 3)))


@pytest.mark.parametrize("orthogonal, sampling", [(True, "orthogonal"), (False, "iid")])
def test_orthogonal_is_deprecated_for_sampling(orthogonal, sampling):
    rng = np.random.default_rng(0)
    q, k, v = rng.normal(scale=0.5, size=(3, 2, 6, 4))
    expected = favor_attention(q, k, v, n_features=8, sampling=sampling, random_state=0)
    with pytest.warns(FutureWarning, match="use sampling="):
        got = favor_attention(
            q, k, v, n_features=8, orthogonal=orthogonal, random_state=0
        )
    np.testing.assert_array_equal(got, expected)


def test_simplex_sampling_is_accepted_and_unknown_names_are_not():
    rng = np.random.default_rng(1)
    q, k, v = rng.normal(scale=0.5, size=(3, 2, 6, 4))
    out = favor_attention(q, k, v, n_features=8, sampling="simplex", random_state=0)
    assert np.all(np.isfinite(out))
    with pytest.raises(ValueError, match="sampling must be one of"):
        favor_attention(q, k, v, sampling="halton")


def _sequence_slices(output, length: int) -> int:
    """Slices of a whole ``length``-long sequence's positions in ``output``'s graph."""
    seen, stack, count = set(), [output.grad_fn], 0
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        if type(node).__name__ == "SliceBackward0":
            sizes, dim = node._saved_self_sym_sizes, node._saved_dim
            dim = (dim - 2**64 if dim >= 2**63 else dim) % len(sizes)  # unsigned
            count += sizes[dim] == length and dim == len(sizes) - 2
        stack.extend(next_node for next_node, _ in node.next_functions)
    return count


@pytest.mark.parametrize("causal", [False, True])
def test_backward_through_blocks_stays_linear(monkeypatch, causal):
    # Each block of positions must come from one split of the sequence: the
    # gradient of a slice is a zero-filled tensor of the whole sequence, so
    # slicing every block made backward O(L² / block) (causal f+b took 130 ms
    # at L 2048 and 750 ms at L 8192, a log-log slope of 1.26; now 116 and 477).
    torch = pytest.importorskip("torch")
    import skfavor._linear_attention as linear_attention

    monkeypatch.setattr(linear_attention, "BLOCK_BYTES", 1)
    monkeypatch.setattr(linear_attention, "MIN_BLOCK", 8)
    monkeypatch.setattr(linear_attention, "CAUSAL_BLOCK", 8)
    monkeypatch.setattr(linear_attention, "CPU_CAUSAL_BLOCK", 8)
    counts = []
    for length in (32, 128):
        inputs = [
            torch.tensor(x, requires_grad=True)
            for x in _shifted_sets(8, shape=(2, length, 4))
        ]
        out = favor_attention(
            *inputs, feature_map="posrf", causal=causal, n_features=16, random_state=0
        )
        counts.append(_sequence_slices(out, length))
        (out**2).sum().backward()
        assert all(torch.isfinite(x.grad).all() for x in inputs)
    # 4 and 16 blocks: no slice of the whole sequence per block.
    assert counts == [0, 0], counts


def test_position_blocks_of_no_positions_are_none():
    # As NumPy's slices: an empty sequence has no blocks (a bidirectional
    # decoding step with no new keys keeps its carried sums).
    torch = pytest.importorskip("torch")
    from skfavor._linear_attention import position_blocks
    from skfavor._namespace import get_namespace

    empty = torch.zeros(2, 0, 3)
    xp = get_namespace(empty)
    assert list(position_blocks(empty, 4, xp)) == []
    assert position_blocks(np.zeros((2, 0, 3)), 4, get_namespace(np.zeros(1))) == []
    blocks = position_blocks(torch.arange(10.0).reshape(1, 10, 1), 4, xp)
    assert [block.shape[-2] for block in blocks] == [4, 4, 2]
