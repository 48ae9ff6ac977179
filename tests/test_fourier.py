"""FourierSampler: sin/cos random Fourier features (§5 of the docs' math page)."""

import numpy as np
import pytest
import scipy.sparse as sp
from _helpers import traced_peak
from sklearn.kernel_approximation import RBFSampler
from threadpoolctl import threadpool_limits

from skfavor import FourierSampler
from skfavor.metrics import log_variance


def test_rows_are_mapped_independently_and_parameters_kept():
    """What the checks of test_common.py check at n_components=1, at 2."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(12, 3))
    sampler = FourierSampler(n_components=2, random_state=0)
    params = sampler.get_params()
    sampler.fit(X[:1])
    assert sampler.get_params() == params
    full = sampler.transform(X)
    np.testing.assert_array_equal(sampler.transform(X[5:9]), full[5:9])
    order = rng.permutation(len(X))
    np.testing.assert_array_equal(sampler.transform(X[order]), full[order])
    with pytest.raises(ValueError, match="Expected 2D array"):
        sampler.transform(X[0])
    assert FourierSampler(n_components=2).fit(X[:, :1]).transform(X[:, :1]).shape == (
        12,
        2,
    )


@pytest.fixture(scope="module")
def X():
    return np.random.default_rng(0).normal(size=(30, 4))


def test_features_are_cos_sin_pairs_of_the_scaled_directions(X):
    sampler = FourierSampler(n_components=6, gamma=0.3, random_state=0).fit(X)
    phases = (X - X.mean(0)) @ (np.sqrt(0.6) * sampler.random_weights_).T
    expected = np.empty((len(X), 6))
    expected[:, 0::2], expected[:, 1::2] = np.cos(phases), np.sin(phases)
    np.testing.assert_allclose(sampler.transform(X), expected / np.sqrt(3))
    assert sampler.random_weights_.shape == (3, 4)


def test_gamma_scale_is_that_of_rbf_sampler(X):
    ours = FourierSampler(gamma="scale").fit(X)
    assert ours.gamma_ == pytest.approx(1.0 / (X.shape[1] * X.var()))
    assert ours.gamma_ == pytest.approx(RBFSampler(gamma="scale").fit(X)._gamma)


def test_gamma_scale_refuses_inputs_whose_variance_overflows(X):
    """``X.var()`` of entries near 1e200 overflows float64: 'scale' gave
    ``gamma_ = nan`` and all-NaN features behind a NumPy RuntimeWarning; the
    positive samplers refuse such inputs by name, and so must this one."""
    sampler = FourierSampler(gamma="scale", random_state=0)
    with pytest.raises(ValueError, match="variance of X overflows float64"):
        sampler.fit(X * 1e200)
    # A numeric gamma needs no variance: the fit stands, as RBFSampler's.
    assert np.isfinite(FourierSampler(random_state=0).fit(X * 1e200).gamma_)


def test_sparse_and_float32_agree_with_dense_float64(X):
    X = np.where(np.abs(X) > 0.8, X, 0.0)
    sampler = FourierSampler(n_components=20, random_state=0).fit(X)
    dense = sampler.transform(X)
    np.testing.assert_allclose(sampler.transform(sp.csr_matrix(X)), dense, atol=1e-12)
    single = sampler.transform(X.astype(np.float32))
    assert single.dtype == np.float32
    np.testing.assert_allclose(single, dense, atol=1e-5)


def test_estimate_is_translation_invariant_far_from_the_origin(X):
    """A shift of 1e4 leaves float32 phases accurate (the fit centres them)."""
    near = FourierSampler(n_components=200, random_state=0).fit(X)
    far = FourierSampler(n_components=200, random_state=0).fit(X + 1e4)
    far_features = far.transform((X + 1e4).astype(np.float32))
    np.testing.assert_allclose(
        far_features @ far_features.T,
        near.transform(X) @ near.transform(X).T,
        atol=1e-3,
    )


@pytest.mark.parametrize("sampling", ["iid", "orthogonal", "simplex"])
def test_prefixes_are_the_smaller_map(X, sampling):
    """φ⁽ᵐ⁾ = √(M/m) φ⁽ᴹ⁾[:m] for even m (§11)."""
    full = FourierSampler(n_components=20, sampling=sampling, random_state=4).fit(X)
    for m in (2, 8, 14):
        small = FourierSampler(n_components=m, sampling=sampling, random_state=4)
        np.testing.assert_allclose(
            small.fit(X).transform(X),
            np.sqrt(20 / m) * full.transform(X)[:, :m],
            atol=1e-12,
        )


def test_log_variance_matches_monte_carlo():
    """One feature's share of a pair: 2 · ½(1 − K²)² (§5), at equal n_components."""
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(4, 3)) * 0.6, rng.normal(size=(3, 3)) * 0.6
    n_components = 200_000
    sampler = FourierSampler(
        n_components=n_components, gamma=0.5, sampling="iid", random_state=1
    ).fit(X)
    fx, fy = sampler.transform(X), sampler.transform(Y)
    pairs = n_components / 2
    # One estimate per direction: cos·cos + sin·sin, times the number of pairs.
    per_pair = pairs * (
        fx[:, None, 0::2] * fy[None, :, 0::2] + fx[:, None, 1::2] * fy[None, :, 1::2]
    )
    # Sample variance of 10⁵ draws: relative error ≈ √(2/10⁵)·(kurtosis) ≪ 0.05.
    empirical = np.log(2 * per_pair.var(axis=2, ddof=1))
    np.testing.assert_allclose(empirical, log_variance(sampler, X, Y), atol=0.05)
    K = np.exp(-0.5 * ((X[:, None] - Y[None]) ** 2).sum(-1))
    np.testing.assert_allclose(log_variance(sampler, X, Y), 2 * np.log1p(-(K**2)))


def test_identical_rows_have_zero_variance():
    X = np.random.default_rng(1).normal(size=(5, 3))
    sampler = FourierSampler(random_state=0).fit(X)
    assert np.all(np.diag(log_variance(sampler, X)) == -np.inf)


def test_per_feature_variance_is_below_rbf_samplers():
    """(1 − K²)² ≤ 1 + ½K⁴ − K² (the difference is K² − ½K⁴ ≥ 0)."""
    X = np.random.default_rng(2).normal(size=(20, 3))
    ours = log_variance(FourierSampler(gamma=0.2).fit(X), X)
    rff = log_variance(RBFSampler(gamma=0.2).fit(X), X)
    off = ~np.eye(len(X), dtype=bool)
    assert np.all(ours[off] < rff[off])


@pytest.mark.parametrize("sampling", ["orthogonal", "simplex"])
def test_coupled_directions_lower_the_error(sampling):
    """Orthogonal (Yu et al. 2016) and simplex directions beat i.i.d. ones.

    At d = 16, M = 32 (one block of 16 directions), γ = 1/(2d), i.i.d.
    directions give a mean squared error of 0.0143 ± 0.0003 over 200 seeds,
    orthogonal ones 0.0062, simplex ones 0.0059; a ratio below 0.75 would be
    1 ± 0.04 without the coupling.
    """
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 16))
    K = np.exp(-((X[:, None] - X[None]) ** 2).sum(-1) / 32)

    def mse(sampling):
        errors = []
        for seed in range(200):
            f = FourierSampler(
                n_components=32, gamma=1 / 32, sampling=sampling, random_state=seed
            ).fit(X)
            errors.append(np.mean((f.transform(X) @ f.transform(X).T - K) ** 2))
        return np.mean(errors)

    assert mse(sampling) < 0.75 * mse("iid")


# --- any n_components ≥ 1, as RBFSampler (issue 16) -------------------------


@pytest.mark.parametrize("n_components", [1, 3, 7, 8])
def test_any_n_components_gives_that_many_features(X, n_components):
    sampler = FourierSampler(n_components=n_components, random_state=0).fit(X)
    assert sampler.transform(X).shape == (len(X), n_components)
    assert sampler.random_weights_.shape == ((n_components + 1) // 2, X.shape[1])
    assert sampler.random_offset_.shape == (n_components % 2,)


@pytest.mark.parametrize("sampling", ["iid", "orthogonal", "simplex"])
def test_odd_n_components_adds_one_random_phase_feature(X, sampling):
    """M = 2p + 1: the p pairs of the 2p-feature map (of the same seed), and
    one feature √2 cos(ωᵀz + u) of RBFSampler's form, all scaled by √(2/M)."""
    odd = FourierSampler(n_components=7, gamma=0.3, sampling=sampling, random_state=2)
    even = FourierSampler(n_components=6, gamma=0.3, sampling=sampling, random_state=2)
    features, pairs = odd.fit(X).transform(X), even.fit(X).transform(X)
    np.testing.assert_allclose(features[:, :6], np.sqrt(6 / 7) * pairs, atol=1e-12)
    z = np.sqrt(0.6) * (X - X.mean(0))
    phase = z @ odd.random_weights_[3] + odd.random_offset_[0]
    np.testing.assert_allclose(features[:, 6], np.sqrt(2 / 7) * np.cos(phase))
    assert 0 <= odd.random_offset_[0] < 2 * np.pi


@pytest.mark.parametrize("n_components", [1, 3])
def test_odd_n_components_is_unbiased(n_components):
    """Mean of 4000 seeds' estimates within 4 standard errors of the kernel.

    A cos·cos feature alone would be biased by ½ exp(-γ|x + y|²)-like terms;
    the random phase removes them, as in RBFSampler.
    """
    rng = np.random.default_rng(5)
    X = rng.normal(size=(6, 2)) * 0.7
    K = np.exp(-0.5 * ((X[:, None] - X[None]) ** 2).sum(-1))
    estimates = []
    for seed in range(4000):
        f = FourierSampler(
            n_components=n_components, gamma=0.5, sampling="iid", random_state=seed
        ).fit(X)
        features = f.transform(X)
        estimates.append(features @ features.T)
    estimates = np.array(estimates)
    error = estimates.mean(0) - K
    standard_error = estimates.std(0, ddof=1) / np.sqrt(len(estimates))
    assert np.all(np.abs(error) <= 4 * standard_error + 1e-12)
    # The estimate's spread is that of RBFSampler's feature for M = 1.
    if n_components == 1:
        rff = [
            RBFSampler(n_components=1, gamma=0.5, random_state=s).fit(X).transform(X)
            for s in range(4000)
        ]
        rff = np.array([r @ r.T for r in rff])
        off = ~np.eye(len(X), dtype=bool)
        np.testing.assert_allclose(estimates.var(0)[off], rff.var(0)[off], rtol=0.15)


def _written_out(sampler, dense):
    """The features of float64 rows ``dense`` as §5 writes them: cos/sin pairs
    of the scaled, centred phases, and for an odd width a last random-phase
    cosine."""
    n_components = sampler.n_components
    phases = (dense - sampler.center_) @ (
        np.sqrt(2 * sampler.gamma_) * sampler.random_weights_
    ).T
    expected = np.empty((len(dense), n_components))
    n_pairs = n_components // 2
    expected[:, 0 : 2 * n_pairs : 2] = np.cos(phases[:, :n_pairs])
    expected[:, 1 : 2 * n_pairs : 2] = np.sin(phases[:, :n_pairs])
    if n_components % 2:
        expected[:, -1] = np.cos(phases[:, -1] + sampler.random_offset_[0])
    return expected * np.sqrt(2.0 / n_components)


@pytest.mark.parametrize("n_components", [64, 65])
@pytest.mark.parametrize(
    "sparse, route, dtype",
    [
        (False, "in place", np.float64),
        (False, "pairs", np.float64),
        (False, "in place", np.float32),
        (False, "pairs", np.float32),  # cos/sin through the scratch
        (True, "pairs", np.float64),
        (True, "pairs", np.float32),  # sparse rows' phases through the scratch
    ],
)
def test_blocks_and_threads_do_not_change_the_features(
    monkeypatch, n_components, sparse, route, dtype
):
    # Tiny working memory: many blocks of a few rows, shared among threads,
    # and parts of blocks; the features equal the definition's all the same,
    # on either route (a short output of narrow dense rows is mapped in place
    # unless rows that narrow are not allowed to be).
    from sklearn import config_context
    from threadpoolctl import threadpool_limits

    from skfavor import fourier as fourier_module

    taken = []
    for name in ("_transform_in_place", "_transform_pairs"):
        method = getattr(FourierSampler, name)

        def spy(self, *args, _method=method, _name=name):
            taken.append(_name)
            return _method(self, *args)

        monkeypatch.setattr(FourierSampler, name, spy)
    if route == "pairs":
        monkeypatch.setattr(fourier_module, "_IN_PLACE_MAX_FEATURES", 0)
    rng = np.random.default_rng(1)
    X = rng.normal(size=(1500, 5)) + 3.0
    sampler = FourierSampler(n_components=n_components, random_state=0).fit(X)
    inputs = sp.csr_matrix(np.where(X > 3.5, X, 0.0)) if sparse else X
    expected = _written_out(sampler, inputs.toarray() if sparse else inputs)
    inputs = inputs.astype(dtype)
    with config_context(working_memory=1e-3):
        small_blocks = sampler.transform(inputs)
    with threadpool_limits(limits=1):
        one_thread = sampler.transform(inputs)
    taken.clear()  # blocks of a row or two have small buffers: the pairs' route
    tolerance = 1e-12 if dtype == np.float64 else 2e-6
    for features in (small_blocks, one_thread, sampler.transform(inputs)):
        assert features.dtype == dtype
        np.testing.assert_allclose(features, expected, rtol=0, atol=tolerance)
    assert set(taken) == {
        "_transform_in_place" if route == "in place" else "_transform_pairs"
    }


@pytest.mark.parametrize("n_features", [8, 300])
def test_blocks_follow_the_package_plan(monkeypatch, n_features):
    # FourierSampler cuts and shares out its rows by plan_blocks, as the
    # positive maps do: short transforms of wide rows on BLAS's threads
    # (GEMM on all cores, then cos and sin), narrow ones on threads of ours.
    # The features do not change.
    from skfavor import _blocks
    from skfavor import fourier as fourier_module

    monkeypatch.setattr(_blocks, "default_threads", lambda: 2)
    seen = []
    run = fourier_module.run_in_blocks

    def recorded(n_rows, n_block_rows, threads, make_worker, **kwargs):
        seen.append(kwargs.get("blas_threads", False))
        return run(n_rows, n_block_rows, threads, make_worker, **kwargs)

    monkeypatch.setattr(fourier_module, "run_in_blocks", recorded)
    X = np.random.default_rng(0).normal(size=(2000, n_features)) * 0.1
    sampler = FourierSampler(n_components=1024, random_state=0).fit(X)
    features = sampler.transform(X)
    plan = _blocks.plan_blocks(2000, 1024, n_features, 8, None)
    assert seen == [plan.blas_threads] == [n_features == 300]
    with threadpool_limits(limits=1):
        expected = sampler.transform(X)
    np.testing.assert_allclose(features, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_transform_needs_little_memory_beyond_its_output(dtype):
    # The phases are computed a part of a block at a time (a few % of the
    # output in all), not for all rows at once (which was 1.5 times it).
    X = np.random.default_rng(2).normal(size=(8000, 16)).astype(dtype)
    sampler = FourierSampler(n_components=512, random_state=0).fit(X)
    sampler.transform(X)  # the weights' cast to dtype (of its route) is cached
    features, peak = traced_peak(lambda: sampler.transform(X))
    assert features.dtype == dtype
    assert peak <= 1.06 * features.nbytes


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_components", [256, 255, 1])
def test_small_transforms_need_little_memory_beyond_their_output(dtype, n_components):
    """Issue 20: peak at most 1.05 x the output at 1000 x 32 -> 256 too.

    Each thread's phase buffers were at least 128 KiB, 16 % of this float32
    output (8 % in float64); the strided cos/sin stores added numpy's own
    32 KiB buffers. Small outputs of narrow rows are now computed in their
    own rows, and still equal the definition.
    """
    X = np.random.default_rng(5).normal(size=(1000, 32)).astype(dtype)
    sampler = FourierSampler(n_components=n_components, random_state=0).fit(X)
    sampler.transform(X)  # the weights' cast to dtype (of its route) is cached
    features, peak = traced_peak(lambda: sampler.transform(X))
    assert features.dtype == dtype
    if n_components > 1:  # one feature's output is 32 times narrower than X
        assert peak <= 1.05 * features.nbytes
    expected = _written_out(sampler, X.astype(float))
    tolerance = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(features, expected, rtol=0, atol=tolerance)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(50000, 64, 2), (50000, 32, 8), (1000, 32, 256)])
def test_the_route_taken_needs_no_more_memory_than_the_pairs(monkeypatch, dtype, shape):
    """The in-place route is taken to save memory; it must not cost more.

    Its parts held 64 KiB of output, so an output much narrower than the
    rows had parts of many rows, and their ``[x − c, 1]`` rows took many
    times the output: 50000 x 64 -> 2 float32 peaked at 6.5 x the output,
    where the pairs' route (and the transform before the routes) took 1.4.
    """
    from skfavor import fourier as fourier_module

    n_samples, n_features, n_components = shape
    X = np.random.default_rng(0).normal(size=(n_samples, n_features)).astype(dtype)
    sampler = FourierSampler(n_components=n_components, random_state=0)
    sampler.fit(X[:100])
    sampler.transform(X)  # both routes' weights are cached
    _, peak = traced_peak(lambda: sampler.transform(X))
    with monkeypatch.context() as patch:
        patch.setattr(fourier_module, "_IN_PLACE_MAX_FEATURES", 0)
        sampler.transform(X)
        features, pairs_peak = traced_peak(lambda: sampler.transform(X))
    assert peak <= pairs_peak + 0.01 * features.nbytes


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1000, 300, 1024), (600, 40, 2048)])
def test_first_transform_needs_no_float64_copy_of_the_weights(dtype, shape):
    """A first call casts the weights for its route (pairs, then in place):
    beyond the output it needs that cast and the routes' few % only.

    Both routes' weights were scaled into a float64 array first, then copied
    to ``dtype`` (and the in-place ones built in float64 twice as wide): at
    1000 x 300 -> 1024 float32 the first call took 33 % of the output beyond
    the output and the cast, 10 % before the two routes (8 % now).
    """
    n_samples, n_features, n_components = shape
    X = np.random.default_rng(0).normal(size=(n_samples, n_features)).astype(dtype)
    sampler = FourierSampler(n_components=n_components, random_state=0).fit(X)
    features, peak = traced_peak(lambda: sampler.transform(X))
    cast = sum(terms[0].nbytes for _, terms in sampler._cast.values())
    assert peak <= features.nbytes + cast + 0.1 * features.nbytes


def test_pickle_leaves_out_the_cached_casts(X):
    import pickle

    sampler = FourierSampler(n_components=8, random_state=0).fit(X)
    expected = sampler.transform(X.astype(np.float32))
    restored = pickle.loads(pickle.dumps(sampler))
    assert "_cast" not in restored.__dict__
    np.testing.assert_array_equal(restored.transform(X.astype(np.float32)), expected)


def test_pickling_leaves_the_live_estimator_unchanged(X):
    import copy
    import pickle

    sampler = FourierSampler(n_components=8, random_state=0).fit(X)
    sampler.transform(X)
    before = dict(sampler.__dict__)
    pickle.dumps(sampler)
    copy.deepcopy(sampler)
    assert sampler.__dict__.keys() == before.keys()


def test_edited_fitted_attributes_are_used(X):
    sampler = FourierSampler(n_components=4, random_state=0).fit(X)
    first = sampler.transform(X)
    sampler.gamma_ = 5.0 * sampler.gamma_
    assert not np.allclose(sampler.transform(X), first)
    edited = sampler.transform(X)
    sampler.random_weights_ = 2.0 * sampler.random_weights_
    assert not np.allclose(sampler.transform(X), edited)
    odd = FourierSampler(n_components=5, random_state=0).fit(X)
    before = odd.transform(X)
    odd.random_offset_ = odd.random_offset_ + 1.0
    assert not np.allclose(odd.transform(X)[:, -1], before[:, -1])
    np.testing.assert_array_equal(odd.transform(X)[:, :-1], before[:, :-1])


@pytest.mark.parametrize("route", ["in place", "pairs"])
def test_offset_edited_in_place_is_used_on_either_route(monkeypatch, X, route):
    """``random_offset_ += 1`` after a transform: the pairs' route read the
    offset at each call, so it always took effect (as before the in-place
    route); the in-place route bakes it into cached weights, whose check by
    identity missed it and kept the old phase: features that depended on the
    route, not by rounding."""
    from skfavor import fourier as fourier_module

    if route == "pairs":
        monkeypatch.setattr(fourier_module, "_IN_PLACE_MAX_FEATURES", 0)
    sampler = FourierSampler(n_components=5, random_state=0).fit(X)
    sampler.transform(X)  # the weights are cached
    sampler.random_offset_ += 1.0
    phases = (X - sampler.center_) @ (
        np.sqrt(2 * sampler.gamma_) * sampler.random_weights_[-1]
    )
    expected = np.cos(phases + sampler.random_offset_[0]) * np.sqrt(2.0 / 5)
    np.testing.assert_allclose(sampler.transform(X)[:, -1], expected, atol=1e-12)
    sampler.random_offset_[0] = 0.25
    expected = np.cos(phases + 0.25) * np.sqrt(2.0 / 5)
    np.testing.assert_allclose(sampler.transform(X)[:, -1], expected, atol=1e-12)


@pytest.mark.parametrize("fitted, changed", [(6, 4), (6, 5), (5, 6), (5, 3)])
def test_n_components_set_after_fit_waits_for_the_next_fit(X, fitted, changed):
    """The fitted map is used until a refit, as by RBFSampler and our samplers.

    transform read the parameter: 6 -> 4 died in NumPy's matmul, 5 -> 6 gave
    six features of another map without a word.
    """
    sampler = FourierSampler(n_components=fitted, random_state=0).fit(X)
    first = sampler.transform(X)
    sampler.set_params(n_components=changed)
    np.testing.assert_array_equal(sampler.transform(X), first)
    assert sampler.get_feature_names_out().size == fitted
    assert sampler.fit(X).transform(X).shape == (len(X), changed)


@pytest.mark.parametrize("sparse", [False, True])
def test_gamma_scale_and_center_need_no_feature_by_feature_matrix(sparse):
    # Fitting needs the column means and the entries' variance only: a
    # sparse input with 300 000 columns fits without an n_features² array.
    n_features = 300_000 if sparse else 2_000
    X = sp.random(
        40, n_features, density=2e-4, format="csr", random_state=0, dtype=np.float64
    )
    inputs = X if sparse else X.toarray()
    # i.i.d. directions: orthogonal ones are drawn in d × d blocks.
    sampler = FourierSampler(
        n_components=8, gamma="scale", sampling="iid", random_state=0
    )
    sampler, peak = traced_peak(lambda: sampler.fit(inputs))
    assert peak < 64 * 2**20
    dense = X.toarray()
    np.testing.assert_allclose(sampler.center_, dense.mean(axis=0), atol=1e-15)
    np.testing.assert_allclose(
        sampler.gamma_, 1.0 / (n_features * dense.var()), rtol=1e-10
    )
    assert np.all(np.isfinite(sampler.transform(inputs[:5])))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_layout_of_the_rows_gives_the_same_features(tmp_path, X, dtype):
    """Plain float rows take the checks' short route; any other layout the
    general one. Both give the features of the C-ordered rows, and both refuse
    non-finite rows and the wrong width, naming X."""
    rows = np.ascontiguousarray(X, dtype=dtype)
    sampler = FourierSampler(n_components=64, random_state=0).fit(rows)
    expected = sampler.transform(rows)
    memmap = np.lib.format.open_memmap(
        tmp_path / "rows.npy", mode="w+", dtype=dtype, shape=rows.shape
    )
    memmap[:] = rows
    padded = np.zeros((rows.shape[0], 2 * rows.shape[1]), dtype=dtype)
    padded[:, ::2] = rows
    for layout in (np.asfortranarray(rows), padded[:, ::2], memmap, rows.tolist()):
        features = sampler.transform(layout)
        assert features.dtype == (dtype if not isinstance(layout, list) else np.float64)
        np.testing.assert_allclose(features, expected, rtol=1e-5, atol=1e-6)
    bad = rows.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        sampler.transform(bad)
    with pytest.raises(ValueError, match=r"^X has 2 features, but FourierSampler"):
        sampler.transform(rows[:, :2])
