"""Full-text search of the examples table and the API, on whichever database the tests run (SQLite's FTS5 by
default, PostgreSQL's tsvector + GIN with DATABASE_URL): the same language and answers, an index in step with
every change of the text, and a query the index answers."""
import re

import pytest
from django.core.management import call_command
from django.db import connection

from curation.models import Example, ExampleSummary
from curation.services import create_example, create_examples_bulk, delete_example, edit_example, get_or_create_source
from curation.workspace.search import parse_query, search_examples

pytestmark = pytest.mark.django_db


@pytest.fixture
def corpus():
    wikihow = get_or_create_source("wikihow", "wikiHow")
    return {
        "scarf": create_example(source=wikihow, domain="Hobbies", turns=[
            "How to knit a scarf?", "Knitting a scarf takes two needles and soft wool; cast on forty stitches."]),
        "socks": create_example(source=wikihow, domain="Hobbies", turns=[
            "How to darn socks?", "Darning needs a wooden egg and cotton thread, woven over the hole."]),
        "lima": create_example(domain="Geography", turns=[
            "What is the capital of Peru?", "Lima, a city by the sea, founded in 1535."]),
        "chat": create_example(domain="Cooking", turns=[
            "Can I crochet a tea cosy?", "Yes: crochet one in the round with wool.",
            "And knit one?", "Knitting works too, with a wider gauge."]),
        "prompt": create_example(domain="Writing", split="test", turns=["Write a poem about the sea."]),
    }


def page_ids(client, query, **params):
    response = client.get("/examples/", {"q": query, "size": 200, **params})
    assert response.status_code == 200, response.content[:500]
    return {int(pk) for pk in re.findall(r'name="item" value="(\d+):', response.content.decode())}


def api_ids(client, query, **params):
    response = client.get("/api/examples/", {"search": query, "page_size": 500, **params})
    assert response.status_code == 200, response.content[:500]
    return {row["id"] for row in response.json()["results"]}


@pytest.fixture
def find(client_of, bob, corpus):
    """find(query, **params) -> names of the examples found, the same through the page and the API."""
    client = client_of(bob)
    names = {example.pk: name for name, example in corpus.items()}

    def search(query, **params):
        on_page, through_api = page_ids(client, query, **params), api_ids(client, query, **params)
        assert on_page == through_api, (query, params)
        return {names.get(pk, pk) for pk in on_page}

    return search


def test_words_are_stemmed_and_all_must_appear(find):
    assert find("knitting") == {"scarf", "chat"}  # "knit" and "Knitting" are one stem
    assert find("knit scarf") == {"scarf"}
    assert find("WOOL") == {"scarf", "chat"}
    assert find("wool needles") == {"scarf"}


def test_words_may_come_from_the_prompt_and_the_response(find):
    # "capital" is only in the prompt, "1535" only in the response: the example has both.
    assert find("capital 1535") == {"lima"}
    assert find("crochet gauge") == {"chat"}  # across the turns of a multi-turn chat


def test_a_phrase_must_be_in_order_and_together(find):
    assert find('"by the sea"') == {"lima"}
    assert find('"sea the by"') == set()
    assert find('"soft wool"') == {"scarf"}
    assert find('"wool soft"') == set()


def test_or_excluded_and_prefix(find):
    assert find("cotton OR needles") == {"scarf", "socks"}
    assert find("wool -crochet") == {"scarf"}
    assert find('wool -"soft wool"') == {"chat"}
    assert find("-wool -sea") == {"socks"}
    assert find("darn*") == {"socks"}
    assert find("cap*") == {"lima"}


def test_the_search_can_be_narrowed_to_prompts_or_responses(find):
    assert find("sea") == {"lima", "prompt"}
    assert find("sea", within="prompt") == {"prompt"}
    assert find("sea", within="response") == {"lima"}
    assert find("knit", within="prompt") == {"scarf", "chat"}
    assert find("knit", within="response") == {"scarf", "chat"}
    assert find("scarf", within="response") == {"scarf"}
    assert find("darn*", within="response") == {"socks"}  # "Darning", the response's first word


def test_search_combines_with_the_other_filters(find):
    assert find("wool", domain="Hobbies") == {"scarf"}
    assert find("sea", split="test") == {"prompt"}
    assert find("sea", status="approved") == set()


@pytest.mark.parametrize("query", ['"unclosed', "AND", "NEAR(a b)", "a:*", "'", "!|&", "(", "wool*:A", "-", "OR",
                                   'x" OR "y', "{prompt}: sea", "^sea", "knit AND OR NOT", "\\", "%_"])
def test_operators_and_quotes_typed_by_a_person_never_break_the_query(find, query):
    find(query)  # 200, the same on the page and the API; what it finds is the words it could read


def test_an_empty_query_finds_everything(find):
    assert find("") == {"scarf", "socks", "lima", "chat", "prompt"}
    assert not parse_query('  " "  -  OR ')


def test_the_index_follows_every_change_of_the_text(find, corpus, bob):
    # given an edit of the text
    scarf = corpus["scarf"]
    scarf = edit_example(scarf, expected_version=scarf.version, author=bob,
                         turns=["How to knit a beanie?", "A beanie takes circular needles and merino."])
    # then the old words are gone and the new ones are found
    assert find("scarf") == set()
    assert find("merino") == {"scarf"}
    # a change that is not the text leaves it as it is
    edit_example(scarf, expected_version=scarf.version, author=bob, status="approved")
    assert find("merino") == {"scarf"}
    # a deleted example is found no more
    delete_example(corpus["socks"])
    assert find("cotton") == set()
    # examples created in bulk (imports) are found at once
    source = get_or_create_source("jsonl", "chats.jsonl")
    made = create_examples_bulk([{"turns": ["How do herons fish?", "They stand still in the shallows."]}],
                                source=source)
    assert find("herons shallows") == {made[0].pk}


def test_the_summary_holds_the_lengths_of_the_current_text(corpus, bob):
    chat = ExampleSummary.objects.get(example=corpus["chat"])
    assert (chat.turn_count, chat.first_line) == (4, "Can I crochet a tea cosy?")
    assert chat.prompt_chars == len("Can I crochet a tea cosy?") + len("And knit one?")
    assert chat.response_chars == len("Yes: crochet one in the round with wool.") + len("Knitting works too, with a wider gauge.")
    assert chat.prompt_tokens == 7 + 4 and chat.response_tokens == 10 + 10  # four characters a token, per turn
    assert ExampleSummary.objects.get(example=corpus["prompt"]).response_chars == 0
    assert ExampleSummary.objects.count() == Example.objects.count()


def test_reindexing_rebuilds_what_the_services_wrote(find, corpus):
    before = {s.example_id: (s.content_hash, s.prompt_chars, s.response_chars) for s in ExampleSummary.objects.all()}
    with connection.cursor() as cursor:  # a summary lost, and another out of step
        cursor.execute("DELETE FROM curation_examplesummary WHERE example_id = %s", [corpus["lima"].pk])
        cursor.execute("UPDATE curation_examplesummary SET content_hash = 'x' WHERE example_id = %s", [corpus["scarf"].pk])
    assert find("1535") == set()

    call_command("reindex_examples", "--stale")

    assert {s.example_id: (s.content_hash, s.prompt_chars, s.response_chars)
            for s in ExampleSummary.objects.all()} == before
    assert find("1535") == {"lima"}
    assert find("knit scarf") == {"scarf"}


def plan_of(queryset):
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Too few rows here for the planner to prefer an index on its own: forbid the sequential scan and
            # see which index it can use (none, if the query could not use one).
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("EXPLAIN " + sql, params)
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        return "\n".join(" ".join(map(str, row)) for row in cursor.fetchall())


def test_the_database_answers_the_search_from_its_full_text_index(corpus):
    plan = plan_of(search_examples(Example.objects.all(), "wool needles"))
    if connection.vendor == "postgresql":
        assert "Bitmap Index Scan on summary_document_gin" in plan, plan
        assert "to_tsvector" not in plan  # the stored document, never the text tokenized again
    else:
        assert re.search(r"SCAN curation_examplesearch VIRTUAL TABLE INDEX \d+:M", plan), plan
    for within, index in (("response", "summary_response_gin"), ("prompt", "summary_prompt_gin")):
        plan = plan_of(search_examples(Example.objects.all(), "wool", within=within))
        if connection.vendor == "postgresql":
            assert f"Bitmap Index Scan on {index}" in plan, plan


def test_a_huge_text_is_indexed_up_to_a_limit_and_never_fails_the_write(find):
    words = " ".join(f"token{n}" for n in range(250_000))  # ~2.4 MB of distinct words, past a tsvector's 1 MB
    huge = create_example(turns=["Paste of a log?", "Marmalade first. " + words + " zebra"])
    assert huge.summary.response_chars == len("Marmalade first. " + words + " zebra")
    assert find("marmalade") == {huge.pk}
    assert find("zebra") == set()  # beyond the indexed part
