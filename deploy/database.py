"""The cluster's database on this machine's PostgreSQL: its roles (an owner that migrates, the
hosts' role that reads and writes rows, postgres_exporter's with pg_monitor) and the database, made
and dropped."""

from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING

from deploy.common import BIN, ROOT, sh

if TYPE_CHECKING:
    from deploy.cluster import Cluster

PG_SOCKET = "/var/run/postgresql"


def create_database(cluster: Cluster, env: dict[str, str]) -> None:
    """The database, owned by a role of its own that runs the migrations, and the app's role,
    which may read and write rows and nothing else, with a connection limit and a statement
    timeout on it (docs/deploying.md, "Production, step by step", step 1). Neither is a superuser.
    ``env``: the hosts' environment, in which the owner migrates and seeds."""
    psql = ["psql", "-h", PG_SOCKET, "-U", "postgres", "-d", "postgres", "-q", "-v", "ON_ERROR_STOP=1", "-c"]
    owner, app = f'"{cluster.owner}"', f'"{cluster.app_role}"'
    sh(*psql, f'DROP DATABASE IF EXISTS "{cluster.database}" WITH (FORCE)')
    monitor = f'"{cluster.monitor_role}"'
    for role in (app, owner, monitor):
        sh(*psql, f"DROP ROLE IF EXISTS {role}")
    cluster.made.append("roles")
    sh(*psql, f"CREATE ROLE {owner} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE CONNECTION LIMIT 10")
    sh(*psql, f"CREATE ROLE {monitor} LOGIN NOSUPERUSER CONNECTION LIMIT 3 IN ROLE pg_monitor")
    sh(*psql, f"CREATE ROLE {app} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE "
              f"CONNECTION LIMIT {cluster.connection_limit}")
    sh(*psql, f"ALTER ROLE {app} SET statement_timeout = '5s'")
    sh(*psql, f'CREATE DATABASE "{cluster.database}" OWNER {owner}')
    cluster.made.append("database")
    cluster.save()
    in_database = ["psql", "-h", PG_SOCKET, "-U", cluster.owner, "-d", cluster.database, "-q",
                   "-v", "ON_ERROR_STOP=1", "-c"]
    sh(*in_database, f"REVOKE ALL ON DATABASE \"{cluster.database}\" FROM PUBLIC; "
                     f"GRANT CONNECT, TEMPORARY ON DATABASE \"{cluster.database}\" TO {app}; "
                     f"GRANT CONNECT ON DATABASE \"{cluster.database}\" TO {monitor}; "
                     f"GRANT USAGE ON SCHEMA public TO {app}; "
                     f"ALTER DEFAULT PRIVILEGES IN SCHEMA public "
                     f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {app}; "
                     f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {app}")
    # As make run, as the owner: migrate, then the demo data (password conduit-demo).
    env = {**env, "CONDUIT_DATABASE_URL": cluster.role_url(cluster.owner)}
    migrate = subprocess.run([str(BIN / "quart"), "--app", "app", "demo"], cwd=ROOT, env=env,
                             capture_output=True, text=True)
    if migrate.returncode != 0:
        raise SystemExit(f"cluster: migrating {cluster.database} failed:\n{migrate.stderr}")


# Up and down ------------------------------------------------------------------------------------


def drop(cluster: Cluster, kind: str) -> None:
    """``database`` or ``roles``, as ``down`` undoes them (nothing there is not an error)."""
    if kind == "database":
        sh("psql", "-h", PG_SOCKET, "-U", "postgres", "-d", "postgres", "-q", "-c",
           f'DROP DATABASE IF EXISTS "{cluster.database}" WITH (FORCE)', check=False)
    else:
        for role in (cluster.app_role, cluster.owner, cluster.monitor_role):
            sh("psql", "-h", PG_SOCKET, "-U", "postgres", "-d", "postgres", "-q", "-c",
               f'DROP ROLE IF EXISTS "{role}"', check=False)
