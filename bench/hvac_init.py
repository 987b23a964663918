"""The floor for any hvac-based init container: the requests and writes of S4E's init job and
nothing else (no configuration parsing, no template engine, no retries, no logging).

Usage: python hvac_init.py ADDRESS ROLE_ID_FILE SECRET_ID_FILE OUTPUT_DIR WITH_DB(0|1)

Self-contained on purpose (imports only hvac and the standard library), so that its start-up
is what hvac itself costs. Writes the same bytes as the benchmark's templates.
"""

from __future__ import annotations

import os
import sys
import tempfile

import hvac

KV = {
    "db": ("database", ("host", "port", "name", "username", "password")),
    "redis": ("redis", ("connection_string", "password")),
    "rabbitmq": ("rabbitmq", ("host", "port", "username", "password")),
    "app": ("app", ("secret_key", "smtp_password")),
}


def write_atomically(path: str, text: str) -> None:
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    with os.fdopen(fd, "w") as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())
    os.chmod(tmp, 0o640)
    os.replace(tmp, path)


def main(address: str, role_id_file: str, secret_id_file: str, output: str,
         with_db: bool) -> None:
    client = hvac.Client(url=address)
    with open(role_id_file) as role_id, open(secret_id_file) as secret_id:
        client.auth.approle.login(role_id=role_id.read().strip(),
                                  secret_id=secret_id.read().strip())
    os.makedirs(output, exist_ok=True)
    for name, (path, keys) in KV.items():
        data = client.secrets.kv.v2.read_secret_version(
            path=path, mount_point="s4e", raise_on_deleted_version=True)["data"]["data"]
        body = "".join(f"export {key.upper()}={data[key]}\n" for key in keys)
        write_atomically(os.path.join(output, name), f"\n{body}\n")
    if with_db:
        creds = client.read("database/creds/s4e-app")["data"]
        write_atomically(os.path.join(output, "db-dynamic"),
                         f"\nexport DB_USER={creds['username']}\n"
                         f"export DB_PASS={creds['password']}\n\n")


if __name__ == "__main__":
    address, role_id_file, secret_id_file, output, with_db = sys.argv[1:6]
    main(address, role_id_file, secret_id_file, output, with_db == "1")
