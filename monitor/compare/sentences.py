"""Sentences of an article version, and how the sentences of two versions match: the sentence-level view of
edits that NewsEdits (Spangher et al., NAACL 2022) gives.

Splitting. pysbd's English rules find the boundaries (its French rules split after "Mr.", "Dr." and
"Mme." and are worse on French news too); a French-aware layer then mends what they miss: no sentence
starts in lowercase or with a hyphen ("le XVIe s. fut", "J.-C."), nor right after a French abbreviation
("Mme.", "Pr.", "janv.", "av.") or hyphenated initials ("J.-C. Decaux"), and a quotation closed on its own end punctuation ends its sentence
when a capital follows ("« Non. » Le débat est clos."). Decimals ("3,5", "3.5") never split. The title is
one sentence; the lead and each body paragraph or intertitle are split on their own, never across.

Matching follows NewsEdits' asymmetric matching (its spark/pipeline_steps.py) with words instead of word
embeddings, and its crossing-removal for refactors (its util/util_refactorings.py):

1. Identical sentences (in comparison form, monitor.compare.normalize) are paired first, one to one, the
   k-th occurrence of a text in the older version with its k-th occurrence in the newer one. NewsEdits has
   no such step: with it, a sentence that survives intact can no longer claim a fragment added elsewhere.
2. Each remaining sentence of either version is matched to its best remaining sentence of the other
   version when its *coverage* there reaches MATCH_THRESHOLD (0.5): the share of its words, weighted by
   their length in characters, found in the other sentence (as a multiset, case-folded; a number such
   as "3,5" is one word). Matching from both sides, as NewsEdits does, catches a sentence split in two
   (each half is covered by the old sentence) or two merged into one. NewsEdits averaged BERT word
   distances (a sentence matched below 0.44); exact words weighted by length need no model, treat French
   and English alike, and keep "de", "la", "the" from matching unrelated sentences.
3. Among the matched pairs, the ones whose order crosses others are refactors: while some pairs cross,
   the pair crossing the most others is taken out (ties: the one moving farthest, then the one moving up,
   then the first), as NewsEdits does. What is left keeps the reading order.

Each pair is `unchanged` (same comparison form, same relative place), `edit` (different text) or
`refactor` (moved; `similarity` below 1 says it was reworded too); an unmatched older sentence is a
`deletion`, an unmatched newer one an `addition`.
"""
from __future__ import annotations

import functools
import re
from collections import Counter, defaultdict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pysbd

from monitor.compare.normalize import comparison_form

# A sentence's words found in the other sentence, weighted by length: at least this share makes a match.
MATCH_THRESHOLD = 0.5
# What a pair or an unmatched sentence is, in the order NewsEdits names them (then the pair left alone).
ACTIONS = ("addition", "deletion", "edit", "refactor", "unchanged")

# Abbreviations pysbd's English rules split after, without their period, as written: French titles (capital,
# so that English "me." still ends a sentence), months, addresses and references. English ones it knows
# ("Mr.", "Sen.", "U.S.", "a.m.") are not repeated.
FRENCH_ABBREVIATIONS = frozenset({
    "Mme", "Mmes", "Mlle", "Mlles", "Me", "Mgr", "Pr", "Dr", "St", "Ste", "Cie",
    "janv", "févr", "fév", "avr", "juil", "sept", "oct", "nov", "déc",
    "av", "bd", "boul", "chap", "cf", "éd", "env", "hab", "n°", "p", "pp", "s", "t", "vol",
})
# The word before a final period, without an opening bracket or quote ("(av." is "av"; "U.S." is "U.S").
_LAST_WORD = re.compile(r"([^\s(«\"“]+)\.\s*$")
# Hyphenated initials of French compound first names ("J.-C. Decaux", "A.-M. Dupont"): a name follows.
_HYPHENATED_INITIALS = re.compile(r"(?:^|[\s(])(?:[A-ZÀ-Ý]\.-)+[A-ZÀ-Ý]\.\s*$")
# A quotation (or an ellipsis) ending a sentence: its closing mark, then spaces; the next letter decides.
_QUOTE_END = re.compile(r"(?:[.!?…][\s\u00a0\u202f]?[»”\"]|…)(\s+)(?=[«“\"(]?[\s\u00a0\u202f]?(\w))")
# Words for matching: a number with its decimal or thousands marks is one word ("3,5", "1.234"), else \w+.
_WORD = re.compile(r"\d+(?:[.,]\d+)*|\w+")


@dataclass(frozen=True, slots=True)
class Sentence:
    part: str          # title | lead (the chapô) | body (paragraphs and intertitles)
    paragraph: int     # the paragraph's index in the body (0 for the title and the lead)
    text: str          # as published, without surrounding spaces


@dataclass(frozen=True, slots=True)
class SentenceMatch:
    """One row of NewsEdits' matched_sentences: a pair of sentences, or one left without a partner."""

    old: int | None                 # index in the older version's sentences; None for an addition
    new: int | None                 # index in the newer version's; None for a deletion
    action: str                     # one of ACTIONS
    similarity: float | None        # length-weighted Dice of the two sentences' words; None when unmatched
    coverage_old: float | None      # share of the older sentence's words found in the newer one
    coverage_new: float | None      # share of the newer sentence's words found in the older one


# ---------------------------------------------------------------- splitting

@functools.cache
def _segmenter() -> pysbd.Segmenter:
    # Spans into the original text, so that sentences keep their text exactly as published.
    return pysbd.Segmenter(language="en", clean=False, char_span=True)


def split_sentences(text: str) -> list[str]:
    """The sentences of one paragraph, French or English, each as published (stripped)."""
    return list(_split(text))


# pysbd takes ~1 ms a paragraph, and consecutive versions of an article share most of their paragraphs.
@functools.lru_cache(maxsize=4096)
def _split(text: str) -> tuple[str, ...]:
    if not text.strip():
        return ()
    spans = _mend(text, [(span.start, span.end) for span in _segmenter().segment(text)])
    return tuple(s for start, end in spans for s in _split_after_quotes(text[start:end].strip()) if s)


def _mend(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Join the pieces pysbd cut where no French or English sentence ends."""
    mended: list[tuple[int, int]] = []
    for start, end in spans:
        if mended and _continues(text[mended[-1][0]:mended[-1][1]], text[start:end].lstrip()):
            mended[-1] = (mended[-1][0], end)
        else:
            mended.append((start, end))
    return mended


def _continues(before: str, piece: str) -> bool:
    if not piece or piece[0].islower() or piece[0] == "-":
        return True
    if _HYPHENATED_INITIALS.search(before):
        return True
    last = _LAST_WORD.search(before)
    return bool(last) and last.group(1) in FRENCH_ABBREVIATIONS


def _split_after_quotes(sentence: str) -> list[str]:
    """Cut after a closed quotation or an ellipsis that ends a sentence, when a capital follows: pysbd keeps
    "« Non. » Le débat est clos." as one sentence; "« Pourquoi ? » demanda-t-il." stays whole (lowercase)."""
    pieces, start = [], 0
    for found in _QUOTE_END.finditer(sentence):
        if found.group(2).isupper():
            pieces.append(sentence[start:found.start(1)])
            start = found.end(1)
    return [*pieces, sentence[start:]]


def article_sentences(title: str, lead: str, body: Iterable[str]) -> list[Sentence]:
    """A version's sentences in reading order: the title whole, then the lead's, then each body
    paragraph's (an intertitle is a paragraph, so its own sentence)."""
    sentences = [Sentence("title", 0, title.strip())] if title.strip() else []
    sentences += [Sentence("lead", 0, s) for s in split_sentences(lead)]
    for index, paragraph in enumerate(body):
        sentences += [Sentence("body", index, s) for s in split_sentences(paragraph)]
    return sentences


# ---------------------------------------------------------------- matching

def match_sentences(old: Sequence[str], new: Sequence[str]) -> list[SentenceMatch]:
    """How the sentences of two consecutive versions match (see the module's docstring): pairs in the older
    version's order, then deletions, then additions."""
    old_forms, new_forms = [comparison_form(s) for s in old], [comparison_form(s) for s in new]
    old_words, new_words = [_words(f) for f in old_forms], [_words(f) for f in new_forms]
    pairs = _pair_identical(old_forms, new_forms)
    pairs |= _pair_similar(old_words, new_words, set(range(len(old))) - {i for i, _ in pairs},
                           set(range(len(new))) - {j for _, j in pairs})
    moved = refactored(pairs)
    matches = [_pair_match(i, j, old_forms[i] == new_forms[j], (i, j) in moved, old_words[i], new_words[j])
               for i, j in sorted(pairs)]
    matches += [SentenceMatch(i, None, "deletion", None, None, None)
                for i in sorted(set(range(len(old))) - {i for i, _ in pairs})]
    matches += [SentenceMatch(None, j, "addition", None, None, None)
                for j in sorted(set(range(len(new))) - {j for _, j in pairs})]
    return matches


def _words(form: str) -> Counter[str]:
    return Counter(_WORD.findall(form.casefold()))


def _weight(words: Counter[str]) -> int:
    return sum(len(word) * n for word, n in words.items())


def _scores(a: Counter[str], b: Counter[str]) -> tuple[float, float, float]:
    """Coverage of a in b, of b in a, and their Dice: 0 for a sentence without words."""
    shared, weight_a, weight_b = _weight(a & b), _weight(a), _weight(b)
    if not shared:
        return 0.0, 0.0, 0.0
    return shared / weight_a, shared / weight_b, 2 * shared / (weight_a + weight_b)


def _pair_identical(old_forms: Sequence[str], new_forms: Sequence[str]) -> set[tuple[int, int]]:
    waiting: dict[str, deque[int]] = defaultdict(deque)
    for j, form in enumerate(new_forms):
        waiting[form].append(j)
    return {(i, waiting[form].popleft()) for i, form in enumerate(old_forms) if waiting.get(form)}


def _pair_similar(old_words: Sequence[Counter[str]], new_words: Sequence[Counter[str]],
                  old_left: set[int], new_left: set[int]) -> set[tuple[int, int]]:
    """NewsEdits' two-sided matching among the sentences left unpaired: each one's best partner, kept when
    its coverage reaches MATCH_THRESHOLD. A sentence can so take part in several pairs (a split, a merge)."""
    shared = _shared_weights(old_words, new_words, old_left, new_left)
    old_weight = {i: _weight(old_words[i]) for i in old_left}
    new_weight = {j: _weight(new_words[j]) for j in new_left}
    place_old, place_new = max(len(old_words) - 1, 1), max(len(new_words) - 1, 1)

    def rank(pair: tuple[int, int], weight: int) -> tuple[float, float, float, int, int]:
        """A partner's coverage of the sentence, then the pair's Dice, then the closer relative place."""
        (i, j), common = pair, shared[pair]
        return (common / weight, 2 * common / (old_weight[i] + new_weight[j]),
                -abs(i / place_old - j / place_new), -i, -j)

    best: dict[tuple[str, int], tuple[int, int]] = {}
    for (i, j) in shared:
        for side, weight in ((("old", i), old_weight[i]), (("new", j), new_weight[j])):
            if side not in best or rank((i, j), weight) > rank(best[side], weight):
                best[side] = (i, j)
    return {pair for (side, index), pair in best.items()
            if shared[pair] / (old_weight[index] if side == "old" else new_weight[index]) >= MATCH_THRESHOLD}


def _shared_weights(old_words: Sequence[Counter[str]], new_words: Sequence[Counter[str]], old_left: set[int],
                    new_left: set[int]) -> dict[tuple[int, int], int]:
    """The length-weighted words two sentences share, for the pairs sharing any: through an index of the
    newer sentences' words, so that a rewritten article costs its shared words, not every pair."""
    index: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for j in new_left:
        for word, n in new_words[j].items():
            index[word].append((j, n))
    shared: dict[tuple[int, int], int] = defaultdict(int)
    for i in old_left:
        for word, n in old_words[i].items():
            for j, m in index.get(word, ()):
                shared[i, j] += len(word) * min(n, m)
    return shared


def refactored(pairs: Iterable[tuple[int, int]]) -> set[tuple[int, int]]:
    """The pairs to take out so that no two pairs cross (NewsEdits' refactors): greedily the pair crossing
    the most, then the one moving farthest, then one moving up, then the first. Distances are counted in
    ranks among the matched sentences, so additions and deletions do not make a sentence look moved."""
    pairs = sorted(set(pairs))
    rank_old = {i: r for r, i in enumerate(sorted({i for i, _ in pairs}))}
    rank_new = {j: r for r, j in enumerate(sorted({j for _, j in pairs}))}
    crossing = {p: {q for q in pairs if (p[0] - q[0]) * (p[1] - q[1]) < 0} for p in pairs}

    def weight(p: tuple[int, int]) -> tuple[int, int, bool]:
        shift = rank_new[p[1]] - rank_old[p[0]]
        return len(crossing[p]), abs(shift), shift < 0

    moved: set[tuple[int, int]] = set()
    while any(crossing.values()):
        worst = max(pairs, key=weight)  # max() keeps the first of equals
        moved.add(worst)
        for other in crossing.pop(worst):
            crossing[other].discard(worst)
        pairs.remove(worst)
    return moved


def _pair_match(i: int, j: int, same: bool, moved: bool, old_words: Counter[str],
                new_words: Counter[str]) -> SentenceMatch:
    if same:
        return SentenceMatch(i, j, "refactor" if moved else "unchanged", 1.0, 1.0, 1.0)
    coverage_old, coverage_new, similarity = _scores(old_words, new_words)
    return SentenceMatch(i, j, "refactor" if moved else "edit", round(similarity, 4), round(coverage_old, 4),
                         round(coverage_new, 4))
