"""The exceptions the connector's modules share."""


class FprError(Exception):
    """A failure that ends the sync; its message says what went wrong and what to do, and never holds the key."""


class ConfigurationError(FprError, ValueError):
    """The configuration cannot work; the message names the setting, never its value."""


class CursorRejected(FprError):
    """The server no longer accepts the cursor it was sent (expired or invalid)."""


class SyncStopping(FprError):
    """The sync was asked to stop (Ctrl-C, or the page fetched ahead is no longer needed)."""


class Transient(Exception):
    """One attempt failed in a way that trying again may fix.

    Args:
        reason: what happened, in words, for the retry log ("HTTP 503", "connection dropped").
        kind: "status", "connection", "proxy", "deadline", "body" or "html": how the final message reads.
        retry_after: seconds the server asked to wait, if it did.
        asked_by: the header that asked for them ("Retry-After", "RateLimit-Reset"), for the retry log.
    """

    def __init__(self, reason: str, kind: str, retry_after: float = None, asked_by: str = None):
        super().__init__(reason)
        self.reason = reason
        self.kind = kind
        self.retry_after = retry_after
        self.asked_by = asked_by
