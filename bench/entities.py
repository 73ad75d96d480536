"""Entity benchmark: probabilistic dedupe and linkage of people records (Splink, through the CLI a
user runs) side by side with recordlinkage's ECM classifier on the same data in the same run; and the
catalog's resolution and mention extraction against known truth with exact-match baselines, and a
100,000-alias catalog matched against 10,000 chunks.

  .venv/bin/python bench/entities.py           # people 5k, 50k, 500k + a 5k x 5k link; catalog parts
  .venv/bin/python bench/entities.py --quick   # people 2k, 10k, 50k + a 2k x 2k link; smaller catalog

People (bench/_people.py, never the FEBRL sets): given name, surname (real-world frequencies), street
address, suburb, postcode, state, date of birth, a 7-digit id; half the originals get 1-9 duplicates
with 1-4 corruptions each (typos, OCR errors, phonetic misspellings, swapped given/surname, empty
fields, transposed day/month, abbreviations, digit errors). Harvest runs the README's command
(`harvest entities dedupe people.csv --fields given_name:person_name,…`) in a child process: seconds
and peak memory (max RSS) are that process's. Pairwise precision/recall/F1 come from the clusters it
writes; pair completeness (true pairs among the candidate pairs) from `--pairs-out`. recordlinkage gets
the classic set-up of its FEBRL example: blocking on date of birth, id, both names, postcode+surname;
Jaro-Winkler >= 0.85 for names and street, exact for the rest; ECM; groups = connected components. It is
skipped at 500k rows (hours, pure pandas).

Company records (resolution) are names with the variants scraped data has: a typo, an abbreviation
(Corporation → Corp., International → Intl, and → &), swapped words, upper case, a missing city or website.
Texts are filler prose with planted mentions (variants again) at known offsets, and a company outside the
catalog that shares words with catalog names (a precision trap). The speed test's catalog has
brand-style names (a distinctive word plus a sector word), as real catalogs do.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _people import Generator, People, components, pair_scores, write

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


PEOPLE_FIELDS = (
    "given_name:person_name,surname:person_name,date_of_birth:date,postcode:postcode,"
    "address_1:address,soc_sec_id:id"
)
HARVEST = Path(sys.executable).parent / "harvest"


def run_harvest(args: list[str], folder: Path) -> tuple[float, float, float]:
    """Runs the CLI in a child process: (seconds, peak memory in MB, CPU seconds of that process — on
    a shared machine the wall-clock time says more about the neighbours than about Harvest)."""
    env = {**os.environ, "HARVEST_DATA_DIR": str(folder / "data")}
    started = time.perf_counter()
    with (folder / "harvest.log").open("w") as log:
        process = subprocess.Popen([str(HARVEST), *args], stdout=log, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if status != 0:
        sys.exit(f"harvest {' '.join(args)} failed:\n" + (folder / "harvest.log").read_text())
    return seconds, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def completeness(pairs: Path, keys: dict[str, int], expected: int) -> float:
    """Share of the true pairs that blocking made candidates (`--pairs-out` holds every candidate)."""
    import duckdb
    import pyarrow as pa

    con = duckdb.connect()
    truth = pa.table({"id": list(keys), "person": list(keys.values())})  # noqa: F841 - read by DuckDB
    left, right = ("id_l", "id_r")
    found = con.execute(
        f"SELECT count(*) FROM read_parquet('{pairs}') p JOIN truth a ON a.id = p.{left} "
        f"JOIN truth b ON b.id = p.{right} WHERE a.person = b.person"
    ).fetchall()[0][0]
    return found / expected if expected else 1.0


def true_pairs(truth: list[int]) -> int:
    from collections import Counter

    return sum(n * (n - 1) // 2 for n in Counter(truth).values())


def harvest_dedupe(people: People, folder: Path) -> dict[str, float]:
    data, out, pairs = folder / "people.csv", folder / "people.clusters.csv", folder / "pairs.parquet"
    write(people, data)
    seconds, peak, cpu = run_harvest(
        [
            "entities",
            "dedupe",
            str(data),
            "--fields",
            PEOPLE_FIELDS,
            "--id",
            "rec_id",
            "--out",
            str(out),
            "--pairs-out",
            str(pairs),
            "--force",
        ],
        folder,
    )
    with out.open(encoding="utf-8") as handle:
        cluster = {row["rec_id"]: row["cluster_id"] for row in csv.DictReader(handle)}
    predicted = [cluster[row["rec_id"]] for row in people.rows]
    precision, recall, f1 = pair_scores(predicted, people.truth)
    keys = {row["rec_id"]: t for row, t in zip(people.rows, people.truth, strict=True)}
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "completeness": completeness(pairs, keys, true_pairs(people.truth)),
        "seconds": seconds,
        "cpu_s": cpu,
        "peak_mb": peak,
    }


def _frame(people: People):
    import pandas as pd

    return pd.DataFrame(people.rows).replace("", None)


def _compare():
    import recordlinkage

    compare = recordlinkage.Compare()
    compare.string("given_name", "given_name", method="jarowinkler", threshold=0.85, label="given_name")
    compare.string("surname", "surname", method="jarowinkler", threshold=0.85, label="surname")
    compare.exact("date_of_birth", "date_of_birth", label="date_of_birth")
    compare.exact("postcode", "postcode", label="postcode")
    compare.string("address_1", "address_1", method="jarowinkler", threshold=0.85, label="address_1")
    compare.exact("soc_sec_id", "soc_sec_id", label="soc_sec_id")
    return compare


def _index():
    import recordlinkage

    index = recordlinkage.Index()
    index.block("date_of_birth")
    index.block("soc_sec_id")
    index.block(["given_name", "surname"])
    index.block(["postcode", "surname"])
    return index


def recordlinkage_dedupe(people: People) -> dict[str, float]:
    import recordlinkage

    frame = _frame(people)
    started = time.perf_counter()
    candidates = _index().index(frame)
    features = _compare().compute(candidates, frame)
    matches = recordlinkage.ECMClassifier(binarize=None).fit_predict(features)
    labels = components(len(frame), [(int(a), int(b)) for a, b in matches])
    seconds = time.perf_counter() - started
    precision, recall, f1 = pair_scores(labels, people.truth)
    position = dict(enumerate(people.truth))
    found = sum(1 for a, b in candidates if position[int(a)] == position[int(b)])
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "completeness": found / true_pairs(people.truth),
        "seconds": seconds,
    }


def cross_scores(found: set[tuple[str, str]], a: People, b: People) -> tuple[float, float, float]:
    by_person: dict[int, list[str]] = {}
    for row, t in zip(a.rows, a.truth, strict=True):
        by_person.setdefault(t, []).append(row["rec_id"])
    expected = {
        (left, row["rec_id"]) for row, t in zip(b.rows, b.truth, strict=True) for left in by_person.get(t, [])
    }
    hit = len(found & expected)
    precision = hit / len(found) if found else 1.0
    recall = hit / len(expected) if expected else 1.0
    return precision, recall, 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def harvest_link(a: People, b: People, folder: Path) -> dict[str, float]:
    first, second, out = folder / "a.csv", folder / "b.csv", folder / "links.csv"
    write(a, first)
    write(b, second, delimiter=";")
    seconds, peak, cpu = run_harvest(
        [
            "entities",
            "link",
            str(first),
            str(second),
            "--fields",
            PEOPLE_FIELDS,
            "--id",
            "rec_id",
            "--out",
            str(out),
            "--force",
        ],
        folder,
    )
    groups: dict[str, dict[str, list[str]]] = {}
    with out.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            groups.setdefault(row["cluster_id"], {}).setdefault(row["source"], []).append(row["id"])
    found = {(x, y) for g in groups.values() for x in g.get(first.name, []) for y in g.get(second.name, [])}
    precision, recall, f1 = cross_scores(found, a, b)
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "seconds": seconds,
        "cpu_s": cpu,
        "peak_mb": peak,
    }


def recordlinkage_link(a: People, b: People) -> dict[str, float]:
    import recordlinkage

    left, right = _frame(a), _frame(b)
    started = time.perf_counter()
    candidates = _index().index(left, right)
    features = _compare().compute(candidates, left, right)
    matches = recordlinkage.ECMClassifier(binarize=None).fit_predict(features)
    seconds = time.perf_counter() - started
    found = {(a.rows[int(i)]["rec_id"], b.rows[int(j)]["rec_id"]) for i, j in matches}
    precision, recall, f1 = cross_scores(found, a, b)
    return {"precision": precision, "recall": recall, "f1": f1, "seconds": seconds}


def show(name: str, figures: dict[str, float]) -> None:
    parts = [
        f"{k} {v:.4f}" if k in ("precision", "recall", "f1", "completeness") else f"{k} {v:.1f}"
        for k, v in figures.items()
    ]
    print(f"  {name:<14} " + "  ".join(parts), flush=True)


def people_bench(sizes: tuple[int, int, int], link_persons: int) -> dict[str, float]:
    result: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-entities-") as tmp:
        folder = Path(tmp)
        for label, size in zip(("5k", "50k", "500k"), sizes, strict=True):
            people = Generator(seed=size).people(size)
            print(f"people dedupe, {len(people.rows):,} rows ({label} slot):", flush=True)
            ours = harvest_dedupe(people, folder)
            show("harvest", ours)
            result[f"f1_{label}"], result[f"s_{label}"] = ours["f1"], ours["seconds"]
            result[f"cpu_{label}"] = ours["cpu_s"]
            result[f"mem_{label}_mb"], result[f"pc_{label}"] = ours["peak_mb"], ours["completeness"]
            if label != "500k":
                theirs = recordlinkage_dedupe(people)
                show("recordlinkage", theirs)
                result[f"rl_f1_{label}"] = theirs["f1"]
            else:
                print("  recordlinkage  skipped at this size (pure pandas: hours)")
        a, b = Generator(seed=99).two_tables(link_persons)
        print(f"people link, {len(a.rows):,} x {len(b.rows):,} rows:", flush=True)
        ours = harvest_link(a, b, folder)
        show("harvest", ours)
        theirs = recordlinkage_link(a, b)
        show("recordlinkage", theirs)
        result["f1_link"], result["rl_f1_link"] = ours["f1"], theirs["f1"]
    result["er_vs_recordlinkage_f1"] = min(
        result[f"f1_{k}"] - result[f"rl_f1_{k}"] for k in ("5k", "50k", "link")
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--people-only", action="store_true", help="Skip the catalog parts.")
    args = parser.parse_args()
    people = (
        people_bench((2_000, 10_000, 50_000), 2_000)
        if args.quick
        else people_bench((5_000, 50_000, 500_000), 5_000)
    )
    people_result = (
        f"f1_5k={people['f1_5k']:.4f} f1_50k={people['f1_50k']:.4f} f1_link={people['f1_link']:.4f} "
        f"er_vs_recordlinkage_f1={people['er_vs_recordlinkage_f1']:+.4f} s_500k={people['s_500k']:.1f} "
        f"mem_500k_mb={people['mem_500k_mb']:.0f} cpu_s_500k={people['cpu_500k']:.0f} "
        f"pc_50k={people['pc_50k']:.4f} "
        f"rl_f1_5k={people['rl_f1_5k']:.4f} rl_f1_50k={people['rl_f1_50k']:.4f} "
        f"rl_f1_link={people['rl_f1_link']:.4f}"
    )
    if args.people_only:
        print("RESULT " + people_result)
        return
    rng = random.Random(5)
    records, entities, texts, aliases, chunks = (
        (1500, 400, 500, 20_000, 2_000) if args.quick else (5000, 1500, 2000, 100_000, 10_000)
    )
    resolution_f1, baseline_resolution_f1, records_per_s, _, _ = resolution(records, rng)
    extraction_f1, baseline_extraction_f1 = extraction(entities, texts, rng)
    catalog_s = catalog_speed(aliases, chunks, rng)
    print(
        f"RESULT {people_result} resolution_f1={resolution_f1:.4f} extraction_f1={extraction_f1:.4f} "
        f"baseline_f1={baseline_resolution_f1:.4f} catalog_match_s={catalog_s:.2f} "
        f"baseline_extraction_f1={baseline_extraction_f1:.4f} records_per_s={records_per_s:.0f}"
    )


if __name__ == "__main__":
    main()
