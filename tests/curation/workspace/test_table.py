"""/examples/ through HTTP: what each row shows, every filter (on the page and the API alike), sorting by each
column, keyset pages that never repeat or miss a row — even while examples are added — a capped count, and
columns and filters that another module registers."""
import html
import random
import re

import pytest
from django.conf import settings
from django.db.models import OuterRef, Subquery, Value
from django.db.models.functions import Length
from django.utils.html import format_html

from curation.models import Example, ImportRun, Turn
from curation.services import create_example, edit_example, get_or_create_source, review_example
from curation.workspace import registry
from curation.workspace.bulk import Selection, start_bulk_action
from curation.workspace.table import TableFilters, table_page

pytestmark = pytest.mark.django_db


def rows_of(response):
    assert response.status_code == 200, response.content[:500]
    return [int(pk) for pk in re.findall(r'name="item" value="(\d+):\d+"', response.content.decode())]


def link(response, rel):
    found = re.search(rf'rel="{rel}" data-key="\w" href="([^"]+)"', response.content.decode())
    return html.unescape(found.group(1)) if found else None


def walk(client, url, rel="next"):
    """Every page from `url` on, following the `rel` links: [[ids of a page], ...]."""
    pages = []
    while url:
        response = client.get(url)
        pages.append(rows_of(response))
        url = link(response, rel)
        assert len(pages) < 100
    return pages


@pytest.fixture
def web(client_of, bob):
    """Bob's browser, as it were: an annotator logged in."""
    return client_of(bob)


@pytest.fixture
def varied(alice):
    """Examples from three sources and several domains, of all lengths, statuses and splits."""
    rng = random.Random(7)
    stack = get_or_create_source("stackexchange", "cooking.stackexchange.com")
    wikihow = get_or_create_source("wikihow", "wikiHow")
    made = []
    for i in range(60):
        source = [stack, wikihow, None][i % 3]
        turns = [f"Question {i}: " + "why " * rng.randint(1, 30), "Because. " * rng.randint(1, 200)]
        if i % 10 == 3:
            turns += ["And then?", "Then it ends."]
        if i % 10 == 7:
            turns = turns[:1]
        made.append(create_example(
            turns=turns, source=source, domain=["cooking", "baking", "travel", ""][i % 4],
            status=["candidate", "approved", "rejected"][i % 3 if i % 5 else 0],
            split=["train", "dev", "test", "unassigned"][i % 4], tags=["easy"] if i % 6 == 0 else [],
        ))
    return made


def test_a_row_shows_the_first_prompt_line_source_domain_status_split_lengths_and_flags(web):
    wikihow = get_or_create_source("wikihow", "wikiHow")
    chat = create_example(source=wikihow, domain="Hobbies", split="train", tags=["wool"], turns=[
        "\n  How to knit a scarf?\nWith pictures.", "Cast on forty stitches.", "And then?", "Knit every row."])
    lone = create_example(turns=["Write a poem about the sea."], split="test")

    page = web.get("/examples/").content.decode()

    row = page[page.index(f'value="{chat.pk}:1"'):]
    row = row[:row.index("</tr>")]
    assert f'href="/examples/{chat.pk}/"' in row
    assert "How to knit a scarf?</a>" in row and "With pictures" not in row
    assert "wikiHow" in row and "Hobbies" in row and "candidate" in row and "train" in row
    assert '<span class="tag">wool</span>' in row
    prompt_chars = len("How to knit a scarf?\nWith pictures.") + len("And then?")
    response_chars = len("Cast on forty stitches.") + len("Knit every row.")
    assert f"{prompt_chars}<span" in row and f"{response_chars}<span" in row
    assert "~12 tok" in row  # 9 + 3 tokens: four characters a token (rounded up), turn by turn
    assert "multi-turn" in row
    lone_row = page[page.index(f'value="{lone.pk}:1"'):]
    assert "prompt only" in lone_row[:lone_row.index("</tr>")]
    assert '<a href="/examples/" aria-current="page">Examples</a>' in page


def test_each_filter_narrows_the_rows_on_the_page_and_in_the_api(web, varied, bob, alice):
    stack = get_or_create_source("stackexchange", "cooking.stackexchange.com")
    run = ImportRun.objects.create(source=stack, file="Posts.xml")
    Example.objects.filter(pk__in=[varied[0].pk, varied[3].pk]).update(import_run=run)
    review_example(varied[1], reviewer=bob, decision="approve")
    edit_example(varied[2], expected_version=1, author=bob, turns=["Edited?", "Yes."])
    edit_example(varied[4], expected_version=1, author=bob, split="dev")  # a change, not of the text

    def expected(**lookups):
        return sorted((e.pk for e in Example.objects.filter(**lookups)), reverse=True)

    cases = {
        f"source={stack.pk}": expected(source=stack),
        "source=wikihow": expected(source__kind="wikihow"),
        "domain=baking": expected(domain="baking"),
        "status=rejected": expected(status="rejected"),
        "split=dev": expected(split="dev"),
        "tag=easy": sorted((e.pk for e in varied if e.pk and "easy" in Example.objects.get(pk=e.pk).tags), reverse=True),
        f"import_run={run.pk}": [varied[3].pk, varied[0].pk],
        "flag=multi_turn": expected(summary__turn_count__gt=2),
        "flag=prompt_only": expected(summary__turn_count=1),
        "flag=edited": [varied[2].pk],
        "reviewed=yes": [varied[1].pk],
        "reviewed=no": [pk for pk in expected() if pk != varied[1].pk],
        "status=approved&split=train&domain=cooking": expected(status="approved", split="train", domain="cooking"),
    }
    for query, ids in cases.items():
        assert ids, query  # every case selects something, and not everything
        assert len(ids) < len(varied), query
        assert rows_of(web.get(f"/examples/?{query}&size=200")) == ids, query
        listed = web.get(f"/api/examples/?{query}&page_size=500").json()["results"]
        assert [row["id"] for row in listed] == ids, query


def test_unknown_filter_values_are_dropped_by_the_page_and_refused_by_the_api(web, varied):
    assert len(rows_of(web.get("/examples/?status=maybe&flag=odd&size=200"))) == len(varied)
    refused = web.get("/api/examples/?status=maybe&flag=odd&import_run=x&style=blue")
    assert refused.status_code == 400
    assert set(refused.json()) == {"status", "flag", "import_run", "style"}


SORT_KEYS = {
    "id": lambda e: e.pk,
    "response": lambda e: e.summary.response_chars,
    "prompt": lambda e: e.summary.prompt_chars,
    "turns": lambda e: e.summary.turn_count,
    "domain": lambda e: e.domain,
    "status": lambda e: e.status,
    "split": lambda e: e.split,
    "source": lambda e: e.source.name,
    "updated": lambda e: e.updated_at,
}


@pytest.mark.parametrize("key", list(SORT_KEYS))
@pytest.mark.parametrize("descending", [True, False])
def test_every_sort_pages_through_every_row_once_forwards_and_back(web, varied, key, descending):
    everything = list(Example.objects.select_related("summary", "source"))
    wanted = sorted(everything, key=lambda e: (SORT_KEYS[key](e), e.pk), reverse=descending)
    sort = ("-" if descending else "") + key

    forwards = walk(web, f"/examples/?sort={sort}&size=25")

    assert [len(page) for page in forwards] == [25, 25, 10]
    assert [pk for page in forwards for pk in page] == [e.pk for e in wanted]
    # and back from the last page, through the "previous" links: the same pages
    last = web.get(f"/examples/?sort={sort}&size=25")
    for _ in range(2):
        last = web.get(link(last, "next"))
    backwards = walk(web, link(last, "prev"), rel="prev")
    assert backwards == forwards[:-1][::-1]


def test_pages_never_repeat_or_miss_a_row_while_examples_are_added(web, varied):
    rng = random.Random(3)
    original = {e.pk for e in varied}
    seen, url, added = [], "/examples/?sort=-response&size=25", set()
    while url:
        response = web.get(url)
        seen += rows_of(response)
        url = link(response, "next")
        for _ in range(5):  # meanwhile, others add examples that sort anywhere
            added.add(create_example(turns=["New?", "Yes. " * rng.randint(1, 400)]).pk)

    assert len(seen) == len(set(seen))  # no row twice
    assert original <= set(seen)  # no row of those there at the start missed
    assert set(seen) - original <= added


def test_a_cursor_made_for_another_sort_or_forged_starts_at_the_first_page(web, varied):
    first = rows_of(web.get("/examples/?sort=-response&size=25"))
    following = link(web.get("/examples/?sort=-id&size=25"), "next")
    cursor = re.search(r"cursor=([^&]+)", following).group(1)
    assert rows_of(web.get(f"/examples/?sort=-response&size=25&cursor={cursor}")) == first
    for forged in ["abc", "eyJzIjoiLWlkIn0", "e30", "eyJzIjoiLWlkIiwidiI6MSwiaWQiOi0xLCJkIjoibmV4dCJ9"]:
        response = web.get(f"/examples/?sort=-id&size=25&cursor={forged}")
        assert response.status_code == 200 and len(rows_of(response)) == 25
    nul = web.get("/examples/?sort=-id&size=25&cursor=%00")  # refused before the table (core.middleware)
    assert nul.status_code == 400 and "cursor" in nul.content.decode()


def test_the_count_is_exact_up_to_the_limit_and_says_more_beyond(web, varied, settings):
    assert "<strong>60</strong> examples" in web.get("/examples/").content.decode()
    assert "<strong>15</strong> examples match" in web.get("/examples/?split=dev").content.decode()
    settings.EXAMPLES_COUNT_LIMIT = 20
    page = web.get("/examples/").content.decode()
    assert "<strong>20+</strong> examples" in page and "counted up to 20" in page
    assert "<strong>15</strong> examples match" in web.get("/examples/?split=dev").content.decode()


def test_the_first_page_is_the_same_page_that_a_direct_query_gives(varied):
    page = table_page(TableFilters(status="approved"), size=25)
    assert [e.pk for e in page.rows] == list(
        Example.objects.filter(status="approved").order_by("-pk").values_list("pk", flat=True)[:25])
    assert page.prev_cursor is None and (page.next_cursor is not None) == (page.count > 25)


# --- Columns and filters other modules register ----------------------------------------------------------

@pytest.fixture
def answer_words():
    """A column and a filter registered the way curation/dedupe or curation/signals register theirs: words of
    the first answer, None for prompt-only examples."""

    def annotate(examples):
        answer = Turn.objects.filter(example=OuterRef("pk"), position=1)
        return examples.annotate(words=Subquery(answer.annotate(n=Length("text") / Value(6)).values("n")[:1]))

    registry.register_column("words", "Words", annotate=annotate, sortable=True, numeric=True,
                             render=lambda e: format_html("<b>{}</b>", e.words) if e.words is not None else "none",
                             help="About a word every six characters")
    registry.register_filter("long", "Long answers", choices=[("yes", "Long"), ("no", "Short")],
                             apply=lambda examples, value: examples.filter(summary__response_chars__gte=600)
                             if value == "yes" else examples.filter(summary__response_chars__lt=600))
    yield
    registry.unregister("words")
    registry.unregister("long")


def test_a_registered_column_shows_sorts_and_pages_nulls_last(web, varied, answer_words):
    page = web.get("/examples/?size=200").content.decode()
    assert 'title="About a word every six characters"' in page and ">Words" in page
    prompt_only = next(e for e in varied if e.summary.turn_count == 1)
    row = page[page.index(f'value="{prompt_only.pk}:'):]
    assert ">none</td>" in row[:row.index("</tr>")]
    assert "<b>" in page  # the column's own HTML, not escaped

    for sort in ("words", "-words"):
        pages = walk(web, f"/examples/?sort={sort}&size=25")
        ids = [pk for page in pages for pk in page]
        assert sorted(ids) == sorted(e.pk for e in varied) and len(ids) == len(set(ids))
        values = {e.pk: (len(e.turns.all()[1].text) // 6 if e.summary.turn_count > 1 else None) for e in varied}
        shown = [values[pk] for pk in ids]
        known = [value for value in shown if value is not None]
        assert shown[len(known):] == [None] * (len(shown) - len(known))  # every example without a value last
        assert known == sorted(known, reverse=sort.startswith("-"))


def test_a_registered_filter_works_on_the_page_the_api_and_all_matching_bulk_actions(web, varied, answer_words, bob):
    long_ones = sorted((e.pk for e in varied if e.summary.response_chars >= 600), reverse=True)
    assert 0 < len(long_ones) < len(varied)
    assert rows_of(web.get("/examples/?long=yes&size=200")) == long_ones
    assert [r["id"] for r in web.get("/api/examples/?long=yes&page_size=500").json()["results"]] == long_ones
    assert 'name="long"' in web.get("/examples/").content.decode()  # in the filter bar

    job = start_bulk_action(bob, "tag", params={"tag": "long"},
                            selection=Selection.from_dict({"filters": {"long": "yes"}}))

    assert job.status == "succeeded" and job.changed == len(long_ones)
    assert sorted(Example.objects.filter(tags__icontains="long").values_list("pk", flat=True)) == sorted(long_ones)


def test_a_key_the_table_uses_or_one_taken_is_refused():
    with pytest.raises(ValueError, match="parameter of the examples table"):
        registry.register_filter("status", "Mine", apply=lambda examples, value: examples)
    with pytest.raises(ValueError, match="already registered"):
        registry.register_column("style", "Other style", annotate=lambda examples: examples)


def test_the_built_in_style_column_comes_through_the_registry(web, varied, bob):
    assert registry.get_column("style") is not None and registry.get_filter("style") is not None
    assert "style" in registry.actions()
    checked = varied[:5]
    job = start_bulk_action(bob, "style", selection=Selection.from_dict(
        {"items": [{"id": e.pk, "version": e.version} for e in checked]}))
    assert job.changed == 5

    unchecked = rows_of(web.get("/examples/?style=unchecked&size=200"))
    assert set(unchecked) == {e.pk for e in varied} - {e.pk for e in checked}
    flagged = set(rows_of(web.get("/examples/?style=warnings&size=200")))
    clean = set(rows_of(web.get("/examples/?style=clean&size=200")))
    assert flagged | clean == {e.pk for e in checked} and not flagged & clean
    assert "warning" in web.get("/examples/?style=warnings").content.decode()
    # an edit of the text makes its check stale
    first = Example.objects.get(pk=checked[0].pk)
    edit_example(first, expected_version=first.version, author=bob, turns=["New?", "New."])
    assert first.pk in rows_of(web.get("/examples/?style=unchecked&size=200"))


def test_strangers_log_in_first_and_people_without_a_role_get_403(client_of, charlie, alice, varied):
    from django.test import Client

    assert Client().get("/examples/").status_code == 302
    assert client_of(charlie).get("/examples/").status_code == 403
    admin_page = client_of(alice).get("/examples/").content.decode()
    assert 'value="delete"' in admin_page  # admins may delete; annotators are not offered it


@pytest.mark.skipif("postgresql" not in settings.DATABASES["default"]["ENGINE"],
                    reason="the count's time budget is PostgreSQL's (statement_timeout)")
def test_a_count_that_would_take_too_long_gives_up_and_the_page_says_so(web, varied):
    from django.db import connection
    from django.db.models.expressions import RawSQL

    slow = RawSQL("SELECT id FROM curation_example, (SELECT pg_sleep(0.4)) AS wait", [])  # 0.4 s a query
    registry.register_filter("slow", "Slow", choices=[("yes", "Slow")],
                             apply=lambda examples, value: examples.filter(pk__in=slow))
    try:
        page = web.get("/examples/?slow=yes&size=25").content.decode()
    finally:
        registry.unregister("slow")

    assert "<strong>25+</strong> examples match" in page and "too many to count quickly" in page
    assert len(rows_of_text(page)) == 25
    with connection.cursor() as cursor:  # the budget was the count's alone
        cursor.execute("SELECT pg_sleep(0.3), current_setting('statement_timeout')")
        assert cursor.fetchone()[1] == "0"


def rows_of_text(page):
    return re.findall(r'name="item" value="(\d+):\d+"', page)
