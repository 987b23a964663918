"""``s4e-secret-agent template render``: render one template offline from JSON fixtures.

``--secrets`` maps each path exactly as the template writes it to the JSON body Vault would
return for it; ``--env-json`` replaces the process environment for ``env``. The output goes to
stdout byte for byte; errors go to stderr through the CLI's normal error handling.
"""

from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("template_file", metavar="TEMPLATE_FILE",
                        help="the template to render (Vault Agent / consul-template syntax)")
    parser.add_argument("--secrets", metavar="SECRETS.json", default=None,
                        help='JSON object: {"path as written in the template": <Vault response '
                             'body>, ...}; LIST responses for "secrets" use the same map')
    parser.add_argument("--env-json", metavar="ENV.json", default=None,
                        help="JSON object of environment variables; only these exist for env")
    parser.add_argument("--left-delimiter", default="{{", help="left action delimiter")
    parser.add_argument("--right-delimiter", default="}}", help="right action delimiter")
    parser.add_argument("--error-on-missing-key", action="store_true",
                        help='a missing map key is an error instead of "<no value>"')


def _load_json_object(path: str, what: str) -> dict[str, object]:
    import json

    from s4e_secret_agent.errors import ConfigError

    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise ConfigError(f"cannot read {what} file: {exc.strerror}", source=path) from None
    try:
        from s4e_secret_agent.template import decode_json

        data = decode_json(text)
    except ValueError as exc:
        raise ConfigError(f"{what} file is not valid JSON: {exc}", source=path) from None
    del json
    if not isinstance(data, dict):
        raise ConfigError(f"{what} file must hold a JSON object", source=path)
    return data


def run(args: argparse.Namespace) -> int:
    import os
    import sys

    from s4e_secret_agent.errors import ConfigError, SecretNotFoundError
    from s4e_secret_agent.template import NO_SECRET, RenderContext, Template
    from s4e_secret_agent.template.context import FileWrite
    from s4e_secret_agent.template.funcs.vault import normalize_secret_path
    from s4e_secret_agent.template.values import Number

    try:
        with open(args.template_file, encoding="utf-8", errors="surrogateescape") as fh:
            text = fh.read()
    except OSError as exc:
        raise ConfigError(f"cannot read template: {exc.strerror}",
                          source=args.template_file) from None

    fixtures: dict[str, object] = {}
    if args.secrets:
        raw = _load_json_object(args.secrets, "secrets")
        fixtures = {normalize_secret_path(k): v for k, v in raw.items()}

    env: dict[str, str] | None = None
    if args.env_json:
        raw_env = _load_json_object(args.env_json, "environment")
        env = {}
        for key, value in raw_env.items():
            if isinstance(value, Number):
                env[key] = value.text
            elif isinstance(value, str):
                env[key] = value
            else:
                raise ConfigError(f"environment variable {key} must be a string or number",
                                  source=args.env_json)

    # As the agent against a Vault that lacks the data: a read of an absent path is an error
    # (Vault answers 404), a LIST of it an empty list, a write without an answer nil.
    def lookup(path: str) -> object:
        if path not in fixtures:
            raise SecretNotFoundError(
                f"no fixture for Vault path {path!r}", path=path,
                hint=f"add {path!r} with the JSON body Vault returns to the --secrets file")
        return fixtures[path]

    def secret(path: str, write_args: tuple[str, ...]) -> object:
        if write_args and path not in fixtures:
            return NO_SECRET
        return lookup(path)

    def secrets(path: str) -> object:
        return fixtures.get(path)

    def pki_cert(path: str, pki_args: tuple[str, ...]) -> object:
        del pki_args
        from s4e_secret_agent.runtime.certificates import from_pem, issued_pem

        body = lookup(path)
        data = body.get("data") if isinstance(body, dict) else None
        issued = from_pem(issued_pem(data)) if isinstance(data, dict) else None
        if issued is None:
            raise ConfigError(f"the fixture for {path!r} holds no certificate",
                              source=args.secrets or "")
        return issued.template_data()

    def write_file(request: FileWrite) -> None:
        from s4e_secret_agent.runtime.writer import write_file as write

        data = request.content.encode("utf-8", "surrogateescape")
        if request.append and os.path.exists(request.path):
            with open(request.path, "rb") as handle:
                data = handle.read() + data
        write(request.path, data, mode=request.mode)

    def read_env(name: str) -> str | None:
        if env is not None:
            return env.get(name)
        return os.environ.get(name)

    def read_file(path: str) -> str:
        try:
            with open(path, encoding="utf-8", errors="surrogateescape") as fh:
                return fh.read()
        except OSError as exc:
            raise ConfigError(f"template file function cannot read {path}: {exc.strerror}"
                              ) from None

    template = Template.parse(text, name="", left_delim=args.left_delimiter,
                              right_delim=args.right_delimiter)
    output = template.render(RenderContext(
        secret=secret, secrets=secrets, env=read_env, file=read_file,
        error_on_missing_key=args.error_on_missing_key, pki_cert=pki_cert,
        write_file=write_file))
    sys.stdout.buffer.write(output.encode("utf-8", "surrogateescape"))
    sys.stdout.flush()
    return 0
