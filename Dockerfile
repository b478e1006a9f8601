# One image that serves every stack of the matrix, runs Locust (master or worker) and seeds the database:
# compose.yaml picks what each service runs. Built from the pinned requirements.lock, hashes checked.
# Docker: `docker compose build` (python:3.11-slim: the Python requirements.lock is resolved for; the lock's
# header names it). Machines with no registry (Podman here): build scripts/base-image.sh first (Debian
# bookworm's Python 3.11), then --build-arg BASE_IMAGE=localhost/debian-py:bookworm.
ARG BASE_IMAGE=python:3.11-slim

# --- build: a virtualenv with exactly the lock's versions; uWSGI compiled here (it has no wheels) -------
FROM ${BASE_IMAGE} AS build
ENV DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
# A compiler and PCRE for uWSGI (its routing adds the Date header); Python's headers where the base lacks them.
RUN pkgs="gcc libc6-dev libpcre2-dev"; \
    python3 -c 'import os, sysconfig, sys; sys.exit(not os.path.exists(sysconfig.get_paths()["include"] + "/Python.h"))' \
      || pkgs="$pkgs python3-dev"; \
    apt-get update -qq && apt-get install -y -qq --no-install-recommends $pkgs >/dev/null \
    && rm -rf /var/lib/apt/lists/*
COPY requirements.lock /src/requirements.lock
WORKDIR /src
# A TLS-inspecting proxy's CA, if the build was given one (--secret id=ca,src=...; nothing for Docker users).
RUN --mount=type=secret,id=ca \
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi; \
    python3 -m venv /opt/venv \
    && locked() { awk -v name="$1" 'index(tolower($0), name "==") == 1 {p = 1} p {print; if ($0 !~ /\\$/) p = 0}' \
                  requirements.lock > "/tmp/$1.txt"; } \
    && locked pip && locked setuptools && locked uwsgi \
    && /opt/venv/bin/pip install -q --require-hashes --no-deps -r /tmp/pip.txt -r /tmp/setuptools.txt \
    && /opt/venv/bin/pip install -q --require-hashes --no-deps --no-binary uwsgi --no-build-isolation \
         -r /tmp/uwsgi.txt \
    && /opt/venv/bin/pip install -q --require-hashes --only-binary :all: -r requirements.lock
COPY pyproject.toml README.md /src/
COPY apps /src/apps
COPY servers /src/servers
COPY scenarios /src/scenarios
COPY runformat /src/runformat
COPY stackmark /src/stackmark
COPY analysis /src/analysis
# The project itself, then everything only the test, check and lock extras brought (pytest, mypy, ruff,
# selenium, pip-tools and what they pull in): the image serves and loads, it does not develop.
RUN /opt/venv/bin/pip install -q --no-deps --no-build-isolation . \
    && /opt/venv/bin/python -c 'import importlib.metadata as m, re, subprocess, sys; \
from pip._vendor.packaging.requirements import Requirement; \
norm = lambda n: re.sub(r"[-_.]+", "-", n).lower(); \
need, todo = set(), [("stackmark", ())]; \
exec("while todo:\n name, extras = todo.pop()\n if (norm(name), extras) in need: continue\n" \
     " need.add((norm(name), extras))\n for q in map(Requirement, m.requires(name) or []):\n" \
     "  if q.marker is None or any(q.marker.evaluate({\"extra\": e}) for e in (\"\", *extras)):\n" \
     "   todo.append((q.name, tuple(sorted(q.extras))))"); \
keep = {n for n, _ in need} | {"pip", "setuptools", "wheel"}; \
drop = sorted({norm(d.metadata["Name"]) for d in m.distributions()} - keep); \
print("image: not needed at run time:", *drop); \
drop and subprocess.run([sys.executable, "-m", "pip", "uninstall", "-q", "-y", *drop], check=True)' \
    && /opt/venv/bin/uwsgi --route-run "addheader:X-Check: 1" --version >/dev/null

# --- postgres: compose.yaml's database (Debian's PostgreSQL; no registry needed) -----------------------
# A throwaway benchmark database: trust authentication inside the compose network, published on 127.0.0.1
# only. The `seed` service fills the contract's tables.
FROM ${BASE_IMAGE} AS postgres
ENV DEBIAN_FRONTEND=noninteractive PGDATA=/var/lib/postgresql/data
RUN mkdir -p /etc/postgresql-common/createcluster.d \
    && echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.d/stackmark.conf \
    && apt-get update -qq && apt-get install -y -qq --no-install-recommends postgresql >/dev/null \
    && rm -rf /var/lib/apt/lists/* \
    && ln -s /usr/lib/postgresql/*/bin /usr/local/pgbin \
    && mkdir -p "$PGDATA" /var/run/postgresql && chown -R postgres:postgres "$PGDATA" /var/run/postgresql
USER postgres
EXPOSE 5432
CMD ["sh", "-c", "[ -s \"$PGDATA/PG_VERSION\" ] || { /usr/local/pgbin/initdb -D \"$PGDATA\" -U stackmark --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null && echo 'host all all all trust' >> \"$PGDATA/pg_hba.conf\" && /usr/local/pgbin/pg_ctl -D \"$PGDATA\" -o '-c listen_addresses=' -w start >/dev/null && /usr/local/pgbin/createdb -U stackmark stackmark && /usr/local/pgbin/pg_ctl -D \"$PGDATA\" -w stop >/dev/null; }; exec /usr/local/pgbin/postgres -D \"$PGDATA\" -c listen_addresses='*'"]

# --- the image: the virtualenv and the checkout's code, no compiler ------------------------------------
FROM ${BASE_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive
# uWSGI's PCRE at run time (the library only)
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends libpcre2-8-0 >/dev/null \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /opt/venv /opt/venv
COPY --from=build /src /app
WORKDIR /app
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=/app
EXPOSE 8000
# compose.yaml's stack service: the stack's own server command (servers/container.py), on 0.0.0.0:8000
CMD ["python", "-m", "servers.container", "fastapi-uvicorn"]
