"""Fixtures of the configuration tests that run against a real OpenBao."""

from __future__ import annotations

import pytest

from tests.config.helpers import DIFF_MOUNT, DIFF_SECRET
from tests.testbed.openbao import OpenBaoServer


@pytest.fixture(scope="module")
def server(openbao: OpenBaoServer) -> OpenBaoServer:
    """The shared OpenBao with the KV v2 secret the differential config tests render."""
    client = openbao.client()
    if f"{DIFF_MOUNT}/" not in client.sys.list_mounted_secrets_engines()["data"]:
        client.sys.enable_secrets_engine("kv", path=DIFF_MOUNT, options={"version": "2"})
    client.secrets.kv.v2.create_or_update_secret(path="app", mount_point=DIFF_MOUNT,
                                                 secret=DIFF_SECRET)
    return openbao
