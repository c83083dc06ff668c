"""The two roles and what each may do."""
import pytest

from core.roles import ADMIN, ANNOTATOR, ensure_roles, role_of

pytestmark = pytest.mark.django_db


def test_bootstrap_roles_are_idempotent():
    first = ensure_roles()
    second = ensure_roles()
    assert first[ADMIN].pk == second[ADMIN].pk
    assert first[ANNOTATOR].permissions.count() == second[ANNOTATOR].permissions.count() > 0


def test_annotators_write_edit_and_review_but_do_not_import_or_freeze(bob):
    assert role_of(bob) == ANNOTATOR
    for allowed in ["curation.add_example", "curation.change_example", "curation.add_review",
                    "curation.view_importrun", "curation.view_datasetversion"]:
        assert bob.has_perm(allowed), allowed
    for refused in ["curation.add_importrun", "curation.add_datasetversion", "curation.delete_example",
                    "curation.change_datasetversion"]:
        assert not bob.has_perm(refused), refused


def test_admins_also_import_and_freeze_versions(alice):
    assert role_of(alice) == ADMIN
    for allowed in ["curation.add_example", "curation.add_review", "curation.add_importrun",
                    "curation.add_datasetversion"]:
        assert alice.has_perm(allowed), allowed


def test_a_user_without_a_role_has_no_permission(charlie):
    assert role_of(charlie) == ""
    assert not charlie.has_perm("curation.view_example")


def test_the_backend_reads_a_users_permissions_in_one_query_the_same_as_djangos(bob, django_assert_num_queries):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.backends import ModelBackend
    from django.contrib.auth.models import Permission

    from core.people.backends import ModelBackendOneQuery

    bob.user_permissions.add(Permission.objects.get(codename="add_importrun"))  # one of their own, beside the group's
    admin = get_user_model().objects.create_superuser("root", password="x")
    idle = get_user_model().objects.get(pk=bob.pk)
    idle.is_active = False
    for user in (bob, admin, idle):
        twin = get_user_model().objects.get(pk=user.pk)
        twin.is_active = user.is_active
        expected = ModelBackend().get_all_permissions(twin)
        assert expected or not user.is_active
        with django_assert_num_queries(1 if user.is_active else 0):
            assert ModelBackendOneQuery().get_all_permissions(user) == expected
    assert "curation.add_importrun" in ModelBackendOneQuery().get_all_permissions(bob)
    assert len(ModelBackendOneQuery().get_all_permissions(admin)) == Permission.objects.count()
