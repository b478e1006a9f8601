"""The run folder's format, in one place: paths and ids, the schema version and its migrations,
the one atomic write, the typed records every writer and reader uses, and latency merging.

Stdlib only, so the Locust plugin, the harness, analysis and the golden-data
generator can all import it; results/README.md describes the same format for
people. Data flows one way: the harness writes these files, analysis reads them.
"""
from __future__ import annotations

from runformat.errors import RunDirError
from runformat.schema import SCHEMA_VERSION, SQLITE_PER_RUN

__all__ = ["SCHEMA_VERSION", "SQLITE_PER_RUN", "RunDirError"]
