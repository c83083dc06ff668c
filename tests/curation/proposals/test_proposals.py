"""Proposing a set through the studio: the pool, the quotas, duplicates and rejections left out, the page, the
accept-as-a-queue step and the command."""
import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from core.jobs.runner import execute
from curation.dedupe.index import refresh as refresh_duplicates
from curation.models import CompositionTarget, Example, Proposal, Source
from curation.proposals.jobs import ProposalError, accept_proposal, start_proposal
from curation.services import create_example
from curation.signals.jobs import start_run
from curation.workspace.figures import LIMA_TARGETS

pytestmark = pytest.mark.django_db

# (topic, an answer of its own): no two answers alike, so that only the planted twins are near-duplicates.
ANSWERS = {
    "bake sourdough bread with a long cold proof":
        "Mix flour, water, salt and a lively starter, fold the dough every half hour for two hours, shape it "
        "and leave it in the fridge overnight. Bake it straight from the cold in a preheated Dutch oven.",
    "repair a bicycle puncture on the road":
        "Lever the tyre off the rim, find the hole by pumping the tube and listening, roughen the rubber around "
        "it, spread the glue, wait until it turns dull and press the patch on firmly for a minute.",
    "plant tomatoes in a small balcony garden":
        "Choose a bush variety, give each plant a pot of at least twenty litres with drainage holes, put them "
        "where they get six hours of sun and water deeply whenever the top of the soil is dry.",
    "train a puppy to walk on a loose lead":
        "Stop the moment the lead goes tight and walk on only when it slackens. Reward your puppy with a treat "
        "at your side every few steps, and keep the first sessions short and cheerful.",
    "write a cover letter for a first job":
        "Open with the role and why it interests you, give two concrete examples from school, volunteering or "
        "projects that show the skills the advert asks for, and close by asking for an interview.",
    "clean a cast iron pan without soap":
        "Scrape off stuck food with coarse salt and a paper towel while the pan is warm, rinse with hot water, "
        "dry it on the hob and wipe a thin film of oil over the inside before storing it.",
    "learn the basics of watercolour painting":
        "Start with three primary colours, a round brush and heavy cotton paper. Practise flat and graded "
        "washes, then wet-on-wet blooms, and let each layer dry before painting over it.",
    "budget for a month of groceries":
        "Add up what you spent in the last three months, plan meals around what you already have, write a list "
        "before shopping and set aside a fixed sum each week in cash or a separate account.",
}
TOPICS = list(ANSWERS)


def wikihow_source():
    return Source.objects.get_or_create(kind="wikihow", name="wikihow")[0]


def how_to(topic, source=None, answer=None, **fields):
    return create_example(turns=[f"How do I {topic}?", answer or ANSWERS.get(topic, f"Here is how to {topic}.")],
                          source=source or wikihow_source(), **fields)


def targets(**train):
    """The dashboard's train targets: these groups only (the others of LIMA's Table 1 set to 0)."""
    for (split, bucket) in LIMA_TARGETS:
        if split == "train":
            CompositionTarget.objects.update_or_create(split="train", bucket=bucket,
                                                       defaults={"target": train.get(bucket, 0)})


def embed_everything():
    run = start_run("embedding", run_async=False)
    assert run.status == "succeeded", run.error


def test_quotas_are_honoured_and_rejected_dev_test_and_prompt_only_examples_never_proposed():
    targets(wikihow=3, hand_written=2)
    wikihow = [how_to(topic) for topic in TOPICS]
    written = [create_example(turns=[f"Tell me how to {topic}, in my own words.", ANSWERS[topic][::-1]])
               for topic in TOPICS[:4]]
    rejected = how_to("fold a paper crane", status=Example.Status.REJECTED)
    held_out = how_to("tie a bowline knot", split=Example.Split.TEST)
    prompt_only = create_example(turns=["Write me a poem about herons."])
    embed_everything()

    proposal = start_proposal(size=5, targets_from="dashboard", run_async=False)

    assert proposal.status == "succeeded", proposal.error
    assert proposal.quotas == {"wikihow": 3, "hand_written": 2}
    assert {group: len(ids) for group, ids in proposal.by_group.items()} == {"wikihow": 3, "hand_written": 2}
    assert set(proposal.by_group["wikihow"]) <= {e.pk for e in wikihow}
    assert set(proposal.by_group["hand_written"]) <= {e.pk for e in written}
    assert not {rejected.pk, held_out.pk, prompt_only.pk} & set(proposal.examples)
    assert proposal.figures["excluded"] == {"rejected": 1, "dev or test": 1, "no response": 1}
    assert proposal.figures["without_embedding"] == 0
    assert proposal.shortfall == {}


def test_at_most_one_example_of_a_near_duplicate_cluster_is_proposed():
    targets(wikihow=4)
    bread = ANSWERS[TOPICS[0]]
    twins = [how_to(TOPICS[0]),
             how_to("bake  sourdough bread with a long cold proof", answer=bread.replace(" ", "  ")),  # whitespace
             how_to("make sourdough bread", answer=bread + " Let it cool before slicing.")]  # a sentence added
    others = [how_to(topic) for topic in TOPICS[1:4]]
    refresh_duplicates()
    embed_everything()

    proposal = start_proposal(size=4, targets_from="dashboard", quality_weight=0.0, run_async=False)

    picked = set(proposal.examples)
    assert len(picked & {e.pk for e in twins}) == 1
    assert {e.pk for e in others} <= picked
    assert proposal.figures["in_duplicate_clusters"] >= 3


def test_too_few_candidates_is_a_shortfall_not_an_error():
    targets(wikihow=3, se_stem=2)
    made = [how_to(topic) for topic in TOPICS[:2]]
    proposal = start_proposal(size=5, targets_from="dashboard", run_async=False)
    assert proposal.status == "succeeded"
    assert sorted(proposal.examples) == sorted(e.pk for e in made)
    assert proposal.shortfall == {"wikihow": 1, "se_stem": 2}
    assert proposal.figures["without_embedding"] == 2  # proposed by quality alone, and said so


def test_bad_requests_are_refused_with_the_field():
    with pytest.raises(ProposalError, match="size: between 1 and"):
        start_proposal(size=0)
    with pytest.raises(ProposalError, match="quality_weight"):
        start_proposal(quality_weight=2)
    assert not Proposal.objects.exists()


def test_an_empty_pool_fails_with_a_cause():
    proposal = start_proposal(size=10, run_async=False)
    assert proposal.status == "failed"
    assert "No candidate" in proposal.error


def test_the_command_prints_the_proposal_as_json():
    targets(wikihow=2)
    made = [how_to(topic) for topic in TOPICS[:3]]
    out = StringIO()
    call_command("propose_set", "--size", "2", "--targets", "dashboard", "--json", stdout=out)
    line = json.loads(out.getvalue().strip().splitlines()[-1])
    assert line["composition"] == {"wikihow": 2}
    assert len(line["examples"]) == 2 and set(line["examples"]) <= {e.pk for e in made}
    assert Proposal.objects.get(pk=line["proposal"]).examples == line["examples"]
    with pytest.raises(CommandError, match="size"):
        call_command("propose_set", "--size", "0")


def test_an_admin_proposes_in_the_browser_and_accepts_it_as_a_review_queue(client_of, alice, bob):
    targets(wikihow=3)
    made = [how_to(topic) for topic in TOPICS[:5]]
    embed_everything()
    admin = client_of(alice)

    response = admin.post("/proposals/", {"size": 3, "targets": "dashboard", "quality_weight": 0.5, "name": "first"})
    proposal = Proposal.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/proposals/{proposal.pk}/"
    assert proposal.status == "queued"
    assert "queued" in admin.get(f"/proposals/{proposal.pk}/").content.decode()
    proposal = execute(proposal.job_label, proposal.pk)  # what the worker does with the queued job
    assert proposal.status == "succeeded", proposal.error
    page = admin.get(f"/proposals/{proposal.pk}/").content.decode()
    assert "Accept as a review queue" in page and "wikiHow" in page

    response = admin.post(f"/proposals/{proposal.pk}/accept/")
    assert response.status_code == 302 and response["Location"] == f"/review/?tag=proposal-{proposal.pk}"
    tagged = [e for e in Example.objects.all() if f"proposal-{proposal.pk}" in e.tags]
    assert sorted(e.pk for e in tagged) == sorted(proposal.examples)
    assert all(e.revisions.filter(note__startswith="tagged").exists() for e in tagged)
    assert len(made) == 5

    annotator = client_of(bob)
    assert annotator.get(f"/proposals/{proposal.pk}/").status_code == 200
    annotator.post("/proposals/", {"size": 3, "targets": "lima", "quality_weight": 0.5})
    assert Proposal.objects.count() == 1
    with pytest.raises(ProposalError):
        accept_proposal(Proposal.objects.create(name="queued"), alice)


def test_the_form_shows_what_is_wrong(client_of, alice):
    response = client_of(alice).post("/proposals/", {"size": 0, "targets": "lima", "quality_weight": 0.5})
    assert response.status_code == 400
    assert "greater than or equal to 1" in response.content.decode()
