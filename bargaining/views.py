"""Pages a member opens from an email (no account: the signed token in the link is the credential), and
the bargaining team's session pages and digest preview."""

from csp.decorators import csp_update
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, translate_url
from django.utils import translation
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from demands.errors import DomainError, ValidationFailed
from demands.filters import MAX_QUERY_LENGTH
from demands.models import BargainingSession
from demands.selectors import demands_by_category, sessions_with_demands_for
from demands.services import session_create, session_outcomes_record, session_update
from demands.views import add_domain_error, team_required

from .digests.content import digest_changes_for
from .digests.preview import digest_next, preview_texts
from .digests.rendering import RenderedDigest, digest_render
from .forms import DigestPreviewForm, OutcomeForm, PreferencesForm, SessionForm
from .links import delivery_links, member_preferences_path
from .models import Delivery, Member
from .preview_actions import digest_preview_send_to_me
from .selectors import delivery_for_token, member_for_account, member_for_token
from .services import member_set_preferences, member_unsubscribe
from .tokens import PREFERENCES, UNSUBSCRIBE, LinkExpired


def _private(response: HttpResponse) -> HttpResponse:
    # The token in the URL is a credential: keep it out of Referer headers sent to other sites, whatever
    # SECURE_REFERRER_POLICY says. Not "no-referrer": browsers then send `Origin: null` with the form's
    # POST and CSRF refuses it.
    response["Referrer-Policy"] = "same-origin"
    response["X-Robots-Tag"] = "noindex"
    return response


def _invalid_link(request: HttpRequest) -> HttpResponse:
    return _private(render(request, "bargaining/invalid_link.html", status=404))


def _expired_link(request: HttpRequest) -> HttpResponse:
    context = {"max_age_days": settings.MEMBER_LINK_MAX_AGE_DAYS}
    return _private(render(request, "bargaining/expired_link.html", context, status=410))


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
    try:
        member = member_for_token(PREFERENCES, token)
    except LinkExpired:
        return _expired_link(request)
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
                language=form.cleaned_data["language"] or None,
            )
        except ValidationFailed as exc:
            for field, errors in exc.errors.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
        else:
            saved = form.cleaned_data["language"] or member.digest_language
            with translation.override(saved):
                messages.success(request, gettext("Your preferences are saved."))
            # The page again, in the language just chosen.
            return redirect(translate_url(request.path, saved))
    context = {"member": member, "form": form, "unsubscribed": member.state == Member.State.UNSUBSCRIBED}
    return _private(render(request, "bargaining/preferences.html", context))


@never_cache
@require_http_methods(["GET", "HEAD"])
@csp_update(settings.CSP_EMAIL_HTML)  # the email's inline styles; scripts stay refused
def digest(request: HttpRequest, token: str) -> HttpResponse:
    """The digest of one delivery in a browser, as its member got it by email."""
    try:
        delivery = delivery_for_token(token)
    except LinkExpired:
        return _expired_link(request)
    if delivery is None:
        return _invalid_link(request)
    if delivery.body is not None:
        rendered = RenderedDigest.from_body(delivery.body)
    elif delivery.state == Delivery.State.SENT:
        # Sent before bodies were kept (migration 0010): rebuilt from its window, the closest there is.
        rendered = digest_render(
            digest_changes_for(delivery.member, window_start=delivery.window_start, window_end=delivery.run.window_end)
        )
    else:
        return _invalid_link(request)  # nothing was sent: no email carries this link
    _text, html = rendered.with_links(delivery_links(delivery))
    return _private(HttpResponse(html))


@team_required
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
@csp_update(settings.CSP_EMAIL_HTML)  # the email's inline styles, in a sandboxed iframe; scripts stay refused
def digest_preview_view(request: HttpRequest) -> HttpResponse:
    """`/digests/preview/`: the next digest of a member (or a kind of member) exactly as it will be sent, the held
    changes it leaves out, and "send this preview to me" (POST, to the signed-in team member's address)."""
    form = DigestPreviewForm(request.GET if request.GET else None)
    preview = None
    if form.is_valid():
        reader = form.reader()
        if request.method == "POST":
            digest_preview_send_to_me(request, reader)
            return redirect(request.get_full_path())
        preview = digest_next(reader=reader)
    elif request.method == "POST":
        messages.error(request, "Choose whose digest to send first.")
        return redirect(request.get_full_path())
    context = {"form": form, "preview": preview, **preview_texts(preview)}
    return render(request, "bargaining/digest_preview.html", context)


@team_required
def session_list(request: HttpRequest) -> HttpResponse:
    """`/sessions/`: the bargaining sessions, newest first, with the demands discussed and the team's notes."""
    sessions = sessions_with_demands_for(request.user)
    return render(request, "bargaining/session_list.html", {"sessions": sessions})


# The session form offers the demands already ticked and at most this many matching its search (`q`), not all.
SESSION_DEMAND_CHOICES = 30


def _session_form_page(request: HttpRequest, session: BargainingSession | None) -> HttpResponse:
    finding = request.method == "POST" and "find" in request.POST
    if finding:
        # "Find" searches again, saving nothing: what was typed and ticked is kept, with no errors shown yet.
        kept = {name: request.POST.get(name, "") for name in SessionForm.FIELDS}
        form = SessionForm(
            user=request.user, instance=session, initial={**kept, "demands": request.POST.getlist("demands")}
        )
    else:
        form = SessionForm(request.POST or None, user=request.user, instance=session)
    if request.method == "POST" and not finding and form.is_valid():
        try:
            if session is None:
                saved = session_create(by=request.user, **form.service_data())
            else:
                saved = session_update(session_id=session.pk, by=request.user, **form.service_data())
        except DomainError as error:
            add_domain_error(form, error)
        else:
            verb = "Saved" if session else "Recorded"
            messages.success(request, f"{verb} the session “{saved}”.")
            return redirect(f"{reverse('bargaining:session_list')}#session-{saved.pk}")
    search = (request.POST if request.method == "POST" else request.GET).get("q", "")[:MAX_QUERY_LENGTH].strip()
    found = list(form.find(search)[: SESSION_DEMAND_CHOICES + 1])
    form.offer(form.chosen(), found[:SESSION_DEMAND_CHOICES])
    context = {
        "form": form,
        "session": session,
        "search": search,
        "found": found[:SESSION_DEMAND_CHOICES],
        "more_found": len(found) > SESSION_DEMAND_CHOICES,
        "search_length": MAX_QUERY_LENGTH,
    }
    status = 400 if request.method == "POST" and not finding else 200
    return render(request, "bargaining/session_form.html", context, status=status)


@team_required
def session_create_view(request: HttpRequest) -> HttpResponse:
    """`/sessions/new/`: record a bargaining session."""
    return _session_form_page(request, None)


@team_required
def session_edit_view(request: HttpRequest, pk: int) -> HttpResponse:
    """`/sessions/<id>/edit/`: edit a session; the ticked demands replace the demands discussed."""
    return _session_form_page(request, get_object_or_404(BargainingSession, pk=pk))


@login_required
@never_cache
def account(request: HttpRequest) -> HttpResponse:
    """`/accounts/`: the signed-in account, and for a member on the roster the link to their digest settings."""
    member = member_for_account(request.user.email)
    context = {"member": member, "preferences_path": member_preferences_path(member) if member else None}
    return render(request, "bargaining/account.html", context)


@team_required
@require_http_methods(["GET", "POST"])
def session_outcomes_view(request: HttpRequest, pk: int) -> HttpResponse:
    """`/sessions/<id>/outcomes/`: on one form, what happened to each demand discussed — the proposal passed
    and the status change — written all or nothing."""
    session = get_object_or_404(BargainingSession, pk=pk)
    demands = demands_by_category(request.user).filter(sessions=session)
    forms = [OutcomeForm(request.POST or None, demand=demand, prefix=f"demand-{demand.pk}") for demand in demands]
    status = 200
    if request.method == "POST":
        if all(form.is_valid() for form in forms):
            pending = [(form, outcome) for form in forms if (outcome := form.outcome()) is not None]
            try:
                written = session_outcomes_record(
                    session_id=session.pk, outcomes=[outcome for _form, outcome in pending], by=request.user
                )
            except ValidationFailed as error:
                for key, problems in error.errors.items():
                    index, _, field = key.partition(".")
                    form = pending[int(index)][0] if index.isdigit() else forms[0]
                    for problem in problems:
                        form.add_error(field if field in form.fields else None, problem)
            else:
                messages.success(request, f"Recorded {written} outcome{'s' if written != 1 else ''} of “{session}”.")
                return redirect(f"{reverse('bargaining:session_list')}#session-{session.pk}")
        status = 400
    context = {"session": session, "forms": forms}
    return render(request, "bargaining/session_outcomes.html", context, status=status)
