"""Server paths given to the import form and API: only under IMPORT_ROOTS (or the uploads), resolved with links
followed; refused with the path and the setting named, never the file's content or whether it exists."""
import pytest
from rest_framework.test import APIClient

from curation.models import ImportRun
from tests.curation.imports.builders import lima_rows, write_jsonl

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(alice):
    client = APIClient()
    client.force_authenticate(alice)
    return client


def post_path(api, path, kind="wikihow"):
    return api.post("/api/imports/", {"kind": kind, "path": str(path)}, format="json")


@pytest.mark.parametrize("path", ["/", "/etc/passwd", "/etc/shadow", "/proc/self/environ", "/nonexistent/x.csv"])
def test_paths_outside_the_roots_are_refused_by_name(api, path, settings):
    settings.IMPORT_ROOTS = []
    response = post_path(api, path)
    assert response.status_code == 400
    message = response.json()["path"]
    assert message == f"{path}: server paths must lie under IMPORT_ROOTS (now empty: uploads only)."
    assert "root:" not in message and "DATABASE_URL" not in message
    assert not ImportRun.objects.exists()


def test_a_path_under_a_root_is_imported(api, settings, tmp_path):
    settings.IMPORT_ROOTS = [str(tmp_path / "dumps")]
    path = write_jsonl((tmp_path / "dumps").mkdir() or tmp_path / "dumps" / "chats.jsonl", lima_rows(2))
    response = post_path(api, path, kind="jsonl")
    assert response.status_code == 201, response.json()


def test_dot_dot_and_links_out_of_a_root_are_refused(api, settings, tmp_path):
    root = tmp_path / "dumps"
    root.mkdir()
    settings.IMPORT_ROOTS = [str(root)]
    (root / "passwd.csv").symlink_to("/etc/passwd")
    (root / "site").mkdir()
    (root / "site" / "etc").symlink_to("/etc")

    dotted = post_path(api, f"{root}/../../../etc/passwd")
    assert dotted.status_code == 400 and "'..' is not allowed" in dotted.json()["path"]
    linked = post_path(api, root / "passwd.csv")
    assert linked.status_code == 400
    assert linked.json()["path"] == f"{root}/passwd.csv: server paths must lie under IMPORT_ROOTS (now {root})."
    inner = post_path(api, root / "site", kind="reddit")
    assert inner.status_code == 400 and f"{root}/site/etc links outside them" in inner.json()["path"]
    relative = post_path(api, "dumps/x.csv")
    assert relative.status_code == 400 and "absolute path" in relative.json()["path"]
    nul = post_path(api, f"{root}/a\x00b")
    assert nul.status_code == 400 and nul.json()["path"] == ["Null characters are not allowed."]
    assert not ImportRun.objects.exists()


def test_the_form_refuses_the_same_way(alice, client_of, settings):
    settings.IMPORT_ROOTS = []
    response = client_of(alice).post("/imports/", {"kind": "wikihow", "path": "/etc/passwd", "seed": 0})
    assert response.status_code == 200
    assert b"/etc/passwd: server paths must lie under IMPORT_ROOTS (now empty: uploads only)." in response.content
    assert b"root:x:" not in response.content
    assert not ImportRun.objects.exists()


def test_a_wikihow_error_never_quotes_the_file(tmp_path):
    # What /etc/passwd as a wikiHow CSV used to put in the run's error, which annotators read.
    from curation.imports.ingest import start_import

    path = tmp_path / "passwd"
    path.write_text("root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n")
    run = start_import("wikihow", path, run_async=False)
    assert run.status == ImportRun.Status.FAILED
    assert "root" not in run.error.replace(str(tmp_path), "")
    assert "1 column(s), not shown" in run.error
