"""The proxy a request to the API goes through, as requests picks it from the environment.

Messages about a proxy name it by host and port and by the variable that set it, never by its
address as written, which may carry a user and password.
"""

import os  # the variable that set the proxy
from dataclasses import dataclass  # Proxy
from urllib.parse import urlsplit  # the proxy's host, port and credentials

import requests  # how it reads the environment's proxies

_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Proxy:
    """The proxy in use.

    Attributes:
        variable: the environment variable that set it (HTTPS_PROXY, https_proxy, ALL_PROXY...); "" if unknown.
        scheme: of its address ("http", "https", "socks5"...), "" if the address cannot be read.
        address: host:port, without credentials; "" if the address cannot be read.
        has_credentials: its address carries a user (and password), sent as Proxy-Authorization.
    """

    variable: str
    scheme: str
    address: str
    has_credentials: bool

    @property
    def named(self) -> str:
        """How a message names it: "the proxy host:port (HTTPS_PROXY)"."""
        if self.address:
            return f"the proxy {self.address} ({self.variable})"
        return f"the proxy in {self.variable}" if self.variable else "the proxy"


def proxy_for(url: str, session: requests.Session):
    """The proxy `session` sends a request for `url` through, or None when it goes direct."""
    proxies = session.merge_environment_settings(url, {}, None, None, None)["proxies"]
    chosen = requests.utils.select_proxy(url, proxies)
    if not chosen:
        return None
    key = next(key for key, value in proxies.items() if value == chosen)
    return _read(chosen, _variable(key.split("://")[0]))


def _variable(key: str) -> str:
    """The variable that holds the proxy of `key` ("https", "all"); the lower-case one wins, as in urllib."""
    for name in (f"{key}_proxy", f"{key.upper()}_PROXY"):
        if os.environ.get(name):
            return name
    return f"{key.upper()}_PROXY"


def _read(address: str, variable: str) -> Proxy:
    try:
        parts = urlsplit(address if "://" in address else f"http://{address}")  # requests reads a bare host as http
        host, port = parts.hostname, parts.port
    except ValueError:  # an unclosed [ or a port that is not a number
        return Proxy(variable, "", "", False)
    credentials = parts.username is not None
    if not host:
        return Proxy(variable, parts.scheme, "", credentials)
    port = port or _DEFAULT_PORTS.get(parts.scheme)
    shown = f"[{host}]" if ":" in host else host
    return Proxy(variable, parts.scheme, f"{shown}:{port}" if port else shown, credentials)
