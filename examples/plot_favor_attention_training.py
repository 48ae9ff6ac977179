"""
=========================================================
Training a small causal Transformer with FAVOR# attention
=========================================================

:class:`skfavor.nn.FavorAttention` takes the place of
:class:`torch.nn.MultiheadAttention` (same arguments, shapes and parameter
names, ``batch_first=True``) and costs time and memory linear in the sequence
length. Here a two-layer causal model learns, at every position, which of two
tokens has been the more frequent so far: each output must average over its
whole prefix, which attention does and an MLP alone cannot. We train it once
with exact attention and once with SDERF features (FAVOR#) with running
statistics, the layer's default for causal attention: its outputs never see
later positions, so that it can decode token by token.

The whole example runs on the CPU in well under a minute.
"""

# %%
# The task and the model
# ----------------------
# Sequences of 64 tokens drawn from 4 symbols. The target at position ``i``
# is 1 if symbol 1 occurred more often than symbol 0 among positions ``≤ i``.

import time

import matplotlib.pyplot as plt
import torch
from torch import nn

from skfavor.nn import FavorAttention

# The tensors are small: one thread avoids threading overhead (and, on a
# busy machine, waiting for the other threads).
torch.set_num_threads(1)
torch.manual_seed(0)
LENGTH, VOCAB, WIDTH, HEADS = 64, 4, 32, 2


def batch(n):
    tokens = torch.randint(VOCAB, (n, LENGTH))
    ones = (tokens == 1).cumsum(1)
    zeros = (tokens == 0).cumsum(1)
    return tokens, (ones > zeros).long()


class Block(nn.Module):
    def __init__(self, attention):
        super().__init__()
        self.attention = attention
        self.norm1, self.norm2 = nn.LayerNorm(WIDTH), nn.LayerNorm(WIDTH)
        self.mlp = nn.Sequential(
            nn.Linear(WIDTH, 2 * WIDTH), nn.GELU(), nn.Linear(2 * WIDTH, WIDTH)
        )

    def forward(self, x):
        h = self.norm1(x)
        if isinstance(self.attention, FavorAttention):
            attended, _ = self.attention(h, h, h)
        else:
            mask = nn.Transformer.generate_square_subsequent_mask(x.shape[1])
            attended, _ = self.attention(h, h, h, attn_mask=mask, is_causal=True)
        x = x + attended
        return x + self.mlp(self.norm2(x))


def model(make_attention):
    return nn.Sequential(
        nn.Embedding(VOCAB, WIDTH),
        PositionalEmbedding(),
        Block(make_attention()),
        Block(make_attention()),
        nn.LayerNorm(WIDTH),
        nn.Linear(WIDTH, 2),
    )


class PositionalEmbedding(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(0.02 * torch.randn(LENGTH, WIDTH))

    def forward(self, x):
        return x + self.weight[: x.shape[1]]


def exact():
    return nn.MultiheadAttention(WIDTH, HEADS, batch_first=True)


def favor():
    return FavorAttention(
        WIDTH,
        HEADS,
        batch_first=True,
        feature_map="sderf",
        n_features=64,
        causal=True,
        random_state=0,
    )


# %%
# Training
# --------
# 300 steps of Adam on batches of 32 sequences, for both models.


def train(net, n_steps=300):
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
    losses = []
    for _ in range(n_steps):
        tokens, target = batch(32)
        loss = nn.functional.cross_entropy(net(tokens).transpose(1, 2), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


histories, nets = {}, {}
for name, make in [("exact attention", exact), ("FavorAttention (SDERF)", favor)]:
    torch.manual_seed(1)
    nets[name] = model(make)
    start = time.perf_counter()
    histories[name] = train(nets[name])
    print(f"{name}: trained in {time.perf_counter() - start:.1f} s")

# %%
# Accuracy on fresh sequences
# ---------------------------

tokens, target = batch(256)
for name, net in nets.items():
    net.eval()
    with torch.no_grad():
        accuracy = (net(tokens).argmax(-1) == target).float().mean().item()
    print(f"{name}: accuracy {accuracy:.3f}")

fig, ax = plt.subplots(figsize=(6, 3.5))
for name, losses in histories.items():
    smooth = torch.tensor(losses).unfold(0, 10, 1).mean(1)
    ax.plot(range(10, len(losses) + 1), smooth, label=name)
ax.set_xlabel("training step")
ax.set_ylabel("cross-entropy (mean of 10 steps)")
ax.set_title("Causal prefix-majority task, two layers")
ax.legend()
fig.tight_layout()

# %%
# Decoding token by token
# -----------------------
# With running statistics the parameters are fixed in eval mode, so
# :meth:`~skfavor.nn.FavorAttention.decode` carries a state of ``O(M·d)``
# numbers per head and equals the causal forward pass, one new position at a
# time.

net = nets["FavorAttention (SDERF)"]
embed, position, first, second, norm, head = net
with torch.no_grad():
    x = position(embed(tokens[:4]))
    states = [None, None]
    outputs = []
    for i in range(LENGTH):
        h = x[:, i : i + 1]
        for index, block in enumerate([first, second]):
            attended, states[index] = block.attention.decode(
                block.norm1(h), states[index]
            )
            h = h + attended
            h = h + block.mlp(block.norm2(h))
        outputs.append(head(norm(h)))
    decoded = torch.cat(outputs, dim=1)
    difference = (decoded - net(tokens[:4])).abs().max().item()
print(f"largest difference between decoding and the forward pass: {difference:.1e}")
