"""safe_log: every form the API key travels in, and every email address, is masked in what the connector writes.

Expected texts are written out in full: a mask that slipped by one character would show here.
"""

import pytest

from fpr import safe_log

KEY = "k3y/with+odd=chars"  # characters that URL-encoding and base64 each treat differently


@pytest.fixture(autouse=True)
def protected_key():
    safe_log.protect(KEY)
    yield
    safe_log.protect(None)


@pytest.mark.parametrize(
    "form",
    [
        "k3y/with+odd=chars",  # raw
        "k3y%2Fwith%2Bodd%3Dchars",  # URL-encoded, nothing safe
        "k3y%2Fwith%2Bodd%3Dchars",  # quote_plus gives the same here (no spaces)
        "azN5L3dpdGgrb2RkPWNoYXJz",  # base64
        "azN5L3dpdGgrb2RkPWNoYXJz",  # URL-safe base64 (no + or / in this one)
    ],
)
def test_each_form_of_the_key_is_masked(form):
    assert safe_log.redact(f"sent {form} to the API") == "sent *** to the API"


def test_padded_and_unpadded_base64_are_both_masked():
    safe_log.protect("key12")  # base64 "a2V5MTI=" has padding
    assert safe_log.redact("Basic a2V5MTI= and a2V5MTI alone") == "Basic *** and *** alone"


def test_url_safe_base64_differs_and_is_masked_too():
    safe_log.protect("?>?>?>")  # base64 "Pz4/Pj8+", URL-safe "Pz4_Pj8-"
    assert safe_log.redact("std Pz4/Pj8+ urlsafe Pz4_Pj8-") == "std *** urlsafe ***"


def test_a_key_with_a_space_is_masked_in_its_quote_plus_form():
    safe_log.protect("two words")
    assert safe_log.redact("q=two+words&r=two%20words") == "q=***&r=***"


def test_every_email_address_is_masked():
    text = "for Jane <jane.doe+fpr@bank.example.co.uk>, cc ops@fpr.test"
    assert safe_log.redact(text) == "for Jane <<email>>, cc <email>"


def test_a_key_shorter_than_four_characters_masks_nothing_rather_than_ordinary_words():
    safe_log.protect("abc")
    assert safe_log.redact("abcdef abc") == "abcdef abc"


def test_protecting_a_new_key_forgets_the_last_one():
    safe_log.protect("first-key")
    safe_log.protect("second-key")
    assert safe_log.redact("first-key second-key") == "first-key ***"


def test_holds_secret_sees_every_form():
    assert safe_log.holds_secret("cursor-azN5L3dpdGgrb2RkPWNoYXJz")
    assert safe_log.holds_secret("x" + KEY)
    assert not safe_log.holds_secret("gAAAAABrCbitLX-0sCQ")


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("plain_field", "plain_field"),
        ("jane.doe@bank.example", "<email>"),
        ("id\ud800\x00", "id\\ud800\\x00"),
        ("José", "Jos\\xe9"),
        ("x" * 61, "x" * 57 + "..."),
        ("x" * 60, "x" * 60),
        (f"id-{KEY}", "id-***"),
    ],
)
def test_a_name_or_id_from_the_api_is_shown_escaped_short_and_masked(name, shown):
    assert safe_log.printable(name) == shown


def test_a_key_with_a_slash_and_a_space_is_masked_in_each_way_it_can_be_url_encoded():
    safe_log.protect("k3y/a b")
    text = "k3y%2Fa%20b | k3y%2Fa+b | k3y/a%20b | k3y/a b"

    assert safe_log.redact(text) == "*** | *** | *** | ***"


def test_a_key_of_four_characters_is_masked():
    safe_log.protect("abcd")

    assert safe_log.redact("key=abcd") == "key=***"


def test_an_unprintable_ascii_name_is_shown_escaped():
    assert safe_log.printable("tab\there\x07") == "tab\\there\\x07"


def test_the_connectors_own_words_are_never_masked_only_the_values_put_into_them():
    message = safe_log.say(
        "{} asks for credentials: e.g. HTTPS_PROXY=http://user:password@proxy.example.com:3128 (sent {})",
        "proxy for jane.roe@bank.example",
        KEY,
    )

    assert safe_log.redact(message) == (
        "proxy for <email> asks for credentials: e.g. HTTPS_PROXY=http://user:password@proxy.example.com:3128 "
        "(sent ***)"
    )


def test_a_message_stays_whole_through_an_exception_and_the_messages_built_around_it():
    inner = RuntimeError(safe_log.say("see user:password@proxy.example.com for {}", "jane.roe@bank.example"))

    outer = safe_log.say("page {}: {}", 3, inner)

    assert safe_log.redact(str(RuntimeError(outer))) == "page 3: see user:password@proxy.example.com for <email>"


def test_text_not_built_with_say_is_masked_in_full_as_before():
    assert (
        safe_log.redact(f"page 3: see user:password@proxy.example.com for {KEY}") == "page 3: see user:<email> for ***"
    )
