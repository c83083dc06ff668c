"""The rules every change to an example keeps: alternating roles, a revision per change, optimistic locking."""
import pytest
from django.core.exceptions import ValidationError
from django.db import transaction

from curation.models import Example, Revision, Source
from curation.services import (
    DuplicateExample,
    StaleEdit,
    content_hash,
    create_example,
    edit_example,
    get_or_create_source,
    normalize_turns,
    revert_example,
    review_example,
)

pytestmark = pytest.mark.django_db


def test_turns_alternate_starting_with_the_user(bob):
    example = create_example(turns=["How do I boil an egg?", "Put it in boiling water.", "For how long?",
                                    "Nine minutes for a firm yolk."], author=bob)
    roles = list(example.turns.values_list("role", flat=True))
    assert roles == ["user", "assistant", "user", "assistant"]


def test_it_refuses_roles_that_do_not_alternate():
    with pytest.raises(ValidationError, match="Turn 2 must be the assistant's"):
        normalize_turns([{"role": "user", "text": "Hi"}, {"role": "user", "text": "Hello?"}])
    with pytest.raises(ValidationError, match="Turn 1 must be the user's"):
        normalize_turns([{"role": "assistant", "text": "Hello"}])


def test_it_refuses_a_conversation_ending_with_a_user_turn_unless_it_is_a_lone_prompt():
    assert normalize_turns(["Only a prompt"]) == ["Only a prompt"]
    with pytest.raises(ValidationError, match="must end with the assistant"):
        create_example(turns=["Q", "A", "A follow-up with no answer"])
    assert Example.objects.count() == 0


def test_it_refuses_empty_turns_and_empty_conversations():
    with pytest.raises(ValidationError, match="at least one turn"):
        normalize_turns([])
    with pytest.raises(ValidationError, match="Turn 2 is empty"):
        normalize_turns(["Question", "   "])


def test_creating_an_example_records_its_first_revision(bob):
    example = create_example(turns=["Q?", "A."], author=bob, domain="cooking")
    revision = example.revisions.get()
    assert (revision.number, revision.author, revision.turns) == (1, bob, ["Q?", "A."])
    assert example.content_hash == revision.content_hash == content_hash(["Q?", "A."])


def test_every_change_leaves_a_revision_with_the_full_content(bob):
    example = create_example(turns=["Q?", "A."], author=bob)
    example = edit_example(example, expected_version=1, author=bob, turns=["Q?", "A better answer."])
    example = edit_example(example, expected_version=2, author=bob, split="train")
    example = edit_example(example, expected_version=3, author=bob, status="approved")

    revisions = list(example.revisions.order_by("number"))
    assert [r.number for r in revisions] == [1, 2, 3, 4]
    assert revisions[1].turns == ["Q?", "A better answer."]
    assert (revisions[2].split, revisions[2].turns) == ("train", ["Q?", "A better answer."])
    assert (revisions[3].status, revisions[3].split) == ("approved", "train")
    assert example.version == 4


def test_it_refuses_a_stale_edit_and_keeps_the_newer_content(bob, alice):
    example = create_example(turns=["Q?", "A."], author=bob)
    edit_example(example, expected_version=1, author=alice, turns=["Q?", "Alice's answer."])

    with pytest.raises(StaleEdit) as refused:
        edit_example(example, expected_version=1, author=bob, turns=["Q?", "Bob's answer."])

    assert refused.value.current.version == 2
    example.refresh_from_db()
    assert example.conversation == ["Q?", "Alice's answer."]
    assert example.revisions.count() == 2


def test_a_failed_validation_changes_nothing(bob):
    example = create_example(turns=["Q?", "A."], author=bob)
    with pytest.raises(ValidationError):
        edit_example(example, expected_version=1, author=bob, turns=["Q?", ""])
    example.refresh_from_db()
    assert (example.version, example.conversation) == (1, ["Q?", "A."])


def test_external_id_is_unique_per_source_but_not_across_sources():
    cooking = get_or_create_source(Source.Kind.STACKEXCHANGE, "cooking.stackexchange.com")
    coffee = get_or_create_source(Source.Kind.STACKEXCHANGE, "coffee.stackexchange.com")
    create_example(source=cooking, external_id="q1", turns=["Q?", "A."])
    create_example(source=coffee, external_id="q1", turns=["Q?", "A."])
    with pytest.raises(DuplicateExample, match="'q1'"), transaction.atomic():
        create_example(source=cooking, external_id="q1", turns=["Other?", "Other."])
    assert Example.objects.filter(external_id="q1").count() == 2


def test_approving_moves_the_status_and_records_who_did_it(bob):
    example = create_example(turns=["Q?", "A."])
    review = review_example(example, reviewer=bob, decision="approve", split="train")
    example.refresh_from_db()
    assert (example.status, example.split) == ("approved", "train")
    assert review.revision.number == example.version == 2
    assert example.revisions.get(number=2).author == bob


def test_a_rejection_needs_a_reason(bob):
    example = create_example(turns=["Q?", "A."])
    with pytest.raises(ValidationError, match="needs a reason"):
        review_example(example, reviewer=bob, decision="reject")
    review_example(example, reviewer=bob, decision="reject", reason="first_person")
    example.refresh_from_db()
    assert example.status == "rejected"


def test_reverting_is_itself_a_new_revision(bob):
    example = create_example(turns=["Q?", "First."], author=bob)
    example = edit_example(example, expected_version=1, author=bob, turns=["Q?", "Second."])
    example = revert_example(example, number=1, author=bob, expected_version=2)
    assert example.conversation == ["Q?", "First."]
    assert list(example.revisions.values_list("number", "note").order_by("number")) == [
        (1, "created"), (2, "edited"), (3, "reverted to r1"),
    ]
    assert Revision.objects.filter(example=example).count() == 3
