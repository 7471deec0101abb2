"""The comparison form: what a reader would call the same text compares equal, and nothing more."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.compare.normalize import comparison_form, comparison_list

SAME = [
    ("L’affaire a été révélée", "L'affaire a été révélée"),                       # curly vs straight apostrophe
    ("une hausse de 12\u00a0% sur un an", "une hausse de 12 % sur un an"),        # no-break space before %
    ("«\u202fNous suivons\u202f»", "« Nous suivons »"),                           # narrow no-break inside « »
    ("« Nous suivons »", "«Nous suivons»"),                                       # French vs tight guillemets
    ("Phnom Penh\u00a0: la ville", "Phnom Penh: la ville"),                       # space before colon or not
    ("deux  espaces\n et une ligne", "deux espaces et une ligne"),                 # collapsed whitespace
    ("in\u00adter\u00adna\u00adtio\u00adnal", "international"),                  # soft hyphens
    ("zero\u200bwidth", "zerowidth"),
    ("Cafe\u0301", "Café"),                                                       # decomposed vs composed
    ("Mékong – Lancang", "Mékong - Lancang"),                                     # en dash vs hyphen
    ("“citation”", '"citation"'),
]
DIFFERENT = [
    ("Le gouvernement a annoncé", "Le gouvernement a démenti"),
    ("12 %", "13 %"),
    ("La Chine dément.", "La Chine dément"),
    ("Hun Sen", "HunSen"),
    ("anoncé", "annoncé"),
]


@pytest.mark.parametrize(("a", "b"), SAME)
def test_typography_does_not_count(a: str, b: str) -> None:
    assert comparison_form(a) == comparison_form(b)


@pytest.mark.parametrize(("a", "b"), DIFFERENT)
def test_words_and_figures_do_count(a: str, b: str) -> None:
    assert comparison_form(a) != comparison_form(b)


def test_empty_blocks_are_dropped_from_lists() -> None:
    assert comparison_list(["Un.", "\u00a0", "  ", "Deux."]) == ["Un.", "Deux."]


@given(st.text())
def test_comparison_form_is_idempotent(text: str) -> None:
    once = comparison_form(text)
    assert comparison_form(once) == once


@given(st.text(alphabet=st.sampled_from("aé’' \u00a0\u202f«»:;!?%\u00ad\n-–—\u0301")))
def test_idempotent_on_typography_heavy_text(text: str) -> None:
    once = comparison_form(text)
    assert comparison_form(once) == once
