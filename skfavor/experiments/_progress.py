"""A progress bar on stderr: tqdm's when it is installed, a plain one otherwise."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator


def progress(
    iterable: Iterable, *, total: int, desc: str, disable: bool = False
) -> Iterator:
    """Yield from ``iterable`` while drawing a progress bar on stderr.

    Parameters
    ----------
    iterable : iterable
        The items to yield.
    total : int
        Number of items expected.
    desc : str
        Label printed before the bar.
    disable : bool, default=False
        Yield the items without drawing anything.

    Yields
    ------
    object
        The items of ``iterable``, unchanged.
    """
    if disable:
        yield from iterable
        return
    try:
        from tqdm.auto import tqdm
    except ImportError:
        yield from _plain(iterable, total, desc)
    else:
        yield from tqdm(iterable, total=total, desc=desc, file=sys.stderr)


def _plain(iterable: Iterable, total: int, desc: str, width: int = 30) -> Iterator:
    start = time.perf_counter()
    # A terminal gets one line redrawn in place; a log file a line per tenth.
    live = sys.stderr.isatty()
    done = 0

    def draw(end: str) -> None:
        filled = width * done // max(total, 1)
        bar = "#" * filled + "." * (width - filled)
        elapsed = time.perf_counter() - start
        prefix = "\r" if live else ""
        sys.stderr.write(f"{prefix}{desc} [{bar}] {done}/{total} {elapsed:.0f}s{end}")
        sys.stderr.flush()

    for item in iterable:
        yield item
        done += 1
        if live:
            draw("")
        elif done < total and 10 * done // total > 10 * (done - 1) // total:
            draw("\n")
    draw("\n")
