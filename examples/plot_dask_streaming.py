"""
==================================================
A million rows on a Dask cluster, fitted by blocks
==================================================

skfavor's samplers fit their parameters to sums over the data (counts, means
and second moments, :ref:`math-estimators`), so they can be fitted one block at a time
with ``partial_fit`` and never need the whole data set in memory (see
:ref:`scaling` for the three routes and their limits). With
`dask-ml <https://ml.dask.org>`_ the blocks stay on the workers of a
:mod:`dask.distributed` cluster:

1. :class:`dask_ml.wrappers.Incremental` carries the sampler from block to
   block, calling ``partial_fit`` where each block lives;
2. ``transform`` runs blockwise and in parallel, and its output is never
   gathered in one place;
3. a :class:`~sklearn.linear_model.SGDRegressor` learns from the random
   features, again by ``partial_fit`` over the blocks;
4. the fitted pipeline predicts blockwise on new data, and a figure compares
   its predictions with those of a linear model on the raw features.

The data are a million synthetic rows with 8 features, generated lazily and
reproducibly on the workers. The example needs the ``dask`` extra
(``pip install skfavor[dask]``); without it, it only says so.

Worker *processes* re-import this script when they start, so everything that
computes runs under ``if __name__ == "__main__"``, in the last cell.
"""

# %%
# The data: a smooth nonlinear target, generated block by block
# --------------------------------------------------------------
# ``dask.array``'s random generator draws each block where it is needed, and
# with a seed and fixed chunks the data are the same on every run.

import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import SGDRegressor
from sklearn.metrics import r2_score
from sklearn.pipeline import make_pipeline

from skfavor import DERFSampler

try:
    import dask.array as da
    from dask_ml.wrappers import Incremental, ParallelPostFit
    from distributed import Client, LocalCluster
except ImportError as error:
    MISSING = f"This example needs the dask extra (pip install skfavor[dask]): {error}"
else:
    MISSING = None

N_ROWS, N_FEATURES, BLOCK_ROWS = 1_000_000, 8, 100_000
N_COMPONENTS, GAMMA = 100, 0.05


def target(X):
    """A smooth function of five of the eight features."""
    return np.sin(X[:, 0]) + 0.5 * X[:, 1] * X[:, 2] + np.cos(X[:, 3] + X[:, 4])


def make_data(n_rows, seed):
    """Lazy ``(X, y)``: standard normal features, ``y = target(X) + noise``."""
    rng = da.random.default_rng(seed)
    X = rng.standard_normal(
        (n_rows, N_FEATURES), chunks=(BLOCK_ROWS, N_FEATURES), dtype=np.float32
    )
    noise = rng.standard_normal(n_rows, chunks=BLOCK_ROWS, dtype=np.float32)
    return X, X.map_blocks(target, drop_axis=1, dtype=X.dtype) + 0.1 * noise


# %%
# Fitting the sampler by streaming
# --------------------------------
# :class:`dask_ml.wrappers.Incremental` calls ``partial_fit`` on one block
# after another. The result equals ``fit`` on all million rows at once (to
# rounding), because the statistics are sums. dask-ml insists that the
# wrapped estimator can be scored, which a transformer cannot: any scorer
# passes that check, and it is never called while fitting.


def fit_sampler(X):
    sampler = DERFSampler(
        variant="sderf", n_components=N_COMPONENTS, gamma=GAMMA, random_state=0
    )
    return Incremental(sampler, scoring="r2").fit(X).estimator_


# %%
# Transforming blockwise
# ----------------------
# Each block of rows maps to a block of ``n_components`` features.
# :meth:`dask_ml.wrappers.ParallelPostFit.transform` would declare the output
# with the *input's* chunks (8 columns here, not 100), which breaks anything
# that trusts the lazy shape (slicing, rechunking, matrix products), so we
# call :func:`dask.array.map_blocks` ourselves and declare the output chunks
# and dtype.


def random_features(sampler, X):
    return da.map_blocks(
        sampler.transform,
        X,
        chunks=(X.chunks[0], (sampler.n_components,)),
        dtype=X.dtype,
    )


# %%
# A linear model on the random features
# -------------------------------------
# The sampler is fitted first and then frozen: a pipeline that updated the
# sampler and the regressor block by block would train the regressor on
# features that change under it. ``SGDRegressor`` then makes one pass over
# the blocks, in a shuffled order (call ``partial_fit`` again for more
# passes). The features are small positive numbers, so a larger initial step
# than the default ``eta0=0.01`` pays off.


def fit_regressor(Z, y):
    regressor = SGDRegressor(alpha=1e-6, eta0=0.5, random_state=0)
    return Incremental(regressor, scoring="r2", random_state=0).fit(Z, y).estimator_


# %%
# Running it on a local cluster
# -----------------------------
# Two worker processes with one thread each, listening on the loopback
# interface only; they import skfavor and dask-ml as they start, so that the
# timings below are those of the work itself. The fitted pipeline predicts
# 200 000 new rows blockwise through
# :class:`dask_ml.wrappers.ParallelPostFit`; its output is one prediction per
# row, a shape that dask-ml declares correctly. For
# comparison, the same regressor fitted to the raw features shows what the
# random features add. Only the predictions come back to this process (one
# number a row), and the figure plots the first 2000 of them against the truth.


def predict(model, X):
    return ParallelPostFit(model).predict(X)


def plot_predictions(y_true, predictions, n_points=2000):
    figure, axes = plt.subplots(
        1, len(predictions), figsize=(6.4, 3.3), sharex=True, sharey=True
    )
    low, high = np.percentile(y_true, [0.5, 99.5])
    for ax, (name, y_pred) in zip(axes, predictions.items(), strict=True):
        ax.scatter(y_true[:n_points], y_pred[:n_points], s=3, alpha=0.4)
        ax.plot([low, high], [low, high], color="black", linewidth=1)
        ax.set_title(f"{name}\nR² = {r2_score(y_true, y_pred):.3f}", fontsize=10)
        ax.set_xlabel("true target")
    axes[0].set_ylabel("prediction")
    figure.suptitle("Test rows predicted blockwise on the cluster", fontsize=10)
    figure.tight_layout()


def main():
    start = time.perf_counter()
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            preload=["skfavor", "dask_ml.wrappers"],
        ) as cluster,
        Client(cluster),
    ):
        print(f"Cluster of 2 worker processes started in {_since(start)}")
        X, y = make_data(N_ROWS, seed=0)
        X_test, y_test = make_data(N_ROWS // 5, seed=1)

        step = time.perf_counter()
        sampler = fit_sampler(X)
        n_blocks = X.numblocks[0]
        print(f"Sampler fitted by streaming over {n_blocks} blocks in {_since(step)}")

        step = time.perf_counter()
        Z = random_features(sampler, X)
        print(
            f"Features: lazy {Z.dtype} array of shape {Z.shape}, blocks {Z.chunksize}"
        )
        regressor = fit_regressor(Z, y)
        print(f"Regressor trained in one pass in {_since(step)}")

        step = time.perf_counter()
        y_true, y_features, y_linear = da.compute(
            y_test,
            predict(make_pipeline(sampler, regressor), X_test),
            predict(fit_regressor(X, y), X_test),
        )
        print(
            f"Test R²: {r2_score(y_true, y_features):.3f} with random features, "
            f"{r2_score(y_true, y_linear):.3f} with a linear model ({_since(step)})"
        )
    print(f"Total, cluster start and shutdown included: {_since(start)}")
    plot_predictions(
        y_true,
        {"SDERF features + SGDRegressor": y_features, "SGDRegressor on X": y_linear},
    )


def _since(start):
    return f"{time.perf_counter() - start:.1f} s"


if __name__ == "__main__":
    if MISSING:
        print(MISSING)
    else:
        main()
