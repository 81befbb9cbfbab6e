"""Who the client is, for rate limits and log-in lockouts: the socket's address unless the
operator says how many proxies in front of the web process may be believed."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from core.client_ip import client_address, client_identity


def request(remote: str = "192.0.2.10", forwarded: str | None = None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


def test_with_no_trusted_proxy_the_header_is_ignored(settings) -> None:
    settings.CLEANROOM_TRUSTED_PROXIES = 0

    assert client_address(request(forwarded="203.0.113.5")) == "192.0.2.10"


def test_one_trusted_proxy_vouches_for_the_last_address_in_the_header(settings) -> None:
    settings.CLEANROOM_TRUSTED_PROXIES = 1

    assert client_address(request(remote="10.0.0.2", forwarded="6.6.6.6, 203.0.113.5")) == "203.0.113.5"


def test_two_trusted_proxies_vouch_for_the_second_address_from_the_right(settings) -> None:
    settings.CLEANROOM_TRUSTED_PROXIES = 2

    assert client_address(request(remote="10.0.0.3", forwarded="6.6.6.6, 203.0.113.5, 10.0.0.2")) == "203.0.113.5"


def test_a_header_shorter_than_the_proxy_chain_gives_its_first_address(settings) -> None:
    settings.CLEANROOM_TRUSTED_PROXIES = 2

    assert client_address(request(remote="10.0.0.3", forwarded="203.0.113.5")) == "203.0.113.5"


def test_behind_a_proxy_a_request_without_the_header_is_the_socket_address(settings) -> None:
    settings.CLEANROOM_TRUSTED_PROXIES = 1

    assert client_address(request(remote="10.0.0.2")) == "10.0.0.2"


@pytest.mark.parametrize("entry", ["not-an-address", "", "203.0.113.5:8080"])
def test_an_entry_that_is_not_an_address_falls_back_to_the_socket_address(settings, entry: str) -> None:
    settings.CLEANROOM_TRUSTED_PROXIES = 1

    assert client_address(request(remote="10.0.0.2", forwarded=f"1.1.1.1, {entry}")) == "10.0.0.2"


def test_ipv6_clients_are_limited_per_64_network_since_one_holds_a_whole_64(settings) -> None:
    settings.CLEANROOM_TRUSTED_PROXIES = 0

    assert client_identity(request(remote="2001:db8:1:2:aaaa::1")) == client_identity(request(remote="2001:db8:1:2:bbbb::9"))
    assert client_identity(request(remote="2001:db8:1:2:aaaa::1")) == "2001:db8:1:2::/64"
    assert client_identity(request(remote="2001:db8:1:3::1")) != client_identity(request(remote="2001:db8:1:2::1"))
    assert client_identity(request(remote="192.0.2.10")) == "192.0.2.10"
