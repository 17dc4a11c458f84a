"""A test email backend that answers per recipient the way an SMTP server would."""

import smtplib

from django.core.mail.backends.base import BaseEmailBackend


class ScriptedBackend(BaseEmailBackend):
    """`script[address]` is a list of SMTP codes to answer (then accept); `sent` collects accepted messages."""

    script: dict[str, list[int]] = {}
    sent: list = []

    def send_messages(self, email_messages):
        for message in email_messages:
            address = message.to[0]
            answers = self.script.get(address)
            if answers:
                code = answers.pop(0)
                raise smtplib.SMTPRecipientsRefused({address: (code, b"scripted answer")})
            self.sent.append(message)
        return len(email_messages)

    @classmethod
    def reset(cls, script: dict[str, list[int]] | None = None) -> None:
        cls.script = script or {}
        cls.sent = []
