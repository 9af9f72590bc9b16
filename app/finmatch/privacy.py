"""Who may see customer data, and how it looks to everyone else.

Customer names, emails and ids are masked unless the viewer may see them, never by a switch in the
page. In Snowflake the app runs with its owner's rights: CURRENT_ROLE and IS_ROLE_IN_SESSION answer
for the owner, so they would show customer data to every viewer or to none. The viewer is identified
by CURRENT_USER, which reports the viewer once the owner role holds READ SESSION, and checked against
an allow-list of users (UNMASK_USERS). Any error, or no answer, keeps the data masked. Locally there
is no user: FINMATCH_SHOW_CUSTOMER_DATA=1 shows the data.
"""

import hashlib
import hmac
import re
from dataclasses import dataclass

from finmatch.settings import local_unmask, unmask_users

PERSONAL_COLUMNS = ("customer_id", "customer_name", "customer_email")


@dataclass(frozen=True)
class Access:
    """Whether customer data is shown, and the reason, in words for the sidebar."""

    personal: bool
    reason: str


def decide_access(data):
    """The viewer's access to customer data.

    In Snowflake, one query asks who the viewer is (CURRENT_USER); the answer must be on the allow-list
    exactly. An error (for example READ SESSION not granted to the owner role) or an empty answer keeps
    the data masked.
    """
    if not data.backend.in_snowflake:  # local run: no Snowflake user exists
        if local_unmask():
            return Access(True, "Customer data shown (FINMATCH_SHOW_CUSTOMER_DATA=1 on this machine).")
        return Access(False, "Customer data masked. Set FINMATCH_SHOW_CUSTOMER_DATA=1 to show it locally.")
    allowed = unmask_users()
    if not allowed:
        return Access(False, "Customer data masked: no user is allowed to see it (UNMASK_USERS is empty).")
    try:
        viewer = data.viewer()
    except Exception:  # fail closed: without an answer nobody sees customer data
        return Access(
            False,
            "Customer data masked: the viewer could not be identified (the app's owner role needs READ SESSION).",
        )
    if viewer and viewer in allowed:
        return Access(True, f"Customer data shown: {viewer} is allowed to see it.")
    return Access(
        False, f"Customer data masked: {viewer or 'this viewer'} is not on the list of users allowed to see it."
    )


def mask_personal(frame):
    """Names, emails and customer ids reduced so that a screen can be shared."""
    masked = frame.copy()
    for column, mask in (("customer_name", mask_name), ("customer_email", mask_email), ("customer_id", mask_id)):
        if column in masked:
            masked[column] = masked[column].map(mask)
    return masked


def mask_name(value):
    if not isinstance(value, str) or not value:
        return value
    return " ".join(part[0] + "•" * max(len(part) - 1, 1) for part in value.split())


def mask_email(value):
    if not isinstance(value, str) or "@" not in value:
        return "•••" if value else value
    local, domain = value.split("@", 1)
    return f"{local[:1]}•••@{domain}"


def mask_id(value):
    """Keeps the prefix and the last two characters: enough to tell rows apart, not to look one up."""
    if not isinstance(value, str) or not value:
        return value
    prefix, _, body = value.rpartition("_")  # no "_": no prefix, and the body is the whole id
    hidden = "•" * max(len(body) - 2, 1) + body[-2:]
    return f"{prefix}_{hidden}" if prefix else hidden


def pseudonym(value, key):
    """A stable stand-in for a customer id in exports: HMAC-SHA256 of the id under the app's secret key
    (data/members.py), 16 hex digits. The same customer gets the same pseudonym in every list; without the key nobody
    can tell whose it is, even by hashing every guessable id."""
    if not isinstance(value, str) or not value:
        return value
    return "FM-" + hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()[:16]


EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
CUSTOMER_ID = re.compile(r"\bCUST_\w+")


def redact(text):
    """Text for a message or a log: emails and customer ids replaced, so that an error never repeats them."""
    return CUSTOMER_ID.sub("CUST_…", EMAIL.sub("…@…", text))
