"""The demo site's articles: distinct topics (so search quality can be measured), named organisations,
people and places written in several ways (so entity matching has real work), two rendered by JavaScript."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Article:
    slug: str
    title: str
    author: str
    published: str  # ISO date
    section: str
    paragraphs: tuple[str, ...]
    rendered_by_javascript: bool = False

    @property
    def path(self) -> str:
        return f"/articles/{self.slug}"


ARTICLES: tuple[Article, ...] = (
    Article(
        "solar-farm-lisbon",
        "Acme Corporation switches on a 120 MW solar farm near Lisbon",
        "Maria Keller",
        "2026-03-04",
        "energy",
        (
            "Acme Corporation has connected its largest photovoltaic plant to the Portuguese grid. The "
            "site, forty kilometres east of Lisbon, covers 180 hectares with bifacial panels mounted on "
            "single-axis trackers that follow the sun from morning to evening.",
            "The plant is expected to produce about 210 gigawatt hours a year, enough for roughly 60,000 "
            "households. ACME Corp. signed a fifteen-year power purchase agreement with a regional "
            "utility before construction started, which made the financing straightforward.",
            "Sheep graze between the rows to keep the grass short, a practice the company first tried in "
            "Spain. Local farmers were paid for the land lease and for the grazing.",
        ),
    ),
    Article(
        "offshore-wind-north-sea",
        "Northwind Energy installs the first turbines of its North Sea wind park",
        "Jonas Berg",
        "2026-02-11",
        "energy",
        (
            "Northwind Energy has installed the first eleven turbines of a 900 megawatt offshore wind park "
            "eighty kilometres off the German coast. Each turbine stands on a monopile foundation hammered "
            "thirty metres into the seabed.",
            "The rotors are 236 metres across, and a single rotation supplies a house for two days. Power "
            "travels through an export cable to a converter station near Hamburg.",
            "Installation vessels can only work when waves stay below two metres, so the winter schedule "
            "left generous margins. Jonas Berg, the project director, expects full output next autumn.",
        ),
    ),
    Article(
        "grid-batteries-texas",
        "Globex builds a giant battery to steady the Texas grid",
        "Priya Raman",
        "2026-01-20",
        "energy",
        (
            "Globex Industries is building a 400 megawatt-hour storage system next to a substation west of "
            "Austin. Thousands of lithium iron phosphate cells sit in shipping-container-sized cabinets, "
            "cooled by liquid loops.",
            "The battery charges when wind and solar output is high and prices are low, then discharges "
            "in the evening peak. Grid operators also pay it to correct frequency within milliseconds.",
            "Lithium iron phosphate chemistry is heavier than the cells in phones, but it lasts longer and "
            "is far less prone to thermal runaway, which matters for a site this large.",
        ),
    ),
    Article(
        "coffee-rust-colombia",
        "Coffee growers in Huila fight leaf rust with resistant varieties",
        "Camila Ortiz",
        "2025-11-02",
        "agriculture",
        (
            "Smallholders in the Colombian department of Huila are replanting their slopes with arabica "
            "varieties that resist coffee leaf rust, a fungus that turns leaves orange and makes them drop.",
            "A wet season in 2024 spread the disease quickly and cut some harvests by half. The national "
            "growers federation now hands out seedlings of Castillo and Cenicafé 1 at cost.",
            "Farmers say the new trees need three years before the first full crop, so many plant a few "
            "rows at a time and keep the old trees producing meanwhile.",
        ),
    ),
    Article(
        "urban-beekeeping-paris",
        "Rooftop beehives multiply across Paris",
        "Maria Keller",
        "2025-09-15",
        "environment",
        (
            "More than two thousand beehives now stand on Paris rooftops, from the Opéra Garnier to office "
            "blocks in La Défense. City beekeepers harvest honey that tastes of lime trees and chestnut.",
            "Ecologists warn that too many honeybee colonies compete with wild pollinators such as "
            "solitary bees and hoverflies for the same flowers, and ask for more planting instead.",
            "Winter colony losses were lower in the city than in the countryside last year, probably "
            "because urban gardens are not sprayed with pesticides.",
        ),
    ),
    Article(
        "quantum-error-correction",
        "Initech demonstrates error-corrected qubits in its Zurich lab",
        "Lukas Meier",
        "2026-04-22",
        "technology",
        (
            "Researchers at Initech's quantum laboratory in Zurich have kept a logical qubit alive ten "
            "times longer than any of the physical superconducting qubits it is built from.",
            "The team encoded one logical qubit in a surface code of 49 physical qubits and measured errors "
            "in repeated cycles, correcting them faster than they accumulated.",
            "Initech Inc. says a useful quantum computer will still need thousands of logical qubits, but "
            "the result shows error correction gets better, not worse, as the code grows.",
        ),
    ),
    Article(
        "rotterdam-port-congestion",
        "Container ships queue outside Rotterdam as freight rates climb",
        "Jonas Berg",
        "2026-05-09",
        "trade",
        (
            "Dozens of container ships are waiting at anchor outside the port of Rotterdam after strikes "
            "and storms slowed unloading. Blue Harbor Lines said its vessels waited up to six days.",
            "Spot freight rates from Shanghai to Northern Europe rose forty percent in a month, and "
            "importers of furniture and electronics warned of late deliveries.",
            "Port authorities opened extra night shifts and moved empty containers to inland depots by "
            "barge to free space on the quays.",
        ),
    ),
    Article(
        "reykjanes-eruption",
        "Seismometers gave hours of warning before the Reykjanes eruption",
        "Sigrid Jónsdóttir",
        "2026-06-01",
        "science",
        (
            "A fissure opened on the Reykjanes peninsula in Iceland on Sunday night and sent lava fountains "
            "fifty metres high. Scientists had recorded an intense swarm of small earthquakes hours before.",
            "The Icelandic Meteorological Office tracks the magma with seismometers, GPS stations that "
            "measure ground uplift, and satellite radar. The town of Grindavík was evacuated in time.",
            "Lava barriers built from crushed rock diverted the flow away from the geothermal power plant "
            "at Svartsengi, which kept running throughout the eruption.",
        ),
        rendered_by_javascript=True,
    ),
    Article(
        "mekong-rice-salinity",
        "Salt water creeps into the Mekong Delta's rice fields",
        "Linh Nguyen",
        "2026-03-28",
        "agriculture",
        (
            "Farmers in the Mekong Delta of Vietnam are losing rice harvests as sea water pushes further up "
            "the river during the dry season. Salinity intrusion reached sixty kilometres inland this year.",
            "Lower river flows from upstream dams and sinking land make the problem worse. Some families "
            "now alternate rice with shrimp farming, which tolerates brackish water.",
            "Agronomists are breeding salt-tolerant rice varieties and the government is building sluice "
            "gates to keep the sea out of irrigation canals.",
        ),
    ),
    Article(
        "copenhagen-ebikes",
        "Electric bikes lengthen the commute in Copenhagen",
        "Anders Holm",
        "2025-10-19",
        "cities",
        (
            "Copenhagen's cycle count shows that commuters on electric bicycles ride twice as far as those "
            "on ordinary bikes, many of them from suburbs fifteen kilometres out.",
            "The city is widening its cycle superhighways and adding charging lockers at stations. Cargo "
            "bikes with electric assistance now carry a third of the children to kindergarten.",
            "Anders Holm of the cyclists' federation says speed differences on crowded lanes are the next "
            "safety problem to solve.",
        ),
    ),
    Article(
        "malaria-vaccine-kenya",
        "A malaria vaccine trial in Kenya halves severe cases",
        "Amina Wanjiru",
        "2026-02-27",
        "health",
        (
            "A two-year trial in western Kenya found that children given four doses of a new malaria vaccine "
            "had half as many severe cases as the control group. Umbrella Health ran the study with the "
            "Kenya Medical Research Institute.",
            "The vaccine targets the parasite before it reaches the liver. Protection faded after a year "
            "without a booster, so the schedule includes a fourth dose before the rainy season.",
            "Health workers combined the vaccine with bed nets and seasonal drugs, and say the combination "
            "matters more than any single tool.",
        ),
    ),
    Article(
        "arizona-chip-fab",
        "A new chip fab in Arizona starts making wafers",
        "Priya Raman",
        "2026-05-30",
        "technology",
        (
            "Globex Industries has started volume production at its semiconductor fabrication plant near "
            "Phoenix. The fab processes 300-millimetre silicon wafers with extreme ultraviolet lithography.",
            "Building the clean rooms took three years and the plant uses enormous amounts of ultrapure "
            "water, most of which is recycled on site.",
            "The first chips are processors for data centres. Globex Corp. hired two thousand technicians, "
            "many trained at a local community college.",
        ),
    ),
    Article(
        "sourdough-san-francisco",
        "The science behind a San Francisco sourdough",
        "Tom Alvarez",
        "2025-12-05",
        "food",
        (
            "A sourdough starter is a culture of wild yeast and lactic acid bacteria living in flour and "
            "water. The bacteria produce the acids that give the bread its tang.",
            "Bakers at a bakery in the Mission district feed their starter twice a day and let the dough "
            "ferment slowly overnight in the cold, which deepens the flavour.",
            "Fog and cool temperatures once made San Francisco ideal for this slow fermentation, but the "
            "same bacteria turn up in starters all over the world.",
        ),
    ),
    Article(
        "berlin-marathon-training",
        "Sixteen weeks to the Berlin Marathon",
        "Anna Schmidt",
        "2026-04-03",
        "sport",
        (
            "Most first-time marathon runners need about sixteen weeks of training to cover 42.2 kilometres. "
            "The plan builds the long run slowly, adding no more than ten percent a week.",
            "Easy runs at conversational pace make up most of the mileage; one session a week of intervals "
            "or tempo running improves speed. Rest days prevent injuries.",
            "On race day in Berlin the flat course favours an even pace. Runners should practise drinking "
            "and eating energy gels during their long training runs.",
        ),
    ),
    Article(
        "rhone-glacier-retreat",
        "The Rhône glacier lost another forty metres this summer",
        "Lukas Meier",
        "2025-10-01",
        "environment",
        (
            "Glaciologists measured that the Rhône glacier in the Swiss Alps retreated forty metres this "
            "summer after a heatwave and little winter snow. White blankets cover part of the ice to slow "
            "the melting near a tourist grotto.",
            "Swiss glaciers have lost a third of their volume since 2000. Meltwater first swells rivers, "
            "but less ice will mean less water in late summer for hydropower and farms.",
            "A lake has formed where the glacier tongue once lay, and new vegetation is colonising the "
            "freshly exposed rock.",
        ),
    ),
    Article(
        "oslo-chess-championship",
        "Elena Petrova wins the Oslo chess championship",
        "Anders Holm",
        "2026-01-08",
        "sport",
        (
            "Elena Petrova won the Oslo chess championship with a round to spare after a sharp win with the "
            "black pieces in the Sicilian Defence.",
            "The tournament used classical time controls, and Petrova prepared her openings with a chess "
            "engine but said the endgames were decided by calculation at the board.",
            "She takes home the trophy and a place in next year's candidates tournament.",
        ),
        rendered_by_javascript=True,
    ),
    Article(
        "plastic-recycling-pyrolysis",
        "Acme turns mixed plastic waste back into oil",
        "Tom Alvarez",
        "2026-06-18",
        "environment",
        (
            "Acme Corp has opened a chemical recycling plant in Rotterdam that heats mixed plastic waste "
            "without oxygen until it breaks down into an oil. The process is called pyrolysis.",
            "The oil replaces crude oil in a refinery to make new plastics, including food packaging that "
            "mechanical recycling cannot supply.",
            "Environmental groups say the process uses a lot of energy and that reducing plastic use would "
            "do more. ACME Corporation says the plant diverts forty thousand tonnes from incinerators.",
            "A spokesperson for Acmee Corp said a second plant near Hamburg is planned once the first has "
            "run for a year.",
        ),
    ),
    Article(
        "heat-pumps-germany",
        "Heat pumps replace gas boilers in German homes",
        "Anna Schmidt",
        "2026-02-02",
        "energy",
        (
            "Sales of heat pumps in Germany overtook those of gas boilers for the first time this winter. "
            "An air-source heat pump extracts warmth from outside air even below freezing.",
            "Installers say older houses need better insulation or larger radiators first. Subsidies cover "
            "up to seventy percent of the cost for low-income households.",
            "Globex Industries expanded its factory near Stuttgart to build compressors for the pumps.",
        ),
    ),
    Article(
        "vector-search-postgres",
        "Vector search arrives in the database",
        "Priya Raman",
        "2026-07-07",
        "technology",
        (
            "Relational databases now store embeddings next to ordinary rows. Approximate nearest neighbour "
            "indexes such as HNSW find the most similar vectors in milliseconds.",
            "Engineers combine this with full-text keyword search and merge the two rankings, a method "
            "called hybrid retrieval, because each finds results the other misses.",
            "Recall against an exact scan is the number to watch: faster index settings can silently drop "
            "relevant results.",
        ),
    ),
    Article(
        "exoplanet-atmosphere",
        "A telescope reads the air of a distant planet",
        "Sigrid Jónsdóttir",
        "2026-08-12",
        "science",
        (
            "Astronomers used an infrared space telescope to detect water vapour and carbon dioxide in the "
            "atmosphere of an exoplanet orbiting a red dwarf star forty light years away.",
            "Starlight filtering through the planet's atmosphere during a transit carries the fingerprints "
            "of its gases. Observers in Chile confirmed the orbit from the ground.",
            "The planet is too hot for life, but the method will be used on cooler worlds.",
        ),
    ),
)
