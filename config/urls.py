from django.conf.urls.i18n import i18n_patterns
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView

from bargaining.api.urls import router as bargaining_api
from demands.api.urls import router as demands_api
from demands.api.views import DocsView, RedocView, TokenView, not_found

from . import views

admin.site.site_header = "Bargaining Demand Tracker administration"
admin.site.site_title = "Bargaining Demand Tracker admin"
admin.site.index_title = "Demands, evidence, members and digests"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", views.healthz, name="healthz"),
    # Email services' tracking webhooks (bounces, complaints), authenticated by ANYMAIL_WEBHOOK_SECRET.
    path("anymail/", include("anymail.urls")),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password_reset/", auth_views.PasswordResetView.as_view(), name="password_reset"),
    path("accounts/password_reset/done/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "accounts/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("accounts/reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("api/v1/auth/token/", TokenView.as_view(), name="api-token"),
    path("api/v1/", include(demands_api.urls + bargaining_api.urls)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", DocsView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", RedocView.as_view(url_name="api-schema"), name="api-redoc"),
    re_path(r"^api/(?P<path>.*)$", not_found),
]
# What members and the public read, in English at these paths and in Spanish under /es/.
urlpatterns += i18n_patterns(
    path("", include("bargaining.urls")),
    path("", include("demands.urls")),
    prefix_default_language=False,
)
