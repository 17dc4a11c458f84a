from django.urls import path

from . import views

app_name = "demands"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("demands/<slug:slug>/", views.demand_detail, name="demand_detail"),
    path("resolutions/<int:pk>/", views.resolution_detail, name="resolution_detail"),
]
