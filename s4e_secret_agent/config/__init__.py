"""Configuration: one frozen, validated model fed by three front ends (native YAML, Vault Agent
HCL/JSON, Vault Agent Injector pod annotations) plus Vault's environment variables and flags."""
