"""The client's address, and the networks a request from it is counted on.

    address = client_address(request)     # "203.0.113.7", "2001:db8:0:7::/64"
    wider_networks(address)                # [], [/56 and /48 of the /64, with factors]

An IPv4 client is its one address (behind a NAT, everyone there). An IPv6 host is given a
whole /64 (a phone on a carrier, a household) and can pick any address in it, so its
/64 is what one client is. A household is commonly delegated a /56 (256 /64s), and one
site (an office, a rented server, a tunnel broker's customer) a /48 (65,536), whose /64s
their holders can rotate through. So an IPv6 client is counted on its /64 at the
address's allowance, on its /56 at ``IPV6_56_ALLOWANCE_FACTOR`` times it and on its /48
at ``IPV6_48_ALLOWANCE_FACTOR`` times it: a carrier or an ISP puts thousands of
subscribers' /64s in one /48, and counted on the /48 alone one subscriber could spend
the allowance of every other one; counted on the /64 alone, a /48's holder would have
65,536 allowances. A household rotating the /64s of its /56 spends the /56's few
allowances, not the whole /48's. A request a narrower network refuses is not counted on
the wider ones: one client hammering past its own allowance spends nothing more of its
neighbours'.
"""

import ipaddress
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest
from rest_framework.settings import api_settings

IPV6_CLIENT_PREFIX_LENGTH = 64
IPV6_HOUSEHOLD_PREFIX_LENGTH = 56
IPV6_SITE_PREFIX_LENGTH = 48


def client_address(request: HttpRequest) -> str:
    """The client's address as the trusted proxies saw it (an IPv6 client's /64).

    The chain is X-Forwarded-For's entries followed by the peer (REMOTE_ADDR); each of the
    ``NUM_PROXIES`` proxies appends the address it was reached from, so the client is the
    entry just before the last ``NUM_PROXIES``; anything further left was written by the
    client. A chain shorter than that did not come through the proxies, and an entry that
    is no address was not written by them: the peer is used.
    """
    peer = request.META.get("REMOTE_ADDR", "")
    proxies = api_settings.NUM_PROXIES or 0
    chain = [peer]
    if proxies:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        chain = [entry.strip() for entry in forwarded.split(",") if entry.strip()] + chain
    address = chain[-1 - proxies] if len(chain) > proxies else peer
    parsed = ip_address(without_port(address)) or ip_address(peer)
    if parsed is None:
        return peer  # a unix socket's peer, say: no address, but the one there is
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/{IPV6_CLIENT_PREFIX_LENGTH}", strict=False))
    return str(parsed)


@dataclass(frozen=True, slots=True)
class WiderNetwork:
    """A network that holds a client's /64, and how many times the address's allowance
    it may spend."""

    network: str
    prefix_length: int
    factor: int


def wider_networks(address: str) -> list[WiderNetwork]:
    """The /56 and the /48 of an IPv6 client's /64 (``client_address``), narrowest
    first; none for anything else."""
    try:
        network = ipaddress.ip_network(address)
    except ValueError:
        return []
    if network.version != 6 or network.prefixlen != IPV6_CLIENT_PREFIX_LENGTH:
        return []
    factors = {
        IPV6_HOUSEHOLD_PREFIX_LENGTH: settings.IPV6_56_ALLOWANCE_FACTOR,
        IPV6_SITE_PREFIX_LENGTH: settings.IPV6_48_ALLOWANCE_FACTOR,
    }
    return [
        WiderNetwork(str(network.supernet(new_prefix=length)), length, factor)
        for length, factor in factors.items()
    ]


def without_port(entry: str) -> str:
    """An address as some proxies write it with the client's port ("192.0.2.7:4431",
    "[2001:db8::1]:443"), without the port; any other entry as it is."""
    if entry.startswith("["):
        return entry[1:].partition("]")[0]
    host, colon, port = entry.rpartition(":")
    if colon and "." in host and ":" not in host and port.isdigit():
        return host
    return entry


def ip_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None
