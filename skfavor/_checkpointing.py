"""FAVOR attention's training side effects under activation checkpointing.

``torch.utils.checkpoint`` (and Hugging Face's ``gradient_checkpointing_enable``)
runs a module's forward a second time during backward. A training forward of
FAVOR attention has side effects: a scheduled redraw of ω and the update of the
running statistics. They must happen once, and the recomputed forward must
compute what the first run did: the same ω (no redraw) and the maps of the
running statistics from before that run's update. Under ``torch.compile`` the
compiler plans any recomputation itself and runs no Python side effects
twice, so nothing here applies.
"""

from __future__ import annotations

import torch

#: Attribute of a module holding the running statistics its last training
#: forward fitted its maps to (not a buffer: never saved).
SNAPSHOT = "favor_checkpoint_statistics"


def recomputing() -> bool:
    """Whether this forward is activation checkpointing's second run (eager mode).

    A forward that runs while autograd executes a backward pass is one: the
    id of the current graph task is then not -1.
    """
    if torch.compiler.is_compiling():
        return False
    return torch._C._current_graph_task_id() != -1


def forward_statistics(module, statistics, training: bool):
    """The running ``statistics`` a forward of ``module`` fits its maps to.

    A first training run keeps a copy (the update that follows changes the
    buffers in place); the recomputation takes that copy. ``None`` (batch
    statistics) passes through.
    """
    if statistics is None or not training or torch.compiler.is_compiling():
        return statistics
    if recomputing():
        return getattr(module, SNAPSHOT, statistics)
    snapshot = type(statistics)(*(part.detach().clone() for part in statistics))
    setattr(module, SNAPSHOT, snapshot)
    return statistics
