"""Where a webhook may be delivered: public addresses only, checked on the address connected to.

A bank chooses the URL, and the watch service POSTs to it from inside the platform's network:
pointed at 127.0.0.1, a private range or a link-local address (169.254.169.254 is the cloud
metadata service), a webhook would make the platform a proxy into its own network. The host is
resolved once, every address it resolves to must be public, and the request then goes to one of
those checked addresses with the original name in ``Host`` and in TLS SNI (and certificate
checking), so a DNS answer that changes between the check and the connection cannot redirect it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass

import httpx

RULE = (
    "a webhook must point to a public address, not a loopback, private, link-local, shared,"
    " unspecified or reserved one"
)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class RefusedDestinationError(Exception):
    """The URL's host is or resolves to a non-public address: no retry can change that."""


class UnresolvedDestinationError(Exception):
    """The URL's host does not resolve now (a DNS outage, a name not yet published): retry."""


@dataclass(frozen=True)
class Destination:
    """A checked webhook URL: the addresses to connect to and what the receiver must see."""

    url: httpx.URL
    addresses: tuple[IPAddress, ...]

    def request_url(self, address: IPAddress) -> httpx.URL:
        """The URL with ``address`` in place of the host name: httpx connects there, no lookup."""
        return self.url.copy_with(host=str(address))

    @property
    def headers(self) -> dict[str, str]:
        return {"Host": self.url.netloc.decode("ascii")}

    @property
    def extensions(self) -> dict[str, str]:
        """TLS SNI and certificate name: the original host, not the address connected to."""
        if self.url.scheme != "https":
            return {}
        return {"sni_hostname": self.url.raw_host.decode("ascii")}


def is_public(address: IPAddress) -> bool:
    """Globally routable; an IPv4-mapped IPv6 address (``::ffff:127.0.0.1``) is judged as IPv4."""
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return (mapped or address).is_global


async def resolve(url: str, *, allow_private: bool) -> Destination:
    """Resolve ``url``'s host once and check every address (unless ``allow_private``).

    Raises :class:`RefusedDestinationError` naming the address and :data:`RULE`, or
    :class:`UnresolvedDestinationError` when the name does not resolve.
    """
    parsed = httpx.URL(url)
    host = parsed.raw_host.decode("ascii")
    try:
        addresses: tuple[IPAddress, ...] = (ipaddress.ip_address(host),)
    except ValueError:
        addresses = await _lookup(host, parsed.port or (443 if parsed.scheme == "https" else 80))
    if not allow_private:
        for address in addresses:
            if not is_public(address):
                shown = host if str(address) == host else f"{host} resolves to {address}, which"
                raise RefusedDestinationError(f"{shown} is not public: {RULE}")
    return Destination(parsed, addresses)


async def _lookup(host: str, port: int) -> tuple[IPAddress, ...]:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise UnresolvedDestinationError(f"cannot resolve {host}: {exc}") from None
    addresses = (ipaddress.ip_address(str(info[4][0])) for info in infos)
    return tuple(dict.fromkeys(addresses))
