from django.urls import path

from oncall.api import views

urlpatterns = [
    path("now/", views.OnCallNowApi.as_view(), name="oncall-now"),
    path("rotations/", views.RotationListApi.as_view(), name="oncall-rotation-list"),
    path("rotations/<int:pk>/", views.RotationDetailApi.as_view(), name="oncall-rotation-detail"),
    path("rotations/<int:pk>/versions/", views.RotationVersionsApi.as_view(), name="oncall-rotation-versions"),
    path("rotations/<int:pk>/oncall/", views.RotationOnCallApi.as_view(), name="oncall-rotation-oncall"),
    path("rotations/<int:pk>/schedule/", views.RotationScheduleApi.as_view(), name="oncall-rotation-schedule"),
    path("overrides/", views.OverrideListApi.as_view(), name="oncall-override-list"),
    path("overrides/<int:pk>/", views.OverrideDetailApi.as_view(), name="oncall-override-detail"),
    path("swaps/", views.SwapListApi.as_view(), name="oncall-swap-list"),
    path("swaps/<int:pk>/", views.SwapDetailApi.as_view(), name="oncall-swap-detail"),
    path("swaps/<int:pk>/accept/", views.SwapAcceptApi.as_view(), name="oncall-swap-accept"),
    path("swaps/<int:pk>/decline/", views.SwapDeclineApi.as_view(), name="oncall-swap-decline"),
    path("swaps/<int:pk>/cancel/", views.SwapCancelApi.as_view(), name="oncall-swap-cancel"),
    path("handoffs/", views.HandoffListApi.as_view(), name="oncall-handoff-list"),
    path("handoffs/<int:pk>/", views.HandoffDetailApi.as_view(), name="oncall-handoff-detail"),
    path("handoffs/<int:pk>/items/<int:item_pk>/", views.HandoffItemApi.as_view(), name="oncall-handoff-item"),
    path(
        "handoffs/<int:pk>/items/<int:item_pk>/test-page/",
        views.HandoffTestPageApi.as_view(),
        name="oncall-handoff-test-page",
    ),  # fmt: skip
    path("feeds/", views.FeedListApi.as_view(), name="oncall-feed-list"),
    path("feeds/<int:pk>/", views.FeedDetailApi.as_view(), name="oncall-feed-detail"),
]
