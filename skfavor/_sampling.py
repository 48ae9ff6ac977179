"""Draws of the random directions ω (:ref:`math-sampling`, :ref:`math-simplex`).

Every coupling draws ω block by block from one stream (block ``b``'s Gaussian
matrix, then its χ norms, then block ``b + 1``), so the first ``m`` rows of an
``M``-row draw equal the ``m``-row draw for the same seed (:ref:`math-nested`).
"""

from __future__ import annotations

import warnings

import numpy as np

#: The couplings of ω: each row is marginally N(0, I_d) under all of them.
SAMPLINGS = ("orthogonal", "simplex", "iid")


def gaussian_weights(n_components: int, n_features: int, random_state) -> np.ndarray:
    """``n_components`` i.i.d. rows drawn from N(0, I_d).

    Parameters
    ----------
    n_components, n_features : int
        Shape of the result.
    random_state : numpy.random.RandomState
        Source of randomness (from :func:`sklearn.utils.check_random_state`).

    Returns
    -------
    ndarray of shape (n_components, n_features)
    """
    return random_state.standard_normal(size=(n_components, n_features))


def _haar_blocks(n_components: int, n_features: int, random_state):
    """Haar-random orthogonal blocks (rows orthonormal) and χ_d norms, per block.

    Returns the blocks, shape (n_blocks, d, d), and the norms, shape
    (n_blocks, d), drawn block by block from one stream.
    """
    d = n_features
    n_blocks = -(-n_components // d)
    gaussians = np.empty((n_blocks, d, d))
    norms = np.empty((n_blocks, d))
    for block in range(n_blocks):
        gaussians[block] = random_state.standard_normal(size=(d, d))
        norms[block] = np.linalg.norm(random_state.standard_normal(size=(d, d)), axis=1)
    # One stacked QR instead of one call per block: same draws, same result.
    Q, R = np.linalg.qr(gaussians)
    Q *= np.where(np.diagonal(R, axis1=1, axis2=2) < 0, -1.0, 1.0)[:, None, :]
    return np.swapaxes(Q, 1, 2), norms


def orthogonal_weights(n_components: int, n_features: int, random_state) -> np.ndarray:
    """Block-orthogonal rows, each marginally N(0, I_d) (:ref:`math-sampling`).

    Each block of ``d`` rows is the orthogonal factor of the QR decomposition
    of a ``d × d`` Gaussian matrix, with signs fixed by ``sign(diag R)`` so that
    it is Haar distributed; each row is then scaled by the norm of a fresh
    N(0, I_d) vector (a χ_d draw). The last block is truncated.

    Parameters
    ----------
    n_components, n_features : int
        Shape of the result.
    random_state : numpy.random.RandomState
        Source of randomness.

    Returns
    -------
    ndarray of shape (n_components, n_features)
    """
    rows, norms = _haar_blocks(n_components, n_features, random_state)
    rows = rows * norms[:, :, None]
    return rows.reshape(-1, n_features)[:n_components]


def simplex_directions(n_features: int) -> np.ndarray:
    """The ``d`` unit vertices of a regular simplex centred at 0 (:ref:`math-simplex`).

    ``s_i = √(d/(d−1)) (e_i − 𝟙/d)``: unit rows with pairwise dot products
    ``−1/(d−1)``, spanning the hyperplane orthogonal to ``𝟙``.

    Parameters
    ----------
    n_features : int
        ``d ≥ 2``.

    Returns
    -------
    ndarray of shape (n_features, n_features)
    """
    d = n_features
    return np.sqrt(d / (d - 1.0)) * (np.eye(d) - 1.0 / d)


def simplex_weights(n_components: int, n_features: int, random_state) -> np.ndarray:
    """Simplex random features (SimRFs), each row marginally N(0, I_d).

    Each block of ``d`` rows is the regular simplex of
    :func:`simplex_directions` rotated by one Haar-random orthogonal matrix,
    each row scaled by an independent χ_d norm; the last block is truncated
    (:ref:`math-simplex`). The stream is that of :func:`orthogonal_weights`
    (same rotation and norms for the same seed). ``d = 1`` has no simplex and
    gives i.i.d. rows.

    Parameters
    ----------
    n_components, n_features : int
        Shape of the result.
    random_state : numpy.random.RandomState
        Source of randomness.

    Returns
    -------
    ndarray of shape (n_components, n_features)
    """
    if n_features == 1:
        return gaussian_weights(n_components, n_features, random_state)
    rotations, norms = _haar_blocks(n_components, n_features, random_state)
    # Row i of S @ Q is R s_i with R = Qᵀ Haar (Q's rows are R's columns).
    rows = simplex_directions(n_features) @ rotations * norms[:, :, None]
    return rows.reshape(-1, n_features)[:n_components]


_DRAWS = {
    "orthogonal": orthogonal_weights,
    "simplex": simplex_weights,
    "iid": gaussian_weights,
}


def draw_weights(
    n_components: int,
    n_features: int,
    random_state,
    *,
    sampling: str = "orthogonal",
) -> np.ndarray:
    """Rows of ω under one of :data:`SAMPLINGS`, the single entry point.

    Parameters
    ----------
    n_components, n_features : int
        Shape of the result.
    random_state : numpy.random.RandomState
        Source of randomness.
    sampling : {'orthogonal', 'simplex', 'iid'}, default='orthogonal'
        The coupling of the rows within a block (:ref:`math-sampling`,
        :ref:`math-simplex`).

    Returns
    -------
    ndarray of shape (n_components, n_features)
    """
    if sampling not in _DRAWS:
        raise ValueError(f"sampling must be one of {sorted(_DRAWS)}, got {sampling!r}.")
    return _DRAWS[sampling](n_components, n_features, random_state)


def resolve_sampling(sampling: str, orthogonal, *, given: bool, stacklevel: int) -> str:
    """``sampling``, or the deprecated ``orthogonal`` with a FutureWarning.

    The one rule for ``orthogonal`` (deprecated in 0.2) of the samplers and of
    :func:`~skfavor.attention.favor_attention`.

    Parameters
    ----------
    sampling : str
        The sampling to use when ``orthogonal`` is not given.
    orthogonal : bool or 'deprecated'
        ``'deprecated'`` when not given, else the former form of ``sampling``.
    given : bool
        Whether the caller passed ``sampling``: passed together with
        ``orthogonal``, the deprecated parameter would override it, so the
        pair is refused.
    stacklevel : int
        The FutureWarning's stack level as seen from the caller.

    Returns
    -------
    str
        One of :data:`SAMPLINGS`.
    """
    if isinstance(orthogonal, str) and orthogonal == "deprecated":
        return sampling
    if given:
        raise ValueError(
            f"sampling={sampling!r} and the deprecated orthogonal={orthogonal!r} "
            "were both given; pass sampling alone."
        )
    if not isinstance(orthogonal, bool | np.bool_):
        raise TypeError(f"orthogonal must be a bool, got {orthogonal!r}.")
    warnings.warn(
        "The parameter `orthogonal` is deprecated in 0.2 and will be removed in "
        f"0.4; use sampling={'orthogonal' if orthogonal else 'iid'!r} instead.",
        FutureWarning,
        stacklevel=stacklevel + 1,
    )
    return "orthogonal" if orthogonal else "iid"
