"""FAVOR# attention as a PyTorch layer with ``torch.nn.MultiheadAttention``'s interface.

:class:`FavorAttention` takes ``MultiheadAttention``'s constructor arguments,
forward arguments and parameter names, and :func:`replace_attention` swaps it
into an existing model (``nn.Transformer`` and its layers included). What
linear attention cannot do is refused by name: attention weights
(``need_weights=True``), ``add_bias_kv``, ``add_zero_attn`` and any
``attn_mask`` other than the causal one.

Importing this module imports PyTorch; ``import skfavor`` does not.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn
from torch.nn import functional as F

from ._attention_checks import check_decoding_state
from ._checkpointing import forward_statistics, recomputing
from ._nn_buffers import FavorBuffers
from ._torch_masks import (
    causal_mask_selects_causal,
    layer_inputs,
    merge_heads,
    padded_queries,
    sanitised,
    split_heads,
    unnested,
)
from ._torch_options import (
    BATCH_FIRST_DEFAULT,
    MHA_ARGUMENTS,
    check_options,
    resolved_batch_first,
)
from .attention import FavorState, favor_heads

__all__ = ["FavorAttention", "FavorDecodingState", "replace_attention"]


#: What :meth:`FavorAttention.decode` carries from one call to the next: the
#: engine's :class:`~skfavor.attention.FavorState` (the stabilised sums
#: ``Σ_j e^{ℓ_j − top} [v_j, 1]`` of :ref:`math-attention-model`, their
#: maximum ``top``, and the maps compiled from the running statistics at the
#: first call).
FavorDecodingState = FavorState


class FavorAttention(FavorBuffers):
    """Multi-head attention with FAVOR# positive random features.

    Replaces the softmax kernel ``exp(qᵀk / √d)`` of each head by
    ``φ_q(q)ᵀ φ_k(k)`` with positive random features whose parameters are
    fitted in closed form to the statistics of the queries and keys
    (:ref:`math-families`, :ref:`math-attention-model`), so that attention
    costs time and memory linear in the sequence length. The constructor's
    positional arguments, the forward arguments, the shapes and the parameter
    names are those of :class:`torch.nn.MultiheadAttention`; the deviations
    are listed in the Notes. :meth:`from_multihead_attention` and
    :func:`replace_attention` turn trained softmax layers into FAVOR# ones.

    Parameters
    ----------
    embed_dim : int
        Width ``E`` of the model (of the queries and of the output).
    num_heads : int
        Number of heads; must divide ``embed_dim``.
    dropout : float, default=0.0
        Dropout probability, in training, of the key features in the
        numerator (the normaliser stays exact), the analogue of dropout on
        the attention weights.
    bias : bool, default=True
        Whether the input and output projections have biases.
    add_bias_kv, add_zero_attn : bool, default=False
        Must be False: appended keys are not supported (a ``ValueError``).
    kdim, vdim : int or None, default=None
        Widths of the keys and values (``embed_dim`` if None).
    batch_first : bool, default=True
        ``True``: inputs and outputs are (N, L, E); ``False``: (L, N, E), as
        ``torch.nn.MultiheadAttention``'s default. Not passing it keeps
        0.2.0's batch-first behaviour with a ``FutureWarning``: the default
        becomes ``False`` in 0.4.
    device, dtype : optional
        Of the parameters and buffers, as for any PyTorch layer (the
        directions and running statistics are at least float32).
    feature_map : {'posrf', 'gerf', 'sderf', 'aderf', 'saderf'}, default='sderf'
        ``'posrf'`` is FAVOR+, ``'gerf'`` FAVOR++, the others FAVOR#.
    n_features : int, default=256
        Random features ``M`` per head.
    causal : bool, default=False
        Every call is causal: position ``i`` attends to keys ``j ≤ i``. A
        single call is made causal by ``is_causal=True`` or a causal
        ``attn_mask`` (see :meth:`forward`).
    statistics : {'batch', 'running'} or None, default=None
        ``'batch'``: each sequence and head fits its own parameters (the
        paper's choice). ``'running'``: one set of statistics per head,
        merged into an exponential moving average by each training call and
        used as it was before that call; frozen in eval mode. ``None``
        decides per call: ``'batch'`` for bidirectional calls and
        ``'running'`` for causal ones, which are then strictly causal (batch
        statistics let every output see later positions through the ``d²``
        numbers of the fit; a causal call with ``'batch'`` warns).
    momentum : float, default=0.1
        Weight of each batch in the running statistics (the first batch
        replaces the initial ones); they are constants to the gradients.
    redraw_interval : int or None, default=None
        Draw new random directions every that many training forwards, so that
        each draw serves exactly ``redraw_interval`` of them. The schedule
        and the draws live in buffers (``calls_since_redraw``,
        ``n_redraws``, ``redraw_seed``): every process of a distributed run
        draws the same directions, on its device, and a ``state_dict``
        resumes the schedule exactly. ``None`` never redraws on its own.
    parameter_grad : bool, default=False
        Let gradients flow through the closed forms with batch statistics
        (exact at repeated eigenvalues too, :ref:`math-numerics`); ``False``
        treats the fitted parameters as constants.
    random_state : int, RandomState instance or None, default=None
        An int or a RandomState draws the first directions on the host with
        NumPy (as 0.2.0 did), then the seed of the redraws. ``None`` takes the
        seed from torch's default generator (so ``torch.manual_seed``
        controls it) and draws the first directions from it on the device.
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
    redraw_seed : int64 Tensor of shape ()
        Seed of the on-device draws of :meth:`redraw`.
    n_redraws : int64 Tensor of shape ()
        Number of redraws so far; draw ``k`` is a function of
        ``(redraw_seed, k)`` only.
    calls_since_redraw : int64 Tensor of shape ()
        Training forwards served by the current directions.

    See Also
    --------
    skfavor.attention.favor_attention : The functional form.
    replace_attention : Swap every ``MultiheadAttention`` of a model.

    Notes
    -----
    Differences from ``torch.nn.MultiheadAttention``: ``need_weights``
    defaults to False and ``True`` is an error (no ``L × S`` matrix exists),
    so ``layer(x, x, x)`` returns ``(output, None)``; ``attn_mask`` must be
    the causal mask; ``add_bias_kv`` and ``add_zero_attn`` are refused;
    ``dropout`` acts on the key features; ``batch_first`` defaults to True
    until 0.4. The layer never takes ``nn.TransformerEncoderLayer``'s
    inference fast path, which would compute exact softmax attention from
    ``in_proj_weight``.

    Padding: padded keys leave the statistics and the sums; the same query
    positions leave the query statistics in self-attention (``query is key``,
    or equal real rows, as ``x, x.clone(), x``), never in a cross-attention
    (causal or not); NaN or inf at padded positions is ignored. In
    cross-attention with batch statistics every output depends on every query
    through the query statistics (``MultiheadAttention`` receives no query
    padding mask): use ``statistics='running'`` there
    (:func:`replace_attention` does for a decoder's cross-attention).

    The features and sums are computed in at least float32 (also under
    ``torch.autocast``) and the attention output is cast back to the input
    dtype before the output projection. The closed forms run batched on the
    inputs' device in float64. No value travels from the device to the host
    in ``forward`` or ``decode``: a NaN or infinite output, or a mask that
    cannot be applied, is reported by ``torch._assert_async`` (a
    ``RuntimeError``; on a GPU, at a later CUDA call); only CPU masks in
    eager mode are checked on the host, with a ``ValueError``.

    Examples
    --------
    >>> import torch
    >>> from skfavor.nn import FavorAttention
    >>> layer = FavorAttention(16, 2, batch_first=True, n_features=32, random_state=0)
    >>> x = torch.randn(3, 10, 16)
    >>> out, weights = layer(x, x, x)
    >>> out.shape, weights
    (torch.Size([3, 10, 16]), None)
    """

    # Always False, whatever the projections: nn.TransformerEncoderLayer (and
    # nn.TransformerEncoder's nested-tensor path) computes softmax attention
    # straight from in_proj_weight, skipping this forward, when its attention
    # module has _qkv_same_embed_dim (with batch_first, a bias, an even number
    # of heads, eval mode and no gradients). This layer must never be bypassed.
    _qkv_same_embed_dim = False

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        kdim: int | None = None,
        vdim: int | None = None,
        batch_first: bool = BATCH_FIRST_DEFAULT,
        device=None,
        dtype=None,
        *,
        feature_map: str = "sderf",
        n_features: int = 256,
        causal: bool = False,
        statistics: str | None = None,
        momentum: float = 0.1,
        redraw_interval: int | None = None,
        parameter_grad: bool = False,
        random_state=None,
        sampling: str = "orthogonal",
    ) -> None:
        super().__init__()
        batch_first = resolved_batch_first(batch_first)
        check_options(locals())
        factory = {"device": device, "dtype": dtype}
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.kdim = embed_dim if kdim is None else kdim
        self.vdim = embed_dim if vdim is None else vdim
        self.batch_first = batch_first
        self.feature_map = feature_map
        self.n_features = n_features
        self.causal = causal
        self.statistics = statistics
        self.momentum = float(momentum)
        self.redraw_interval = redraw_interval
        self.parameter_grad = parameter_grad
        self.dropout = float(dropout)
        self.sampling = sampling
        self._make_parameters(bias, factory)
        self._make_buffers(device, dtype)
        self._reset_parameters()
        self._first_draw(random_state)

    def _make_parameters(self, bias: bool, factory: dict) -> None:
        """The projections, named as in ``torch.nn.MultiheadAttention``."""
        # Its attributes of the refused options, for code that reads them.
        self.bias_k = self.bias_v = None
        self.add_zero_attn = False
        E = self.embed_dim
        if self.kdim == E and self.vdim == E:
            self.in_proj_weight = nn.Parameter(torch.empty((3 * E, E), **factory))
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            for name, width in (("q", E), ("k", self.kdim), ("v", self.vdim)):
                weight = nn.Parameter(torch.empty((E, width), **factory))
                setattr(self, f"{name}_proj_weight", weight)
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = nn.Parameter(torch.empty(3 * E, **factory))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = nn.Linear(E, E, bias=bias, **factory)

    def _reset_parameters(self) -> None:
        """Initialise as ``torch.nn.MultiheadAttention`` does."""
        for weight in (
            self.in_proj_weight,
            self.q_proj_weight,
            self.k_proj_weight,
            self.v_proj_weight,
        ):
            if weight is not None:
                nn.init.xavier_uniform_(weight)
        if self.in_proj_bias is not None:
            nn.init.constant_(self.in_proj_bias, 0.0)
            nn.init.constant_(self.out_proj.bias, 0.0)

    def extra_repr(self) -> str:
        return (
            f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, "
            f"batch_first={self.batch_first}, feature_map={self.feature_map!r}, "
            f"n_features={self.n_features}, causal={self.causal}, "
            f"statistics={self.statistics!r}"
        )

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        key_padding_mask: torch.Tensor | None = None,
        need_weights: bool = False,
        attn_mask: torch.Tensor | None = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[torch.Tensor, None]:
        """Attention of ``query`` over ``key`` and ``value``.

        Takes what ``torch.nn.MultiheadAttention.forward`` takes, so that
        ``nn.TransformerEncoderLayer``, ``nn.TransformerDecoderLayer`` and
        ``nn.Transformer`` can call it.

        Parameters
        ----------
        query : Tensor of shape (N, L, E), (L, N, E) or (L, E)
            (N, L, E) if ``batch_first`` else (L, N, E); (L, E) unbatched;
            nested (batch first) as ``nn.TransformerEncoder`` may pass it.
        key : Tensor of shape (N, S, kdim), (S, N, kdim) or (S, kdim)
        value : Tensor of shape (N, S, vdim), (S, N, vdim) or (S, vdim)
        key_padding_mask : Tensor of shape (N, S) or (S,), default=None
            Bool (``True`` = padded key) or float (``-inf`` = padded, ``0`` =
            key; other values are an error). Padded keys are left out of the
            statistics and the sums. The same positions of the queries leave
            theirs in self-attention (``query is key``, or equal real rows),
            never in cross-attention, causal or not (the keys' padding does
            not mark its queries). NaN or inf at padded positions is
            ignored; outputs at padded query positions are finite but not
            ``MultiheadAttention``'s (which attends from their values).
        need_weights : bool, default=False
            Must be False (unlike ``MultiheadAttention``'s default True):
            FAVOR attention never forms the ``L × S`` matrix.
        attn_mask : Tensor of shape (L, S) or (N·num_heads, L, S), default=None
            Only the causal mask is accepted (bool with True above the
            diagonal, or float with ``-inf`` above it and 0 elsewhere, as
            ``nn.Transformer.generate_square_subsequent_mask`` makes it): it
            makes this call causal. Any other mask is a ``ValueError`` (a
            ``RuntimeError`` from ``torch._assert_async`` off the CPU or under
            ``torch.compile``, where the values are not read on the host).
        average_attn_weights : bool, default=True
            Accepted for compatibility; there are no weights to average.
        is_causal : bool, default=False
            Make this call causal (``L == S``), without an ``attn_mask``.

        Returns
        -------
        output : Tensor of the query's shape with width E
        weights : None
        """
        if need_weights:
            raise ValueError(
                "need_weights=True is not supported: FAVOR attention never forms "
                "the L×S attention matrix. Pass need_weights=False."
            )
        query, key, value, key_padding_mask, nest = unnested(
            self, query, key, value, key_padding_mask
        )
        masks = (key_padding_mask, attn_mask, is_causal)
        return nest(self._forward(query, key, value, masks, None)), None

    def forward_with_maps(self, query, key, value, key_padding_mask=None, *, maps):
        """:meth:`forward`'s output in eval mode, with ``maps`` instead of a fit.

        What :func:`skfavor.integrations.onnx.exportable_attention`'s module
        calls: maps compiled once (``skfavor.attention.fit_maps``) are
        constants of its graph. Inputs are checked as by :meth:`forward`.

        Parameters
        ----------
        query, key, value, key_padding_mask
            As in :meth:`forward`.
        maps : tuple (query_map, key_map) of StackedFeatureMap
            Compiled in kernel units, one per head.

        Returns
        -------
        output : Tensor of the query's shape with width E
        """
        if self.training:
            raise ValueError(
                "forward_with_maps is an eval-mode forward: call .eval() first."
            )
        return self._forward(query, key, value, (key_padding_mask, None, False), maps)

    def _forward(self, query, key, value, masks, maps):
        """The output of :meth:`forward`; ``maps`` None fits them."""
        self_attention = query is key
        query, key, value, keeps, causal, unbatched = self._canonical(
            query, key, value, *masks, self_attention
        )
        n, length, _ = query.shape
        n_keys = key.shape[1]
        if self.training and self.redraw_interval is not None and not recomputing():
            self._scheduled_redraw()
        q, k, v = self.in_projection(query, key, value)
        if n == 0 or length == 0 or n_keys == 0:
            # As MultiheadAttention: an empty output, or attention 0 (then
            # the output bias) for queries that see no key.
            out = torch.zeros_like(q)
        else:
            out, _ = self._attend_heads(
                *(split_heads(x, self.num_heads) for x in (q, k, v)),
                *keeps,
                causal,
                maps=maps,
            )
            out = merge_heads(out)
        return self._layout(self.out_proj(out), unbatched)

    def _canonical(
        self, query, key, value, key_padding_mask, attn_mask, is_causal, self_attention
    ):
        """Inputs batch first, padding zeroed (NaN too), (keep, query keep), causal.

        Padded queries: :func:`~skfavor._torch_masks.padded_queries`, with
        ``self_attention`` (``query is key`` as the caller passed them).
        """
        query, key, value, keep, unbatched = layer_inputs(
            self, query, key, value, key_padding_mask
        )
        length, n_keys = query.shape[1], key.shape[1]
        causal = self.causal | causal_mask_selects_causal(
            attn_mask, is_causal, length, n_keys, query.shape[0] * self.num_heads
        )
        if causal and length != n_keys:
            raise ValueError(
                "causal attention needs as many keys as queries, got "
                f"{length} queries and {n_keys} keys."
            )
        query_keep = padded_queries(query, key, keep, self_attention)
        query, key, value = (
            sanitised(x, side_keep)
            for x, side_keep in ((query, query_keep), (key, keep), (value, keep))
        )
        return query, key, value, (keep, query_keep), causal, unbatched

    def _layout(self, out: torch.Tensor, unbatched: bool) -> torch.Tensor:
        """(N, L, E) back to the caller's layout."""
        if unbatched:
            return out[0]
        return out if self.batch_first else out.transpose(0, 1)

    def _call_statistics(self, causal: bool) -> str:
        """The statistics of one call: ``statistics``, or per call if None."""
        if self.statistics is None:
            return "running" if causal else "batch"
        if (
            causal
            and not self.causal
            and self.statistics == "batch"
            and self.feature_map != "posrf"
        ):
            warnings.warn(
                "A causal call with statistics='batch': each output sees later "
                "positions through the d² numbers of the fitted parameters. Use "
                "statistics=None or 'running' for strictly causal attention.",
                UserWarning,
                stacklevel=4,
            )
        return self.statistics

    def _attend_heads(
        self,
        q,
        k,
        v,
        keep=None,
        query_keep=None,
        causal=None,
        *,
        maps=None,
        decoding=False,
        state=None,
    ):
        """Attention of projected heads (N, H, L, head_dim), in their dtype.

        The layer's one call into the engine, :func:`favor_heads`, which owns
        the attention math between the projections; then, in a training
        forward with running statistics, their update. ``keep`` (N, S) and
        ``query_keep`` (N, L) mark real keys and queries;
        ``causal=None`` is the layer's ``causal``; ``maps`` replace the fit.
        A ``decoding`` step
        continues ``state`` (None: a new sequence) with the running
        statistics, without update or dropout.

        Returns
        -------
        out : Tensor of shape (N, H, L, head_dim)
        state : FavorDecodingState or None
            The state after the last position of a causal call.
        """
        causal = self.causal if causal is None else causal
        running = decoding or self._call_statistics(causal) == "running"
        training = self.training and not decoding
        dropout = self.dropout if training else 0.0
        statistics = self.running_statistics() if running else None
        statistics = forward_statistics(self, statistics, training)
        out, state = favor_heads(
            q,
            k,
            v,
            self.omega,
            family=self.feature_map,
            causal=causal,
            keep=None if keep is None else keep[:, None, :],
            query_keep=None if query_keep is None else query_keep[:, None, :],
            statistics=statistics,
            maps=maps,
            initial_state=state,
            output_final_state=causal,
            dropout=dropout or None,
            parameter_grad=self.parameter_grad,
        )
        if training and running and not recomputing():
            self._update_running(q, k, keep, query_keep)
        return out, state

    def in_projection(self, query, key, value):
        """The input projections of ``query``, ``key`` and ``value`` (N, L, ·).

        ``(query W_qᵀ + b_q, key W_kᵀ + b_k, value W_vᵀ + b_v)`` with the
        parameters of ``torch.nn.MultiheadAttention``'s names; what
        :meth:`forward` applies before splitting heads, and what exporters of
        the layer's eval-mode forward reuse.
        """
        E = self.embed_dim
        b = self.in_proj_bias
        biases = (None,) * 3 if b is None else (b[:E], b[E : 2 * E], b[2 * E :])
        if self.in_proj_weight is not None:
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

    def decode(
        self, x: torch.Tensor, state: FavorDecodingState | None = None
    ) -> tuple[torch.Tensor, FavorDecodingState]:
        """Causal self-attention of new positions, given the state of earlier ones.

        Equals :meth:`forward` (``x, x, x``, causal) in eval mode on the whole
        sequence, up to rounding, at ``O(M · head_dim)`` per position and
        head: the state holds the stabilised sums of :ref:`math-attention-model`
        and the maps compiled from the running statistics at the first call.
        Decoding does not update the running statistics nor redraw.

        Parameters
        ----------
        x : Tensor of shape (N, T, E), (T, N, E) or (T, E)
            The next ``T ≥ 1`` positions, in the layer's ``batch_first`` layout.
        state : FavorDecodingState or None, default=None
            The state returned by the previous call; None starts a sequence.

        Returns
        -------
        output : Tensor of the shape of ``x``
        state : FavorDecodingState
        """
        if self.statistics == "batch":
            raise ValueError(
                "decode needs running statistics (fixed parameters): "
                "statistics='running' or None, got statistics='batch'."
            )
        if state is not None and not isinstance(state, FavorDecodingState):
            raise TypeError(
                f"state must be None or a FavorDecodingState, got {type(state)}."
            )
        x, _, _, _, unbatched = layer_inputs(self, x, x, x, None)
        if x.shape[1] == 0:
            raise ValueError("x must hold at least one position to decode, got none.")
        if state is not None:
            check_decoding_state(state, x.shape[0], self.num_heads, self.omega.shape)
        q, k, v = self.in_projection(x, x, x)
        out, state = self._attend_heads(
            *(split_heads(x, self.num_heads) for x in (q, k, v)),
            causal=True,
            decoding=True,
            state=state,
        )
        out = merge_heads(out)
        return self._layout(self.out_proj(out), unbatched), state

    @classmethod
    def from_multihead_attention(
        cls, mha: nn.MultiheadAttention, **favor_options
    ) -> FavorAttention:
        """A FAVOR# layer with the dimensions and weights of ``mha``.

        Takes ``mha``'s ``embed_dim``, ``num_heads``, ``dropout``, bias,
        ``kdim``, ``vdim``, ``batch_first``, device, dtype and training mode,
        and copies its projections (the paper's uptraining starts here).

        Parameters
        ----------
        mha : torch.nn.MultiheadAttention
            Without ``add_bias_kv`` or ``add_zero_attn``.
        **favor_options
            The keyword-only options of :class:`FavorAttention`
            (``feature_map``, ``n_features``, ``causal``, ``statistics``, ...).

        Returns
        -------
        FavorAttention
        """
        if not isinstance(mha, nn.MultiheadAttention):
            raise TypeError(
                f"mha must be a torch.nn.MultiheadAttention, got {type(mha)}."
            )
        taken = sorted(set(favor_options) & set(MHA_ARGUMENTS))
        if taken:
            raise TypeError(
                f"{taken} come from mha; pass only FavorAttention's keyword-only "
                "options."
            )
        weight = mha.out_proj.weight
        layer = cls(
            mha.embed_dim,
            mha.num_heads,
            mha.dropout,
            mha.in_proj_bias is not None,
            mha.bias_k is not None,
            mha.add_zero_attn,
            mha.kdim,
            mha.vdim,
            mha.batch_first,
            weight.device,
            weight.dtype,
            **favor_options,
        )
        with torch.no_grad():
            own = dict(layer.named_parameters())
            for name, parameter in mha.named_parameters():
                own[name].copy_(parameter)
        return layer.train(mha.training)


def replace_attention(module: nn.Module, **favor_options) -> nn.Module:
    """Swap every ``torch.nn.MultiheadAttention`` of ``module`` for FAVOR#, in place.

    Each is replaced by :meth:`FavorAttention.from_multihead_attention` with
    ``favor_options`` (its weights copied; a module shared by several parents
    stays shared). The cross-attention of ``nn.TransformerDecoderLayer``
    (``multihead_attn``) gets ``statistics='running'`` unless
    ``favor_options`` sets ``statistics``: with batch statistics each output
    would depend on every target position (later ones and padding included)
    through the query statistics. ``nn.TransformerEncoder``'s nested-tensor
    fast path is switched off (``use_nested_tensor = False``): it computes
    softmax attention without calling the attention module.

    Parameters
    ----------
    module : torch.nn.Module
        A model (``nn.Transformer``, its encoder and decoder layers, or any
        module holding ``MultiheadAttention`` layers).
    **favor_options
        Keyword-only options of :class:`FavorAttention`. An int
        ``random_state`` gives every layer the same directions; a
        ``RandomState`` instance or ``None`` gives each its own.

    Returns
    -------
    torch.nn.Module
        ``module`` itself (with a ``UserWarning`` if it holds no
        ``MultiheadAttention``), or a new :class:`FavorAttention` if
        ``module`` is one.
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {module!r}.")
    if isinstance(module, nn.MultiheadAttention):
        return FavorAttention.from_multihead_attention(module, **favor_options)
    swaps, built = [], {}
    for parent in module.modules():
        for name, child in parent.named_children():
            if not isinstance(child, nn.MultiheadAttention):
                continue
            options = dict(favor_options)
            if isinstance(parent, nn.TransformerDecoderLayer) and (
                name == "multihead_attn"
            ):
                options.setdefault("statistics", "running")
            if id(child) not in built:
                built[id(child)] = FavorAttention.from_multihead_attention(
                    child, **options
                )
            swaps.append((parent, name, built[id(child)]))
    if not swaps:
        warnings.warn(
            f"{type(module).__name__} holds no torch.nn.MultiheadAttention: "
            "nothing was replaced (for a Hugging Face model, use "
            "skfavor.integrations.transformers.favorize).",
            UserWarning,
            stacklevel=2,
        )
    for parent, name, layer in swaps:
        setattr(parent, name, layer)
    for submodule in module.modules():
        if isinstance(submodule, nn.TransformerEncoder):
            submodule.use_nested_tensor = False
    return module
