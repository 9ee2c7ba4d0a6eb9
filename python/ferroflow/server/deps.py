"""What routes are given: the database, an open connection, a run id from the path."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Request
from sqlalchemy import Connection, Engine

__all__ = ["DB", "Reading", "RunId", "engine", "reading"]

#: A run id in a path: its full id, 32 hex digits (either case).
RunId = Annotated[str, Path(pattern=r"^[0-9a-fA-F]{32}$", description="The run's full id: 32 hex digits")]


def engine(request: Request) -> Engine:
    """The server's database engine."""
    return request.app.state.engine


def reading(request: Request) -> Iterator[Connection]:
    """A connection to read with, closed after the response."""
    with engine(request).connect() as conn:
        yield conn


#: A route argument: the server's database engine.
DB = Annotated[Engine, Depends(engine)]
#: A route argument: a connection to read with.
Reading = Annotated[Connection, Depends(reading)]
