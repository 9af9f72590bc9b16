"""FinMatch's privacy, unit by unit: who may see customer data, and exactly what everyone else sees.

Expected values are literals. The viewer is decided on the Snowflake user, never on a role: under
owner's rights role functions answer for the app's owner (tests/test_finmatch_in_snowflake.py drives
that through the whole app); here each rule is pinned alone.
"""

import pandas as pd
import pytest

from finmatch.privacy import Access, decide_access, mask_email, mask_id, mask_name, mask_personal, pseudonym, redact


class Backend:
    def __init__(self, in_snowflake):
        self.in_snowflake = in_snowflake


class Data:
    """The one part of the app's data access that the privacy check uses: who is viewing."""

    def __init__(self, in_snowflake=True, viewer="ANALYST_1", error=None):
        self.backend = Backend(in_snowflake)
        self._viewer, self._error = viewer, error

    def viewer(self):
        if self._error:
            raise self._error
        return self._viewer


@pytest.fixture
def allowed(monkeypatch):
    def allow(*users):
        monkeypatch.setenv("FINMATCH_UNMASK_USERS", ",".join(users))

    monkeypatch.delenv("FINMATCH_SHOW_CUSTOMER_DATA", raising=False)
    return allow


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("Customer 1", "C••••••• 1•"),
        ("Jane Roe", "J••• R••"),
        ("Ana", "A••"),
        ("J", "J•"),
        ("  Jane   Roe  ", "J••• R••"),
        ("", ""),
        (None, None),
        (123, 123),
    ],
)
def test_a_name_keeps_each_words_first_letter_only(name, masked):
    assert mask_name(name) == masked


@pytest.mark.parametrize(
    ("email", "masked"),
    [
        ("customer63@example.com", "c•••@example.com"),
        ("jane.roe+fpr@bank.example.co.uk", "j•••@bank.example.co.uk"),
        ("a@b.test", "a•••@b.test"),
        ("odd@name@b.test", "o•••@name@b.test"),  # everything after the first @ is the domain
        ("not an email", "•••"),
        ("", ""),
        (None, None),
    ],
)
def test_an_email_keeps_its_first_letter_and_domain_only(email, masked):
    assert mask_email(email) == masked


@pytest.mark.parametrize(
    ("customer_id", "masked"),
    [
        ("CUST_000428", "CUST_••••28"),
        ("CUST_12", "CUST_•12"),
        ("ABCDEF", "••••EF"),
        ("", ""),
        (None, None),
    ],
)
def test_a_customer_id_keeps_its_prefix_and_last_two_characters(customer_id, masked):
    assert mask_id(customer_id) == masked


def test_every_personal_column_of_a_table_is_masked_and_nothing_else():
    frame = pd.DataFrame(
        {
            "customer_id": ["CUST_000428"],
            "customer_name": ["Jane Roe"],
            "customer_email": ["jane@bank.example"],
            "product_name": ["Product 7"],
        }
    )

    masked = mask_personal(frame)

    assert masked.to_dict("records") == [
        {
            "customer_id": "CUST_••••28",
            "customer_name": "J••• R••",
            "customer_email": "j•••@bank.example",
            "product_name": "Product 7",
        }
    ]
    assert frame.loc[0, "customer_name"] == "Jane Roe"  # the original is left as it was


def test_a_message_loses_its_emails_and_customer_ids():
    text = "no profile for CUST_000428 (jane.roe@bank.example) in segment Retail"

    assert redact(text) == "no profile for CUST_… (…@…) in segment Retail"


def test_a_viewer_on_the_allow_list_sees_customer_data(allowed):
    allowed("ANALYST_1", "ANALYST_2")

    access = decide_access(Data(viewer="ANALYST_2"))

    assert access.personal is True
    assert access.reason == "Customer data shown: ANALYST_2 is allowed to see it."


@pytest.mark.parametrize("viewer", ["ANALYST_3", "analyst_1", "ANALYST_1 ", "", None])
def test_any_other_viewer_sees_it_masked_the_list_matching_exactly(allowed, viewer):
    allowed("ANALYST_1")

    access = decide_access(Data(viewer=viewer))

    assert access.personal is False
    named = viewer or "this viewer"
    assert access.reason == f"Customer data masked: {named} is not on the list of users allowed to see it."


def test_a_viewer_who_cannot_be_identified_sees_it_masked(allowed):
    allowed("ANALYST_1")

    access = decide_access(Data(error=RuntimeError("Insufficient privileges: READ SESSION")))

    assert access.personal is False
    assert access.reason == (
        "Customer data masked: the viewer could not be identified (the app's owner role needs READ SESSION)."
    )


def test_nobody_sees_customer_data_while_the_allow_list_is_empty(allowed):
    allowed()

    access = decide_access(Data(viewer="ANALYST_1"))

    assert access == decide_access(Data(viewer=""))
    assert access.personal is False
    assert access.reason == "Customer data masked: no user is allowed to see it (UNMASK_USERS is empty)."


def test_locally_customer_data_is_shown_only_when_asked_for(monkeypatch):
    masked = Access(False, "Customer data masked. Set FINMATCH_SHOW_CUSTOMER_DATA=1 to show it locally.")
    monkeypatch.delenv("FINMATCH_SHOW_CUSTOMER_DATA", raising=False)
    assert decide_access(Data(in_snowflake=False)) == masked
    monkeypatch.setenv("FINMATCH_SHOW_CUSTOMER_DATA", "true")
    assert decide_access(Data(in_snowflake=False)) == masked  # only "1" asks for it
    monkeypatch.setenv("FINMATCH_SHOW_CUSTOMER_DATA", "1")
    assert decide_access(Data(in_snowflake=False)) == Access(
        True, "Customer data shown (FINMATCH_SHOW_CUSTOMER_DATA=1 on this machine)."
    )


# ---------- pseudonyms in exports: stable per customer, unreadable without the key ----------


def test_a_pseudonym_is_the_keyed_hmac_of_the_id():
    """HMAC-SHA256 of "CUST_000001" under the key "k", its first 16 hex digits (worked out once, written here)."""
    assert pseudonym("CUST_000001", "k") == "FM-f6ec1a11045fbab8"
    assert pseudonym("CUST_000001", "other key") == "FM-27b3c9e9ea94d257"


def test_a_pseudonym_is_the_same_for_the_same_customer_and_differs_between_customers():
    assert pseudonym("CUST_000001", "k") == pseudonym("CUST_000001", "k")
    assert pseudonym("CUST_000002", "k") != pseudonym("CUST_000001", "k")
    assert "000001" not in pseudonym("CUST_000001", "k")


@pytest.mark.parametrize("value", ["", None, 123])
def test_what_is_not_an_id_is_left_as_it_is(value):
    assert pseudonym(value, "k") == value
