"""`manage.py serve` in a subprocess for tests, and a small scripted HTTP server (a real one, in a thread) that
answers as a misbehaving API would: 429s, 5xxs, echoes."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
KEY_VAR = "LIMA_TEST_ENDPOINT_KEY"
KEY = "sk-lima-distinctive-4f7e2a9c1b"  # searched for in every page, answer and log: it must never appear


@contextmanager
def served(checkpoint, *, name="tiny-chat", key_var: str | None = KEY_VAR, log_path=None, extra_env=None):
    """Start `manage.py serve CHECKPOINT --port 0`; yields (base URL, log path) once it answers."""
    log_path = Path(log_path or REPO / "var" / f"test-serve-{os.getpid()}-{name}.log")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "manage.py", "serve", str(checkpoint), "--port", "0", "--name", name]
    if key_var:
        command += ["--api-key-env", key_var]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1", **(extra_env or {})}
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=log, text=True,
                                   start_new_session=True)
    try:
        url = _wait_for_ready(process, log_path)
        yield url, log_path
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for_ready(process, log_path, timeout=180) -> str:
    found: dict = {}

    def read():
        for line in process.stdout:
            if line.startswith("{"):
                event = json.loads(line)
                if event.get("event") == "ready":
                    found["url"] = event["url"]
                    return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    if "url" not in found:
        raise RuntimeError(f"manage.py serve did not start (exit {process.poll()}): {log_path.read_text()[-2000:]}")
    return found["url"]


class Scripted(ThreadingHTTPServer):
    """Answers POST /v1/chat/completions from `script(body, n)` -> (status, headers, payload); records bodies."""

    daemon_threads = True

    def __init__(self, script):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script = script
        self.bodies: list[dict] = []
        self.headers_seen: list[dict] = []
        self.lock = threading.Lock()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):
        self._send(200, {}, {"object": "list", "data": [{"id": "scripted", "object": "model"}]})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        with self.server.lock:
            self.server.bodies.append(body)
            self.server.headers_seen.append(dict(self.headers))
            n = len(self.server.bodies)
        status, headers, payload = self.server.script(body, n, dict(self.headers))
        self._send(status, headers, payload)

    def _send(self, status, headers, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        try:
            self.wfile.write(data)
        except BrokenPipeError:  # the client gave up waiting (the timeout test)
            pass


def completion(text, finish="stop", prompt_tokens=5, completion_tokens=7):
    return {"id": "x", "object": "chat.completion", "created": int(time.time()), "model": "scripted",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens}}


@contextmanager
def scripted(script):
    server = Scripted(script)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
