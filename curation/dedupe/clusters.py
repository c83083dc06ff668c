"""What pages read of the last pass's clusters (curation.dedupe.index.refresh): cheap joins on stored rows."""
from django.db.models import F, Value
from django.db.models.functions import Coalesce

from curation.dedupe.models import DuplicateMember


def annotate_clusters(queryset):
    """Adds `duplicate_cluster` (the example's cluster id, or None) and `duplicate_count` (the other members of
    its cluster, 0 when none): one LEFT JOIN each on the membership and the cluster."""
    return queryset.annotate(
        duplicate_cluster=F("duplicate__cluster_id"),
        duplicate_count=Coalesce(F("duplicate__cluster__size") - 1, Value(0)),
    )


def cluster_map(example_ids=None) -> dict[int, int]:
    """{example id: cluster id} of the examples in a cluster (of `example_ids`, when given)."""
    members = DuplicateMember.objects.all()
    if example_ids is not None:
        members = members.filter(example_id__in=list(example_ids))
    return dict(members.values_list("example_id", "cluster_id"))


def near_duplicates_of(example):
    """The other members of the example's cluster, with the cluster (or None, [])."""
    member = DuplicateMember.objects.filter(example=example).select_related("cluster").first()
    if member is None:
        return None, []
    others = [m.example for m in member.cluster.members.exclude(example=example).select_related("example__source")]
    return member.cluster, others
