"""Multi-query associative recall (MQAR), the generator of Arora et al. (2023).

Zoology ("Zoology: Measuring and improving recall in efficient language
models", arXiv 2312.04927, Section 3 and its ``multiquery_ar`` generator)
defines a sequence as ``P`` key–value pairs followed by a region in which each
key appears once more, as a query, at a distance drawn from a power law; the
model, a causal language model, must emit the key's value at the query
position. Keys come from the first half of the vocabulary (without 0), values
from the second half, both without repetition within a sequence; every
position that is neither a pair nor a query holds a uniformly random token.
"""

from __future__ import annotations

import numpy as np

#: Target of the positions that are not queries (ignored by the loss).
IGNORE = -100


def check_task(vocab_size: int, n_pairs: int, length: int) -> None:
    """Raise a ``ValueError`` unless the three sizes make an MQAR task.

    The checks of the sequences' generator, also run by the command line
    before any training, so that a bad ``--mqar-*`` option fails at once.
    """
    if length % 2 or length < 2:
        raise ValueError(f"length must be an even integer >= 2, got {length}.")
    if vocab_size <= length:
        raise ValueError(f"vocab_size must exceed length ({length}), got {vocab_size}.")
    if n_pairs < 1 or 4 * n_pairs > length:
        raise ValueError(
            f"n_pairs must be in [1, length / 4 = {length // 4}], got {n_pairs}."
        )
    n_keys = vocab_size // 2 - 1
    if n_pairs > n_keys:
        raise ValueError(
            f"n_pairs must not exceed the {n_keys} distinct keys of "
            f"vocab_size={vocab_size}, got {n_pairs}."
        )


def mqar(
    n_examples: int,
    *,
    vocab_size: int = 8192,
    n_pairs: int = 8,
    length: int = 64,
    power_a: float = 0.01,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw MQAR sequences and their targets.

    Parameters
    ----------
    n_examples : int
        Number of sequences.
    vocab_size : int, default=8192
        Tokens ``0 … vocab_size - 1``: keys ``1 … vocab_size/2 - 1``, values
        ``vocab_size/2 … vocab_size - 1``. Must exceed ``length``.
    n_pairs : int, default=8
        Key–value pairs per sequence, each queried once; ``4 · n_pairs`` must
        not exceed ``length``.
    length : int, default=64
        Sequence length (even).
    power_a : float, default=0.01
        Exponent of the gap distribution ``p(g) ∝ a · g^(a-1)``, ``g = 1, 2, …``
        (Zoology's ``power_a``; 1 is uniform, small values favour short gaps).
    seed : int, default=0
        Seed of the generator (Zoology uses ``seed`` for training and
        ``seed + 10`` for the test set).

    Returns
    -------
    inputs : ndarray of shape (n_examples, length), int64
        Token ids.
    targets : ndarray of shape (n_examples, length), int64
        The value of the queried key at each query position (the next-token
        target there), :data:`IGNORE` elsewhere.
    """
    check_task(vocab_size, n_pairs, length)
    if not 0 < power_a <= 1:
        raise ValueError(f"power_a must be in (0, 1], got {power_a}.")
    n_keys = vocab_size // 2 - 1
    rng = np.random.default_rng(seed)
    rows = np.arange(n_examples)[:, None]
    keys = 1 + _without_replacement(rng, n_examples, n_keys, n_pairs)
    values = vocab_size // 2 + _without_replacement(
        rng, n_examples, vocab_size - vocab_size // 2, n_pairs
    )
    context = 2 * n_pairs
    space = (length - context) // 2
    gap = np.arange(1, space + 1, dtype=float)
    log_p = np.log(power_a) + (power_a - 1) * np.log(gap)
    gaps = _without_replacement(rng, n_examples, space, n_pairs, log_p=log_p)

    inputs = rng.integers(vocab_size, size=(n_examples, length))
    inputs[:, 0:context:2] = keys
    inputs[:, 1:context:2] = values
    # The query of pair i sits at context + 2·gap_i, an even offset, so
    # queries never collide and every pair is queried exactly once.
    query_at = context + 2 * gaps
    inputs[rows, query_at] = keys
    targets = np.full((n_examples, length), IGNORE, dtype=np.int64)
    targets[rows, query_at] = values
    return inputs.astype(np.int64), targets


def _without_replacement(rng, n_rows, n_items, size, *, log_p=None):
    """``size`` of ``range(n_items)`` per row without replacement, by weight.

    The Gumbel top-k trick: the indices of the ``size`` largest
    ``log p + Gumbel`` are a draw without replacement in the order of
    successive weighted draws (uniform when ``log_p`` is None).
    """
    scores = rng.gumbel(size=(n_rows, n_items))
    if log_p is not None:
        scores += log_p
    return np.argsort(-scores, axis=1)[:, :size]
