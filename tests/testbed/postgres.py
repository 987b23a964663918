"""A throwaway PostgreSQL cluster for the tests (the launcher lives in the package, where
``s4e-secret-agent dev`` uses it too)."""

from s4e_secret_agent.tools.devpostgres import (
    ADMIN_USER,
    DATABASE,
    PostgresCluster,
    postgres_available,
    postgres_bin_dir,
)

__all__ = ["ADMIN_USER", "DATABASE", "PostgresCluster", "postgres_available", "postgres_bin_dir"]
