"""Sprig's ``getHostByName``: one address of a host name, resolved when the template renders.

Like Go's ``net.LookupHost`` it goes through the system resolver (``/etc/hosts``, then DNS)
and, like Sprig, picks one of the addresses at random. A name that does not resolve is the
panic Sprig hits indexing an empty list ("invalid argument to Intn").
"""

from __future__ import annotations

from s4e_secret_agent.template.signature import STRING, FuncError, GoFunc


def lookup_host(name: str) -> list[str]:
    import socket

    try:
        infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return []
    addresses: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def _get_host_by_name(name: str) -> str:
    import secrets

    addresses = lookup_host(name)
    if not addresses:
        raise FuncError("invalid argument to Intn")
    return secrets.choice(addresses)


def functions() -> dict[str, GoFunc]:
    return {"sprig_getHostByName": GoFunc(_get_host_by_name, (STRING,))}
