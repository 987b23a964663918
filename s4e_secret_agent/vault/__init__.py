"""Everything that talks to Vault: the only package that imports hvac and requests.

- :mod:`.client`: :class:`~.client.VaultClient`, the agent's one connection (requests, decoding,
  the audit trail)
- :mod:`.transport`: the HTTP session (TLS, no automatic retries)
- :mod:`.errors`: Vault's answers mapped to the agent's errors, each with the fix
- :mod:`.kv`: KV v1/v2 detection and path rules, as consul-template applies them
- :mod:`.auth`: auth methods, which only build login requests
- :mod:`.types`: the values the client returns (tokens, secrets, lease renewals)

Kept empty on purpose: importing :mod:`.types` for a type must not load hvac.
"""
