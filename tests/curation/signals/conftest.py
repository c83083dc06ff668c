"""Examples whose meanings are plain to a person, so that "nearest" has a right answer."""
import pytest

from curation.services import create_example, get_or_create_source
from curation.signals.index import clear_cache

TOPICS = {
    "bread": ["How do I bake sourdough bread at home?",
              "Feed your starter the day before, mix flour, water and salt, let the dough rise overnight and bake "
              "it in a hot Dutch oven for 40 minutes."],
    "bread2": ["What is the secret to a crusty homemade loaf?",
               "Bake the dough in a preheated cast-iron pot with the lid on so the steam stays in, then remove "
               "the lid for a dark crust."],
    "python": ["How can I reverse a list in Python?",
               "Use slicing, `items[::-1]`, or call `items.reverse()` to reverse it in place."],
    "tyre": ["How do I change a flat tyre on my car?",
             "Loosen the wheel nuts, jack the car up, swap the flat tyre for the spare and tighten the nuts in a "
             "star pattern."],
    "sleep": ["Why can't I fall asleep at night?",
              "Screens late in the evening, caffeine after noon and an irregular schedule all delay sleep; keep "
              "the same bedtime every day."],
}


@pytest.fixture(autouse=True)
def fresh_index():
    clear_cache()
    yield
    clear_cache()


@pytest.fixture
def topics(db):
    source = get_or_create_source("stackexchange", "cooking.stackexchange.com")
    return {name: create_example(turns=turns, source=source, domain="other") for name, turns in TOPICS.items()}
