from django.urls import path

from incidents import views

urlpatterns = [
    path("", views.incident_list, name="incident-list"),
    path("declare/", views.incident_declare_view, name="incident-declare"),
    path("severities/", views.severity_list, name="severity-list"),
    path("<int:pk>/", views.incident_detail, name="incident-detail"),
    path("<int:pk>/review/", views.incident_review, name="incident-review"),
    path("<int:pk>/live/", views.incident_live, name="incident-live"),
    path("<int:pk>/update-preview/", views.incident_update_preview, name="incident-update-preview"),
    path("<int:pk>/<slug:action>/", views.incident_act, name="incident-act"),
]
