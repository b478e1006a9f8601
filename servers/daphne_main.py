"""Daphne's own command line, plus the one header Daphne leaves out: Date.

Run by servers/daphne.py as ``python -m servers.daphne_main ARGS``: the
arguments are Daphne's, unchanged. Every other server in the matrix sends a
Date header (RFC 9110 asks for one), and the contract requires it, so a
server that skips it would be measured doing less work. Daphne's request
class (``daphne.http_protocol.WebRequest``) sets Server but not Date, and
has no option for it. Here it gets Date the way Twisted's own web server
sets it (``twisted.web.server.Request.process``: ``datetimeToString()``,
once per response), through a subclass that Daphne's HTTP factory builds
instead of its own. Everything else is Daphne as installed.
"""
from __future__ import annotations

from typing import Any

from daphne import http_protocol
from daphne.cli import CommandLineInterface
from twisted.web.http import datetimeToString


class DatedWebRequest(http_protocol.WebRequest):  # type: ignore[misc]  # daphne ships no types
    def handle_reply(self, message: dict[str, Any]) -> None:
        super().handle_reply(message)
        if message.get("type") == "http.response.start" and not self.responseHeaders.hasHeader(b"date"):
            self.setHeader(b"date", datetimeToString())  # type: ignore[no-untyped-call]


def main() -> None:
    http_protocol.WebRequest = DatedWebRequest  # HTTPFactory.buildProtocol looks the class up here per connection
    CommandLineInterface.entrypoint()


if __name__ == "__main__":
    main()
