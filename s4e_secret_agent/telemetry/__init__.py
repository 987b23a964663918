"""What the sidecar tells the outside world: Prometheus metrics, health state, and the small
HTTP server for ``/metrics``, ``/healthz``, ``/readyz`` and the agent API.

The runner reports through :class:`~s4e_secret_agent.runtime.events.Reporter`; the server only
reads. Init mode never imports this package.
"""
