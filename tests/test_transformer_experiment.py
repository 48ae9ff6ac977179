"""The transformer experiment: data, baselines, model, fairness, statistics, CLI."""

import csv
import math
from dataclasses import replace

import numpy as np
import pytest

from skfavor.experiments._charlm import (
    CharCorpus,
    kneser_ney,
    load_topics,
    ngram_bits_per_character,
    split_topics,
    tiled_windows,
)
from skfavor.experiments._mqar import IGNORE, mqar

torch = pytest.importorskip("torch")

from skfavor.experiments import (  # noqa: E402
    _model,
    _mqar_study,
    _uptraining,
    transformer,
)


def _has_favor_attention():
    try:
        from skfavor.nn import FavorAttention  # noqa: F401
    except ImportError:
        return False
    return True


needs_favor = pytest.mark.skipif(
    not _has_favor_attention(), reason="skfavor.nn.FavorAttention is not there"
)

TINY = replace(
    transformer.DEFAULT,
    bases=1,
    width=16,
    heads=2,
    layers=1,
    lm_length=16,
    lm_validation=8,
    pretrain_steps=3,
    batch_size=4,
    features=(4, 8),
    draws=3,
    calibration_steps=2,
    finetune_steps=2,
    finetune_batch=4,
    mqar_features=(8,),
    mqar_seeds=2,
    mqar_steps=4,
    mqar_batch=4,
    mqar_vocab=32,
    mqar_pairs=2,
    mqar_length=16,
    mqar_width=16,
    mqar_test=10,
    mqar_every=2,
    n_jobs=1,
    quiet=True,
)


def test_mqar_pairs_then_each_key_queried_once_for_its_value():
    vocab, pairs, length = 64, 5, 40
    inputs, targets = mqar(300, vocab_size=vocab, n_pairs=pairs, length=length, seed=3)
    assert inputs.shape == targets.shape == (300, length)
    keys, values = inputs[:, 0 : 2 * pairs : 2], inputs[:, 1 : 2 * pairs : 2]
    assert keys.min() >= 1 and keys.max() < vocab // 2
    assert values.min() >= vocab // 2 and values.max() < vocab
    for row in range(300):
        assert len(set(keys[row])) == pairs and len(set(values[row])) == pairs
        queried = np.flatnonzero(targets[row] != IGNORE)
        assert len(queried) == pairs
        assert queried.min() >= 2 * pairs and np.all((queried - 2 * pairs) % 2 == 0)
        # The query token is a key of the context, the target its value.
        answer = dict(zip(keys[row], values[row], strict=True))
        for position in queried:
            assert targets[row, position] == answer[inputs[row, position]]
    assert np.all(targets[:, : 2 * pairs] == IGNORE)


def test_mqar_is_seeded():
    first = mqar(20, vocab_size=64, n_pairs=4, length=32, seed=1)
    again = mqar(20, vocab_size=64, n_pairs=4, length=32, seed=1)
    other = mqar(20, vocab_size=64, n_pairs=4, length=32, seed=2)
    np.testing.assert_array_equal(first[0], again[0])
    assert not np.array_equal(first[0], other[0])


def test_mqar_gaps_follow_the_power_law():
    # One pair: the query's gap g = 0, 1, … has p(g) ∝ (g + 1)^(a - 1).
    n, length, a = 20000, 64, 0.01
    _, targets = mqar(n, vocab_size=128, n_pairs=1, length=length, power_a=a, seed=0)
    gaps = (np.argmax(targets != IGNORE, axis=1) - 2) // 2
    space = (length - 2) // 2
    p = np.arange(1, space + 1) ** (a - 1.0)
    p /= p.sum()
    observed = np.bincount(gaps, minlength=space) / n
    # Four binomial standard errors per bin.
    np.testing.assert_array_less(np.abs(observed - p), 4 * np.sqrt(p * (1 - p) / n))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"length": 15}, "length"),
        ({"vocab_size": 64, "length": 64}, "vocab_size"),
        ({"n_pairs": 17, "length": 64}, "n_pairs"),
        ({"power_a": 0.0}, "power_a"),
    ],
)
def test_mqar_rejects_bad_shapes(kwargs, match):
    with pytest.raises(ValueError, match=match):
        mqar(2, **kwargs)


def test_topics_split_by_document_90_5_5():
    topics = load_topics()
    splits = split_topics(topics)
    names = [name for split in splits for name in split]
    assert sorted(names) == sorted(topics)
    sizes = [sum(len(topics[n]) for n in split) for split in splits]
    largest = max(map(len, topics.values()))
    total = sum(sizes)
    for size, share in zip(sizes, (0.90, 0.05, 0.05), strict=True):
        assert abs(size - share * total) <= largest


def test_corpus_ids_and_tiled_windows():
    corpus = CharCorpus({"a": "abcab", "b": "zz", "c": "cbx", **_filler()})
    assert corpus.vocab_size == len(corpus.alphabet) + 1
    ids = np.arange(10)
    windows = tiled_windows(ids, length=3)
    np.testing.assert_array_equal(windows, [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9]])


def _filler():
    return {f"t{i}": "lorem ipsum " * 20 for i in range(30)}


# --- n-gram baseline -------------------------------------------------------


def test_kneser_ney_bigram_matches_the_hand_computation():
    # Bigrams (0,1), (1,0), (0,1), (1,0); id 2 never occurs. Continuation
    # counts 1, 1, 0 plus one each over 2 + 3: p1 = 0.4, 0.4, 0.2. After 0:
    # count 2 of (0,1), one type, discount 0.5, so the lower order gets
    # 0.5·1/2 = 0.25 of the mass: p(·|0) = (0, 1.5, 0)/2 + 0.25·p1.
    p = kneser_ney(np.array([0, 1, 0, 1, 0]), order=2, vocab_size=3, discount=0.5)
    np.testing.assert_allclose(p[0], [0.1, 0.85, 0.05])
    np.testing.assert_allclose(p[1], [0.85, 0.1, 0.05])
    # An unseen context falls back to the continuation unigram.
    np.testing.assert_allclose(p[2], [0.4, 0.4, 0.2])
    bpc = ngram_bits_per_character(p, np.array([0, 1, 0]))
    assert bpc == pytest.approx(-math.log2(0.85))


@pytest.mark.parametrize("order", [1, 2, 3])
def test_kneser_ney_is_a_distribution_at_every_order(order):
    ids = np.random.default_rng(0).integers(6, size=300)
    p = kneser_ney(ids, order=order, vocab_size=7)
    assert p.shape == (7,) * order
    np.testing.assert_allclose(p.sum(-1), 1.0)
    assert p.min() > 0


def test_kneser_ney_rejects_bad_parameters():
    with pytest.raises(ValueError, match="order"):
        kneser_ney(np.arange(5), order=4, vocab_size=5)
    with pytest.raises(ValueError, match="discount"):
        kneser_ney(np.arange(5), order=2, vocab_size=5, discount=1.0)


# --- statistics ------------------------------------------------------------


def test_diverged_report_names_each_run_once():
    rows = [
        _uptraining.row("uptraining", "seed 0", "gerf", 16, 2, "bpc_zero_shot", 3.0),
        _uptraining.row(
            "uptraining", "seed 0", "gerf", 16, 2, "bpc_finetuned", math.nan
        ),
        _uptraining.row("uptraining", "seed 0", "gerf", 16, 2, "seconds", math.nan),
        _uptraining.row("mqar", "", "posrf", 16, 1, "accuracy", math.nan),
        _uptraining.row("mqar", "", "posrf", 16, 1, "steps_to_target", math.nan),
    ]
    text = transformer.diverged_report(rows)
    assert text.startswith("diverged runs: 2 (")
    assert "uptraining/seed 0/gerf/16/2" in text and "mqar/posrf/16/1" in text
    assert transformer.diverged_report(rows[:1]) == "diverged runs: none"


def test_steps_to_target_is_the_first_evaluation_at_or_above_it():
    curve = [(50, 0.5), (100, 0.9), (150, 0.95)]
    assert _mqar_study.steps_to(curve, 0.9) == 100
    assert _mqar_study.steps_to(curve, 0.99) == math.inf


# --- model and training ----------------------------------------------------


def _uniform_model(vocab_size):
    class Uniform(torch.nn.Module):
        def forward(self, ids):
            return torch.zeros(*ids.shape, vocab_size)

    return Uniform()


def test_bits_per_character_of_a_uniform_model_is_log2_vocab():
    windows = torch.randint(50, (7, 9))
    bpc = _model.bits_per_character(_uniform_model(50), windows, batch_size=3)
    assert bpc == pytest.approx(math.log2(50), rel=1e-6)


def test_mqar_accuracy_counts_queried_positions_only():
    inputs, targets = (
        torch.as_tensor(a) for a in mqar(30, vocab_size=32, n_pairs=2, length=16)
    )

    class Oracle(torch.nn.Module):
        def forward(self, ids):
            answer = targets[: len(ids)].clamp(min=0)
            answer[:, ::3] = 0  # wrong at every third position
            return torch.nn.functional.one_hot(answer, 32).float()

    queried = targets != IGNORE
    expected = float((queried & (torch.arange(16) % 3 != 0)).sum() / queried.sum())
    accuracy = _model.mqar_accuracy(Oracle(), inputs, targets, batch_size=30)
    assert accuracy == pytest.approx(expected)


SHAPE = _model.Architecture(vocab_size=32, max_length=16, width=16, heads=2, layers=2)


@pytest.mark.parametrize("token_shift", [False, True])
@pytest.mark.parametrize("method", ["softmax", "sderf"])
def test_models_are_causal_with_and_without_the_token_shift(method, token_shift):
    if method != "softmax" and not _has_favor_attention():
        pytest.skip("skfavor.nn.FavorAttention is not there")
    shape = replace(SHAPE, token_shift=token_shift)
    model = _model.build_model(method, 8, shape, seed=0, draw=0)
    _model.calibrate(model, lambda s: (torch.randint(32, (4, 16)),), 2)
    model.eval()
    ids = torch.randint(32, (2, 16))
    changed = ids.clone()
    changed[:, 9:] = (changed[:, 9:] + 1) % 32
    with torch.no_grad():
        np.testing.assert_allclose(
            model(ids)[:, :9].numpy(), model(changed)[:, :9].numpy(), atol=1e-5
        )
        assert not torch.allclose(model(ids)[:, 9:], model(changed)[:, 9:])


def test_token_shift_gives_the_keys_the_previous_position():
    keys = []

    class Recorder(torch.nn.MultiheadAttention):
        def forward(self, query, key, value, **kwargs):
            keys.append((query, key))
            return super().forward(query, key, value, **kwargs)

    block = _model.Block(Recorder(16, 2, batch_first=True), 16, token_shift=True)
    block(torch.randn(3, 5, 16))
    query, key = keys[0]
    torch.testing.assert_close(key[:, 1:], query[:, :-1])
    assert torch.all(key[:, 0] == 0)


def test_schedule_warms_up_then_decays_to_zero():
    model = torch.nn.Linear(2, 2)
    rates = []

    class Wrapper(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = model

        def forward(self, ids):
            return self.inner(torch.ones(*ids.shape, 2))

    original = torch.optim.AdamW.step

    def step(self, *args, **kwargs):
        rates.append(self.param_groups[0]["lr"])
        return original(self, *args, **kwargs)

    x = torch.zeros(1, 3, dtype=torch.long)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(torch.optim.AdamW, "step", step)
        _model.train(Wrapper(), lambda s: (x, x), _model.Recipe(10, 1.0, warmup=0.2))
    expected = [0.5, 1.0] + [0.5 * (1 + math.cos(math.pi * k / 8)) for k in range(8)]
    np.testing.assert_allclose(rates, expected, atol=1e-12)


# --- fairness --------------------------------------------------------------

FAMILIES = ("posrf", "gerf", "sderf", "aderf", "saderf")


def _omegas(model):
    return [block.attn.omega.clone() for block in model.blocks]


def test_omega_seeds_come_from_their_own_stream():
    seeds = {_model.omega_seed(d, layer) for d in range(4) for layer in range(3)}
    assert len(seeds) == 12
    assert _model.omega_seed(2, 1) == _model.omega_seed(2, 1)


@needs_favor
def test_same_omega_for_every_family_of_a_draw_and_apart_from_the_weights():
    def build(method, seed, draw):
        return _model.build_model(method, 8, SHAPE, seed=seed, draw=draw)

    reference = _omegas(build("posrf", 0, 3))
    for method in FAMILIES[1:]:
        for mine, theirs in zip(_omegas(build(method, 0, 3)), reference, strict=True):
            torch.testing.assert_close(mine, theirs)
    # Another draw changes ω; another weight seed does not.
    assert not torch.equal(_omegas(build("posrf", 0, 4))[0], reference[0])
    other_seed = build("posrf", 1, 3)
    torch.testing.assert_close(_omegas(other_seed)[0], reference[0])
    assert not torch.equal(
        other_seed.embedding.weight, build("posrf", 0, 3).embedding.weight
    )


@needs_favor
@pytest.mark.parametrize("method", FAMILIES)
def test_favor_model_starts_from_the_softmax_weights(method):
    softmax = _model.build_model("softmax", None, SHAPE, seed=4, draw=0)
    favor = _model.build_model(method, 8, SHAPE, seed=4, draw=0)
    reference = softmax.state_dict()
    for name, parameter in favor.named_parameters():
        torch.testing.assert_close(parameter.detach(), reference[name])


def test_uptraining_and_mqar_jobs_pair_every_family_on_the_same_draws():
    jobs = _uptraining.swaps(TINY, [0, 1])
    for seed in (0, 1):
        for m in TINY.features:
            draws = {
                method: sorted(
                    d for s, f, n, d in jobs if (s, f, n) == (seed, method, m)
                )
                for method in FAMILIES
            }
            assert all(d == list(range(TINY.draws)) for d in draws.values())
    assert jobs.count((0, "softmax", None, None)) == 1
    runs = _mqar_study.jobs(TINY)
    assert sorted(s for f, n, s in runs if f == "sderf") == [0, 1]
    assert len(runs) == 6 * TINY.mqar_seeds


@needs_favor
def test_swaps_of_one_draw_see_the_same_omega_and_batches():
    calls = []

    def factory(method, width, heads, n_features, random_state):
        calls.append((method, random_state))
        return _model.make_attention(method, width, heads, n_features, random_state)

    _, state = _uptraining.pretrain(TINY, 0)
    for method in ("posrf", "sderf"):
        _uptraining.swap(TINY, 0, state, method, 4, 2, factory)
    favor = [(m, r) for m, r in calls if m != "softmax"]
    assert [r for m, r in favor if m == "posrf"] == [
        r for m, r in favor if m == "sderf"
    ]
    first = _uptraining.windows(TINY, 0, 1, 8)
    again = _uptraining.windows(TINY, 0, 1, 8)
    torch.testing.assert_close(first, again)


# --- the Llama bases (Hugging Face integration) ----------------------------

LLAMA = replace(
    TINY,
    base="llama",
    tasks=("uptraining",),
    methods=("softmax", "posrf", "sderf"),
    features=(4, 64),
    llama_draws=2,
    llama_pretrain_steps=3,
    llama_batch=4,
)


def test_llama_swaps_of_one_draw_share_omega_and_batches(monkeypatch):
    pytest.importorskip("transformers")
    from skfavor.experiments import _llama_study
    from skfavor.integrations import transformers as integration

    seen = []
    favorize, calibrate = integration.favorize, integration.calibrate

    def recording_favorize(model, **options):
        favorize(model, **options)
        omega = model.model.layers[0].self_attn.favor_omega.clone()
        seen.append(
            ("favorize", options["feature_map"], options["random_state"], omega)
        )
        return model

    def recording_calibrate(model, batches):
        seen.append(("calibrate", [b.clone() for b in batches]))
        return calibrate(model, batches)

    monkeypatch.setattr(integration, "favorize", recording_favorize)
    monkeypatch.setattr(integration, "calibrate", recording_calibrate)
    _, base = _llama_study.pretrain(LLAMA, 0)
    before = {k: v.clone() for k, v in base.state_dict().items()}
    for method, draw in (("posrf", 1), ("sderf", 1), ("sderf", 2)):
        rows = _llama_study.swap(LLAMA, 0, base, method, 4, draw)
        assert {r["base"] for r in rows} == {"llama seed 0"}
    # The base is copied, never favorized nor trained itself.
    assert base.state_dict().keys() == before.keys()
    for name, value in base.state_dict().items():
        torch.testing.assert_close(value, before[name])
    draws = [s for s in seen if s[0] == "favorize"]
    assert [s[1:3] for s in draws] == [
        ("posrf", _model.omega_seed(1, 0)),
        ("sderf", _model.omega_seed(1, 0)),
        ("sderf", _model.omega_seed(2, 0)),
    ]
    torch.testing.assert_close(draws[0][3], draws[1][3])
    assert not torch.allclose(draws[1][3], draws[2][3])
    batches = [s[1] for s in seen if s[0] == "calibrate"]
    assert len(batches[0]) == LLAMA.calibration_steps
    for other in batches[1:]:
        for first, again in zip(batches[0], other, strict=True):
            torch.testing.assert_close(first, again)


def test_llama_swap_honours_zero_calibration_steps(monkeypatch):
    # --calibration-steps 0 measures the swapped Llama without calibration,
    # as it does the experiment's own bases; it used to calibrate on one batch.
    pytest.importorskip("transformers")
    from skfavor.experiments import _llama_study
    from skfavor.integrations import transformers as integration

    calls = []
    calibrate = integration.calibrate

    def recording_calibrate(model, batches):
        calls.append(len(batches))
        return calibrate(model, batches)

    monkeypatch.setattr(integration, "calibrate", recording_calibrate)
    config = replace(LLAMA, calibration_steps=0, finetune_steps=0)
    _, base = _llama_study.pretrain(config, 0)
    rows = _llama_study.swap(config, 0, base, "sderf", 4, 0)
    assert calls == []
    values = {r["metric"]: r["value"] for r in rows}
    assert math.isfinite(values["bpc_zero_shot"])
    _llama_study.swap(replace(config, calibration_steps=2), 0, base, "sderf", 4, 0)
    assert calls == [2]


def test_llama_run_pretrains_swaps_and_reports(tmp_path, capsys):
    pytest.importorskip("transformers")
    rows = transformer.run(LLAMA, tmp_path)["transformer"]
    printed = capsys.readouterr().out
    assert "softmax (llama seed 0)" in printed and "trigram" in printed
    assert "base llama seed 0, zero-shot" in printed
    assert "over 2 ω draws" in printed and "sderf - posrf" in printed
    zero_shot = {
        (r["method"], r["n_features"], r["draw"]): r["value"]
        for r in rows
        if r["task"] == "uptraining" and r["metric"] == "bpc_zero_shot"
    }
    assert len(zero_shot) == 1 + 2 * len(LLAMA.features) * LLAMA.llama_draws
    assert {r["base"] for r in rows if r["task"] == "uptraining"} == {"llama seed 0"}
    softmax = zero_shot["softmax", "", ""]
    assert 0.0 < softmax < 2 * math.log2(200)
    for (method, m, _), value in zero_shot.items():
        if method == "softmax":
            continue
        # The swap changed the attention (not the softmax model measured
        # again), and calibrated features stay close to it.
        assert value != softmax
        assert abs(value - softmax) < (0.5 if m == 4 else 0.2)


def test_llama_bases_are_skipped_with_a_message_without_transformers(
    tmp_path, capsys, monkeypatch
):
    import importlib.util

    from skfavor.experiments import _llama_study

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        _llama_study.importlib.util,
        "find_spec",
        lambda name, *args: None if name == "transformers" else find_spec(name, *args),
    )
    rows = transformer.run(LLAMA, tmp_path)["transformer"]
    printed = capsys.readouterr().out
    assert "skipped: the Llama base models need the Hugging Face integration" in printed
    assert not [r for r in rows if r["task"] == "uptraining"]
    assert {r["method"] for r in rows} == {"unigram", "bigram", "trigram"}


# --- pipeline and CLI ------------------------------------------------------


class _NanAttention(torch.nn.MultiheadAttention):
    """Softmax attention's parameters, NaN outputs: a diverged family."""

    def forward(self, query, key, value, **kwargs):
        out, weights = super().forward(query, key, value, **kwargs)
        return out * math.nan, weights


@needs_favor
def test_run_writes_every_row_and_counts_a_diverged_family(tmp_path, capsys):
    def factory(method, width, heads, n_features, random_state):
        if method == "gerf":
            return _NanAttention(width, heads, batch_first=True)
        return _model.make_attention(method, width, heads, n_features, random_state)

    config = replace(TINY, methods=("softmax", "posrf", "gerf", "sderf"))
    rows = transformer.run(config, tmp_path, attention_factory=factory)["transformer"]
    printed = capsys.readouterr().out
    with (tmp_path / "transformer.csv").open() as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames) == transformer.COLUMNS
        written = list(reader)
    assert len(written) == len(rows)
    metrics = {(r["task"], r["method"], r["metric"]) for r in written}
    for name in ("unigram", "bigram", "trigram", "softmax"):
        assert ("base", name, "bpc") in metrics
    swaps = [
        r for r in rows if r["task"] == "uptraining" and r["metric"] == "bpc_zero_shot"
    ]
    assert len(swaps) == 1 + 3 * len(config.features) * config.draws
    assert sum(r["metric"] == "accuracy" for r in rows) == 4 * config.mqar_seeds
    # Every gerf run diverged: counted in the tables and in the summary.
    n_gerf = len(config.features) * config.draws + config.mqar_seeds
    assert f"diverged runs: {n_gerf} (" in printed
    assert "diverged (3)" in printed
    assert "sderf - gerf" in printed and "trigram" in printed
    # Under each difference table, in words, the cells without an interval.
    missing = "No interval (fewer than 2 pairs): sderf - gerf at M = {0}; "
    missing += "gerf - posrf at M = {0}."
    assert printed.count(missing.format("4, M = 8")) == 2
    assert printed.count(missing.format("8")) == 1
    for row in rows:
        if row["method"] != "gerf" and row["metric"].startswith("bpc"):
            assert 0.0 < row["value"] < 2 * math.log2(200)
    pytest.importorskip("matplotlib")
    assert (tmp_path / "transformer_uptraining.png").stat().st_size > 0
    transformer.plot(written, config, tmp_path / "again")
    assert (tmp_path / "again" / "transformer_mqar.png").stat().st_size > 0


def test_cli_options_map_onto_the_config(capsys):
    from skfavor.experiments.__main__ import build_parser

    def config(*argv):
        return transformer.config_from(
            build_parser().parse_args(["transformer", *argv])
        )

    assert config() == transformer.DEFAULT
    assert config("--quick") == transformer.QUICK
    quick = config(
        "--quick",
        "--draws",
        "3",
        "--mqar-features",
        "8",
        "32",
        "--no-token-shift",
        "--finetune-steps",
        "0",
        "--bases",
        "1",
        "--tasks",
        "mqar",
    )
    assert (quick.draws, quick.mqar_features, quick.token_shift) == (3, (8, 32), False)
    assert (quick.finetune_steps, quick.bases, quick.tasks) == (0, 1, ("mqar",))
    assert quick.pretrain_steps == transformer.QUICK.pretrain_steps
    assert config("--device", "cuda") == transformer.CUDA
    llama = config("--base", "llama", "--llama-draws", "3", "--llama-bases", "2")
    assert (llama.base, llama.llama_draws, llama.llama_bases) == ("llama", 3, 2)
    assert config("--llama-pretrain-steps", "7").llama_pretrain_steps == 7
    assert config("--device", "cuda", "--quick").device == "cuda"


def test_cli_help_and_validation(capsys):
    from skfavor.experiments.__main__ import main

    with pytest.raises(SystemExit) as exit_info:
        main(["transformer", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ["--tasks", "--methods", "--features", "--draws", "--bases"]:
        assert option in text
    for option in ["--quick", "--device", "--mqar-pairs", "--token-shift", "--base"]:
        assert option in text
    # Each option's help gives its value in each setting (the CUDA setting
    # runs 4 workers and 100 fine-tuning steps, not the CPU default's 2 and 15).
    flat = " ".join(text.split())
    assert "runs at the same time (default 2; --device cuda 4)" in flat
    assert (
        "fine-tuning steps after the swap (default 15; --quick 10; --device cuda 100)"
        in flat
    )
    assert "uptraining M per head (default 16 64 256; --quick 16 64)" in flat
    with pytest.raises(SystemExit):
        main(["transformer", "--draws", "0"])
    assert "expected a positive integer, got 0" in capsys.readouterr().err


@pytest.mark.skipif(
    torch.cuda.is_available(), reason="a GPU is there: the cuda setting would run"
)
def test_cuda_setting_is_skipped_with_a_message_without_a_gpu(tmp_path, capsys):
    from skfavor.experiments.__main__ import main

    result = main(["transformer", "--device", "cuda", "--out", str(tmp_path)])
    assert result == {"transformer": []}
    assert "skipped: device 'cuda'" in capsys.readouterr().out
    assert not (tmp_path / "transformer.csv").exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--mqar-vocab", "8"], "--mqar-vocab 8"),
        (["--mqar-pairs", "20"], "--mqar-pairs 20"),
        (["--device", "bogus"], "--device 'bogus'"),
        (["--device", "CPU"], "--device 'CPU'"),
    ],
)
def test_options_that_cannot_run_stop_before_any_training(argv, message, tmp_path):
    # --mqar-vocab 8 failed only after the whole uptraining study, in a worker's
    # traceback; --device bogus gave a raw torch error from a worker.
    from skfavor.experiments.__main__ import main

    with pytest.raises(SystemExit, match=message):
        main(["transformer", "--quick", *argv, "--out", str(tmp_path)])
    assert not (tmp_path / "transformer.csv").exists()


def test_the_tables_of_a_base_that_does_not_beat_the_trigram_say_so():
    # The docs say a base counts only if it beats the trigram, yet a failed
    # base got its full tables of paired differences, flagged in one cell of
    # the base table only.
    from skfavor.experiments import _uptraining
    from skfavor.experiments._uptraining import row

    config = transformer.with_overrides(
        transformer.QUICK, methods=("softmax", "posrf"), features=(8,)
    )
    rows = [
        row("base", "", "trigram", None, None, "bpc", 2.8),
        row("base", "seed 0", "softmax", None, None, "bpc", 4.5),
        row("base", "seed 1", "softmax", None, None, "bpc", 2.5),
    ]
    for base in ("seed 0", "seed 1"):
        for stage in _uptraining.STAGES:
            rows.append(row("uptraining", base, "softmax", None, None, stage, 2.5))
            for draw in range(3):
                rows.append(row("uptraining", base, "posrf", 8, draw, stage, 2.6))
    assert _uptraining.failed_bases(rows) == {"seed 0"}
    text = _uptraining.report(rows, config)
    assert "base seed 0 DOES NOT beat the trigram: it does not count" in text
    flagged = [line for line in text.splitlines() if "NOT COUNTED" in line]
    assert len(flagged) == 2 * len(_uptraining.STAGES)
    assert all("base seed 0" in line for line in flagged)
    assert "uptraining, base seed 1" in text


def test_settings_line_names_only_the_tasks_that_run():
    # --tasks mqar printed the base models' and uptraining settings too.
    quick = transformer.QUICK
    mqar_only = transformer.describe(transformer.with_overrides(quick, tasks=("mqar",)))
    assert mqar_only.startswith("MQAR: vocab") and "Uptraining" not in mqar_only
    both = transformer.describe(quick)
    assert both.startswith("Base models:") and "MQAR: vocab" in both
