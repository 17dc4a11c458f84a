"""Member pages reached from digest emails, without an account: signed links only."""

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.cache import never_cache

from .emails import digest_render
from .links import delivery_links
from .models import Delivery
from .selectors import digest_changes_for
from .tokens import DIGEST, read_token


@never_cache
def digest(request: HttpRequest, token: str) -> HttpResponse:
    """The digest of one delivery in a browser; a tampered or foreign token gets a 404."""
    delivery_id = read_token(DIGEST, token)
    if delivery_id is None:
        raise Http404("This digest link is not valid.")
    delivery = get_object_or_404(Delivery.objects.select_related("run", "member"), pk=delivery_id)
    run = delivery.run
    content = digest_changes_for(delivery.member, window_start=delivery.window_start, window_end=run.window_end)
    _text, html = digest_render(content).with_links(delivery_links(delivery))
    response = HttpResponse(html)
    # The page carries the member's personal links: keep it out of search engines and referrers.
    response["X-Robots-Tag"] = "noindex"
    response["Referrer-Policy"] = "no-referrer"
    return response
