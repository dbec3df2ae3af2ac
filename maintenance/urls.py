from django.urls import path

from maintenance import views

urlpatterns = [
    path("", views.maintenance_calendar, name="maintenance-calendar"),
    path("windows/new/", views.window_create_view, name="maintenance-window-create"),
    path("emergency/", views.emergency_view, name="maintenance-emergency"),
    path("windows/<int:pk>/", views.window_detail, name="maintenance-window"),
    path("windows/<int:pk>/materialize/", views.window_materialize, name="maintenance-window-materialize"),
    path("occurrences/<int:pk>/", views.occurrence_detail, name="maintenance-occurrence"),
    path("occurrences/<int:pk>/checklist/<int:item_pk>/", views.checklist_tick, name="maintenance-checklist-tick"),
    path("occurrences/<int:pk>/<slug:action>/", views.occurrence_act, name="maintenance-occurrence-act"),
]

freeze_urlpatterns = [
    path("", views.freeze_calendar, name="freeze-calendar"),
    path("rules/", views.freeze_add, name="freeze-add"),
    path("exceptions/", views.exception_request, name="freeze-exception-request"),
    path("exceptions/<int:pk>/<slug:decision>/", views.exception_decide, name="freeze-exception-decide"),
]
