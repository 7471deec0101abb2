"""Sentence splitting (French and English) and the sentence matching of the NewsEdits export, with plain
values: monitor.compare.sentences is pure."""
from __future__ import annotations

import random

import pytest

from monitor.compare.sentences import (MATCH_THRESHOLD, Sentence, SentenceMatch, article_sentences,
                                       match_sentences, refactored, split_sentences)

FRENCH = [
    ("M. Dupont est arrivé à 10 h. Mme Martin l'attendait.",
     ["M. Dupont est arrivé à 10 h.", "Mme Martin l'attendait."]),
    ("Le taux est de 3,5 % cette année. Il était de 2.1 % l'an dernier.",
     ["Le taux est de 3,5 % cette année.", "Il était de 2.1 % l'an dernier."]),
    ("« C'est inacceptable ! » a déclaré le Dr. Nguyen. Il a quitté la salle.",
     ["« C'est inacceptable ! » a déclaré le Dr. Nguyen.", "Il a quitté la salle."]),
    ("Le ministre a répondu : «\u202fNon.\u202f» Le débat est clos.",
     ["Le ministre a répondu : «\u202fNon.\u202f»", "Le débat est clos."]),
    ("« Pourquoi ? » demanda Jean. Personne ne répondit.",
     ["« Pourquoi ? » demanda Jean.", "Personne ne répondit."]),
    ("Mme. Durand, Mlle Roux et Pr. Lefèvre sont là. Ils attendent.",
     ["Mme. Durand, Mlle Roux et Pr. Lefèvre sont là.", "Ils attendent."]),
    ("Le 1er janv. 2021, il a vendu la société à J.-C. Decaux. Le prix reste secret.",
     ["Le 1er janv. 2021, il a vendu la société à J.-C. Decaux.", "Le prix reste secret."]),
    ("Le XVIe s. fut riche. Elle habite au 3, av. Foch. Il a dit non… Puis il a signé.",
     ["Le XVIe s. fut riche.", "Elle habite au 3, av. Foch.", "Il a dit non…", "Puis il a signé."]),
    ("Selon l'OMS, le virus recule. Le bilan s'établit à 1 200 morts.",
     ["Selon l'OMS, le virus recule.", "Le bilan s'établit à 1 200 morts."]),
]
ENGLISH = [
    ("Mr. Smith went to Washington. He met Dr. Jones there.",
     ["Mr. Smith went to Washington.", "He met Dr. Jones there."]),
    ("The U.S. economy grew 3.5 percent. Inflation stayed at 2.1 percent.",
     ["The U.S. economy grew 3.5 percent.", "Inflation stayed at 2.1 percent."]),
    ("He lives in the U.S. He works in N.Y.C. every day.",
     ["He lives in the U.S.", "He works in N.Y.C. every day."]),
    ('"We will win," said Sen. Warren. "No doubt."', ['"We will win," said Sen. Warren.', '"No doubt."']),
    ("It was 5 p.m. when Gov. Newsom spoke. Nobody was hurt.",
     ["It was 5 p.m. when Gov. Newsom spoke.", "Nobody was hurt."]),
    ("He gave it to me. Then he left.", ["He gave it to me.", "Then he left."]),  # "me", not French "Me"
]


@pytest.mark.parametrize(("text", "sentences"), FRENCH + ENGLISH)
def test_splitting_knows_abbreviations_numbers_and_quotes(text: str, sentences: list[str]) -> None:
    assert split_sentences(text) == sentences


def test_sentences_keep_their_text_as_published() -> None:
    text = "D’après les chiffres, le tourisme progresse\u00a0: 12\u00a0% sur un an.  Il   reste fragile."
    assert split_sentences(text) == ["D’après les chiffres, le tourisme progresse\u00a0: 12\u00a0% sur un an.",
                                     "Il   reste fragile."]
    assert split_sentences("   ") == []


def test_an_article_is_its_title_then_its_lead_and_paragraphs() -> None:
    sentences = article_sentences("Qui a gagné ? Le maire répond", "Un chapô. En deux phrases.",
                                  ["Premier paragraphe. Deux phrases.", "Un intertitre", "Fin."])
    assert sentences == [
        Sentence("title", 0, "Qui a gagné ? Le maire répond"),  # a title is one sentence, whatever it holds
        Sentence("lead", 0, "Un chapô."), Sentence("lead", 0, "En deux phrases."),
        Sentence("body", 0, "Premier paragraphe."), Sentence("body", 0, "Deux phrases."),
        Sentence("body", 1, "Un intertitre"), Sentence("body", 2, "Fin."),
    ]


OLD = [
    "Le maire a annoncé la fermeture des écoles.",
    "Le bilan est de 12 morts selon la préfecture.",
    "Les secours sont sur place depuis l'aube.",
    "La préfecture appelle au calme, et les routes restent fermées jusqu'à nouvel ordre.",
    "Le Mékong a atteint 3,5 mètres.",
    "Une réunion d'urgence se tient ce soir.",
]


def actions(matches: list[SentenceMatch]) -> set[tuple[int | None, int | None, str]]:
    return {(m.old, m.new, m.action) for m in matches}


def test_identical_versions_match_sentence_for_sentence() -> None:
    matches = match_sentences(OLD, [s.replace("'", "’") for s in OLD])  # typography is no edit
    assert actions(matches) == {(i, i, "unchanged") for i in range(len(OLD))}
    assert {(m.similarity, m.coverage_old, m.coverage_new) for m in matches} == {(1.0, 1.0, 1.0)}


def test_an_added_sentence_is_an_addition() -> None:
    new = [*OLD[:2], "Une cellule de crise a été ouverte à l'hôtel de ville.", *OLD[2:]]
    assert actions(match_sentences(OLD, new)) == {(0, 0, "unchanged"), (1, 1, "unchanged"), (None, 2, "addition"),
                                                  *{(i, i + 1, "unchanged") for i in range(2, 6)}}


def test_a_deleted_sentence_is_a_deletion() -> None:
    assert actions(match_sentences(OLD, OLD[:4] + OLD[5:])) == {
        *{(i, i, "unchanged") for i in range(4)}, (4, None, "deletion"), (5, 4, "unchanged")}


def test_a_reworded_sentence_is_an_edit_with_its_scores() -> None:
    new = list(OLD)
    new[1] = "Le bilan s'élève désormais à 14 morts selon la préfecture."
    matches = match_sentences(OLD, new)
    [edit] = [m for m in matches if m.action != "unchanged"]
    assert (edit.old, edit.new, edit.action) == (1, 1, "edit")
    # Shared: le, bilan, morts, selon, la, préfecture (29 of the old sentence's 36 characters of words).
    assert edit.coverage_old == round(29 / 36, 4) and edit.coverage_old >= MATCH_THRESHOLD
    assert edit.coverage_new is not None and edit.similarity is not None
    assert edit.coverage_new < edit.similarity < edit.coverage_old


def test_a_number_is_one_word() -> None:
    new = list(OLD)
    new[4] = "Le Mékong a atteint 3,8 mètres."
    [edit] = [m for m in match_sentences(OLD, new) if m.action != "unchanged"]
    assert edit.action == "edit" and edit.coverage_old == round(22 / 25, 4)  # "3,8" is not "3,5": 3 of 25 chars


def test_an_unrelated_replacement_is_a_deletion_and_an_addition() -> None:
    new = list(OLD)
    new[5] = "La météo annonce du soleil pour le week-end."  # shares only "la"/"le" with anything
    assert {(m.old, m.new, m.action) for m in match_sentences(OLD, new) if m.action != "unchanged"} == {
        (5, None, "deletion"), (None, 5, "addition")}


def test_a_moved_sentence_is_a_refactor() -> None:
    new = [OLD[0], OLD[2], OLD[3], OLD[4], OLD[1], OLD[5]]
    assert actions(match_sentences(OLD, new)) == {(0, 0, "unchanged"), (1, 4, "refactor"), (2, 1, "unchanged"),
                                                  (3, 2, "unchanged"), (4, 3, "unchanged"), (5, 5, "unchanged")}


def test_a_moved_and_reworded_sentence_is_a_refactor_below_similarity_one() -> None:
    new = [OLD[0], OLD[2], OLD[3], OLD[4], "Le bilan est de 14 morts selon la préfecture.", OLD[5]]
    [moved] = [m for m in match_sentences(OLD, new) if m.action == "refactor"]
    assert (moved.old, moved.new) == (1, 4) and moved.similarity is not None and moved.similarity < 1


def test_a_sentence_split_in_two_matches_both_halves() -> None:
    new = [*OLD[:3], "La préfecture appelle au calme.", "Les routes restent fermées jusqu'à nouvel ordre.", *OLD[4:]]
    changed = [m for m in match_sentences(OLD, new) if m.action != "unchanged"]
    assert actions(changed) == {(3, 3, "edit"), (3, 4, "edit")}
    assert all(m.coverage_new == 1.0 for m in changed)  # each half is all in the old sentence


def test_two_sentences_merged_into_one_match_it_both() -> None:
    merged = "Le maire a annoncé la fermeture des écoles, et le bilan est de 12 morts selon la préfecture."
    assert {(m.old, m.new, m.action) for m in match_sentences(OLD, [merged, *OLD[2:]])
            if m.action != "unchanged"} == {(0, 0, "edit"), (1, 0, "edit")}


def test_repeated_sentences_pair_in_order() -> None:
    old = ["Mise à jour.", "Premier fait.", "Mise à jour.", "Second fait."]
    new = ["Mise à jour.", "Premier fait.", "Second fait."]
    assert actions(match_sentences(old, new)) == {(0, 0, "unchanged"), (1, 1, "unchanged"), (2, None, "deletion"),
                                                  (3, 2, "unchanged")}


def test_empty_versions() -> None:
    assert match_sentences([], []) == []
    assert actions(match_sentences([], ["Une phrase."])) == {(None, 0, "addition")}
    assert actions(match_sentences(["Une phrase."], [])) == {(0, None, "deletion")}


def test_refactors_take_out_the_pair_crossing_most() -> None:
    assert refactored([(0, 0), (1, 3), (2, 1), (3, 2)]) == {(1, 3)}   # one sentence moved down
    assert refactored([(0, 1), (1, 0)]) == {(1, 0)}                   # a swap: the one moving up
    assert refactored([(0, 0), (0, 1), (1, 2)]) == set()              # a split crosses nothing
    assert refactored([(0, 3), (1, 0), (2, 1), (3, 2)]) == {(0, 3)}   # not the three that kept their order


def test_a_hundred_sentence_article_with_a_few_edits_and_a_total_rewrite() -> None:
    """The export's case: 100 sentences and a few edits (one added, one deleted, one reworded, one moved), and
    a total rewrite. How fast that goes is bench/sentence_matching.py's to measure, not a test's."""
    rng = random.Random(13)
    vocabulary = [f"mot{i}" for i in range(3000)] + ["de", "la", "le", "et", "à", "les", "des", "un"] * 50
    old = [" ".join(rng.choices(vocabulary, k=rng.randint(8, 30))) + "." for _ in range(100)]
    new = [*old[:40], "Une phrase ajoutée.", *old[41:70], old[70].replace("mot", "mut", 3), *old[71:]]
    new.append(new.pop(5))
    got = actions(match_sentences(old, new))
    edits = {a for a in got if a[2] != "unchanged"}
    assert (None, 39, "addition") in edits and (40, None, "deletion") in edits
    assert {(o, n) for o, n, action in edits if action not in ("addition", "deletion")} == {(5, 99), (70, 69)}
    assert sum(action == "unchanged" for _, _, action in got) == 97
    rewrite = [" ".join(rng.choices(vocabulary, k=rng.randint(8, 30))) + "." for _ in range(100)]
    assert {action for _, _, action in actions(match_sentences(old, rewrite))} == {"addition", "deletion"}