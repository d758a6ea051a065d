"""The preStop hook: a leader hands leadership over before SIGTERM; a pod being scaled away
removes its node from the cluster; nothing else is asked."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from fakecluster import FakeCluster, Member
from scripttest import PRESTOP


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakeKube:
    """The Kubernetes API's Scale of one StatefulSet: GET
    /apis/apps/v1/namespaces/<ns>/statefulsets/<name>/scale. `replicas` None answers 403."""

    def __init__(self, replicas: int | None, namespace: str = "streams", name: str = "runnel") -> None:
        self.replicas = replicas
        self.paths: list[str] = []
        self.tokens: list[str] = []
        kube = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                kube.paths.append(self.path)
                kube.tokens.append(self.headers.get("Authorization", ""))
                if kube.replicas is None:
                    body, status = {"kind": "Status", "code": 403, "reason": "Forbidden"}, 403
                elif self.path != f"/apis/apps/v1/namespaces/{namespace}/statefulsets/{name}/scale":
                    body, status = {"kind": "Status", "code": 404, "reason": "NotFound"}, 404
                else:
                    # As the API server writes it: spec.replicas is omitted when 0.
                    spec = {"replicas": kube.replicas} if kube.replicas else {}
                    body, status = {"kind": "Scale", "apiVersion": "autoscaling/v1",
                                    "metadata": {"name": name, "namespace": namespace},
                                    "spec": spec, "status": {"replicas": 5, "selector": "app=runnel"}}, 200
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def run_prestop(port: int, timeout: int = 5, listen_host: str | None = None,
                extra: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess[str], float]:
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "CLIENT_PORT": str(port), "CLIENT_SCHEME": "http",
           "TRANSFER_TIMEOUT": str(timeout), "DRAIN_SECONDS": "0", **(extra or {})}
    if listen_host:
        env["LISTEN_HOST"] = listen_host
    start = time.monotonic()
    proc = subprocess.run(["sh", str(PRESTOP)], env=env, capture_output=True, text=True, timeout=60)
    return proc, time.monotonic() - start


@unittest.skipUnless(shutil.which("curl"), "the preStop hook needs curl (the image has it)")
class PreStop(unittest.TestCase):
    def cluster(self, **kwargs: object) -> FakeCluster:
        cluster = FakeCluster(**kwargs)  # type: ignore[arg-type]
        self.addCleanup(cluster.close)
        return cluster

    def test_leader_transfers_and_waits_until_it_is_a_follower(self) -> None:
        admin = self.cluster(node_id=1, leader_id=1)
        admin.steps_down_after = 1
        admin.indent = 2  # spaced JSON, as a pretty-printing server might send it
        proc, _ = run_prestop(admin.port)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(len(admin.calls("POST")), 1)
        self.assertNotEqual(admin.leader_id, 1)
        self.assertIn("handed over", proc.stderr)

    def test_node_bound_to_one_address_is_asked_there(self) -> None:
        admin = self.cluster(node_id=1, leader_id=1, host="127.0.0.2")
        proc, _ = run_prestop(admin.port, listen_host="127.0.0.2")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(len(admin.calls("POST")), 1)

    def test_follower_asks_for_nothing(self) -> None:
        # Its status lists the leader among the members with "role":"leader": that is
        # another node's role, not this one's.
        admin = self.cluster(node_id=2, leader_id=1)
        proc, _ = run_prestop(admin.port)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn('"role":"leader"', json.dumps(admin.status(), separators=(",", ":")))
        self.assertEqual(admin.calls("POST"), [])

    def test_leader_that_keeps_leading_gives_up_after_the_timeout(self) -> None:
        admin = self.cluster(node_id=1, leader_id=1)
        admin.steps_down_after = None
        proc, elapsed = run_prestop(admin.port, timeout=1)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(len(admin.calls("POST")), 1)
        self.assertIn("still leader", proc.stderr)
        self.assertLess(elapsed, 15)

    def test_node_not_answering_still_lets_the_pod_stop(self) -> None:
        proc, elapsed = run_prestop(free_port())
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertLess(elapsed, 15)


@unittest.skipUnless(shutil.which("curl"), "the preStop hook needs curl (the image has it)")
class ScaleDown(unittest.TestCase):
    """Pod runnel-2 (node 3) of a StatefulSet whose scale the fake API reports."""

    def setUp(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="runnel-prestop-"))
        self.addCleanup(shutil.rmtree, self.tmp)
        tokens = self.tmp / "kube"
        tokens.mkdir()
        (tokens / "token").write_text("secret-token")
        (tokens / "ca.crt").write_text("")
        self.data = self.tmp / "volume" / "data"
        self.data.mkdir(parents=True)
        # The node's own admin API is a follower's view; the cluster's (JOIN_URL) another member's.
        self.node = FakeCluster(node_id=3, leader_id=1)
        self.addCleanup(self.node.close)
        self.others = FakeCluster(node_id=1, leader_id=1)
        self.addCleanup(self.others.close)
        # A removal sent to this node is applied to the cluster the others see.
        self.node.remove = self.others.remove  # type: ignore[method-assign]

    def run_hook(self, replicas: int | None, pod: str = "runnel-2", enabled: bool = True,
                 remove_timeout: int = 5, admin_token: str | None = None) -> subprocess.CompletedProcess[str]:
        kube = FakeKube(replicas)
        self.addCleanup(kube.close)
        self.kube = kube
        extra = {
            "REMOVE_ON_SCALE_DOWN": "true" if enabled else "false", "REMOVE_TIMEOUT": str(remove_timeout),
            "POD_NAME": pod, "NAMESPACE": "streams", "JOIN_URL": self.others.url,
            "RUNNEL_DATA_DIR": str(self.data), "KUBE_TOKEN_DIR": str(self.tmp / "kube"), "KUBE_API_URL": kube.url,
        }
        if admin_token is not None:
            extra["RUNNEL_ADMIN_TOKEN"] = admin_token
        proc, _ = run_prestop(self.node.port, extra=extra)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return proc

    def marked(self) -> bool:
        return Path(f"{self.data}.removed").exists()

    def test_pod_scaled_away_removes_its_node_and_marks_its_volume(self) -> None:
        proc = self.run_hook(replicas=2)
        self.assertEqual([r.path for r in self.node.calls("DELETE")], ["/admin/v1/cluster/members/3"])
        self.assertIsNone(self.others.member(3))
        self.assertTrue(self.marked(), proc.stderr)
        self.assertEqual(self.kube.paths, ["/apis/apps/v1/namespaces/streams/statefulsets/runnel/scale"])
        self.assertEqual(self.kube.tokens, ["Bearer secret-token"])
        # Its own removal hands leadership over; no separate transfer.
        self.assertEqual(self.node.calls("POST"), [])

    def test_with_authentication_on_the_hook_sends_the_admin_token(self) -> None:
        token = 'admin-"token"-0123456789abcdefghijklmnop'
        self.node.token = token
        self.others.token = token
        proc = self.run_hook(replicas=2, admin_token=token)
        self.assertEqual([r.path for r in self.node.calls("DELETE")], ["/admin/v1/cluster/members/3"])
        self.assertTrue(self.marked(), proc.stderr)
        self.assertTrue(all(r.authorization == f"Bearer {token}" for r in self.node.requests + self.others.requests))
        # The Kubernetes API gets its own service-account token, never runnel's.
        self.assertEqual(self.kube.tokens, ["Bearer secret-token"])

    def test_a_change_in_progress_is_retried(self) -> None:
        self.node.scripted = [(409, {"error": {"code": "membership_change_in_progress", "message": "busy"}})]
        self.run_hook(replicas=2)
        self.assertEqual(len(self.node.calls("DELETE")), 2)
        self.assertIsNone(self.others.member(3))
        self.assertTrue(self.marked())

    def test_pods_that_stay_remove_nothing(self) -> None:
        for replicas, pod in ((3, "runnel-2"), (2, "runnel-1"), (5, "runnel-2")):
            with self.subTest(replicas=replicas, pod=pod):
                self.run_hook(replicas=replicas, pod=pod)
                self.assertEqual(self.node.calls("DELETE"), [])
                self.assertFalse(self.marked())

    def test_scaled_to_zero_removes_nothing(self) -> None:
        # The whole cluster stopped (a backup): every member must come back.
        self.run_hook(replicas=0)
        self.assertEqual(self.node.calls("DELETE"), [])
        self.assertFalse(self.marked())

    def test_no_permission_removes_nothing(self) -> None:
        proc = self.run_hook(replicas=None)
        self.assertEqual(self.node.calls("DELETE"), [])
        self.assertIn("not removing", proc.stderr)

    def test_disabled_never_asks_the_api(self) -> None:
        self.run_hook(replicas=2, enabled=False)
        self.assertEqual(self.kube.paths, [])
        self.assertEqual(self.node.calls("DELETE"), [])

    def test_removal_not_seen_committed_leaves_the_volume_alone(self) -> None:
        self.others.hold_commit = True
        start = time.monotonic()
        proc = self.run_hook(replicas=2, remove_timeout=2)
        self.assertLess(time.monotonic() - start, 15)
        self.assertFalse(self.marked())
        self.assertIn("runnel cluster remove 3", proc.stderr)

    def test_a_refused_removal_leaves_the_volume_alone(self) -> None:
        self.node.scripted = [(409, {"error": {"code": "member_conflict", "message": "node 3 is the last voter"}})]
        proc = self.run_hook(replicas=2)
        self.assertFalse(self.marked())
        self.assertIn("refused", proc.stderr)


if __name__ == "__main__":
    unittest.main()
