"""Character-level text: the Python Language Reference help of ``pydoc_data``.

Every CPython ships ``pydoc_data.topics.topics``, a dict from help topic to
its text (about 460 000 characters of English prose and code examples in
Python 3.11). The topics are shuffled with a fixed seed and split 90/5/5 by
cumulative character count, so that no topic is shared between splits.
"""

from __future__ import annotations

import numpy as np

#: Fractions of the characters in training, validation and test topics.
SPLIT = (0.90, 0.05, 0.05)

#: Seed of the topic shuffle: the split is the same for every run.
SPLIT_SEED = 0

#: Joins the topics of a split into one stream.
SEPARATOR = "\n\n"


def load_topics() -> dict[str, str]:
    """The help topics of the running CPython, by name."""
    from pydoc_data.topics import topics

    return dict(topics)


def split_topics(topics: dict[str, str]) -> tuple[list[str], list[str], list[str]]:
    """Training, validation and test topics (names), 90/5/5 by characters.

    Parameters
    ----------
    topics : dict of str to str
        Topic name to text.

    Returns
    -------
    train, validation, test : list of str
        Topic names; each topic is in exactly one list.
    """
    names = sorted(topics)
    order = np.random.default_rng(SPLIT_SEED).permutation(len(names))
    names = [names[i] for i in order]
    sizes = np.array([len(topics[name]) for name in names], dtype=float)
    ends = np.cumsum(sizes) / sizes.sum()
    first_cut = int(np.searchsorted(ends, SPLIT[0]))
    second_cut = int(np.searchsorted(ends, SPLIT[0] + SPLIT[1]))
    # Every split gets at least one topic.
    first_cut = min(max(first_cut, 1), len(names) - 2)
    second_cut = min(max(second_cut, first_cut + 1), len(names) - 1)
    return names[:first_cut], names[first_cut:second_cut], names[second_cut:]


class CharCorpus:
    """Token ids of the three splits with the training split's alphabet.

    Characters that never occur in the training topics map to one
    ``unknown`` id (its count in the other splits is :attr:`n_unknown`).

    Parameters
    ----------
    topics : dict of str to str, default=None
        Topic name to text (None: :func:`load_topics`).

    Attributes
    ----------
    alphabet : str
        The training characters, sorted; id ``i`` is ``alphabet[i]`` and id
        ``len(alphabet)`` is the unknown character.
    train, validation, test : ndarray of int64
        The splits' topics joined by :data:`SEPARATOR`, as ids.
    n_unknown : dict of str to int
        Characters of each split mapped to the unknown id.
    """

    def __init__(self, topics: dict[str, str] | None = None):
        topics = load_topics() if topics is None else topics
        names = split_topics(topics)
        texts = [SEPARATOR.join(topics[name] for name in split) for split in names]
        self.alphabet = "".join(sorted(set(texts[0])))
        lookup = {char: i for i, char in enumerate(self.alphabet)}
        unknown = len(self.alphabet)
        ids = [
            np.array([lookup.get(c, unknown) for c in text], dtype=np.int64)
            for text in texts
        ]
        self.train, self.validation, self.test = ids
        self.n_unknown = {
            split: int((array == unknown).sum())
            for split, array in zip(("train", "validation", "test"), ids, strict=True)
        }

    @property
    def vocab_size(self) -> int:
        """Number of ids: the alphabet and the unknown character."""
        return len(self.alphabet) + 1


def random_windows(
    ids: np.ndarray, *, n_windows: int, length: int, rng: np.random.Generator
) -> np.ndarray:
    """``n_windows`` windows of ``length + 1`` ids at uniform random offsets."""
    starts = rng.integers(len(ids) - length, size=n_windows)
    return ids[starts[:, None] + np.arange(length + 1)]


def tiled_windows(ids: np.ndarray, *, length: int) -> np.ndarray:
    """Consecutive windows of ``length + 1`` ids that overlap by one.

    Every id after the first is predicted exactly once (the tail that does
    not fill a window is dropped).
    """
    n_windows = (len(ids) - 1) // length
    starts = np.arange(n_windows) * length
    return ids[starts[:, None] + np.arange(length + 1)]


def kneser_ney(
    ids: np.ndarray, *, order: int, vocab_size: int, discount: float = 0.75
) -> np.ndarray:
    """Interpolated Kneser–Ney probabilities of an ``order``-gram table.

    The highest order discounts its counts by ``discount`` and gives the
    mass taken to the next order, as Chen and Goodman (1999, "An empirical
    study of smoothing techniques for language modeling", Section 2.7)
    define it; lower orders use continuation counts (the number of distinct
    characters seen before an n-gram), and the unigram continuation counts
    get one added, so that every id has a positive probability.

    Parameters
    ----------
    ids : ndarray of int
        Training ids, each below ``vocab_size``.
    order : int
        1 (unigram), 2 (bigram) or 3 (trigram).
    vocab_size : int
        Number of ids.
    discount : float, default=0.75
        Absolute discount, in (0, 1).

    Returns
    -------
    ndarray of shape (vocab_size,) * order
        ``p[a, b, c]`` is the probability of ``c`` after ``a b``; it sums to
        one over the last axis.
    """
    if order not in (1, 2, 3):
        raise ValueError(f"order must be 1, 2 or 3, got {order}.")
    if not 0 < discount < 1:
        raise ValueError(f"discount must be in (0, 1), got {discount}.")
    ids = np.asarray(ids, dtype=np.int64)
    counts = [None] * (order + 1)
    counts[order] = _ngram_counts(ids, order, vocab_size)
    # Continuation counts: distinct predecessors of each lower-order n-gram.
    for k in range(order - 1, 0, -1):
        counts[k] = (_ngram_counts(ids, k + 1, vocab_size) > 0).sum(0).astype(float)
    probabilities = (counts[1] + 1) / (counts[1].sum() + vocab_size)
    for k in range(2, order + 1):
        c = counts[k]
        total = c.sum(-1, keepdims=True)
        types = (c > 0).sum(-1, keepdims=True)
        lower = probabilities[None]
        with np.errstate(invalid="ignore", divide="ignore"):
            interpolated = (
                np.maximum(c - discount, 0) + discount * types * lower
            ) / total
        probabilities = np.where(total > 0, interpolated, lower)
    return probabilities


def ngram_bits_per_character(probabilities: np.ndarray, ids: np.ndarray) -> float:
    """Mean ``-log2 p`` of each id after the ``order - 1`` ids before it.

    Parameters
    ----------
    probabilities : ndarray of shape (vocab_size,) * order
        From :func:`kneser_ney`.
    ids : ndarray of int
        The evaluated ids; the first ``order - 1`` are context only.
    """
    order = probabilities.ndim
    ids = np.asarray(ids, dtype=np.int64)
    grams = [ids[k : len(ids) - order + 1 + k] for k in range(order)]
    return float(-np.log2(probabilities[tuple(grams)]).mean())


def _ngram_counts(ids, order, vocab_size):
    flat = np.zeros(len(ids) - order + 1, dtype=np.int64)
    for k in range(order):
        flat = flat * vocab_size + ids[k : len(ids) - order + 1 + k]
    counts = np.bincount(flat, minlength=vocab_size**order).astype(float)
    return counts.reshape((vocab_size,) * order)
