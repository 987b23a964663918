"""Operator and developer tooling: ``doctor``, ``bootstrap``, the ``dev`` servers.

None of it is on a pod's start path: ``init`` and ``sidecar`` never import this package (a test
enforces it), so its size and imports cost the agent nothing.
"""
