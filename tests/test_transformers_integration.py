"""FAVOR# in Hugging Face transformers models (skfavor.integrations.transformers)."""

import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from transformers import (  # noqa: E402
    BartConfig,
    BartForConditionalGeneration,
    BertConfig,
    BertLMHeadModel,
    BertModel,
    DynamicCache,
    GPT2Config,
    GPT2LMHeadModel,
    GraniteConfig,
    GraniteForCausalLM,
    LlamaConfig,
    LlamaForCausalLM,
    MistralConfig,
    MistralForCausalLM,
)

from skfavor.attention import (  # noqa: E402
    AttentionStatistics,
    favor_attention,
    softmax_attention,
)
from skfavor.integrations.transformers import (  # noqa: E402
    ATTN_IMPLEMENTATION,
    FavorCacheLayer,
    FavorCheckpointCallback,
    FavorMask,
    calibrate,
    favor_attention_forward,
    favorize,
    load_favorized,
)

VOCAB = 48


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # Tiny models run fastest on one thread, above all on a shared machine.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def llama(**overrides):
    torch.manual_seed(0)
    options = {
        "vocab_size": VOCAB,
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 256,
        "pad_token_id": 0,
        "bos_token_id": 1,
        "eos_token_id": 2,
    }
    return LlamaForCausalLM(LlamaConfig(**{**options, **overrides})).eval()


def gpt2():
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=VOCAB,
        n_positions=128,
        n_embd=32,
        n_layer=2,
        n_head=4,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
    )
    return GPT2LMHeadModel(config).eval()


def bert():
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=VOCAB,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=64,
        pad_token_id=0,
    )
    return BertModel(config, add_pooling_layer=False).eval()


def tokens(shape, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(3, VOCAB, shape, generator=generator)


def greedy_loop(model, prompt, steps):
    """Greedy decoding by full forwards, without any cache."""
    ids = prompt
    for _ in range(steps):
        logits = model(ids, use_cache=False).logits[:, -1]
        ids = torch.cat([ids, logits.argmax(-1, keepdim=True)], dim=1)
    return ids


def running_statistics(module):
    return AttentionStatistics(
        module.favor_query_mean,
        module.favor_query_covariance,
        module.favor_key_mean,
        module.favor_key_covariance,
    )


@pytest.mark.parametrize("family", ["posrf", "gerf", "sderf"])
def test_adapter_equals_favor_attention(family):
    # The registered function is favor_attention on the same heads, with the
    # module's directions, its running statistics (causal) or each
    # sequence's (bidirectional), the keys repeated over each group's heads
    # and the module's scaling.
    model = favorize(llama(), feature_map=family, n_features=64, random_state=3)
    calibrate(model, tokens((2, 12)))
    module = model.model.layers[0].self_attn
    generator = torch.Generator().manual_seed(1)
    q = torch.randn(2, 4, 10, 8, generator=generator)
    k = torch.randn(2, 2, 10, 8, generator=generator)
    v = torch.randn(2, 2, 10, 8, generator=generator)
    out, weights = favor_attention_forward(
        module, q, k, v, FavorMask(True, None), scaling=0.7
    )
    assert weights is None and out.shape == (2, 10, 4, 8)
    k4, v4 = k.repeat_interleave(2, dim=1), v.repeat_interleave(2, dim=1)
    expected = favor_attention(
        q,
        k4,
        v4,
        feature_map=family,
        causal=True,
        scale=0.7,
        omega=module.favor_omega,
        statistics=running_statistics(module),
    )
    np.testing.assert_allclose(out.transpose(1, 2), expected, atol=1e-5)
    if family == "posrf":
        # Without fitted parameters, the directions alone decide.
        drawn = favor_attention(
            q,
            k4,
            v4,
            feature_map="posrf",
            n_features=64,
            causal=True,
            scale=0.7,
            random_state=3,
        )
        np.testing.assert_allclose(out.transpose(1, 2), drawn, atol=1e-5)
    module = favorize(bert(), feature_map=family, n_features=64, random_state=3)
    module = module.encoder.layer[0].attention.self
    keep = torch.ones(2, 10, dtype=torch.bool)
    keep[1, 7:] = False
    out, _ = favor_attention_forward(module, q, k4, v4, FavorMask(False, keep))
    expected = favor_attention(
        q,
        k4,
        v4,
        feature_map=family,
        omega=module.favor_omega,
        key_padding_mask=~keep[:, None, :].expand(2, 4, 10),
    )
    np.testing.assert_allclose(out.transpose(1, 2), expected, atol=1e-5)


def test_many_features_approach_softmax():
    model = favorize(llama(), feature_map="sderf", n_features=4096, random_state=0)
    module = model.model.layers[0].self_attn
    generator = torch.Generator().manual_seed(4)
    q, k, v = 0.6 * torch.randn(3, 2, 4, 30, 8, generator=generator)
    statistics = (q * 8**-0.25, k * 8**-0.25)
    with torch.no_grad():
        for side, x in zip(("query", "key"), statistics, strict=True):
            rows = x.transpose(0, 1).reshape(4, -1, 8)
            getattr(module, f"favor_{side}_mean").copy_(rows.mean(1))
            centred = rows - rows.mean(1, keepdim=True)
            covariance = centred.transpose(1, 2) @ centred / rows.shape[1]
            getattr(module, f"favor_{side}_covariance").copy_(covariance)
    out, _ = favor_attention_forward(module, q, k, v, FavorMask(True, None))
    exact = softmax_attention(q, k, v, causal=True).transpose(1, 2)
    error = torch.linalg.norm(out - exact) / torch.linalg.norm(exact)
    assert error < 0.05


def test_non_default_scaling_model():
    # Granite scales logits by attention_multiplier, not 1/√head_dim. With
    # peaked attention, the favorized model follows the softmax model much
    # more closely than the softmax model with the default scaling does.
    def granite(multiplier):
        torch.manual_seed(0)
        config = GraniteConfig(
            vocab_size=VOCAB,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=1,
            num_attention_heads=4,
            num_key_value_heads=4,
            attention_multiplier=multiplier,
            max_position_embeddings=64,
        )
        model = GraniteForCausalLM(config).eval()
        with torch.no_grad():
            for proj in ("q_proj", "k_proj"):
                getattr(model.model.layers[0].self_attn, proj).weight.mul_(3.0)
        return model

    ids = tokens((2, 24))
    with torch.no_grad():
        exact = granite(1.0)(ids).logits
        default = granite(8**-0.5)(ids).logits
        model = favorize(granite(1.0), n_features=4096, random_state=0)
        assert model.model.layers[0].self_attn.scaling == 1.0
        approx = calibrate(model, tokens((4, 24), seed=9))(ids).logits
    assert (approx - exact).norm() < 0.25 * (default - exact).norm()


@pytest.mark.parametrize("bad", [None, "model"])
def test_calibrate_names_a_model_that_is_not_a_module(bad):
    with pytest.raises(TypeError, match=r"model must be a torch\.nn\.Module"):
        calibrate(bad, tokens((2, 8)))


def test_calibrate_on_padding_alone_is_refused():
    # Batches whose every position is padding hold no statistics: calibrate
    # set every mean and covariance to 0 (a point mass) without a word.
    model = favorize(llama(), n_features=16, random_state=0)
    before = copy.deepcopy(model.state_dict())
    ids = tokens((2, 8))
    padding = {"input_ids": ids, "attention_mask": torch.zeros_like(ids)}
    with pytest.raises(ValueError, match="no unpadded position"):
        calibrate(model, padding)
    for name, value in model.state_dict().items():
        torch.testing.assert_close(value, before[name], rtol=0, atol=0)


def test_training_on_padding_alone_leaves_the_running_statistics():
    # As calibrate refuses batches of padding alone, the running update of a
    # training forward must not merge them: it moved every running mean and
    # covariance towards 0 (a point mass) and counted the batch, where
    # FavorAttention's update leaves the statistics as they were.
    model = calibrate(favorize(llama(), n_features=16, random_state=0), tokens((2, 8)))
    before = copy.deepcopy(model.state_dict())
    ids = tokens((2, 8), seed=1)
    model.train()(ids, attention_mask=torch.zeros_like(ids))
    for name, value in model.state_dict().items():
        torch.testing.assert_close(value, before[name], rtol=0, atol=0)


def test_calibrate_exact_statistics_and_padding():
    # Calibration's statistics are those of all unpadded positions: one
    # right-padded batch gives the statistics of its two trimmed sequences.
    ids = tokens((2, 10))
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0
    padded = favorize(llama(), n_features=16, random_state=0)
    calibrate(
        padded, transformers.BatchEncoding({"input_ids": ids, "attention_mask": mask})
    )
    trimmed = favorize(llama(), n_features=16, random_state=0)
    calibrate(trimmed, [ids[:1], ids[1:, :6]])
    for a, b in zip(padded.buffers(), trimmed.buffers(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    module = padded.model.layers[1].self_attn
    assert module.favor_num_batches_tracked == 1
    assert not torch.allclose(module.favor_query_covariance[0], torch.eye(8) / 8**0.5)


@pytest.mark.parametrize("training", [False, True])
def test_strictly_causal_after_calibrate(training):
    ids = tokens((2, 16))
    model = calibrate(favorize(llama(), n_features=32, random_state=0), ids)
    changed = ids.clone()
    changed[:, 11] = (changed[:, 11] + 5) % VOCAB
    first, second = copy.deepcopy(model), copy.deepcopy(model)
    first.train(training)
    second.train(training)
    before = first(ids).logits
    after = second(changed).logits
    np.testing.assert_allclose(
        before[:, :11].detach(), after[:, :11].detach(), atol=1e-6
    )
    assert (before[:, 11:] - after[:, 11:]).abs().max() > 1e-3


def test_generate_with_cache_equals_greedy_without():
    model = calibrate(favorize(llama(), n_features=32, random_state=0), tokens((4, 20)))
    prompt = tokens((2, 7), seed=5)
    options = {"max_new_tokens": 10, "do_sample": False, "pad_token_id": 0}
    cached = model.generate(prompt, use_cache=True, **options)
    uncached = model.generate(prompt, use_cache=False, **options)
    np.testing.assert_array_equal(cached, uncached)
    np.testing.assert_array_equal(cached, greedy_loop(model, prompt, 10))


def test_beam_search_reorders_the_cache():
    model = calibrate(favorize(llama(), n_features=32, random_state=0), tokens((4, 20)))
    prompt = tokens((2, 6), seed=5)
    options = {"max_new_tokens": 6, "num_beams": 3, "do_sample": False}
    np.testing.assert_array_equal(
        model.generate(prompt, use_cache=True, pad_token_id=0, **options),
        model.generate(prompt, use_cache=False, pad_token_id=0, **options),
    )


def test_cache_holds_constant_state():
    model = calibrate(favorize(llama(), n_features=32, random_state=0), tokens((4, 20)))
    cache = DynamicCache(config=model.config)
    ids = tokens((2, 5))
    sizes = []
    with torch.no_grad():
        logits = model(ids, cache=cache, use_cache=True).logits
        for _ in range(20):
            next_ids = logits[:, -1:].argmax(-1)
            logits = model(next_ids, cache=cache, use_cache=True).logits
            sizes.append(sum(layer.nbytes for layer in cache.layers))
    assert all(isinstance(layer, FavorCacheLayer) for layer in cache.layers)
    assert cache.get_seq_length() == 25
    assert sizes[0] == sizes[-1] > 0
    # 2 layers of: 2 sequences, 4 heads, 32 features, head_dim + 1 sums and
    # one maximum; and the query and key maps of the 4 heads (weights, offset
    # and the scalar quadratic term of SDERF's isotropic family), which
    # nbytes left out although the state holds them.
    sums = 2 * 4 * (32 * 9 + 1)
    maps = 2 * 4 * (32 * 8 + 32 + 1)
    assert sizes[0] == 2 * (sums + maps) * 4
    with pytest.raises(ValueError, match="cannot be cropped"):
        cache.crop(-1)


def _left_padded(long, short):
    """Two prompts, ``short`` left-padded to ``long``'s length, and their mask."""
    length = long.shape[1]
    batch = torch.zeros((2, length), dtype=torch.long)
    mask = torch.zeros((2, length), dtype=torch.long)
    batch[0], mask[0] = long[0], 1
    start = length - short.shape[1]
    batch[1, start:], mask[1, start:] = short[0], 1
    return batch, mask


def test_left_padded_batch_generation():
    model = calibrate(favorize(llama(), n_features=32, random_state=0), tokens((4, 20)))
    long, short = tokens((1, 8), seed=1), tokens((1, 5), seed=2)
    batch, mask = _left_padded(long, short)
    options = {"max_new_tokens": 8, "do_sample": False, "pad_token_id": 0}
    together = model.generate(batch, attention_mask=mask, **options)
    alone = [model.generate(p, **options) for p in (long, short)]
    np.testing.assert_array_equal(together[0], alone[0][0])
    np.testing.assert_array_equal(together[1, 3:], alone[1][0])


def test_chunked_prefill_of_a_left_padded_batch():
    # generate(prefill_chunk_size=...) feeds the prompt in chunks through the
    # cache: the first chunk of the short row is all padding, and the next one
    # starts with padding. It gave NaN (a RuntimeError) instead of the tokens.
    model = calibrate(favorize(llama(), n_features=32, random_state=0), tokens((4, 20)))
    long, short = tokens((1, 10), seed=1), tokens((1, 3), seed=2)
    batch, mask = _left_padded(long, short)
    options = {"max_new_tokens": 5, "do_sample": False, "pad_token_id": 0}
    whole = model.generate(batch, attention_mask=mask, **options)
    chunked = model.generate(
        batch, attention_mask=mask, prefill_chunk_size=4, **options
    )
    np.testing.assert_array_equal(chunked, whole)


def test_gpt2_generate_and_backward():
    model = favorize(gpt2(), feature_map="gerf", n_features=32, random_state=0)
    calibrate(model, tokens((2, 16)))
    prompt = tokens((2, 6), seed=3)
    options = {"max_new_tokens": 6, "do_sample": False, "pad_token_id": 0}
    np.testing.assert_array_equal(
        model.generate(prompt, use_cache=True, **options),
        model.generate(prompt, use_cache=False, **options),
    )
    cache = DynamicCache(config=model.config)
    with torch.no_grad():
        model(prompt, cache=cache, use_cache=True)
    assert [type(layer) for layer in cache.layers] == [FavorCacheLayer] * 2
    model.train()
    ids = tokens((2, 12))
    loss = model(ids, labels=ids).loss
    loss.backward()
    grad = model.transformer.h[0].attn.c_attn.weight.grad
    assert torch.isfinite(loss) and grad.abs().sum() > 0


def test_bert_padding_left_out():
    model = favorize(bert(), n_features=64, random_state=0)
    assert model.config._attn_implementation == ATTN_IMPLEMENTATION
    ids = tokens((2, 9))
    mask = torch.ones_like(ids)
    mask[1, 5:] = 0
    with torch.no_grad():
        padded = model(ids, attention_mask=mask).last_hidden_state
        alone = model(ids[1:, :5]).last_hidden_state
        # The padding's tokens do not matter.
        other = ids.clone()
        other[1, 5:] = 7
        again = model(other, attention_mask=mask).last_hidden_state
    np.testing.assert_allclose(padded[1, :5], alone[0], atol=1e-5)
    np.testing.assert_allclose(padded[1, :5], again[1, :5], atol=1e-6)
    assert model.encoder.layer[0].attention.self.favor_options.statistics == "batch"


def test_masks_linear_attention_cannot_apply_are_refused():
    model = favorize(llama(), n_features=16, random_state=0)
    ids = tokens((1, 8))
    with pytest.raises(ValueError, match="packed"):
        packed = torch.tensor([[0, 1, 2, 3, 0, 1, 2, 3]])
        model(ids, position_ids=packed, use_cache=False)
    with pytest.raises(ValueError, match="4-D mask"):
        model(ids, attention_mask=torch.ones(1, 1, 8, 8, dtype=torch.bool))
    torch.manual_seed(0)
    config = MistralConfig(
        vocab_size=VOCAB,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=4,
        num_key_value_heads=2,
        sliding_window=4,
    )
    sliding = favorize(MistralForCausalLM(config), n_features=16)
    with pytest.raises(ValueError, match="sliding window"):
        sliding(ids)


def test_invalid_arguments():
    with pytest.raises(TypeError, match="PreTrainedModel"):
        favorize(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="feature_map"):
        favorize(llama(), feature_map="rbf")
    with pytest.raises(ValueError, match="n_features"):
        favorize(llama(), n_features=0)
    with pytest.raises(ValueError, match="statistics='batch'"):
        favorize(llama(), statistics="batch")
    with pytest.raises(ValueError, match="favorize"):
        calibrate(llama(), tokens((1, 4)))
    with pytest.raises(TypeError, match="batches"):
        calibrate(favorize(llama(), n_features=8), ["text"])
    with pytest.raises(TypeError, match="TensorDataset"):  # a list per batch
        calibrate(favorize(llama(), n_features=8), [[tokens((1, 4))]])


def test_training_updates_and_redraws():
    model = favorize(
        llama(attention_dropout=0.5), n_features=16, redraw_interval=2, random_state=0
    )
    module = model.model.layers[0].self_attn
    ids = tokens((2, 8))
    omega = module.favor_omega.clone()
    model.train()
    first, second = model(ids).logits, model(ids).logits
    assert module.favor_num_batches_tracked == 2
    assert torch.equal(module.favor_omega, omega)
    assert not torch.allclose(first, second)  # dropout (and the updated statistics)
    model(ids)
    assert not torch.equal(module.favor_omega, omega)
    model.eval()
    with torch.no_grad():
        np.testing.assert_array_equal(model(ids).logits, model(ids).logits)
    assert module.favor_num_batches_tracked == 3


def test_redraws_depend_on_the_buffers_only():
    # Two processes (or a resumed run) holding the same buffers draw the same
    # directions, whatever the state of their torch generators.
    model = favorize(llama(), n_features=16, redraw_interval=1, random_state=0)
    model.train()
    ids = tokens((2, 8))
    model(ids)
    other = llama()
    favorize(other, n_features=16, redraw_interval=1, random_state=1)
    other.load_state_dict(model.state_dict())
    other.train()
    torch.manual_seed(1)
    model(ids)
    torch.manual_seed(2)
    other(ids)
    module = model.model.layers[0].self_attn
    assert module.favor_n_redraws == 1
    np.testing.assert_array_equal(
        module.favor_omega, other.model.layers[0].self_attn.favor_omega
    )


def test_save_pretrained_round_trip(tmp_path):
    model = favorize(llama(), feature_map="gerf", n_features=16, random_state=0)
    calibrate(model, tokens((2, 12)))
    model.save_pretrained(tmp_path)
    loaded = load_favorized(LlamaForCausalLM, tmp_path)
    assert type(loaded) is LlamaForCausalLM
    state, loaded_state = model.state_dict(), loaded.state_dict()
    assert state.keys() == loaded_state.keys()
    for name, value in state.items():
        np.testing.assert_array_equal(value, loaded_state[name], err_msg=name)
    ids = tokens((2, 9), seed=4)
    with torch.no_grad():
        np.testing.assert_array_equal(model(ids).logits, loaded(ids).logits)
    with pytest.raises(ValueError, match="favorize_options"):
        llama().save_pretrained(tmp_path / "plain")
        load_favorized(LlamaForCausalLM, tmp_path / "plain")


def test_load_favorized_refuses_another_attention_implementation(tmp_path):
    # from_pretrained built the model with the attention asked for, and
    # favorize then replaced it by FAVOR's without a word.
    model = favorize(llama(), n_features=16, random_state=0)
    model.save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="attn_implementation='sdpa'"):
        load_favorized(LlamaForCausalLM, tmp_path, attn_implementation="sdpa")
    for asked in (None, "favor"):  # from_pretrained's default, and FAVOR's
        load_favorized(LlamaForCausalLM, tmp_path, attn_implementation=asked)


def test_lora_fine_tuning_lowers_the_loss():
    peft = pytest.importorskip("peft")
    model = favorize(llama(), feature_map="sderf", n_features=32, random_state=0)
    # A periodic text: what the next token is can be learnt from the context.
    ids = (torch.arange(24) % 6 + 3).repeat(4, 1)
    calibrate(model, ids)
    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj"]
    config = peft.LoraConfig(r=8, lora_alpha=16, target_modules=targets)
    tuned = peft.get_peft_model(model, config)
    trainable = [p for p in tuned.parameters() if p.requires_grad]
    assert 0 < sum(p.numel() for p in trainable) < 0.3 * model.num_parameters()
    optimizer = torch.optim.AdamW(trainable, lr=1e-2)
    tuned.train()
    losses = []
    for _ in range(20):
        loss = tuned(input_ids=ids, labels=ids).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.9 * losses[0]
    assert tuned.base_model.model.config._attn_implementation == ATTN_IMPLEMENTATION


def test_trainer_runs_and_updates_the_statistics(tmp_path):
    pytest.importorskip("accelerate")
    model = calibrate(favorize(llama(), n_features=16, random_state=0), tokens((2, 16)))
    ids = torch.arange(16) % 4 + 3
    data = [{"input_ids": ids, "labels": ids} for _ in range(8)]
    arguments = transformers.TrainingArguments(
        output_dir=str(tmp_path),
        per_device_train_batch_size=4,
        max_steps=3,
        learning_rate=1e-2,
        report_to=[],
        use_cpu=True,
        save_strategy="no",
        disable_tqdm=True,
    )
    trainer = transformers.Trainer(model=model, args=arguments, train_dataset=data)
    result = trainer.train()
    assert np.isfinite(result.training_loss)
    # Calibration, then one moving-average update per training forward.
    assert model.model.layers[0].self_attn.favor_num_batches_tracked == 4


def test_a_forward_that_skips_favor_attention_is_refused():
    # Switched back to SDPA, the modules would silently compute softmax
    # attention with their FAVOR buffers unused.
    model = favorize(llama(), n_features=16, random_state=0)
    model.set_attn_implementation("sdpa")
    with pytest.raises(ValueError, match="did not call FAVOR attention") as error:
        model(tokens((1, 6)))
    # The message names the switch, not a model that cannot be favorized.
    assert "attn_implementation='sdpa'" in str(error.value)
    assert "set_attn_implementation('favor')" in str(error.value)
    model.set_attn_implementation("favor")
    assert torch.isfinite(model(tokens((1, 6))).logits).all()


def test_directions_follow_torch_manual_seed():
    omegas = []
    for seed in (0, 0, 1):
        model = llama()
        torch.manual_seed(seed)
        favorize(model, n_features=16)
        omegas.append(model.model.layers[1].self_attn.favor_omega)
    assert torch.equal(omegas[0], omegas[1])
    assert not torch.equal(omegas[0], omegas[2])


def test_bidirectional_model_with_calibrated_statistics():
    model = favorize(bert(), statistics="running", n_features=64, random_state=0)
    ids = tokens((2, 9))
    calibrate(model, ids, max_batches=1)
    module = model.encoder.layer[1].attention.self
    assert module.favor_options.statistics == "running"
    assert module.favor_num_batches_tracked == 1
    mask = torch.ones_like(ids)
    mask[1, 5:] = 0
    with torch.no_grad():
        padded = model(ids, attention_mask=mask).last_hidden_state
        alone = model(ids[1:, :5]).last_hidden_state
    np.testing.assert_allclose(padded[1, :5], alone[0], atol=1e-5)


def test_running_update_masks_queries_as_calibration_does():
    # The running update and calibration leave out padded queries by one
    # rule: the key mask applies to the queries of self-attention only. With
    # as many queries as keys the two agree; with fewer queries than keys
    # (cross-attention) the key mask is not the queries' (it raised before).
    from skfavor.integrations._transformers_statistics import (
        favor_buffer,
        update_running,
    )

    module = favorize(llama(), n_features=16, random_state=0).model.layers[0].self_attn
    generator = torch.Generator().manual_seed(0)
    query = torch.randn(2, 4, 3, 8, generator=generator)
    key = torch.randn(2, 4, 5, 8, generator=generator)
    keep = torch.tensor([[True] * 5, [True, True, True, False, False]])
    scale = 8**-0.5
    update_running(module, query, key, keep, scale)  # the first update replaces
    factor = scale**0.5  # the buffers are float32, like the model
    # Every query (fewer than the keys), the kept keys: per head, in kernel units.
    expected = query.double().mean(dim=(0, 2)) * factor
    np.testing.assert_allclose(favor_buffer(module, "query_mean"), expected, rtol=1e-5)
    kept = torch.cat([key[0], key[1, :, :3]], dim=1).double()
    np.testing.assert_allclose(
        favor_buffer(module, "key_mean"), kept.mean(dim=1) * factor, rtol=1e-5
    )


def bart():
    torch.manual_seed(0)
    config = BartConfig(
        vocab_size=VOCAB,
        d_model=32,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=64,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        decoder_start_token_id=2,
        forced_eos_token_id=None,
        init_std=0.3,
    )
    return BartForConditionalGeneration(config).eval()


def test_decoder_cross_attention_is_strictly_causal_by_default():
    # The queries of a decoder's cross-attention are the decoder's positions:
    # batch statistics of them would let every output see later target
    # tokens (teacher forcing) and would differ between a cached step and
    # the full forward. By default they take running statistics, as
    # replace_attention does for nn.Transformer's decoder.
    model = favorize(bart(), n_features=32, random_state=0)
    decoder_layer = model.model.decoder.layers[0]
    assert decoder_layer.encoder_attn.favor_options.statistics == "running"
    assert model.model.encoder.layers[0].self_attn.favor_options.statistics == "batch"
    source, target = tokens((2, 10)), tokens((2, 8), seed=1)
    calibrate(model, {"input_ids": source, "decoder_input_ids": target})
    changed = target.clone()
    changed[:, -1] = (changed[:, -1] + 1 - 3) % (VOCAB - 3) + 3
    with torch.no_grad():
        full = model(input_ids=source, decoder_input_ids=target, use_cache=False)
        other = model(input_ids=source, decoder_input_ids=changed, use_cache=False)
    torch.testing.assert_close(full.logits[:, :-1], other.logits[:, :-1])
    generated = model.generate(
        source, max_new_tokens=6, min_new_tokens=6, do_sample=False
    )
    uncached = model.generate(
        source, max_new_tokens=6, min_new_tokens=6, do_sample=False, use_cache=False
    )
    torch.testing.assert_close(generated, uncached, rtol=0, atol=0)
    with torch.no_grad():
        logits = model(input_ids=source, decoder_input_ids=generated[:, :-1]).logits
    torch.testing.assert_close(logits.argmax(-1), generated[:, 1:], rtol=0, atol=0)


def test_compiled_training_call_without_mask_or_cache():
    # Under torch.compile, transformers cannot look at position_ids and asks
    # for its packed-sequence mask in every call without attention_mask and
    # cache (it failed with an error that blamed sliding windows). A
    # favorized decoder-only model gives such a call an all-ones mask, after
    # checking on the device that position_ids run in one sequence per row.
    model = favorize(llama(), n_features=16, random_state=0)
    ids = tokens((2, 12))
    calibrate(model, ids)
    model.train()
    eager = model(ids, labels=ids, use_cache=False).loss
    compiled = torch.compile(model, fullgraph=True, backend="eager")
    loss = compiled(ids, labels=ids, use_cache=False).loss
    torch.testing.assert_close(loss, eager)
    positions = torch.arange(12).expand(2, -1)
    loss = compiled(ids, position_ids=positions, labels=ids, use_cache=False).loss
    torch.testing.assert_close(loss, eager)
    packed = torch.tensor([[0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5]] * 2)
    with pytest.raises(RuntimeError, match="packed"):
        compiled(ids, position_ids=packed, labels=ids, use_cache=False)
    # A call that continues a cache keeps its own mask rules (a mask of the
    # new tokens only would not cover the cached ones).
    model.eval()
    with torch.no_grad():
        full = model(ids, use_cache=False).logits
        first = compiled(ids[:, :8], past_key_values=DynamicCache(), use_cache=True)
        cache = first.past_key_values
        step = compiled(ids[:, 8:], past_key_values=cache, use_cache=True).logits
    torch.testing.assert_close(step, full[:, 8:], rtol=1e-5, atol=1e-5)


def test_attention_weights_are_refused():
    # Linear attention never forms the weights: output_attentions=True is an
    # error, as need_weights=True is for FavorAttention (it returned an empty
    # tuple before).
    model = favorize(llama(), n_features=16, random_state=0)
    with pytest.raises(ValueError, match="output_attentions"):
        model(tokens((1, 5)), output_attentions=True)
    assert model(tokens((1, 5)), output_attentions=False).attentions is None


def test_a_static_cache_is_refused_by_name():
    # A StaticCache keeps keys and values in fixed buffers, where FAVOR keeps
    # its decoding sums; generate with one failed inside transformers with
    # "'FavorMask' object has no attribute 'ndim'".
    for model in (llama(), bart()):  # bart: an EncoderDecoderCache of two
        model = favorize(model, n_features=16, random_state=0)
        with pytest.raises(ValueError, match="StaticCache"):
            model.generate(
                tokens((1, 6)), cache_implementation="static", max_new_tokens=2
            )


def test_bert_decoder_cross_attention_is_strictly_causal():
    # BERT-family decoders mark their cross-attention on a wrapper, not on
    # the attention module: the module's config says it is a decoder's.
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=VOCAB,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=4,
        intermediate_size=64,
        is_decoder=True,
        add_cross_attention=True,
    )
    model = favorize(BertLMHeadModel(config).eval(), n_features=16, random_state=0)
    cross = model.bert.encoder.layer[0].crossattention.self
    assert cross.favor_options.statistics == "running"
    source = torch.randn(2, 5, 32, generator=torch.Generator().manual_seed(0))
    target = tokens((2, 6))
    changed = target.clone()
    changed[:, -1] = (changed[:, -1] + 1 - 3) % (VOCAB - 3) + 3
    with torch.no_grad():
        out = model(input_ids=target, encoder_hidden_states=source).logits
        other = model(input_ids=changed, encoder_hidden_states=source).logits
    torch.testing.assert_close(out[:, :-1], other[:, :-1])


def test_cross_attention_queries_are_not_the_keys_padding():
    # With as many decoder positions as encoder positions, the encoder's
    # padding mask is not the decoder queries' (it zeroed queries at padded
    # encoder positions, moving their logits by up to 3.9): one rule tells
    # cross-attention from self-attention for the engine, the calibration
    # and the running update.
    model = favorize(bart(), n_features=16, random_state=0)
    source = tokens((2, 6))
    mask = torch.ones(2, 6, dtype=torch.long)
    mask[1, 4:] = 0
    target = tokens((2, 7), seed=1)
    calibrate(
        model,
        {"input_ids": source, "attention_mask": mask, "decoder_input_ids": target},
    )
    with torch.no_grad():
        same = model(
            input_ids=source, attention_mask=mask, decoder_input_ids=target[:, :6]
        )
        longer = model(input_ids=source, attention_mask=mask, decoder_input_ids=target)
    torch.testing.assert_close(same.logits, longer.logits[:, :6])


def test_gradient_checkpointing_runs_the_training_side_effects_once():
    # Hugging Face's gradient checkpointing runs each layer again in backward:
    # the statistics were updated twice, ω redrawn in the recomputation and
    # the q_proj gradient 33 % off.
    model = favorize(llama(), n_features=16, random_state=0, redraw_interval=1)
    tokens = torch.randint(
        3, VOCAB, (2, 12), generator=torch.Generator().manual_seed(0)
    )
    model = calibrate(model, tokens)
    plain, checkpointed = copy.deepcopy(model).train(), copy.deepcopy(model).train()
    checkpointed.gradient_checkpointing_enable(
        gradient_checkpointing_kwargs={"use_reentrant": False}
    )
    for module in (plain, checkpointed):
        module(tokens, labels=tokens).loss.backward()
    for (name, parameter), other in zip(
        plain.named_parameters(), checkpointed.parameters(), strict=True
    ):
        torch.testing.assert_close(other.grad, parameter.grad, msg=name)
    buffers = dict(checkpointed.named_buffers())
    for name, value in plain.named_buffers():
        torch.testing.assert_close(buffers[name], value, msg=name)


@pytest.mark.parametrize("name", ["gpt_neox", "falcon"])
def test_generate_with_a_cache_named_layer_past(name):
    # GPT-NeoX (Pythia) and Falcon hand their attention the cache as
    # `layer_past`: the cache was not found, the cached step got 1 query and
    # all the keys, and generate failed with "Causal FAVOR attention needs as
    # many keys as queries without a cache".
    torch.manual_seed(0)
    if name == "gpt_neox":
        config = transformers.GPTNeoXConfig(
            vocab_size=VOCAB, hidden_size=32, intermediate_size=64,
            num_hidden_layers=2, num_attention_heads=4, pad_token_id=0,
        )  # fmt: skip
        model = transformers.GPTNeoXForCausalLM(config).eval()
    else:
        config = transformers.FalconConfig(
            vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2,
            num_attention_heads=4, pad_token_id=0,
        )  # fmt: skip
        model = transformers.FalconForCausalLM(config).eval()
    model = calibrate(favorize(model, n_features=32, random_state=0), tokens((4, 20)))
    prompt = tokens((2, 6), seed=3)
    options = {"max_new_tokens": 8, "do_sample": False, "pad_token_id": 0}
    out = model.generate(
        prompt, output_logits=True, return_dict_in_generate=True, **options
    )
    assert [type(layer) for layer in out.past_key_values.layers] == [
        FavorCacheLayer
    ] * 2
    with torch.no_grad():
        full = model(out.sequences, use_cache=False).logits[:, 5:-1]
    np.testing.assert_allclose(torch.stack(out.logits, 1), full, atol=1e-5)
    np.testing.assert_array_equal(out.sequences, greedy_loop(model, prompt, 8))


def test_score_terms_linear_attention_cannot_apply_are_refused():
    # T5 adds a learned relative position bias to the scores (position_bias);
    # FAVOR ignored it and the model lost its positions without a word
    # (logits 1.8 off softmax's with 2048 features). The same holds for
    # logit soft-capping, attention sinks and sparse indices.
    torch.manual_seed(0)
    config = transformers.T5Config(
        vocab_size=VOCAB, d_model=32, d_kv=8, d_ff=64, num_layers=1,
        num_heads=4, decoder_start_token_id=0, pad_token_id=0,
    )  # fmt: skip
    model = favorize(
        transformers.T5ForConditionalGeneration(config).eval(),
        n_features=16,
        random_state=0,
    )
    with pytest.raises(ValueError, match="position_bias"):
        model(tokens((1, 6)), decoder_input_ids=tokens((1, 3)))
    module = favorize(llama(), n_features=16, random_state=0).model.layers[0].self_attn
    x = torch.randn(1, 4, 5, 8)
    mask = FavorMask(True, None)
    for name in ("softcap", "s_aux", "sinks", "indices"):
        with pytest.raises(ValueError, match=name):
            favor_attention_forward(module, x, x, x, mask, **{name: torch.ones(4)})
    # None is what models without these terms pass.
    out, _ = favor_attention_forward(module, x, x, x, mask, softcap=None)
    assert out.shape == (1, 5, 4, 8)


def test_alibi_and_packed_documents_are_refused_by_name():
    # Falcon with alibi=True adds ALiBi's bias through a float mask, which
    # failed later with "'FavorMask' object has no attribute 'dtype'"; packed
    # documents passed as cu_seq_lens_q/k were ignored without a word.
    config = transformers.FalconConfig(
        vocab_size=VOCAB, hidden_size=32, num_hidden_layers=1,
        num_attention_heads=4, pad_token_id=0, alibi=True,
    )  # fmt: skip
    with pytest.raises(ValueError, match="alibi"):
        favorize(transformers.FalconForCausalLM(config), n_features=16)
    module = favorize(llama(), n_features=16, random_state=0).model.layers[0].self_attn
    x = torch.randn(1, 4, 5, 8)
    starts = torch.tensor([0, 2, 5], dtype=torch.int32)
    for name in ("cu_seq_lens_q", "cu_seq_lens_k"):
        with pytest.raises(ValueError, match=name):
            favor_attention_forward(
                module, x, x, x, FavorMask(True, None), **{name: starts}
            )


def test_decoding_in_training_mode_leaves_the_statistics():
    # generate() does not switch to eval mode: a sample printed during
    # training decoded in training mode, and each one-token step was merged
    # into the running statistics (30 steps moved the key covariance by 69 %)
    # and advanced the redraw schedule. A call that continues a cache is
    # decoding: only the prompt's call is a training forward.
    model = calibrate(
        favorize(llama(), n_features=16, redraw_interval=3, random_state=0),
        tokens((4, 20)),
    )
    model.train()
    prompt = tokens((2, 6), seed=3)
    prefill = copy.deepcopy(model)
    with torch.no_grad():
        prefill(prompt, use_cache=False)
        model.generate(prompt, max_new_tokens=12, do_sample=False, pad_token_id=0)
    after, expected = model.state_dict(), prefill.state_dict()
    for name in expected:
        np.testing.assert_array_equal(after[name], expected[name], err_msg=name)
    assert model.model.layers[0].self_attn.favor_num_batches_tracked == 2


def test_load_favorized_leaves_torch_global_generator(tmp_path):
    # load_favorized favorized with random_state=None, which draws a seed from
    # torch's global generator before the saved directions overwrite the
    # drawn ones: `torch.manual_seed(0); load_favorized(...)` then sampled
    # other tokens than the saved model after `torch.manual_seed(0)`.
    model = favorize(llama(), n_features=16, random_state=0)
    model.save_pretrained(tmp_path)
    torch.manual_seed(0)
    expected = torch.rand(4)
    torch.manual_seed(0)
    load_favorized(LlamaForCausalLM, tmp_path)
    np.testing.assert_array_equal(torch.rand(4), expected)


def test_a_model_sharing_the_config_of_a_favorized_one_is_told_why():
    # Models built from one config object share it, and favorize sets its
    # attn_implementation: the other model then failed with "was not
    # favorized: call favorize(model)", which its user never meant to do.
    config = LlamaConfig(
        vocab_size=VOCAB, hidden_size=32, intermediate_size=64,
        num_hidden_layers=1, num_attention_heads=4,
    )  # fmt: skip
    teacher, student = LlamaForCausalLM(config), LlamaForCausalLM(config)
    favorize(student, n_features=16, random_state=0)
    with pytest.raises(ValueError, match=r"copy\.deepcopy\(config\)"):
        teacher(tokens((1, 5)))
    with pytest.raises(ValueError, match="load_favorized"):
        teacher(tokens((1, 5)))


def test_refused_mask_names_the_pattern_the_model_asked_for():
    # The message listed every pattern linear attention cannot apply and
    # named only transformers' wrapper 'and_masks.<locals>.and_mask', so a
    # packed batch and a sliding window read the same.
    model = favorize(llama(), n_features=16, random_state=0)
    packed = torch.tensor([[0, 1, 2, 3, 0, 1, 2, 3]])
    with pytest.raises(ValueError) as error:
        model(tokens((1, 8)), position_ids=packed, use_cache=False)
    assert "packed_sequence_mask_function" in str(error.value)
    assert "sliding_window_overlay" not in str(error.value)
    torch.manual_seed(0)
    config = MistralConfig(
        vocab_size=VOCAB, hidden_size=32, intermediate_size=64,
        num_hidden_layers=1, num_attention_heads=4, sliding_window=64,
    )  # fmt: skip
    with pytest.raises(ValueError) as error:
        favorize(MistralForCausalLM(config), n_features=16)(tokens((1, 8)))
    assert "sliding_window_overlay" in str(error.value)
    assert "packed_sequence_mask_function" not in str(error.value)


def test_masks_of_the_wrong_shape_are_refused_by_name():
    # A 3-D attention_mask, and a BERT mask one key too long or short, failed
    # in torch's expand ("the number of sizes provided (3) must be greater or
    # equal to the number of dimensions in the tensor (4)").
    ids = tokens((2, 8))
    causal, encoder = favorize(llama(), n_features=16), favorize(bert(), n_features=16)
    for model in (causal, encoder):
        with pytest.raises(ValueError, match=r"attention_mask.*\(2, 8, 8\)"):
            model(ids, attention_mask=torch.ones(2, 8, 8, dtype=torch.long))
    for width in (7, 9):
        with pytest.raises(ValueError, match=rf"\(2, {width}\).*8 keys"):
            encoder(ids, attention_mask=torch.ones(2, width, dtype=torch.long))


def _favor_buffers(model):
    return {
        name[name.index("layers.") :]: value.clone()
        for name, value in model.state_dict().items()
        if "favor_" in name
    }


def _trainer_run(tmp_path, resume, lora, callbacks=(), seed=0):
    """Losses and favor_ buffers of 4 Trainer steps, checkpoints every 2."""
    peft = pytest.importorskip("peft") if lora else None
    model = favorize(llama(), n_features=16, random_state=seed, redraw_interval=3)
    calibrate(model, tokens((2, 16)))
    if lora:
        config = peft.LoraConfig(r=4, target_modules=["q_proj", "v_proj"])
        model = peft.get_peft_model(model, config)
    arguments = transformers.TrainingArguments(
        output_dir=str(tmp_path),
        per_device_train_batch_size=2,
        max_steps=4,
        save_steps=2,
        learning_rate=1e-2,
        report_to=[],
        use_cpu=True,
        disable_tqdm=True,
        logging_steps=1,
    )
    data = [{"input_ids": ids, "labels": ids} for ids in tokens((8, 12), seed=1)]
    trainer = transformers.Trainer(
        model=model, args=arguments, train_dataset=data, callbacks=list(callbacks)
    )
    trainer.train(resume_from_checkpoint=resume)
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    return losses, _favor_buffers(model)


@pytest.mark.parametrize("lora", [False, True])
def test_trainer_resume_restores_the_favor_buffers(tmp_path, lora):
    # A peft model's checkpoint holds the adapter only: without the callback,
    # resuming went on with the fresh model's favor_ buffers (other
    # directions, statistics and redraw schedule), silently.
    pytest.importorskip("accelerate")
    callbacks = [FavorCheckpointCallback()] if lora else []
    losses, buffers = _trainer_run(tmp_path, None, lora, callbacks)
    resumed_losses, resumed = _trainer_run(
        tmp_path, str(tmp_path / "checkpoint-2"), lora, callbacks
    )
    # One redraw (every 3 training forwards), 1 + 4 statistics updates.
    assert int(buffers["layers.0.self_attn.favor_n_redraws"]) == 1
    assert int(buffers["layers.0.self_attn.favor_num_batches_tracked"]) == 5
    assert resumed.keys() == buffers.keys()
    for name, value in buffers.items():
        assert torch.equal(resumed[name], value), name
    np.testing.assert_allclose(resumed_losses, losses, rtol=1e-6)


def test_trainer_resume_without_saved_favor_buffers_is_refused(tmp_path):
    pytest.importorskip("accelerate")
    _trainer_run(tmp_path, None, lora=False)  # checkpoints without the file
    with pytest.raises(ValueError, match=r"checkpoint-2/favor_buffers\.safetensors"):
        _trainer_run(
            tmp_path,
            str(tmp_path / "checkpoint-2"),
            lora=False,
            callbacks=[FavorCheckpointCallback()],
        )


def test_trainer_resume_from_a_checkpoint_outside_output_dir_is_refused(tmp_path):
    # resume_from_checkpoint=<path outside output_dir> silently loaded the
    # buffers of output_dir's checkpoint of the same step, another run's.
    pytest.importorskip("accelerate")
    callbacks = [FavorCheckpointCallback()]
    _trainer_run(tmp_path / "a", None, lora=True, callbacks=callbacks)
    _trainer_run(tmp_path / "b", None, lora=True, callbacks=callbacks, seed=1)
    with pytest.raises(ValueError, match=r"b/checkpoint-2.*not the checkpoint"):
        _trainer_run(
            tmp_path / "b", str(tmp_path / "a" / "checkpoint-2"), True, callbacks
        )


def test_trainer_resume_accepts_a_logged_nan(tmp_path):
    # The callback tells the resumed checkpoint by its logged history, with
    # ==, and NaN != NaN: a step whose loss was NaN (an overflow) was feared
    # to refuse a legitimate resume. Both histories come from the same JSON,
    # whose decoder returns one NaN object, and list and dict equality take
    # an object as equal to itself: accepted, as this keeps checking.
    import json

    pytest.importorskip("accelerate")
    callbacks = [FavorCheckpointCallback()]
    _, buffers = _trainer_run(tmp_path, None, lora=False, callbacks=callbacks)
    state_file = tmp_path / "checkpoint-2" / "trainer_state.json"
    state = json.loads(state_file.read_text())
    state["log_history"][0]["loss"] = float("nan")
    state_file.write_text(json.dumps(state))
    _, resumed = _trainer_run(
        tmp_path, str(tmp_path / "checkpoint-2"), lora=False, callbacks=callbacks
    )
    for name, value in buffers.items():
        assert torch.equal(resumed[name], value), name


def test_trainer_callback_refuses_a_model_without_favor_buffers(tmp_path):
    # A model that was not favorized trained on, saving empty buffer files:
    # the callback had nothing to keep and said nothing.
    pytest.importorskip("accelerate")
    arguments = transformers.TrainingArguments(
        output_dir=str(tmp_path), max_steps=1, report_to=[], use_cpu=True
    )
    data = [{"input_ids": ids, "labels": ids} for ids in tokens((2, 8))]
    trainer = transformers.Trainer(
        model=llama(),
        args=arguments,
        train_dataset=data,
        callbacks=[FavorCheckpointCallback()],
    )
    with pytest.raises(ValueError, match=r"no favor_ buffers.*favorize"):
        trainer.train()
