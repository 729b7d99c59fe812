"""Ingest errors that name the file, line and column and say what is wrong."""

from __future__ import annotations


class IngestError(Exception):
    """Bad input. Nothing is loaded when one is raised (the load runs in one transaction)."""

    def __init__(
        self, path: str, message: str, *, line: int | None = None, column: str | None = None
    ) -> None:
        self.path, self.message, self.line, self.column = path, message, line, column
        super().__init__(str(self))

    def __reduce__(self) -> tuple:
        # Raised in the parser process (ingest/prefetch.py) and re-raised in the loader's.
        return (_rebuild, (self.path, self.message, self.line, self.column))

    def __str__(self) -> str:
        where = [self.path]
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        return f"{', '.join(where)}: {self.message}"


def _rebuild(path: str, message: str, line: int | None, column: str | None) -> IngestError:
    return IngestError(path, message, line=line, column=column)
