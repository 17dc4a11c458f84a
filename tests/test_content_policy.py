"""A strict Content-Security-Policy on every response, and no page that would need it relaxed."""

import re

import pytest
from django.conf import settings

from demands.campaign import campaign_load
from demands.models import Demand

pytestmark = pytest.mark.django_db

INLINE = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+=", re.IGNORECASE)
ANONYMOUS_PAGES = [
    "/",
    "/demands/{demand}/",
    "/evidence/",
    "/accounts/login/",
    "/admin/login/",
    "/api/docs/",
    "/no-such-page/",
]
OTHER_RESPONSES = ["/api/v1/demands/", "/api/schema/", "/api/v1/nothing/", "/healthz", "/api/docs/?script=", "/feed/"]


@pytest.fixture
def demand_slug(db) -> str:
    campaign_load()
    return Demand.objects.filter(visibility="public").values_list("slug", flat=True).first()


def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {name: values for name, *values in (part.split() for part in header.split(";") if part.strip())}


def assert_strict(response) -> None:
    directives = policy(response)
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert not [value for values in directives.values() for value in values if value.startswith(("http", "*"))]


@pytest.mark.parametrize("path", ANONYMOUS_PAGES)
def test_pages_carry_the_policy_and_nothing_inline(client, demand_slug, path):
    response = client.get(path.format(demand=demand_slug))
    assert response.status_code in (200, 404)
    assert_strict(response)
    html = response.content.decode()
    assert not INLINE.findall(html)
    # Nothing loads from another origin.
    assert not re.findall(r"""(?:src|href)=["']?(?:https?:)?//""", html)


@pytest.mark.parametrize("path", OTHER_RESPONSES)
def test_api_and_other_responses_carry_the_policy(client, path):
    assert_strict(client.get(path))


def test_team_pages_carry_the_policy_and_nothing_inline(client, demand_slug, team_user):
    client.force_login(team_user)
    for path in ("/", f"/demands/{demand_slug}/", "/sessions/", "/sessions/new/", "/evidence/new/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert_strict(response)
        assert not INLINE.findall(response.content.decode()), path


def test_admin_pages_carry_the_policy(client, admin_user):
    client.force_login(admin_user)
    for path in ("/admin/", "/admin/bargaining/member/", "/admin/demands/demand/add/"):
        response = client.get(path)
        assert response.status_code == 200
        assert_strict(response)


def test_swagger_ui_is_served_by_the_app(client):
    html = client.get("/api/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "/api/docs/?script=" in html
    script = client.get("/api/docs/?script=")
    assert script["Content-Type"].startswith("application/javascript")
    assert "/api/schema/" in script.content.decode()


def test_email_html_pages_allow_inline_styles_but_never_scripts(client, admin_user):
    assert settings.CSP_EMAIL_HTML == {"style-src": ["'unsafe-inline'"]}
    client.force_login(admin_user)
    directives = policy(client.get("/admin/bargaining/digestrun/preview/"))
    assert directives["style-src"] == ["'self'", "'unsafe-inline'"]
    assert directives["script-src"] == ["'self'"]


def test_redoc_is_served_by_the_app_and_allows_only_its_own_two_styles(client):
    response = client.get("/api/redoc/")
    assert response.status_code == 200
    html = response.content.decode()
    assert not INLINE.findall(html)
    assert not re.findall(r"""(?:src|href)=["']?(?:https?:)?//""", html)
    assert '<script src="/api/redoc/?script="></script>' in html
    directives = policy(response)
    # Two fixed contents by hash; no 'unsafe-inline', no nonce, scripts from this origin only.
    hashes = settings.CSP_REDOC["style-src"]
    assert len(hashes) == 2 and all(re.fullmatch(r"'sha256-[A-Za-z0-9+/]{43}='", value) for value in hashes)
    assert directives["style-src"] == ["'self'", *hashes]
    assert directives["worker-src"] == ["blob:"]
    for name in ("default-src", "script-src", "connect-src", "img-src", "font-src", "object-src"):
        assert directives[name] == policy(client.get("/api/docs/"))[name], name
    # The bundle, from the app, without the one address of another origin it would load (Redocly's logo).
    script = client.get("/api/redoc/?script=")
    assert script["Content-Type"].startswith("application/javascript")
    bundle = script.content.decode()
    assert "Redoc" in bundle
    assert "cdn.redoc.ly" not in bundle


@pytest.mark.parametrize("path", ["/api/docs/", "/", "/api/schema/"])
def test_redoc_relaxation_stays_on_its_own_view(client, path):
    directives = policy(client.get(path))
    assert "worker-src" not in directives
    assert not set(directives["style-src"]) & set(settings.CSP_REDOC["style-src"])
