"""Entity benchmark: resolution and mention extraction against known truth, an exact-match baseline in
the same run, and a 100,000-alias catalog matched against 10,000 chunks.

  .venv/bin/python bench/entities.py           # 5,000 records, 2,000 texts, 100k aliases x 10k chunks
  .venv/bin/python bench/entities.py --quick   # 1,500 records, 500 texts, 20k aliases x 2k chunks

Records are company names with the variants scraped data has: a typo, an abbreviation (Corporation →
Corp., International → Intl, and → &), swapped words, upper case, a missing city or website. Each true
company has 4 records on average; distinct companies share words ("Silver Harbor Logistics" and "Silver
Harbor Foods"), so blocking and scoring must tell them apart. Texts are filler prose with planted
mentions (variants again) at known offsets, and a company outside the catalog that shares words with
catalog names (a precision trap). The speed test's catalog has brand-style names (a distinctive
word plus a sector word), as real catalogs do. Scores are pairwise precision/recall/F1 for resolution and
(text, entity) precision/recall/F1 for extraction; the baseline matches names exactly (case-folded).
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from harvest.entities.matcher import AliasIndex, make_alias
from harvest.entities.resolve import Row, clusters, pairwise_scores, score_pairs

ADJECTIVES = [
    "silver",
    "golden",
    "northern",
    "southern",
    "eastern",
    "western",
    "blue",
    "green",
    "red",
    "black",
    "white",
    "bright",
    "clear",
    "rapid",
    "quiet",
    "bold",
    "prime",
    "royal",
    "grand",
    "united",
    "global",
    "pacific",
    "atlantic",
    "alpine",
    "coastal",
    "central",
    "urban",
    "rural",
    "modern",
    "classic",
    "smart",
    "swift",
    "solid",
    "true",
    "noble",
    "first",
    "summit",
    "crystal",
    "iron",
    "copper",
    "cedar",
    "maple",
    "oak",
    "pine",
    "river",
    "lake",
    "ocean",
    "harbor",
    "valley",
    "meadow",
    "stone",
    "granite",
    "sunrise",
    "sunset",
    "polar",
    "desert",
    "forest",
    "island",
    "highland",
    "lowland",
    "metro",
    "civic",
]
NOUNS = [
    "harbor",
    "bridge",
    "tower",
    "gate",
    "field",
    "ridge",
    "point",
    "park",
    "bay",
    "creek",
    "hill",
    "crest",
    "peak",
    "grove",
    "works",
    "forge",
    "mill",
    "arrow",
    "anchor",
    "beacon",
    "compass",
    "falcon",
    "eagle",
    "lion",
    "wolf",
    "bear",
    "fox",
    "hawk",
    "orbit",
    "vector",
    "signal",
    "pixel",
    "circuit",
    "quantum",
    "fusion",
    "vertex",
    "nexus",
    "pulse",
    "wave",
    "current",
    "spark",
    "flame",
    "frost",
    "cloud",
    "rain",
    "storm",
    "wind",
    "tide",
    "delta",
    "canyon",
    "mesa",
    "prairie",
]
SECTORS = [
    "logistics",
    "foods",
    "energy",
    "health",
    "robotics",
    "analytics",
    "pharma",
    "textiles",
    "mining",
    "capital",
    "insurance",
    "media",
    "software",
    "systems",
    "motors",
    "airlines",
    "hotels",
    "foods",
    "dairy",
    "labs",
    "optics",
    "semiconductors",
    "construction",
    "engineering",
    "consulting",
    "telecom",
    "games",
    "apparel",
    "furniture",
    "shipping",
]
DESIGNATORS = ("Corporation", "Inc.", "International", "Group", "Company", "")
ABBREVIATE = {"Corporation": "Corp.", "International": "Intl", "Company": "Co.", "and": "&"}
CITIES = [
    "Leeds",
    "Denver",
    "Basel",
    "Osaka",
    "Austin",
    "Perth",
    "Lyon",
    "Glasgow",
    "Jena",
    "Lisbon",
    "Boulder",
    "Madison",
    "Porto",
    "Turin",
]
FILLER = [
    "the",
    "market",
    "report",
    "said",
    "that",
    "sales",
    "rose",
    "in",
    "the",
    "last",
    "quarter",
    "while",
    "costs",
    "fell",
    "and",
    "analysts",
    "expect",
    "further",
    "growth",
    "next",
    "year",
    "as",
    "demand",
    "for",
    "services",
    "continues",
    "to",
    "increase",
    "across",
    "several",
    "regions",
    "according",
    "to",
    "people",
    "familiar",
    "with",
    "the",
    "plans",
    "the",
    "new",
    "facility",
    "will",
    "open",
    "in",
    "the",
    "spring",
]


def company_names(count: int, rng: random.Random) -> list[str]:
    # unique on the identifying words: two companies differing only in "Inc." vs "Group" would be
    # indistinguishable to a person too
    cores: set[str] = set()
    while len(cores) < count:
        cores.add(
            f"{rng.choice(ADJECTIVES).title()} {rng.choice(NOUNS).title()} {rng.choice(SECTORS).title()}"
        )
    return [f"{core} {rng.choice(DESIGNATORS)}".strip() for core in sorted(cores)]


def typo(word: str, rng: random.Random) -> str:
    if len(word) < 5:
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(3)
    if kind == 0:
        return word[:i] + word[i + 1 :]
    if kind == 1:
        return word[:i] + rng.choice("aeiourstn") + word[i + 1 :]
    return word[: i - 1] + word[i] + word[i - 1] + word[i + 1 :]


def variant(name: str, rng: random.Random) -> str:
    words = name.split()
    kind = rng.randrange(5)
    if kind == 0:  # a typo in a word
        i = rng.randrange(len(words))
        words[i] = typo(words[i], rng)
    elif kind == 1:  # abbreviations, or the designator dropped / added
        if any(w in ABBREVIATE for w in words):
            words = [ABBREVIATE.get(w, w) for w in words]
        elif words[-1] in {"Group", "Inc."}:
            words = words[:-1]
        else:
            words.append("Inc.")
    elif kind == 2:  # swapped words
        words[0], words[1] = words[1], words[0]
    elif kind == 3:
        return name.upper()
    return " ".join(words)


def resolution(records_target: int, rng: random.Random) -> tuple[float, float, float, float, float]:
    companies = company_names(records_target // 4, rng)
    rows: list[Row] = []
    truth: dict[int, int] = {}
    for cluster, name in enumerate(companies):
        city, site = rng.choice(CITIES), "".join(name.split()[:3]).lower() + ".com"
        for n in range(rng.randint(2, 6)):
            fields = {}
            if rng.random() > 0.25:
                fields["city"] = city
            if rng.random() > 0.4:
                fields["website"] = site
            truth[len(rows)] = cluster
            rows.append(Row(len(rows), name if n == 0 else variant(name, rng), fields))
    started = time.perf_counter()
    predicted = clusters(range(len(rows)), score_pairs(rows, 0.85))
    seconds = time.perf_counter() - started
    _, _, f1 = pairwise_scores(predicted, truth)
    exact: dict[str, int] = {}
    baseline = {row.key: exact.setdefault(row.name.casefold(), row.key) for row in rows}
    _, _, baseline_f1 = pairwise_scores(baseline, truth)
    precision, recall, _ = pairwise_scores(predicted, truth)
    print(
        f"resolution: {len(rows)} records of {len(companies)} companies in {seconds:.2f} s "
        f"({len(rows) / seconds:.0f} records/s): precision {precision:.3f} recall {recall:.3f} F1 {f1:.3f}; "
        f"exact-name baseline F1 {baseline_f1:.3f}"
    )
    return f1, baseline_f1, len(rows) / seconds, precision, recall


def planted_texts(
    names: list[str], count: int, rng: random.Random, mentions_per_text: int = 3
) -> list[tuple[str, set[int]]]:
    texts = []
    for _ in range(count):
        words: list[str] = []
        entities: set[int] = set()
        for _ in range(mentions_per_text):
            words += [rng.choice(FILLER) for _ in range(rng.randint(8, 25))]
            entity = rng.randrange(len(names))
            entities.add(entity)
            words.append(names[entity] if rng.random() < 0.4 else variant(names[entity], rng))
        words += [rng.choice(FILLER) for _ in range(rng.randint(5, 15))]
        texts.append((" ".join(words) + ".", entities))
    return texts


def scores(found: list[set[int]], truth: list[set[int]]) -> tuple[float, float, float]:
    tp = sum(len(f & t) for f, t in zip(found, truth, strict=True))
    fp = sum(len(f - t) for f, t in zip(found, truth, strict=True))
    fn = sum(len(t - f) for f, t in zip(found, truth, strict=True))
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return precision, recall, 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def extraction(entity_count: int, text_count: int, rng: random.Random) -> tuple[float, float]:
    everything = company_names(entity_count * 2, rng)
    rng.shuffle(everything)
    names, outsiders = everything[:entity_count], everything[entity_count:]
    index = AliasIndex.build([a for i, n in enumerate(names) if (a := make_alias(i, "organization", n))])
    texts = [
        # each text also names a company that is not in the catalog but shares words with some that are
        (f"{body} Meanwhile {rng.choice(outsiders)} reported results.", truth)
        for body, truth in planted_texts(names, text_count, rng)
    ]
    started = time.perf_counter()
    found = [{m.entity_id for m in index.find(body)} for body, _ in texts]
    seconds = time.perf_counter() - started
    precision, recall, f1 = scores(found, [t for _, t in texts])
    by_name = {n.casefold(): i for i, n in enumerate(names)}
    pattern = re.compile("|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)), re.I)
    baseline = [{by_name[m.group(0).casefold()] for m in pattern.finditer(body)} for body, _ in texts]
    _, _, baseline_f1 = scores(baseline, [t for _, t in texts])
    print(
        f"extraction: {text_count} texts, {entity_count} catalog entities in {seconds:.2f} s: precision "
        f"{precision:.3f} recall {recall:.3f} F1 {f1:.3f}; exact-name baseline F1 {baseline_f1:.3f}"
    )
    return f1, baseline_f1


SYLLABLES = [
    "ka",
    "lo",
    "mi",
    "zen",
    "tra",
    "vo",
    "bel",
    "dex",
    "qua",
    "ri",
    "sol",
    "nor",
    "ver",
    "tec",
    "lum",
    "ax",
    "ion",
    "cor",
    "vi",
    "sta",
    "mar",
    "pol",
    "gen",
    "tor",
]


def brand_names(count: int, rng: random.Random) -> list[str]:
    """Names like a real catalog's: a distinctive brand word and a generic sector word ("Zentrix Foods")."""
    names: set[str] = set()
    while len(names) < count:
        brand = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))).title()
        names.add(f"{brand} {rng.choice(SECTORS).title()} {rng.choice(DESIGNATORS)}".strip())
    return sorted(names)


def catalog_speed(aliases: int, chunk_count: int, rng: random.Random) -> float:
    names = brand_names(aliases, rng)
    started = time.perf_counter()
    index = AliasIndex.build([a for i, n in enumerate(names) if (a := make_alias(i, "organization", n))])
    built = time.perf_counter() - started
    chunks = [body for body, _ in planted_texts(names, chunk_count, rng, mentions_per_text=2)]
    started = time.perf_counter()
    mentions = sum(len(index.find(body)) for body in chunks)
    matched = time.perf_counter() - started
    print(
        f"catalog: {aliases} aliases indexed in {built:.1f} s; {chunk_count} chunks matched in "
        f"{matched:.1f} s "
        f"({chunk_count / matched:.0f} chunks/s, {mentions} mentions); total {built + matched:.1f} s "
        "(target < 60 s)"
    )
    return built + matched


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rng = random.Random(5)
    records, entities, texts, aliases, chunks = (
        (1500, 400, 500, 20_000, 2_000) if args.quick else (5000, 1500, 2000, 100_000, 10_000)
    )
    resolution_f1, baseline_resolution_f1, records_per_s, _, _ = resolution(records, rng)
    extraction_f1, baseline_extraction_f1 = extraction(entities, texts, rng)
    catalog_s = catalog_speed(aliases, chunks, rng)
    print(
        f"RESULT resolution_f1={resolution_f1:.4f} extraction_f1={extraction_f1:.4f} "
        f"baseline_f1={baseline_resolution_f1:.4f} catalog_match_s={catalog_s:.2f} "
        f"baseline_extraction_f1={baseline_extraction_f1:.4f} records_per_s={records_per_s:.0f}"
    )


if __name__ == "__main__":
    main()
