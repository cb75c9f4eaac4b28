"""Builds the fictional fixture world: ``fixture.jsonl`` (passages) and ``fixture_qa.jsonl`` (questions).

The world is a fact graph drawn with a seeded RNG: countries with capitals and rulers, cities on
rivers, rivers rising on mountains and ending in lakes, and the people, inventions, ships, books,
festivals, institutions, battles, treaties, species and dishes that tie them together. Each entity
gets one passage written from its facts with several sentence forms per relation; every link names
the other entity by its exact full name, so a passage about one entity mentions others verbatim.
Questions (one and two hops) are read off the same graph.

The output is a pure function of :data:`SEED`: ``python build_fixture.py`` rewrites both files and
the tests check that the shipped files equal :func:`build`'s output.
"""

from __future__ import annotations

import json
import random
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

SEED = 20240611

# Tokens the generator drew that turned out to be English words, real places or substrings of
# common words (found by checking the drawn names against WordNet once); never drawn again.
BANNED = {
    "balar",
    "bourn",
    "bovine",
    "camar",
    "cides",
    "conine",
    "crothel",
    "deley",
    "domont",
    "feine",
    "grath",
    "ground",
    "holine",
    "holoth",
    "hukov",
    "kishar",
    "klene",
    "laine",
    "lamine",
    "lanar",
    "lenar",
    "limen",
    "lomere",
    "luine",
    "masora",
    "milar",
    "mousine",
    "neral",
    "nusha",
    "paell",
    "pesha",
    "renar",
    "rosar",
    "rosell",
    "sandine",
    "selar",
    "shear",
    "shevell",
    "stael",
    "taeni",
    "thola",
    "traeth",
    "trepo",
    "vasar",
}

ONSETS = [
    "b",
    "br",
    "d",
    "dr",
    "f",
    "g",
    "gr",
    "h",
    "k",
    "kl",
    "l",
    "m",
    "n",
    "p",
    "r",
    "s",
    "sh",
    "st",
    "t",
    "th",
    "tr",
    "v",
    "vr",
    "z",
    "c",
    "cr",
    "j",
    "y",
]
VOWELS = ["a", "e", "i", "o", "u", "a", "e", "o", "ae", "ei", "ou", "y"]
CODAS = ["", "", "", "n", "r", "l", "s", "th", "sk", "rn", "nd", "lm", "v", "sh", "m", "x"]
ENDINGS = {
    "country": ["ia", "aria", "esh", "ovia", "ent", "oria", "ane", "ath"],
    "place": ["", "", "mere", "holm", "ost", "ine", "ar", "ek", "wen", "oss"],
    "given": ["a", "o", "en", "is", "ith", "ara", "ys", "el", "an", ""],
    "family": ["ley", "vane", "dric", "mont", "ssen", "wick", "oth", "ard", "ek", "ine"],
    "thing": ["", "", "et", "ine", "ell", "ar", "ix"],
}


@dataclass
class Entity:
    """One node of the fact graph."""

    name: str
    kind: str
    """Entity kind (``country``, ``city``, ``poet``...); people carry their profession here."""
    facts: dict = field(default_factory=dict)


class NameMaker:
    """Draws invented tokens; no token is a substring of another or of a banned word."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.tokens: list[str] = []

    def token(self, style: str) -> str:
        """A fresh capitalised token in ``style`` (a key of :data:`ENDINGS`)."""
        rng = self.rng
        while True:
            syll = rng.choice([1, 2, 2, 2, 3]) if style != "family" else rng.choice([1, 2])
            word = ""
            for i in range(syll):
                word += rng.choice(ONSETS) + rng.choice(VOWELS)
                if i == syll - 1 or rng.random() < 0.4:
                    word += rng.choice(CODAS)
            word += rng.choice(ENDINGS[style])
            low = word.lower()
            if not 5 <= len(low) <= 9 or any(c * 3 in low for c in set(low)):
                continue
            if any(v * 2 in low for v in "aiuy") or re.search("[^aeiouy]{3}|[aeiouy]{3}", low):
                continue
            if low in BANNED or any(b in low or low in b for b in BANNED):
                continue
            if any(low in t or t in low for t in self.tokens):
                continue
            self.tokens.append(low)
            return word.capitalize()


def _years(rng: random.Random, start: int, span: int) -> int:
    return start + rng.randrange(span)


def make_world(seed: int = SEED) -> dict[str, list[Entity]]:
    """The fact graph: entity kind group -> entities, every link stored by entity name."""
    rng = random.Random(seed)
    names = NameMaker(rng)
    w: dict[str, list[Entity]] = {}

    def person(kind: str, born: Entity, lo: int, span: int = 40) -> Entity:
        by = _years(rng, lo, span)
        p = Entity(f"{names.token('given')} {names.token('family')}", kind)
        p.facts.update(
            born=born.name,
            country=born.facts["country"],
            birth=by,
            death=by + 50 + rng.randrange(30),
        )
        return p

    countries = [Entity(names.token("country"), "country") for _ in range(12)]
    for c in countries:
        c.facts["founded"] = _years(rng, 880, 300)
    w["country"] = countries

    mountains = []
    for i in range(12):
        m = Entity(f"Mount {names.token('place')}", "mountain")
        m.facts.update(country=countries[i].name, height=1800 + 37 * rng.randrange(90))
        mountains.append(m)
    w["mountain"] = mountains
    lakes = []
    for i in range(8):
        lk = Entity(f"Lake {names.token('place')}", "lake")
        lk.facts.update(country=countries[i].name, area=40 + rng.randrange(900))
        lakes.append(lk)
    w["lake"] = lakes
    rivers = []
    for i in range(16):
        r = Entity(f"{names.token('place')} River", "river")
        src = mountains[i % 12]
        r.facts.update(
            source=src.name,
            country=src.facts["country"],
            mouth=lakes[i % 8].name,
            length=90 + rng.randrange(700),
        )
        rivers.append(r)
    w["river"] = rivers
    for c in countries:
        c.facts["rivers"] = [r.name for r in rivers if r.facts["country"] == c.name]

    cities: list[Entity] = []
    for i in range(44):
        country = countries[i % 12]
        cty = Entity(names.token("place"), "city")
        own_rivers = [r for r in rivers if r.facts["country"] == country.name] or rivers
        cty.facts.update(
            country=country.name,
            capital=i < 12,
            river=rng.choice(own_rivers).name,
            port=i >= 12 and rng.random() < 0.45,
            founded=_years(rng, 700, 300),
        )
        if i < 12:
            country.facts["capital"] = cty.name
        cities.append(cty)
    w["city"] = cities
    by_name = {e.name: e for grp in w.values() for e in grp}
    ports = [c for c in cities if c.facts["port"]] or cities[12:20]

    people: list[Entity] = []
    rulers = []
    for i in range(16):
        country = countries[i % 12]
        home = country.facts["capital"]
        p = person("ruler", by_name[home], 1280 if i < 12 else 1330, span=10)
        p.facts["ruled"] = country.name
        p.facts["reign"] = p.facts["birth"] + 22 + rng.randrange(8)
        rulers.append(p)
    for kind, count, lo in [
        ("inventor", 14, 1380),
        ("poet", 16, 1300),
        ("navigator", 10, 1440),
        ("scientist", 16, 1420),
        ("athlete", 14, 1480),
    ]:
        for _ in range(count):
            people.append(person(kind, rng.choice(cities), lo))
    people = rulers + people
    w["person"] = people
    by_kind: dict[str, list[Entity]] = {}
    for p in people:
        by_kind.setdefault(p.kind, []).append(p)
    for c in countries:
        c.facts["founder"] = next((r.name for r in rulers if r.facts["ruled"] == c.name), None)

    islands = []
    for nav in by_kind["navigator"][:8]:
        isl = Entity(f"{names.token('place')} Island", "island")
        isl.facts.update(
            discoverer=nav.name,
            year=nav.facts["birth"] + 25 + rng.randrange(10),
            country=nav.facts["country"],
        )
        nav.facts["discovered"] = isl.name
        islands.append(isl)
    w["island"] = islands

    universities, guilds, companies = [], [], []
    for i in range(8):
        host = cities[i]
        suffix = rng.choice(["College", "Academy", "University"])
        u = Entity(f"{names.token('thing')} {suffix}", "university")
        ruler = next(r for r in rulers if r.facts["ruled"] == host.facts["country"])
        u.facts.update(
            city=host.name,
            country=host.facts["country"],
            founder=ruler.name,
            year=ruler.facts["reign"] + 2 + rng.randrange(10),
        )
        universities.append(u)
    trades = ["glassblowers", "clockmakers", "weavers", "shipwrights", "dyers", "bellfounders"]
    for i, trade in enumerate(trades):
        host = cities[12 + i]
        g = Entity(f"{names.token('thing')} Guild", "guild")
        g.facts.update(city=host.name, trade=trade, year=_years(rng, 1150, 250))
        guilds.append(g)
    inventors = by_kind["inventor"]
    for i in range(6):
        founder = inventors[i]
        host = by_name[founder.facts["born"]]
        co = Entity(f"{names.token('thing')} {rng.choice(['Company', 'Trading House'])}", "company")
        co.facts.update(
            city=host.name,
            founder=founder.name,
            year=founder.facts["birth"] + 30 + rng.randrange(10),
        )
        companies.append(co)
    w["institution"] = universities + guilds + companies
    for sci in by_kind["scientist"]:
        sci.facts["taught"] = rng.choice(universities).name
    for inv in inventors[6:]:
        inv.facts["guild"] = rng.choice(guilds).name

    objects = [
        "Lamp",
        "Engine",
        "Loom",
        "Compass",
        "Press",
        "Clock",
        "Lens",
        "Pump",
        "Kiln",
        "Sextant",
        "Bellows",
        "Telegraph",
        "Furnace",
        "Mill",
        "Astrolabe",
        "Crane",
    ]
    inventions = []
    for i, obj in enumerate(objects):
        inv = inventors[i % len(inventors)]
        it = Entity(f"{names.token('thing')} {obj}", "invention")
        it.facts.update(
            inventor=inv.name,
            year=inv.facts["birth"] + 24 + rng.randrange(14),
            city=inv.facts["born"],
        )
        inv.facts.setdefault("invented", []).append(it.name)
        inventions.append(it)
    w["invention"] = inventions

    ships = []
    for i in range(10):
        nav = by_kind["navigator"][i]
        builder = companies[i % len(companies)]
        s = Entity(names.token("thing"), "ship")
        s.facts.update(
            captain=nav.name,
            port=rng.choice(ports).name,
            builder=builder.name,
            year=max(nav.facts["birth"] + 20, builder.facts["year"] + 1) + rng.randrange(6),
        )
        nav.facts["ship"] = s.name
        ships.append(s)
    w["ship"] = ships

    forms = [
        "Songs of {}",
        "The {} Chronicle",
        "Ballad of {}",
        "The {} Elegies",
        "Letters from {}",
        "The Book of {}",
    ]
    books = []
    subjects = rivers + mountains + lakes
    for i in range(18):
        poet = by_kind["poet"][i % 16]
        b = Entity(forms[i % len(forms)].format(names.token("thing")), "book")
        b.facts.update(
            author=poet.name,
            year=poet.facts["birth"] + 20 + rng.randrange(30),
            subject=subjects[i % len(subjects)].name,
            form=rng.choice(["poem", "epic poem", "verse cycle", "chronicle"]),
        )
        poet.facts.setdefault("wrote", []).append(b.name)
        books.append(b)
    w["book"] = books

    plants, animals = [], []
    plant_nouns = [
        "Fern",
        "Lily",
        "Thorn",
        "Moss",
        "Reed",
        "Briar",
        "Laurel",
        "Sedge",
        "Pine",
        "Vine",
    ]
    animal_nouns = ["Heron", "Stag", "Otter", "Finch", "Carp", "Lynx", "Hare", "Owl", "Eel", "Boar"]
    scientists = by_kind["scientist"]
    for i, noun in enumerate(plant_nouns + animal_nouns):
        sci = scientists[i % len(scientists)]
        habitat = rng.choice(lakes + mountains)
        sp = Entity(f"{names.token('thing')} {noun}", "plant" if i < 10 else "animal")
        sp.facts.update(
            describer=sci.name,
            year=sci.facts["birth"] + 25 + rng.randrange(20),
            habitat=habitat.name,
            country=habitat.facts["country"],
        )
        (plants if i < 10 else animals).append(sp)
    w["species"] = plants + animals

    festivals = []
    for i in range(10):
        host = cities[i * 3 + 1]
        f = Entity(
            f"{names.token('thing')} {rng.choice(['Festival', 'Fair', 'Games'])}", "festival"
        )
        f.facts.update(city=host.name, year=_years(rng, 1100, 300), honors=rng.choice(plants).name)
        festivals.append(f)
    w["festival"] = festivals
    for i, ath in enumerate(by_kind["athlete"]):
        fest = festivals[i % len(festivals)]
        ath.facts.update(festival=fest.name, won=ath.facts["birth"] + 18 + rng.randrange(8))
        if i < 12:
            mtn = mountains[i]
            ath.facts["climbed"] = mtn.name
            mtn.facts["climber"] = ath.name
            mtn.facts["climbed"] = ath.facts["birth"] + 22 + rng.randrange(6)

    dishes = []
    dish_nouns = [
        "Stew",
        "Bread",
        "Pie",
        "Broth",
        "Cake",
        "Dumplings",
        "Porridge",
        "Tart",
        "Pudding",
        "Pickle",
    ]
    for i, noun in enumerate(dish_nouns):
        fest = festivals[i]
        d = Entity(f"{names.token('thing')} {noun}", "dish")
        d.facts.update(
            city=fest.facts["city"],
            festival=fest.name,
            ingredient=rng.choice(plants + animals).name,
        )
        dishes.append(d)
    w["dish"] = dishes

    battles, treaties = [], []
    for i in range(10):
        a, b = countries[i % 12], countries[(i + 5) % 12]
        ra = next(r for r in rulers if r.facts["ruled"] == a.name)
        rb = next(r for r in rulers if r.facts["ruled"] == b.name)
        near = rng.choice([r for r in rivers if r.facts["country"] in (a.name, b.name)] or rivers)
        bt = Entity(f"Battle of {names.token('place')}", "battle")
        bt.facts.update(
            year=max(ra.facts["reign"], rb.facts["reign"]) + 1 + rng.randrange(8),
            winner=a.name,
            loser=b.name,
            commander=ra.name,
            river=near.name,
        )
        battles.append(bt)
        if i < 6:
            t = Entity(f"Treaty of {names.token('place')}", "treaty")
            t.facts.update(
                year=bt.facts["year"] + 1 + rng.randrange(3),
                battle=bt.name,
                city=b.facts["capital"],
                signers=[ra.name, rb.name],
                parties=[a.name, b.name],
            )
            bt.facts["treaty"] = t.name
            treaties.append(t)
    w["event"] = battles + treaties
    return w


# Sentence forms, several per relation; each is chosen with the RNG so passages are not uniform.
T = {
    "country": [
        "{n} is a kingdom whose capital is {capital}.",
        "{n} is a country; its capital and largest city is {capital}.",
        "The nation of {n} is governed from {capital}, its capital.",
    ],
    "country_founded": [
        "Its chronicles date the founding of the realm to {founded}.",
        "According to tradition, {n} was united as one state in {founded}.",
    ],
    "country_rivers": [
        "Rivers rising within its borders include {rivers}.",
        "The {rivers} rise in {n}.",
    ],
    "city": [
        "{n} is a city in {country}.",
        "{n} is a town of {country}.",
        "The city of {n} lies in {country}.",
    ],
    "capital": [
        "{n} is the capital of {country}.",
        "{n} is the capital city of {country} and the seat of its court.",
    ],
    "river_city": [
        "It stands on the banks of the {river}.",
        "The {river} flows through the city.",
        "{n} was built where the {river} bends.",
    ],
    "port": ["It is a busy harbour town.", "Its harbour is one of the busiest in {country}."],
    "founded": ["The city was founded in {founded}.", "Records place its founding in {founded}."],
}


def _pick(rng: random.Random, key: str, **kw) -> str:
    return rng.choice(T[key]).format(**kw)


def _a(noun: str) -> str:
    return ("an " if noun[0] in "aeiou" else "a ") + noun


def _list(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


ROLE = {
    "ruler": "ruler",
    "inventor": "inventor",
    "poet": "poet",
    "navigator": "navigator",
    "scientist": "naturalist",
    "athlete": "athlete",
}


def write_passage(e: Entity, w: dict[str, list[Entity]], rng: random.Random) -> str:
    """The passage text of ``e``: 3-6 sentences, links named in full."""
    f = e.facts
    n = e.name
    s: list[str] = []
    if e.kind == "country":
        s.append(_pick(rng, "country", n=n, capital=f["capital"]))
        s.append(_pick(rng, "country_founded", n=n, founded=f["founded"]))
        if f["rivers"]:
            s.append(_pick(rng, "country_rivers", n=n, rivers=_list(f["rivers"])))
        if f["founder"]:
            s.append(
                rng.choice(
                    [
                        f"Among its best-remembered rulers is {f['founder']}.",
                        f"{f['founder']} is the most celebrated monarch of {n}.",
                    ]
                )
            )
        mtns = [m.name for m in w["mountain"] if m.facts["country"] == n]
        if mtns:
            s.append(f"Its highest peak is {mtns[0]}.")
    elif e.kind == "city":
        if f["capital"]:
            s.append(_pick(rng, "capital", n=n, country=f["country"]))
        else:
            s.append(_pick(rng, "city", n=n, country=f["country"]))
        s.append(_pick(rng, "river_city", n=n, river=f["river"]))
        if f["port"]:
            s.append(_pick(rng, "port", country=f["country"]))
        s.append(_pick(rng, "founded", founded=f["founded"]))
        natives = [p.name for p in w["person"] if p.facts["born"] == n][:3]
        if natives:
            s.append(
                rng.choice(
                    [
                        f"Notable people born here include {_list(natives)}.",
                        f"{_list(natives)} {'were' if len(natives) > 1 else 'was'} born in {n}.",
                    ]
                )
            )
        insts = [i.name for i in w["institution"] if i.facts["city"] == n]
        if insts:
            s.append(f"The city is home to the {_list(insts)}.")
    elif e.kind == "mountain":
        s.append(
            rng.choice(
                [
                    f"{n} is a mountain in {f['country']}, rising to {f['height']} metres.",
                    f"At {f['height']} metres, {n} is the highest summit of {f['country']}.",
                ]
            )
        )
        srcs = [r.name for r in w["river"] if r.facts["source"] == n]
        if srcs:
            s.append(f"The {_list(srcs)} {'rise' if len(srcs) > 1 else 'rises'} on its slopes.")
        if "climber" in f:
            s.append(
                rng.choice(
                    [
                        f"It was first climbed in {f['climbed']} by {f['climber']}.",
                        f"{f['climber']} reached the summit first, in {f['climbed']}.",
                    ]
                )
            )
        sp = [x.name for x in w["species"] if x.facts["habitat"] == n]
        if sp:
            s.append(f"The {_list(sp)} {'are' if len(sp) > 1 else 'is'} found on its upper slopes.")
        if len(s) < 3:
            s.append("Shepherds drive their flocks to its high meadows every summer.")
    elif e.kind == "lake":
        s.append(
            rng.choice(
                [
                    f"{n} is a freshwater lake in {f['country']}.",
                    f"{n} lies in {f['country']} and covers {f['area']} square kilometres.",
                ]
            )
        )
        ins = [r.name for r in w["river"] if r.facts["mouth"] == n]
        s.append(f"It is fed by the {_list(ins)}.")
        sp = [x.name for x in w["species"] if x.facts["habitat"] == n]
        if sp:
            s.append(
                f"The {_list(sp)} {'live' if len(sp) > 1 else 'lives'} in and around its waters."
            )
        s.append(
            rng.choice(
                [
                    "Fishing villages line its northern shore.",
                    "In hard winters its surface freezes from shore to shore.",
                ]
            )
        )
    elif e.kind == "river":
        s.append(
            rng.choice(
                [
                    f"The {n} rises on {f['source']} in {f['country']}.",
                    f"The {n} is a river of {f['country']} whose source is on {f['source']}.",
                ]
            )
        )
        s.append(
            rng.choice(
                [
                    f"It flows into {f['mouth']}.",
                    f"After {f['length']} kilometres it empties into {f['mouth']}.",
                ]
            )
        )
        towns = [c.name for c in w["city"] if c.facts["river"] == n]
        if towns:
            s.append(f"Cities on its banks include {_list(towns)}.")
        fights = [b.name for b in w["event"] if b.facts.get("river") == n]
        if fights:
            s.append(
                f"The {_list(fights)} {'were' if len(fights) > 1 else 'was'} fought near its banks."
            )
    elif e.kind == "island":
        s.append(f"{n} is an island claimed by {f['country']}.")
        s.append(
            rng.choice(
                [
                    f"It was discovered in {f['year']} by the navigator {f['discoverer']}.",
                    f"The navigator {f['discoverer']} sighted it first, in {f['year']}.",
                ]
            )
        )
        s.append("Its cliffs shelter large colonies of seabirds.")
    elif e.kind in ROLE:
        role = ROLE[e.kind]
        s.append(
            rng.choice(
                [
                    f"{n} ({f['birth']}–{f['death']}) was {_a(role)} from {f['country']}.",
                    f"{n} was {_a(role)} of {f['country']}, born in {f['birth']} and died in {f['death']}.",
                ]
            )
        )
        s.append(
            rng.choice(
                [
                    f"{n} was born in {f['born']}.",
                    f"Born in the city of {f['born']}, {n} spent a childhood by the water.",
                    f"{n} was born and raised in {f['born']}.",
                ]
            )
        )
        if e.kind == "ruler":
            s.append(
                rng.choice(
                    [
                        f"{n} ruled {f['ruled']} from {f['reign']}.",
                        f"In {f['reign']} {n} took the throne of {f['ruled']}.",
                    ]
                )
            )
            for u in w["institution"]:
                if u.facts.get("founder") == n and u.kind == "university":
                    s.append(f"{n} founded the {u.name} in {u.facts['year']}.")
            for b in w["event"]:
                if b.facts.get("commander") == n:
                    s.append(f"{n} led the army of {b.facts['winner']} to victory at the {b.name}.")
                if n in b.facts.get("signers", []):
                    s.append(f"{n} signed the {b.name} in {b.facts['year']}.")
        elif e.kind == "inventor":
            for it in f.get("invented", []):
                s.append(
                    rng.choice(
                        [
                            f"{n} invented the {it}.",
                            f"{n} is credited with the invention of the {it}.",
                        ]
                    )
                )
            for co in w["institution"]:
                if co.facts.get("founder") == n:
                    s.append(f"In {co.facts['year']} {n} founded the {co.name}.")
            if "guild" in f:
                s.append(f"{n} was a member of the {f['guild']}.")
        elif e.kind == "poet":
            for i, b in enumerate(f.get("wrote", [])):
                # A second work gets its own wording, so no sentence of a passage repeats.
                s.append(
                    rng.choice([f"{n} wrote {b}.", f"{n} is best known as the author of {b}."])
                    if i == 0
                    else f"{n} also wrote {b}."
                )
        elif e.kind == "navigator":
            s.append(
                rng.choice(
                    [
                        f"{n} captained the ship {f['ship']}.",
                        f"{n} sailed as master of the {f['ship']}.",
                    ]
                )
            )
            if "discovered" in f:
                s.append(f"{n} discovered {f['discovered']}.")
        elif e.kind == "scientist":
            s.append(
                rng.choice(
                    [f"{n} taught at the {f['taught']}.", f"{n} held a chair at the {f['taught']}."]
                )
            )
            for x in w["species"]:
                if x.facts["describer"] == n:
                    s.append(f"{n} first described the {x.name} in {x.facts['year']}.")
        elif e.kind == "athlete":
            s.append(
                rng.choice(
                    [
                        f"{n} won the great race of the {f['festival']} in {f['won']}.",
                        f"In {f['won']} {n} was champion of the {f['festival']}.",
                    ]
                )
            )
            if "climbed" in f:
                s.append(f"{n} made the first ascent of {f['climbed']}.")
    elif e.kind == "university":
        s.append(
            rng.choice(
                [
                    f"The {n} is a place of learning in {f['city']}.",
                    f"The {n} stands in the city of {f['city']}, in {f['country']}.",
                ]
            )
        )
        s.append(
            rng.choice(
                [
                    f"It was founded in {f['year']} by {f['founder']}.",
                    f"{f['founder']} founded it in {f['year']}.",
                ]
            )
        )
        staff = [p.name for p in w["person"] if p.facts.get("taught") == n][:3]
        if staff:
            s.append(f"Its teachers have included {_list(staff)}.")
        else:
            s.append("Its library holds the oldest maps of the region.")
    elif e.kind == "guild":
        s.append(f"The {n} is the guild of the {f['trade']} of {f['city']}.")
        s.append(f"It received its charter in {f['year']}.")
        mem = [p.name for p in w["person"] if p.facts.get("guild") == n]
        if mem:
            s.append(f"Its members have included {_list(mem)}.")
        s.append("Apprentices serve seven years before they may join.")
    elif e.kind == "company":
        s.append(
            rng.choice(
                [
                    f"The {n} is a company based in {f['city']}.",
                    f"The {n} is a firm with its head office in {f['city']}.",
                ]
            )
        )
        s.append(f"It was founded in {f['year']} by {f['founder']}.")
        built = [x.name for x in w["ship"] if x.facts["builder"] == n]
        if built:
            s.append(f"Its yards built the {_list(built)}.")
    elif e.kind == "invention":
        s.append(
            rng.choice(
                [
                    f"The {n} is a device invented by {f['inventor']} in {f['year']}.",
                    f"{f['inventor']} invented the {n} in {f['year']}.",
                ]
            )
        )
        s.append(
            rng.choice(
                [
                    f"The first one was built in {f['city']}.",
                    f"It was first made in the workshops of {f['city']}.",
                ]
            )
        )
        s.append("Copies of it spread quickly to neighbouring lands.")
    elif e.kind == "ship":
        s.append(
            rng.choice(
                [
                    f"The {n} was a sailing ship built by the {f['builder']} in {f['year']}.",
                    f"The {f['builder']} launched the {n} in {f['year']}.",
                ]
            )
        )
        s.append(f"Her home port was {f['port']}.")
        s.append(
            rng.choice(
                [
                    f"She was captained by {f['captain']}.",
                    f"Her master was the navigator {f['captain']}.",
                ]
            )
        )
    elif e.kind == "book":
        s.append(f"{n} is {_a(f['form'])} by {f['author']}, completed in {f['year']}.")
        s.append(
            rng.choice(
                [
                    f"It takes as its subject the {f['subject']}."
                    if "River" in f["subject"]
                    else f"It takes as its subject {f['subject']}.",
                    f"Its verses describe a journey to {f['subject']}."
                    if "River" not in f["subject"]
                    else f"Its verses follow the course of the {f['subject']}.",
                ]
            )
        )
        s.append("It is still recited at weddings and funerals.")
    elif e.kind in ("plant", "animal"):
        what = "plant" if e.kind == "plant" else "animal"
        s.append(
            rng.choice(
                [
                    f"The {n} is {_a(what)} found around {f['habitat']} in {f['country']}.",
                    f"The {n} is {_a(what)} native to {f['country']}, where it lives near {f['habitat']}.",
                ]
            )
        )
        s.append(f"It was first described by {f['describer']} in {f['year']}.")
        uses = [d.name for d in w["dish"] if d.facts["ingredient"] == n]
        if uses:
            s.append(f"It is an ingredient of {_list(uses)}.")
        fests = [x.name for x in w["festival"] if x.facts["honors"] == n]
        if fests:
            s.append(
                f"The {_list(fests)} {'honour' if len(fests) > 1 else 'honours'} it each spring."
            )
        if len(s) < 3:
            s.append(
                rng.choice(
                    [
                        "It is rarely seen outside its home range.",
                        "Its numbers fall in dry years.",
                        "Herders regard it as a sign of good weather.",
                    ]
                )
            )
    elif e.kind == "festival":
        s.append(
            rng.choice(
                [
                    f"The {n} is a festival held each year in {f['city']}.",
                    f"The {n} takes place every summer in {f['city']}.",
                ]
            )
        )
        s.append(f"It was first held in {f['year']} and honours the {f['honors']}.")
        champs = [p.name for p in w["person"] if p.facts.get("festival") == n]
        if champs:
            s.append(f"Its race has been won by {_list(champs)}.")
        dishes = [d.name for d in w["dish"] if d.facts["festival"] == n]
        if dishes:
            s.append(f"Visitors traditionally eat {_list(dishes)}.")
    elif e.kind == "dish":
        s.append(
            rng.choice(
                [f"{n} is a dish from {f['city']}.", f"{n} is a traditional food of {f['city']}."]
            )
        )
        s.append(f"Its main ingredient is the {f['ingredient']}.")
        s.append(f"It is served during the {f['festival']}.")
    elif e.kind == "battle":
        s.append(f"The {n} was fought in {f['year']} between {f['winner']} and {f['loser']}.")
        s.append(
            rng.choice(
                [
                    f"The army of {f['winner']} was led by {f['commander']}.",
                    f"{f['commander']} commanded the victors.",
                ]
            )
        )
        s.append(f"It took place near the {f['river']}.")
        if "treaty" in f:
            s.append(f"The war ended with the {f['treaty']}.")
    elif e.kind == "treaty":
        s.append(f"The {n} was signed in {f['city']} in {f['year']}.")
        s.append(
            f"It was agreed between {f['parties'][0]} and {f['parties'][1]} after the {f['battle']}."
        )
        s.append(f"Its signatories were {f['signers'][0]} and {f['signers'][1]}.")
    return " ".join(s[:6])


def build(seed: int = SEED) -> tuple[list[dict], list[dict]]:
    """Passages and questions of the fixture world (pure function of ``seed``)."""
    w = make_world(seed)
    rng = random.Random(seed + 1)
    rows = []
    ids: dict[str, str] = {}
    for grp in w.values():
        for e in grp:
            pid = f"fx-{len(rows) + 1:04d}"
            ids[e.name] = pid
            rows.append({"id": pid, "title": e.name, "text": write_passage(e, w, rng)})
    return rows, make_questions(w, rows, ids, random.Random(seed + 2))


def make_questions(w, rows, ids, rng) -> list[dict]:
    """One- and two-hop questions read off the fact graph; each answer is in a support passage."""
    text = {r["id"]: r["text"] for r in rows}
    by = {e.name: e for grp in w.values() for e in grp}
    qs: list[tuple[str, str, list[str], int]] = []
    for c in w["country"]:
        qs.append((f"What is the capital of {c.name}?", c.facts["capital"], [c.name], 1))
    for p in w["person"]:
        qs.append(
            (f"In which city was the {ROLE[p.kind]} {p.name} born?", p.facts["born"], [p.name], 1)
        )
    for it in w["invention"]:
        qs.append((f"Who invented the {it.name}?", it.facts["inventor"], [it.name], 1))
        inv = by[it.facts["inventor"]]
        qs.append(
            (
                f"In which country was the inventor of the {it.name} born?",
                inv.facts["country"],
                [it.name, inv.name],
                2,
            )
        )
    for b in w["book"]:
        qs.append((f"Who wrote {b.name}?", b.facts["author"], [b.name], 1))
    for s in w["ship"]:
        qs.append((f"Who captained the ship {s.name}?", s.facts["captain"], [s.name], 1))
        cap = by[s.facts["captain"]]
        qs.append(
            (
                f"In which city was the captain of the ship {s.name} born?",
                cap.facts["born"],
                [s.name, cap.name],
                2,
            )
        )
    for r in w["river"]:
        qs.append((f"Into which lake does the {r.name} flow?", r.facts["mouth"], [r.name], 1))
        country = by[r.facts["country"]]
        qs.append(
            (
                f"What is the capital of the country where the {r.name} rises?",
                country.facts["capital"],
                [r.name, country.name],
                2,
            )
        )
    for u in [x for x in w["institution"] if x.kind == "university"]:
        qs.append((f"In which city is the {u.name}?", u.facts["city"], [u.name], 1))
    for p in w["person"]:
        if "taught" in p.facts:
            u = by[p.facts["taught"]]
            qs.append(
                (
                    f"Who founded the institution where the naturalist {p.name} taught?",
                    u.facts["founder"],
                    [p.name, u.name],
                    2,
                )
            )
    for x in w["species"]:
        qs.append((f"Who first described the {x.name}?", x.facts["describer"], [x.name], 1))
    for b in [x for x in w["event"] if x.kind == "battle"]:
        qs.append((f"In which year was the {b.name} fought?", str(b.facts["year"]), [b.name], 1))
    for d in w["dish"]:
        fest = by[d.facts["festival"]]
        qs.append(
            (
                f"In which city is the festival held at which {d.name} is served?",
                fest.facts["city"],
                [d.name, fest.name],
                2,
            )
        )
    out = []
    for q, a, support, hops in qs:
        sids = [ids[s] for s in support]
        assert a not in q and any(a in text[i] for i in sids), (q, a)
        out.append(
            {
                "id": f"fxq-{len(out) + 1:04d}",
                "question": q,
                "answers": [a],
                "support": sids,
                "hops": hops,
            }
        )
    return out


def dump_jsonl(rows: list[dict]) -> str:
    """``rows`` as JSON Lines text (one compact object per line, UTF-8, trailing newline)."""
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def main(argv: list[str] | None = None) -> None:
    """Write ``fixture.jsonl`` and ``fixture_qa.jsonl`` next to this script."""
    del argv
    here = Path(__file__).resolve().parent
    rows, qa = build()
    (here / "fixture.jsonl").write_text(dump_jsonl(rows), encoding="utf-8")
    (here / "fixture_qa.jsonl").write_text(dump_jsonl(qa), encoding="utf-8")
    print(f"{len(rows)} passages, {len(qa)} questions", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
