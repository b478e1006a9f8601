"""uWSGI: C pre-fork WSGI server in its own HTTP mode."""
from __future__ import annotations

from servers.base import LaunchSpec, Server


class UWSGI(Server):
    name = "uwsgi"
    interfaces = ("wsgi",)
    package = "uwsgi"
    module = "uwsgidecorators"

    def command(self, spec: LaunchSpec) -> list[str]:
        protocol = str(spec.options.get("protocol", "http-socket"))
        # threads per process (the tuned configuration); uWSGI turns Python thread support on with them
        threads = ["--threads", str(spec.options["threads"])] if "threads" in spec.options else []
        return [
            spec.runtime.bin("uwsgi"),
            f"--{protocol}", spec.bind,
            "--module", spec.target,
            "--master", "--processes", str(spec.workers), *threads,
            "--listen", str(spec.backlog),
            "--need-app", "--die-on-term", "--disable-logging",
            # uWSGI's HTTP mode sends neither Server nor Date; every other server
            # does, and RFC 9110 asks for Date. Its own routing adds both
            # (needs uWSGI built with PCRE: `make` installs libpcre2-dev first).
            "--add-header", "Server: uWSGI",
            "--route-run", "addheader:Date: ${httptime[]}",
        ]
