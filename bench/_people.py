"""Generated people records with the errors real registers have, and the truth: which records are the
same person. Never the FEBRL data sets (kept for acceptance).

Each original person has a given name and surname (drawn by real-world frequency), a street address,
suburb, postcode and state that belong together, a date of birth and a 7-digit id. Some originals get
1-9 duplicates (fewer more often), each with 1-4 corruptions: a typo (insertion, deletion,
substitution, transposition), an OCR confusion (0/o, 1/l, rn/m, …), a phonetic misspelling (ph/f,
c/k, ie/y, double letters), given name and surname swapped, a field left empty, day and month of the
date transposed or a year digit changed, a street abbreviation (Street → St), a postcode or id digit
off. Names come from Faker's frequency lists when Faker is installed (bench extra), else from a short
built-in list (the tests use that)."""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path


def _words(text: str) -> list[str]:
    return text.split()


COLUMNS = [
    "rec_id",
    "given_name",
    "surname",
    "street_number",
    "address_1",
    "address_2",
    "suburb",
    "postcode",
    "state",
    "date_of_birth",
    "soc_sec_id",
    "email",
    "phone",
]
_GIVEN = [
    "james",
    "mary",
    "john",
    "patricia",
    "robert",
    "jennifer",
    "michael",
    "linda",
    "william",
    "elizabeth",
    "david",
    "barbara",
    "richard",
    "susan",
    "joseph",
    "jessica",
    "thomas",
    "sarah",
    "charles",
    "karen",
    "christopher",
    "lisa",
    "daniel",
    "nancy",
    "matthew",
    "betty",
    "anthony",
    "sandra",
    "mark",
    "ashley",
    "donald",
    "kimberly",
    "steven",
    "emily",
    "paul",
    "donna",
    "andrew",
    "michelle",
    "joshua",
    "carol",
    "kenneth",
    "amanda",
    "kevin",
    "melissa",
    "brian",
    "deborah",
    "george",
    "stephanie",
    "timothy",
    "rebecca",
    "ronald",
    "sharon",
    "jason",
    "laura",
    "edward",
    "cynthia",
    "jeffrey",
    "kathleen",
    "ryan",
    "amy",
    "jacob",
    "angela",
    "gary",
    "shirley",
    "nicholas",
    "anna",
    "eric",
    "brenda",
    "jonathan",
    "pamela",
    "stephen",
    "emma",
    "larry",
    "nicole",
    "justin",
    "helen",
    "scott",
    "samantha",
    "brandon",
    "katherine",
    "benjamin",
    "christine",
    "samuel",
    "debra",
    "gregory",
    "rachel",
    "alexander",
    "carolyn",
    "frank",
    "janet",
    "patrick",
    "catherine",
    "raymond",
    "maria",
    "jack",
    "heather",
    "dennis",
    "diane",
    "jerry",
    "ruth",
    "tyler",
    "julie",
    "aaron",
    "olivia",
    "jose",
    "joyce",
    "adam",
    "virginia",
    "henry",
    "victoria",
    "nathan",
    "kelly",
    "douglas",
    "lauren",
    "zachary",
    "christina",
    "peter",
    "joan",
    "kyle",
    "evelyn",
    "ethan",
    "judith",
    "walter",
    "megan",
    "noah",
    "andrea",
    "jeremy",
    "cheryl",
    "christian",
    "hannah",
    "keith",
    "jacqueline",
    "roger",
    "martha",
    "terry",
    "gloria",
    "gerald",
    "teresa",
    "harold",
    "ann",
    "sean",
    "sara",
    "austin",
    "madison",
    "carl",
    "frances",
    "arthur",
    "kathryn",
    "lawrence",
    "janice",
    "dylan",
    "jean",
    "jesse",
    "abigail",
    "jordan",
    "alice",
    "bryan",
    "judy",
    "billy",
    "sophia",
    "joe",
    "grace",
    "bruce",
    "denise",
    "gabriel",
    "amber",
    "logan",
    "doris",
    "albert",
    "marilyn",
    "willie",
    "danielle",
    "alan",
    "beverly",
    "juan",
    "isabella",
    "wayne",
    "theresa",
    "elijah",
    "diana",
    "randy",
    "natalie",
    "roy",
    "brittany",
    "vincent",
    "charlotte",
    "ralph",
    "marie",
    "eugene",
    "kayla",
    "russell",
    "alexis",
    "bobby",
    "lori",
]
_SURNAMES = [
    "smith",
    "johnson",
    "williams",
    "brown",
    "jones",
    "garcia",
    "miller",
    "davis",
    "rodriguez",
    "martinez",
    "hernandez",
    "lopez",
    "gonzalez",
    "wilson",
    "anderson",
    "thomas",
    "taylor",
    "moore",
    "jackson",
    "martin",
    "lee",
    "perez",
    "thompson",
    "white",
    "harris",
    "sanchez",
    "clark",
    "ramirez",
    "lewis",
    "robinson",
    "walker",
    "young",
    "allen",
    "king",
    "wright",
    "scott",
    "torres",
    "nguyen",
    "hill",
    "flores",
    "green",
    "adams",
    "nelson",
    "baker",
    "hall",
    "rivera",
    "campbell",
    "mitchell",
    "carter",
    "roberts",
    "gomez",
    "phillips",
    "evans",
    "turner",
    "diaz",
    "parker",
    "cruz",
    "edwards",
    "collins",
    "reyes",
    "stewart",
    "morris",
    "morales",
    "murphy",
    "cook",
    "rogers",
    "gutierrez",
    "ortiz",
    "morgan",
    "cooper",
    "peterson",
    "bailey",
    "reed",
    "kelly",
    "howard",
    "ramos",
    "kim",
    "cox",
    "ward",
    "richardson",
    "watson",
    "brooks",
    "chavez",
    "wood",
    "james",
    "bennett",
    "gray",
    "mendoza",
    "ruiz",
    "hughes",
    "price",
    "alvarez",
    "castillo",
    "sanders",
    "patel",
    "myers",
    "long",
    "ross",
    "foster",
    "jimenez",
    "powell",
    "jenkins",
    "perry",
    "russell",
    "sullivan",
    "bell",
    "coleman",
    "butler",
    "henderson",
    "barnes",
    "gonzales",
    "fisher",
    "vasquez",
    "simmons",
    "romero",
    "jordan",
    "patterson",
    "alexander",
    "hamilton",
    "graham",
    "reynolds",
    "griffin",
    "wallace",
    "moreno",
    "west",
    "cole",
    "hayes",
    "bryant",
    "herrera",
    "gibson",
    "ellis",
    "tran",
    "medina",
    "aguilar",
    "stevens",
    "murray",
    "ford",
    "castro",
    "marshall",
    "owens",
    "harrison",
    "fernandez",
    "mcdonald",
    "woods",
    "washington",
    "kennedy",
    "wells",
    "vargas",
    "henry",
    "chen",
    "freeman",
    "webb",
    "tucker",
    "guzman",
    "burns",
    "crawford",
    "olson",
    "simpson",
    "porter",
    "hunter",
    "gordon",
    "mendez",
    "silva",
    "shaw",
    "snyder",
    "mason",
    "dixon",
    "munoz",
    "hunt",
    "hicks",
    "holmes",
    "palmer",
    "wagner",
    "black",
    "robertson",
    "boyd",
    "rose",
    "stone",
    "salazar",
    "fox",
    "warren",
    "mills",
    "meyer",
    "rice",
    "schmidt",
    "garza",
    "daniels",
    "ferguson",
    "nichols",
    "stephens",
    "soto",
    "weaver",
    "ryan",
    "gardner",
    "payne",
    "grant",
    "dunn",
    "kelley",
    "spencer",
    "hawkins",
    "arnold",
    "pierce",
    "vazquez",
    "hansen",
    "peters",
    "santos",
    "hart",
    "bradley",
    "knight",
    "elliott",
    "cunningham",
    "duncan",
    "armstrong",
    "hudson",
    "carroll",
    "lane",
    "riley",
    "andrews",
    "alvarado",
    "ray",
    "delgado",
    "berry",
    "perkins",
    "hoffman",
    "johnston",
    "matthews",
    "pena",
    "richards",
    "contreras",
    "willis",
    "carpenter",
    "lawrence",
    "sandoval",
]
_STREET_WORDS = [
    "acacia",
    "albert",
    "alexandra",
    "anzac",
    "banksia",
    "beach",
    "bridge",
    "bay",
    "boundary",
    "cedar",
    "church",
    "college",
    "coral",
    "crown",
    "dalton",
    "darling",
    "eucalyptus",
    "elizabeth",
    "ferry",
    "forest",
    "george",
    "glen",
    "gum",
    "hill",
    "holt",
    "james",
    "jacaranda",
    "king",
    "lake",
    "lime",
    "lindsay",
    "macquarie",
    "main",
    "market",
    "marine",
    "mill",
    "mountain",
    "murray",
    "ocean",
    "oxford",
    "park",
    "pacific",
    "pine",
    "queen",
    "railway",
    "river",
    "rose",
    "station",
    "sunset",
    "tower",
    "victoria",
    "view",
    "wattle",
    "waratah",
    "william",
    "wilson",
]
_STREET_TYPES = ["street", "road", "avenue", "place", "crescent", "close", "drive", "court", "lane", "parade"]
_SHORT = {
    "street": "st",
    "road": "rd",
    "avenue": "ave",
    "place": "pl",
    "crescent": "cres",
    "close": "cl",
    "drive": "dr",
    "court": "ct",
    "lane": "ln",
    "parade": "pde",
}
_SUBURB_A = [
    "north",
    "south",
    "east",
    "west",
    "new",
    "port",
    "mount",
    "glen",
    "lake",
    "fair",
    "spring",
    "green",
    "oak",
    "bay",
    "river",
    "red",
    "black",
    "white",
    "rose",
    "ash",
]
_SUBURB_B = (
    "field wood ville dale bridge ton vale side haven mead ford brook hurst cliff ridge park grove hill"
)
_STATES = ["nsw", "vic", "qld", "wa", "sa", "tas", "act", "nt"]
_DOMAINS = ["example.com", "mail.test", "post.example", "inbox.test"]
_OCR = [
    ("0", "o"),
    ("o", "0"),
    ("1", "l"),
    ("l", "1"),
    ("5", "s"),
    ("s", "5"),
    ("8", "b"),
    ("m", "rn"),
    ("rn", "m"),
    ("cl", "d"),
    ("g", "q"),
    ("e", "c"),
]
_PHONETIC = [
    ("ph", "f"),
    ("f", "ph"),
    ("ck", "k"),
    ("c", "k"),
    ("k", "c"),
    ("ie", "y"),
    ("y", "ie"),
    ("ou", "ow"),
    ("s", "z"),
    ("son", "sen"),
    ("ee", "ea"),
    ("ai", "ay"),
    ("th", "t"),
    ("ll", "l"),
    ("tt", "t"),
    ("nn", "n"),
    ("mm", "m"),
]


def _weighted_names() -> tuple[list[str], list[float], list[str], list[float]]:
    try:
        from faker.providers.person.en_GB import Provider as Gb
        from faker.providers.person.en_US import Provider as Us
    except ImportError:
        return (
            _GIVEN,
            [1.0 / (i + 5) for i in range(len(_GIVEN))],
            _SURNAMES,
            [1.0 / (i + 5) for i in range(len(_SURNAMES))],
        )
    given: dict[str, float] = {}
    for source in (Us.first_names, getattr(Gb, "first_names", {})):
        items = source.items() if hasattr(source, "items") else ((n, 0.001) for n in source)
        for name, weight in items:
            given[name.lower()] = given.get(name.lower(), 0.0) + float(weight)
    surnames: dict[str, float] = {}
    for source in (Us.last_names, getattr(Gb, "last_names", {})):
        items = source.items() if hasattr(source, "items") else ((n, 0.001) for n in source)
        for name, weight in items:
            surnames[name.lower()] = surnames.get(name.lower(), 0.0) + float(weight)
    return list(given), list(given.values()), list(surnames), list(surnames.values())


@dataclass
class People:
    rows: list[dict[str, str]]
    truth: list[int]  # person number of each row


class Generator:
    def __init__(self, seed: int, date_format: str = "%Y%m%d") -> None:
        self.rng = random.Random(seed)
        self.date_format = date_format
        self.given, self.given_w, self.surnames, self.surname_w = _weighted_names()
        rng = self.rng
        suburbs = sorted(
            {a + b for a in _SUBURB_A for b in _SUBURB_B.split()}
            | {f"{a} {b}" for a in _SUBURB_A[:6] for b in _STREET_WORDS[:40]}
        )
        self.places = []
        for suburb in suburbs:
            state = rng.randrange(len(_STATES))
            self.places.append((suburb, f"{state + 2}{rng.randrange(1000):03d}", _STATES[state]))
        self.ids: set[int] = set()

    def original(self) -> dict[str, str]:
        rng = self.rng
        given = rng.choices(self.given, self.given_w)[0]
        surname = rng.choices(self.surnames, self.surname_w)[0]
        suburb, postcode, state = rng.choice(self.places)
        born = date(1930, 1, 1) + timedelta(days=rng.randrange(80 * 365))
        while True:
            ssn = rng.randrange(1_000_000, 9_999_999)
            if ssn not in self.ids:
                self.ids.add(ssn)
                break
        return {
            "given_name": given,
            "surname": surname,
            "street_number": str(rng.randrange(1, 400)),
            "address_1": f"{rng.choice(_STREET_WORDS)} {rng.choice(_STREET_TYPES)}",
            "address_2": rng.choice(
                ["", "", "", f"unit {rng.randrange(1, 40)}", f"{rng.choice(_STREET_WORDS)} house"]
            ),
            "suburb": suburb,
            "postcode": postcode,
            "state": state,
            "date_of_birth": born.strftime(self.date_format),
            "soc_sec_id": str(ssn),
            "email": f"{given}.{surname}{rng.randrange(100)}@{rng.choice(_DOMAINS)}",
            "phone": f"04{rng.randrange(10**8):08d}",
        }

    # --- corruptions -----------------------------------------------------------------------------

    def typo(self, value: str) -> str:
        rng = self.rng
        if len(value) < 2:
            return value
        i = rng.randrange(len(value))
        kind = rng.randrange(4)
        letters = "abcdefghijklmnopqrstuvwxyz" if not value.isdigit() else "0123456789"
        if kind == 0:
            return value[:i] + rng.choice(letters) + value[i:]
        if kind == 1:
            return value[:i] + value[i + 1 :]
        if kind == 2:
            return value[:i] + rng.choice(letters) + value[i + 1 :]
        i = min(i, len(value) - 2)
        return value[:i] + value[i + 1] + value[i] + value[i + 2 :]

    def replace_one(self, value: str, table: list[tuple[str, str]]) -> str:
        options = [(a, b) for a, b in table if a in value]
        if not options:
            return self.typo(value)
        a, b = self.rng.choice(options)
        at = [i for i in range(len(value)) if value.startswith(a, i)]
        i = self.rng.choice(at)
        return value[:i] + b + value[i + len(a) :]

    def corrupt(self, record: dict[str, str]) -> dict[str, str]:
        rng = self.rng
        out = dict(record)
        for _ in range(rng.choices([1, 2, 3, 4], [0.35, 0.35, 0.2, 0.1])[0]):
            kind = rng.choices(
                ["typo", "ocr", "phonetic", "swap", "missing", "date", "street", "digit"],
                [0.25, 0.1, 0.15, 0.05, 0.2, 0.1, 0.05, 0.1],
            )[0]
            if kind == "swap":
                out["given_name"], out["surname"] = out["surname"], out["given_name"]
            elif kind == "missing":
                out[
                    rng.choice(
                        [
                            "given_name",
                            "surname",
                            "street_number",
                            "address_1",
                            "address_2",
                            "suburb",
                            "postcode",
                            "state",
                            "date_of_birth",
                            "soc_sec_id",
                            "email",
                            "phone",
                        ]
                    )
                ] = ""
            elif kind == "date" and out["date_of_birth"]:
                out["date_of_birth"] = self.date_error(out["date_of_birth"])
            elif kind == "street" and out["address_1"]:
                words = out["address_1"].split()
                words[-1] = _SHORT.get(words[-1], words[-1])
                out["address_1"] = " ".join(words)
            elif kind == "digit":
                column = rng.choice(["postcode", "soc_sec_id", "street_number", "phone"])
                if out[column]:
                    out[column] = self.typo(out[column])
            else:
                column = rng.choice(
                    ["given_name", "surname", "address_1", "suburb"]
                    if kind != "ocr"
                    else ["given_name", "surname", "address_1", "suburb", "postcode", "soc_sec_id"]
                )
                if out[column]:
                    table = _OCR if kind == "ocr" else _PHONETIC
                    out[column] = (
                        self.typo(out[column]) if kind == "typo" else self.replace_one(out[column], table)
                    )
        return out

    def date_error(self, value: str) -> str:
        rng = self.rng
        try:
            born = date(*[int(p) for p in _parse(value, self.date_format)])
        except ValueError:
            return self.typo(value)
        kind = rng.randrange(3)
        if kind == 0 and born.day <= 12 and born.day != born.month:
            return date(born.year, born.day, born.month).strftime(self.date_format)
        if kind == 1:
            return self.typo(value) if any(c.isdigit() for c in value) else value
        year = born.year + rng.choice([-1, 1, -10, 10])
        try:
            return born.replace(year=year).strftime(self.date_format)
        except ValueError:
            return value

    def people(self, rows: int, duplicate_share: float = 0.5) -> People:
        """About `rows` records: originals, each with probability `duplicate_share` followed by 1-9
        duplicates (1 most often)."""
        rng = self.rng
        out: list[dict[str, str]] = []
        truth: list[int] = []
        person = 0
        while len(out) < rows:
            record = self.original()
            copies = (
                rng.choices(range(1, 10), [1 / k**1.3 for k in range(1, 10)])[0]
                if rng.random() < duplicate_share
                else 0
            )
            for copy in range(copies + 1):
                out.append(record if copy == 0 else self.corrupt(record))
                truth.append(person)
            person += 1
        order = list(range(len(out)))
        rng.shuffle(order)
        rows_out = []
        for n, i in enumerate(order):
            rows_out.append({"rec_id": f"rec-{n}", **out[i]})
        return People(rows_out, [truth[i] for i in order])

    def two_tables(self, persons: int, overlap: float = 0.6) -> tuple[People, People]:
        """Table A: one record per person; table B: a corrupted record for `overlap` of them plus as many
        people again not in A. Truth numbers are shared across the tables."""
        rng = self.rng
        a_rows, a_truth, b_rows, b_truth = [], [], [], []
        for person in range(persons):
            record = self.original()
            a_rows.append({"rec_id": f"a-{person}", **record})
            a_truth.append(person)
            if rng.random() < overlap:
                b_rows.append({"rec_id": "", **self.corrupt(record)})
                b_truth.append(person)
        for extra in range(persons - len(b_rows)):
            b_rows.append({"rec_id": "", **self.original()})
            b_truth.append(persons + extra)
        order = list(range(len(b_rows)))
        rng.shuffle(order)
        b_rows = [{**b_rows[i], "rec_id": f"b-{n}"} for n, i in enumerate(order)]
        return People(a_rows, a_truth), People(b_rows, [b_truth[i] for i in order])


def _parse(value: str, layout: str) -> tuple[int, int, int]:
    from datetime import datetime

    parsed = datetime.strptime(value, layout)
    return parsed.year, parsed.month, parsed.day


def write(people: People, path: Path, delimiter: str = ",") -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, delimiter=delimiter)
        writer.writeheader()
        writer.writerows(people.rows)


def pair_scores(predicted: list[object], truth: list[int]) -> tuple[float, float, float]:
    """Pairwise precision, recall and F1 of a clustering (a cluster label per row) against the truth,
    counted from cluster sizes (no pair enumeration, so 500k rows are fine)."""
    from collections import Counter

    def pairs(counts: Counter[object]) -> int:
        return sum(n * (n - 1) // 2 for n in counts.values())

    both = pairs(Counter(zip(predicted, truth, strict=True)))
    found, expected = pairs(Counter(predicted)), pairs(Counter(truth))
    precision = both / found if found else 1.0
    recall = both / expected if expected else 1.0
    return precision, recall, 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def components(nodes: int, edges: list[tuple[int, int]]) -> list[int]:
    """Connected components (a label per node) of matched pairs: how a dedupe turns pairs into groups."""
    parent = list(range(nodes))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return [find(x) for x in range(nodes)]
