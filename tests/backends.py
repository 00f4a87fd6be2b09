"""Provider backends for failure tests, configured through the supported SMS_BACKEND dotted
path. They behave like a real provider up to the moment something breaks."""

import smtplib

from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend

from messaging.sms import LocmemBackend, SmsMessage


class ProcessKilled(BaseException):
    """What a SIGKILL or an OOM kill looks like from inside: nothing after it runs."""


class SmsSentThenProcessKilled(LocmemBackend):
    """The provider accepted the message (it is in the outbox); then the worker died before
    it could record that."""

    def send(self, message: SmsMessage, *, status_callback: str = "") -> str:
        super().send(message, status_callback=status_callback)
        raise ProcessKilled("killed between the provider call and recording the send")


class MailAcceptedThenQuitFails(BaseEmailBackend):
    """The server accepts the message, then answers QUIT with 421 (it happens)."""

    def send_messages(self, email_messages):
        mail.outbox.extend(email_messages)
        return len(email_messages)

    def close(self) -> None:
        raise smtplib.SMTPResponseException(421, b"4.4.2 closing connection")


class RefusingEmailBackend(BaseEmailBackend):
    """The mail server is there and says "try later" (451) to every message."""

    def send_messages(self, email_messages):
        raise smtplib.SMTPResponseException(451, b"4.3.0 try again later")


class RejectingEmailBackend(BaseEmailBackend):
    """The mail server takes the recipient and then refuses the message itself (554)."""

    def send_messages(self, email_messages):
        raise smtplib.SMTPDataError(554, b"5.7.1 message rejected")
