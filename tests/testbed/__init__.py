"""Test bed: real servers the agent is tested against (OpenBao, PostgreSQL, a TokenReview
stand-in for Kubernetes auth, a fault-injecting proxy). Reused by ``bench/`` and the soak tests."""
