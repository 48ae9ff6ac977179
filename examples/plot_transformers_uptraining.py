"""
=================================================================
Uptraining a Hugging Face causal LM to FAVOR+, FAVOR++ and FAVOR#
=================================================================

Most people who want linear attention hold a pretrained Hugging Face model.
:func:`skfavor.integrations.transformers.favorize` swaps every attention of
a ``transformers`` model for FAVOR attention in place (through transformers'
``AttentionInterface``, the model keeps its class and weights),
:func:`~skfavor.integrations.transformers.calibrate` fits the per-layer
statistics from a few batches without gradients, and a short fine-tune of
the whole model ("uptraining") recovers most of the gap.

Here a tiny Llama learns characters of the Python Language Reference's help
text (``pydoc_data``, shipped with every CPython: the text of the
character-level experiment of :mod:`skfavor.experiments`) with softmax
attention, in this example. Then three copies are favorized with FAVOR+
(``'posrf'``), FAVOR++ (``'gerf'``) and FAVOR# (``'sderf'``), calibrated and
fine-tuned. The whole example runs on the CPU in about a minute.
"""

# %%
# The text and the softmax model
# ------------------------------

import copy
import time
from pydoc_data.topics import topics

import matplotlib.pyplot as plt
import numpy as np
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from skfavor.integrations.transformers import calibrate, favorize

# The tensors are small: one thread avoids threading overhead (and, on a
# busy machine, waiting for the other threads).
torch.set_num_threads(1)
torch.manual_seed(0)
LENGTH, BATCH = 128, 16

text = "\n\n".join(topics[name] for name in sorted(topics))
alphabet = sorted(set(text))
ids = torch.tensor([alphabet.index(c) for c in text])
cut = int(0.95 * len(ids))
train_ids, valid_ids = ids[:cut], ids[cut:]


def batch(source, n, generator):
    starts = torch.randint(len(source) - LENGTH, (n,), generator=generator)
    return torch.stack([source[s : s + LENGTH] for s in starts.tolist()])


valid = batch(valid_ids, 32, torch.Generator().manual_seed(1))

config = LlamaConfig(
    vocab_size=len(alphabet),
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=LENGTH,
    attn_implementation="sdpa",
)
softmax_model = LlamaForCausalLM(config)


@torch.no_grad()
def validation_loss(model):
    model.eval()
    loss = float(model(input_ids=valid, labels=valid).loss)
    model.train()
    return loss


def train(model, steps, learning_rate, seed, every=None):
    """AdamW on random windows of the training text; validation losses."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate)
    model.train()
    losses = []
    for step in range(1, steps + 1):
        x = batch(train_ids, BATCH, generator)
        loss = model(input_ids=x, labels=x).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if every is not None and step % every == 0:
            losses.append(validation_loss(model))
    return losses


start = time.perf_counter()
train(softmax_model, 400, 3e-3, seed=0)
softmax_loss = validation_loss(softmax_model)
print(
    f"softmax model: validation loss {softmax_loss:.3f} nats per character "
    f"({time.perf_counter() - start:.0f} s of training)"
)

# %%
# Favorize, calibrate, fine-tune
# ------------------------------
# Each copy gets 64 random features per head. Right after the swap with the
# default (unit-variance) statistics, and after calibrating on four
# training batches, the loss is measured; then the whole model is fine-tuned
# for 60 steps at a lower learning rate. Causal models use the calibrated
# statistics (followed by a moving average in training), never those of the
# sequence itself, so that no output sees a later character.

FAMILIES = {
    "posrf": "FAVOR+ (posrf)",
    "gerf": "FAVOR++ (gerf)",
    "sderf": "FAVOR# (sderf)",
}
STEPS, EVERY = 60, 10
calibration = [
    batch(train_ids, BATCH, torch.Generator().manual_seed(2 + i)) for i in range(4)
]
curves, swapped = {}, {}
for family in FAMILIES:
    model = favorize(
        copy.deepcopy(softmax_model), feature_map=family, n_features=64, random_state=0
    )
    swapped[family] = validation_loss(model)
    calibrate(model, calibration)
    curves[family] = [validation_loss(model)]
    curves[family] += train(model, STEPS, 1e-3, seed=3, every=EVERY)
    print(
        f"{FAMILIES[family]:>16}: swap {swapped[family]:.3f}, calibrated "
        f"{curves[family][0]:.3f}, after {STEPS} steps {curves[family][-1]:.3f}"
    )
print(f"total {time.perf_counter() - start:.0f} s")

# %%
# The losses
# ----------
# Step 0 is the calibrated model before any gradient step; the crosses mark
# the loss right after the swap, before calibration.

fig, ax = plt.subplots(figsize=(6, 4))
steps = np.arange(0, STEPS + 1, EVERY)
for (family, label), color in zip(FAMILIES.items(), ["C0", "C1", "C2"], strict=True):
    ax.plot(steps, curves[family], "o-", color=color, label=label)
    ax.plot([0], [swapped[family]], "x", color=color, markersize=9)
ax.axhline(softmax_loss, color="k", linestyle="--", label="softmax model")
ax.set_xlabel("fine-tuning steps after the swap")
ax.set_ylabel("validation loss (nats per character)")
ax.set_title("Uptraining a tiny Llama to linear attention")
ax.legend()
fig.tight_layout()
plt.show()
