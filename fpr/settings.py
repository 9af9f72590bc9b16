"""The connector's configuration, checked once at the start of a sync and typed.

Every value arrives as a string (Fivetran's setup form and configuration.json hold only strings).
"""

import re  # for the page size's digits
from dataclasses import dataclass, field  # Settings
from ipaddress import ip_address  # to tell a loopback address
from urllib.parse import urlsplit  # to check base_url

from fpr.errors import ConfigurationError

MAX_PAGE_SIZE = 200  # the API's largest page
LOOPBACK_NAMES = ("localhost",)


@dataclass(frozen=True)
class Settings:
    base_url: str
    api_key: str = field(repr=False)  # never in a repr, so never in a crash report
    page_size: int


def read_settings(configuration: dict, default_page_size: int) -> Settings:
    """Checks the configuration and returns it typed.

    Args:
        configuration: the connector's configuration; every value is a string.
        default_page_size: the page size when the setting is empty.
    Returns:
        Settings with a base URL without trailing slash and an integer page size.
    Raises:
        ConfigurationError (a ValueError): naming the setting and what is wrong with it, never the key's value.
    """
    if not isinstance(configuration, dict):
        raise ConfigurationError("the configuration must be a JSON object of settings")
    api_key = _validate_api_key(configuration.get("api_key"))
    base_url = _validate_base_url(configuration.get("base_url"))
    page_size = _validate_page_size(configuration.get("page_size"), default_page_size)
    return Settings(base_url=base_url, api_key=api_key, page_size=page_size)


def _validate_api_key(value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError("configuration 'api_key' is required: set it to your FPR API key")
    if value != value.strip() or any(character in value for character in "\r\n"):
        raise ConfigurationError(
            "configuration 'api_key' has leading/trailing spaces or line breaks: paste the key alone"
        )
    return value


def _validate_base_url(value) -> str:
    """The base URL without trailing slash; ConfigurationError if it is unusable or unsafe."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError("configuration 'base_url' is required, e.g. https://fpr.example.com")
    url = value.strip().rstrip("/")
    try:
        parts = urlsplit(url)
        hostname, _ = parts.hostname, parts.port  # a port that is not a number raises here
    except ValueError:
        hostname = None
    if parts.scheme not in ("http", "https") or not hostname:
        raise ConfigurationError("configuration 'base_url' must be an http(s) URL such as https://fpr.example.com")
    if "@" in parts.netloc or parts.query or parts.fragment:
        raise ConfigurationError("configuration 'base_url' must not carry credentials, a query or a fragment")
    if parts.scheme == "http" and not is_loopback(hostname):
        raise ConfigurationError(
            "configuration 'base_url' uses plain http to a remote host, which would send the API key "
            "unencrypted: use https (plain http is allowed only for localhost)"
        )
    return url


def is_loopback(hostname: str) -> bool:
    """Whether the host is this machine, where plain http cannot expose the key."""
    if hostname in LOOPBACK_NAMES:
        return True
    try:
        return ip_address(hostname).is_loopback
    except ValueError:
        return False


def _validate_page_size(value, default: int) -> int:
    """The page size as a number; the default when the setting is empty."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    text = str(value).strip()
    if not re.fullmatch(r"\d+", text) or not 1 <= int(text) <= MAX_PAGE_SIZE:
        raise ConfigurationError(
            f"configuration 'page_size' must be a whole number from 1 to {MAX_PAGE_SIZE} (default {default})"
        )
    return int(text)
