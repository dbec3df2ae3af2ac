"""The seeds' SLOs, burn-rate rules, recovery objectives, backup schedule, DR testing schedule, runbooks and checklists.

Runbook text comes from the operations guide's "Runbooks" and "Troubleshooting" sections where it has one; the issue
runbooks of the manual's "Runbook Links" table (node failure, high CPU, pod crashes, high error rate, DB connection
issues, certificate expiry) are short ones built on its quick actions and the guide's commands.
"""

from datetime import date, time

from django.db import migrations

from portal.accounts.migration_helpers import grant_permissions

NS = "broxiva-production"

SLOS = [
    {
        "name": "API availability", "slug": "api-availability", "sli": "Uptime", "measurement": "Uptime monitoring",
        "unit": "%", "comparison": "gte", "target": 99.9, "max_acceptable": 99.5, "method": "ratio",
        "source": "prometheus", "promql": 'avg(avg_over_time(probe_success{job="blackbox",instance=~".*api.broxiva.com.*"}[5m])) * 100',
        "service": "api",
    },
    {
        "name": "API latency", "slug": "api-latency", "sli": "Response time (p95)", "measurement": "Prometheus metrics",
        "unit": "ms", "comparison": "lte", "target": 500, "max_acceptable": 2000, "method": "time_slices",
        "time_slice_objective": 99.9, "source": "prometheus",
        "promql": 'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{job="broxiva-api"}[5m]))) * 1000',
        "service": "api",
    },
    {
        "name": "API error rate", "slug": "api-error-rate", "sli": "HTTP 5xx errors", "measurement": "Error rate tracking",
        "unit": "%", "comparison": "lte", "target": 0.1, "max_acceptable": 1.0, "method": "ratio",
        "source": "prometheus",
        "promql": 'sum(rate(http_requests_total{job="broxiva-api",status=~"5.."}[5m])) / sum(rate(http_requests_total{job="broxiva-api"}[5m])) * 100',
        "service": "api",
    },
    {
        "name": "Web page load", "slug": "web-page-load", "sli": "Time to interactive", "measurement": "Core Web Vitals",
        "unit": "ms", "comparison": "lte", "target": 2000, "max_acceptable": 5000, "method": "time_slices",
        "time_slice_objective": 99.9, "source": "api", "promql": "", "service": "web",
    },
    {
        "name": "Database query", "slug": "database-query", "sli": "Query time (p95)", "measurement": "PostgreSQL metrics",
        "unit": "ms", "comparison": "lte", "target": 100, "max_acceptable": 1000, "method": "time_slices",
        "time_slice_objective": 99.9, "source": "prometheus",
        "promql": "histogram_quantile(0.95, sum by (le) (rate(pg_query_duration_seconds_bucket[5m]))) * 1000",
        "service": "database",
    },
    {
        "name": "Cache hit rate", "slug": "cache-hit-rate", "sli": "Redis hit ratio", "measurement": "Redis metrics",
        "unit": "%", "comparison": "gte", "target": 85, "max_acceptable": 70, "method": "time_slices",
        "time_slice_objective": 99.9, "source": "prometheus",
        "promql": "sum(rate(redis_keyspace_hits_total[5m])) / (sum(rate(redis_keyspace_hits_total[5m])) + sum(rate(redis_keyspace_misses_total[5m]))) * 100",
        "service": "redis",
    },
]  # fmt: skip

# The multi-window, multi-burn-rate alerts for a 30-day budget (the SRE workbook's numbers).
BURN_RULES = [
    ("Fast burn", 14.4, 60, 5, "page"),
    ("Slow burn", 6, 6 * 60, 30, "page"),
    ("Budget drift", 1, 3 * 24 * 60, 6 * 60, "ticket"),
]

OBJECTIVES = [
    # component, RPO, RPO max, RTO, RTO max, priority, notes
    ("Database (PostgreSQL)", 15, None, 30, None, "critical", ""),
    ("Redis Cache", 5, None, 15, None, "high", ""),
    ("Application State", 0, None, 15, None, "critical", "Stateless: nothing to lose."),
    ("File Storage (S3)", 60, None, 120, None, "medium", ""),
    ("Logs", 24 * 60, None, None, None, "low", "RTO not applicable."),
    ("Platform (regional failover)", 15, 60, 60, 4 * 60, "critical",
     "Disaster recovery summary. Data loss tolerance < 0.1% (max 1%). East US primary, West US DR site, "
     "active-passive with geo-redundant storage."),
]  # fmt: skip

BACKUPS = [
    # name, component, frequency, rrule, start time (UTC), retention days, extended days, extended tier
    ("Database full backup", "Database (PostgreSQL)", "Daily (2:00 AM UTC)", "FREQ=DAILY", time(2), 90, 365,
     "secondary"),
    ("Database incremental", "Database (PostgreSQL)", "Every 6 hours", "FREQ=HOURLY;INTERVAL=6", time(0), 30, None, ""),
    ("WAL archiving", "Database (PostgreSQL)", "Continuous", "", None, 7, None, ""),
    ("Kubernetes config", "Kubernetes", "Daily (1:00 AM UTC)", "FREQ=DAILY", time(1), 90, None, ""),
    ("Redis", "Redis Cache", "Every 6 hours", "FREQ=HOURLY;INTERVAL=6", time(0), 7, None, ""),
    ("File storage", "File Storage (S3)", "Daily (3:00 AM UTC)", "FREQ=DAILY", time(3), 30, 365, "cold"),
]  # fmt: skip

DRILLS = [
    (1, "Database restore", "Full database recovery", "Database (PostgreSQL)"),
    (2, "Regional failover", "Complete failover to West US", "Platform (regional failover)"),
    (3, "Ransomware simulation", "Restore from offline backups", "Platform (regional failover)"),
    (4, "Full disaster drill", "All systems recovery", "Platform (regional failover)"),
]

CHECKLISTS = [
    ("Daily operations tasks", "daily", ["Review error logs in Sentry", "Check monitoring dashboards",
                                         "Verify backup completion", "Review security alerts"]),
    ("Weekly operations tasks", "weekly", ["Review performance metrics", "Check disk usage trends",
                                           "Review slow queries", "Update dependencies (non-breaking)",
                                           "Review security advisories"]),
    ("Monthly operations tasks", "monthly", ["Rotate secrets", "Review access permissions",
                                             "Capacity planning review", "Security patch updates"]),
    # The guide lists "DR drill (quarterly)" with the monthly tasks; it gets a checklist of its own per quarter.
    ("Quarterly DR drill", "quarterly", ["DR drill (quarterly): run this quarter's test from the DR testing schedule",
                                         "Record the drill's measured RTO and RPO"]),
    ("Pre-deployment checklist", "pre_deployment", ["All tests passing in CI", "Code review approved",
                                                    "Database migrations reviewed", "Environment variables verified",
                                                    "Rollback plan documented"]),
    ("Post-deployment verification", "post_deployment", ["Production health check",
                                                         "Monitor error rates (Sentry)", "Check performance metrics",
                                                         "Verify database migrations applied"]),
]  # fmt: skip

GUIDE_REVIEWED = date(2026, 1, 5)  # the operations guide's "Last Reviewed"
MANUAL_REVIEWED = date(2026, 1, 1)  # the operations manual: "Last Updated: January 2026"


def scale(label, replicas):
    return {"label": label, "kind": "scale", "deployment": "broxiva-api", "namespace": NS, "replicas": replicas}


def on_api(label, kind):
    return {"label": label, "kind": kind, "deployment": "broxiva-api", "namespace": NS}


RUNBOOKS = [
    {
        "slug": "scale-api-pods", "title": "Scale API pods", "when": "High load or slow responses",
        "reviewed": GUIDE_REVIEWED, "team": "DevOps Team", "alerts": ["HighLatency"],
        "actions": [scale("Scale broxiva-api to 5", 5), on_api("Rollout status", "rollout_status")],
        "body": f"""```bash
# Check current replicas
kubectl get deployment broxiva-api -n {NS}

# Scale up
kubectl scale deployment/broxiva-api --replicas=5 -n {NS}

# Verify scaling
kubectl rollout status deployment/broxiva-api -n {NS}
```

Then monitor the metrics on the Grafana dashboard.
""",
    },
    {
        "slug": "database-failover", "title": "Database failover", "when": "Primary database unavailable",
        "reviewed": GUIDE_REVIEWED, "team": "DevOps Team", "alerts": ["DatabaseDown"], "actions": [],
        "body": """1. Verify replica status
2. Promote replica to primary (Azure Portal or CLI)
3. Update connection strings if needed
4. Verify application connectivity
5. Monitor for data consistency

Recovery objectives for the database: RPO 15 min, RTO 30 min.
""",
    },
    {
        "slug": "clear-redis-cache", "title": "Clear Redis cache", "when": "Stale data issues or cache corruption",
        "reviewed": GUIDE_REVIEWED, "team": "DevOps Team", "alerts": [],
        "actions": [
            {"label": "Clear the cache (FLUSHDB)", "kind": "redis_flush"},
            {"label": "Delete user:* keys", "kind": "redis_delete_pattern", "target": "user:*"},
        ],
        "body": f"""```bash
# Connect to Redis pod
kubectl exec -it <redis-pod> -n {NS} -- redis-cli

# Clear all keys (CAUTION)
FLUSHALL

# Or clear specific pattern
KEYS "user:*" | xargs DEL
```

The operations manual clears only the cache's database: `redis-cli FLUSHDB`. Use with caution.
""",
    },
    {
        "slug": "force-logout", "title": "Force logout all users",
        "when": "Security incident requiring session invalidation", "reviewed": GUIDE_REVIEWED,
        "team": "DevOps Team", "alerts": [], "actions": [],
        "body": """Blacklist all tokens by incrementing the token version.

This requires a database update and is handled by the auth service. Tell the security team
(#security-incidents) before and after.
""",
    },
    {
        "slug": "node-failure", "title": "Node failure", "when": "A node is NotReady or unreachable",
        "reviewed": MANUAL_REVIEWED, "team": "Platform Engineering & SRE", "alerts": ["NodeNotReady", "KubeNodeNotReady"],
        "actions": [
            {"label": "Cordon the node", "kind": "cordon"},
            {"label": "Drain the node", "kind": "drain"},
            {"label": "Uncordon the node", "kind": "uncordon"},
        ],
        "body": f"""Quick action: **cordon, drain, replace**.

1. Confirm the node's state: `kubectl get nodes` and `kubectl describe node <node>`.
2. Cordon it so nothing new is scheduled there: `kubectl cordon <node>`.
3. Drain it: `kubectl drain <node> --ignore-daemonsets --delete-emptydir-data`.
4. Replace the node in its node pool, then check the pods were rescheduled:
   `kubectl get pods -n {NS} -o wide`.
5. Uncordon only a node that recovered and stays.

Pod alerts on a node that is not ready are suppressed while the node alert fires.
""",
    },
    {
        "slug": "high-cpu", "title": "High CPU", "when": "CPU usage above 70% (warning) or 90% (critical)",
        "reviewed": MANUAL_REVIEWED, "team": "Platform Engineering & SRE", "alerts": ["HighCPUUsage"],
        "actions": [scale("Scale broxiva-api to 10", 10)],
        "body": f"""Quick action: **scale horizontally or vertically**.

1. Find what is busy: `kubectl top pods -n {NS}` and `kubectl top nodes`.
2. Scale horizontally: `kubectl scale deployment/broxiva-api -n {NS} --replicas=10`.
3. If one pod or node stays hot, scale vertically: raise the deployment's CPU requests and limits
   through a normal deployment, or add nodes.
""",
    },
    {
        "slug": "pod-crashes", "title": "Pod crashes", "when": "Pods restarting (more than 2 restarts in 5 minutes)",
        "reviewed": MANUAL_REVIEWED, "team": "Platform Engineering & SRE",
        "alerts": ["PodCrashLooping", "KubePodCrashLooping"],
        "actions": [
            on_api("Restart broxiva-api", "restart"),
            on_api("Rollout history", "rollout_history"),
            on_api("Roll back broxiva-api", "rollback"),
        ],
        "body": f"""Quick action: **check logs, restart, fix config**.

1. Find the crashing pods: `kubectl get pods -n {NS}`.
2. Read the crashed container's logs: `kubectl logs <pod-name> -n {NS} --previous`.
3. Restart: `kubectl rollout restart deployment/broxiva-api -n {NS}`.
4. If a configuration change caused it, fix the config (secret or config map), or roll back:
   `kubectl rollout history deployment/broxiva-api -n {NS}` then `kubectl rollout undo ...`.
""",
    },
    {
        "slug": "high-error-rate", "title": "High error rate", "when": "HTTP 5xx above 5% for 5 minutes",
        "reviewed": MANUAL_REVIEWED, "team": "Platform Engineering & SRE", "alerts": ["HighErrorRate"],
        "actions": [
            on_api("Roll back broxiva-api", "rollback"),
            scale("Scale broxiva-api to 10", 10),
            on_api("Rollout status", "rollout_status"),
        ],
        "body": f"""Quick action: **scale, rollback, or hotfix**.

1. Review recent changes: the incident page lists deployments to the affected services.
2. A deployment just before the errors started: roll back
   (`kubectl rollout undo deployment/broxiva-api -n {NS}`) and verify
   (`kubectl rollout status deployment/broxiva-api -n {NS}`).
3. Errors from load: scale up.
4. Otherwise hotfix through the normal deployment process, watching error rates in Sentry.
""",
    },
    {
        "slug": "db-connection-issues", "title": "DB connection issues",
        "when": "Connection errors, or database connections above 80% of the maximum",
        "reviewed": GUIDE_REVIEWED, "team": "DevOps Team", "alerts": ["PostgresqlTooManyConnections"],
        "actions": [
            {"label": "Terminate idle connections", "kind": "pg_terminate_idle"},
            scale("Scale broxiva-api to 5", 5),
        ],
        "body": """Quick action: **reset connections, scale**.

1. Check the connection pool:
   ```sql
   SELECT count(*) FROM pg_stat_activity;
   ```
2. Check for long-running queries:
   ```sql
   SELECT pid, query, state, age(now(), query_start)
   FROM pg_stat_activity
   WHERE state != 'idle'
   ORDER BY query_start;
   ```
3. Kill problematic queries if needed: `SELECT pg_terminate_backend(<pid>);`
4. Emergency: kill idle connections:
   ```sql
   SELECT pg_terminate_backend(pid) FROM pg_stat_activity
   WHERE state = 'idle' AND state_change < NOW() - INTERVAL '5 minutes';
   ```
""",
    },
    {
        "slug": "certificate-expiry", "title": "Certificate expiry", "when": "A certificate expires within 7 days",
        "reviewed": MANUAL_REVIEWED, "team": "Security", "alerts": ["CertificateExpiringCritical"], "actions": [],
        "body": f"""Quick action: **renew via cert-manager or manually**.

1. Find the certificate: `kubectl get certificates -n {NS}`.
2. cert-manager: `kubectl describe certificate <name> -n {NS}` shows why renewal failed;
   fix that (DNS, issuer credentials) and let it renew.
3. Manually: issue a new certificate and replace the TLS secret
   (`kubectl create secret tls <name> --cert=... --key=... -n {NS} --dry-run=client -o yaml | kubectl apply -f -`).
""",
    },
    {
        "slug": "api-not-responding", "title": "API not responding", "when": "The API is unreachable",
        "reviewed": GUIDE_REVIEWED, "team": "DevOps Team", "alerts": ["ServiceDown"],
        "actions": [on_api("Rollout status", "rollout_status"), on_api("Restart broxiva-api", "restart")],
        "body": f"""1. Check pod status: `kubectl get pods -n {NS}`
2. Check logs: `kubectl logs -n {NS} -l app=broxiva-api --tail=100`
3. Check database connection:
   `kubectl exec -it <pod-name> -n {NS} -- pg_isready -h <db-host>`
""",
    },
    {
        "slug": "high-memory-usage", "title": "High memory usage", "when": "Memory above 80% (warning) or 95% (critical)",
        "reviewed": GUIDE_REVIEWED, "team": "DevOps Team", "alerts": ["HighMemoryUsage"],
        "actions": [scale("Scale broxiva-api to 5", 5)],
        "body": f"""1. Check pod resources: `kubectl top pods -n {NS}`
2. Review memory leaks in APM
3. Scale if needed: `kubectl scale deployment/broxiva-api --replicas=5 -n {NS}`
""",
    },
]  # fmt: skip

CONFIG = ["slo", "burnraterule", "recoveryobjective", "runbook", "runbookalert", "quickaction", "backupschedule",
          "drillplan", "checklisttemplate"]  # fmt: skip
RECORDS = ["slisample", "burnalert", "deployment", "drillrecord", "backupverification", "checklist", "checklistitem"]
ROLE_GRANTS = {
    "Viewer": [f"operations.view_{model}" for model in CONFIG + RECORDS],
    "Responder": [
        "operations.add_slisample",
        "operations.add_deployment",
        "operations.change_deployment",
        "operations.add_drillrecord",
        "operations.add_backupverification",
        "operations.change_checklistitem",
    ],
    "Admin": [f"operations.{action}_{model}" for model in CONFIG for action in ("add", "change", "delete")],
}


def seed(apps, schema_editor):
    Service = apps.get_model("incidents", "Service")
    Slo = apps.get_model("operations", "Slo")
    for row in SLOS:
        row = dict(row)
        service = Service.objects.filter(slug=row.pop("service")).first()
        Slo.objects.get_or_create(slug=row["slug"], defaults={**row, "service": service})

    BurnRateRule = apps.get_model("operations", "BurnRateRule")
    for name, factor, long_minutes, short_minutes, action in BURN_RULES:
        BurnRateRule.objects.get_or_create(
            name=name,
            defaults={"factor": factor, "long_window_minutes": long_minutes, "short_window_minutes": short_minutes,
                      "action": action},
        )  # fmt: skip

    RecoveryObjective = apps.get_model("operations", "RecoveryObjective")
    objectives = {}
    for position, (component, rpo, rpo_max, rto, rto_max, priority, notes) in enumerate(OBJECTIVES):
        objectives[component], _ = RecoveryObjective.objects.get_or_create(
            component=component,
            defaults={"rpo_minutes": rpo, "rpo_max_minutes": rpo_max, "rto_minutes": rto, "rto_max_minutes": rto_max,
                      "priority": priority, "notes": notes, "position": position},
        )  # fmt: skip

    BackupSchedule = apps.get_model("operations", "BackupSchedule")
    for position, (name, component, frequency, rrule, start, days, extended, tier) in enumerate(BACKUPS):
        BackupSchedule.objects.get_or_create(
            name=name,
            defaults={"component": component, "frequency": frequency, "rrule": rrule, "start_time": start,
                      "retention_days": days, "extended_retention_days": extended, "extended_retention_tier": tier,
                      "position": position},
        )  # fmt: skip

    DrillPlan = apps.get_model("operations", "DrillPlan")
    for quarter, test_type, scope, component in DRILLS:
        DrillPlan.objects.get_or_create(
            quarter=quarter, defaults={"test_type": test_type, "scope": scope, "objective": objectives[component]}
        )

    ChecklistTemplate = apps.get_model("operations", "ChecklistTemplate")
    for name, kind, items in CHECKLISTS:
        ChecklistTemplate.objects.get_or_create(name=name, defaults={"kind": kind, "items": items})

    Runbook = apps.get_model("operations", "Runbook")
    RunbookAlert = apps.get_model("operations", "RunbookAlert")
    QuickAction = apps.get_model("operations", "QuickAction")
    for spec in RUNBOOKS:
        runbook, created = Runbook.objects.get_or_create(
            slug=spec["slug"],
            defaults={"title": spec["title"], "when": spec["when"], "body": spec["body"],
                      "owner_team": spec["team"], "last_reviewed_on": spec["reviewed"]},
        )  # fmt: skip
        if not created:
            continue
        RunbookAlert.objects.bulk_create(RunbookAlert(runbook=runbook, alertname=name) for name in spec["alerts"])
        QuickAction.objects.bulk_create(
            QuickAction(runbook=runbook, position=position, **action) for position, action in enumerate(spec["actions"])
        )

    grant_permissions(apps, ROLE_GRANTS)


class Migration(migrations.Migration):
    dependencies = [
        ("operations", "0001_initial"),
        ("accounts", "0002_seed_role_groups"),
    ]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
