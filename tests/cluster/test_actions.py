"""Parameters per action kind (validated once for form, API and worker), the commands shown to people, secrets."""

import pytest

from portal.cluster import actions, datastores
from portal.cluster.models import ActionKind, Namespace, Target
from portal.cluster.secrets import mask_url, scrub
from portal.core.models import Environment
from portal.errors import ApplicationError
from tests.cluster.conftest import datastore


def invalid(kind: str, target: Target, **raw: object) -> ApplicationError:
    with pytest.raises(ApplicationError) as raised:
        actions.validate_parameters(ActionKind(kind), target, raw)
    return raised.value


class TestParameters:
    def test_defaults_types_and_only_the_kinds_own_keys(self, k8s):
        clean = actions.validate_parameters(
            ActionKind.DRAIN, k8s, {"node": "node-1", "force": "true", "timeout_seconds": "60", "replicas": 3}
        )

        assert clean == {
            "node": "node-1",
            "grace_period_seconds": -1,
            "timeout_seconds": 60,
            "delete_emptydir_data": False,
            "force": True,
        }

    def test_replicas_are_bounded_by_the_target(self, k8s):
        error = invalid("scale", k8s, namespace="shop", deployment="web", replicas=11)

        assert (error.field, error.message) == ("replicas", "Replicas: Simulated cluster allows 0 to 10.")
        assert invalid("scale", k8s, namespace="shop", deployment="web", replicas=-1).field == "replicas"
        assert invalid("scale", k8s, namespace="shop", deployment="web").message == "Replicas: required for scale."

    def test_an_unknown_namespace_names_the_known_ones(self, k8s):
        error = invalid("restart", k8s, namespace="kube-system", deployment="web")

        assert error.field == "namespace"
        assert error.message == (
            "Namespace: 'kube-system' is not a namespace of Simulated cluster (it has: sandbox, shop, shop-staging)."
        )

    @pytest.mark.parametrize(("field", "value"), [("deployment", "Web_App"), ("deployment", "-web"), ("node", "a b")])
    def test_names_must_be_kubernetes_names(self, k8s, field, value):
        raw = {"namespace": "shop", "deployment": "web", "node": "node-1", field: value}
        kind = "rollout_history" if field == "deployment" else "cordon"

        assert invalid(kind, k8s, **raw).field == field

    def test_numbers_and_flags_are_checked(self, k8s):
        assert invalid("rollout_status", k8s, namespace="shop", deployment="web", timeout_seconds=601).message == (
            "Wait at most (s): at most 600."
        )
        assert invalid("rollback", k8s, namespace="shop", deployment="web", to_revision="two").field == "to_revision"
        assert invalid("rollback", k8s, namespace="shop", deployment="web", to_revision=True).field == "to_revision"
        assert invalid("drain", k8s, node="node-1", force="maybe").field == "force"

    def test_the_action_must_fit_the_target(self, k8s):
        error = invalid("redis_flush", k8s)

        assert error.field == "target"
        assert error.message == "Redis FLUSHDB runs on a Redis target; Simulated cluster is a Kubernetes cluster."

    def test_a_pattern_matching_everything_is_a_flush_in_disguise(self, redis_target):
        for pattern in ("*", "**", "?*"):
            error = invalid("redis_delete_pattern", redis_target, pattern=pattern)
            assert (error.field, error.message) == (
                "pattern",
                "Key pattern: it matches every key; use Redis FLUSHDB instead.",
            )
        assert actions.validate_parameters(ActionKind.REDIS_DELETE_PATTERN, redis_target, {"pattern": "session:*"}) == {
            "pattern": "session:*",
            "batch_size": 500,
        }

    def test_the_environment_is_the_namespaces_or_the_targets(self, k8s):
        assert actions.environment_of(ActionKind.SCALE, k8s, {"namespace": "shop-staging"}) == Environment.STAGING
        assert actions.environment_of(ActionKind.DRAIN, k8s, {"node": "node-1"}) == Environment.PRODUCTION


class TestCommands:
    def test_kubectl_with_the_targets_context(self, k8s):
        k8s.context = "prod eu"
        params = {"namespace": "shop", "deployment": "web", "replicas": 5}

        assert actions.command_for(ActionKind.SCALE, k8s, params) == (
            "kubectl --context 'prod eu' -n shop scale deployment/web --replicas=5"
        )
        k8s.context = ""
        assert actions.command_for(ActionKind.ROLLBACK, k8s, {"namespace": "shop", "deployment": "web"}) == (
            "kubectl -n shop rollout undo deployment/web"
        )
        drain = {"node": "n1", "grace_period_seconds": -1, "timeout_seconds": 300,
                 "delete_emptydir_data": True, "force": False}  # fmt: skip
        assert actions.command_for(ActionKind.DRAIN, k8s, drain) == (
            "kubectl drain n1 --ignore-daemonsets --delete-emptydir-data --grace-period=-1 --timeout=300s"
        )

    def test_redis_cli_never_shows_the_password(self, redis_target):
        flush = actions.command_for(ActionKind.REDIS_FLUSH, redis_target, {})
        delete = actions.command_for(ActionKind.REDIS_DELETE_PATTERN, redis_target,
                                     {"pattern": "cart:'x'*", "batch_size": 100})  # fmt: skip

        assert flush == "redis-cli -h 127.0.0.1 -p 6379 -n 13 FLUSHDB"
        assert delete == (
            "redis-cli -h 127.0.0.1 -p 6379 -n 13 --scan --pattern 'cart:'\\''x'\\''*' --count 100 "
            "| xargs -r -n 100 redis-cli -h 127.0.0.1 -p 6379 -n 13 UNLINK"
        )
        assert "s3cret" not in flush + delete

    def test_the_sql_is_the_one_that_runs(self, pg_target, settings):
        command = actions.command_for(ActionKind.PG_TERMINATE_IDLE, pg_target, {"idle_minutes": 5})

        assert command.startswith("-- on postgres://ops:****@db.internal:5432/shop\nSELECT pid")
        assert "state_change < now() - make_interval(mins => 5)" in command
        assert "application_name <> 'broxiva-ops-portal'" in command
        assert "pid <> pg_backend_pid()" in command


class TestSecrets:
    @pytest.mark.parametrize(("url", "masked"), [
        ("redis://:hunter2@cache:6379/2", "redis://:****@cache:6379/2"),
        ("postgres://ops:pw@db:5432/shop?sslmode=require&password=x", "postgres://ops:****@db:5432/shop?sslmode=require&password=****"),
        ("postgres://ops@db/shop", "postgres://ops@db/shop"),
        ("not a url", "****"),
        ("redis://cache:notaport/0", "****"),
    ])  # fmt: skip
    def test_mask_url(self, url, masked):
        assert mask_url(url) == masked

    def test_scrub_removes_the_password_from_messages(self):
        assert (
            scrub("auth failed for hunter2 at cache", "redis://:hunter2@cache:6379/2")
            == "auth failed for **** at cache"
        )

    def test_the_audit_log_shows_the_url_masked(self, db, admin_user):
        from auditlog.context import set_actor
        from auditlog.models import LogEntry

        with set_actor(admin_user):
            target = datastore(Target.Kind.REDIS, "redis://:hunter2@cache.internal:6379/2", slug="cache")
        entry = LogEntry.objects.get_for_object(target).get()

        assert entry.changes_dict["url"][1] == "redis://:****@cache.internal:6379/2"
        assert "hunter2" not in str(entry.changes)


class TestTargets:
    def test_a_redis_target_may_not_be_the_portals_broker_database(self, settings):
        settings.CELERY_BROKER_URL = "redis://localhost:6379/0"

        assert datastores.url_errors("redis", "redis://:pw@127.0.0.1:6379") == (
            "This is the portal's own broker database (CELERY_BROKER_URL); actions never touch it."
        )
        assert datastores.url_errors("redis", "redis://127.0.0.1:6379/1") is None
        assert datastores.url_errors("redis", "redis://127.0.0.1:6380/0") is None

    def test_urls_are_checked_per_kind(self, k8s):
        assert "redis://" in datastores.url_errors("redis", "postgres://db/shop")
        assert "postgres://" in datastores.url_errors("postgresql", "postgres://db")
        target = Target(name="x", slug="x", kind=Target.Kind.REDIS, environment=Environment.STAGING, url="")
        with pytest.raises(Exception, match="needs its connection URL"):
            target.full_clean()

    def test_a_namespace_is_never_more_critical_than_its_cluster(self, k8s):
        k8s.environment = Environment.STAGING

        with pytest.raises(Exception, match="more critical environment"):
            k8s.full_clean()
        staging = Target.objects.create(name="Staging", slug="staging", kind="kubernetes", environment="staging")
        with pytest.raises(Exception, match="raise the cluster's environment first"):
            Namespace(target=staging, name="shop", environment="production").full_clean()
