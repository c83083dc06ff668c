"""The Stack Exchange parser on a hand-written dump holding every quirk, on the real samples, and
on the benchmark's synthetic dump."""
import collections
import importlib.util
import shutil
from pathlib import Path

import py7zr
import pytest
from lxml import etree

from curation.sources.filters import MAX_ANSWER_CHARS, MIN_ANSWER_CHARS, first_person_words, reference_phrases
from curation.sources.records import SourceFormatError, warnings_of
from curation.sources.stackexchange import (
    find_posts_sources,
    iter_records,
    licence_for,
    parse_tags,
    site_from_name,
)
from tests.samples import SHARED_DATA

FIXTURES = Path(__file__).parents[1] / "fixtures" / "stackexchange"
COOKING = FIXTURES / "cooking.stackexchange.com"
SHARED = SHARED_DATA / "stackexchange"
REAL_SAMPLES = ("coffee_2015", "conlang_meta_2020", "french_meta_2021")


def records_by_question(path, **options):
    return {r.metadata["question_id"]: r for r in iter_records(path, **options)}


# --- The hand-written dump (BOM, CRLF, every quirk of the README) ---------------------------------

def test_every_question_gets_one_record_with_its_reason():
    records = records_by_question(COOKING)

    reasons = {question: record.reject_reason for question, record in records.items()}
    assert reasons == {
        1: None,  # accepted
        7: "first_person",
        9: "answer_score_below_10",  # best answer scores 9
        11: "no_answer",
        14: "answer_too_short",  # score 25 but one sentence
        17: "refers_to_other_answers",  # "As mentioned in the other answer", score exactly 10
        19: None,  # no Title: prompted by its body
        22: "answer_score_below_10",  # the only answer scores -5
    }


def test_tag_wikis_and_answers_without_a_question_make_no_record():
    stats = collections.Counter()
    records = list(iter_records(COOKING, stats=stats))

    assert stats["rows"] == 20 and stats["other_posts"] == 2  # the tag wiki pair 12/13
    assert all(r.external_id.startswith("cooking.stackexchange.com/questions/") for r in records)
    assert {r.metadata.get("answer_id") for r in records} >= {4, 8, 16, 18, 20}
    assert 21 not in {r.metadata.get("answer_id") for r in records}  # no ParentId: cannot be joined


def test_a_score_tie_goes_to_the_accepted_answer():
    record = records_by_question(COOKING)[1]

    assert record.metadata["answer_id"] == 4 and record.metadata["accepted"] is True
    assert record.metadata["score"] == 12


def test_entities_are_decoded_exactly_once_so_code_reads_as_written():
    answer = records_by_question(COOKING)[1].turns[1]

    assert '```py\nif rest_days < 4 and crema == "thin":\n    print("wait & retry")  # written as &lt;4 days' in answer
    assert "&amp;" not in answer and "&quot;" not in answer


def test_links_images_and_urls_are_removed_lists_kept():
    answer = records_by_question(COOKING)[1].turns[1]

    assert "such as this degassing tracker:" in answer  # the link's text stays
    assert "example.com" not in answer and "example.org" not in answer and "http" not in answer
    assert "imgur" not in answer and "chart of carbon dioxide" not in answer
    assert "\n- the puck swells" in answer
    assert "<p>" not in answer and "<li>" not in answer


def test_a_question_without_title_is_prompted_by_its_body_whatever_the_draw():
    record = records_by_question(COOKING, title_prompt_share=1.0)[19]

    assert record.turns[0] == "Which pan works best for searing a thick steak at home, cast iron or carbon steel?"
    assert record.metadata["prompt_kind"] == "body" and record.metadata["title"] == ""


def test_the_prompt_is_the_title_or_the_cleaned_body():
    titles = records_by_question(COOKING, title_prompt_share=1.0)
    bodies = records_by_question(COOKING, title_prompt_share=0.0)

    assert titles[1].turns[0] == "How long should espresso beans rest after roasting?"
    assert bodies[1].turns[0] == 'How long should espresso beans rest after roasting, and does the "best before" date matter?'
    assert bodies[1].turns[1] == titles[1].turns[1]
    assert {titles[1].metadata["prompt_kind"], bodies[1].metadata["prompt_kind"]} == {"title", "body"}


def test_attribution_is_kept():
    records = records_by_question(COOKING)

    first = records[1].metadata
    assert first["site"] == "cooking.stackexchange.com" and first["question_id"] == 1 and first["answer_id"] == 4
    assert first["url"] == "https://cooking.stackexchange.com/questions/1"
    assert first["answer_url"] == "https://cooking.stackexchange.com/a/4"
    assert first["licence"] == "CC BY-SA 4.0" and first["licence_inferred"] is False
    assert first["tags"] == ["espresso", "roasting"] and first["question_score"] == 15
    # A deleted owner: OwnerDisplayName and no OwnerUserId.
    assert first["author"] == "user39" and first["author_user_id"] is None and first["author_url"] is None
    # A live owner: the name comes from Users.xml beside Posts.xml.
    seventh = records[7].metadata
    assert seventh["author"] == "Ana Barista" and seventh["author_url"] == "https://cooking.stackexchange.com/users/5"
    assert records[7].domain == "cooking.stackexchange.com"


def test_tags_in_the_pipe_form_and_a_missing_licence_are_handled():
    record = records_by_question(COOKING)[14]

    assert record.metadata["tags"] == ["tea", "water"]
    # No ContentLicense in the row: the licence Stack Exchange used on that date (2015).
    assert record.metadata["licence"] == "CC BY-SA 3.0" and record.metadata["licence_inferred"] is True
    assert record.metadata["question_score"] == 0  # no Score attribute


def test_an_answer_before_its_question_still_joins():
    record = records_by_question(COOKING)[14]

    assert record.metadata["answer_id"] == 16 and record.turns[1] == "Use water that is soft but not distilled."
    assert "line 15 (answer line 14)" in record.location


def test_questions_rejected_on_score_alone_carry_no_text():
    records = records_by_question(COOKING)

    for question in (9, 11, 22):
        assert records[question].turns == []
        assert records[question].metadata["url"] == f"https://cooking.stackexchange.com/questions/{question}"


def test_accepted_records_pass_every_rule_as_the_filters_see_it():
    for record in records_by_question(COOKING).values():
        if record.reject_reason is None:
            answer = record.turns[1]
            assert MIN_ANSWER_CHARS <= len(answer) <= MAX_ANSWER_CHARS
            assert not first_person_words(answer) and not reference_phrases(answer)
            assert record.metadata["score"] >= 10


def test_the_same_records_whether_the_join_waits_in_memory_or_on_disk():
    in_memory = records_by_question(COOKING)
    on_disk = records_by_question(COOKING, join_memory_mb=0)

    assert on_disk == in_memory


def test_a_dump_that_is_not_one_row_per_line_gives_the_same_records(tmp_path):
    # given: the same rows, two on a line and one spread over two lines
    text = (COOKING / "Posts.xml").read_bytes().decode("utf-8-sig")
    assert text.count("\r\n  <row") == 20
    text = text.replace("\r\n  <row Id=\"2\"", " <row Id=\"2\"").replace(' Body="&lt;p&gt;Use water', '\n Body="&lt;p&gt;Use water')
    folder = tmp_path / "cooking.stackexchange.com"
    folder.mkdir()
    (folder / "Posts.xml").write_text(text, encoding="utf-8")
    shutil.copy(COOKING / "Users.xml", folder / "Users.xml")

    # when
    reshaped = records_by_question(folder)

    # then
    original = records_by_question(COOKING)
    assert {q: (r.reject_reason, r.turns, r.metadata) for q, r in reshaped.items()} == {
        q: (r.reject_reason, r.turns, r.metadata) for q, r in original.items()
    }


def test_a_needed_row_behind_another_on_its_line_is_still_found(tmp_path):
    # given: the accepted answer 4 shares a line with answer 3, which nothing needs
    text = (COOKING / "Posts.xml").read_bytes().decode("utf-8-sig")
    folder = tmp_path / "cooking.stackexchange.com"
    folder.mkdir()
    (folder / "Posts.xml").write_text(text.replace('\r\n  <row Id="4"', ' <row Id="4"'), encoding="utf-8")

    records = records_by_question(folder)

    assert records[1].reject_reason is None and records[1].metadata["answer_id"] == 4
    assert {q: r.reject_reason for q, r in records.items()} == {
        q: r.reject_reason for q, r in records_by_question(COOKING).items()
    }


def test_an_answer_to_a_question_missing_from_the_dump_is_ignored(tmp_path):
    posts = tmp_path / "Posts.xml"
    posts.write_text('<posts>\n  <row Id="1" PostTypeId="1" Title="Kept?" Score="1" />\n'
                     '  <row Id="3" PostTypeId="2" ParentId="2" Score="50" Body="&lt;p&gt;Orphan.&lt;/p&gt;" />\n'
                     '</posts>\n', encoding="utf-8")

    records = list(iter_records(posts, site="cooking.stackexchange.com"))

    assert [(r.external_id, r.reject_reason) for r in records] == [
        ("cooking.stackexchange.com/questions/1", "no_answer"),
    ]


def test_it_reads_the_sites_7z_archive_as_published(tmp_path):
    archive = tmp_path / "cooking.stackexchange.com.7z"
    with py7zr.SevenZipFile(archive, "w") as handle:
        handle.write(COOKING / "Posts.xml", "Posts.xml")
        handle.write(COOKING / "Users.xml", "Users.xml")

    from_archive = records_by_question(archive)

    from_folder = records_by_question(COOKING)
    assert {q: (r.reject_reason, r.turns, r.metadata) for q, r in from_archive.items()} == {
        q: (r.reject_reason, r.turns, r.metadata) for q, r in from_folder.items()
    }
    assert from_archive[1].location.startswith(f"{archive}:Posts.xml line ")


def test_a_folder_of_sites_yields_each_site_under_its_name(tmp_path):
    shutil.copytree(COOKING, tmp_path / "cooking.stackexchange.com")
    with py7zr.SevenZipFile(tmp_path / "coffee.stackexchange.com.7z", "w") as handle:
        handle.write(COOKING / "Posts.xml", "Posts.xml")

    records = list(iter_records(tmp_path))

    assert collections.Counter(r.domain for r in records) == {
        "coffee.stackexchange.com": 8, "cooking.stackexchange.com": 8,
    }
    assert len({r.external_id for r in records}) == 16


def test_site_names_come_from_file_and_folder_names():
    assert site_from_name("coffee.stackexchange.com.7z") == "coffee.stackexchange.com"
    assert site_from_name("stackoverflow.com-Posts.7z") == "stackoverflow.com"
    assert site_from_name("coffee_2015") == "coffee.stackexchange.com"
    assert site_from_name("conlang_meta_2020") == "conlang.meta.stackexchange.com"
    assert site_from_name("mathoverflow") == "mathoverflow.net"
    assert site_from_name("downloads") is None  # says nothing about a site
    assert site_from_name("8fc23dff" * 8) is None  # an upload folder's hash
    assert site_from_name("dump.v2") is None


def test_the_site_option_names_a_site_the_path_does_not(tmp_path):
    shutil.copy(COOKING / "Posts.xml", tmp_path / "Posts.xml")

    [source] = find_posts_sources(tmp_path / "Posts.xml", site="cooking.stackexchange.com")
    records = list(iter_records(tmp_path / "Posts.xml", site="cooking.stackexchange.com"))

    assert source.site == "cooking.stackexchange.com"
    assert {r.domain for r in records} == {"cooking.stackexchange.com"}


def test_tags_and_licences():
    assert parse_tags("<a><b-c>") == ["a", "b-c"] and parse_tags("|a|b-c|") == ["a", "b-c"]
    assert parse_tags(None) == [] and parse_tags("") == []
    assert licence_for({"ContentLicense": "CC BY-SA 2.5"}) == ("CC BY-SA 2.5", False)
    assert licence_for({"CreationDate": "2010-01-01T00:00:00"}) == ("CC BY-SA 2.5", True)
    assert licence_for({"CreationDate": "2019-01-01T00:00:00"}) == ("CC BY-SA 4.0", True)


def test_the_prompt_draw_is_seeded_and_ignores_the_order_of_the_file(tmp_path):
    # given: the same dump with its rows in reverse order
    lines = (COOKING / "Posts.xml").read_bytes().decode("utf-8-sig").split("\r\n")
    rows = [line for line in lines if line.lstrip().startswith("<row")]
    assert len(rows) == 20
    folder = tmp_path / "cooking.stackexchange.com"
    folder.mkdir()
    (folder / "Posts.xml").write_text("<posts>\n" + "\n".join(reversed(rows)) + "\n</posts>\n", encoding="utf-8")

    def kinds(path, seed):
        return {q: r.metadata.get("prompt_kind") for q, r in records_by_question(path, seed=seed).items()}

    # then
    assert kinds(folder, seed=3) == kinds(COOKING, seed=3)
    draws = {tuple(sorted(kinds(COOKING, seed=seed).items())) for seed in range(8)}
    assert len(draws) > 1  # another seed, another draw


def test_truncated_xml_names_the_file_and_line():
    with pytest.raises(SourceFormatError) as error:
        list(iter_records(FIXTURES / "truncated", site="cooking.stackexchange.com"))

    assert "truncated/Posts.xml" in str(error.value) and "line 8" in str(error.value)


def test_a_score_that_is_not_a_number_names_the_file_and_line(tmp_path):
    posts = tmp_path / "Posts.xml"
    posts.write_text('<posts>\n  <row Id="1" PostTypeId="1" Title="Q" />\n'
                     '  <row Id="2" PostTypeId="2" ParentId="1" Score="ten" />\n</posts>\n')

    with pytest.raises(SourceFormatError) as error:
        list(iter_records(posts, site="cooking.stackexchange.com"))

    assert str(posts) in str(error.value) and "line 3" in str(error.value) and "Score='ten'" in str(error.value)


def test_a_file_that_is_not_a_posts_dump_is_refused(tmp_path):
    with pytest.raises(SourceFormatError) as error:
        list(iter_records(COOKING / "Users.xml", site="cooking.stackexchange.com"))

    assert "Users.xml" in str(error.value) and "<users>" in str(error.value)


def test_a_path_with_no_dump_is_refused(tmp_path):
    with pytest.raises(SourceFormatError, match="no Posts.xml"):
        list(iter_records(tmp_path))


def test_an_archive_with_corrupt_data_names_the_archive_and_member(tmp_path):
    archive = tmp_path / "cooking.stackexchange.com.7z"
    with py7zr.SevenZipFile(archive, "w") as handle:
        handle.write(COOKING / "Posts.xml", "Posts.xml")
    data = bytearray(archive.read_bytes())
    data[40] ^= 0xFF  # inside the compressed stream; the header at the end stays readable
    archive.write_bytes(bytes(data))

    with pytest.raises(SourceFormatError) as error:
        list(iter_records(archive))

    assert f"{archive}:Posts.xml" in str(error.value) and "cannot decompress" in str(error.value)


def test_a_broken_archive_is_refused(tmp_path):
    archive = tmp_path / "cooking.stackexchange.com.7z"
    archive.write_bytes(b"7z but not really")

    with pytest.raises(SourceFormatError, match="cooking.stackexchange.com.7z"):
        list(iter_records(archive))


# --- The real samples ---------------------------------------------------------------------------

def real_sample(name):
    folder = SHARED / name
    if not (folder / "Posts.xml").exists():
        pytest.skip(f"{folder} is absent")
    return folder


def expected_counts(posts):
    """Counted here directly from the rows, independently of the parser."""
    questions, best = set(), {}
    for _, row in etree.iterparse(str(posts), tag="row"):
        if row.get("PostTypeId") == "1":
            questions.add(int(row.get("Id")))
        elif row.get("PostTypeId") == "2":
            parent, score = int(row.get("ParentId")), int(row.get("Score"))
            best[parent] = max(best.get(parent, score), score)
        row.clear()
    return {
        "questions": len(questions),
        "no_answer": len(questions - set(best)),
        "below_10": sum(1 for q in questions if q in best and best[q] < 10),
        "scored_10": sum(1 for q in questions if q in best and best[q] >= 10),
    }


@pytest.mark.parametrize("name", REAL_SAMPLES)
def test_real_samples_give_the_counts_the_rows_hold(name):
    folder = real_sample(name)
    expected = expected_counts(folder / "Posts.xml")

    records = list(iter_records(folder, exclude_meta_sites=False))

    reasons = collections.Counter(r.reject_reason for r in records)
    assert len(records) == expected["questions"] == len({r.external_id for r in records})
    assert reasons["no_answer"] == expected["no_answer"]
    assert reasons["answer_score_below_10"] == expected["below_10"]
    with_text = [r for r in records if r.turns]
    assert len(with_text) == expected["scored_10"]
    assert {r.reject_reason for r in with_text} <= {
        None, "answer_too_short", "answer_too_long", "first_person", "refers_to_other_answers", "empty_prompt",
    }


@pytest.mark.parametrize("name", ["conlang_meta_2020", "french_meta_2021"])
def test_real_meta_samples_are_left_out_by_default_with_a_warning(name):
    folder = real_sample(name)
    expected = expected_counts(folder / "Posts.xml")
    stats = collections.Counter()

    records = list(iter_records(folder, stats=stats))

    assert len(records) == expected["questions"]
    assert {r.reject_reason for r in records} == {"meta_site"} and not any(r.turns for r in records)
    assert warnings_of(stats) == [
        f"{records[0].domain} is a meta site: its {expected['questions']:,} questions are left out (meta_site); "
        "import with exclude_meta_sites=false to read them."
    ]


def test_coffee_2015_keeps_its_attribution_without_content_licences():
    records = [r for r in iter_records(real_sample("coffee_2015")) if r.turns]

    assert len(records) == 35
    for record in records:
        meta = record.metadata
        assert record.domain == meta["site"] == "coffee.stackexchange.com"
        assert meta["url"] == f"https://coffee.stackexchange.com/questions/{meta['question_id']}"
        assert meta["answer_url"] == f"https://coffee.stackexchange.com/a/{meta['answer_id']}"
        assert meta["score"] >= 10 and meta["author"]
        # The 2015 dump has no ContentLicense: CC BY-SA 3.0 was in force for all of it.
        assert (meta["licence"], meta["licence_inferred"]) == ("CC BY-SA 3.0", True)
    accepted = [r for r in records if r.reject_reason is None]
    assert accepted and all(MIN_ANSWER_CHARS <= len(r.turns[1]) <= MAX_ANSWER_CHARS for r in accepted)


def test_deleted_owners_of_conlang_meta_are_credited_by_their_display_name():
    folder = real_sample("conlang_meta_2020")
    deleted = {}
    for _, row in etree.iterparse(str(folder / "Posts.xml"), tag="row"):
        if row.get("OwnerUserId") is None and row.get("OwnerDisplayName"):
            deleted[int(row.get("Id"))] = row.get("OwnerDisplayName")
        row.clear()

    records = [r for r in iter_records(folder) if r.metadata.get("answer_id") in deleted]

    for record in records:
        assert record.metadata["author"] == deleted[record.metadata["answer_id"]]
        assert record.metadata["author_user_id"] is None


def test_real_samples_are_deterministic_by_seed():
    folder = real_sample("french_meta_2021")

    def draw(seed):
        return [(r.external_id, r.reject_reason, r.turns, r.metadata.get("prompt_kind"))
                for r in iter_records(folder, seed=seed, exclude_meta_sites=False)]

    assert draw(1) == draw(1)
    kinds = [kind for *_, kind in draw(1) if kind]
    assert draw(2) != draw(1) and 0 < kinds.count("title") < len(kinds)


# --- The benchmark's synthetic dump -------------------------------------------------------------

def load_generator():
    path = Path(__file__).resolve().parents[3] / "bench" / "ingest_data.py"
    spec = importlib.util.spec_from_file_location("ingest_data", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_benchmark_dump_is_read_like_a_real_one_and_most_answers_fail_the_score_rule(tmp_path):
    posts = tmp_path / "bench.stackexchange.com" / "Posts.xml"
    posts.parent.mkdir()

    counts = load_generator().write_posts_xml(posts, 0.5, seed=1)

    expected = expected_counts(posts)
    stats = collections.Counter()
    records = list(iter_records(posts.parent, stats=stats))
    assert counts["bytes"] == posts.stat().st_size >= 500_000
    assert stats["rows"] == counts["rows"] and len(records) == counts["questions"] == expected["questions"]
    assert expected["below_10"] > 3 * expected["scored_10"]  # as on the real dumps
    reasons = collections.Counter(r.reject_reason for r in records)
    assert reasons["answer_score_below_10"] == expected["below_10"] and reasons[None] > 0


# --- LIMA's rules on the sites of fixtures/stackexchange/rules ----------------------------------

RULES_FIXTURES = FIXTURES / "rules"


def rules_records(name, **options):
    return {r.metadata["question_id"]: r for r in iter_records(RULES_FIXTURES / name, **options)}


def test_i_as_a_symbol_and_the_op_amp_pass_while_the_op_does_not():
    records = rules_records("physics.stackexchange.com", title_prompt_share=0.0)

    assert records[1].reject_reason is None  # "where I is the moment of inertia", "let I be"
    assert records[3].reject_reason is None  # "the op-amp gain", "the op amp"
    assert records[5].reject_reason == "refers_to_other_answers"
    assert records[5].metadata["rule_hits"] == {
        "rule": "refers_to_other_answers", "language": "en", "lists": ["en"], "found": ["The OP"],
        "sentence": "The OP asked about rolling, so here is the energy argument.",
    }


def test_an_answer_about_stack_exchange_is_no_reference_when_the_question_is_about_it():
    records = rules_records("physics.stackexchange.com", title_prompt_share=0.0)

    assert records[7].reject_reason is None  # the question asks about the Stack Exchange data dump
    assert records[9].reject_reason == "refers_to_other_answers"
    assert records[9].metadata["rule_hits"]["found"] == ["Stack Exchange"]


def test_a_title_that_cannot_stand_alone_falls_back_to_the_body_and_says_why():
    records = rules_records("physics.stackexchange.com", title_prompt_share=1.0)

    assert records[11].metadata["prompt_kind"] == "body"
    assert records[11].turns[0].startswith("What does the loop `for m in masses")
    assert records[11].metadata["title_not_self_contained"] == {"reason": "refers_to_the_body", "found": "this"}
    assert records[13].metadata["prompt_kind"] == "body"
    assert records[13].metadata["title_not_self_contained"] == {"reason": "question_in_body"}
    assert records[1].metadata["prompt_kind"] == "title" and "title_not_self_contained" not in records[1].metadata
    kept = rules_records("physics.stackexchange.com", title_prompt_share=1.0, self_contained_titles=False)
    assert kept[11].turns[0] == "What does this code compute?" and kept[11].metadata["prompt_kind"] == "title"


def test_a_french_site_is_read_with_the_french_list():
    records = rules_records("french.stackexchange.com")

    assert records[1].reject_reason == "first_person"
    assert records[1].metadata["language"] == "fr"
    assert records[1].metadata["rule_hits"]["lists"] == ["fr"]
    assert records[1].metadata["rule_hits"]["found"] == ["Je", "mon"]
    assert records[3].reject_reason is None and records[3].metadata["language"] == "fr"  # « je » is named
    assert rules_records("french.stackexchange.com", first_person=False)[1].reject_reason is None


def test_meta_and_niche_sites_are_left_out_unless_asked_for():
    stats = collections.Counter()

    records = list(iter_records(RULES_FIXTURES, stats=stats))

    by_site = collections.defaultdict(set)
    for record in records:
        by_site[record.domain].add(record.reject_reason)
    assert by_site["physics.meta.stackexchange.com"] == {"meta_site"}
    assert by_site["codegolf.stackexchange.com"] == {"niche_site"}
    assert stats["sites_left_out"] == 2 and len(warnings_of(stats)) == 2
    assert "codegolf.stackexchange.com is on the niche list" in warnings_of(stats)[0]
    again = {r.domain: r.reject_reason for r in iter_records(RULES_FIXTURES, exclude_meta_sites=False, excluded_sites=[])}
    assert again["physics.meta.stackexchange.com"] is None and again["codegolf.stackexchange.com"] is None
    assert {r.domain: r.reject_reason for r in iter_records(RULES_FIXTURES, excluded_sites="french")}[
        "french.stackexchange.com"] == "niche_site"
