"""A PostgreSQL database of a test's own, made on the server the tests use and dropped after,
whatever happens in between (for tests that run the real server or commands against it)."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import AsyncIterator

import asyncpg
import pytest


@contextlib.asynccontextmanager
async def own_database(admin_dsn: str, prefix: str) -> AsyncIterator[str]:
    """Create a database named ``prefix`` and a random suffix; yield its DSN; drop it."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield f"{admin_dsn.rsplit('/', 1)[0]}/{name}"
    finally:
        admin = await asyncpg.connect(admin_dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


def require_postgres(postgres_dsn: str | None) -> None:
    """Skip without PostgreSQL, except in CI, which must have it."""
    if postgres_dsn is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL not reachable -- CI requires it")
        pytest.skip("PostgreSQL not reachable")
