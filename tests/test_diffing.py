"""Word diffs: exact on long texts, blind to typography, paragraph-aware."""
from __future__ import annotations

import random

from monitor.compare.diffing import DELETE, EQUAL, INSERT, diff_articles, diff_field, tokens, without_moves
from tests.fakesite import make_article


def rebuild(segments, keep: str) -> str:
    """One side of a diff: the old text from `=` and `-` segments (keep=DELETE), the new from `=` and `+`."""
    return "".join(s.text for s in segments if s.op in (EQUAL, keep))


def test_one_word_replaced() -> None:
    d = diff_field("title", "Le gouvernement a annoncé un plan", "Le gouvernement a démenti un plan")
    assert [(s.op, s.text) for s in d.segments if s.op != EQUAL] == [(DELETE, "annoncé "), (INSERT, "démenti ")]
    assert (d.added_words, d.removed_words) == (1, 1)


def test_segments_rebuild_both_texts() -> None:
    old, new = "Un deux trois quatre cinq.", "Un trois quatre six cinq, sept."
    d = diff_field("lead", old, new)
    assert rebuild(d.segments, DELETE) == old
    assert rebuild(d.segments, INSERT) == new
    assert {s.op for s in d.segments} == {EQUAL, DELETE, INSERT}  # both sides differ: each rebuild has work to do


def test_typography_inside_an_edited_paragraph_is_not_shown() -> None:
    d = diff_field("body", ["L’affaire a été révélée\u00a0: la Chine dément."],
                   ["L'affaire a été révélée : la Chine dément tout."])
    changed = [(s.op, s.text.strip()) for s in d.segments if s.op != EQUAL]
    assert changed == [(INSERT, "tout")]
    assert (d.added_words, d.removed_words) == (1, 0)


def test_removed_paragraph_is_one_deletion() -> None:
    body = ["Premier paragraphe.", "Deuxième paragraphe qui disparaît.", "Troisième."]
    d = diff_field("body", body, [body[0], body[2]])
    assert [s.op for s in d.segments] == [EQUAL, DELETE, EQUAL]
    assert (d.added_words, d.removed_words) == (0, 4)


def test_long_text_with_many_edits_is_exact() -> None:
    """20,000 words and 300 one-word edits: exactly 300 words in, 300 out (no timeout degradation).

    Edits are spaced apart: semantic cleanup rightly merges two edits around a one-word equality."""
    rng = random.Random(4)
    vocabulary = [f"mot{i}" for i in range(3000)] + ["le", "la", "de", "et", "un"]
    words = [rng.choice(vocabulary) for _ in range(20_000)]
    edited = list(words)
    for i in rng.sample(range(0, 20_000, 50), 300):
        edited[i] = f"nouveau{i}"
    d = diff_field("body", " ".join(words), " ".join(edited))
    assert (d.added_words, d.removed_words) == (300, 300)
    assert rebuild(d.segments, DELETE) == " ".join(words)
    assert rebuild(d.segments, INSERT) == " ".join(edited)


def test_only_changed_fields_are_reported() -> None:
    a = make_article(431001)
    b = make_article(431001)
    b.title = b.title + " : ce qu’il faut savoir"

    class View:  # what diff_articles reads: the text fields
        def __init__(self, art):
            self.title, self.lead, self.author = art.title, art.lead, art.author
            self.body, self.captions = art.body, art.captions

    diffs = diff_articles(View(a), View(b))
    assert [d.field for d in diffs] == ["title"]
    assert diffs[0].added_words == 4  # ce, qu’il, faut, savoir; ":" is not a word


def test_tokens_keep_elisions_and_spacing() -> None:
    assert tokens("l’ouverture du pont.") == ["l’ouverture ", "du ", "pont", "."]


def test_text_moved_between_fields_is_no_change_but_an_edit_beside_it_is() -> None:
    """A new markup puts the chapô in the lead where the old one read it as the body's first paragraph."""
    from types import SimpleNamespace

    chapo, second = "Le port rouvre ses quais aux pêcheurs.", "Les travaux ont duré deux ans."
    old = SimpleNamespace(title="Titre", lead="", author="A", body=[chapo, second], captions=[])
    moved = SimpleNamespace(title="Titre", lead=chapo, author="A", body=[second], captions=[])
    assert [d.field for d in diff_articles(old, moved)] == ["lead", "body"]
    assert without_moves(diff_articles(old, moved)) == []

    edited = SimpleNamespace(title="Titre", lead=chapo, author="A", body=[second + " Et un mois de plus."], captions=[])
    [body] = without_moves(diff_articles(old, edited))
    assert body.field == "body" and (body.added_words, body.removed_words) == (5, 0)
    assert rebuild(body.segments, INSERT) == second + " Et un mois de plus."
