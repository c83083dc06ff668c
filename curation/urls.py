"""Pages of curation, one list per area."""
from curation.datasets import urls as datasets
from curation.dedupe import urls as dedupe
from curation.imports import urls as imports
from curation.proposals import urls as proposals
from curation.signals import urls as signals
from curation.workspace import urls as workspace

urlpatterns = [
    *workspace.urlpatterns, *datasets.urlpatterns, *imports.urlpatterns, *dedupe.urlpatterns, *signals.urlpatterns,
    *proposals.urlpatterns,
]
