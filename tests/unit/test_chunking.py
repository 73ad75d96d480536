from __future__ import annotations

from harvest.process.chunking import ChunkingPolicy, chunk_text, paragraphs
from harvest.process.dedup import fingerprint, similarity
from harvest.process.extract import Skipped, extract_page
from harvest.process.tokens import token_counter
from harvest.settings import DEFAULT_EMBEDDING_MODEL

COUNTER = token_counter(DEFAULT_EMBEDDING_MODEL)
SENTENCE = "The quick brown fox jumps over the lazy dog near the quiet river bank today."


def test_headings_become_the_heading_of_the_paragraphs_below() -> None:
    text = "# Title\n\nIntro paragraph.\n\n## Part two\n\nSecond part.\n\nThird."
    assert paragraphs(text) == [
        ("Title", "Intro paragraph."),
        ("Part two", "Second part."),
        ("Part two", "Third."),
    ]


def test_token_counts_come_from_the_model_tokenizer() -> None:
    assert COUNTER.counts(["hello world", "tokenization"]) == [2, 2]  # word pieces: token ##ization


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


def test_chunk_ids_depend_on_content_and_document_only() -> None:
    policy = ChunkingPolicy(max_tokens=60, overlap_tokens=0, min_tokens=0)
    text = f"{SENTENCE}\n\nSecond {SENTENCE}\n\nThird {SENTENCE}"
    edited = f"{SENTENCE}\n\nChanged {SENTENCE}\n\nThird {SENTENCE}"
    before = [c.id for c in chunk_text(text, "doc", COUNTER, policy)]
    after = [c.id for c in chunk_text(edited, "doc", COUNTER, policy)]
    assert before[0] == after[0] and before[2] == after[2] and before[1] != after[1]
    assert [c.id for c in chunk_text(text, "other-doc", COUNTER, policy)] != before
    twice = chunk_text(f"{SENTENCE}\n\n{SENTENCE}", "doc", COUNTER, policy)
    assert len({c.id for c in twice}) == 2  # a repeated paragraph still gets two ids


def test_short_paragraphs_merge_into_the_next() -> None:
    policy = ChunkingPolicy(max_tokens=100, overlap_tokens=0, min_tokens=10)
    chunks = chunk_text(f"Tiny.\n\n{SENTENCE}", "doc", COUNTER, policy)
    assert [c.text for c in chunks] == [f"Tiny.\n\n{SENTENCE}"]


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
