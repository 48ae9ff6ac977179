"""Outputs of every public estimator at a fixed random_state (issue 17's golden test).

``tests/data/golden_estimators.npz`` was produced by running, from the repository
root, at commit c8d3d8a (0.2.0 plus public ``query_map_``/``key_map_``, before
the kernel-ridge split)::

    PYTHONPATH=. python tests/data/generate_golden_estimators.py

and the same script run on the sources of the 0.2.0 release (commit aa9deec,
``git archive aa9deec skfavor``) gave the same 208 arrays bit for bit.

on Linux x86-64 with NumPy 2.4.6, SciPy 1.17.1 and scikit-learn 1.9.1 (OpenBLAS;
the machine as last recorded is in ``golden_estimators_environment.json``).
``tests/test_golden_estimators.py`` recomputes :func:`golden_outputs` and asserts
bit-for-bit equality: a refactoring must not change a single number. Rerun this
script only for a deliberate change of the numbers, and say so in the commit.

Deliberate changes since: issue 16 made ``RandomFeatureRidgeCV`` score the
held-out rows unweighted, as ``GridSearchCV`` does, so the scores of the two
weighted CV cases (``cv_sderf_weighted``, ``cv_gerf_no_intercept``; not their
predictions, coefficients or chosen candidates) were recorded again then.
Issue 20 made the CV's single-alpha refit a Cholesky solve instead of an
``eigh``: the float64 ``coef_`` and ``predict`` of the four CV cases moved by
at most 3e-15 relative (nothing else, float32 included), and were recorded
again then. Issue 20 then solved every ridge system by ``cho_factor`` and
``cho_solve`` (no rcond estimate) and scored grids of up to eight alphas by one
Cholesky solve per alpha instead of a shared ``eigh``: the CV scores, the
ridge and classifier outputs moved by at most 1.5e-13 relative (chosen
candidates, labels and every sampler output unchanged), and were recorded again
then. A new user's trial in issue 20 made ``NadarayaWatsonRegressor.predict``
return float32 for float32 rows (computed in float64, cast at the end): the
five float32 ``nw_regressor_*.predict`` arrays are the recorded float64 ones
cast to float32, bit for bit what the code now returns.

The numerics review's issue on ``parameter_grad`` made SDERF's and ADERF's
closed forms matrix functions (SDERF's features fold ``A = Q diag(a) Qᵀ`` and
``S = (I − 4A)^½`` instead of the frame ``Q``; ADERF's transforms are
``N^±¼ MX^∓½``, ``N^±¼`` from the singular values and left vectors of
``MX^½ MY^½``): the float64 outputs of the SDERF, ADERF and AutoSampler
samplers moved by at most 1.1e-14 relative, the ridge ``coef_`` built on
them by at most 2e-12 and every other output by at most 2e-14; chosen
candidates, labels and every float32 output unchanged. They were recorded
again then.

Issue 20's two routes of ``FourierSampler.transform`` (its short outputs of
narrow rows computed in place, ``sin t`` as ``cos(t − π/2)``; float32 cosines
and sines through a contiguous scratch) moved the Fourier outputs and those of
``auto_mean_variance``, which selects it, by rounding: float32 by at most
7.5e-8 absolute (1.4e-6 in the Nadaraya–Watson predictions, 7.9e-7
relative), float64 by at most 2.7e-15 absolute; nothing else.

Bit for bit also depends on the processor: the same versions on an AMD EPYC
with AVX-512 (numpy's ICL targets, OpenBLAS's SkylakeX kernels; the earlier
machines, where the file matched bit for bit, had AVX2 only and OpenBLAS's
Haswell kernels) gave 123 of the 208 arrays different by rounding (float64 at
most 1.1e-12 relative, 8.7e-14 absolute; float32 at most 1.4e-6 absolute;
labels, chosen candidates and every integer output equal), so the bit-for-bit
test failed there on unchanged code. The file was recorded again on that
machine, with the Fourier change above, and :func:`recording_environment` of
the recording run is now kept beside it (``golden_estimators_environment.json``):
the test is bit for bit where the environment is the same, within rounding
elsewhere.

``AutoSampler`` is recorded with each ``criterion`` given explicitly: issue 16
changes which one is the default, on purpose.
"""

from __future__ import annotations

import inspect
import warnings
from pathlib import Path

import numpy as np

from skfavor import (
    AutoSampler,
    DERFSampler,
    FourierSampler,
    GERFSampler,
    PositiveRFSampler,
    RandomFeatureRidge,
    RandomFeatureRidgeClassifier,
    RandomFeatureRidgeCV,
)
from skfavor.nadaraya_watson import (
    NadarayaWatsonClassifier,
    NadarayaWatsonRegressor,
    NonPositiveDenominatorWarning,
)

PATH = Path(__file__).with_name("golden_estimators.npz")

#: Where :func:`recording_environment` of the recording run is kept.
ENVIRONMENT_PATH = PATH.with_name("golden_estimators_environment.json")


def recording_environment() -> dict:
    """What the numbers depend on besides the code, as JSON-able values.

    The libraries' versions, the BLAS kernels in the process (threadpoolctl)
    and the SIMD features numpy found on this CPU, by which it picks its
    ``exp``, ``cos`` and ``sin`` loops: the same versions on another
    processor round differently (an AMD EPYC with AVX-512 against the AVX2
    machines of the earlier recordings: 3e-15 relative in float64, one unit
    in float32).
    """
    import platform
    from importlib.metadata import version

    import scipy.linalg  # noqa: F401  (loads SciPy's BLAS, whose kernel counts too)
    from threadpoolctl import threadpool_info

    try:
        from numpy._core._multiarray_umath import __cpu_features__
    except ImportError:  # numpy < 2
        from numpy.core._multiarray_umath import __cpu_features__
    blas = {
        f"{info['internal_api']} {info['version']} {info.get('architecture')}"
        for info in threadpool_info()
        if info["user_api"] == "blas"
    }
    return {
        "numpy": np.__version__,
        "scipy": version("scipy"),
        "scikit-learn": version("scikit-learn"),
        "blas": sorted(blas),
        "simd": sorted(name for name, found in __cpu_features__.items() if found),
        "machine": platform.machine(),
        "libc": " ".join(platform.libc_ver()),
    }


def _data(dtype):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 3)).astype(dtype)
    keys = (rng.normal(size=(30, 3)) + 0.5).astype(dtype)
    y = np.sin(X[:, 0]) + X[:, 1] * X[:, 2] + 0.1 * rng.normal(size=40)
    Y2 = np.column_stack([y, np.cos(X[:, 2])])
    labels = np.digitize(X[:, 0] + X[:, 1], [-0.5, 0.5])
    weights = rng.uniform(0.5, 2.0, size=40)
    return X, keys, y, Y2, labels, weights


def _samplers():
    common = {"n_components": 16, "gamma": 0.5, "random_state": 0}
    yield "posrf", PositiveRFSampler(**common)
    yield (
        "posrf_softmax_iid",
        PositiveRFSampler(
            n_components=16, kernel="softmax", gamma=0.2, sampling="iid", random_state=1
        ),
    )
    yield "gerf", GERFSampler(**common)
    yield (
        "gerf_scale_simplex",
        GERFSampler(n_components=16, gamma="scale", sampling="simplex", random_state=2),
    )
    for variant in ("sderf", "aderf", "saderf"):
        yield variant, DERFSampler(variant, **common)
        yield (
            f"{variant}_softmax",
            DERFSampler(
                variant, n_components=16, kernel="softmax", gamma=0.2, random_state=3
            ),
        )
    yield "fourier", FourierSampler(n_components=16, gamma=0.5, random_state=0)
    yield (
        "fourier_simplex",
        FourierSampler(n_components=16, gamma=0.5, sampling="simplex", random_state=1),
    )
    for criterion in ("mean_log_variance", "mean_variance"):
        yield (
            f"auto_{criterion}",
            AutoSampler(16, gamma=0.5, criterion=criterion, random_state=0),
        )


def _sampler_outputs(X, keys):
    out = {}
    for name, sampler in _samplers():
        out[f"{name}.transform"] = sampler.fit(X).transform(X)
        if "keys" in inspect.signature(sampler.fit).parameters:
            sampler.fit(X, keys=keys)
            out[f"{name}.keys.transform"] = sampler.transform(X)
            out[f"{name}.keys.transform_keys"] = sampler.transform_keys(keys)
    return out


def _sderf(n_components=32, **kwargs):
    return DERFSampler(n_components=n_components, gamma=0.5, random_state=0, **kwargs)


def _ridge_outputs(X, y, Y2, labels, weights):
    out = {}
    cases = {
        "ridge": (RandomFeatureRidge(_sderf(), alpha=0.1), y, None),
        "ridge_weighted": (RandomFeatureRidge(_sderf(), alpha=0.1), y, weights),
        "ridge_multi": (RandomFeatureRidge(_sderf(), alpha=0.1), Y2, None),
        "ridge_no_intercept": (
            RandomFeatureRidge(
                GERFSampler(n_components=32, random_state=0), fit_intercept=False
            ),
            y,
            None,
        ),
        "ridge_posrf_block": (
            RandomFeatureRidge(
                PositiveRFSampler(n_components=32, random_state=0),
                alpha=0.5,
                block_size=7,
            ),
            y,
            weights,
        ),
    }
    for name, (model, target, w) in cases.items():
        model.fit(X, target, sample_weight=w)
        out[f"{name}.predict"] = model.predict(X)
        out[f"{name}.coef_"] = model.coef_
        out[f"{name}.intercept_"] = np.asarray(model.intercept_)
    model = RandomFeatureRidge(_sderf(), alpha=0.1)
    model.partial_fit(X[:25], y[:25]).partial_fit(X[25:], y[25:], weights[25:])
    out["ridge_partial.predict"] = model.predict(X)
    for name, target in (("binary", labels > 0), ("multiclass", labels)):
        model = RandomFeatureRidgeClassifier(_sderf(), alpha=0.1).fit(X, target)
        out[f"classifier_{name}.decision_function"] = model.decision_function(X)
        out[f"classifier_{name}.predict"] = model.predict(X)
    model = RandomFeatureRidgeClassifier(_sderf(), class_weight="balanced")
    out["classifier_balanced.decision_function"] = model.fit(
        X, labels, sample_weight=weights
    ).decision_function(X)
    return out


def _cv_outputs(X, y, Y2, weights):
    out = {}
    grid = {"alphas": [0.01, 0.1, 1.0], "n_components": [8, 16, 32], "cv": 3}
    cases = {
        "cv_sderf": (RandomFeatureRidgeCV(_sderf(), **grid), y, None),
        "cv_sderf_weighted": (RandomFeatureRidgeCV(_sderf(), **grid), y, weights),
        "cv_posrf_r2": (
            RandomFeatureRidgeCV(
                PositiveRFSampler(n_components=32, gamma=0.5, random_state=0),
                scoring="r2",
                **grid,
            ),
            Y2,
            None,
        ),
        "cv_gerf_no_intercept": (
            RandomFeatureRidgeCV(
                GERFSampler(n_components=32, gamma=0.5, random_state=0),
                fit_intercept=False,
                **grid,
            ),
            y,
            weights,
        ),
    }
    for name, (model, target, w) in cases.items():
        model.fit(X, target, sample_weight=w)
        out[f"{name}.predict"] = model.predict(X)
        out[f"{name}.coef_"] = model.coef_
        out[f"{name}.best"] = np.array(
            [model.alpha_, model.n_components_, model.best_index_]
        )
        for key in ("mean_test_score", "std_test_score", "rank_test_score"):
            out[f"{name}.{key}"] = model.cv_results_[key]
        for k in range(3):
            out[f"{name}.split{k}"] = model.cv_results_[f"split{k}_test_score"]
    return out


def _nadaraya_watson_outputs(X, y, labels):
    out = {}
    for transductive in (False, True):
        tag = "transductive" if transductive else "inductive"
        for name, sampler in (
            ("default", None),
            ("aderf", DERFSampler("aderf", n_components=32, gamma=0.5, random_state=0)),
        ):
            regressor = NadarayaWatsonRegressor(
                sampler, transductive=transductive, random_state=0
            ).fit(X, y)
            out[f"nw_regressor_{name}_{tag}.predict"] = regressor.predict(X[:15])
            classifier = NadarayaWatsonClassifier(
                sampler, transductive=transductive, random_state=0
            ).fit(X, labels)
            out[f"nw_classifier_{name}_{tag}.predict"] = classifier.predict(X[:15])
    fourier = FourierSampler(n_components=32, gamma=0.5, random_state=0)
    with warnings.catch_warnings():
        # Signed features: one row falls back to the mean, as recorded.
        warnings.simplefilter("ignore", NonPositiveDenominatorWarning)
        out["nw_regressor_fourier.predict"] = (
            NadarayaWatsonRegressor(fourier).fit(X, y).predict(X[:15])
        )
    return out


def golden_outputs() -> dict[str, np.ndarray]:
    """Every recorded output, by ``dtype/case.attribute``."""
    outputs = {}
    for dtype in (np.float32, np.float64):
        X, keys, y, Y2, labels, weights = _data(dtype)
        parts = {
            **_sampler_outputs(X, keys),
            **_ridge_outputs(X, y, Y2, labels, weights),
            **_cv_outputs(X, y, Y2, weights),
            **_nadaraya_watson_outputs(X, y, labels),
        }
        name = np.dtype(dtype).name
        outputs.update({f"{name}/{key}": np.asarray(v) for key, v in parts.items()})
    return outputs


if __name__ == "__main__":
    import json

    np.savez_compressed(PATH, **golden_outputs())
    ENVIRONMENT_PATH.write_text(json.dumps(recording_environment(), indent=1) + "\n")
    print(f"wrote {PATH} and {ENVIRONMENT_PATH}")
