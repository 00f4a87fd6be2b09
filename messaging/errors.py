"""What a provider (mail server, Twilio, a webhook receiver) can answer besides "sent".

RetryableError: nothing was sent, and trying again later may work. PermanentError: the
provider refused this message for good. Any other exception means "we do not know whether
it went out": the outbox leaves that message for a person to review, never sends it again.
"""

from __future__ import annotations


class ProviderError(Exception):
    def __init__(self, message: str, *, code: str = "", invalid_address: bool = False, opted_out: bool = False):
        super().__init__(message)
        self.code, self.invalid_address, self.opted_out = code, invalid_address, opted_out


class RetryableError(ProviderError):
    """Nothing was sent; the provider says trying again later may work."""


class PermanentError(ProviderError):
    """The provider refused this message; sending it again would fail the same way."""


def request_never_left(exc: BaseException) -> bool:
    """For an exception from `requests`: True when the connection itself could not be made
    (name resolution, refused, connect timeout), so the other side cannot have seen the request
    and a retry is safe. False for a connection dropped after the request went out ("Connection
    aborted.", a read timeout): the provider may have acted on it."""
    import requests
    from urllib3.exceptions import ConnectTimeoutError, MaxRetryError

    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if not isinstance(exc, requests.exceptions.ConnectionError):
        return False
    cause = exc.args[0] if exc.args else None
    if isinstance(cause, MaxRetryError):
        cause = cause.reason
    # NewConnectionError and NameResolutionError are ConnectTimeoutErrors in urllib3.
    return isinstance(cause, ConnectTimeoutError)
