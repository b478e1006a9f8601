"""The one error type analysis raises about a results folder.

Messages are one line, name the file or folder, say what is wrong and what to
do about it, so the CLI can print them as they are without a traceback.
"""

from __future__ import annotations


class RunDirError(ValueError):
    """A run folder that cannot be analysed (missing, foreign, too new, damaged or empty)."""
