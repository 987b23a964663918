"""Chaos soak of the sidecar (``python -m tests.soak --seconds 600``); see docs/reliability.md."""
