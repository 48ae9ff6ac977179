"""What both classification routes share: settings, samplers, names, seeds, workers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from joblib import Parallel, delayed
from sklearn.kernel_approximation import RBFSampler
from threadpoolctl import threadpool_limits

from .. import AutoSampler, DERFSampler, GERFSampler, PositiveRFSampler
from ..datasets import UCI_DATASETS
from ._progress import progress

#: ``gamma`` of the Gaussian kernel ``exp(-|x - y|²/2)`` on the σ-scaled data.
PAPER_GAMMA = 0.5

#: The configuration the summaries compare with RBFSampler: SDERF with
#: block-orthogonal ω, the symmetric family of lowest variance
#: (:ref:`math-families`), usable both in a pipeline and transductively.
RECOMMENDED = ("sderf", True)

#: Display names of the methods (``'rff'`` is RBFSampler's random-phase
#: feature, ``'rff_sincos'`` the sin/cos pair of random Fourier features).
NAMES = {
    "rff": "RBFSampler",
    "rff_sincos": "RFF (sin/cos)",
    "posrf": "PosRF",
    "gerf": "GERF",
    "sderf": "SDERF",
    "aderf": "ADERF",
    "saderf": "SADERF",
    "auto": "AutoSampler",
}


@dataclass(frozen=True)
class Config:
    """Everything that defines a run of the classification experiment.

    Parameters
    ----------
    datasets : tuple of str
        UCI sets to run, from :data:`~skfavor.datasets.UCI_DATASETS`.
    multipliers : tuple of int
        ``M = n_features · multiplier`` random features.
    repeats : int
        Independent draws of the features per Nadaraya–Watson point.
    ridge_repeats : int
        Independent draws per Ridge point (each one a full grid search);
        ``0`` skips the Ridge route.
    max_train, max_test : int or None
        Nadaraya–Watson subsample of the paper's split (None: all rows).
    ridge_max_train : int or None
        Training rows of the Ridge route, whose exact kernel ridge costs
        ``O(n³)``.
    seed : int
        Seed of the draws; draw ``r`` uses the same seed for every method.
    n_jobs : int
        Worker processes for the draws (joblib); BLAS gets one thread each.
    quiet : bool
        No progress bars.
    """

    datasets: tuple[str, ...] = UCI_DATASETS
    multipliers: tuple[int, ...] = (1, 2, 4, 10)
    repeats: int = 5
    ridge_repeats: int = 1
    max_train: int | None = 2000
    max_test: int | None = 500
    ridge_max_train: int | None = 500
    seed: int = 0
    n_jobs: int = 1
    quiet: bool = False


def make_sampler(
    method: str, *, n_components: int, gamma: float, orthogonal: bool, random_state
):
    """The sampler of ``method`` ('rff', 'posrf', 'gerf', 'sderf', 'auto', ...).

    Parameters
    ----------
    method : str
        ``'rff'`` (:class:`~sklearn.kernel_approximation.RBFSampler`),
        ``'posrf'``, ``'gerf'``, a :class:`~skfavor.DERFSampler` variant or
        ``'auto'`` (:class:`~skfavor.AutoSampler` with its default candidates
        and criterion: it may select the sin/cos Fourier pair, which is not
        positive, :ref:`§3 <math-families>`).
    n_components : int
        Number of features.
    gamma : float
        Parameter of the Gaussian kernel ``exp(-gamma |x - y|²)``.
    orthogonal : bool
        Block-orthogonal draws (ignored by RBFSampler, which draws i.i.d.).
    random_state : int
        Seed of the draw.

    Returns
    -------
    estimator
        The unfitted sampler.
    """
    if method == "rff":
        return RBFSampler(
            gamma=gamma, n_components=n_components, random_state=random_state
        )
    shared = dict(
        n_components=n_components,
        gamma=gamma,
        sampling="orthogonal" if orthogonal else "iid",
        random_state=random_state,
    )
    if method == "auto":
        return AutoSampler(**shared)
    if method == "posrf":
        return PositiveRFSampler(**shared)
    if method == "gerf":
        return GERFSampler(**shared)
    return DERFSampler(variant=method, **shared)


def method_key(method: str, orthogonal: bool) -> str:
    """Identifier in the CSV files: ``'rff'``, or the family with ``-orf``/``-iid``."""
    return method if method == "rff" else f"{method}-{'orf' if orthogonal else 'iid'}"


def method_label(method: str, orthogonal: bool) -> str:
    """Display name: ``'RBFSampler'``, or the family with ``(orth.)``/``(i.i.d.)``."""
    if method == "rff":
        return NAMES[method]
    return f"{NAMES[method]} ({'orth.' if orthogonal else 'i.i.d.'})"


def run_tasks(function, tasks: list[tuple], *, config: Config, desc: str) -> list:
    """``function(*task)`` for every task, in order, in ``n_jobs`` processes."""
    parallel = Parallel(n_jobs=config.n_jobs, return_as="generator")
    results = parallel(delayed(function)(*task) for task in tasks)
    return list(progress(results, total=len(tasks), desc=desc, disable=config.quiet))


def one_blas_thread():
    """A context in which BLAS uses one thread (joblib's workers do already).

    The products here are small, and on a busy two-core machine OpenBLAS's
    spinning threads made ``XᵀX`` of a 26 653 × 40 array a hundred times
    slower (2 s) than one thread (20 ms).
    """
    return threadpool_limits(1)


def draw_seeds(config: Config, count: int) -> list[int]:
    return [
        int(s) for s in np.random.default_rng(config.seed).integers(2**31, size=count)
    ]
