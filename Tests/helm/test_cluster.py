"""Three real runnel processes started the way the chart starts pods.

Each "pod" runs the chart's entrypoint.sh with the pod environment the StatefulSet gives
it, in a private mount namespace whose /etc/hosts maps the pods' headless-Service DNS
names to loopback addresses (127.0.0.11-13). Checks that the derived --node-id / --peers
form one cluster, that the preStop hook moves leadership off a leader, and that a pod
restarted over its data dir (a rolling update) rejoins with its data.

Needs the runnel binary that `make test` builds (or RUNNEL_BINARY), root for the mount
namespace (unshare -m), and curl; skipped otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable

from scripttest import ENTRYPOINT, PRESTOP, REPO

BINARY = Path(os.environ.get("RUNNEL_BINARY", REPO / ".build" / "debug" / "runnel"))
NAMESPACE, HEADLESS, STATEFULSET = "streams", "runnel-headless", "runnel"
ADDRESSES = ["127.0.0.11", "127.0.0.12", "127.0.0.13", "127.0.0.14"]


def can_run() -> str | None:
    """Why this test cannot run here, or None."""
    if not BINARY.exists():
        return f"no runnel binary at {BINARY} (make test builds it)"
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("curl"):
        return "needs root, unshare and curl"
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    if probe.returncode != 0:
        return "unshare -m is not permitted here"
    return None


def free_ports(host: str, count: int) -> list[int]:
    """Distinct ports free on `host` (all held open until every one is picked)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind((host, 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def dns(ordinal: int) -> str:
    return f"{STATEFULSET}-{ordinal}.{HEADLESS}.{NAMESPACE}.svc.cluster.local"


def http(method: str, url: str, body: bytes | None = None, content_type: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method)
    if content_type:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, b""


def eventually(condition: Callable[[], Any], seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds}s waiting for {what}")
        time.sleep(0.1)


@unittest.skipIf(can_run() is not None, can_run() or "")
class ChartStartedCluster(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="runnel-chart-cluster-"))
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.hosts = self.tmp / "hosts"
        self.hosts.write_text("127.0.0.1 localhost\n" + "".join(
            f"{address} {dns(i)}\n" for i, address in enumerate(ADDRESSES)))
        self.client_port, self.peer_port = free_ports(ADDRESSES[0], 2)
        self.pods: dict[int, subprocess.Popen[bytes]] = {}
        self.addCleanup(self.stop_all)

    def url(self, ordinal: int, path: str) -> str:
        return f"http://{ADDRESSES[ordinal]}:{self.client_port}{path}"

    def pod_env(self, ordinal: int) -> dict[str, str]:
        """What the StatefulSet's pod template sets (see templates/statefulset.yaml)."""
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "POD_NAME": f"{STATEFULSET}-{ordinal}", "NAMESPACE": NAMESPACE, "HEADLESS_SERVICE": HEADLESS,
            "REPLICAS": "3", "CLUSTER_DOMAIN": "cluster.local", "PEER_PORT": str(self.peer_port),
            "CLIENT_PORT": str(self.client_port), "LISTEN_HOST": ADDRESSES[ordinal], "CLIENT_SCHEME": "http",
            "RUNNEL_DATA_DIR": str(self.tmp / f"volume-{ordinal}" / "data"), "RUNNEL_LOG_LEVEL": "info",
            "RUNNEL_BIN": str(BINARY),
            # The client Service: ready members only. Pod 0 stands in for it here.
            "JOIN_URL": f"http://{ADDRESSES[0]}:{self.client_port}", "AUTO_REPLACE": "true", "POLL_SECONDS": "0.2",
        }

    def start(self, ordinal: int) -> None:
        log = open(self.tmp / f"pod-{ordinal}.log", "ab")
        self.addCleanup(log.close)
        self.pods[ordinal] = subprocess.Popen(
            ["unshare", "-m", "sh", "-c", 'mount --bind "$1" /etc/hosts && exec sh "$2"', "pod",
             str(self.hosts), str(ENTRYPOINT)],
            env=self.pod_env(ordinal), stdout=log, stderr=subprocess.STDOUT)

    def stop(self, ordinal: int) -> None:
        pod = self.pods.pop(ordinal)
        pod.send_signal(signal.SIGTERM)
        try:
            pod.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pod.kill()
            pod.wait()
            self.fail(f"pod {ordinal} did not stop within 20 s of SIGTERM")

    def stop_all(self) -> None:
        for ordinal, pod in list(self.pods.items()):
            pod.kill()
            pod.wait()
        self.pods.clear()

    def cluster(self, ordinal: int) -> dict[str, Any] | None:
        status, body = http("GET", self.url(ordinal, "/admin/v1/cluster"))
        return json.loads(body) if status == 200 else None

    def ready(self, ordinal: int) -> bool:
        """/readyz answers 200; fails at once if the pod's process has exited."""
        code = self.pods[ordinal].poll()
        if code is not None:
            raise AssertionError(f"pod {ordinal} exited with {code}")
        return http("GET", self.url(ordinal, "/readyz"))[0] == 200

    def logs(self) -> str:
        return "\n".join(f"--- pod {p.name}\n{p.read_text()[-3000:]}" for p in sorted(self.tmp.glob("pod-*.log")))

    def test_pods_form_one_cluster_hand_over_and_resume(self) -> None:
        for ordinal in range(3):
            self.start(ordinal)
        try:
            eventually(lambda: all([self.ready(i) for i in range(3)]), 60, "all three pods ready")
        except AssertionError:
            self.fail(self.logs())

        statuses = [self.cluster(i) for i in range(3)]
        self.assertEqual([s["node_id"] for s in statuses], [1, 2, 3])
        leader = statuses[0]["leader_id"]
        self.assertEqual({s["leader_id"] for s in statuses}, {leader})
        self.assertEqual({m["id"]: m["address"] for m in statuses[0]["members"]},
                         {i + 1: f"{dns(i)}:{self.peer_port}" for i in range(3)})

        # Written through one follower, read through the other.
        followers = [i for i in range(3) if i + 1 != leader]
        status, _ = http("PUT", self.url(followers[0], "/v1/stream/orders"), b"", "application/json")
        self.assertEqual(status, 201)
        status, _ = http("POST", self.url(followers[0], "/v1/stream/orders"), b'{"id":1}', "application/json")
        self.assertIn(status, (200, 204))
        status, body = http("GET", self.url(followers[1], "/v1/stream/orders?offset=-1"))
        self.assertEqual((status, json.loads(body)), (200, [{"id": 1}]))

        # The chart's preStop hook on the leader's pod hands leadership to another node.
        old = leader - 1
        env = {**self.pod_env(old), "TRANSFER_TIMEOUT": "10", "DRAIN_SECONDS": "0"}
        hook = subprocess.run(["sh", str(PRESTOP)], env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(hook.returncode, 0, hook.stderr)
        self.assertIn("handed over", hook.stderr)
        def new_leader() -> int | None:
            seen = (self.cluster(followers[0]) or {}).get("leader_id")
            return seen if seen not in (None, 0, leader) else None
        eventually(new_leader, 10, "another node to lead")

        # Rolling update of that pod: SIGTERM, start again over the same volume.
        self.stop(old)
        self.start(old)
        try:
            eventually(lambda: self.ready(old), 60, f"pod {old} ready again")
        except AssertionError:
            self.fail(self.logs())
        self.assertEqual(self.cluster(old)["node_id"], leader)
        status, body = http("GET", self.url(old, "/v1/stream/orders?offset=-1"))
        self.assertEqual((status, json.loads(body)), (200, [{"id": 1}]))


    def members(self, ordinal: int) -> dict[int, bool]:
        return {m["id"]: m["voter"] for m in (self.cluster(ordinal) or {}).get("members", [])}

    def wait_ready(self, ordinals: list[int], seconds: float = 60) -> None:
        try:
            eventually(lambda: all([self.ready(i) for i in ordinals]), seconds, f"pods {ordinals} ready")
        except AssertionError:
            self.fail(self.logs())

    def test_scale_up_lost_volume_and_scale_down(self) -> None:
        for ordinal in range(3):
            self.start(ordinal)
        self.wait_ready([0, 1, 2])
        http("PUT", self.url(0, "/v1/stream/log"), b"", "text/plain")
        for i in range(5):
            self.assertIn(http("POST", self.url(0, "/v1/stream/log"), f"m{i};".encode(), "text/plain")[0], (200, 204))

        # Scale up: pod 3 joins through the client URL and becomes a voter.
        self.start(3)
        self.wait_ready([3])
        eventually(lambda: self.members(0).get(4) is True, 30, "node 4 promoted to voter")
        self.assertEqual(http("GET", self.url(3, "/v1/stream/log?offset=-1"))[1], b"m0;m1;m2;m3;m4;")

        # Pod 1 loses its volume and restarts with its original environment: it has node 2
        # replaced and comes back as a voter with the data.
        self.pods.pop(1).kill()
        shutil.rmtree(self.tmp / "volume-1")
        self.start(1)
        self.wait_ready([1])
        eventually(lambda: self.members(0).get(2) is True, 30, "node 2 a voter again")
        self.assertIn("asking the cluster to replace it", (self.tmp / "pod-1.log").read_text())
        self.assertEqual(http("GET", self.url(1, "/v1/stream/log?offset=-1"))[1], b"m0;m1;m2;m3;m4;")

        # Scale down to 3: pod 3's preStop hook sees the scale and removes node 4.
        from test_prestop import FakeKube
        kube = FakeKube(3)
        self.addCleanup(kube.close)
        tokens = self.tmp / "kube"
        tokens.mkdir()
        (tokens / "token").write_text("t")
        (tokens / "ca.crt").write_text("")
        env = {**self.pod_env(3), "TRANSFER_TIMEOUT": "10", "DRAIN_SECONDS": "0", "REMOVE_ON_SCALE_DOWN": "true",
               "REMOVE_TIMEOUT": "20", "KUBE_TOKEN_DIR": str(tokens), "KUBE_API_URL": kube.url}
        hook = subprocess.run(["sh", str(PRESTOP)], env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(hook.returncode, 0, hook.stderr)
        self.assertNotIn(4, self.members(0), hook.stderr)
        self.assertTrue((self.tmp / "volume-3" / "data.removed").exists(), hook.stderr)
        self.stop(3)
        # Scaled up again over the same volume: the stale data is discarded and it joins anew.
        self.start(3)
        self.wait_ready([3])
        eventually(lambda: self.members(0).get(4) is True, 30, "node 4 a voter again")
        self.assertEqual(http("GET", self.url(3, "/v1/stream/log?offset=-1"))[1], b"m0;m1;m2;m3;m4;")


if __name__ == "__main__":
    unittest.main()
