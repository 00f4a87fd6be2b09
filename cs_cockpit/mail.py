"""A file email backend a person can read: `make demo` writes its mail with it to var/mail.

Django's own file backend writes the raw MIME message, where a text line longer than 78
characters is quoted-printable encoded: soft line breaks (`=` at a line's end) cut a long
link — a signed portal or survey link — in two, so it cannot be clicked. This one writes the
headers that matter and the text part as sent, one message per block.
"""

from __future__ import annotations

from django.core.mail import EmailMessage
from django.core.mail.backends.filebased import EmailBackend

SEPARATOR = "-" * 79


class ReadableFileBackend(EmailBackend):
    def write_message(self, message: EmailMessage) -> None:
        mime = message.message()
        headers = [f"{name}: {mime[name]}" for name in ("From", "To", "Subject", "Date") if mime[name]]
        if message.cc:
            headers.append(f"Cc: {', '.join(message.cc)}")
        alternatives = [mimetype for _content, mimetype in getattr(message, "alternatives", [])]
        if alternatives:
            headers.append(f"Alternatives (not shown): {', '.join(alternatives)}")
        text = "\n".join(headers) + "\n\n" + message.body.rstrip("\n") + "\n" + SEPARATOR + "\n"
        self.stream.write(text.encode("utf-8"))
