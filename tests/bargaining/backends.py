"""A test email backend that answers per recipient the way an SMTP server would."""

import smtplib

from celery.exceptions import SoftTimeLimitExceeded
from django.core.mail.backends.base import BaseEmailBackend


class ScriptedBackend(BaseEmailBackend):
    """`script[address]`: SMTP codes (refusals of the recipient), "disconnect", "auth" (535 on login),
    "refused" (no connection) or "time limit" to answer, then accept.

    `sent` collects accepted messages; `closes` counts closed connections.
    """

    script: dict[str, list] = {}
    sent: list = []
    closes = 0

    def close(self):
        ScriptedBackend.closes += 1

    def send_messages(self, email_messages):
        for message in email_messages:
            address = message.to[0]
            answers = self.script.get(address)
            if answers:
                code = answers.pop(0)
                if code == "time limit":
                    raise SoftTimeLimitExceeded()
                if code == "disconnect":
                    raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
                if code == "auth":
                    raise smtplib.SMTPAuthenticationError(535, b"5.7.8 Authentication credentials invalid")
                if code == "refused":
                    raise ConnectionRefusedError(111, "Connection refused")
                raise smtplib.SMTPRecipientsRefused({address: (code, b"scripted answer")})
            self.sent.append(message)
        return len(email_messages)

    @classmethod
    def reset(cls, script: dict[str, list] | None = None) -> None:
        cls.script = script or {}
        cls.sent = []
        cls.closes = 0
