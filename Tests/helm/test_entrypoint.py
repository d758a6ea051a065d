"""The StatefulSet entrypoint: node id and --peers from the pod name and replica count; on a
new volume, what the running cluster says about the node id (join, replace, or wait)."""

from __future__ import annotations

import shutil
import socket
import tempfile
import threading
import time
import unittest
from pathlib import Path

from fakecluster import FakeCluster, Member
from scripttest import run_entrypoint, shells

BASE = {
    "POD_NAME": "runnel-0",
    "NAMESPACE": "streams",
    "HEADLESS_SERVICE": "runnel-headless",
    "REPLICAS": "3",
}


def dns(pod: str, headless: str = "runnel-headless", namespace: str = "streams",
        domain: str = "cluster.local", port: int = 4438) -> str:
    return f"{pod}.{headless}.{namespace}.svc.{domain}:{port}"


class NodeIdentity(unittest.TestCase):
    def test_three_pods_of_three(self) -> None:
        expected_peers = {1: dns("runnel-0"), 2: dns("runnel-1"), 3: dns("runnel-2")}
        for shell in shells():
            for ordinal in range(3):
                with self.subTest(shell=shell, ordinal=ordinal):
                    run = run_entrypoint({**BASE, "POD_NAME": f"runnel-{ordinal}"}, shell=shell)
                    self.assertEqual(run.code, 0, run.stderr)
                    self.assertEqual(run.argv[0], "serve")
                    self.assertEqual(run.flag("--node-id"), str(ordinal + 1))
                    self.assertEqual(run.peers(), expected_peers)
                    self.assertEqual(run.env["RUNNEL_ADVERTISE"], dns(f"runnel-{ordinal}"))
                    self.assertIsNone(run.flag("--join"))

    def test_the_exact_peers_string(self) -> None:
        run = run_entrypoint({**BASE, "POD_NAME": "runnel-2"})
        self.assertEqual(run.flag("--peers"),
                         "1=runnel-0.runnel-headless.streams.svc.cluster.local:4438,"
                         "2=runnel-1.runnel-headless.streams.svc.cluster.local:4438,"
                         "3=runnel-2.runnel-headless.streams.svc.cluster.local:4438")
        self.assertEqual(run.flag("--node-id"), "3")

    def test_every_size_and_ordinal(self) -> None:
        # Each pod's own id maps to its own advertised address, ids are 1..N with no gaps,
        # and every pod computes the same list.
        for replicas in range(1, 8):
            lists = set()
            for ordinal in range(replicas):
                with self.subTest(replicas=replicas, ordinal=ordinal):
                    run = run_entrypoint({**BASE, "POD_NAME": f"runnel-{ordinal}", "REPLICAS": str(replicas)})
                    self.assertEqual(run.code, 0, run.stderr)
                    peers = run.peers()
                    self.assertEqual(sorted(peers), list(range(1, replicas + 1)))
                    self.assertEqual(peers[ordinal + 1], run.env["RUNNEL_ADVERTISE"])
                    lists.add(run.flag("--peers"))
            self.assertEqual(len(lists), 1, f"pods disagree on the peers of a {replicas}-node cluster")

    def test_statefulset_name_with_dashes_and_two_digit_ordinal(self) -> None:
        run = run_entrypoint({**BASE, "POD_NAME": "my-runnel-eu-11", "REPLICAS": "12",
                              "HEADLESS_SERVICE": "my-runnel-eu-headless"})
        self.assertEqual(run.code, 0, run.stderr)
        self.assertEqual(run.flag("--node-id"), "12")
        peers = run.peers()
        self.assertEqual(len(peers), 12)
        self.assertEqual(peers[1], dns("my-runnel-eu-0", headless="my-runnel-eu-headless"))
        self.assertEqual(peers[12], dns("my-runnel-eu-11", headless="my-runnel-eu-headless"))

    def test_ports_and_domain(self) -> None:
        run = run_entrypoint({**BASE, "PEER_PORT": "7000", "CLIENT_PORT": "8443", "CLUSTER_DOMAIN": "corp.internal"})
        self.assertEqual(run.code, 0, run.stderr)
        self.assertEqual(run.peers()[2], dns("runnel-1", domain="corp.internal", port=7000))
        self.assertEqual(run.env["RUNNEL_LISTEN"], "0.0.0.0:8443")
        self.assertEqual(run.env["RUNNEL_PEER_LISTEN"], "0.0.0.0:7000")


class Scaling(unittest.TestCase):
    def test_pod_beyond_the_initial_members_joins(self) -> None:
        run = run_entrypoint({**BASE, "POD_NAME": "runnel-3", "REPLICAS": "3",
                              "JOIN_URL": "https://runnel.streams.svc.cluster.local:4437"})
        self.assertEqual(run.code, 0, run.stderr)
        self.assertEqual(run.flag("--node-id"), "4")
        self.assertEqual(run.flag("--join"), "https://runnel.streams.svc.cluster.local:4437")
        self.assertEqual(run.env["RUNNEL_ADVERTISE"], dns("runnel-3"))
        self.assertIsNone(run.flag("--peers"))

    def test_initial_members_ignore_join_url(self) -> None:
        run = run_entrypoint({**BASE, "POD_NAME": "runnel-2", "JOIN_URL": "http://runnel:4437"})
        self.assertIsNone(run.flag("--join"))
        self.assertEqual(len(run.peers()), 3)

    def test_pod_beyond_the_initial_members_without_join_url_fails(self) -> None:
        run = run_entrypoint({**BASE, "POD_NAME": "runnel-3"})
        self.assertEqual(run.code, 64)
        self.assertIn("JOIN_URL", run.stderr)


def closed_url() -> str:
    """A URL nothing answers at (as the client Service of a cluster with no ready pod)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


@unittest.skipUnless(shutil.which("curl"), "the entrypoint asks the cluster with curl (the image has it)")
class NewVolume(unittest.TestCase):
    """A pod whose data dir is new asks the cluster about its id before starting runnel."""

    def setUp(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="runnel-volume-"))
        self.addCleanup(shutil.rmtree, self.tmp)
        self.data = self.tmp / "volume" / "data"

    def cluster(self, members: list[Member] | None = None) -> FakeCluster:
        cluster = FakeCluster(node_id=1, leader_id=1, members=members)
        self.addCleanup(cluster.close)
        return cluster

    def start(self, pod: str, join_url: str, auto_replace: bool = True, replicas: str = "3", **extra: str):
        return run_entrypoint({**BASE, "POD_NAME": pod, "REPLICAS": replicas, "JOIN_URL": join_url,
                               "RUNNEL_DATA_DIR": str(self.data), "POLL_SECONDS": "0.1",
                               "AUTO_REPLACE": "true" if auto_replace else "false", **extra})

    def test_fresh_install_bootstraps_with_peers(self) -> None:
        # Nobody is ready yet: the initial members start together.
        run = self.start("runnel-1", closed_url())
        self.assertEqual(run.code, 0, run.stderr)
        self.assertEqual(len(run.peers()), 3)
        self.assertIsNone(run.flag("--join"))

    def test_scaled_up_pod_joins(self) -> None:
        cluster = self.cluster()
        run = self.start("runnel-3", cluster.url)
        self.assertEqual(run.code, 0, run.stderr)
        self.assertEqual(run.flag("--join"), cluster.url)
        self.assertEqual(run.flag("--node-id"), "4")
        self.assertEqual(run.env["RUNNEL_ADVERTISE"], dns("runnel-3"))
        self.assertEqual(cluster.calls("POST"), [])

    def test_initial_member_that_is_no_member_joins(self) -> None:
        # E.g. node 2 was removed by a scale-down to 1 and the cluster is scaled up again.
        cluster = self.cluster([Member(1, dns("runnel-0"))])
        run = self.start("runnel-1", cluster.url)
        self.assertEqual(run.code, 0, run.stderr)
        self.assertEqual(run.flag("--join"), cluster.url)
        self.assertIsNone(run.flag("--peers"))

    def test_lost_volume_of_an_initial_member_is_replaced(self) -> None:
        cluster = self.cluster([Member(i + 1, dns(f"runnel-{i}")) for i in range(3)])
        run = self.start("runnel-1", cluster.url)
        self.assertEqual(run.code, 0, run.stderr)
        posts = cluster.calls("POST")
        self.assertEqual([p.body for p in posts], [{"id": 2, "address": dns("runnel-1"), "replace": True}])
        self.assertFalse(cluster.member(2).voter)
        self.assertEqual(run.flag("--join"), cluster.url)
        self.assertIsNone(run.flag("--peers"))
        self.assertIn("replace", run.stderr)

    def test_lost_volume_of_a_joined_member_is_replaced(self) -> None:
        cluster = self.cluster([Member(i + 1, dns(f"runnel-{i}")) for i in range(4)])
        run = self.start("runnel-3", cluster.url)
        self.assertEqual(run.code, 0, run.stderr)
        self.assertEqual([p.body["replace"] for p in cluster.calls("POST")], [True])
        self.assertEqual(run.flag("--join"), cluster.url)

    def test_replace_waits_for_its_removal_to_commit(self) -> None:
        cluster = self.cluster([Member(i + 1, dns(f"runnel-{i}")) for i in range(3)])
        cluster.hold_commit = True
        def commit_later() -> None:
            time.sleep(1)
            with cluster.lock:
                cluster.commit_index = cluster.log_index
        threading.Thread(target=commit_later, daemon=True).start()
        start = time.monotonic()
        run = self.start("runnel-2", cluster.url)
        self.assertEqual(run.code, 0, run.stderr)
        self.assertGreaterEqual(time.monotonic() - start, 1)
        self.assertEqual(run.flag("--join"), cluster.url)

    def test_replace_in_progress_is_retried(self) -> None:
        cluster = self.cluster([Member(i + 1, dns(f"runnel-{i}")) for i in range(3)])
        cluster.scripted = [(409, {"error": {"code": "membership_change_in_progress", "message": "busy"}}),
                            (503, {"error": {"code": "unavailable", "message": "no leader"}})]
        run = self.start("runnel-2", cluster.url)
        self.assertEqual(run.code, 0, run.stderr)
        self.assertEqual(len(cluster.calls("POST")), 3)
        self.assertEqual(run.flag("--join"), cluster.url)

    def test_without_auto_replace_it_waits_for_the_operator(self) -> None:
        cluster = self.cluster([Member(i + 1, dns(f"runnel-{i}")) for i in range(3)])
        def operator() -> None:
            time.sleep(1)
            with cluster.lock:
                cluster.add(3, dns("runnel-2"), replace=True)
        threading.Thread(target=operator, daemon=True).start()
        start = time.monotonic()
        run = self.start("runnel-2", cluster.url, auto_replace=False)
        self.assertEqual(run.code, 0, run.stderr)
        self.assertGreaterEqual(time.monotonic() - start, 1)
        self.assertEqual(cluster.calls("POST"), [])
        self.assertIn(f"runnel cluster add 3 {dns('runnel-2')} --replace --url {cluster.url}", run.stderr)
        self.assertEqual(run.flag("--join"), cluster.url)

    def test_a_member_that_is_not_admitted_is_not_believed(self) -> None:
        # Only a member that knows a leader speaks for the cluster; until one does, a
        # scaled-up pod keeps asking.
        cluster = self.cluster([Member(i + 1, dns(f"runnel-{i}")) for i in range(4)])
        cluster.admission = "awaiting_admission"
        def admit() -> None:
            time.sleep(1)
            cluster.admission = "member"
        threading.Thread(target=admit, daemon=True).start()
        start = time.monotonic()
        run = self.start("runnel-3", cluster.url)
        self.assertEqual(run.code, 0, run.stderr)
        self.assertGreaterEqual(time.monotonic() - start, 1)
        self.assertEqual(len(cluster.calls("POST")), 1)

    def test_existing_data_resumes_without_asking(self) -> None:
        cluster = self.cluster([Member(i + 1, dns(f"runnel-{i}")) for i in range(3)])
        self.data.mkdir(parents=True)
        (self.data / "CURRENT").write_text("MANIFEST-000001\n")
        run = self.start("runnel-2", cluster.url)
        self.assertEqual(run.code, 0, run.stderr)
        self.assertEqual(cluster.requests, [])
        self.assertEqual(len(run.peers()), 3)
        self.assertTrue((self.data / "CURRENT").exists())

    def test_volume_marked_removed_starts_afresh(self) -> None:
        cluster = self.cluster([Member(i + 1, dns(f"runnel-{i}")) for i in range(3)])
        self.data.mkdir(parents=True)
        (self.data / "CURRENT").write_text("MANIFEST-000001\n")
        Path(f"{self.data}.removed").touch()
        run = self.start("runnel-3", cluster.url)
        self.assertEqual(run.code, 0, run.stderr)
        self.assertFalse((self.data / "CURRENT").exists())
        self.assertFalse(Path(f"{self.data}.removed").exists())
        self.assertEqual(run.flag("--join"), cluster.url)
        self.assertEqual(cluster.calls("POST"), [])


class Environment(unittest.TestCase):
    def test_listen_defaults(self) -> None:
        run = run_entrypoint(BASE)
        self.assertEqual(run.env["RUNNEL_LISTEN"], "0.0.0.0:4437")
        self.assertEqual(run.env["RUNNEL_PEER_LISTEN"], "0.0.0.0:4438")

    def test_ipv6_listen_host_is_bracketed(self) -> None:
        run = run_entrypoint({**BASE, "LISTEN_HOST": "::"})
        self.assertEqual(run.env["RUNNEL_LISTEN"], "[::]:4437")
        self.assertEqual(run.env["RUNNEL_PEER_LISTEN"], "[::]:4438")

    def test_explicit_listen_addresses_win(self) -> None:
        run = run_entrypoint({**BASE, "RUNNEL_LISTEN": "10.1.2.3:9000", "RUNNEL_PEER_LISTEN": "10.1.2.3:9001"})
        self.assertEqual(run.env["RUNNEL_LISTEN"], "10.1.2.3:9000")
        self.assertEqual(run.env["RUNNEL_PEER_LISTEN"], "10.1.2.3:9001")

    def test_other_runnel_settings_pass_through(self) -> None:
        run = run_entrypoint({**BASE, "RUNNEL_LOG_LEVEL": "debug", "RUNNEL_TLS_CERT": "/etc/runnel/tls/tls.crt"})
        self.assertEqual(run.env["RUNNEL_LOG_LEVEL"], "debug")
        self.assertEqual(run.env["RUNNEL_TLS_CERT"], "/etc/runnel/tls/tls.crt")

    def test_extra_arguments_come_last(self) -> None:
        run = run_entrypoint(BASE, args=["--max-body-bytes", "1024", "--log-level", "trace"])
        self.assertEqual(run.code, 0, run.stderr)
        self.assertEqual(run.argv[-4:], ["--max-body-bytes", "1024", "--log-level", "trace"])
        self.assertEqual(run.flag("--node-id"), "1")

    def test_creates_the_data_dir(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp) / "volume" / "data"
            run = run_entrypoint({**BASE, "RUNNEL_DATA_DIR": str(data)})
            self.assertEqual(run.code, 0, run.stderr)
            self.assertTrue(data.is_dir())


class BadInput(unittest.TestCase):
    """Misconfiguration stops the pod with a message instead of starting a wrong node."""

    def assert_refused(self, env: dict[str, str], message: str) -> None:
        for shell in shells():
            with self.subTest(shell=shell, env=env):
                run = run_entrypoint(env, shell=shell)
                self.assertEqual(run.code, 64, f"started with {env}: {run.stdout}")
                self.assertIn(message, run.stderr)
                self.assertEqual(run.argv, [])

    def test_missing_variables(self) -> None:
        for name in ("POD_NAME", "NAMESPACE", "HEADLESS_SERVICE", "REPLICAS"):
            env = {k: v for k, v in BASE.items() if k != name}
            self.assert_refused(env, name)

    def test_pod_names_without_an_ordinal(self) -> None:
        for pod in ("runnel", "runnel-", "runnel-x", "runnel-01", "runnel--1", "-3", "runnel-1a"):
            self.assert_refused({**BASE, "POD_NAME": pod}, "POD_NAME")

    def test_bad_replica_counts(self) -> None:
        for replicas in ("0", "-1", "three", "03", "2.5", " 3"):
            self.assert_refused({**BASE, "REPLICAS": replicas}, "REPLICAS")

    def test_bad_ports(self) -> None:
        self.assert_refused({**BASE, "PEER_PORT": "http"}, "PEER_PORT")
        self.assert_refused({**BASE, "CLIENT_PORT": "70000"}, "CLIENT_PORT")
        self.assert_refused({**BASE, "CLIENT_PORT": "0"}, "CLIENT_PORT")


if __name__ == "__main__":
    unittest.main()
