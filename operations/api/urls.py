from django.urls import path
from rest_framework.routers import SimpleRouter

from operations.api import views

router = SimpleRouter()
router.register("slos", views.SloViewSet, basename="slo")
router.register("burn-rate-rules", views.BurnRateRuleViewSet, basename="burn-rate-rule")
router.register("recovery-objectives", views.RecoveryObjectiveViewSet, basename="recovery-objective")
router.register("backup-schedules", views.BackupScheduleViewSet, basename="backup-schedule")
router.register("dr-drill-plans", views.DrillPlanViewSet, basename="drill-plan")
router.register("alert-rules", views.AlertRuleViewSet, basename="alert-rule")
router.register("procedures", views.ProcedureViewSet, basename="procedure")
router.register("checklist-templates", views.ChecklistTemplateViewSet, basename="checklist-template")

urlpatterns = [
    path("alerts/rules.yaml", views.AlertRulesFileApi.as_view(), name="alert-rules-file"),
    path("slos/<slug:slug>/samples/", views.SliSampleListApi.as_view(), name="slo-samples"),
    path("burn-alerts/", views.BurnAlertListApi.as_view(), name="burn-alert-list"),
    path("backup-verifications/", views.BackupVerificationListApi.as_view(), name="backup-verification-list"),
    path("dr-drills/", views.DrillRecordListApi.as_view(), name="drill-record-list"),
    path("runbooks/", views.RunbookListApi.as_view(), name="runbook-list"),
    path("runbooks/<slug:slug>/", views.RunbookDetailApi.as_view(), name="runbook-detail"),
    path("deployments/", views.DeploymentListApi.as_view(), name="deployment-list"),
    path("deployments/<int:pk>/", views.DeploymentDetailApi.as_view(), name="deployment-detail"),
    path("deployments/<int:pk>/status/", views.DeploymentStatusApi.as_view(), name="deployment-status"),
    path("deployments/<int:pk>/start/", views.DeploymentStartApi.as_view(), name="deployment-start"),
    path("checklists/", views.ChecklistListApi.as_view(), name="checklist-list"),
    path("checklists/<int:pk>/", views.ChecklistDetailApi.as_view(), name="checklist-detail"),
    path("checklists/<int:pk>/items/<int:item_pk>/", views.ChecklistItemApi.as_view(), name="checklist-item"),
    path("procedure-runs/", views.ProcedureRunListApi.as_view(), name="procedure-run-list"),
    path("procedure-runs/<int:pk>/", views.ProcedureRunDetailApi.as_view(), name="procedure-run-detail"),
    path(
        "procedure-runs/<int:pk>/steps/<int:position>/done/",
        views.ProcedureRunStepDoneApi.as_view(),
        name="procedure-run-step-done",
    ),  # fmt: skip
    path("procedure-runs/<int:pk>/abandon/", views.ProcedureRunAbandonApi.as_view(), name="procedure-run-abandon"),
    *router.urls,
]
