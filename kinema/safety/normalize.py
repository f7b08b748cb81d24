"""Prompt normalisation: undo the tricks people use to slip words past a word list.

Contract: `views(text)` returns `Views`, several token sequences of the same prompt, each token a
set of candidate spellings, so that a lexicon matcher finds "kill" in "KILL", "k1ll", "k i l l",
"k.i.l.l", "kiiill", "kіll" (Cyrillic і) and "k\u200bill" (zero-width space), and "spiderman" in
"Spider-Man". `canonical(text)` is one readable normalised string for the semantic layer.

Steps, in order:
1. NFKC (full-width and styled letters to ASCII), remove format characters (zero-width spaces and
   joiners, soft hyphens, BOM: Unicode category Cf), case fold, strip accents (NFKD, drop marks),
   map Cyrillic and Greek lookalikes to Latin letters.
2. Leetspeak, per whitespace token, only where the decoded token is all letters and the token had
   a letter in it or is at least three characters long: "3 balls" keeps its number, "k1ll" and
   "@$$" are decoded; ordinals and decades ("44th", "1990s") are numbers and stay. "1" is read as both "i" and "l" (two variants).
3. Tokenisation two ways: split at every non-alphanumeric character ("k.i.l.l" -> k i l l) and
   glue each whitespace token ("k.i.l.l" -> kill, "spider-man" -> spiderman); a possessive 's
   and other apostrophes vanish ("mcdonald's" -> mcdonald, "don't" -> dont).
4. Runs of three or more single letters are joined ("k i l l" -> kill; also without a leading
   article "a k i l l" -> kill); letters repeated three or more times are tried as one and two
   ("kiiill" -> kil, kill, ...); a "*" inside a word is tried as each vowel ("n*de" -> nude);
   a capital I after a lower-case letter is also read as l ("ZeIensky" -> zelensky).
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# Lookalikes that NFKC leaves alone (Cyrillic and Greek lower case, after case folding).
CONFUSABLES: dict[str, str] = {
    # Cyrillic
    "а": "a", "б": "b", "в": "b", "г": "r", "е": "e", "ё": "e", "з": "3", "и": "u", "й": "u",
    "к": "k", "л": "n", "м": "m", "н": "h", "о": "o", "п": "n", "р": "p", "с": "c", "т": "t",
    "у": "y", "х": "x", "ч": "4", "ш": "w", "ь": "b", "ы": "bi", "і": "i", "ї": "i", "ј": "j",
    "ѕ": "s", "ԁ": "d", "ԛ": "q", "ԝ": "w", "ӏ": "l", "һ": "h", "ց": "g", "ս": "u", "օ": "o",
    # Greek
    "α": "a", "β": "b", "γ": "y", "δ": "d", "ε": "e", "ζ": "z", "η": "n", "θ": "o", "ι": "i",
    "κ": "k", "λ": "l", "μ": "u", "ν": "v", "ξ": "e", "ο": "o", "π": "n", "ρ": "p", "σ": "o",
    "ς": "c", "τ": "t", "υ": "u", "φ": "o", "χ": "x", "ψ": "w", "ω": "w",
    # Latin extensions and symbols NFKD does not reduce
    "ø": "o", "ł": "l", "đ": "d", "ß": "ss", "æ": "ae", "œ": "oe", "ı": "i", "ɡ": "g",
}
LEET_I: dict[str, str] = {
    "0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "6": "g", "7": "t", "8": "b", "9": "g",
    "@": "a", "$": "s", "!": "i", "|": "l", "+": "t", "€": "e", "£": "l",
}
LEET_L = {**LEET_I, "1": "l"}
VOWELS = "aeiouy"
EDGE_PUNCTUATION = ".,;:?!\"'()[]{}<>«»“”‘’"
MAX_SQUEEZE_VARIANTS = 16
NUMBER_WORD = re.compile(r"\d+(st|nd|rd|th|s)")  # "44th", "1990s": numbers, not leetspeak
CAPITAL_I_FOR_L = re.compile(r"(?<=[a-z])I")  # a capital I after a lower-case letter, a lookalike of l in sans-serif


@dataclass(frozen=True)
class Views:
    """Token sequences of one prompt; each token is the set of its candidate spellings."""

    sequences: tuple[tuple[frozenset[str], ...], ...]
    canonical: str  # one readable normalised form (leet decoded with 1 -> i, spaced letters joined)


def fold(text: str) -> str:
    """NFKC, drop format characters, case fold, strip accents, map lookalikes (step 1)."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return "".join(CONFUSABLES.get(ch, ch) for ch in text)


def _decode_token(token: str, table: dict[str, str]) -> str:
    core = token.strip(EDGE_PUNCTUATION) or token
    if not any(ch in table for ch in core) or NUMBER_WORD.fullmatch(core):
        return token
    decoded = "".join(table.get(ch, ch) for ch in core)
    has_letter = any(ch.isalpha() for ch in core)
    if re.fullmatch(r"[a-z'\-.*]+", decoded) and (has_letter or len(core) >= 3):
        return decoded
    return token


def decode_leet(text: str, table: dict[str, str] = LEET_I) -> str:
    """Step 2 on a folded string: decode leetspeak token by token where it yields a word."""
    return " ".join(_decode_token(token, table) for token in text.split())


def split_tokens(text: str) -> list[str]:
    """Split at every non-alphanumeric character except '*' (a masked letter); drop possessive
    's ("woman's" -> woman) and other apostrophes ("don't" -> dont)."""
    text = re.sub(r"['’]s\b", "", text)
    text = re.sub(r"['’]", "", text)
    return [t for t in re.split(r"[^a-z0-9*]+", text) if t.strip("*")]


def glue_tokens(text: str) -> list[str]:
    """Each whitespace token with everything but letters, digits and '*' removed (a possessive 's
    dropped first, as `split_tokens` does: "boutique's" -> boutique)."""
    out = [re.sub(r"[^a-z0-9*]", "", token) for token in re.sub(r"['’]s\b", "", text).split()]
    return [t for t in out if t.strip("*")]


def join_spelled(tokens: list[str]) -> list[str]:
    """Join runs of >= 3 single-letter tokens ("k i l l" -> "kill")."""
    return [forms[0] for forms in _joined(tokens)]


def _joined(tokens: list[str]) -> list[tuple[str, ...]]:
    """Like `join_spelled`, keeping for each joined run the form without a leading article
    ("a k i l l" -> ("akill", "kill"))."""
    out: list[tuple[str, ...]] = []
    run: list[str] = []

    def flush() -> None:
        if len(run) >= 3:
            word = "".join(run)
            out.append((word, word[1:]) if len(run) >= 4 and run[0] in "ai" else (word,))
        else:
            out.extend((letter,) for letter in run)
        run.clear()

    for token in tokens:
        if len(token) == 1 and token.isalpha():
            run.append(token)
        else:
            flush()
            out.append((token,))
    flush()
    return out


def spellings(token: str) -> frozenset[str]:
    """The token plus its squeezed and unmasked variants (step 4)."""
    forms = {token}
    if "*" in token:
        for fill in itertools.product(VOWELS, repeat=min(token.count("*"), 2)):
            filled = token
            for letter in fill:
                filled = filled.replace("*", letter, 1)
            forms.add(filled.replace("*", ""))
    for form in list(forms):
        forms |= _squeezed(form)
    return frozenset(forms)


def _squeezed(token: str) -> set[str]:
    runs = [(m.start(), m.end()) for m in re.finditer(r"([a-z])\1{2,}", token)]
    if not runs:
        return set()
    doubles = [(m.start(), m.end()) for m in re.finditer(r"([a-z])\1+", token)]
    out: set[str] = set()
    for choice in itertools.islice(itertools.product((1, 2), repeat=len(doubles)), MAX_SQUEEZE_VARIANTS):
        pieces, last = [], 0
        for (start, end), keep in zip(doubles, choice):
            pieces.append(token[last:start] + token[start] * keep)
            last = end
        out.add("".join(pieces) + token[last:])
    return out


def close_letter_gaps(text: str) -> str:
    """Spaced-out words with wider gaps between them ("k i l l   a   k i d" -> "kill a kid"): where
    runs of whitespace of 2 or more mark the words, each chunk of single characters is one word."""
    chunks = re.split(r"\s{2,}", text.strip())
    if len(chunks) < 2:
        return text
    return " ".join(chunk.replace(" ", "") if all(len(t) == 1 for t in chunk.split(" ")) else chunk for chunk in chunks)


@lru_cache(maxsize=4096)
def views(text: str) -> Views:
    """All token sequences of `text` that a lexicon should be matched against."""
    folded = close_letter_gaps(fold(text))
    strings = dict.fromkeys([folded, decode_leet(folded, LEET_I), decode_leet(folded, LEET_L)])
    if CAPITAL_I_FOR_L.search(text):  # "ZeIensky": one more view, with that I read as l
        strings[close_letter_gaps(fold(CAPITAL_I_FOR_L.sub("l", text)))] = None
    sequences: dict[tuple[frozenset[str], ...], None] = {}
    for string in strings:
        split = split_tokens(string)
        for groups in ([(t,) for t in split], _joined(split), [(t,) for t in glue_tokens(string)]):
            sequences[tuple(frozenset().union(*(spellings(form) for form in group)) for group in groups)] = None
    canonical = " ".join(join_spelled(split_tokens(decode_leet(folded, LEET_I))))
    return Views(tuple(sequences), canonical)


def canonical(text: str) -> str:
    """One readable normalised form of `text` (what the semantic layer reads)."""
    return views(text).canonical
