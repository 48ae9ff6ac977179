"""FAVOR# attention as a PyTorch layer: a drop-in for ``torch.nn.MultiheadAttention``.

Importing this module imports PyTorch; ``import skfavor`` does not.
"""

from __future__ import annotations

import warnings
from numbers import Integral, Real

import torch
from sklearn.utils import check_random_state
from torch import nn
from torch.nn import functional as F

from ._closed_forms import FAMILIES
from ._sampling import SAMPLINGS, draw_weights
from ._statistics import SampleStatistics
from .attention import AttentionStatistics, FavorState, favor_heads

__all__ = ["FavorAttention", "FavorDecodingState"]


#: What :meth:`FavorAttention.decode` carries from one call to the next: the
#: engine's :class:`~skfavor.attention.FavorState` (sums, top and the maps
#: compiled from the running statistics at the first call).
FavorDecodingState = FavorState


class FavorAttention(nn.Module):
    """Multi-head attention with FAVOR# positive random features.

    Replaces the softmax kernel ``exp(qᵀk / √d)`` of each head by
    ``φ_q(q)ᵀ φ_k(k)`` with positive random features whose parameters are
    fitted in closed form to the statistics of the queries and keys
    (:ref:`math-families`, :ref:`math-attention-model`), so that attention
    costs time and memory linear in the sequence length. Shapes, projections
    and parameter names are those of ``torch.nn.MultiheadAttention(...,
    batch_first=True)``: ``load_state_dict(mha.state_dict(), strict=False)``
    turns a trained softmax layer into a FAVOR# one.

    Parameters
    ----------
    embed_dim : int
        Width of the model (of the queries and of the output).
    num_heads : int
        Number of heads; must divide ``embed_dim``.
    feature_map : {'posrf', 'gerf', 'sderf', 'aderf', 'saderf'}, default='sderf'
        ``'posrf'`` is FAVOR+, ``'gerf'`` FAVOR++, the others FAVOR#.
    n_features : int, default=256
        Random features ``M`` per head.
    causal : bool, default=False
        Unidirectional attention: position ``i`` attends to keys ``j ≤ i``.
    statistics : {'batch', 'running'} or None, default=None
        ``'batch'``: each sequence and head fits its own parameters (the
        paper's choice). ``'running'``: one set of statistics per head,
        merged into an exponential moving average after each training
        forward and used as it was before that forward; frozen in eval mode.
        ``None`` is ``'batch'`` for bidirectional and ``'running'`` for
        causal attention. Causal attention with ``'batch'`` warns: its
        outputs see later positions through the ``d²`` numbers of the fit.
    momentum : float, default=0.1
        Weight of each batch in the running statistics (the first batch
        replaces the initial ones).
    redraw_interval : int or None, default=None
        Draw new random directions every that many training forwards, so
        that each draw serves exactly ``redraw_interval`` of them (a counter
        of training forwards, like performer-pytorch's
        ``feature_redraw_interval``, whose draws serve one forward more; the
        counter is a Python int, so that no tensor is read on the host).
        ``None`` never redraws on its own.
    parameter_grad : bool, default=False
        Let gradients flow through the closed forms (eigen-decompositions
        included) with batch statistics; ``False`` treats the fitted
        parameters as constants. Running statistics are always constants.
    dropout : float, default=0.0
        Dropout probability, in training, of the key features in the
        numerator (the normaliser stays exact), the analogue of dropout on
        the attention weights.
    bias : bool, default=True
        Whether the input and output projections have biases.
    kdim, vdim : int or None, default=None
        Widths of the keys and values (``embed_dim`` if None).
    random_state : int, RandomState instance or None, default=None
        Controls the random directions, drawn on the host at construction and
        at every redraw.
    device, dtype : optional
        Of the parameters and buffers, as for any PyTorch layer.
    sampling : {'orthogonal', 'simplex', 'iid'}, default='orthogonal'
        Coupling of the random directions within blocks of ``head_dim`` rows
        (:ref:`math-sampling`, :ref:`math-simplex`); every coupling keeps the
        estimator unbiased.

    Attributes
    ----------
    in_proj_weight, in_proj_bias, q_proj_weight, k_proj_weight, v_proj_weight
        As in ``torch.nn.MultiheadAttention``.
    out_proj : torch.nn.Linear
        The output projection.
    omega : Tensor of shape (n_features, head_dim)
        The random directions (a buffer, saved in the ``state_dict``).
    running_query_mean, running_key_mean : Tensor of shape (num_heads, head_dim)
        Running means of the scaled queries and keys ``x / head_dim^¼``.
    running_query_covariance, running_key_covariance : Tensor
        Their running covariances, of shape (num_heads, head_dim, head_dim).
    num_batches_tracked : Tensor
        Number of updates of the running statistics.

    See Also
    --------
    skfavor.attention.favor_attention : The functional form (batch statistics).

    Notes
    -----
    The features and sums are computed in at least float32 (also under
    ``torch.autocast``) and the attention output is cast back to the input
    dtype before the output projection. The closed forms run batched on the
    inputs' device in float64. No value travels from the device to the host
    in ``forward`` or ``decode``: a NaN or infinite output is reported by
    ``torch._assert_async`` (a ``RuntimeError``; on a GPU, at a later CUDA
    call).

    Examples
    --------
    >>> import torch
    >>> from skfavor.nn import FavorAttention
    >>> layer = FavorAttention(16, 2, n_features=32, random_state=0)
    >>> x = torch.randn(3, 10, 16)
    >>> out, weights = layer(x, x, x)
    >>> out.shape, weights
    (torch.Size([3, 10, 16]), None)
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        *,
        feature_map: str = "sderf",
        n_features: int = 256,
        causal: bool = False,
        statistics: str | None = None,
        momentum: float = 0.1,
        redraw_interval: int | None = None,
        parameter_grad: bool = False,
        dropout: float = 0.0,
        bias: bool = True,
        kdim: int | None = None,
        vdim: int | None = None,
        random_state=None,
        device=None,
        dtype=None,
        sampling: str = "orthogonal",
    ) -> None:
        super().__init__()
        for name, value in (("embed_dim", embed_dim), ("num_heads", num_heads)):
            _check_int(name, value, 1)
        if embed_dim % num_heads:
            raise ValueError(
                f"num_heads must divide embed_dim, got embed_dim={embed_dim} and "
                f"num_heads={num_heads}."
            )
        if not isinstance(feature_map, str) or feature_map not in FAMILIES:
            raise ValueError(
                f"feature_map must be one of {sorted(FAMILIES)}, got {feature_map!r}."
            )
        _check_int("n_features", n_features, 1)
        for name, flag in (
            ("causal", causal),
            ("parameter_grad", parameter_grad),
            ("bias", bias),
        ):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be a bool, got {flag!r}.")
        if not isinstance(sampling, str) or sampling not in SAMPLINGS:
            raise ValueError(
                f"sampling must be one of {list(SAMPLINGS)}, got {sampling!r}."
            )
        self.sampling = sampling
        if statistics is None:
            statistics = "running" if causal else "batch"
        if statistics not in ("batch", "running"):
            raise ValueError(
                f"statistics must be 'batch', 'running' or None, got {statistics!r}."
            )
        if causal and statistics == "batch" and feature_map != "posrf":
            warnings.warn(
                "causal=True with statistics='batch': each output sees later "
                "positions through the d² numbers of the fitted parameters. Use "
                "statistics='running' for strictly causal attention.",
                UserWarning,
                stacklevel=2,
            )
        if (
            not isinstance(momentum, Real)
            or isinstance(momentum, bool)
            or not 0 < momentum <= 1
        ):
            raise ValueError(f"momentum must be a float in (0, 1], got {momentum!r}.")
        if redraw_interval is not None:
            _check_int("redraw_interval", redraw_interval, 1)
        if (
            not isinstance(dropout, Real)
            or isinstance(dropout, bool)
            or not 0 <= dropout < 1
        ):
            raise ValueError(f"dropout must be a float in [0, 1), got {dropout!r}.")
        for name, value in (("kdim", kdim), ("vdim", vdim)):
            if value is not None:
                _check_int(name, value, 1)
        try:
            self._random_state = check_random_state(random_state)
        except ValueError as exc:
            raise ValueError(
                "random_state must be None, an int or a RandomState instance, got "
                f"{random_state!r}."
            ) from exc
        factory = {"device": device, "dtype": dtype}
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.kdim = embed_dim if kdim is None else kdim
        self.vdim = embed_dim if vdim is None else vdim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.batch_first = True
        self.feature_map = feature_map
        self.n_features = n_features
        self.causal = causal
        self.statistics = statistics
        self.momentum = float(momentum)
        self.redraw_interval = redraw_interval
        self.parameter_grad = parameter_grad
        self.dropout = float(dropout)
        self.calls_since_last_redraw = 0
        if self._qkv_same_embed_dim:
            self.in_proj_weight = nn.Parameter(
                torch.empty((3 * embed_dim, embed_dim), **factory)
            )
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        else:
            self.q_proj_weight = nn.Parameter(
                torch.empty((embed_dim, embed_dim), **factory)
            )
            self.k_proj_weight = nn.Parameter(
                torch.empty((embed_dim, self.kdim), **factory)
            )
            self.v_proj_weight = nn.Parameter(
                torch.empty((embed_dim, self.vdim), **factory)
            )
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = nn.Parameter(torch.empty(3 * embed_dim, **factory))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias, **factory)
        buffer_dtype = torch.float64 if dtype == torch.float64 else torch.float32
        buffers = {"device": device, "dtype": buffer_dtype}
        self.register_buffer(
            "omega", torch.empty((n_features, self.head_dim), **buffers)
        )
        shape = (num_heads, self.head_dim)
        # Initial running statistics: those of the scaled projections of
        # inputs with independent unit-variance entries.
        identity = torch.eye(self.head_dim, **buffers) * self.head_dim**-0.5
        for side in ("query", "key"):
            self.register_buffer(f"running_{side}_mean", torch.zeros(shape, **buffers))
            self.register_buffer(
                f"running_{side}_covariance",
                identity.expand(num_heads, -1, -1).clone(),
            )
        self.register_buffer(
            "num_batches_tracked", torch.zeros((), dtype=torch.long, device=device)
        )
        self._reset_parameters()
        self.redraw()

    def _reset_parameters(self) -> None:
        """Initialise as ``torch.nn.MultiheadAttention`` does."""
        if self._qkv_same_embed_dim:
            nn.init.xavier_uniform_(self.in_proj_weight)
        else:
            nn.init.xavier_uniform_(self.q_proj_weight)
            nn.init.xavier_uniform_(self.k_proj_weight)
            nn.init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            nn.init.constant_(self.in_proj_bias, 0.0)
            nn.init.constant_(self.out_proj.bias, 0.0)

    @torch.no_grad()
    def redraw(self) -> None:
        """Draw new random directions with the layer's ``sampling``.

        See :ref:`math-sampling` and :ref:`math-simplex`.

        Drawn on the host from the layer's ``random_state`` and copied into
        the ``omega`` buffer on its device.
        """
        omega = draw_weights(
            self.n_features, self.head_dim, self._random_state, sampling=self.sampling
        )
        self.omega.copy_(torch.from_numpy(omega))
        self.calls_since_last_redraw = 0

    def extra_repr(self) -> str:
        return (
            f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, "
            f"feature_map={self.feature_map!r}, n_features={self.n_features}, "
            f"causal={self.causal}, statistics={self.statistics!r}"
        )

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        key_padding_mask: torch.Tensor | None = None,
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, None]:
        """Attention of ``query`` over ``key`` and ``value``.

        Parameters
        ----------
        query : Tensor of shape (N, L, embed_dim) or (L, embed_dim)
        key : Tensor of shape (N, S, kdim) or (S, kdim)
        value : Tensor of shape (N, S, vdim) or (S, vdim)
        key_padding_mask : bool Tensor of shape (N, S) or (S,), default=None
            ``True`` marks padded keys: they are left out of the statistics
            and the sums (in self-attention, ``query is key``, also out of the
            query statistics), so each output equals that of the sequence
            without its padding.
        need_weights : bool, default=False
            Must be False: FAVOR attention never forms the ``L × S`` matrix.

        Returns
        -------
        output : Tensor of shape (N, L, embed_dim) or (L, embed_dim)
        weights : None
        """
        if need_weights:
            raise ValueError(
                "need_weights=True is not supported: FAVOR attention never forms "
                "the L×S attention matrix. Pass need_weights=False."
            )
        query, key, value, keep, unbatched = self._check_inputs(
            query, key, value, key_padding_mask
        )
        if self.training and self.redraw_interval is not None:
            if self.calls_since_last_redraw >= self.redraw_interval:
                self.redraw()
            self.calls_since_last_redraw += 1
        q, k, v = self._project(query, key, value)
        n, length, _ = q.shape
        out, _ = self._attend_heads(
            *(_split_heads(x, self.num_heads) for x in (q, k, v)), keep
        )
        out = self.out_proj(out.transpose(1, 2).reshape(n, length, self.embed_dim))
        return (out[0] if unbatched else out), None

    def _attend_heads(self, q, k, v, keep=None, state=None):
        """Attention of projected heads (N, H, L, head_dim), in their dtype.

        The layer's one call into the engine (:func:`favor_heads`) per
        forward or decoding step; then, in training with running statistics,
        their update. ``keep`` (N, S) marks the keys to keep.
        """
        heads_keep = None if keep is None else keep[:, None, :]
        running = self.statistics == "running"
        out, state = favor_heads(
            q,
            k,
            v,
            self.omega,
            family=self.feature_map,
            causal=self.causal,
            keep=heads_keep,
            statistics=self.running_statistics() if running else None,
            initial_state=state,
            output_final_state=self.causal,
            dropout=self.dropout if self.training else None,
            parameter_grad=self.parameter_grad,
        )
        if self.training and running:
            self._update_running(q, k, keep)
        return out, state

    def running_statistics(self) -> AttentionStatistics:
        """The running statistics, one set per head, in kernel units."""
        return AttentionStatistics(
            self.running_query_mean,
            self.running_query_covariance,
            self.running_key_mean,
            self.running_key_covariance,
        )

    @torch.no_grad()
    def _update_running(self, q, k, keep) -> None:
        """``M_run ← (1 − m) M_run + m M_batch`` for means and second moments.

        The batch statistics pool every sequence of a head, padding left out
        by the engine's rule. The first update replaces the initial
        statistics. No value leaves the device: the weight is chosen by
        ``torch.where``.
        """
        h, d = q.shape[1], q.shape[-1]
        pooled = [x.transpose(0, 1).reshape(h, -1, d) for x in (q, k)]
        mask = None if keep is None else ~keep.reshape(1, -1)
        batch = AttentionStatistics.from_sequences(*pooled, key_padding_mask=mask)
        first = self.num_batches_tracked == 0
        weight = torch.where(
            first,
            torch.ones((), dtype=self.omega.dtype, device=self.omega.device),
            torch.full(
                (), self.momentum, dtype=self.omega.dtype, device=self.omega.device
            ),
        )
        for side, mean, covariance in (
            ("query", batch.query_mean, batch.query_covariance),
            ("key", batch.key_mean, batch.key_covariance),
        ):
            one = torch.ones(mean.shape[:-1], dtype=mean.dtype, device=mean.device)
            merged = self._running(side).merged(
                SampleStatistics(one, mean, covariance), weight=weight
            )
            getattr(self, f"running_{side}_mean").copy_(merged.mean)
            getattr(self, f"running_{side}_covariance").copy_(merged.scatter)
        self.num_batches_tracked += 1

    def _running(self, side: str) -> SampleStatistics:
        mean = getattr(self, f"running_{side}_mean")
        one = torch.ones(mean.shape[:-1], dtype=mean.dtype, device=mean.device)
        return SampleStatistics(one, mean, getattr(self, f"running_{side}_covariance"))

    def _dropout_function(self):
        if not self.training or self.dropout == 0:
            return None
        return lambda phi: F.dropout(phi, self.dropout, training=True)

    def _project(self, query, key, value):
        E = self.embed_dim
        b = self.in_proj_bias
        biases = (None,) * 3 if b is None else (b[:E], b[E : 2 * E], b[2 * E :])
        if self._qkv_same_embed_dim:
            weights = (
                self.in_proj_weight[:E],
                self.in_proj_weight[E : 2 * E],
                self.in_proj_weight[2 * E :],
            )
        else:
            weights = (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)
        return tuple(
            F.linear(x, w, bias)
            for x, w, bias in zip((query, key, value), weights, biases, strict=True)
        )

    def _check_inputs(self, query, key, value, key_padding_mask):
        """Validate shapes; add a batch dimension to unbatched inputs."""
        for name, x in (("query", query), ("key", key), ("value", value)):
            if not isinstance(x, torch.Tensor):
                raise TypeError(f"{name} must be a torch.Tensor, got {type(x)}.")
        unbatched = query.dim() == 2
        expected = 2 if unbatched else 3
        widths = {"query": self.embed_dim, "key": self.kdim, "value": self.vdim}
        for name, x in (("query", query), ("key", key), ("value", value)):
            if x.dim() != expected or x.shape[-1] != widths[name]:
                raise ValueError(
                    f"{name} must have shape ({'' if unbatched else 'N, '}length, "
                    f"{widths[name]}), like query, got {tuple(x.shape)}."
                )
        if unbatched:
            query, key, value = query[None], key[None], value[None]
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask[None]
        if query.shape[0] != key.shape[0] or key.shape[:2] != value.shape[:2]:
            raise ValueError(
                "query, key and value must have one batch size and key and value "
                f"one length, got shapes {tuple(query.shape)}, {tuple(key.shape)} "
                f"and {tuple(value.shape)}."
            )
        if self.causal and query.shape[1] != key.shape[1]:
            raise ValueError(
                "causal=True needs as many keys as queries, got "
                f"{query.shape[1]} queries and {key.shape[1]} keys."
            )
        keep = None
        if key_padding_mask is not None:
            if (
                not isinstance(key_padding_mask, torch.Tensor)
                or key_padding_mask.dtype != torch.bool
            ):
                raise TypeError(
                    "key_padding_mask must be a bool tensor (True = padding), got "
                    f"{getattr(key_padding_mask, 'dtype', type(key_padding_mask))}."
                )
            if key_padding_mask.shape != key.shape[:2]:
                raise ValueError(
                    f"key_padding_mask must have shape {tuple(key.shape[:2])}, got "
                    f"{tuple(key_padding_mask.shape)}."
                )
            keep = ~key_padding_mask
        return query, key, value, keep, unbatched

    def decode(
        self, x: torch.Tensor, state: FavorDecodingState | None = None
    ) -> tuple[torch.Tensor, FavorDecodingState]:
        """Causal self-attention of new positions, given the state of earlier ones.

        Equals :meth:`forward` (``x, x, x``) in eval mode on the whole
        sequence, up to rounding, at ``O(M · head_dim)`` per position and
        head: the state holds the stabilised sums of :ref:`math-attention-model`
        and the maps compiled from the running statistics at the first call.
        Decoding does not update the running statistics nor redraw.

        Parameters
        ----------
        x : Tensor of shape (N, T, embed_dim) or (T, embed_dim)
            The next ``T ≥ 1`` positions.
        state : FavorDecodingState or None, default=None
            The state returned by the previous call; None starts a sequence.

        Returns
        -------
        output : Tensor of shape (N, T, embed_dim) or (T, embed_dim)
        state : FavorDecodingState
        """
        if not self.causal or self.statistics != "running":
            raise ValueError(
                "decode needs causal=True and statistics='running' (fixed "
                f"parameters), got causal={self.causal} and "
                f"statistics={self.statistics!r}."
            )
        if state is not None and not isinstance(state, FavorDecodingState):
            raise TypeError(
                f"state must be None or a FavorDecodingState, got {type(state)}."
            )
        x, _, _, _, unbatched = self._check_inputs(x, x, x, None)
        q, k, v = self._project(x, x, x)
        n, length, _ = q.shape
        out, state = self._attend_heads(
            *(_split_heads(x, self.num_heads) for x in (q, k, v)), state=state
        )
        out = self.out_proj(out.transpose(1, 2).reshape(n, length, self.embed_dim))
        return (out[0] if unbatched else out), state


def _split_heads(x, num_heads):
    """(N, L, E) to (N, H, L, E/H)."""
    n, length, _ = x.shape
    return x.reshape(n, length, num_heads, -1).transpose(1, 2)


def _check_int(name, value, minimum) -> None:
    if not isinstance(value, Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}.")
