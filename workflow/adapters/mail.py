"""Email over SMTP, configured by ``CARNATION_SMTP_URL``."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import formatdate
from urllib.parse import parse_qs, unquote, urlparse


class SmtpMailer:
    """Sends one message per call; the idempotency key becomes the Message-ID so a
    retried send can be recognised as the same message by the receiving side."""

    def __init__(self, url: str, sender: str, timeout: float = 10.0) -> None:
        parsed = urlparse(url)
        if parsed.scheme not in ("smtp", "smtps"):
            raise ValueError("CARNATION_SMTP_URL must start with smtp:// or smtps://")
        self.host = parsed.hostname or "localhost"
        self.port = parsed.port or (465 if parsed.scheme == "smtps" else 25)
        self.user = unquote(parsed.username) if parsed.username else None
        self.password = unquote(parsed.password) if parsed.password else None
        self.ssl = parsed.scheme == "smtps"
        self.starttls = parse_qs(parsed.query).get("starttls", ["false"])[0].lower() == "true"
        self.sender = sender
        self.timeout = timeout

    def send(self, to: str, subject: str, body: str, idempotency_key: str) -> None:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = f"<{idempotency_key}@carnation>"
        message.set_content(body)
        smtp_class = smtplib.SMTP_SSL if self.ssl else smtplib.SMTP
        with smtp_class(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.user:
                smtp.login(self.user, self.password or "")
            smtp.send_message(message)
