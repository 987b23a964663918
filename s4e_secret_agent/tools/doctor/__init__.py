"""``s4e-secret-agent doctor``: diagnose the configuration, the way to Vault, the login and every
secret the templates read, and say for each problem what to fix.

The checks run in order and each one reports OK, WARN, FAIL or SKIP (a prerequisite failed):

1. ``config``: the configuration loads (errors name the file, line and config path);
2. ``templates``: every template parses (name, line:column) and which paths it reads;
3. ``destination:<dir>``: the agent can create files there;
4. ``dns``, ``tcp``, ``tls``: Vault's address resolves, accepts a connection, and its
   certificate verifies against the configured CA (done with :mod:`socket`/:mod:`ssl` directly
   so that a failure names its exact cause: the server's issuer and names are shown next to the
   CA and server name the agent uses);
5. ``health``: ``sys/health`` (initialized, sealed, standby, version);
6. ``service-account-token``/``jwt`` and ``login``: the JWT's claims (decoded, not verified)
   and a real login with the configured method and role;
7. ``token``: policies, TTL, renewable;
8. ``secret:<path>``: per literal template path, the token's capabilities and a real read,
   the KV version, a missing path, the KV v2 ``data/`` prefix mistake, a denied path;
9. ``lease:<path>``: dynamic secrets whose lease is short for the rotation overlap; then
   ``cleanup``: the leases the doctor created and its own token are revoked.

Vault is reached through the agent's own client (:mod:`s4e_secret_agent.vault.client`), error
mapping and auth methods, so the doctor sees what the agent would see. Nothing here is on the
agent's runtime path. Secret values are never kept or shown: only key names, paths, policies
and claims.
"""

from __future__ import annotations

from s4e_secret_agent.tools.doctor.certificates import (
    CertificateInfo,
    parse_certificate,
    pem_certificates,
)
from s4e_secret_agent.tools.doctor.checks import Diagnosis, diagnose
from s4e_secret_agent.tools.doctor.jwt import JwtClaims, decode_jwt
from s4e_secret_agent.tools.doctor.report import FAIL, OK, SKIP, WARN, Check, DoctorReport

__all__ = ["FAIL", "OK", "SKIP", "WARN", "CertificateInfo", "Check", "Diagnosis",
           "DoctorReport", "JwtClaims", "decode_jwt", "diagnose", "parse_certificate",
           "pem_certificates"]
