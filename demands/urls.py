from django.urls import path

from . import views
from .feeds import PublicStatusChangesFeed
from .pagecache import cached_public_page

app_name = "demands"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("demands/", views.demand_list, name="demand_list"),
    path("demands.csv", views.demands_csv, name="demands_csv"),
    path("demands.json", views.demands_json, name="demands_json"),
    path("bulletin/", views.bulletin, name="bulletin"),
    path("demands/new/", views.demand_create_view, name="demand_create"),
    path("demands/<slug:slug>/", views.demand_detail, name="demand_detail"),
    path("demands/<slug:slug>/edit/", views.demand_edit_view, name="demand_edit"),
    path("demands/<slug:slug>/status/", views.demand_transition_view, name="demand_transition"),
    path("demands/<slug:slug>/agreement/", views.agreement_language_view, name="agreement_language"),
    path("demands/<slug:slug>/agreement/sign/", views.agreement_sign_view, name="agreement_sign"),
    path("proposals/<int:pk>/edit/", views.proposal_edit_view, name="proposal_edit"),
    path("votes/new/", views.vote_create_view, name="vote_create"),
    path("demands/<slug:slug>/evidence/", views.evidence_link_view, name="evidence_link"),
    path("evidence/", views.evidence_list, name="evidence_list"),
    path("evidence/new/", views.evidence_create_view, name="evidence_create"),
    path("evidence/<int:pk>/edit/", views.evidence_edit_view, name="evidence_edit"),
    path("resolutions/<int:pk>/", views.resolution_detail, name="resolution_detail"),
    path("feed/", cached_public_page(PublicStatusChangesFeed()), name="feed"),
    path("feed/<slug:category>/", cached_public_page(PublicStatusChangesFeed()), name="category_feed"),
    path("feeds/", views.feeds, name="feeds"),
    path("held/", views.held_list, name="held_list"),
    path("held/<int:pk>/publish/", views.held_publish, name="held_publish"),
    path("held/proposals/<int:pk>/publish/", views.held_proposal_publish, name="held_proposal_publish"),
]
