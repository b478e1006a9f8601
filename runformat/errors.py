"""The one error about a results folder that cannot be read.

Messages are one line, name the file or folder, say what is wrong and what to
do about it, so a command can print them as they are, without a traceback.
"""
from __future__ import annotations


class RunDirError(ValueError):
    """A run folder or results file that cannot be read (missing, foreign, too new, damaged or empty)."""
