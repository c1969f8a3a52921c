"""How an endpoint is written, everywhere: ``10.0.0.1:40001``, ``[::1]:35047``.

IPv6 addresses go in brackets (RFC 3986's authority form), so that the port cannot be
read as the address's last group; a connection is ``CLIENT-SERVER``.
"""

from __future__ import annotations

import math


def _missing(value: object) -> bool:
    """None, pandas' NA (without importing pandas) or a float NaN."""
    if value is None or type(value).__name__ == "NAType":
        return True
    return isinstance(value, float) and math.isnan(value)


def host(ip: object) -> str:
    """An address as it goes before ``:PORT``: IPv6 in brackets; empty when missing."""
    if _missing(ip):
        return ""
    text = str(ip)
    return f"[{text}]" if ":" in text else text


def endpoint(ip: object, port: object) -> str:
    """``ip:port`` (``[ip]:port`` for IPv6); the address alone without a port, and empty
    without an address."""
    h = host(ip)
    if not h or _missing(port):
        return h
    return f"{h}:{int(port) if isinstance(port, float) else port}"


def connection(client_ip: object, client_port: object, server_ip: object,
               server_port: object) -> str:
    """``CLIENT:PORT-SERVER:PORT``, the form ``explain --conn`` accepts."""
    return f"{endpoint(client_ip, client_port)}-{endpoint(server_ip, server_port)}"
