from django.urls import path

from oncall import views

urlpatterns = [
    path("", views.oncall_index, name="oncall-index"),
    path("rotations/new/", views.rotation_create_view, name="oncall-rotation-create"),
    path("rotations/<int:pk>/", views.rotation_detail, name="oncall-rotation"),
    path("rotations/<int:pk>/edit/", views.rotation_edit_view, name="oncall-rotation-edit"),
    path("rotations/<int:pk>/overrides/", views.override_create_view, name="oncall-override-create"),
    path("rotations/<int:pk>/swaps/", views.swap_request_view, name="oncall-swap-request"),
    path("overrides/<int:pk>/delete/", views.override_delete_view, name="oncall-override-delete"),
    path("swaps/<int:pk>/<slug:action>/", views.swap_act, name="oncall-swap-act"),
    path("handoffs/<int:pk>/", views.handoff_detail_view, name="oncall-handoff"),
    path("handoffs/<int:pk>/items/<int:item_pk>/", views.handoff_item_view, name="oncall-handoff-item"),
    path(
        "handoffs/<int:pk>/items/<int:item_pk>/test-page/",
        views.handoff_test_page_view,
        name="oncall-handoff-test-page",
    ),  # fmt: skip
    path("feeds/", views.feed_issue_view, name="oncall-feed-issue"),
    path("feeds/<int:pk>/revoke/", views.feed_revoke_view, name="oncall-feed-revoke"),
    path("calendar/<slug:token>.ics", views.calendar_feed, name="oncall-calendar"),
]
