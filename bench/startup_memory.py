"""Start-up time to a healthy proxy, and idle memory: the tray app against the headless server.

Run by bench/startup_memory.sh (which provides a display and a D-Bus session). For each binary,
RUNS times: start it on a free port with a two-model settings file, time until GET /health
answers 200, let it sit idle (no window open) for IDLE seconds, read its resident memory (VmRSS,
with any child processes), stop it. Prints a table of medians and the tray/serve ratios.
"""
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

TRAY, SERVE = sys.argv[1], sys.argv[2]
RUNS, IDLE = int(os.environ.get("RUNS", "5")), float(os.environ.get("IDLE", "3"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=0.2) as r:
            return r.status == 200
    except Exception:
        return False


def rss_kib(pid):
    """Resident memory of pid and its descendants, in KiB."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                total += next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo += [int(c) for c in f.read().split()]
        except (FileNotFoundError, StopIteration, ProcessLookupError):
            pass
    return total


def measure(cmd, env):
    port = free_port()
    env = dict(env, CODEX_SHIM_PORT=str(port))
    args = cmd + (["--port", str(port), "serve"] if cmd[0] == SERVE else [])
    start = time.perf_counter()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not healthy(port):
        if proc.poll() is not None:
            raise SystemExit(f"{cmd[0]} exited with {proc.returncode}")
        if time.perf_counter() - start > 30:
            raise SystemExit(f"{cmd[0]} was not healthy within 30 s")
        time.sleep(0.005)
    ready_ms = (time.perf_counter() - start) * 1000
    time.sleep(IDLE)  # the idle app is what is measured here, not a synchronisation
    mem = rss_kib(proc.pid)
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    return ready_ms, mem


def main():
    tmp = tempfile.mkdtemp()
    settings = os.path.join(tmp, "models.json")
    with open(settings, "w") as f:
        json.dump([{"model": "a", "provider": "ollama"}, {"model": "b", "provider": "ollama"}], f)
    env = dict(os.environ, CODEX_SHIM_SETTINGS=settings, CODEX_SHIM_HOME=os.path.join(tmp, "state"),
               CODEX_HOME=os.path.join(tmp, "codex"), CODEX_SHIM_DISABLE_CHATGPT="1", CODEX_SHIM_LOG="warn")
    results = {}
    for name, cmd in [("tray app", [TRAY]), ("codex-shim serve", [SERVE])]:
        runs = [measure(cmd, env) for _ in range(RUNS)]
        starts = [r[0] for r in runs]
        results[name] = (statistics.median(starts), statistics.median(r[1] for r in runs), min(starts), max(starts))
    tray, serve = results["tray app"], results["codex-shim serve"]
    print(f"{RUNS} runs each, idle {IDLE:g} s before reading memory; medians (min-max for start-up)\n")
    print(f"| {'':18} | {'start-up to healthy proxy':>27} | {'idle memory (RSS)':>18} |")
    print(f"|{'-' * 20}|{'-' * 29}|{'-' * 20}|")
    for name, (ms, kib, lo, hi) in results.items():
        print(f"| {name:18} | {f'{ms:.0f} ms ({lo:.0f}-{hi:.0f})':>27} | {f'{kib / 1024:.1f} MiB':>18} |")
    print(f"| {'tray / serve':18} | {f'{tray[0] / serve[0]:.1f}x':>27} | {f'{tray[1] / serve[1]:.1f}x':>18} |")


main()
