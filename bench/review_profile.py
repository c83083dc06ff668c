"""Where one review-queue request spends its time: queries, SQL time, template time, the rest (Python).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/review_profile.py \\
        [--database lima_bench_load] [--examples 20000] [--runs 7] [--sql]

It uses bench/load.py's database (loading it first when it is not there) and Django's test client in this process:
each action of the queue (the page, the panel of `j`, approve, reject, the edit form and its save, the similar
card) is run `--runs` times on fresh items, and the best run is printed (the machine may be shared: the minimum is
the figure least disturbed by others) with its query count, which does not depend on the machine, and the least
CPU time this process spent on a run (Python's share; PostgreSQL's CPU is its own process's). `--sql` prints
every query of one run of each action with its time.
"""
import argparse
import os
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
from table import database_exists, database_urls, recreate_database  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="lima_bench_load")
    parser.add_argument("--examples", type=int, default=20_000, help="when the database must be loaded first")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--sql", action="store_true", help="print the queries of one run of each action")
    return parser.parse_args()


class Probe:
    """Counts queries and their time, and the time spent rendering templates (their own queries included)."""

    def __init__(self):
        self.queries = []
        self.template_ms = 0.0
        self.in_template = False
        self.cpu_ms = 0.0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.queries.append(((time.perf_counter() - started) * 1000, sql, self.in_template))


def instrument_templates(probes):
    from django.template.backends.django import Template

    original = Template.render

    def render(self, *args, **kwargs):
        if not probes or probes[-1].in_template:  # an include: its time is the outer template's
            return original(self, *args, **kwargs)
        started = time.perf_counter()
        probes[-1].in_template = True
        try:
            return original(self, *args, **kwargs)
        finally:
            probes[-1].in_template = False
            probes[-1].template_ms += (time.perf_counter() - started) * 1000

    Template.render = render


def main():
    args = parse_args()
    admin_url, url = database_urls(args.database)
    if not database_exists(admin_url, args.database):
        recreate_database(admin_url, args.database)
        fresh = True
    else:
        fresh = False
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("SECRET_KEY", "bench-review-profile")
    os.environ["SECURE_SSL_REDIRECT"] = "false"
    os.environ["ALLOWED_HOSTS"] = "127.0.0.1"
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from core.roles import ANNOTATOR, ensure_roles
    from curation.models import Example

    if fresh:
        from table import load

        call_command("migrate", verbosity=0)
        load(args.examples)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    ensure_roles()
    user, created = get_user_model().objects.get_or_create(username="profile-annotator")
    if created:
        user.groups.add(Group.objects.get(name=ANNOTATOR))
    Example.objects.filter(claimed_by=user).update(claimed_by=None, claimed_until=None)
    client = Client(HTTP_HOST="127.0.0.1", SERVER_NAME="127.0.0.1")
    client.force_login(user, backend="core.people.backends.ModelBackendOneQuery")
    htmx = {"HTTP_HX_REQUEST": "true"}
    probes = []
    instrument_templates(probes)
    queue = "status=candidate"

    def current():
        body = client.get(f"/review/?{queue}", **htmx).content.decode()
        pk, version = re.search(r'data-example-id="(\d+)" data-version="(\d+)"', body).groups()
        return int(pk), int(version)

    def edit_save(pk, version):
        form = client.get(f"/examples/{pk}/edit/?context=review&{queue}", **htmx).content.decode()
        import html as html_module

        turns = [html_module.unescape(t) for t in re.findall(r'<textarea name="turn"[^>]*>(.*?)</textarea>', form, re.S)]
        turns[-1] += " (edited)"
        return ("POST", f"/examples/{pk}/edit/?context=review&{queue}", {"turn": turns, "version": version})

    actions = {
        "review page (whole)": lambda pk, v: ("GET", f"/review/?{queue}", None, {}),
        "review panel (htmx)": lambda pk, v: ("GET", f"/review/?{queue}", None, htmx),
        "next (j)": lambda pk, v: ("GET", f"/review/step/?after={pk}&{queue}", None, htmx),
        "approve": lambda pk, v: ("POST", f"/review/{pk}/decide/?{queue}", {"decision": "approve", "version": v}, htmx),
        "reject": lambda pk, v: ("POST", f"/review/{pk}/decide/?{queue}",
                                 {"decision": "reject", "reason": "low_quality", "version": v}, htmx),
        "edit form": lambda pk, v: ("GET", f"/examples/{pk}/edit/?context=review&{queue}", None, htmx),
        "edit save": lambda pk, v: (*edit_save(pk, v), htmx),
        "similar": lambda pk, v: ("GET", f"/examples/{pk}/similar/", None, htmx),
    }
    print(f"bench/review_profile.py: {Example.objects.count():,} examples, best of {args.runs} runs each "
          f"(PostgreSQL {connection.cursor().connection.info.server_version})")
    print(f"  {'action':<22} {'queries':>7} {'total ms':>9} {'SQL ms':>8} {'template ms':>12} {'Python ms':>10} {'CPU ms':>10}"
          "\n  (template: rendering without its queries; CPU: this process's CPU time, the best run's of all, which a"
          " busy machine disturbs least; T: a query run while rendering)")
    for name, build in actions.items():
        best, cpus = None, []
        for _ in range(args.runs):
            pk, version = current()
            method, path, data, extra = build(pk, version)
            probe = Probe()
            probes.append(probe)
            with connection.execute_wrapper(probe):
                started, cpu = time.perf_counter(), time.process_time()
                response = (client.get(path, **extra) if method == "GET" else client.post(path, data, **extra))
                total = (time.perf_counter() - started) * 1000
                probe.cpu_ms = (time.process_time() - cpu) * 1000
            probes.pop()
            assert response.status_code == 200, (name, response.status_code, response.content[:300])
            if best is None or total < best[0]:
                best = (total, probe)
            cpus.append(probe.cpu_ms)
        total, probe = best
        sql = sum(ms for ms, _, _ in probe.queries)
        template = probe.template_ms - sum(ms for ms, _, inside in probe.queries if inside)
        print(f"  {name:<22} {len(probe.queries):>7} {total:>9.1f} {sql:>8.1f} {template:>12.1f} "
              f"{total - sql - template:>10.1f} {min(cpus):>10.1f}")
        if args.sql:
            for ms, statement, inside in probe.queries:
                print(f"      {ms:7.2f} ms {'T' if inside else ' '} {statement[:240]}")
    Example.objects.filter(claimed_by=user).update(claimed_by=None, claimed_until=None)


if __name__ == "__main__":
    main()
