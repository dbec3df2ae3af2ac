from datetime import UTC, datetime

import time_machine
from django.contrib.auth.models import Group
from django.core.management import call_command

from incidents.models import Service
from portal.accounts.models import User
from portal.accounts.roles import Role, highest_role
from portal.cluster.models import Target, Workload
from portal.core.management.commands.seed_demo import DEMO_LEADERS, DEMO_PEOPLE, DEMO_SERVICES


def test_seed_demo_is_idempotent(db, capsys):
    # Pinned: two runs either side of midnight would rightly add the next day's checklist.
    with time_machine.travel(datetime(2027, 7, 14, 12, 0, tzinfo=UTC), tick=False):
        call_command("seed_demo")
        first = User.objects.count(), Group.objects.count()
        call_command("seed_demo")

    assert (User.objects.count(), Group.objects.count()) == first
    assert first[0] == len(DEMO_PEOPLE) + len(DEMO_LEADERS)
    out = capsys.readouterr().out
    assert "2 new incidents" in out
    assert (
        "0 new people, 0 new services, 0 new incidents, 0 maintenance notices, 0 new deployments, 0 new checklists, "
        "0 new rotation schedules, 0 new action targets" in out
    )
    assert Service.objects.count() == len(DEMO_SERVICES)
    assert highest_role(User.objects.get(username="cora.commander")) == Role.INCIDENT_COMMANDER
    cluster = Target.objects.get(slug="demo-cluster")
    assert (cluster.context, cluster.environment) == ("portal-simulator", "production")
    assert set(cluster.namespaces.values_list("name", "environment")) == {
        ("broxiva-production", "production"),
        ("broxiva-staging", "staging"),
    }
    assert Workload.objects.filter(target=cluster, service__slug="api").count() == 2


def test_ensure_admin_prints_the_login_once(db, capsys, client):
    call_command("ensure_admin")
    first = capsys.readouterr().out
    call_command("ensure_admin")
    second = capsys.readouterr().out

    password = first.split("password: ")[1].split()[0]
    assert client.post("/login/", {"username": "admin", "password": password}).status_code == 302  # signed in
    assert "password:" not in second
    assert "exists" in second
    assert User.objects.filter(username="admin").count() == 1
    assert highest_role(User.objects.get(username="admin")) == Role.ADMIN
