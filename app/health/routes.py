"""Liveness and readiness probes for load balancers and orchestrators (JSON, no personal data)."""

from __future__ import annotations

from litestar import Response, get
from litestar.datastructures import State
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE

from app.database import DatabaseError, migration_state, ping


@get("/healthz", sync_to_thread=False)
def healthz() -> dict[str, str]:
    """The process is alive and answering."""
    return {"status": "ok"}


@get("/readyz")
async def readyz(state: State) -> Response[dict[str, str]]:
    """Ready for traffic: the database answers and every migration is applied."""
    if not await ping(state.engine):
        body = {"status": "unavailable", "database": "unreachable"}
        return Response(body, status_code=HTTP_503_SERVICE_UNAVAILABLE)
    try:
        migrations = await migration_state()
    except DatabaseError:
        body = {"status": "unavailable", "database": "unreadable"}
        return Response(body, status_code=HTTP_503_SERVICE_UNAVAILABLE)
    if not migrations.current:
        body = {"status": "unavailable", "database": "ok", "migrations": "not current"}
        return Response(body, status_code=HTTP_503_SERVICE_UNAVAILABLE)
    return Response({"status": "ready", "database": "ok", "migrations": "current"}, status_code=HTTP_200_OK)
