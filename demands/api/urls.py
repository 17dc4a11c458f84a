"""Routes of the demands API; config/urls.py mounts them under /api/v1/."""

from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("categories", views.CategoryViewSet, basename="category")
router.register("demands", views.DemandViewSet, basename="demand")
router.register("evidence", views.EvidenceViewSet, basename="evidence")
router.register("resolutions", views.ResolutionViewSet, basename="resolution")
router.register("proposals", views.ProposalViewSet, basename="proposal")
router.register("votes", views.VoteViewSet, basename="vote")
router.register("status-changes", views.StatusChangeViewSet, basename="status-change")
router.register("held", views.HeldViewSet, basename="held")

urlpatterns = router.urls
