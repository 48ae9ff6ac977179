"""FAVOR's buffers in ``transformers.Trainer`` checkpoints, peft adapters included.

A checkpoint of a whole favorized model holds its ``favor_`` buffers; one of
a peft model holds the adapter only, so that resuming it would keep the
buffers of the freshly favorized model. :class:`FavorCheckpointCallback`
writes the buffers into every checkpoint and reads them back on resume.
"""

from __future__ import annotations

from pathlib import Path

from safetensors.torch import load_file, save_file
from transformers import TrainerCallback, TrainerState

from ._transformers_statistics import favor_state

#: The file of the ``favor_`` buffers in a checkpoint directory.
BUFFERS_FILE = "favor_buffers.safetensors"


class FavorCheckpointCallback(TrainerCallback):
    """Keep a favorized model's buffers in every ``Trainer`` checkpoint; resume them.

    The buffers are the random directions, running statistics and redraw
    schedule that :func:`~skfavor.integrations.transformers.favorize` adds.
    Pass an instance in ``Trainer(callbacks=[...])`` when training a peft
    model (LoRA), whose checkpoints hold the adapter only: without it,
    ``trainer.train(resume_from_checkpoint=...)`` would go on with the
    buffers of the newly favorized model (other directions and statistics)
    without a word. A whole model's checkpoint holds them anyway; the
    callback then restores the same values.

    On save, the main process writes ``favor_buffers.safetensors`` into the
    checkpoint (``output_dir/checkpoint-<step>``). When training starts at a
    step other than 0 (a resume), every process loads that file of the
    checkpoint of that step in ``output_dir``, which is where
    ``resume_from_checkpoint=True`` resumes from; resuming from a checkpoint
    elsewhere is refused, unless ``output_dir`` holds a copy of it.

    Raises
    ------
    ValueError
        When training starts, if the model has no ``favor_`` buffers (it was
        not favorized). On resume, if ``output_dir/checkpoint-<step>`` has no
        ``favor_buffers.safetensors``, is not the checkpoint resumed (its training
        log differs), or the file's buffers are not the model's.

    Examples
    --------
    >>> from skfavor.integrations.transformers import FavorCheckpointCallback
    >>> callback = FavorCheckpointCallback()  # Trainer(..., callbacks=[callback])
    """

    def on_save(self, args, state, control, model=None, **kwargs):
        """Write the buffers into the checkpoint just saved (main process)."""
        if state.is_world_process_zero:
            directory = _checkpoint(args, state)
            directory.mkdir(parents=True, exist_ok=True)
            buffers = {
                name: value.detach().contiguous().clone()
                for name, value in favor_state(model).items()
            }
            save_file(buffers, str(directory / BUFFERS_FILE))

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        """On resume, load the buffers of the checkpoint of the current step."""
        expected = favor_state(model)
        if not expected:
            raise ValueError(
                f"The model ({type(model).__name__}) has no favor_ buffers: "
                "FavorCheckpointCallback keeps those of a model that favorize "
                "changed; favorize it before training."
            )
        if state.global_step == 0:
            return
        path = _checkpoint(args, state) / BUFFERS_FILE
        if not path.is_file():
            raise ValueError(
                f"Resuming at step {state.global_step}, but {str(path)!r} does not "
                "exist: FavorCheckpointCallback restores the favor_ buffers from "
                "checkpoints in output_dir that it saved itself."
            )
        # Trainer does not tell callbacks which checkpoint it resumed: a path
        # outside output_dir would pick output_dir's one of that step.
        state_file = path.parent / "trainer_state.json"
        if (
            TrainerState.load_from_json(str(state_file)).log_history
            != state.log_history
        ):
            raise ValueError(
                f"Resuming at step {state.global_step}, but {str(path.parent)!r} is "
                "not the checkpoint resumed: FavorCheckpointCallback restores the "
                "favor_ buffers from checkpoints in output_dir only."
            )
        saved = load_file(str(path))
        if saved.keys() != expected.keys():
            raise ValueError(
                f"{str(path)!r} holds other favor_ buffers than the model's "
                f"({len(saved)} against {len(expected)}): it was saved from "
                "another model."
            )
        model.load_state_dict(saved, strict=False)


def _checkpoint(args, state) -> Path:
    """The checkpoint directory Trainer writes at the current step."""
    return Path(args.output_dir) / f"checkpoint-{state.global_step}"
