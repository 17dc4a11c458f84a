"""What the team site's digest preview and the admin's share: "send this preview to me"."""

from django.contrib import messages
from django.http import HttpRequest

from demands.errors import DomainError

from .digests.preview import DigestReader, digest_next_send_test


def digest_preview_send_to_me(request: HttpRequest, reader: DigestReader) -> None:
    """The reader's next digest to the signed-in account's address, and a message saying what happened."""
    try:
        sent = digest_next_send_test(reader=reader, to=request.user.email)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        if sent:
            messages.success(request, f"This preview went to {request.user.email}.")
        else:
            messages.warning(request, "Nothing new for this reader: no preview sent.")
