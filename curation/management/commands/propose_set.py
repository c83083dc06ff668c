import json

from django.core.management.base import BaseCommand, CommandError

from curation.proposals.jobs import DEFAULT_SIZE, ProposalError, start_proposal, summary
from curation.sources import plugins


class Command(BaseCommand):
    help = (
        "Propose a train set: within each source group's quota (LIMA's Table 1 scaled to --size, or the dashboard's "
        "targets), examples picked for quality and coverage, skipping near-duplicates and rejected ones. Runs here. "
        'With --json the last line of stdout is {"proposal": id, "examples": [ids], "composition": {group: n}}.'
    )

    def add_arguments(self, parser):
        parser.add_argument("--size", type=int, default=DEFAULT_SIZE, help="how many (default 1,000, as LIMA)")
        parser.add_argument("--targets", choices=["lima", "dashboard"], default="lima")
        parser.add_argument("--quality-weight", type=float, default=0.5, help="0 diversity only … 1 quality only")
        parser.add_argument("--name", default="")
        parser.add_argument("--json", action="store_true", dest="as_json")

    def handle(self, *args, size, targets, quality_weight, name, as_json, **options):
        try:
            proposal = start_proposal(size=size, quality_weight=quality_weight, targets_from=targets, name=name,
                                      run_async=False)
        except ProposalError as error:
            raise CommandError(str(error)) from error
        if proposal.status != proposal.Status.SUCCEEDED:
            raise CommandError(f"Proposal #{proposal.pk} {proposal.status}: {proposal.error}")
        labels = plugins.buckets()
        self.stdout.write(f"Proposal #{proposal.pk}: {len(proposal.examples):,} examples "
                          f"(coverage {proposal.figures['coverage']['proposed']:.3f}).")
        for group, ids in proposal.by_group.items():
            short = proposal.shortfall.get(group)
            self.stdout.write(f"  {labels.get(group, group):<28} {len(ids):>6,}"
                              + (f"   {short:,} short: too few candidates" if short else ""))
        if as_json:
            self.stdout.write(json.dumps(summary(proposal)))
