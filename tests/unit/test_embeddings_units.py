"""How the CPU encoder cuts inputs into batches (every input once, little padding, cheapest cut) and how
much of each input it reads."""

from __future__ import annotations

import itertools
import random

from harvest.embeddings.encoder import input_limit, length_batches, position_limit


def padded_cost(lengths: list[int], batches: list[list[int]], pass_tokens: int) -> int:
    return sum(len(batch) * max(lengths[i] for i in batch) + pass_tokens for batch in batches)


def test_every_input_is_in_exactly_one_batch_of_at_most_the_batch_size() -> None:
    lengths = [random.Random(3).randint(5, 130) for _ in range(1000)]
    batches = length_batches(lengths, 64, 256)
    assert sorted(i for batch in batches for i in batch) == list(range(1000))
    assert all(1 <= len(batch) <= 64 for batch in batches)


def test_batches_group_similar_lengths_so_padding_is_small() -> None:
    rng = random.Random(5)
    lengths = [rng.randint(15, 120) for _ in range(64)]
    one_batch = 64 * max(lengths)  # what batching in arrival order pads to: ~1.7x the real tokens
    batches = length_batches(lengths, 64, 64)
    padded = sum(len(batch) * max(lengths[i] for i in batch) for batch in batches)
    assert padded < 1.15 * sum(lengths) < 0.7 * one_batch
    assert len(batches) > 1


def test_equal_lengths_fill_whole_batches() -> None:
    assert sorted(len(batch) for batch in length_batches([40] * 130, 64, 256)) == [2, 64, 64]


def test_the_cut_is_the_cheapest_one() -> None:
    rng = random.Random(7)
    lengths = [rng.randint(1, 50) for _ in range(9)]
    ordered = sorted(range(9), key=lambda i: -lengths[i])
    cheapest = min(
        padded_cost(lengths, [ordered[a:b] for a, b in itertools.pairwise((0, *cuts, 9))], 30)
        for k in range(9)
        for cuts in itertools.combinations(range(1, 9), k)
        if all(b - a <= 4 for a, b in itertools.pairwise((0, *cuts, 9)))
    )
    batches = length_batches(lengths, 4, 30)
    assert padded_cost(lengths, batches, 30) == cheapest


def test_no_inputs_no_batches() -> None:
    assert length_batches([], 64, 256) == []


def test_the_model_reads_the_chunk_budget_within_its_positions() -> None:
    # the model's stated limit, or the chunk budget when that is larger, never past its positions
    # (a chunk's budget counts its own tokens: the two special ones around it come on top)
    assert input_limit(256, 512, 0, 320) == 322
    assert input_limit(256, 512, 0, 128) == 256
    assert input_limit(256, 300, 0, 320) == 300
    assert input_limit(256, 512, 200, 320) == 200  # HARVEST_EMBEDDING_MAX_TOKENS decides when set
    assert input_limit(256, 512, 1000, 320) == 512
    # RoBERTa-style configs count two extra positions: the tokenizer's limit is the real one
    assert position_limit(514, 512, 256) == 512
    assert position_limit(None, 10**30, 256) == 256  # "no limit" sentinels are not limits
