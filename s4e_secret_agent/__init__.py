"""s4e-secret-agent: delivers Vault secrets into Kubernetes pods (init container or sidecar)."""

__version__ = "0.1.0"
