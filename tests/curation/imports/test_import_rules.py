"""The rule report on /imports/<id>/: per rule, the candidates it removed, three examples, the option that
loosens it, and the re-run with it loosened."""
from pathlib import Path

import pytest

from curation.imports.ingest import start_import
from curation.imports.rules import CannotLoosen, loosened_options, rule_report, run_warnings
from curation.models import ImportRun

pytestmark = pytest.mark.django_db

RULES_SITES = Path(__file__).parents[1] / "fixtures" / "stackexchange" / "rules"


@pytest.fixture
def rules_run(alice):
    # Four sites: physics (rules at work), french (the French list), a meta site and a niche one.
    return start_import("stackexchange", RULES_SITES, options={"title_prompt_share": 1.0}, user=alice, run_async=False)


def rows_by_reason(run):
    return {row.reason: row for row in rule_report(run)}


def test_each_rule_says_how_many_it_removed_with_examples_and_its_option(rules_run):
    rows = rows_by_reason(rules_run)

    assert {reason: row.removed for reason, row in rows.items()} == {
        **rules_run.rejected_by_reason, "title_not_self_contained": 2,
    }
    references = rows["refers_to_other_answers"]
    assert references.removed == 2 and len(references.examples) == 2
    assert (references.option, references.current, references.loosened_value) == ("references", True, False)
    assert [example.found for example in references.examples] == [["The OP"], ["Stack Exchange"]]
    first_person = rows["first_person"]
    assert first_person.examples[0].lists == ["fr"] and first_person.examples[0].found == ["Je", "mon"]
    assert rows["answer_too_short"].loosened_value == 600 and rows["answer_too_long"].loosened_value == 8192
    assert rows["meta_site"].loosened_value is False and rows["niche_site"].loosened_value == []
    assert rows["meta_site"].examples[0].url == "https://physics.meta.stackexchange.com/questions/1"
    assert rows["title_not_self_contained"].changes and rows["title_not_self_contained"].option == "self_contained_titles"


def test_a_score_rule_is_loosened_from_the_value_the_run_had(tmp_path, alice):
    run = start_import("stackexchange", RULES_SITES.parent / "cooking.stackexchange.com", options={"min_score": 8},
                       user=alice, run_async=False)

    row = rows_by_reason(run)["answer_score_below_8"]

    assert (row.current, row.loosened_value) == (8, 4)
    assert loosened_options(run, "answer_score_below_8") == {"min_score": 4}


def test_a_reason_without_an_option_cannot_be_loosened(alice):
    run = start_import("stackexchange", RULES_SITES.parent / "cooking.stackexchange.com", user=alice, run_async=False)

    row = rows_by_reason(run)["no_answer"]

    assert row.removed > 0 and not row.can_loosen and row.summary == "The question has no answer."
    with pytest.raises(CannotLoosen):
        loosened_options(run, "no_answer")


def test_the_page_shows_the_report_and_admins_get_the_rerun_buttons(client_of, alice, bob, rules_run):
    admin = client_of(alice).get(f"/imports/{rules_run.pk}/").content.decode()
    annotator = client_of(bob).get(f"/imports/{rules_run.pk}/").content.decode()

    for html in (admin, annotator):
        assert 'id="rules-title"' in html and 'id="rule-first_person"' in html
        assert "found <strong>Je, mon</strong>" in html and "(fr list)" in html
        assert "<code>references</code>: <code>True</code> → <code>False</code>" in html
    loosenable = {row.reason for row in rule_report(rules_run) if row.can_loosen}
    assert loosenable == {"refers_to_other_answers", "first_person", "answer_too_short", "answer_too_long",
                          "meta_site", "niche_site", "title_not_self_contained"}
    assert admin.count("Re-run loosened") == len(loosenable)
    assert "Re-run loosened" not in annotator


def test_a_rerun_reads_the_same_file_with_the_one_option_loosened(client_of, alice, rules_run, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = client_of(alice).post(f"/imports/{rules_run.pk}/rerun/", {"reason": "first_person"})

    new_run = ImportRun.objects.exclude(pk=rules_run.pk).get()
    assert response.status_code == 302 and response["Location"] == f"/imports/{new_run.pk}/"
    assert new_run.file == rules_run.file and new_run.source == rules_run.source
    assert new_run.options == {"title_prompt_share": 1.0, "first_person": False}
    assert new_run.status == "queued" and len(callbacks) == 1


def test_only_admins_rerun_and_a_fact_is_not_loosened(client_of, alice, bob, charlie, rules_run):
    assert client_of(bob).post(f"/imports/{rules_run.pk}/rerun/", {"reason": "first_person"}).status_code == 403
    assert client_of(charlie).post(f"/imports/{rules_run.pk}/rerun/", {"reason": "first_person"}).status_code == 403
    response = client_of(alice).post(f"/imports/{rules_run.pk}/rerun/", {"reason": "no_answer"}, follow=True)
    assert "no option loosens this rule" in response.content.decode()
    assert ImportRun.objects.count() == 1


def test_not_sampled_is_loosened_by_keeping_every_accepted_record(alice, tmp_path):
    run = start_import("stackexchange", RULES_SITES, options={"target": 1}, user=alice, run_async=False)

    row = rows_by_reason(run)["not_sampled"]

    assert row.removed == run.rejected_by_reason["not_sampled"] > 0
    assert (row.option, row.loosened_value) == ("target", "all")


def test_the_parsers_warnings_are_kept_on_the_run_and_shown_above_the_report(rules_run, client_of, alice):
    warnings = run_warnings(rules_run)

    assert any("is on the niche list" in warning and "(niche_site)" in warning for warning in warnings)
    assert rules_run.parser_stats  # the parser's own counts are kept too
    html = client_of(alice).get(f"/imports/{rules_run.pk}/").content.decode()
    assert 'class="flash flash-warning run-warnings"' in html and "is on the niche list" in html
