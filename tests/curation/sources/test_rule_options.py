"""Every reason a parser gives is one of its RULES, and a rule that names an option is loosened by it: the
import page's "re-run with this rule loosened" button relies on both."""
import inspect
from collections import Counter
from pathlib import Path

import pytest

from curation.sources import jsonl, natural_instructions, reddit, stackexchange, wikihow

FIXTURES = Path(__file__).parents[1] / "fixtures"
PARSERS = [stackexchange, reddit, wikihow, natural_instructions, jsonl]

# (parser, input, a reason its fixture gives that an option loosens)
LOOSENED = [
    (stackexchange, FIXTURES / "stackexchange/rules", "meta_site"),
    (stackexchange, FIXTURES / "stackexchange/rules", "niche_site"),
    (stackexchange, FIXTURES / "stackexchange/cooking.stackexchange.com", "answer_score_below_10"),
    (stackexchange, FIXTURES / "stackexchange/rules", "answer_too_short"),
    (stackexchange, FIXTURES / "stackexchange/rules", "answer_too_long"),
    (stackexchange, FIXTURES / "stackexchange/rules", "first_person"),
    (stackexchange, FIXTURES / "stackexchange/rules", "refers_to_other_answers"),
    (reddit, [FIXTURES / "reddit/RS_sample.ndjson", FIXTURES / "reddit/RC_sample.ndjson"], "submission_removed"),
    (reddit, [FIXTURES / "reddit/RS_sample.ndjson", FIXTURES / "reddit/RC_sample.ndjson"], "submission_score_below_10"),
    (reddit, [FIXTURES / "reddit/RS_sample.ndjson", FIXTURES / "reddit/RC_sample.ndjson"], "comment_score_below_10"),
    (wikihow, FIXTURES / "wikihow/steps.csv", "title_not_how_to"),
    (wikihow, FIXTURES / "wikihow/steps.csv", "duplicate_article"),
    (natural_instructions, FIXTURES / "natural_instructions/task904_answer_verification.json", "not_a_generation_task"),
    (natural_instructions, FIXTURES / "natural_instructions/task903_sentiment_classification_spanish.json", "not_english"),
    (jsonl, FIXTURES / "jsonl/lima.jsonl", "duplicate_row"),
]


def rule_for(parser, reason):
    (rule,) = [rule for rule in parser.RULES if rule.matches(reason)]
    return rule


@pytest.mark.parametrize("parser", PARSERS, ids=lambda parser: parser.__name__.rsplit(".", 1)[-1])
def test_every_rule_option_is_a_keyword_of_iter_records(parser):
    parameters = inspect.signature(parser.iter_records).parameters

    for rule in parser.RULES:
        assert rule.summary
        if rule.option is not None:
            assert parameters[rule.option].kind == inspect.Parameter.KEYWORD_ONLY, rule
            assert rule.loosen is not None and rule.loosened, rule


@pytest.mark.parametrize("parser, path, reason", LOOSENED, ids=[f"{p.__name__.rsplit('.', 1)[-1]}-{r}" for p, _, r in LOOSENED])
def test_loosening_a_rule_lets_its_records_through(parser, path, reason):
    rule = rule_for(parser, reason)
    default = inspect.signature(parser.iter_records).parameters[rule.option].default

    before = Counter(record.reject_reason for record in parser.iter_records(path))
    after = Counter(record.reject_reason for record in parser.iter_records(path, **{rule.option: rule.loosen(default)}))

    assert before[reason] > 0
    assert after[reason] < before[reason]
    assert sum(after.values()) == sum(before.values())  # the same records, fewer rejected for this


def test_every_reason_the_fixtures_give_is_a_rule():
    given = {(parser, reason) for parser, path, _ in LOOSENED for reason in
             {record.reject_reason for record in parser.iter_records(path)} - {None}}
    given |= {(jsonl, r.reject_reason) for p in (FIXTURES / "jsonl").glob("[ols]*.jsonl") for r in jsonl.iter_records(p)
              if r.reject_reason}

    assert [(parser.__name__, reason) for parser, reason in given
            if not any(rule.matches(reason) for rule in parser.RULES)] == []
