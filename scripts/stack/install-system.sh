#!/usr/bin/env bash
# Installs the system pieces the local stack needs, idempotently: Postgres 15 with pg_cron,
# plpgsql_check, pgTAP and pgbouncer (Debian bookworm packages) and pgvector (not packaged for bookworm, so built from Debian's trixie source
# package). Fast when everything is present: it only checks files.
set -euo pipefail

PG_BIN=/usr/lib/postgresql/15/bin
PG_LIB=/usr/lib/postgresql/15/lib
PG_EXT=/usr/share/postgresql/15/extension
PGVECTOR_VERSION=0.8.0

need_root() {
  if [ "$(id -u)" != 0 ]; then
    echo "install-system: installing $1 needs root (run as root or install it by hand)" >&2
    exit 1
  fi
}

apt_updated=0
apt_install() {
  need_root "$*"
  if [ "$apt_updated" = 0 ]; then apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if [ ! -x "$PG_BIN/postgres" ] || ! command -v psql >/dev/null; then
  echo "install-system: installing postgresql-15"
  apt_install postgresql-15 postgresql-client-15 postgresql-contrib
fi

if [ ! -f "$PG_LIB/pg_cron.so" ]; then
  echo "install-system: installing postgresql-15-cron"
  apt_install postgresql-15-cron
fi

# plpgsql_check, which `supabase db lint` needs (npm run db:lint).
if [ ! -f "$PG_LIB/plpgsql_check.so" ]; then
  echo "install-system: installing postgresql-15-plpgsql-check"
  apt_install postgresql-15-plpgsql-check
fi

# pgTAP and pg_prove for the SQL tests in supabase/tests (`supabase test db` would need Docker).
if [ ! -f "$PG_EXT/pgtap.control" ] || ! command -v pg_prove >/dev/null; then
  echo "install-system: installing pgTAP and pg_prove"
  apt_install postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl
fi

# pgbouncer, the transaction pooler standing in for Supavisor. The stack runs its own instance; the
# package's service is not wanted, so package scripts may not start it (policy-rc.d answers 101).
if [ ! -x /usr/sbin/pgbouncer ]; then
  echo "install-system: installing pgbouncer"
  need_root pgbouncer
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod 755 "$policy"
    trap 'rm -f "$policy"' EXIT
  fi
  apt_install pgbouncer
fi

# Headless Chromium for the gallery's screenshot test (Debian's package; no browser download).
if [ ! -x /usr/bin/chromium ]; then
  echo "install-system: installing chromium"
  apt_install chromium
fi

if [ ! -f "$PG_LIB/vector.so" ] || [ ! -f "$PG_EXT/vector.control" ]; then
  echo "install-system: building pgvector $PGVECTOR_VERSION from Debian's trixie source package"
  need_root pgvector
  if ! grep -rqs '^deb-src .* trixie ' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo 'deb-src http://deb.debian.org/debian trixie main' > /etc/apt/sources.list.d/trixie-src.list
    apt_updated=0
  fi
  apt_install postgresql-server-dev-15 dpkg-dev make gcc
  build=$(mktemp -d); chmod 755 "$build"
  (cd "$build" && apt-get source -qq --download-only "pgvector=$PGVECTOR_VERSION-*" >/dev/null 2>&1 \
     || apt-get source -qq --download-only pgvector >/dev/null)
  (cd "$build" && dpkg-source -x --no-check ./*.dsc src >/dev/null)
  make -s -C "$build/src" PG_CONFIG="$PG_BIN/pg_config" OPTFLAGS="" >/dev/null
  make -s -C "$build/src" PG_CONFIG="$PG_BIN/pg_config" install >/dev/null
  rm -rf "$build"
fi
