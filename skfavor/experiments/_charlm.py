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
