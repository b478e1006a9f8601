"""User-facing errors: one line naming the problem and the fix; exit code 2."""
from __future__ import annotations

import difflib
from collections.abc import Iterable


class UserError(Exception):
    """Bad input from the user; the CLI prints it as one line and exits 2."""


def unknown(kind: str, name: str, valid: Iterable[str], flag: str = "") -> UserError:
    """'unknown stack 'x'; did you mean 'y'? valid: a, b, c'."""
    names = sorted(valid)
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    where = f" (see `{flag}`)" if flag else ""
    return UserError(f"unknown {kind} {name!r}{hint} valid {kind}s: {', '.join(names)}{where}")
