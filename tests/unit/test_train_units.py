"""Label rules, stable splits, split parsing, text segments and the micro-batcher (no database)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from harvest.errors import InvalidInputError
from harvest.train.batching import Batcher
from harvest.train.datasets import parse_splits
from harvest.train.head import TrainConfig, train_head
from harvest.train.inference import segments
from harvest.train.labels import DocumentFacts, Labeler, parse_rule
from harvest.train.snapshots import split_of


def facts(url: str = "https://x.org/docs/ref/a.html", **kw: object) -> DocumentFacts:
    base: dict[str, object] = {"fields": {}, "source_labels": {}, "entity_types": (), "imported": ()}
    return DocumentFacts(url=url, **(base | kw))  # type: ignore[arg-type]


def test_every_label_rule_reads_its_part_of_a_document() -> None:
    url = Labeler(parse_rule({"kind": "url", "pattern": r"/docs/(?P<label>[^/]+)/"}), "classify")
    assert url.labels(facts()) == ["ref"] and url.labels(facts("https://x.org/blog/")) == []
    field = Labeler(parse_rule({"kind": "field", "key": "tags"}), "multilabel")
    assert field.labels(facts(fields={"tags": ["b", "a", "a"]})) == ["a", "b"]
    source = Labeler(parse_rule({"kind": "source_label", "key": "topic"}), "classify")
    assert source.labels(facts(source_labels={"topic": "docs"})) == ["docs"]
    entity = Labeler(parse_rule({"kind": "entity", "types": ["person"]}), "classify")
    assert entity.labels(facts(entity_types=("person", "place"))) == ["person"]
    assert entity.labels(facts()) == ["not-person"]
    imported = Labeler(parse_rule({"kind": "import"}), "classify")
    assert imported.labels(facts(imported=("x",))) == ["x"]


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ({"kind": "url", "pattern": "/docs/([^/]+)/"}, "named group `label`"),
        ({"kind": "url", "pattern": "("}, "not a regular expression"),
        ({"kind": "field"}, "needs a key"),
        ({"kind": "entity", "types": []}, "at least one entity type"),
        ({"kind": "magic"}, "is not one of"),
    ],
)
def test_bad_label_rules_say_what_is_wrong(rule: dict[str, object], words: str) -> None:
    with pytest.raises(InvalidInputError, match=words):
        parse_rule(rule)


def test_splits_are_stable_and_follow_the_fractions() -> None:
    splits = parse_splits("0.6,0.2,0.2")
    assigned = [split_of(i, splits) for i in range(5000)]
    assert assigned == [split_of(i, splits) for i in range(5000)]
    assert 0.55 < assigned.count("train") / 5000 < 0.65
    with pytest.raises(InvalidInputError, match="add up to 1"):
        parse_splits("0.5,0.5,0.5")


def test_long_texts_are_encoded_in_paragraph_groups() -> None:
    text = "\n\n".join(" ".join(["word"] * 100) for _ in range(4))
    assert len(segments(text)) == 4 and segments("one line") == ["one line"]


def test_the_head_learns_separable_classes_and_is_deterministic() -> None:
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(1, 0.3, (40, 8)), rng.normal(-1, 0.3, (40, 8))]).astype(np.float32)
    y = np.array([0] * 40 + [1] * 40)
    config = TrainConfig(epochs=30, patience=5, batch_size=16, learning_rate=0.01, seed=3)
    first = train_head(x, y, x[::4], y[::4], ["a", "b"], "classify", config)
    again = train_head(x, y, x[::4], y[::4], ["a", "b"], "classify", config)
    assert first.history[-1].val_macro_f1 == 1.0
    assert [m.train_loss for m in first.history] == [m.train_loss for m in again.history]


def test_concurrent_requests_share_one_encoder_batch() -> None:
    calls: list[int] = []

    def encode(key: str, texts: list[str]) -> np.ndarray:
        calls.append(len(texts))
        return np.array([[float(len(t))] for t in texts])

    batcher = Batcher(encode, window_s=0.05)
    results: dict[int, np.ndarray] = {}
    threads = [
        threading.Thread(target=lambda i=i: results.__setitem__(i, batcher.submit("m", ["x" * i] * 2)))
        for i in range(1, 5)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(calls) == 8 and len(calls) < 4
    assert all(results[i].tolist() == [[float(i)], [float(i)]] for i in range(1, 5))
