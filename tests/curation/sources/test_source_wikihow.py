import csv
import re
from collections import Counter
from pathlib import Path

import pytest

from curation.sources.records import SourceFormatError
from curation.sources.wikihow import iter_records, title_as_question
from tests.samples import SHARED_DATA

FIXTURES = Path(__file__).parents[1] / "fixtures" / "wikihow"
STEPS = FIXTURES / "steps.csv"
WIKIHOW_ALL = FIXTURES / "wikihow_all.csv"
SCRAPE = SHARED_DATA / "wikihow" / "wikihow_title_heading_paragraph.csv"

DEBRIS = (
    "Research source",
    "Expert Source",
    "Expert Interview",
    "Trustworthy Source",
    "Go to source",
    "smallUrl",
    "http",
    "Reader Poll",
    "[Take Poll]",
    "\r",
)


def records_of(path, **options):
    return list(iter_records(path, **options))


# --- Titles ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "title, question",
    [
        ("How to Cook an Omelette", "How to cook an omelette?"),
        (
            "How to Soothe a Sore Ankle: 13 Steps (with Pictures) - wikiHow",
            "How to soothe a sore ankle?",
        ),
        ("How to Brush a Dog's Teeth (with Pictures) - wikiHow", "How to brush a dog's teeth?"),
        ("3 Ways to Use Italics - wikiHow", "How to use italics?"),
        (
            "3 Simple Ways to Fix a Cigarette Lighter in a Car - wikiHow",
            "How to fix a cigarette lighter in a car?",
        ),
        (
            "Easy Ways to Install Vinyl Plank Flooring on Concrete",
            "How to install vinyl plank flooring on concrete?",
        ),
        ("How to Thin Your Blood: Can Natural Remedies Help?", "How to thin your blood?"),
        (
            "How to Teach a Kid to Roller Skate in 14 Easy and Safe Steps",
            "How to teach a kid to roller skate?",
        ),
        ("How to Do CPR on an Adult: A 5-Part First Aid Guide", "How to do CPR on an adult?"),
        ("How To Write A Poem", "How to write a poem?"),
        ("How to Look Younger at 30", "How to look younger at 30?"),
        ("How to Make Papier Mâché Paste", "How to make papier mâché paste?"),
    ],
)
def test_a_title_becomes_a_natural_how_to_question(title, question):
    assert title_as_question(title) == question


def test_a_name_the_body_capitalises_mid_sentence_keeps_its_capital():
    body = "List your books on Amazon. Then ship them; Amazon pays weekly."

    assert (
        title_as_question("How to Sell Books on Amazon: A Quick Guide", body)
        == "How to sell books on Amazon?"
    )
    # A word capitalised only at the start of sentences is not a name.
    assert title_as_question("How to Ship Books", body) == "How to ship books?"


@pytest.mark.parametrize(
    "title",
    [
        "19 Powerful Prayers for a Financial Miracle",
        "Why Is Life So Hard? 13 Reasons & How to Cope with Them",
        "Scorpio and Aquarius Compatibility: Love, Sex, and More",
    ],
)
def test_a_title_that_is_not_a_how_to_gives_no_question(title):
    assert title_as_question(title) is None


# --- The step-per-row scrape -------------------------------------------------------------------


def test_rows_of_one_article_become_one_record_with_a_numbered_list():
    omelette = records_of(STEPS)[0]

    assert omelette.turns[0] == "How to cook an omelette?"
    lines = omelette.turns[1].split("\n")
    assert [line.split(" ", 1)[0] for line in lines if line[:1].isdigit()] == [
        "1.",
        "2.",
        "3.",
        "4.",
    ]
    assert omelette.metadata["steps"] == 4  # the step scraped twice in a row counts once
    assert omelette.location == "steps.csv line 2"
    assert omelette.metadata["layout"] == "steps"


def test_this_article_becomes_the_following_answer():
    omelette = records_of(STEPS)[0]

    assert omelette.turns[1].startswith("The following answer shows how to cook a fluffy omelette")
    assert "This article" not in omelette.turns[1]


def test_a_heading_repeated_at_the_start_of_its_paragraph_is_kept_once():
    body = records_of(STEPS)[0].turns[1]

    assert body.count("Crack the eggs into a bowl.") == 1
    assert "1. Crack the eggs into a bowl. Use 2 or 3 eggs per omelette." in body


def test_citations_polls_images_links_and_html_are_removed():
    omelette, italics = records_of(STEPS)[:2]

    for debris in DEBRIS + ("[1]", "[2]", "Jane Doe", "American Egg Board", "example.com", "<i>"):
        assert debris not in omelette.turns[1] + italics.turns[1], debris
    assert (
        "2. Whisk the eggs. Beat them until smooth; see for a video. Add salt." in omelette.turns[1]
    )
    assert (
        "3. Heat the pan. Melt butter over medium heat. Tilt the pan to coat it."
        in omelette.turns[1]
    )
    assert "4. Fold and serve. Slide it onto a plate." in omelette.turns[1]
    assert "1. Italicize book titles. Write Frankenstein in italics." in italics.turns[1]


def test_csv_quote_escapes_and_crlf_are_undone():
    body = records_of(STEPS)[0].turns[1]

    assert 'Fresh eggs give a "fluffier" result.' in body
    assert "\r" not in body


def test_a_paragraph_that_is_only_its_heading_is_a_one_line_step():
    italics = records_of(STEPS)[1]

    assert italics.turns[1].endswith("2. Italicize ship names.")


def test_rejected_articles_are_yielded_with_their_reason():
    reasons = [(r.metadata["title"], r.reject_reason) for r in records_of(STEPS)]

    assert reasons == [
        ("How to Cook an Omelette: 8 Steps (with Pictures) - wikiHow", None),
        ("3 Ways to Use Italics - wikiHow", None),
        ("19 Powerful Prayers for a Financial Miracle", "title_not_how_to"),
        # The same title again after another article: a second scrape of it.
        ("How to Cook an Omelette: 8 Steps (with Pictures) - wikiHow", "duplicate_article"),
    ]
    prayers = records_of(STEPS)[2]
    assert prayers.turns == [
        "19 Powerful Prayers for a Financial Miracle",
        "1. Pray every morning. Start the day with a short prayer.",
    ]


def test_attribution_names_the_article_and_its_licence():
    omelette = records_of(STEPS)[0]

    assert omelette.metadata["url"] == "https://www.wikihow.com/Cook-an-Omelette"
    assert omelette.metadata["licence"] == "CC BY-NC-SA 3.0"
    assert (
        omelette.metadata["title"] == "How to Cook an Omelette: 8 Steps (with Pictures) - wikiHow"
    )
    assert omelette.domain == "" and "category" not in omelette.metadata


def test_external_ids_are_stable_and_distinct():
    first, second = records_of(STEPS), records_of(STEPS)

    assert [r.external_id for r in first] == [r.external_id for r in second]
    assert len({r.external_id for r in first[:3]}) == 3


def test_a_category_column_becomes_the_domain():
    records = records_of(FIXTURES / "steps_with_category.csv")

    assert [(r.turns[0], r.domain, r.metadata["category"]) for r in records] == [
        ("How to plant tulips?", "Home and Garden", "Home and Garden"),
        ("How to tune a guitar?", "Hobbies and Crafts", "Hobbies and Crafts"),
    ]


# --- wikihowAll.csv ----------------------------------------------------------------------------


def test_wikihow_all_pairs_each_bold_line_with_its_paragraph():
    artist = records_of(WIKIHOW_ALL)[0]

    assert artist.turns[0] == "How to be an organized artist?"  # the trailing "1" is an index
    assert artist.metadata["layout"] == "articles"
    assert artist.metadata["steps"] == 4
    body = artist.turns[1]
    assert body.startswith("1. Keep related supplies in the same area. If you're a photographer")
    # "e.g.," does not end a step; "etc.," followed by a new sentence does.
    assert (
        "2. Clean your workspace after every session. This doesn't mean cleaning the whole studio (e.g., Just the desk)."
        in body
    )
    assert "3. Use clear containers. Use jars, vases, etc." in body
    assert "4. Hang sketches on clotheslines. Simply string up wires across a wall." in body
    assert "Research source" not in body and "\r" not in body


def test_wikihow_all_lines_after_a_colon_become_a_nested_list():
    body = records_of(WIKIHOW_ALL)[0].turns[1]

    assert "Some ideas include:\n   * Essential supplies area.\n   * Reference area.\n2." in body


def test_wikihow_all_keeps_the_text_when_steps_and_paragraphs_do_not_line_up():
    bread = records_of(WIKIHOW_ALL)[1]

    assert bread.accepted
    assert bread.metadata["steps_unaligned"] is True
    assert (
        bread.turns[1]
        == "Mix flour and water, then knead the dough for ten minutes. Bake it, then let it cool"
    )


# --- Malformed files -----------------------------------------------------------------------------


def test_a_csv_without_the_expected_columns_names_the_file_and_the_columns_found():
    with pytest.raises(SourceFormatError) as error:
        records_of(FIXTURES / "bad_columns.csv")

    message = str(error.value)
    assert "bad_columns.csv, line 1" in message
    assert "found: name,body" in message
    assert "title,heading,paragraph" in message and "headline,title,text" in message


def test_an_unterminated_quote_names_the_file_and_the_line():
    with pytest.raises(SourceFormatError, match=r"unterminated\.csv, line 2: bad CSV"):
        records_of(FIXTURES / "unterminated.csv")


def test_a_row_with_a_missing_field_names_its_line(tmp_path):
    path = tmp_path / "short_row.csv"
    path.write_text(
        "title,heading,paragraph\nHow to Swim,Kick.,Kick your legs.\nHow to Swim,Breathe.\n"
    )

    with pytest.raises(SourceFormatError, match=r"short_row\.csv, line 3: row has 2 fields"):
        records_of(path)


def test_a_file_that_is_not_utf8_is_an_error(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(
        "title,heading,paragraph\nHow to Cook Cr\xe8pes,Mix.,Mix the batter.\n".encode("latin-1")
    )

    with pytest.raises(SourceFormatError, match=r"latin1\.csv.*not UTF-8"):
        records_of(path)


def test_an_empty_file_is_an_error(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")

    with pytest.raises(SourceFormatError, match="no header row"):
        records_of(path)


# --- The real scrape in ../shared/data ------------------------------------------------------------


def scrape_articles():
    if not SCRAPE.exists():
        pytest.skip(f"{SCRAPE} is absent")
    with open(SCRAPE, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    articles = []
    for row in rows:
        if not articles or articles[-1][0] != row["title"]:
            articles.append((row["title"], []))
        articles[-1][1].append(row)
    return rows, articles


def test_the_real_scrape_gives_one_record_per_article_in_file_order():
    rows, articles = scrape_articles()

    records = records_of(SCRAPE)

    assert len(records) == len(articles) == len({title for title, _ in articles})
    assert [r.metadata["title"] for r in records] == [title for title, _ in articles]
    assert sum(len(steps) for _, steps in articles) == len(rows)
    assert records[0].location == f"{SCRAPE.name} line 2"


def test_the_real_scrape_keeps_only_how_to_titles():
    _, articles = scrape_articles()
    how_to = re.compile(r"^(how to |(\d+\+? )?(\w+ )?ways to )", re.I)
    expected = Counter(None if how_to.match(title) else "title_not_how_to" for title, _ in articles)

    records = records_of(SCRAPE)

    assert Counter(r.reject_reason for r in records) == expected
    for record in records:
        if record.accepted:
            assert re.fullmatch(r"How to [^A-Z].*\?", record.turns[0]), record.turns[0]
            assert " - wikiHow" not in record.turns[0] and "(with Pictures)" not in record.turns[0]


def test_the_real_scrape_responses_are_clean_numbered_steps():
    _, articles = scrape_articles()

    records = records_of(SCRAPE)

    for record, (_, rows) in zip(records, articles):
        body = record.turns[1]
        for debris in DEBRIS:
            assert debris not in body, (record.metadata["title"], debris)
        assert not re.search(r"\[\d+\]", body)
        steps = [row for row in rows if row["heading"].strip()]
        # A step scraped twice in a row counts once; the same step in two methods counts twice.
        repeats = sum(
            1
            for a, b in zip(steps, steps[1:])
            if (a["heading"], a["paragraph"]) == (b["heading"], b["paragraph"])
        )
        assert record.metadata["steps"] == len(steps) - repeats
        assert re.search(rf"(?m)^{record.metadata['steps']}\. ", body)
        for row in steps:
            heading = row["heading"].strip()
            if "X Research source" not in heading and "http" not in heading:
                assert f"{heading} {heading}" not in body
