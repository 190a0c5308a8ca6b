"""Starts and stops `hearth serve` for the SDK tests and the load run.

A server is started on port 0; its address is read from the "listening on" line it prints
on stderr. Stopping sends SIGTERM and expects a clean exit (graceful shutdown).
"""

import os
import re
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request

API_KEY = "sk-hearth-sdk-test"


class HearthServer:
    """`hearth serve --model MODEL ARGS...`, or with `config` (and `model` None)
    `hearth serve --config CONFIG ARGS...`."""

    def __init__(self, hearth, model, *args, api_key=API_KEY, config=None):
        self.api_key = api_key
        source = ["--config", config] if config is not None else ["--model", model]
        cmd = [hearth, "serve", *source, "--port", "0", *args]
        env = dict(os.environ, HEARTH_API_KEY=api_key, HEARTH_LOG="warn")
        env.pop("HEARTH_HOST", None)
        self.proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
        self.log = []
        self.addr = None
        listening = threading.Event()

        def pump():
            for line in self.proc.stderr:
                self.log.append(line.rstrip("\n"))
                m = re.search(r"listening on http://(\S+)", line)
                if m:
                    self.addr = m.group(1)
                    listening.set()
            listening.set()

        threading.Thread(target=pump, daemon=True).start()
        if not listening.wait(60) or self.addr is None:
            self.stop()
            raise RuntimeError("hearth serve did not start:\n" + "\n".join(self.log))
        self.url = f"http://{self.addr}"
        self.first_health = self.health()[0]
        deadline = time.time() + 120
        while self.health()[0] != 200:
            if self.proc.poll() is not None or time.time() > deadline:
                self.stop()
                raise RuntimeError("the model did not load:\n" + "\n".join(self.log))
            time.sleep(0.05)

    def get(self, path, key=None):
        """(status, headers, body text) of GET path."""
        req = urllib.request.Request(self.url + path)
        if key:
            req.add_header("Authorization", f"Bearer {key}")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, dict(r.headers), r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read().decode()

    def health(self):
        """(status, body) of /health, with the key: without it only the status is shown."""
        import json

        status, _, body = self.get("/health", key=self.api_key)
        try:
            return status, json.loads(body)
        except ValueError:
            return status, {}

    def stop(self):
        """SIGTERM; returns the exit code (0 after a graceful shutdown)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def run_tests(server, tests, arg):
    """Runs each test as `test(server, arg)` (the served model's id, or what the suite's tests
    take), printing ok/FAIL lines, then stops the server and checks it shut down gracefully.
    Returns the names that failed."""
    import traceback

    failed = []
    for t in tests:
        name = t.__name__
        t0 = time.time()
        try:
            t(server, arg)
            print(f"ok    {name} ({time.time() - t0:.1f}s)", flush=True)
        except Exception:
            failed.append(name)
            print(f"FAIL  {name}\n{traceback.format_exc()}", flush=True)
    code = server.stop()
    if code != 0:
        failed.append("graceful_shutdown")
        print(f"FAIL  graceful_shutdown: exit code {code}\n" + "\n".join(server.log[-20:]))
    return failed
