from django.urls import path

from operations import views

urlpatterns = [
    path("slos/", views.slo_list, name="slo-list"),
    path("slos/<slug:slug>/", views.slo_detail, name="slo-detail"),
    path("alert-rules/", views.alert_catalogue, name="alert-catalogue"),
    path("runbooks/", views.runbook_list, name="runbook-list"),
    path("runbooks/<slug:slug>/", views.runbook_detail, name="runbook-detail"),
    path("deployments/", views.deployment_list, name="deployment-list"),
    path("deployments/<int:pk>/", views.deployment_detail, name="deployment-detail"),
    path("deployments/<int:pk>/start/", views.deployment_start_view, name="deployment-start"),
    path("recovery/", views.recovery, name="recovery"),
    path("recovery/backups/verify/", views.backup_verify, name="backup-verify"),
    path("recovery/drills/record/", views.drill_record_view, name="drill-record"),
    path("procedures/", views.procedure_list, name="procedure-list"),
    path("procedures/runs/start/", views.procedure_run_start_view, name="procedure-run-start"),
    path("procedures/runs/<int:pk>/", views.procedure_run_detail, name="procedure-run-detail"),
    path(
        "procedures/runs/<int:pk>/steps/<int:position>/done/",
        views.procedure_step_done_view,
        name="procedure-step-done",
    ),  # fmt: skip
    path("procedures/runs/<int:pk>/abandon/", views.procedure_run_abandon_view, name="procedure-run-abandon"),
    path("procedures/runs/<int:pk>/drill/", views.procedure_run_record_drill, name="procedure-run-drill"),
    path("checklists/", views.checklist_list, name="checklist-list"),
    path("checklists/<int:pk>/", views.checklist_detail, name="checklist-detail"),
    path("checklists/<int:pk>/items/<int:item_pk>/tick/", views.checklist_tick, name="checklist-tick"),
]
