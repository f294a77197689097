"""SMS through an HTTP gateway that receives JSON (``CARNATION_SMS_GATEWAY_URL``)."""

from __future__ import annotations

import json
import urllib.request


class HttpSmsGateway:
    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url
        self.timeout = timeout

    def send(self, to: str, message: str, idempotency_key: str) -> None:
        body = json.dumps({"to": to, "message": message, "idempotency_key": idempotency_key})
        request = urllib.request.Request(
            self.url,
            data=body.encode("utf-8"),
            headers={"Content-Type": "application/json", "Idempotency-Key": idempotency_key},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
            if response.status >= 300:
                raise OSError(f"SMS gateway answered {response.status}")
