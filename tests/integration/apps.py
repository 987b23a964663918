"""Small stand-in applications the sidecar tests signal (run as real child processes)."""

from __future__ import annotations

SIGNAL_RECORDER = r"""
import os, signal, sys, time
out = sys.argv[1]
def on_hup(signum, frame):
    with open(out, "a") as fh:
        fh.write(f"{time.time()}\n")
signal.signal(signal.SIGHUP, on_hup)
with open(out + ".ready", "w") as fh:
    fh.write(str(os.getpid()))
while True:
    time.sleep(0.05)
"""

# Holds a PostgreSQL connection made with the credentials in an env file; reconnects with the
# file's (new) credentials on SIGHUP; runs a query every 100 ms. One JSON line per login
# attempt and per failed query.
DB_APP = r"""
import json, os, signal, sys, time
import psycopg
env_file, host, port, log_path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
reconnect = True
def on_hup(signum, frame):
    global reconnect
    reconnect = True
signal.signal(signal.SIGHUP, on_hup)
def creds():
    values = {}
    with open(env_file) as fh:
        for line in fh:
            line = line.strip()
            if line.startswith("export ") and "=" in line:
                k, v = line[len("export "):].split("=", 1)
                values[k] = v
    return values["DB_USER"], values["DB_PASS"]
def log(**entry):
    entry["t"] = time.time()
    with open(log_path, "a") as fh:
        fh.write(json.dumps(entry) + "\n")
conn = None
with open(log_path + ".ready", "w") as fh:
    fh.write(str(os.getpid()))
while True:
    if reconnect:
        reconnect = False
        user, password = creds()
        try:
            new = psycopg.connect(host=host, port=port, user=user, password=password,
                                  dbname="s4e_production", connect_timeout=3)
            log(kind="login", ok=True, user=user)
            if conn is not None:
                conn.close()
            conn = new
        except Exception as exc:
            log(kind="login", ok=False, user=user, error=type(exc).__name__)
    if conn is not None:
        try:
            conn.execute("SELECT 1")
        except Exception as exc:
            log(kind="query", ok=False, error=type(exc).__name__)
            conn = None
            reconnect = True
    time.sleep(0.1)
"""
