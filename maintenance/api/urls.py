from django.urls import path
from rest_framework.routers import SimpleRouter

from maintenance.api import views

router = SimpleRouter()
router.register("freeze/rules", views.FreezeRuleViewSet, basename="freeze-rule")

urlpatterns = [
    path("maintenance/windows/", views.WindowListApi.as_view(), name="maintenance-window-list"),
    path("maintenance/windows/<int:pk>/", views.WindowDetailApi.as_view(), name="maintenance-window-detail"),
    path(
        "maintenance/windows/<int:pk>/occurrences/",
        views.WindowOccurrencesApi.as_view(),
        name="maintenance-window-occurrences",
    ),
    path("maintenance/emergency/", views.EmergencyApi.as_view(), name="maintenance-emergency"),
    path("maintenance/occurrences/", views.OccurrenceListApi.as_view(), name="maintenance-occurrence-list"),
    path(
        "maintenance/occurrences/<int:pk>/", views.OccurrenceDetailApi.as_view(), name="maintenance-occurrence-detail"
    ),
    path(
        "maintenance/occurrences/<int:pk>/transition/",
        views.OccurrenceTransitionApi.as_view(),
        name="maintenance-occurrence-transition",
    ),
    path(
        "maintenance/occurrences/<int:pk>/reschedule/",
        views.OccurrenceRescheduleApi.as_view(),
        name="maintenance-occurrence-reschedule",
    ),
    path(
        "maintenance/occurrences/<int:pk>/checklist/<int:item_pk>/",
        views.ChecklistItemApi.as_view(),
        name="maintenance-checklist-item",
    ),
    path("maintenance/calendar/", views.CalendarApi.as_view(), name="maintenance-calendar"),
    path("maintenance/calendar.ics", views.CalendarFeedApi.as_view(), name="maintenance-feed"),
    path("freeze/periods/", views.FreezePeriodListApi.as_view(), name="freeze-periods"),
    path("freeze/check/", views.FreezeCheckApi.as_view(), name="freeze-check"),
    path("freeze/exceptions/", views.ExceptionListApi.as_view(), name="freeze-exception-list"),
    path("freeze/passes/", views.FreezePassListApi.as_view(), name="freeze-pass-list"),
    path("freeze/exceptions/<int:pk>/approve/", views.ExceptionApproveApi.as_view(), name="freeze-exception-approve"),
    path("freeze/exceptions/<int:pk>/reject/", views.ExceptionRejectApi.as_view(), name="freeze-exception-reject"),
    path("status/", views.StatusPageApi.as_view(), name="status"),
    path("status/subscribe/", views.StatusSubscribeApi.as_view(), name="status-subscribe"),
    path("status/confirm/", views.StatusConfirmApi.as_view(), name="status-confirm"),
    path("status/unsubscribe/", views.StatusUnsubscribeApi.as_view(), name="status-unsubscribe"),
    *router.urls,
]
