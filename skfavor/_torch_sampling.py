"""Random directions ω drawn on the device from a seed and a draw index.

A counter-based generator written in integer torch ops: the ``i``-th 32-bit
word of draw ``index`` under ``seed`` is a hash of ``(seed, index, i)``, so a
draw is a pure function of two integer tensors. Every process that holds the
same ``seed`` buffer draws the same directions, whatever the state of its own
torch generator, on any device, without reading a value on the host and
without a data-dependent branch (``torch.compile`` traces it as it is).

Uniforms come from the words (53 bits, 24 on devices without float64),
Gaussians from them by Box–Muller, and the couplings of
:mod:`skfavor._sampling` from the Gaussians (:ref:`math-sampling`,
:ref:`math-simplex`): Haar-random orthogonal blocks as the Q factor of a
Gaussian matrix with signs fixed by ``sign(diag R)``, rows scaled by χ_d norms
of independent Gaussian rows.

The hash is Chris Wellons' ``lowbias32`` (a 32-bit avalanche hash) applied to a
Weyl sequence keyed by the seed and the index. Values are held in int64 below
``2**32`` and multiplied in 16-bit halves, so no product overflows.
"""

from __future__ import annotations

import math

import torch

_MASK32 = 0xFFFFFFFF
_GOLDEN = 0x9E3779B9  # the Weyl increment ⌊2³² / φ⌋


def _mul32(x: torch.Tensor, constant: int) -> torch.Tensor:
    """``x · constant mod 2³²`` for ``0 ≤ x < 2³²``, exact in int64."""
    low, high = constant & 0xFFFF, constant >> 16
    return (x * low + (((x * high) & 0xFFFF) << 16)) & _MASK32


def _mix32(x: torch.Tensor) -> torch.Tensor:
    """``lowbias32``: every output bit depends on every input bit."""
    x = x ^ (x >> 16)
    x = _mul32(x, 0x7FEB352D)
    x = x ^ (x >> 15)
    x = _mul32(x, 0x846CA68B)
    return x ^ (x >> 16)


def _words(seed: torch.Tensor, index: torch.Tensor, count: int) -> torch.Tensor:
    """``count`` pseudo-random 32-bit words (in int64) of draw ``index``."""
    seed = seed.to(torch.int64)
    index = index.to(torch.int64)
    key = _mix32(seed & _MASK32)
    key = _mix32(key ^ ((seed >> 32) & _MASK32))
    key = _mix32(key ^ (index & _MASK32))
    key = _mix32(key ^ ((index >> 32) & _MASK32))
    counter = torch.arange(count, dtype=torch.int64, device=seed.device)
    return _mix32(_mix32((key + _mul32(counter & _MASK32, _GOLDEN)) & _MASK32) ^ key)


def uniform_dtype(device: torch.device) -> torch.dtype:
    """Float64, except on devices without it (Apple's MPS)."""
    return torch.float32 if device.type == "mps" else torch.float64


def uniforms(seed: torch.Tensor, index: torch.Tensor, count: int) -> torch.Tensor:
    """``count`` uniforms in the open interval (0, 1) of draw ``index``.

    Parameters
    ----------
    seed, index : int64 Tensor of shape ()
        The generator's key; the results live on ``seed``'s device.
    count : int
        Number of uniforms.

    Returns
    -------
    Tensor of shape (count,)
        In float64 (float32 on MPS), never exactly 0 or 1.
    """
    dtype = uniform_dtype(seed.device)
    words = _words(seed, index, 2 * count).reshape(count, 2)
    if dtype == torch.float64:
        high = (words[:, 0] >> 6).to(dtype)  # 26 bits
        low = (words[:, 1] >> 5).to(dtype)  # 27 bits
        return (high * 2.0**27 + low + 0.5) * 2.0**-53
    return ((words[:, 0] >> 8).to(dtype) + 0.5) * 2.0**-24


def gaussians(
    seed: torch.Tensor, index: torch.Tensor, count: int, offset: int = 0
) -> torch.Tensor:
    """Standard normal draws ``offset … offset + count − 1`` of draw ``index``.

    Box–Muller on pairs of uniforms: draw ``2p`` is ``r cos θ`` and ``2p + 1``
    is ``r sin θ`` with ``r = √(−2 log u₁)``, ``θ = 2π u₂``.

    Returns
    -------
    Tensor of shape (count,)
    """
    pairs = (offset + count + 1) // 2
    u = uniforms(seed, index, 2 * pairs).reshape(pairs, 2)
    radius = torch.sqrt(-2.0 * torch.log(u[:, 0]))
    angle = (2.0 * math.pi) * u[:, 1]
    normals = torch.stack((radius * torch.cos(angle), radius * torch.sin(angle)), -1)
    return normals.reshape(-1)[offset : offset + count]


def _haar_blocks(seed, index, n_components: int, d: int):
    """Haar-random orthogonal blocks (rows orthonormal) and χ_d norms.

    Returns the blocks, shape (n_blocks, d, d), and the norms, shape
    (n_blocks, d).
    """
    n_blocks = -(-n_components // d)
    size = n_blocks * d * d
    normals = gaussians(seed, index, 2 * size)
    matrices = normals[:size].reshape(n_blocks, d, d)
    norms = torch.linalg.vector_norm(normals[size:].reshape(n_blocks, d, d), dim=-1)
    Q, R = torch.linalg.qr(matrices)
    signs = torch.where(torch.diagonal(R, dim1=-2, dim2=-1) < 0, -1.0, 1.0)
    return (Q * signs.to(Q.dtype)[:, None, :]).transpose(1, 2), norms


def draw_directions(
    seed: torch.Tensor,
    index: torch.Tensor,
    n_components: int,
    n_features: int,
    *,
    sampling: str = "orthogonal",
) -> torch.Tensor:
    """Draw ``index`` of ω under ``sampling``, on ``seed``'s device.

    The laws of :func:`skfavor._sampling.draw_weights` (each row marginally
    N(0, I_d); :ref:`math-sampling`, :ref:`math-simplex`), from the
    counter-based generator instead of a NumPy stream.

    Parameters
    ----------
    seed, index : int64 Tensor of shape ()
        The key: equal keys give equal directions on every device and process.
    n_components, n_features : int
        Shape of the result (``M`` directions of dimension ``d``).
    sampling : {'orthogonal', 'simplex', 'iid'}, default='orthogonal'

    Returns
    -------
    Tensor of shape (n_components, n_features)
        In float64 (float32 on MPS).
    """
    d = n_features
    if sampling == "iid" or (sampling == "simplex" and d == 1):
        return gaussians(seed, index, n_components * d).reshape(n_components, d)
    rows, norms = _haar_blocks(seed, index, n_components, d)
    if sampling == "simplex":
        eye = torch.eye(d, dtype=rows.dtype, device=rows.device)
        simplex = math.sqrt(d / (d - 1.0)) * (eye - 1.0 / d)
        # Row i of S @ Q is R s_i with R = Qᵀ Haar (Q's rows are R's columns).
        rows = simplex @ rows
    elif sampling != "orthogonal":
        raise ValueError(
            f"sampling must be 'orthogonal', 'simplex' or 'iid', got {sampling!r}."
        )
    return (rows * norms[:, :, None]).reshape(-1, d)[:n_components]
