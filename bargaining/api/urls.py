"""Routes of the bargaining API; config/urls.py mounts them under /api/v1/."""

from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("sessions", views.SessionViewSet, basename="session")
router.register("members", views.MemberViewSet, basename="member")

urlpatterns = router.urls
