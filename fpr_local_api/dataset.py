"""Seeded, deterministic FPR records and the change feed the cursor walks.

Every record is rebuilt on demand from (seed, index, version), so a dataset of a
million records costs a few bytes per changed record, not its JSON.

The feed is ordered by a change sequence number (seq). The initial records have
seq 1..N in index order; every insert or update takes the next seq. A cursor holds
the last seq it delivered, so a cursor saved at the end of one sync yields exactly
the records inserted or changed after it, each once, in its latest version.
"""

import random
import threading
import uuid
from datetime import date, timedelta

BASE_EPOCH = 1748797200  # 2025-06-01T17:00:00Z, the sample record's last_updated_epoch
EPOCH_STEP_SECONDS = 30  # last_updated_epoch grows by this much per change sequence number

SEGMENTS = ["Retail", "Commercial", "Small Business", "Private Banking", "Corporate"]
LIFECYCLE_STAGES = ["Lead", "Onboarding", "Engaged", "Converted", "Inactive"]
PRODUCT_TYPES = [
    "Savings Account",
    "Checking Account",
    "Loan",
    "Credit Card",
    "Mortgage",
    "Investment Account",
    "Insurance",
]
RECOMMENDATIONS = ["Insurance", "Credit Card", "Loan", "Mortgage", "Investment", "Savings Account"]
RECOMMENDATION_STATUSES = ["Accepted", "Pending", "In Progress", "Declined"]
PRODUCT_TERMS = [
    "No Collateral Required",
    "Fixed Rate",
    "Variable Rate",
    "No Annual Fee",
    "Flexible Repayment",
    "Low Interest",
]
DATE_RANGE_START = date(2024, 1, 1)
DATE_RANGE_DAYS = 540


def _decimal(rng, low, high):
    """A number with 10 decimals, like the hosted service serves."""
    return round(rng.uniform(low, high), 10)


def _day(rng):
    return (DATE_RANGE_START + timedelta(days=rng.randrange(DATE_RANGE_DAYS))).isoformat()


class Dataset:
    """The records behind the local API and the feed of their changes.

    Args:
        size: how many records exist before any change.
        seed: makes the data and the choice of changed records reproducible.
        email_template, name_template: how customer emails and names are made from the customer's number.
    """

    def __init__(
        self,
        size=750,
        seed=42,
        email_template="customer{number}@example.com",
        name_template="Customer {number}",
    ):
        if size < 0:
            raise ValueError("size must be zero or more")
        self.seed = seed
        self.email_template = email_template
        self.name_template = name_template
        self.initial_size = size
        self.size = size
        self._versions = {}  # index -> version, for records updated at least once
        self._latest_seq = {}  # index -> seq, for records whose seq is not their initial index + 1
        self._change_log = []  # index changed at seq initial_size + 1 + position
        self._batches = 0
        self._lock = threading.Lock()

    @property
    def last_seq(self):
        return self.initial_size + len(self._change_log)

    def record(self, index):
        """The current version of record `index`, as the API serves it."""
        with self._lock:
            version = self._versions.get(index, 0)
            seq = self._latest_seq.get(index, index + 1)
        return self._build(index, version, seq)

    def records_after(self, after_seq, limit):
        """Up to `limit` (seq, record) pairs with seq > after_seq, in seq order, each record once."""
        with self._lock:
            picked = self._initial_after(after_seq, limit)
            if len(picked) < limit:
                picked += self._changed_after(after_seq, limit - len(picked))
            built = [(seq, index, self._versions.get(index, 0)) for seq, index in picked]
        return [(seq, self._build(index, version, seq)) for seq, index, version in built]

    def _initial_after(self, after_seq, limit):
        picked = []
        index = max(after_seq, 0)
        while index < self.initial_size and len(picked) < limit:
            if index not in self._latest_seq:
                picked.append((index + 1, index))
            index += 1
        return picked

    def _changed_after(self, after_seq, limit):
        picked = []
        start = max(after_seq - self.initial_size, 0)
        for position in range(start, len(self._change_log)):
            index = self._change_log[position]
            seq = self.initial_size + 1 + position
            if self._latest_seq[index] == seq:  # later changes of the same record supersede this one
                picked.append((seq, index))
                if len(picked) == limit:
                    break
        return picked

    def apply_changes(self, insert=0, update=0):
        """Inserts `insert` new records and updates `update` existing ones, each taking a new seq.

        The records to update are drawn from those that existed before this call, by a
        generator seeded with the dataset's seed and the number of earlier calls, so the
        same sequence of calls always changes the same records.

        Returns:
            dict with the record_ids of the inserted and of the updated records.
        """
        if insert < 0 or update < 0:
            raise ValueError("insert and update must be zero or more")
        with self._lock:
            if update > self.size:
                raise ValueError(f"cannot update {update} records: only {self.size} exist")
            self._batches += 1
            rng = random.Random(f"{self.seed}:changes:{self._batches}")
            targets = rng.sample(range(self.size), update)
            for index in targets:
                self._versions[index] = self._versions.get(index, 0) + 1
                self._log_change(index)
            inserted = list(range(self.size, self.size + insert))
            for index in inserted:
                self._log_change(index)
            self.size += insert
        return {
            "inserted": [self._identity(index)[0] for index in inserted],
            "updated": [self._identity(index)[0] for index in targets],
        }

    def _log_change(self, index):
        self._change_log.append(index)
        self._latest_seq[index] = self.last_seq

    def _identity(self, index):
        rng = random.Random(f"{self.seed}:identity:{index}")
        record_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        return record_id, rng

    def _build(self, index, version, seq):
        record_id, identity = self._identity(index)
        rng = random.Random(f"{self.seed}:state:{index}:{version}")
        number = index + 1
        return {
            "account_balance": _decimal(rng, 50, 250000),
            "customer_churn_probability": _decimal(rng, 0, 1),
            "customer_email": self.email_template.format(number=number),
            "customer_id": f"CUST_{index:06d}",
            "customer_lifecycle_stage": rng.choice(LIFECYCLE_STAGES),
            "customer_lifecycle_stage_transition_date": _day(rng),
            "customer_name": self.name_template.format(number=number),
            "customer_product_affinity": _decimal(rng, 0, 1),
            "customer_product_affinity_trend": f"Product Affinity Trend {rng.randint(1, 10)}",
            "customer_product_interests": f"Product Interest {rng.randint(1, 10)}",
            "customer_product_usage": f"Product Usage {rng.randint(1, 10)}",
            "customer_product_usage_trend": f"Product Usage Trend {rng.randint(1, 10)}",
            "customer_satisfaction_score": _decimal(rng, 0, 1),
            "customer_segment": identity.choice(SEGMENTS),
            "customer_transaction_count": rng.randint(0, 500),
            "customer_transaction_value": _decimal(rng, 10, 20000),
            "last_updated_epoch": BASE_EPOCH + (seq - 1) * EPOCH_STEP_SECONDS,
            "product_id": f"PROD_{identity.randrange(1000):06d}",
            "product_name": f"Product {identity.randint(1, 1000)}",
            "product_recommendation": rng.choice(RECOMMENDATIONS),
            "product_recommendation_date": _day(rng),
            "product_recommendation_status": rng.choice(RECOMMENDATION_STATUSES),
            "product_sales_amount": _decimal(rng, 0, 50000),
            "product_sales_date": _day(rng),
            "product_terms": rng.choice(PRODUCT_TERMS),
            "product_type": identity.choice(PRODUCT_TYPES),
            "recommendation_score": _decimal(rng, 0, 1),
            "record_id": record_id,
            "transaction_history": f"Transaction History {rng.randint(1, 50)}",
        }
