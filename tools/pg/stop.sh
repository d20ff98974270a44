#!/usr/bin/env bash
# Stops a cluster started by tools/pg/start.sh and removes its folder.
# Usage: tools/pg/stop.sh FOLDER
set -euo pipefail
dir="${1:?usage: tools/pg/stop.sh FOLDER}"
if [ ! -f "$dir/info" ] || [ ! -d "$dir/data" ]; then
  echo "pg: $dir holds no cluster started by tools/pg/start.sh" >&2
  exit 1
fi
bin=$(sed -n 3p "$dir/info")
run_as=()
if [ "$(id -u)" -eq 0 ]; then run_as=(runuser -u banshi-pg --); fi
"${run_as[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null 2>&1 ||
  "${run_as[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
rm -rf "$dir"
echo "pg: stopped and removed $dir" >&2
