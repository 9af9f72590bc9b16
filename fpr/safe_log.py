"""Every line the connector writes goes through here, so that no secret and no email reaches a log.

Nothing in the SDK redacts what a connector logs or raises: the console and crash reports show
it verbatim. A server can put anything into what the connector reports (a field name, a record
id, a charset), the key it was sent included. So each message is masked on its way out: the API
key in every form it travels in (raw, URL-encoded, base64) and every email address.

update() calls protect() with the key before anything else, and every message after that is safe.

The connector's own words are never masked: an example such as user:password@proxy.example.com
is advice, not an email. A message built with say() masks each value where it is put in and is
then left whole by redact(); any other text is masked in full on its way out, so a message that
forgets say() is masked too much, never too little.
"""

import base64  # the key as an Authorization header or a careless server would encode it
import re  # for email addresses
from urllib.parse import quote, quote_plus  # the key as it appears URL-encoded

from fivetran_connector_sdk import Logging as log  # the SDK's log: lines for the sync's log
from fivetran_connector_sdk import Operations as op  # op.warning: shown in the dashboard, the sync goes on

MASK = "***"
EMAIL = re.compile(r"[\w.%+-]+@[\w-]+(\.[\w-]+)+")
_MIN_SECRET_LENGTH = 4  # a shorter value would mask ordinary words

_protected = ()  # the forms of the key of the sync that is running


def protect(secret) -> None:
    """Masks `secret` in every message from now on (replacing the previously protected one)."""
    global _protected
    _protected = secret_forms(secret) if isinstance(secret, str) else ()


def secret_forms(secret: str) -> tuple:
    """A secret as it may appear in text: raw, URL-encoded, base64 (standard or URL-safe, padded or not).

    Longest first, so that a longer form is masked before a shorter one inside it.
    """
    if len(secret) < _MIN_SECRET_LENGTH:
        return ()
    raw = secret.encode("utf-8")
    encoded = [base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()]
    url_encoded = {quote(secret, safe=""), quote(secret), quote_plus(secret)}  # "/" kept or not; space as %20 or +
    forms = {secret, *url_encoded, *encoded, *(form.rstrip("=") for form in encoded)}
    return tuple(sorted(forms, key=len, reverse=True))


def holds_secret(text: str) -> bool:
    """Whether `text` contains the protected key in any of its forms."""
    return any(form in text for form in _protected)


class Said(str):
    """A message in the connector's own words whose every value was masked where it was put in."""

    def __str__(self):
        return self  # str() of it, or of an exception holding it, is still a Said


def say(template: str, *values) -> Said:
    """The connector's own words with `values` put in place of each {}, each masked as redact() masks.

    A value that is itself a Said (or an exception holding one) is put in as it is.
    """
    return Said(template.format(*(redact(str(value)) for value in values)))  # redact() keeps a Said whole


def redact(text: str) -> str:
    """The text with the protected key masked in every form, and every email address as <email>.

    A Said is returned whole: its values were masked when it was built, the rest is the connector's.
    """
    if isinstance(text, Said):
        return text
    for form in _protected:
        text = text.replace(form, MASK)
    return EMAIL.sub("<email>", text)


def printable(text: str, limit: int = 60) -> str:
    """A name or id from the API as a message may quote it: redacted, escaped if not printable ASCII, cut short."""
    shown = redact(text)
    if not shown.isprintable() or not shown.isascii():
        shown = ascii(shown)[1:-1]
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


def info(message: str) -> None:
    log.info(redact(message))


def warning(message: str) -> None:
    log.warning(redact(message))


def sync_warning(message: str) -> None:
    """A warning shown in the Fivetran dashboard (op.warning); the sync goes on."""
    op.warning(redact(message))
