"""Roles that name one real person: "the russian president", "the king of spain", "the 44th
president", "the current pope", "the lead singer of <a band>", "the actor who played <a character>".

Contract: `find_roles(text)` returns lexicon `Hit`s of category "real_person" for definite
descriptions of a public figure that no list of names holds, read from the canonical words of
`text` (`kinema.safety.normalize.canonical`, benign phrases of `allow.txt` removed). Patterns:

1. office + country, either order: "the french president", "japan's prime minister", "the prime
   minister of japan", "the queen of denmark", "north korea's supreme leader";
2. an ordinal with a head-of-state office: "the 44th president", "the forty-fifth president";
3. a time word with an office: "the current pope", "the late queen", "the former chancellor";
   unless the office is "of" something that is not a country ("the former president of the chess
   club", "the current king of the castle" pass);
4. a person's role tied to something famous by a lexicon name: "the lead singer of <band>", "the
   founder of <company>", "the actor who played <character>", "the star of <franchise>", where
   the name is a famous organisation (`[organisations]`) or a real_person or copyright lexicon term. (Such prompts are refused by the name
   anyway; this pattern labels them as the real person they describe.)

Offices alone ("the president gives a speech", "a queen bee", "the king piece") and offices of
things that are not countries pass: a role is a real person only when it points at one.
Vocabularies are in `data/lexicon/roles.txt` (sections `[offices]`, `[countries]`, `[time]`,
`[person_roles]`, `[links]`, `[organisations]`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from kinema.safety.lexicon import Hit, find_terms, without_allowed

ROLES_PATH = Path(__file__).parent / "data" / "lexicon" / "roles.txt"
ORDINAL = re.compile(r"^(\d+)(st|nd|rd|th)$")
ORDINAL_WORDS = frozenset({
    "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth", "eleventh", "twelfth",
    "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth", "eighteenth", "nineteenth", "twentieth",
    "thirtieth", "fortieth", "fiftieth",
})
ORDINAL_TENS = frozenset({"twenty", "thirty", "forty", "fifty"})  # "forty fifth" after splitting "forty-fifth"
HEAD_OF_STATE = frozenset({"president", "prime minister", "chancellor", "pope", "premier"})
GENERIC_OFFICES = frozenset({"leader"})  # "the current leader crosses the line": a race, not a state
SKIP = frozenset({"the", "a", "an", "of", "current", "former", "late"})
LOOK_AHEAD = 4  # words after a role's link where the famous name may start


@dataclass(frozen=True)
class Roles:
    offices: tuple[tuple[str, ...], ...]  # longest first
    countries: tuple[tuple[str, ...], ...]  # nouns and adjectives, longest first
    time: tuple[tuple[str, ...], ...]  # "current", "newly elected", longest first
    person_roles: tuple[tuple[str, ...], ...]
    links: tuple[tuple[str, ...], ...]  # "of", "who played", "from", ...
    organisations: tuple[tuple[str, ...], ...]  # companies and institutions people are famous for


@lru_cache(maxsize=1)
def load_roles() -> Roles:
    """Read `roles.txt` once per process."""
    sections: dict[str, list[tuple[str, ...]]] = {}
    current = None
    for raw in ROLES_PATH.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
            sections[current] = []
            continue
        if current is None:
            raise ValueError(f"{ROLES_PATH.name}: entry {line!r} before any [section]")
        words = tuple(re.split(r"[^a-z0-9]+", line.lower()))
        sections[current].append(tuple(w for w in words if w))
    expected = {"offices", "countries", "time", "person_roles", "links", "organisations"}
    if set(sections) != expected:
        raise ValueError(f"{ROLES_PATH.name} has sections {sorted(sections)}; expected {sorted(expected)}")

    def longest(name: str) -> tuple[tuple[str, ...], ...]:
        return tuple(sorted(set(sections[name]), key=len, reverse=True))

    return Roles(longest("offices"), longest("countries"), longest("time"),
                 longest("person_roles"), longest("links"), longest("organisations"))


def _match(words: list[str], at: int, phrases: tuple[tuple[str, ...], ...]) -> int:
    """Length of the longest phrase starting at `at` (plural -s allowed on its last word), or 0."""
    for phrase in phrases:
        n = len(phrase)
        if at + n <= len(words) and tuple(words[at : at + n - 1]) == phrase[:-1] and words[at + n - 1] in (phrase[-1], phrase[-1] + "s"):
            return n
    return 0


def _country_after(words: list[str], at: int, roles: Roles) -> bool | None:
    """After an office: True if "of [the] <country>" follows, False if "of <something else>",
    None if no "of" follows."""
    if at >= len(words) or words[at] != "of":
        return None
    at += 1
    if at < len(words) and words[at] == "the":
        at += 1
    if at < len(words) and words[at] == "us":  # "the king of us all": the pronoun, not the country
        return False
    return _match(words, at, roles.countries) > 0


def _phrase_before(words: list[str], at: int, phrases: tuple[tuple[str, ...], ...]) -> int:
    """Length of the longest phrase that ends right before `at`, or 0."""
    return next((len(p) for p in phrases if at - len(p) >= 0 and tuple(words[at - len(p) : at]) == p), 0)


def _country_before(words: list[str], at: int, roles: Roles) -> bool:
    """Whether a country noun or adjective ends right before `at` ("russian president",
    "north korea president"; possessives are already gone: "japan's" -> "japan")."""
    return _phrase_before(words, at, roles.countries) > 0


def _ordinal_before(words: list[str], at: int) -> bool:
    if at == 0:
        return False
    word = words[at - 1]
    match = ORDINAL.match(word)
    if match and int(match.group(1)) >= 2:
        return True
    return word in ORDINAL_WORDS or (at >= 2 and words[at - 2] in ORDINAL_TENS and word in ORDINAL_WORDS | {"first"})


def _famous_name(words: list[str], start: int, roles: Roles) -> Hit | None:
    """A famous organisation at `start`, or a real_person or copyright lexicon term among the
    LOOK_AHEAD words from it (names are at most a few words, so the window reaches a little
    further to hold a whole one)."""
    n = _match(words, start, roles.organisations)
    if n:
        return Hit("real_person", "organisation", " ".join(words[start : start + n]))
    for hit in find_terms(" ".join(words[start : start + LOOK_AHEAD + 2])):
        if hit.category in ("real_person", "copyright"):
            return hit
    return None


def find_roles(text: str) -> list[Hit]:
    """Definite descriptions of one real person in `text` (see the module docstring)."""
    roles = load_roles()
    words = without_allowed(text).split()
    hits: dict[str, Hit] = {}
    for i in range(len(words)):
        n = _match(words, i, roles.offices)
        if n:
            office = " ".join(words[i : i + n])
            after = _country_after(words, i + n, roles)
            if after or _country_before(words, i, roles):
                hits.setdefault(office + " of a country", Hit("real_person", "office + country", " ".join(words[max(0, i - 2) : i + n + 3])))
            elif office in HEAD_OF_STATE and _ordinal_before(words, i) and after is not False:
                hits.setdefault(office + " ordinal", Hit("real_person", "ordinal + office", " ".join(words[max(0, i - 2) : i + n])))
            elif (when := _phrase_before(words, i, roles.time)) and after is not False and office not in GENERIC_OFFICES:
                hits.setdefault(office + " time", Hit("real_person", "time word + office", " ".join(words[i - when : i + n])))
        n = _match(words, i, roles.person_roles)
        if n:
            link = _match(words, i + n, roles.links)
            if link:
                start = i + n + link
                while start < len(words) and words[start] in SKIP:
                    start += 1
                name = _famous_name(words, start, roles)
                if name is not None:
                    found = " ".join(words[i : i + n + link]) + f" ... {name.found}"
                    hits.setdefault(found, Hit("real_person", "role + famous name", found))
    return list(hits.values())
