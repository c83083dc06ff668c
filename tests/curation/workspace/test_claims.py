"""Claims on review items: two reviewers never hold the same item; a claim expires; one claim per reviewer."""
import threading
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, connections, transaction
from django.utils import timezone

from core.roles import ANNOTATOR
from curation.models import Example
from curation.services import create_example
from curation.workspace import queue as review_queue
from curation.workspace.queue import QueueFilters, claim_next, current_claim, holder, release, try_claim

pytestmark = pytest.mark.django_db


@pytest.fixture
def dana(roles):
    user = get_user_model().objects.create_user(username="dana", password="x")
    user.groups.add(roles[ANNOTATOR])
    return user


@pytest.fixture
def three(bob):
    return [create_example(turns=[f"Question {n}?", f"Answer {n}."], author=bob) for n in range(3)]


def test_two_reviewers_asking_for_work_get_different_items(bob, dana, three):
    first = claim_next(bob, QueueFilters())
    second = claim_next(dana, QueueFilters())
    assert (first.pk, second.pk) == (three[0].pk, three[1].pk)
    assert Example.objects.get(pk=first.pk).claimed_by == bob
    assert Example.objects.get(pk=second.pk).claimed_by == dana


def test_an_item_held_by_someone_else_cannot_be_claimed_until_the_claim_expires(settings, bob, dana, three):
    settings.REVIEW_CLAIM_SECONDS = 60
    now = timezone.now()
    assert try_claim(three[0].pk, bob, now=now)
    assert not try_claim(three[0].pk, dana, now=now + timedelta(seconds=59))
    assert holder(Example.objects.get(pk=three[0].pk), dana, now=now + timedelta(seconds=59)) == bob
    assert try_claim(three[0].pk, dana, now=now + timedelta(seconds=61))
    assert Example.objects.get(pk=three[0].pk).claimed_by == dana


def test_a_reviewer_holds_one_claim_at_a_time(bob, three):
    assert try_claim(three[0].pk, bob)
    assert try_claim(three[1].pk, bob)
    held = Example.objects.filter(claimed_by=bob)
    assert list(held.values_list("pk", flat=True)) == [three[1].pk]


def test_releasing_frees_only_the_holders_claim(bob, dana, three):
    try_claim(three[0].pk, bob)
    release(three[0].pk, dana)
    assert Example.objects.get(pk=three[0].pk).claimed_by == bob
    release(three[0].pk, bob)
    assert Example.objects.get(pk=three[0].pk).claimed_by is None


def test_a_reload_shows_the_item_the_reviewer_already_holds(bob, three):
    try_claim(three[2].pk, bob)
    assert current_claim(bob, QueueFilters()).pk == three[2].pk
    assert claim_next(bob, QueueFilters()).pk == three[0].pk  # asking for the next one moves on


def test_stepping_backwards_skips_items_held_by_others(bob, dana, three):
    try_claim(three[1].pk, dana)
    assert claim_next(bob, QueueFilters(), before=three[2].pk).pk == three[0].pk
    assert claim_next(bob, QueueFilters(), after=three[0].pk).pk == three[2].pk
    assert claim_next(bob, QueueFilters(), after=three[2].pk) is None


def test_a_race_for_the_last_item_has_exactly_one_winner(bob, dana):
    example = create_example(turns=["Only one?", "Yes."], author=bob)
    now = timezone.now()
    # Both read the item as free, then both try to take it: the conditional update lets one through.
    assert try_claim(example.pk, bob, now=now) is True
    assert try_claim(example.pk, dana, now=now) is False
    assert claim_next(dana, QueueFilters(), now=now) is None


def test_the_queue_counts_items_held_by_others(bob, dana, three):
    try_claim(three[0].pk, dana)
    assert review_queue.queue_counts(bob, QueueFilters()) == (3, 1)


def test_filters_read_from_the_query_string_ignore_nonsense():
    filters = QueueFilters.from_query({"status": "bogus", "split": "dev", "flag": "nope", "source": "1; drop"})
    assert (filters.status, filters.split, filters.flag, filters.source) == ("candidate", "dev", "", "")
    assert QueueFilters.from_query({"status": ""}).status == ""


@pytest.mark.django_db(transaction=True)
def test_taking_an_item_does_not_wait_for_a_reviewer_taking_over_ones_expired_claim(settings, bob, dana, three):
    """Two reviewers taking each other's expired items at once deadlocked (PostgreSQL chose one, a 500): each held
    the row it took and waited for the other's to release its old claim. Releasing now passes over a row
    someone is locking."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite runs one writer at a time: there are no row locks to wait for")
    settings.REVIEW_CLAIM_SECONDS = 60
    expired, wanted = three[0].pk, three[1].pk
    Example.objects.filter(pk=expired).update(claimed_by=bob, claimed_until=timezone.now() - timedelta(seconds=1))
    taken, finish = threading.Event(), threading.Event()

    def dana_takes_it_over():
        try:
            with transaction.atomic():
                assert try_claim(expired, dana, release_others=False)
                taken.set()
                finish.wait(30)  # dana's transaction holds the row's lock until then
        finally:
            connections.close_all()

    def bob_takes_another(result):
        try:
            result.append(try_claim(wanted, bob))
        finally:
            connections.close_all()

    other = threading.Thread(target=dana_takes_it_over)
    other.start()
    assert taken.wait(10)
    result = []
    bob_thread = threading.Thread(target=bob_takes_another, args=(result,))
    bob_thread.start()
    bob_thread.join(10)
    finished_while_locked = not bob_thread.is_alive()
    finish.set()
    bob_thread.join(30)
    other.join(30)
    assert finished_while_locked, "bob's claim waited for the row dana was taking"
    assert result == [True]
    assert Example.objects.get(pk=expired).claimed_by == dana
    assert Example.objects.get(pk=wanted).claimed_by == bob
