from django.urls import path

from . import views

app_name = "bargaining"

# Included at the site root in config/urls.py: the paths are the specification's contract.
urlpatterns = [
    path("subscriptions/unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("subscriptions/preferences/<str:token>/", views.preferences, name="preferences"),
    path("digests/preview/", views.digest_preview_view, name="digest_preview"),  # before tokens
    path("digests/<str:token>/", views.digest, name="digest"),
    path("accounts/", views.account, name="account"),
    path("sessions/", views.session_list, name="session_list"),
    path("sessions/new/", views.session_create_view, name="session_create"),
    path("sessions/<int:pk>/edit/", views.session_edit_view, name="session_edit"),
    path("sessions/<int:pk>/outcomes/", views.session_outcomes_view, name="session_outcomes"),
]
