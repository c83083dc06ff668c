"""Telling the language of a text from its commonest words, to choose the rules' phrase lists."""
import pytest

from curation.sources.filters import rule_languages
from curation.sources.language import detect_language


@pytest.mark.parametrize("text, language", [
    ("The grind size is the first thing to change when the coffee tastes sour, and it is cheap to try.", "en"),
    ("La mouture est la première chose à changer quand le café est trop acide, et cela ne coûte rien.", "fr"),
    ("Die Mahlgrad ist das Erste, was man ändern sollte, wenn der Kaffee sauer schmeckt, und es ist billig.", "de"),
    ("La molienda es lo primero que hay que cambiar cuando el café está ácido, y es muy barato.", "es"),
    ("A moagem é a primeira coisa a mudar quando o café está ácido, e isso não custa nada para o barista.", "pt"),
    ("Grind finer.", "und"),  # too few words to tell
    ("```\nfor i in range(3): pass\n```", "und"),
])
def test_the_language_is_told_from_function_words(text, language):
    assert detect_language(text) == language


def test_a_text_in_two_languages_is_read_with_both_lists():
    english = "The grind size is the first thing to change when the coffee tastes sour, and it is cheap to try. "
    french = "La mouture est la première chose à changer quand le café est trop acide, et cela ne coûte rien, "

    assert rule_languages(english + french + french) == ("und", ("en", "fr"))
    assert rule_languages(english * 6 + french)[1] == ("en",)  # a French phrase quoted in English
