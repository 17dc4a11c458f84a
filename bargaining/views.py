"""Pages a member opens from an email: no account, the signed token in the link is the credential."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from demands.errors import ValidationFailed

from .emails import digest_render
from .forms import PreferencesForm
from .links import delivery_links, member_preferences_path
from .models import Delivery, Member
from .selectors import digest_changes_for, member_for_token
from .services import member_set_preferences, member_unsubscribe
from .tokens import DIGEST, PREFERENCES, UNSUBSCRIBE, read_token


def _private(response: HttpResponse) -> HttpResponse:
    # The token in the URL is a credential: keep it out of Referer headers sent to other sites, whatever
    # SECURE_REFERRER_POLICY says. Not "no-referrer": browsers then send `Origin: null` with the form's
    # POST and CSRF refuses it.
    response["Referrer-Policy"] = "same-origin"
    response["X-Robots-Tag"] = "noindex"
    return response


def _invalid_link(request: HttpRequest) -> HttpResponse:
    return _private(render(request, "bargaining/invalid_link.html", status=404))


# No CSRF token: RFC 8058 one-click unsubscribe is a cookieless POST from the mail provider, and the
# signed token is what proves the request comes from the member's own email.
@csrf_exempt
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks to confirm; any POST (the confirm button or a one-click POST) unsubscribes, idempotently."""
    member = member_for_token(UNSUBSCRIBE, token)
    if member is None:
        return _invalid_link(request)
    context = {"member": member, "preferences_url": member_preferences_path(member)}
    if request.method == "POST":
        context["member"] = member_unsubscribe(member_id=member.pk)
        return _private(render(request, "bargaining/unsubscribed.html", context))
    return _private(render(request, "bargaining/unsubscribe_confirm.html", context))


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def preferences(request: HttpRequest, token: str) -> HttpResponse:
    """Change frequency and topics, or resubscribe; CSRF-protected like any form."""
    member = member_for_token(PREFERENCES, token)
    if member is None:
        return _invalid_link(request)
    form = PreferencesForm(request.POST or None, member=member)
    if request.method == "POST" and form.is_valid():
        try:
            member_set_preferences(
                member_id=member.pk,
                frequency=form.cleaned_data["frequency"],
                topics=form.cleaned_data["topics"],
                resubscribe=form.cleaned_data.get("resubscribe", False),
            )
        except ValidationFailed as exc:
            for field, errors in exc.errors.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
        else:
            messages.success(request, "Your preferences are saved.")
            return redirect(request.path)
    context = {"member": member, "form": form, "unsubscribed": member.state == Member.State.UNSUBSCRIBED}
    return _private(render(request, "bargaining/preferences.html", context))


@never_cache
@require_http_methods(["GET", "HEAD"])
def digest(request: HttpRequest, token: str) -> HttpResponse:
    """The digest of one delivery in a browser, as its member got it by email."""
    delivery_id = read_token(DIGEST, token)
    delivery = (
        Delivery.objects.select_related("run", "member").filter(pk=delivery_id).first()
        if delivery_id is not None
        else None
    )
    if delivery is None:
        return _invalid_link(request)
    content = digest_changes_for(
        delivery.member, window_start=delivery.window_start, window_end=delivery.run.window_end
    )
    _text, html = digest_render(content).with_links(delivery_links(delivery))
    return _private(HttpResponse(html))
