from django.urls import path

from portal.cluster import views

urlpatterns = [
    path("", views.action_list, name="action-list"),
    path("new/", views.action_new, name="action-new"),
    path("new/guidance/", views.action_guidance, name="action-guidance"),
    path("looks/new/", views.look_new, name="look-new"),
    path("looks/<int:pk>/", views.look_detail, name="look-detail"),
    path("<int:pk>/", views.action_detail, name="action-detail"),
    path("<int:pk>/confirm/", views.action_confirm, name="action-confirm"),
    path("<int:pk>/<slug:verb>/", views.action_act, name="action-act"),
]
