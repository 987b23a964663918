"""Vault Agent's API proxy: listeners on which apps call Vault through the agent.

Apps in a pod often point ``VAULT_ADDR`` at the agent (``http://127.0.0.1:8200``) and call
Vault through it without holding a token: the agent adds its own. This package serves those
listeners (:mod:`.server`); the requests go to Vault through :mod:`s4e_secret_agent.vault.forward`,
the same TLS settings the agent's own client uses. It knows the runtime only by its events
(a quit request posts one) and reports each proxied request through a callback.
"""
