"""Rows in blocks, shared out to threads of ours with BLAS held to one thread
meanwhile, or run in the calling thread with BLAS's own threads.

The package's block and thread plan (:func:`plan_blocks`, with its block-size
policy :func:`rows_per_block` and :func:`threads_for`) and the thread
machinery of the NumPy feature maps (:func:`run_in_blocks`): each output row
depends on its input row alone, so the results do not depend on the blocks or
the threads beyond rounding.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

from joblib import cpu_count
from sklearn import get_config
from threadpoolctl import ThreadpoolController

#: Most bytes of output per block. BLAS packs the whole weight matrix again for
#: each block's product, so blocks of few rows waste time when n_features is
#: large: on 2 cores, (5000, 784, 4096) took 1.6 times as long with 1 MiB
#: blocks as with 4 to 16 MiB ones, and no shape measured gained from blocks
#: small enough to stay in a core's cache.
_BLOCK_BYTES = 2**23

#: Fewest bytes per block, so that mid-sized outputs are still shared out.
_MIN_BLOCK_BYTES = 2**17

#: Fewest blocks per thread, for a thread to pay for its start and for the
#: blocks to even out the threads' loads.
_MIN_BLOCKS_PER_THREAD = 4


def rows_per_block(row_bytes: int, n_rows: int, n_threads: int) -> int:
    """Rows per block: within ``working_memory``, enough blocks for the threads.

    The package's one block-size policy: blocks of ``_MIN_BLOCK_BYTES`` to
    ``_BLOCK_BYTES``, at least ``_MIN_BLOCKS_PER_THREAD`` per thread where the
    rows allow, never over scikit-learn's ``working_memory``.
    """
    target = row_bytes * n_rows // (_MIN_BLOCKS_PER_THREAD * max(n_threads, 1))
    return _rows_within(
        min(max(target, _MIN_BLOCK_BYTES), _BLOCK_BYTES), row_bytes, n_rows
    )


def _rows_within(block_bytes: int, row_bytes: int, n_rows: int) -> int:
    """Rows that fit ``block_bytes`` and ``working_memory``, from 1 to ``n_rows``."""
    budget = min(get_config()["working_memory"] * 2**20, block_bytes)
    return int(min(max(budget // max(row_bytes, 1), 1), max(n_rows, 1)))


#: Fewest bytes of output per thread of ours in a transform whose threads
#: are left to the default (:func:`threads_for`), by the dtype's item size:
#: a helper thread can wait behind another thread for a scheduler slice
#: (OpenBLAS's threads spin for about 0.12 s after each multi-threaded call,
#: see :func:`run_in_blocks`), which short outputs do not pay for. On 2 cores,
#: right after a BLAS product, against the bare floor, two threads and one
#: (medians of 15 to 80 interleaved rounds, load 1 to 1.9): 1000 x 32 -> 256
#: float32 1.25 and 1.04, 1.69 and 1.40; 1000 x 16 -> 512 float32 1.54 and
#: 1.37; 1500 x 64 -> 256 float32 1.65 and 1.43; float64's dearer
#: exponentials pay for threads sooner: 1000 x 32 -> 256 float64 1.02 and
#: 0.92 after a product but 0.56 and 0.78 with OpenBLAS's threads asleep.
MIN_BYTES_PER_THREAD = {4: 2**21, 8: 2**20}


def threads_for(n_bytes: int, itemsize: int, n_threads: int) -> int:
    """Threads worth sharing an output of ``n_bytes`` out to: at most ``n_threads``.

    One per :data:`MIN_BYTES_PER_THREAD` bytes (by ``itemsize``), at least one.
    """
    per_thread = MIN_BYTES_PER_THREAD[itemsize]
    return int(max(1, min(n_threads, n_bytes // per_thread)))


#: Columns of ``[x − c, 1, q(x − c)]`` from which a block's product may be
#: left to BLAS's threads (:func:`run_in_blocks`), by the
#: dtype's item size: at ``d + 2`` columns a feature costs ``d + 2``
#: multiply-adds against one exponential, and float64's exponential costs
#: 5 to 10 times float32's (scalar libm without AVX-512).
BLAS_THREADED_WIDTH = {4: 128, 8: 256}

#: Most multiply-adds ``n_samples · n_components · (d + 2)`` of a transform
#: left to BLAS's threads, by item size. Measured on 2 cores, interleaved
#: with other BLAS calls (``benchmarks/bench_transform.py``): BLAS's threads
#: won on every float32 shape from 128 columns up to 5000 x 256 -> 2048
#: (2.6e9; 1.2 against 1.34 x the bare floor) and lost at 5000 x 784 -> 4096
#: (1.6e10; 0.90 against 0.82); in float64 they won at 2000 x 784 -> 1024
#: (1.6e9; 1.28 against 1.49) and lost from 2.6e9 on, where our threads'
#: shared exponentials pay for themselves.
BLAS_THREADED_WORK = {4: 1e10, 8: 2e9}


def blas_threaded(
    n_samples: int, n_components: int, n_features: int, itemsize: int
) -> bool:
    """Whether a dense transform of this shape leaves its products to BLAS.

    Wide rows of ``itemsize``-byte floats and a transform short enough
    (:data:`BLAS_THREADED_WIDTH`, :data:`BLAS_THREADED_WORK`); see
    :func:`run_in_blocks`.
    """
    width = n_features + 2
    work = n_samples * n_components * width
    return (
        width >= BLAS_THREADED_WIDTH[itemsize] and work < BLAS_THREADED_WORK[itemsize]
    )


#: Memory beyond the output that a plan on BLAS's threads aims to stay within,
#: as a fraction of the output: its row buffers ``[x − c, 1, q(x − c)]``,
#: numpy's temporaries and a first call's casts (estimated by the caller;
#: rows wider than a quarter of the output's can take more, in blocks of
#: :func:`rows_per_block`, as before the plan grew blocks). Within it, a short output on
#: one thread of ours (:func:`threads_for`) is one block with the product on
#: BLAS's threads, the bare ``exp(X @ W.T)``'s own way, and short transforms of
#: wide rows (:func:`blas_threaded`) take the longest blocks it allows. Right
#: after a BLAS product, on 2 cores (medians of 21, load 0.9), against the
#: bare floor, one block and blocks on one thread held to one BLAS thread:
#: 1000 x 32 -> 256 float32 1.25 and 1.46, 1000 x 64 -> 256 float32 1.23 and
#: 1.48; with OpenBLAS's threads asleep (``OPENBLAS_THREAD_TIMEOUT=4``) 1.26
#: and 1.47, 1.25 and 1.59. Wide rows on BLAS's threads, blocks of
#: :func:`rows_per_block` and the longest within this fraction (medians of
#: 21, interleaved, load 1 to 1.5): 5000 x 256 -> 2048 float32 1.14 and 0.99 x
#: the floor (one block), 5000 x 128 -> 1024 float32 1.14 and 1.01 (one
#: block), 2000 x 256 -> 1024 float64 1.25 and 1.18 (two blocks); each
#: block's product packs the weights again.
ONE_BLOCK_EXTRA_FRACTION = 0.25


class BlockPlan(NamedTuple):
    """How a transform's output is cut and shared out (:func:`plan_blocks`)."""

    #: Threads of ours that take blocks.
    n_threads: int
    #: Rows per block.
    n_block_rows: int
    #: Whether the calling thread runs the blocks with BLAS's own threads
    #: sharing out each product (:func:`run_in_blocks`).
    blas_threads: bool


def plan_blocks(
    n_samples: int,
    n_components: int,
    n_features: int,
    itemsize: int,
    n_threads: int | None,
    *,
    sparse: bool = False,
    block_extra_bytes=None,
) -> BlockPlan:
    """The package's one plan for a transform's blocks and threads.

    Threads chosen by the caller (``n_threads``) are used as given, with BLAS
    held to one thread. Left to the default (:func:`default_threads`), dense
    rows leave their products to BLAS's threads in short transforms of wide
    rows (:func:`blas_threaded`), in the longest blocks whose extra memory
    ``block_extra_bytes(n_rows)`` is within :data:`ONE_BLOCK_EXTRA_FRACTION`
    of the output where the rows allow (in no more blocks than
    :func:`rows_per_block`'s), and in
    short outputs on one thread of ours (:func:`threads_for`) as one block
    when it is within that fraction; the others share blocks out to
    :func:`threads_for` threads of ours with BLAS held to one thread. Without
    ``block_extra_bytes`` (the memory is unknown) no plan grows its blocks
    for BLAS. Blocks never exceed ``working_memory``.
    """
    row_bytes = n_components * itemsize
    if n_threads is not None:
        return BlockPlan(
            n_threads, rows_per_block(row_bytes, n_samples, n_threads), False
        )
    available = default_threads()
    output_bytes = row_bytes * n_samples
    ours = threads_for(output_bytes, itemsize, available)
    dense = available > 1 and not sparse
    extra = block_extra_bytes or (lambda n_rows: math.inf)
    budget = ONE_BLOCK_EXTRA_FRACTION * output_bytes
    if dense and blas_threaded(n_samples, n_components, n_features, itemsize):
        rows = max(
            _rows_with_extra_within(n_samples, budget, extra),
            rows_per_block(row_bytes, n_samples, 1),
        )
        # Not evened out: on 2 cores, 1969 rows and 31 took 1.06 x the bare
        # floor where 1000 and 1000 took 1.2 (2000 x 256 -> 1024 float32).
        return BlockPlan(1, _rows_within(rows * row_bytes, row_bytes, n_samples), True)
    if dense and ours == 1 and extra(n_samples) <= budget:
        # One block, cut only by working_memory.
        return BlockPlan(1, _rows_within(output_bytes, row_bytes, n_samples), True)
    return BlockPlan(ours, rows_per_block(row_bytes, n_samples, ours), False)


def _rows_with_extra_within(n_samples: int, budget: float, block_extra_bytes) -> int:
    """Most rows, from 1 to ``n_samples``, whose block needs at most ``budget``
    bytes beyond its output: a bisection, exact for any ``block_extra_bytes``
    that does not decrease with the rows (1 when even one row needs more)."""
    low, high = 1, max(n_samples, 1)
    while low < high:
        middle = (low + high + 1) // 2
        if block_extra_bytes(middle) <= budget:
            low = middle
        else:
            high = middle - 1
    return low


@functools.cache
def _blas_controller() -> ThreadpoolController:
    """One controller for the process: finding the libraries is the slow part."""
    return ThreadpoolController()


@functools.cache
def n_cpus() -> int:
    """CPUs this process may use (affinity and cgroup quotas included)."""
    return cpu_count()


def _blas_num_threads() -> int | None:
    """Threads BLAS may use now (the most of its libraries), None without BLAS."""
    blas = [
        lib.num_threads
        for lib in _blas_controller().lib_controllers
        if lib.user_api == "blas"
    ]
    return max(blas) if blas else None


class _BlasHold:
    """BLAS held to one thread while transforms share blocks among threads.

    BLAS's number of threads belongs to the process, and a threadpoolctl
    limit restores on leaving what it found on entering: overlapping limits
    (transforms from several threads, or joblib's threading backend) would
    restore one another's 1 and leave BLAS on one thread for good. So only
    a transform that starts while no other holds BLAS sets the limit, and it
    lifts it as it leaves, from its own thread (threadpoolctl 3.8 and later
    let only the thread that set OpenBLAS's limit change it); transforms that
    start meanwhile run inside that hold for as long as it lasts, and on
    BLAS's own threads after it, which changes their results only by
    rounding. Holds never overlap, so each finds and restores the process's
    own setting.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held = False
        self._threads_before: int | None = None

    @contextlib.contextmanager
    def __call__(self):
        limiter = None
        with self._lock:
            if not self._held:
                self._threads_before = _blas_num_threads()
                limiter = _blas_controller().limit(limits=1, user_api="blas")
                limiter.__enter__()
                self._held = True
        try:
            yield
        finally:
            if limiter is not None:
                with self._lock:
                    limiter.__exit__(None, None, None)
                    self._held = False
                    self._threads_before = None

    def reset_in_child(self) -> None:
        """Drop a hold inherited by a forked child, and give BLAS its threads back.

        The thread that would lift the parent's hold does not exist in the
        child: without this, BLAS stayed on one thread in the child for good
        (its own transforms found the hold taken and left it so), and a lock
        taken at the moment of the fork would never be released.
        """
        self._lock = threading.Lock()
        if self._held:
            # Set, not entered: the child's setting from now on.
            _blas_controller().limit(limits=self._threads_before, user_api="blas")
        self._held = False
        self._threads_before = None

    def threads_outside(self) -> int | None:
        """Threads BLAS may use outside a hold (None without BLAS)."""
        with self._lock:
            return self._threads_before if self._held else _blas_num_threads()


single_threaded_blas = _BlasHold()


def default_threads() -> int:
    """Threads BLAS may use, at most the CPUs available to this process.

    A transform's own hold on BLAS (:class:`_BlasHold`) is not the user's
    limit: while one holds, the number from before it counts.
    """
    blas = single_threaded_blas.threads_outside()
    return min(blas, n_cpus()) if blas else n_cpus()


_POOLS: dict[int, tuple[int, ThreadPoolExecutor]] = {}
_POOLS_LOCK = threading.Lock()


def _pool(n_workers: int) -> ThreadPoolExecutor:
    """Helper threads for transforms, at least ``n_workers``, kept for reuse.

    Starting threads in each call cost about as much as a transform of a
    thousand rows. A helper only takes blocks while any are left, so helpers
    that wait behind another transform's find none and return. The pool is
    kept per process id (a forked child does not inherit the threads) and
    replaced by a larger one when a call asks for more helpers.
    """
    pid = os.getpid()
    with _POOLS_LOCK:
        size, pool = _POOLS.get(pid, (0, None))
        if size < n_workers:
            if pool is not None:
                pool.shutdown(wait=False)
            size = max(n_workers, n_cpus() - 1)
            pool = ThreadPoolExecutor(size, thread_name_prefix="skfavor")
            _POOLS.clear()
            _POOLS[pid] = (size, pool)
        return pool


def _reset_after_fork() -> None:
    """A forked child's fresh state: no pools, free locks, no inherited hold."""
    global _POOLS_LOCK
    _POOLS_LOCK = threading.Lock()
    _POOLS.clear()
    single_threaded_blas.reset_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def run_in_blocks(
    n_rows: int,
    n_block_rows: int,
    n_threads: int,
    make_worker,
    *,
    blas_threads: bool = False,
):
    """Share the row blocks of ``range(n_rows)`` out to up to ``n_threads`` threads.

    Each thread calls ``make_worker()`` once (for its own buffers) and then
    the worker on one block (a slice of rows) at a time; the workers return
    pairs of counts, which are summed. Blocks are handed out one at a time
    rather than split up front, so that a thread slowed down by other
    processes on a shared machine takes fewer of them. BLAS gets one thread
    per block whatever the number of our own threads, so that the blocks'
    products do not depend on it.

    With ``blas_threads``, the calling thread runs every block and BLAS
    shares each block's product out to its own threads instead, for products
    that cost much more than the rest of a block's work (wide rows) and for
    short outputs as one block (:func:`plan_blocks`). Right
    after a multi-threaded call, OpenBLAS's idle threads spin for
    ``2**OPENBLAS_THREAD_TIMEOUT`` cycles (2**28 by default, about 0.12 s
    measured) before they sleep, taking cores from our threads meanwhile:
    on 2 cores our threads ran up to twice as slowly as alone, with twice the
    CPU time (``benchmarks/bench_blas_interference.py``), where BLAS's own
    threads find the spinning ones ready: a 2000 x 256 -> 1024 float32
    transform right after a product took 1.4 times as long our way. The
    results differ by rounding at most.

    Returns
    -------
    counts : tuple of two ints
    """
    blocks = (
        slice(start, min(start + n_block_rows, n_rows))
        for start in range(0, n_rows, n_block_rows)
    )
    n_blocks = -(-n_rows // n_block_rows)
    n_threads = max(1, min(n_threads, n_blocks // _MIN_BLOCKS_PER_THREAD))
    lock = threading.Lock()
    counts = [0, 0]
    # Emptied once the helpers are settled: a helper cancelled in the pool's
    # queue stays there until a thread takes it, and must not hold the
    # call's worker, and through it the output, meanwhile.
    factory = [make_worker]
    del make_worker

    def work() -> None:
        worker = factory[0]()
        first = second = 0
        while True:
            with lock:
                rows = next(blocks, None)
            if rows is None:
                break
            block_first, block_second = worker(rows)
            first, second = first + block_first, second + block_second
        with lock:
            counts[0] += first
            counts[1] += second

    if n_blocks == 1 or blas_threads:
        work()
        return counts[0], counts[1]
    with single_threaded_blas():
        if n_threads <= 1:
            work()
            return counts[0], counts[1]
        helpers = _submitted(_pool(n_threads - 1), work, n_threads - 1)
        try:
            work()
        finally:
            _settle(helpers)
            factory.clear()
    return counts[0], counts[1]


def _settle(helpers: list) -> None:
    """Wait for the helpers that have started; cancel the others.

    A helper that has not started once the calling thread has run out of
    blocks would find none left: it is cancelled rather than waited for
    while a busy machine schedules it.
    """
    for helper in helpers:
        if not helper.cancel():
            helper.result()


def _submitted(pool: ThreadPoolExecutor, work, n_helpers: int) -> list:
    """Up to ``n_helpers`` futures of ``work`` on ``pool``: fewer, or none, if
    another call has meanwhile replaced the pool by a larger one and shut it
    down (:func:`_pool`); the calling thread then takes more of the blocks."""
    helpers = []
    for _ in range(n_helpers):
        try:
            helpers.append(pool.submit(work))
        except RuntimeError:
            break
    return helpers
