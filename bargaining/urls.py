from django.urls import path

from . import views

app_name = "bargaining"

urlpatterns = [
    path("<str:token>/", views.digest, name="digest"),
]
