from tests.testbed.openbao import OpenBaoServer


def test_hvac_reads_back_kv_written_to_real_server(openbao: OpenBaoServer) -> None:
    client = openbao.client()
    client.secrets.kv.v2.create_or_update_secret(path="fixture-check", secret={"k": "v"})
    read = client.secrets.kv.v2.read_secret_version(
        path="fixture-check", raise_on_deleted_version=True
    )
    assert read["data"]["data"] == {"k": "v"}


def test_tls_server_verifies_with_its_ca(openbao_tls: OpenBaoServer) -> None:
    assert openbao_tls.address.startswith("https://")
    assert openbao_tls.client().sys.read_health_status(method="GET")["sealed"] is False
