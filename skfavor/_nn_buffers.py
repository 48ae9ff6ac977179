"""The buffers of :class:`skfavor.nn.FavorAttention`: directions, statistics, schedule.

A base class of the layer: it owns the random directions ω and their redraw
schedule (drawn on the device by :mod:`skfavor._torch_sampling`, so that every
process holding the same buffers draws the same directions), the running
statistics, and the rule that casting the layer never rounds them below
float32.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.utils import check_random_state
from torch import nn

from ._attention_numerics import rows_statistics
from ._namespace import get_namespace
from ._sampling import draw_weights
from ._statistics import SampleStatistics
from ._torch_sampling import draw_directions
from .attention import AttentionStatistics

#: Buffers kept in at least float32 when the layer is cast (see ``_apply``).
_WIDE_BUFFERS = (
    "omega",
    "running_query_mean",
    "running_query_covariance",
    "running_key_mean",
    "running_key_covariance",
)

#: The buffers of the redraw schedule (absent from 0.2.0 checkpoints).
_SCHEDULE_BUFFERS = ("redraw_seed", "n_redraws", "calls_since_redraw")


def pooled_head_statistics(q, k, keep, query_keep, scale):
    """Statistics of each head of ``q`` and ``k``, pooled over sequences and positions.

    The batch statistics of running updates and calibration (the layer's and
    the transformers integration's), through :func:`rows_statistics`.

    Parameters
    ----------
    q, k : Tensor of shape (N, H, L, d) and (N, H, S, d)
        Projected heads, checked; their gradients are not followed.
    keep, query_keep : bool Tensor of shape (N, S) and (N, L), or None
        The keys (queries) to keep; None keeps every one (the caller decides
        the queries: no mask rule of ``from_sequences`` here).
    scale : float or None
        The attention scale; ``None`` is ``1/√d``.

    Returns
    -------
    queries, keys : SampleStatistics
        Per head (batch shape (H,)), in kernel units, in the closed forms' dtype.
    """
    heads, width = q.shape[1], q.shape[-1]
    pooled = [x.detach().transpose(0, 1).reshape(heads, -1, width) for x in (q, k)]
    masks = [None if m is None else m.reshape(1, -1) for m in (keep, query_keep)]
    return rows_statistics(*pooled, *masks, scale, get_namespace(q))


@torch.no_grad()
def merge_running(running, batch, num_batches_tracked, momentum, keep) -> None:
    """``M_run ← (1 − m) M_run + m M_batch`` for means and second moments, in place.

    The running update of the layer and of the transformers integration. The
    first update (``num_batches_tracked == 0``) replaces the initial
    statistics; a batch without a real key changes nothing. No value leaves
    the device: the weight and the outcome are chosen by ``torch.where``.

    Parameters
    ----------
    running : two pairs of Tensors
        The ``(mean, covariance)`` buffers of the queries and of the keys.
    batch : two SampleStatistics
        This batch's (:func:`pooled_head_statistics`), queries then keys.
    num_batches_tracked : long Tensor
        Incremented in place when the batch counts.
    momentum : float
    keep : bool Tensor or None
        The keys kept; a batch where none is kept does not count.
    """
    dtype, device = running[0][0].dtype, running[0][0].device
    counted = torch.ones((), dtype=torch.bool, device=device)
    if keep is not None:
        counted = torch.any(keep)
    weight = torch.where(num_batches_tracked == 0, 1.0, momentum).to(dtype)
    for (mean, covariance), stats in zip(running, batch, strict=True):
        one = torch.ones(mean.shape[:-1], dtype=dtype, device=device)
        merged = SampleStatistics(one, mean, covariance).merged(
            SampleStatistics(one, stats.mean.to(dtype), stats.covariance.to(dtype)),
            weight=weight,
        )
        for buffer, new in ((mean, merged.mean), (covariance, merged.scatter)):
            buffer.copy_(torch.where(counted, new, buffer))
    num_batches_tracked += counted.long()


class FavorBuffers(nn.Module):
    """Directions ω, running statistics and the redraw schedule of a layer.

    The subclass sets ``n_features``, ``head_dim``, ``num_heads``,
    ``sampling``, ``redraw_interval`` and ``momentum`` before calling
    :meth:`_make_buffers` and :meth:`_first_draw`.
    """

    def _make_buffers(self, device, dtype) -> None:
        """Directions, running statistics and the redraw schedule."""
        wide = torch.float64 if dtype == torch.float64 else torch.float32
        buffers = {"device": device, "dtype": wide}
        self.register_buffer(
            "omega", torch.empty((self.n_features, self.head_dim), **buffers)
        )
        shape = (self.num_heads, self.head_dim)
        # Initial running statistics: those of the scaled projections of
        # inputs with independent unit-variance entries.
        identity = torch.eye(self.head_dim, **buffers) * self.head_dim**-0.5
        for side in ("query", "key"):
            self.register_buffer(f"running_{side}_mean", torch.zeros(shape, **buffers))
            self.register_buffer(
                f"running_{side}_covariance",
                identity.expand(self.num_heads, -1, -1).clone(),
            )
        for name in ("num_batches_tracked", *_SCHEDULE_BUFFERS):
            self.register_buffer(name, torch.zeros((), dtype=torch.long, device=device))

    @torch.no_grad()
    def _first_draw(self, random_state) -> None:
        """The construction-time directions and the seed of later draws."""
        if random_state is None:
            # torch's default generator: torch.manual_seed controls it. Drawn
            # on the host, also under a device context (meta has no values).
            seed = torch.randint(0, 2**62, (), device="cpu")
            self.redraw_seed.fill_(int(seed))
            self.omega.copy_(self._draw(self.n_redraws))
            return
        try:
            random_state = check_random_state(random_state)
        except ValueError as exc:
            raise ValueError(
                "random_state must be None, an int or a RandomState instance, got "
                f"{random_state!r}."
            ) from exc
        # 0.2.0's draw, so that outputs at a fixed seed are unchanged.
        omega = draw_weights(
            self.n_features, self.head_dim, random_state, sampling=self.sampling
        )
        self.omega.copy_(torch.from_numpy(omega))
        self.redraw_seed.fill_(int(random_state.randint(0, 2**62, dtype=np.int64)))

    def _draw(self, index: torch.Tensor) -> torch.Tensor:
        """Draw ``index`` of the directions, on the buffers' device."""
        omega = draw_directions(
            self.redraw_seed,
            index,
            self.n_features,
            self.head_dim,
            sampling=self.sampling,
        )
        return omega.to(self.omega.dtype)

    @torch.no_grad()
    def redraw(self) -> None:
        """Draw new random directions with the layer's ``sampling``.

        See :ref:`math-sampling` and :ref:`math-simplex`. Draw ``k`` is a
        function of ``(redraw_seed, k)`` computed on the buffers' device
        (:mod:`skfavor._torch_sampling`), so that every process holding the
        same buffers draws the same directions. Restarts the schedule of
        ``redraw_interval``.
        """
        self.n_redraws += 1
        self.omega.copy_(self._draw(self.n_redraws))
        self.calls_since_redraw.zero_()

    @torch.no_grad()
    def _scheduled_redraw(self) -> None:
        """Redraw when the current directions served ``redraw_interval`` forwards.

        Decided by ``torch.where`` on the counter, with no value read on the
        host and no data-dependent branch: the candidate draw is computed at
        every training forward (QR decompositions of ``⌈M / d⌉`` matrices of
        ``d × d``) and kept only when due.
        """
        due = self.calls_since_redraw >= self.redraw_interval
        fresh = self._draw(self.n_redraws + 1)
        self.omega.copy_(torch.where(due, fresh, self.omega))
        self.n_redraws += due.long()
        self.calls_since_redraw.copy_(
            torch.where(
                due,
                torch.ones_like(self.calls_since_redraw),
                self.calls_since_redraw + 1,
            )
        )

    @property
    def calls_since_last_redraw(self) -> int:
        """Training forwards served by the current directions (reads a buffer)."""
        return int(self.calls_since_redraw)

    def _apply(self, fn, recurse=True):
        """Move as asked, but keep the directions and statistics ≥ float32.

        ``layer.half()`` or ``layer.to(torch.bfloat16)`` would round ω and the
        running statistics to 8 or 11 bits; they are moved to the new device
        from the original tensors instead, in their dtype.
        """
        originals = {name: self._buffers[name] for name in _WIDE_BUFFERS}
        super()._apply(fn, recurse)
        for name, original in originals.items():
            moved = self._buffers[name]
            if moved is None or original is None:
                continue
            if not moved.is_floating_point() or torch.finfo(moved.dtype).bits < 32:
                self._buffers[name] = original.to(device=moved.device)
        return self

    def running_statistics(self) -> AttentionStatistics:
        """The running statistics, one set per head, in kernel units.

        What the layer passes to the engine (:func:`favor_heads`) when it
        attends with running statistics.
        """
        return AttentionStatistics(
            self.running_query_mean,
            self.running_query_covariance,
            self.running_key_mean,
            self.running_key_covariance,
        )

    @torch.no_grad()
    def _update_running(self, q, k, keep, query_keep=None) -> None:
        """Merge the batch statistics into the running ones (:func:`merge_running`).

        The batch statistics pool every sequence of a head (projected heads
        ``q``, ``k`` of shape (N, H, L, head_dim)), padded keys left out by
        ``keep`` (N, S) and padded queries by ``query_keep`` (N, L; None:
        every query, as the layer decides them for the engine).
        """
        running = [
            (
                getattr(self, f"running_{side}_mean"),
                getattr(self, f"running_{side}_covariance"),
            )
            for side in ("query", "key")
        ]
        batch = pooled_head_statistics(q, k, keep, query_keep, None)
        merge_running(running, batch, self.num_batches_tracked, self.momentum, keep)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # A 0.2.0 checkpoint holds ω but not the redraw schedule: it loads
        # (strict too), keeping this layer's seed and counters.
        if prefix + "omega" in state_dict:
            for name in _SCHEDULE_BUFFERS:
                state_dict.setdefault(prefix + name, getattr(self, name))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
