"""Which network addresses a request the server makes for a user may reach.

A user-chosen URL must not turn the server into a proxy towards its own network: loopback, private,
link-local (cloud metadata), shared, reserved and multicast addresses are refused unless the operator
allow-lists them, and so are the IPv6 spellings that embed such an IPv4 address (mapped, 6to4, NAT64).
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[str]]]

# A host name as DNS spells it (punycode for international names); numeric-looking labels are judged apart.
HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# Labels that resolvers read as (part of) an IPv4 number: 2130706433, 0x7f.1, 017700000001, 127.1.
NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")
NAT64_LOCAL_USE = ipaddress.IPv6Network("64:ff9b:1::/48")
IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
RESOLVE_TIMEOUT_S = 5.0


class AddressRefused(Exception):
    """The host is not one this server may reach for a user; the message is safe to show."""


def normalise_host(host: str) -> str:
    """The host as compared and resolved: lower case, brackets and one trailing dot removed.

    Raises AddressRefused for spellings resolvers interpret loosely (decimal, octal or hex IPv4 forms,
    percent-encoding, anything that is neither an IP address nor a DNS name)."""
    host = host.strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    host = host.removesuffix(".")
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")  # an international name, as DNS spells it
        except UnicodeError:
            raise AddressRefused("not a host name or IP address") from None
    labels = host.split(".")
    if not host or len(host) > 253 or not all(HOST_LABEL.match(label) for label in labels):
        raise AddressRefused("not a host name or IP address")
    if NUMERIC_LABEL.match(labels[-1]):
        raise AddressRefused("IP addresses must be written in standard dotted form")
    return host


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for, where traffic to it ends up at that IPv4 address."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in NAT64_WELL_KNOWN or address in IPV4_COMPATIBLE:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public(address: IPAddress) -> bool:
    """Whether an address is globally routable and none of the special ranges."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id or address in NAT64_LOCAL_USE or address.is_site_local:
            return False
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return is_public(embedded)
    return address.is_global and not (
        address.is_multicast
        or address.is_reserved
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_unspecified
    )


@dataclass(frozen=True)
class AllowList:
    """Operator-approved exceptions: exact host names and address ranges (CIDR or single addresses)."""

    names: frozenset[str]
    networks: tuple[IPNetwork, ...]

    @classmethod
    def parse(cls, entries: Iterable[str]) -> AllowList:
        names: set[str] = set()
        networks: list[IPNetwork] = []
        for entry in entries:
            text = entry.strip().lower()
            try:
                networks.append(ipaddress.ip_network(text.strip("[]"), strict=False))
                continue
            except ValueError:
                pass
            try:
                names.add(normalise_host(text))
            except AddressRefused:
                raise ValueError(f"{entry!r} is neither a host name nor an address range") from None
        return cls(frozenset(names), tuple(networks))

    def covers_name(self, host: str) -> bool:
        return host in self.names

    def covers_address(self, address: IPAddress) -> bool:
        return any(address.version == net.version and address in net for net in self.networks)


@dataclass(frozen=True)
class ResolvedHost:
    host: str  # normalised
    addresses: tuple[IPAddress, ...]  # every address it resolved to, all of them allowed
    allow_listed: bool  # reached through the allow-list rather than as a public address

    @property
    def pinned(self) -> IPAddress:
        """The address a connection must use, so a second lookup cannot swap it (DNS rebinding)."""
        return self.addresses[0]


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def resolve_allowed(host: str, port: int, allow: AllowList, resolver: Resolver = system_resolver) -> ResolvedHost:
    """Resolve `host` and check every address it has; raise AddressRefused if any is out of bounds.

    All addresses must pass, not one: a name that resolves to a public and a private address would
    otherwise reach the private one whenever the client happens to pick it."""
    name = normalise_host(host)
    try:
        literal: IPAddress | None = ipaddress.ip_address(name)
    except ValueError:
        literal = None
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    else:
        try:
            async with asyncio.timeout(RESOLVE_TIMEOUT_S):
                found = await resolver(name, port)
        except (OSError, TimeoutError, UnicodeError):
            found = []
        # Scope ids ("fe80::1%eth0") are dropped by ip_address; such addresses are link-local anyway.
        addresses = list(dict.fromkeys(ipaddress.ip_address(a.split("%")[0]) for a in found))
        if not addresses:
            raise AddressRefused("the host does not resolve")
    if literal is None and allow.covers_name(name):
        return ResolvedHost(name, tuple(addresses), allow_listed=True)
    if not all(allow.covers_address(a) or is_public(a) for a in addresses):
        raise AddressRefused("the host is not a public address")
    return ResolvedHost(name, tuple(addresses), allow_listed=all(allow.covers_address(a) for a in addresses))
