"""The only module that talks to Vault (the only importer of hvac)."""

from __future__ import annotations

from typing import Any


def new_client(
    address: str,
    token: str | None = None,
    *,
    ca_cert: str | None = None,
    namespace: str | None = None,
    timeout: float = 30.0,
) -> Any:
    """A plain ``hvac.Client`` (used by admin-side code such as ``bootstrap``)."""
    import hvac

    verify: bool | str = ca_cert if ca_cert else True
    return hvac.Client(url=address, token=token, verify=verify, namespace=namespace, timeout=timeout)
