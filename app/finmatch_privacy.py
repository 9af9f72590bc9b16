"""Who may see customer data, and how it looks to everyone else.

Customer names, emails and ids are masked unless the viewer may see them. In Snowflake that is
decided by the viewer's roles (IS_ROLE_IN_SESSION against the configured list), never by a
switch in the page. Locally there are no roles: FINMATCH_SHOW_CUSTOMER_DATA=1 shows them.
"""

from dataclasses import dataclass

from finmatch_settings import local_unmask, unmask_roles

PERSONAL_COLUMNS = ("customer_id", "customer_name", "customer_email")


@dataclass(frozen=True)
class Access:
    """Whether customer data is shown, and the reason, in words for the sidebar."""

    personal: bool
    reason: str


def decide_access(data):
    """The viewer's access to customer data.

    In Snowflake, one query asks whether a configured role is in the viewer's session; any error
    (for example a missing READ SESSION grant) keeps the data masked.
    """
    if not data.backend.in_snowflake:  # local run: no roles exist
        if local_unmask():
            return Access(True, "Customer data shown (FINMATCH_SHOW_CUSTOMER_DATA=1 on this machine).")
        return Access(False, "Customer data masked. Set FINMATCH_SHOW_CUSTOMER_DATA=1 to show it locally.")
    roles = unmask_roles()
    try:
        allowed = data.any_role_in_session(roles)
    except Exception:  # fail closed: without an answer nobody sees customer data
        allowed = False
    if allowed:
        return Access(True, "Customer data shown: your session holds a role allowed to see it.")
    return Access(False, f"Customer data masked: only {', '.join(roles) or 'no role'} may see it.")


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
    prefix, _, rest = value.rpartition("_")
    body = rest if prefix else value
    hidden = "•" * max(len(body) - 2, 1) + body[-2:]
    return f"{prefix}_{hidden}" if prefix else hidden
