import pytest


@pytest.fixture(autouse=True)
def import_roots_hold_tmp_path(settings, tmp_path):
    """The form's and the API's server paths must lie under IMPORT_ROOTS; these tests write theirs in tmp_path."""
    settings.IMPORT_ROOTS = [str(tmp_path)]
