"""Category lexicons: whole-word and phrase matching over normalised token views.

Contract: `find_terms(text)` returns the `Hit`s (category, the lexicon term, the words matched)
in `text`, after the normalisation of `kinema.safety.normalize`. Lexicons live in
`kinema/safety/data/lexicon/<category>.txt` (the format is in the README there): strong terms
refuse on their own; ambiguous ones (`~kill`) only next to a living target; phrases in
`allow.txt` ("photo shoot", "blood orange") hide their words from every lexicon, hyphenated or
not ("one-piece swimsuit"). A hit is `contextual` when its word has common harmless senses that
only the sentence decides: every violence and sexual term ("a rugby hooker", "goes in for the
kill") and names marked `?` ("turning red"); `kinema.safety.prompt` lets the semantic layer
overrule those when it is sure the prompt is harmless.

Matching is by token sequence, so word boundaries are exact: "skill" never matches "kill", "class"
never matches "ass". Each position of a view holds several candidate spellings, and a term
matches if each of its words is among the candidates at consecutive positions.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from kinema.safety.normalize import canonical, fold, split_tokens, views

CATEGORIES: tuple[str, ...] = ("sexual", "violence", "hate", "real_person", "copyright")  # priority order
LEXICON_DIR = Path(__file__).parent / "data" / "lexicon"
INFLECTED = frozenset({"violence", "sexual", "hate"})  # verbs and nouns; names only take -s
TARGET_AFTER = 4  # words after an ambiguous term where a target makes it a hit ("shoot the man")
TARGET_BEFORE = 3  # words before it, with an auxiliary between ("the man was shot")
AUXILIARIES = frozenset({"was", "were", "is", "are", "be", "been", "being", "gets", "got", "get", "getting"})
# Categories whose words ("naked", "hooker", "blow up", "kill") carry their harm only in context;
# slurs (hate) and names (real_person, copyright: unless marked `?`) do not depend on it.
CONTEXTUAL = frozenset({"violence", "sexual"})
MAX_ALLOW_GLUE = 4  # allow phrases up to this many words are also matched with hyphens glued ("one-piece")


@dataclass(frozen=True)
class Term:
    category: str
    text: str  # as written in the lexicon
    words: tuple[str, ...]  # normalised words, the first one possibly inflected
    weak: bool  # needs a living target nearby
    soft: bool = False  # a name with a common harmless sense (`?turning red`): contextual


@dataclass(frozen=True)
class Hit:
    category: str
    term: str  # the lexicon entry
    found: str  # the words of the prompt that matched it (normalised)
    contextual: bool = False  # its sense depends on the sentence (see the module doc)


@dataclass(frozen=True)
class Lexicon:
    by_first: dict[str, tuple[Term, ...]]  # first word -> terms starting with it
    targets: frozenset[str]
    blockers: frozenset[str]
    allow: tuple[tuple[str, ...], ...]  # benign phrases, as word tuples


def inflections(word: str) -> set[str]:
    """Regular English inflections of a verb or noun: kill -> kills, killed, killing, killer(s)."""
    forms = {word, word + "s", word + "es", word + "ed", word + "ing", word + "er", word + "ers"}
    if word.endswith("e"):
        forms |= {word + "d", word + "r", word + "rs", word[:-1] + "ing"}
    if word.endswith("y") and len(word) > 2 and word[-2] not in "aeiou":
        forms |= {word[:-1] + "ies", word[:-1] + "ied"}
    if len(word) >= 3 and word[-1] not in "aeiouwxy" and word[-2] in "aeiou" and word[-3] not in "aeiou":
        forms |= {word + word[-1] + "ed", word + word[-1] + "ing", word + word[-1] + "er"}  # stab -> stabbed
    return forms


def _words(text: str) -> tuple[str, ...]:
    return tuple(split_tokens(fold(text)))


def _read(name: str) -> list[str]:
    lines = (LEXICON_DIR / name).read_text(encoding="utf-8").splitlines()
    return [line.split("#", 1)[0].strip() for line in lines if line.split("#", 1)[0].strip()]


def _forms(category: str, words: tuple[str, ...], exact: bool) -> set[tuple[str, ...]]:
    """The word sequences that spell one lexicon entry."""
    if exact:
        return {words}
    if category in INFLECTED:  # verbs and nouns: kill -> kills, killed, killing, killer
        forms = {(first, *words[1:]) for first in inflections(words[0])}
    else:  # names and brands, also in the plural ("two mickey mouses")
        forms = {words, (*words[:-1], words[-1] + "s")}
    if len(words) > 1:  # written as one word: "spiderman", "mickeymouse", "donaldtrump"
        forms.add(("".join(words),))
        if category not in INFLECTED:
            forms.add(("".join(words) + "s",))
    return forms


def _terms(category: str) -> list[Term]:
    out = []
    for entry in _read(f"{category}.txt"):
        text = entry.lstrip("~=?")
        words = _words(text)
        if not words:
            raise ValueError(f"lexicon {category}.txt has an entry with no words: {entry!r}")
        for form in sorted(_forms(category, words, exact=entry.startswith("="))):
            out.append(Term(category, text, form, weak=entry.startswith("~"), soft=entry.startswith("?")))
    return out


def _single_words(name: str) -> list[str]:
    words = [_words(line) for line in _read(name)]
    bad = [" ".join(w) for w in words if len(w) != 1]
    if bad:
        raise ValueError(f"{name} holds single words only, got {bad}")
    return [w[0] for w in words]


@lru_cache(maxsize=1)
def load_lexicon() -> Lexicon:
    """Read every category file once per process."""
    by_first: dict[str, list[Term]] = defaultdict(list)
    for category in CATEGORIES:
        for term in _terms(category):
            by_first[term.words[0]].append(term)
    allow = tuple(sorted({glued for p in _read("allow.txt") for glued in _gluings(_words(p))}, key=len, reverse=True))
    return Lexicon(
        by_first={k: tuple(v) for k, v in by_first.items()},
        targets=frozenset(_single_words("targets.txt")),
        blockers=frozenset(_single_words("blockers.txt")),
        allow=allow,
    )


def _gluings(words: tuple[str, ...]) -> set[tuple[str, ...]]:
    """`words` with each subset of neighbouring pairs written as one word, as a hyphen is read in
    the glued view: ("one", "piece", "swimsuit") -> also ("onepiece", "swimsuit"), ..."""
    if len(words) < 2 or len(words) > MAX_ALLOW_GLUE:
        return {words}
    out = set()
    for joins in itertools.product((False, True), repeat=len(words) - 1):
        glued = [words[0]]
        for word, join in zip(words[1:], joins):
            if join:
                glued[-1] += word
            else:
                glued.append(word)
        out.add(tuple(glued))
    return out


def _allowed_positions(sequence: tuple[frozenset[str], ...], allow: tuple[tuple[str, ...], ...]) -> set[int]:
    hidden: set[int] = set()
    for phrase in allow:
        n = len(phrase)
        for start in range(len(sequence) - n + 1):
            if all(phrase[j] in sequence[start + j] for j in range(n)):
                hidden.update(range(start, start + n))
    return hidden


def _has_target(sequence: tuple[frozenset[str], ...], start: int, end: int, lexicon: Lexicon, possessive: bool) -> bool:
    for i in range(end, min(len(sequence), end + TARGET_AFTER)):
        if sequence[i] & lexicon.blockers:
            break
        if sequence[i] & lexicon.targets:
            return True
    for i in range(max(0, start - TARGET_BEFORE), start):
        # A body word needs no verb ("a woman's breasts"); a violent verb needs the passive.
        if sequence[i] & lexicon.targets and (possessive or any(sequence[j] & AUXILIARIES for j in range(i + 1, start))):
            return True
    return False


def find_terms(text: str) -> list[Hit]:
    """Every lexicon term found in any normalised view of `text`, in category priority order."""
    lexicon = load_lexicon()
    hits: dict[tuple[str, str], Hit] = {}
    for sequence in views(text).sequences:
        hidden = _allowed_positions(sequence, lexicon.allow)
        for start, forms in enumerate(sequence):
            if start in hidden:
                continue
            for form in forms:
                for term in lexicon.by_first.get(form, ()):
                    end = start + len(term.words)
                    if end > len(sequence) or any(i in hidden for i in range(start, end)):
                        continue
                    if not all(term.words[j] in sequence[start + j] for j in range(1, len(term.words))):
                        continue
                    if term.weak and not _has_target(sequence, start, end, lexicon, term.category == "sexual"):
                        continue
                    found = " ".join([form, *term.words[1:]])
                    contextual = term.category in CONTEXTUAL or term.soft
                    hits.setdefault((term.category, term.text), Hit(term.category, term.text, found, contextual))
    return sorted(hits.values(), key=lambda h: CATEGORIES.index(h.category))


def without_allowed(text: str) -> str:
    """The canonical form of `text` with its benign phrases ("killer whale", "photo shoot")
    removed: what the semantic layer reads, so that it judges the rest of the prompt."""
    words = canonical(text).split()
    sequence = tuple(frozenset({w}) for w in words)
    hidden = _allowed_positions(sequence, load_lexicon().allow)
    return " ".join(w for i, w in enumerate(words) if i not in hidden)
