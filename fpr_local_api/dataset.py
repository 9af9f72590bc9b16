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
DAYS = tuple((DATE_RANGE_START + timedelta(days=offset)).isoformat() for offset in range(DATE_RANGE_DAYS))


def _below(bits, n):
    """rng.randrange(n), drawing getrandbits exactly as CPython's randrange, randint and choice do.

    Called directly, it skips three Python frames per draw; the values are the same (pinned by a test).
    """
    width = n.bit_length()
    value = bits(width)
    while value >= n:
        value = bits(width)
    return value


def _uuid4(value):
    """str(uuid.UUID(int=value, version=4)), without building the UUID object."""
    value = (value & ~(0xC000 << 48) | 0x8000 << 48) & ~(0xF000 << 64) | 4 << 76
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


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

    def update_record(self, index):
        """Updates record `index` (it takes the next seq, so a cursor saved before now yields it); returns its id."""
        with self._lock:
            if not 0 <= index < self.size:
                raise ValueError(f"no record {index}: {self.size} exist")
            self._versions[index] = self._versions.get(index, 0) + 1
            self._log_change(index)
        return self._identity(index)[0]

    def _log_change(self, index):
        self._change_log.append(index)
        self._latest_seq[index] = self.last_seq

    def _identity(self, index):
        """What never changes about record `index`: its id, segment and product, drawn from its own generator."""
        rng = random.Random(f"{self.seed}:identity:{index}")
        bits = rng.getrandbits
        record_id = _uuid4(bits(128))
        segment = SEGMENTS[_below(bits, len(SEGMENTS))]
        product_number = _below(bits, 1000)
        product_name = f"Product {1 + _below(bits, 1000)}"
        product_type = PRODUCT_TYPES[_below(bits, len(PRODUCT_TYPES))]
        return record_id, segment, f"PROD_{product_number:06d}", product_name, product_type

    def _build(self, index, version, seq):
        """Record `index` in `version`. The order of the draws below is the data: changing it changes every record."""
        record_id, segment, product_id, product_name, product_type = self._identity(index)
        rng = random.Random(f"{self.seed}:state:{index}:{version}")
        draw, bits = rng.random, rng.getrandbits
        number = index + 1
        # rng.uniform(a, b) is a + (b - a) * rng.random(); 10 decimals, like the hosted service serves.
        account_balance = round(50 + 249950 * draw(), 10)
        churn = round(draw(), 10)
        stage = LIFECYCLE_STAGES[_below(bits, len(LIFECYCLE_STAGES))]
        stage_date = DAYS[_below(bits, DATE_RANGE_DAYS)]
        affinity = round(draw(), 10)
        affinity_trend, interests, usage, usage_trend = (1 + _below(bits, 10) for _ in range(4))
        satisfaction = round(draw(), 10)
        transaction_count = _below(bits, 501)
        transaction_value = round(10 + 19990 * draw(), 10)
        recommendation = RECOMMENDATIONS[_below(bits, len(RECOMMENDATIONS))]
        recommendation_date = DAYS[_below(bits, DATE_RANGE_DAYS)]
        status = RECOMMENDATION_STATUSES[_below(bits, len(RECOMMENDATION_STATUSES))]
        sales_amount = round(50000 * draw(), 10)
        sales_date = DAYS[_below(bits, DATE_RANGE_DAYS)]
        terms = PRODUCT_TERMS[_below(bits, len(PRODUCT_TERMS))]
        score = round(draw(), 10)
        history = 1 + _below(bits, 50)
        return {
            "account_balance": account_balance,
            "customer_churn_probability": churn,
            "customer_email": self.email_template.format(number=number),
            "customer_id": f"CUST_{index:06d}",
            "customer_lifecycle_stage": stage,
            "customer_lifecycle_stage_transition_date": stage_date,
            "customer_name": self.name_template.format(number=number),
            "customer_product_affinity": affinity,
            "customer_product_affinity_trend": f"Product Affinity Trend {affinity_trend}",
            "customer_product_interests": f"Product Interest {interests}",
            "customer_product_usage": f"Product Usage {usage}",
            "customer_product_usage_trend": f"Product Usage Trend {usage_trend}",
            "customer_satisfaction_score": satisfaction,
            "customer_segment": segment,
            "customer_transaction_count": transaction_count,
            "customer_transaction_value": transaction_value,
            "last_updated_epoch": BASE_EPOCH + (seq - 1) * EPOCH_STEP_SECONDS,
            "product_id": product_id,
            "product_name": product_name,
            "product_recommendation": recommendation,
            "product_recommendation_date": recommendation_date,
            "product_recommendation_status": status,
            "product_sales_amount": sales_amount,
            "product_sales_date": sales_date,
            "product_terms": terms,
            "product_type": product_type,
            "recommendation_score": score,
            "record_id": record_id,
            "transaction_history": f"Transaction History {history}",
        }
