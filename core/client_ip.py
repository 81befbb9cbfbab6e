"""The client's address: the one home for "who is asking" in rate limits and log-in lockouts.

`X-Forwarded-For` is written by whoever sends the request, so it is believed only as far as the
operator says proxies of their own sit in front of the web process
(`CLEANROOM_TRUSTED_PROXIES`, default 0). Each trusted proxy appends the address it received the
request from, so with N of them the client is the N-th address from the right; anything further
left is the client's own invention. With 0, or without the header, it is the socket's address
(`REMOTE_ADDR`). DRF's `NUM_PROXIES` is set to the same number (config/settings/base.py), but
our throttles call this module rather than DRF's `get_ident`.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest
from rest_framework.request import Request

UNKNOWN = "unknown"
# An IPv6 client usually holds a whole /64 (SLAAC, privacy addresses): counting each address
# alone would give it 2**64 fresh identities.
IPV6_PREFIX = 64


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _trusted_entry(request: HttpRequest | Request) -> str | None:
    proxies = settings.CLEANROOM_TRUSTED_PROXIES
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if not proxies or not forwarded:
        return None
    entries = forwarded.split(",")
    return entries[-min(proxies, len(entries))]


def client_address(request: HttpRequest | Request) -> str:
    """The client's IP address as the trusted proxies (or the socket) report it."""
    entry = _trusted_entry(request)
    if entry is not None and (vouched := _address(entry)) is not None:
        return str(vouched)
    # A trusted proxy never writes a malformed entry; one that is malformed was not written by
    # it, so it counts for nothing and the socket's address stands.
    remote = _address(request.META.get("REMOTE_ADDR") or "")
    return str(remote) if remote is not None else UNKNOWN


def client_identity(request: HttpRequest | Request) -> str:
    """The key rate limits and lockouts count under: the address, or an IPv6 client's /64."""
    address = client_address(request)
    parsed = _address(address)
    if isinstance(parsed, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((parsed, IPV6_PREFIX), strict=False))
    return address
