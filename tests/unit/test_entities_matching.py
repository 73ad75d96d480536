"""Name normalisation, mention matching and resolution scoring, without a database."""

from __future__ import annotations

from harvest.entities.matcher import AliasIndex, make_alias
from harvest.entities.normalize import normalize
from harvest.entities.resolve import Row, clusters, name_similarity, pairwise_scores, score_pairs


def index(*entries: tuple[int, str, str, tuple[str, ...]]) -> AliasIndex:
    aliases = [make_alias(entity, kind, text, context) for entity, kind, text, context in entries]
    return AliasIndex.build([a for a in aliases if a is not None])


def test_normalize_folds_case_accents_punctuation_and_abbreviations() -> None:
    assert normalize("ACME Corp.") == normalize("Acme Corporation") == "acme corporation"
    assert normalize("Zürich Int'l & Co") == "zurich international and company"
    assert normalize("Initech's lab") == "initech lab"


def test_variants_typos_and_word_order_are_found_with_offsets() -> None:
    found = index((1, "organization", "Acme Corporation", ()), (2, "person", "Maria Keller", ())).find(
        "Acmee Corp. hired Keller Maria; ACME CORPORATION agreed."
    )
    assert [(m.surface, m.entity_id) for m in found] == [
        ("Acmee Corp", 1),
        ("Keller Maria", 2),
        ("ACME CORPORATION", 1),
    ]
    text = "Acmee Corp. hired"
    assert text[found[0].start : found[0].end] == "Acmee Corp"


def test_longest_match_wins_and_lower_case_words_are_not_names() -> None:
    matcher = index((1, "place", "New York", ()), (2, "place", "York", ()), (3, "organization", "Apple", ()))
    found = matcher.find("She moved to New York and ate apple pie, then called Apple.")
    assert [(m.surface, m.entity_id) for m in found] == [("New York", 1), ("Apple", 3)]


def test_a_shared_alias_is_decided_by_context() -> None:
    matcher = index(
        (1, "organization", "Mercury", ("records", "music", "label")),
        (2, "organization", "Mercury", ("rocket", "space", "launch")),
    )
    [music] = matcher.find("The band signed with Mercury, a music label.")
    [space] = matcher.find("Mercury prepared the rocket launch.")
    assert (music.entity_id, space.entity_id) == (1, 2)
    assert music.ambiguous and space.ambiguous


def test_name_similarity_needs_every_word() -> None:
    assert name_similarity("Umbrela Health", "Umbrella Health Inc.") > 0.9
    assert name_similarity("Alpine Anchor Foods", "Alpine Creek Foods") < 0.85
    assert name_similarity("Storm Northern Analytics", "NORTHERN STORM ANALYTICS CORP") == 1.0


def test_clusters_keep_people_decisions() -> None:
    rows = [Row(1, "Acme Corp"), Row(2, "ACME Corporation"), Row(3, "Acmee Corp"), Row(4, "Globex")]
    edges = score_pairs(rows, 0.85)
    assert clusters([1, 2, 3, 4], edges) == {1: 1, 2: 1, 3: 1, 4: 4}
    split = clusters([1, 2, 3, 4], edges, splits=[(1, 3)])
    assert split[1] != split[3]
    merged = clusters([1, 2, 3, 4], edges, merges=[(1, 4)])
    assert merged[4] == merged[1]
    assert pairwise_scores({1: 1, 2: 1, 3: 3}, {1: 1, 2: 1, 3: 1}) == (1.0, 1 / 3, 0.5)
