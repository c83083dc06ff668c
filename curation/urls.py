"""Pages of curation, one list per area."""
from curation.datasets import urls as datasets
from curation.imports import urls as imports
from curation.signals import urls as signals
from curation.workspace import urls as workspace

urlpatterns = [*workspace.urlpatterns, *datasets.urlpatterns, *imports.urlpatterns, *signals.urlpatterns]
