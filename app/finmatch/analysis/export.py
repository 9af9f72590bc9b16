"""A list as CRM-ready members: a campaign id, a random control group, stable pseudonyms, and a CSV Excel reads.

The control group is a share of the list chosen at random but reproducibly: the customers whose SHA-256 of
(campaign id, customer id) comes first, exactly round(share × list size) of them. The same campaign id always
holds out the same customers, so lift can be measured when outcomes arrive.
"""

import hashlib
from datetime import datetime, timezone

import pandas as pd

from finmatch.data.members import NAMES
from finmatch.privacy import pseudonym


def campaign_id(kind, name, created_at, *choices):
    """An id naming the kind, the product or list, the day, and a digest of everything that chose the members."""
    digest = hashlib.sha256(repr((kind, name, created_at.isoformat(), choices)).encode()).hexdigest()[:8]
    slug = "".join(ch if ch.isalnum() else "-" for ch in name.upper()).strip("-")
    return f"{PREFIXES.get(kind, 'LIST')}-{slug}-{created_at:%Y%m%d}-{digest}"


PREFIXES = {"cross-sell": "XSELL", "retention": "RETAIN"}


def control_flags(campaign, customers, share):
    """Which customers are held out as the control group: exactly round(share × n) of them, reproducibly."""
    customers = list(customers)
    count = round(share * len(customers))
    order = sorted(customers, key=lambda customer: hashlib.sha256(f"{campaign}:{customer}".encode()).hexdigest())
    held = set(order[:count])
    return [customer in held for customer in customers]


def now_utc():
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


def members(listed, header, control_share, key=None):
    """Members rows (data/members.NAMES) of a ranked frame with customer_id, score, low, high, expected_value,
    value_low, value_high and reason; customer ids become pseudonyms when `key` is given (masked viewers).

    Args:
        header: {"campaign_id", "kind", "product", "created_at", "model_version"}.
    """
    customers = list(listed["customer_id"])
    frame = pd.DataFrame(
        {
            **{name: [header[name]] * len(listed) for name in ("campaign_id", "kind", "product", "created_at")},
            "model_version": [header["model_version"]] * len(listed),
            "customer_id": [pseudonym(c, key) for c in customers] if key else customers,
            "pseudonymous": [key is not None] * len(listed),
            "rank": range(1, len(listed) + 1),
            "score": _numbers(listed, "score"),
            "score_low": _numbers(listed, "low"),
            "score_high": _numbers(listed, "high"),
            "expected_value": _numbers(listed, "expected_value"),
            "expected_value_low": _numbers(listed, "value_low"),
            "expected_value_high": _numbers(listed, "value_high"),
            "reason": list(listed["reason"]),
            "control_group": control_flags(header["campaign_id"], customers, control_share),
        }
    )
    return frame[list(NAMES)]


def _numbers(frame, column):
    if column not in frame:
        return [None] * len(frame)
    return pd.to_numeric(frame[column], errors="coerce").astype(float).tolist()


def csv_bytes(members_frame):
    """UTF-8 with a byte order mark (so Excel reads the text as UTF-8), numbers unquoted, ISO 8601 times, and
    true/false as 1/0, which every spreadsheet reads as numbers."""
    frame = members_frame.assign(
        created_at=pd.to_datetime(members_frame["created_at"]).dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
        pseudonymous=members_frame["pseudonymous"].astype(int),
        control_group=members_frame["control_group"].astype(int),
    )
    return ("\ufeff" + frame.to_csv(index=False, lineterminator="\r\n")).encode("utf-8")
