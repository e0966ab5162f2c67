#!/usr/bin/env bash
# Benchmark: the tray app's start-up time to a healthy proxy and its idle memory, next to the
# headless server (`codex-shim serve`) in the same run. Release builds; prints a table.
#   bench/startup_memory.sh            (RUNS=5 IDLE=3 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p codex-shim -p codex-shim-tray
target="${CARGO_TARGET_DIR:-target}/release"
exec dbus-run-session -- xvfb-run -a python3 bench/startup_memory.py "$target/codex-shim-tray" "$target/codex-shim"
