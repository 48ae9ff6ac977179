"""Draws of the random directions ω (:ref:`math-sampling`)."""

from __future__ import annotations

import numpy as np


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
    rows = np.swapaxes(Q, 1, 2) * norms[:, :, None]
    return rows.reshape(n_blocks * d, d)[:n_components]


def draw_weights(
    n_components: int, n_features: int, random_state, *, orthogonal: bool
) -> np.ndarray:
    """Block-orthogonal or i.i.d. Gaussian weights (see the two functions above)."""
    if orthogonal:
        return orthogonal_weights(n_components, n_features, random_state)
    return gaussian_weights(n_components, n_features, random_state)
