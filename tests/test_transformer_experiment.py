"""The transformer experiment: MQAR generator, text split, model, metrics, CLI."""

import csv
import math
from dataclasses import replace

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from skfavor.experiments import transformer  # noqa: E402
from skfavor.experiments._charlm import (  # noqa: E402
    CharCorpus,
    load_topics,
    split_topics,
    tiled_windows,
)
from skfavor.experiments._mqar import IGNORE, mqar  # noqa: E402


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
    features=(8,),
    seeds=1,
    steps=3,
    finetune_steps=2,
    calibration_steps=2,
    batch_size=4,
    width=16,
    heads=2,
    layers=1,
    mqar_vocab=32,
    mqar_pairs=2,
    mqar_length=16,
    mqar_test=10,
    lm_length=16,
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


def _uniform_model(vocab_size):
    class Uniform(torch.nn.Module):
        def forward(self, ids):
            return torch.zeros(*ids.shape, vocab_size)

    return Uniform()


def test_bits_per_character_of_a_uniform_model_is_log2_vocab():
    windows = torch.randint(50, (7, 9))
    bpc = transformer.bits_per_character(_uniform_model(50), windows, batch_size=3)
    assert bpc == pytest.approx(math.log2(50), rel=1e-6)


def test_mqar_accuracy_counts_queried_positions_only():
    inputs, targets = (
        torch.as_tensor(a) for a in mqar(30, vocab_size=32, n_pairs=2, length=16)
    )

    class Oracle(torch.nn.Module):
        def forward(self, ids):
            n = len(ids)
            answer = targets[:n].clamp(min=0)
            answer[:, ::3] = 0  # wrong at every third position
            return torch.nn.functional.one_hot(answer, 32).float()

    queried = targets != IGNORE
    expected = float((queried & (torch.arange(16) % 3 != 0)).sum() / queried.sum())
    accuracy = transformer.mqar_accuracy(Oracle(), inputs, targets, batch_size=30)
    assert accuracy == pytest.approx(expected)


def test_softmax_model_is_causal():
    model = transformer.build_model(
        "softmax", None, vocab_size=32, max_length=16, config=TINY, seed=0
    ).eval()
    ids = torch.randint(32, (2, 16))
    changed = ids.clone()
    changed[:, 9:] = (changed[:, 9:] + 1) % 32
    with torch.no_grad():
        np.testing.assert_allclose(
            model(ids)[:, :9].numpy(), model(changed)[:, :9].numpy(), atol=1e-6
        )
        assert not torch.allclose(model(ids)[:, 9:], model(changed)[:, 9:])


def test_schedule_warms_up_then_decays_to_zero():
    model = torch.nn.Linear(2, 2)
    rates = []

    class Recorder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = model

        def forward(self, ids):
            return self.inner(torch.ones(*ids.shape, 2))

    recorder = Recorder()
    original = torch.optim.AdamW.step

    def step(self, *args, **kwargs):
        rates.append(self.param_groups[0]["lr"])
        return original(self, *args, **kwargs)

    config = replace(TINY, warmup=0.2)
    x = torch.zeros(1, 3, dtype=torch.long)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(torch.optim.AdamW, "step", step)
        transformer.train(recorder, lambda s: (x, x), steps=10, lr=1.0, config=config)
    expected = [0.5, 1.0] + [0.5 * (1 + math.cos(math.pi * k / 8)) for k in range(8)]
    np.testing.assert_allclose(rates, expected, atol=1e-12)


@needs_favor
@pytest.mark.parametrize("method", ["posrf", "gerf", "sderf", "aderf", "saderf"])
def test_favor_model_starts_from_the_softmax_weights(method):
    softmax = transformer.build_model(
        "softmax", None, vocab_size=32, max_length=16, config=TINY, seed=4
    )
    favor = transformer.build_model(
        method, 8, vocab_size=32, max_length=16, config=TINY, seed=4
    )
    reference = softmax.state_dict()
    for name, parameter in favor.named_parameters():
        torch.testing.assert_close(parameter.detach(), reference[name])


@needs_favor
def test_cli_runs_every_task_and_writes_one_row_per_run_and_metric(tmp_path):
    from skfavor.experiments.__main__ import main

    config = replace(TINY, methods=("softmax", "sderf"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(transformer, "DEFAULT", config)
        result = main(["transformer", "--out", str(tmp_path), "--quiet"])
    rows = result["transformer"]
    with (tmp_path / "transformer.csv").open() as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames) == transformer.COLUMNS
        written = list(reader)
    assert len(written) == len(rows)
    metrics = {(r["task"], r["method"], r["metric"]) for r in written}
    for method in ("softmax", "sderf"):
        assert ("mqar", method, "accuracy") in metrics
        assert ("charlm", method, "bpc") in metrics
        assert ("uptraining", method, "bpc_before") in metrics
        assert ("uptraining", method, "bpc_after") in metrics
    for row in written:
        if row["metric"] == "accuracy":
            assert 0.0 <= float(row["value"]) <= 1.0
        if row["metric"].startswith("bpc"):
            assert 0.0 < float(row["value"]) < 2 * math.log2(200)
    pytest.importorskip("matplotlib")
    for task in transformer.TASKS:
        assert (tmp_path / f"transformer_{task}.png").stat().st_size > 0
    # The plots redrawn from the CSV file as read back.
    transformer.plot(written, config, tmp_path / "again")
    assert (tmp_path / "again" / "transformer_uptraining.png").stat().st_size > 0


@needs_favor
@pytest.mark.slow
def test_quick_setting_runs(tmp_path):
    from skfavor.experiments.__main__ import main

    result = main(["transformer", "--quick", "--out", str(tmp_path), "--quiet"])
    values = [r["value"] for r in result["transformer"] if r["metric"] != "seconds"]
    assert all(math.isfinite(v) for v in values)


def test_cli_options_and_their_validation(capsys):
    from skfavor.experiments.__main__ import main

    with pytest.raises(SystemExit) as exit_info:
        main(["transformer", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ["--tasks", "--methods", "--features", "--seeds", "--steps"]:
        assert option in text
    for option in ["--quick", "--full", "--device", "--mqar-pairs"]:
        assert option in text
    with pytest.raises(SystemExit):
        main(["transformer", "--seeds", "0"])
    assert "expected a positive integer, got 0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["transformer", "--quick", "--full"])
    assert "not allowed with" in capsys.readouterr().err
