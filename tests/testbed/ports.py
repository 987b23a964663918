"""Free loopback ports and readiness waits shared by the test-bed servers."""

from s4e_secret_agent.tools.devserver import free_port, wait_for_port

__all__ = ["free_port", "wait_for_port"]
