from __future__ import annotations

import random

from harvest.embedding_input import embedding_input
from harvest.process.chunking import ChunkingPolicy, chunk_text, paragraphs
from harvest.process.dedup import fingerprint, similarity
from harvest.process.extract import Skipped, extract_page
from harvest.process.tokens import token_counter
from harvest.settings import DEFAULT_EMBEDDING_MODEL

COUNTER = token_counter(DEFAULT_EMBEDDING_MODEL)
SENTENCE = "The quick brown fox jumps over the lazy dog near the quiet river bank today."
WORDS = [
    "configure",
    "the",
    "database",
    "connection",
    "pool",
    "timeout",
    "replica",
    "index",
    "query",
    "planner",
    "statistics",
    "vacuum",
    "transaction",
    "isolation",
    "lock",
    "table",
    "column",
    "constraint",
    "trigger",
    "function",
    "aggregate",
    "window",
    "partition",
    "sequence",
    "schema",
    "role",
    "privilege",
    "backup",
    "restore",
    "replication",
    "slot",
]


def test_headings_become_the_heading_of_the_paragraphs_below() -> None:
    text = "# Title\n\nIntro paragraph.\n\n## Part two\n\nSecond part.\n\nThird."
    assert paragraphs(text) == [
        ("Title", "Intro paragraph."),
        ("Part two", "Second part."),
        ("Part two", "Third."),
    ]


def test_token_counts_come_from_the_model_tokenizer() -> None:
    assert COUNTER.counts(["hello world", "tokenization"]) == [2, 2]  # word pieces: token ##ization


def test_paragraphs_of_a_section_are_packed_up_to_the_budget_with_title_and_heading_path() -> None:
    policy = ChunkingPolicy(max_tokens=120, overlap_tokens=0, min_tokens=10)
    section = "\n\n".join(f"Paragraph {n}. {SENTENCE}" for n in range(12))
    text = f"# Guide\n\n## Setup\n\n### Databases\n\n{section}"
    chunks = chunk_text(text, "doc", COUNTER, policy, title="Guide")
    assert 2 <= len(chunks) <= 4  # 12 paragraphs of ~20 tokens, not 12 chunks
    assert all(c.heading == "Setup > Databases" for c in chunks)  # the title is not repeated
    for chunk in chunks:
        embedded = embedding_input("Guide", chunk.heading, chunk.text)
        assert embedded.startswith("Guide > Setup > Databases\n\n")
        assert chunk.token_count == COUNTER.counts([embedded])[0] <= 120
    assert "\n\n".join(c.text for c in chunks).count("Paragraph") == 12


def test_small_sections_share_a_chunk_under_their_common_heading() -> None:
    policy = ChunkingPolicy(max_tokens=200, overlap_tokens=0, min_tokens=10)
    text = "# API\n\n## filter()\n\nReturns matching rows.\n\n## exclude()\n\nReturns the other rows."
    [chunk] = chunk_text(text, "doc", COUNTER, policy, title="API")
    assert chunk.heading is None  # they share only the title; each heading stays in the text
    assert chunk.text == "filter()\n\nReturns matching rows.\n\nexclude()\n\nReturns the other rows."
    only = chunk_text("# API\n\n## filter()\n\nReturns matching rows.", "doc", COUNTER, policy, title="API")
    assert only[0].heading == "filter()"
    deeper = "# A\n\n## B\n\n### C\n\nOne thing here.\n\n### D\n\nAnother thing here."
    [joined] = chunk_text(deeper, "doc", COUNTER, policy, title="A")
    assert joined.heading == "B"  # what C and D share; D's own heading stays in the text
    assert joined.text == "C\n\nOne thing here.\n\nD\n\nAnother thing here."


def test_chunks_stay_within_the_budget_when_their_sections_share_less_and_less() -> None:
    """Sections that join a chunk can shorten the heading path its parts share: every part's heading
    then becomes a line of the text, and is counted. Only a page's last chunk may take in a tail too
    small to stand alone (up to the minimum more)."""
    policy = ChunkingPolicy(max_tokens=120, overlap_tokens=0, min_tokens=10)
    rng = random.Random(3)
    for page in range(40):
        blocks = []
        for n in range(rng.randint(3, 12)):
            level = rng.randint(2, 5)
            blocks.append("#" * level + f" Section {page}.{n} about {' '.join(rng.sample(WORDS, 4))}")
            blocks.extend(
                " ".join(rng.sample(WORDS, rng.randint(3, 20))) + "." for _ in range(rng.randint(1, 3))
            )
        chunks = chunk_text("\n\n".join(blocks), f"page{page}", COUNTER, policy, title=f"Page {page}")
        for chunk in chunks:
            embedded = embedding_input(f"Page {page}", chunk.heading, chunk.text)
            assert chunk.token_count == COUNTER.counts([embedded])[0]
            limit = 120 + (10 if chunk is chunks[-1] else 0)
            assert chunk.token_count <= limit, (page, chunk.heading, chunk.text)


def test_no_chunk_is_under_the_minimum_unless_it_is_the_only_one() -> None:
    policy = ChunkingPolicy(max_tokens=60, overlap_tokens=0, min_tokens=20)
    text = f"## One\n\n{SENTENCE} {SENTENCE} {SENTENCE}\n\n## Two\n\nTiny."
    chunks = chunk_text(text, "doc", COUNTER, policy)
    assert len(chunks) >= 1 and all(c.token_count >= 20 for c in chunks)
    assert "Tiny." in chunks[-1].text
    assert len(chunk_text("Tiny.", "doc", COUNTER, policy)) == 1


def test_long_paragraphs_split_on_sentences_within_the_limit_with_overlap() -> None:
    policy = ChunkingPolicy(max_tokens=50, overlap_tokens=20, min_tokens=0)
    text = " ".join([SENTENCE] * 12)
    chunks = chunk_text(text, "doc", COUNTER, policy)
    assert len(chunks) > 3
    assert all(c.token_count <= 50 for c in chunks)
    assert chunks[0].text.split(". ")[-1].rstrip(".") in chunks[1].text  # the last sentence carries over


def test_a_sentence_longer_than_a_chunk_is_cut_on_token_windows() -> None:
    policy = ChunkingPolicy(max_tokens=16, overlap_tokens=4, min_tokens=0)
    words = " ".join(f"word{n}" for n in range(60))
    chunks = chunk_text(words, "doc", COUNTER, policy)
    assert all(c.token_count <= 16 for c in chunks)
    assert "word0" in chunks[0].text and "word59" in chunks[-1].text


def test_code_is_kept_whole_in_the_chunk_and_cut_short_in_what_is_embedded() -> None:
    code = "\n".join(f"    result_{n} = compute_something(argument_{n})" for n in range(40))
    text = f"## Example\n\nHow to compute things.\n\n```\n{code}\n```"
    chunks = chunk_text(text, "doc", COUNTER, ChunkingPolicy(max_tokens=250), title="Guide")
    whole = "\n\n".join(c.text for c in chunks)
    assert "result_0 =" in whole and "result_39 =" in whole  # keyword search and snippets see it all
    embedded = embedding_input("Guide", chunks[0].heading, chunks[0].text)
    assert "result_0 =" in embedded and "result_39 =" not in embedded
    assert all(c.token_count <= 250 for c in chunks)


def test_chunk_ids_depend_on_their_own_section_only() -> None:
    policy = ChunkingPolicy(max_tokens=60, overlap_tokens=0, min_tokens=0)
    sections = [f"## Part {n}\n\n{SENTENCE} {SENTENCE} {SENTENCE}" for n in range(3)]
    edited = [*sections[:1], sections[1].replace("quick", "slow"), *sections[2:]]
    before = [c.id for c in chunk_text("\n\n".join(sections), "doc", COUNTER, policy)]
    after = [c.id for c in chunk_text("\n\n".join(edited), "doc", COUNTER, policy)]
    assert len(before) == len(after) == 3
    assert before[0] == after[0] and before[2] == after[2] and before[1] != after[1]
    text = "\n\n".join(sections)
    assert [c.id for c in chunk_text(text, "other-doc", COUNTER, policy)] != before
    retitled = [c.id for c in chunk_text(text, "doc", COUNTER, policy, title="New title")]
    assert not set(retitled) & set(before)  # the title is embedded with the text: new vectors
    twice = chunk_text(f"## A\n\n{SENTENCE}\n\n## A\n\n{SENTENCE}", "doc", COUNTER, policy)
    assert len({c.id for c in twice}) == len(twice)  # a repeated section still gets its own ids


def test_near_duplicate_similarity_is_high_for_small_edits_only() -> None:
    base = " ".join(f"{SENTENCE} number {n}" for n in range(10))
    edited = base.replace("number 3", "number three")
    other = " ".join(f"Completely different text about gardens and tomatoes, item {n}." for n in range(20))
    a, b, c = (fingerprint(t).signature for t in (base, edited, other))
    assert a is not None and b is not None and c is not None
    assert similarity(a, b) > 0.8
    assert similarity(a, c) < 0.2


def test_extraction_never_raises_on_garbage() -> None:
    for body in (b"\xff\xfe\x00garbage", b"<<<>>>", b"<html><body></body></html>"):
        result = extract_page(body, url="https://e.org/", content_type="text/html")
        assert isinstance(result, Skipped)
