from django.urls import path

from . import views

app_name = "bargaining"

# Included under /subscriptions/ in config/urls.py.
urlpatterns = [
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("preferences/<str:token>/", views.preferences, name="preferences"),
]
