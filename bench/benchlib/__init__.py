"""bench/run's modules: core (pure: parsing, ratios, verdicts, tables), host (the
machine: test/lib.sh, the unprivileged user, the cluster, psql, pgbench,
PgBouncer), sections (the flash sale, the waitlist churn, the seat holds) and
suite (the W0-W4 workloads)."""
