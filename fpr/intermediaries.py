"""Answers that are not the API's: who sent them, as far as their headers tell, and what their page says.

A firewall, CDN, gateway or proxy in front of the API answers with a page of its own (HTML, or
plain text) and headers that often name it. The API itself answers in JSON, or with no body. So
only an answer in the API's own form may blame the key; any other is described by who sent it
and, for an HTML page, its title or first words, masked as all server text is. Plain text is not
quoted: an error's free text may name a customer, which no masking can recognise.
"""

import html  # entities in a page's title
import re  # titles, tags

from fpr import safe_log

WORDS = 60  # characters of a page quoted
_TITLE = re.compile(rb"<title[^>]*>(.{0,2000}?)</title", re.IGNORECASE | re.DOTALL)
_HIDDEN = re.compile(rb"<(script|style|head)\b.{0,100000}?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(rb"<[^>]{0,2000}>")
_SPACE = re.compile(r"\s+")
_STARTS_AS_MARKUP = re.compile(rb"\s*<")

# Headers that name who answered, the most specific first: (header, text in its value or "", who).
_SENDERS = (
    ("cf-ray", "", "Cloudflare"),
    ("server", "cloudflare", "Cloudflare"),
    ("x-amz-cf-id", "", "Amazon CloudFront"),
    ("server", "cloudfront", "Amazon CloudFront"),
    ("server", "akamaighost", "Akamai"),
    ("x-azure-ref", "", "Azure Front Door"),
    ("server", "awselb", "an AWS load balancer"),
    ("x-sucuri-id", "", "the Sucuri firewall"),
    ("server", "big-ip", "an F5 BIG-IP"),
)
_RELAYS = ("via", "x-cache")  # a proxy or cache on the way, named by the header's value


def answered_by(headers) -> str:
    """Who sent an answer, as its headers tell ("Cloudflare"); "" when they name no one."""
    for name, text, who in _SENDERS:
        value = headers.get(name)
        if value is not None and text in value.lower():
            return who
    for name in _RELAYS:
        value = headers.get(name)
        if value:
            return safe_log.say("a proxy or cache ({}: {})", name.title(), safe_log.printable(value, 40))
    server = headers.get("server")
    return safe_log.say("a server calling itself {}", safe_log.printable(server, 40)) if server else ""


def is_the_apis(body: bytes) -> bool:
    """Whether an error answer has the API's own form: JSON (an object or a list), or no body at all."""
    start = bytes(body).lstrip(b" \t\r\n\xef\xbb\xbf")[:1]  # a UTF-8 byte-order mark too
    return start in (b"", b"{", b"[")


def is_page(body: bytes, content_type: str) -> bool:
    """Whether an answer is an HTML page, by its Content-Type or its first character."""
    return content_type.lower().startswith("text/html") or bool(_STARTS_AS_MARKUP.match(body))


def first_words(body: bytes) -> str:
    """The title of a page, or else its first text, as a message may quote it: masked and short."""
    title = _TITLE.search(body)
    text = title.group(1) if title else _TAG.sub(b" ", _HIDDEN.sub(b" ", bytes(body[:65536])))
    words = _SPACE.sub(" ", html.unescape(text.decode("utf-8", "replace"))).strip()
    return safe_log.printable(words, WORDS) if words else ""


def described(answered: str, body: bytes, content_type: str) -> str:
    """Who sent an answer and, if it is a page, what it says: 'from Cloudflare, reading "Attention Required!"'."""
    sender = safe_log.say("from {}", answered) if answered else "from a sender its headers do not name"
    words = first_words(body) if is_page(body, content_type) else ""
    return safe_log.say('{}, reading "{}"', sender, words) if words else sender
