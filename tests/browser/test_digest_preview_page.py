"""The team's digest preview in a real browser: the email's HTML shows in its sandboxed frame under the strict
policy (inline styles allowed on that page only, no violation reported), and axe-core finds no serious issue."""

import pytest
from playwright.sync_api import Page, expect

from tests.bargaining.test_digest_preview import news, spanish  # noqa: F401  (fixtures)
from tests.browser.test_content_policy import watch_violations
from tests.browser.test_pages import sign_in
from tests.browser.test_site import axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_team_member_previews_a_members_digest_with_no_violation(live_server, page: Page, team_user, spanish):  # noqa: F811
    violations = watch_violations(page)
    sign_in(page, live_server.url, team_user.username, "/digests/preview/")
    page.get_by_label("Member (email or id)").fill(spanish.email)
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("heading", name="spanish@example.org · Active · Weekly · es")).to_be_visible()
    email = page.frame_locator("iframe[title='Digest HTML']")
    expect(email.get_by_text("CPS ofreció la mitad.")).to_be_visible()
    expect(page.locator("#preview-held")).to_contain_text("Nurses")
    assert violations == []

    context = page.context.browser.new_context(bypass_csp=True)  # lets axe-core be injected
    checked = context.new_page()
    sign_in(checked, live_server.url, team_user.username, f"/digests/preview/?member={spanish.pk}")
    assert axe_violations(checked) == []
    context.close()
