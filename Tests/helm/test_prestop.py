"""The preStop hook: a leader hands leadership over before SIGTERM; nothing else is asked."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from scripttest import PRESTOP


class FakeAdmin:
    """/admin/v1/cluster of one node on loopback. A transfer-leader request makes it a
    follower after `steps_down_after` more status reads (never, if None)."""

    def __init__(self, role: str, steps_down_after: int | None = 0, host: str = "127.0.0.1") -> None:
        self.role = role
        self.steps_down_after = steps_down_after
        self.transfers = 0
        self.countdown: int | None = None
        admin = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != "/admin/v1/cluster":
                    self.send_error(404)
                    return
                if admin.countdown is not None:
                    if admin.countdown <= 0:
                        admin.role = "follower"
                    admin.countdown -= 1
                # Spaced JSON, as a pretty-printing server might send it.
                body = json.dumps({"node_id": 1, "role": admin.role, "term": 7, "leader_id": 1}, indent=2).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                if self.path != "/admin/v1/cluster/transfer-leader":
                    self.send_error(404)
                    return
                admin.transfers += 1
                if admin.steps_down_after is not None:
                    admin.countdown = admin.steps_down_after
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_prestop(port: int, timeout: int = 5, listen_host: str | None = None) -> tuple[subprocess.CompletedProcess[str], float]:
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "CLIENT_PORT": str(port), "CLIENT_SCHEME": "http",
           "TRANSFER_TIMEOUT": str(timeout), "DRAIN_SECONDS": "0"}
    if listen_host:
        env["LISTEN_HOST"] = listen_host
    start = time.monotonic()
    proc = subprocess.run(["sh", str(PRESTOP)], env=env, capture_output=True, text=True, timeout=60)
    return proc, time.monotonic() - start


@unittest.skipUnless(shutil.which("curl"), "the preStop hook needs curl (the image has it)")
class PreStop(unittest.TestCase):
    def test_leader_transfers_and_waits_until_it_is_a_follower(self) -> None:
        admin = FakeAdmin("leader", steps_down_after=1)
        try:
            proc, _ = run_prestop(admin.port)
        finally:
            admin.close()
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(admin.transfers, 1)
        self.assertEqual(admin.role, "follower")
        self.assertIn("handed over", proc.stderr)

    def test_node_bound_to_one_address_is_asked_there(self) -> None:
        admin = FakeAdmin("leader", steps_down_after=0, host="127.0.0.2")
        try:
            proc, _ = run_prestop(admin.port, listen_host="127.0.0.2")
        finally:
            admin.close()
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(admin.transfers, 1)

    def test_follower_asks_for_nothing(self) -> None:
        admin = FakeAdmin("follower")
        try:
            proc, _ = run_prestop(admin.port)
        finally:
            admin.close()
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(admin.transfers, 0)

    def test_leader_that_keeps_leading_gives_up_after_the_timeout(self) -> None:
        admin = FakeAdmin("leader", steps_down_after=None)
        try:
            proc, elapsed = run_prestop(admin.port, timeout=1)
        finally:
            admin.close()
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(admin.transfers, 1)
        self.assertIn("still leader", proc.stderr)
        self.assertLess(elapsed, 15)

    def test_node_not_answering_still_lets_the_pod_stop(self) -> None:
        proc, elapsed = run_prestop(free_port())
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertLess(elapsed, 15)


if __name__ == "__main__":
    unittest.main()
