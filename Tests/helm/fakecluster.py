"""A stand-in for a running cluster's admin API (api.md §3), for testing the chart's scripts.

`FakeCluster` answers GET /admin/v1/cluster as runnel does (compact JSON, members with
"voter" and "role"), and models the membership changes the scripts ask for:
POST /admin/v1/cluster/members (with "replace": the member becomes a learner at a new log
index, committed at once), DELETE /admin/v1/cluster/members/{id} (the member disappears),
and POST /admin/v1/cluster/transfer-leader. Every request is recorded.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Member:
    id: int
    address: str
    voter: bool = True


@dataclass
class Request:
    method: str
    path: str
    body: Any = None
    authorization: str | None = None


class FakeCluster:
    def __init__(self, node_id: int = 1, members: list[Member] | None = None, leader_id: int = 1,
                 host: str = "127.0.0.1") -> None:
        self.node_id = node_id
        self.leader_id = leader_id
        self.admission = "member"
        self.members = members if members is not None else [Member(i, f"runnel-{i - 1}:4438") for i in (1, 2, 3)]
        self.log_index = 10
        self.commit_index = 10
        self.requests: list[Request] = []
        # Queued answers (status, body) for the next membership requests, before the model.
        self.scripted: list[tuple[int, dict[str, Any]]] = []
        # Membership changes are applied but not committed (the commit index stays behind).
        self.hold_commit = False
        # A transfer-leader request makes another node lead after this many status reads.
        self.steps_down_after: int | None = 0
        self._countdown: int | None = None
        # Pretty-print answers (as a proxy or another server version might).
        self.indent: int | None = None
        # With a token, every request must carry it as a bearer credential, or gets 401
        # (authentication on, docs/access-control.md).
        self.token: str | None = None
        self.lock = threading.Lock()
        cluster = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self, status: int, body: Any) -> None:
                text = json.dumps(body, indent=cluster.indent) if cluster.indent else json.dumps(body, separators=(",", ":"))
                data = text.encode() if body is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _refused(self) -> bool:
                cluster.requests[-1].authorization = self.headers.get("Authorization")
                if cluster.token is None or self.headers.get("Authorization") == f"Bearer {cluster.token}":
                    return False
                self._reply(401, {"error": {"code": "unauthorized", "message": ""}})
                return True

            def _body(self) -> Any:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                return json.loads(raw) if raw else None

            def do_GET(self) -> None:
                with cluster.lock:
                    cluster.requests.append(Request("GET", self.path))
                    if self._refused():
                        return
                    if self.path != "/admin/v1/cluster":
                        return self._reply(404, {"error": {"code": "not_found", "message": ""}})
                    if cluster._countdown is not None:
                        if cluster._countdown <= 0:
                            cluster.leader_id = next(m.id for m in cluster.members if m.id != cluster.node_id)
                            cluster._countdown = None
                        else:
                            cluster._countdown -= 1
                    self._reply(200, cluster.status())

            def do_POST(self) -> None:
                with cluster.lock:
                    body = self._body()
                    cluster.requests.append(Request("POST", self.path, body))
                    if self._refused():
                        return
                    if self.path == "/admin/v1/cluster/transfer-leader":
                        if cluster.steps_down_after is not None:
                            cluster._countdown = cluster.steps_down_after
                        return self._reply(202, None)
                    if self.path != "/admin/v1/cluster/members":
                        return self._reply(404, None)
                    if cluster.scripted:
                        return self._reply(*cluster.scripted.pop(0))
                    self._reply(*cluster.add(body["id"], body["address"], bool(body.get("replace"))))

            def do_DELETE(self) -> None:
                with cluster.lock:
                    cluster.requests.append(Request("DELETE", self.path))
                    if self._refused():
                        return
                    prefix = "/admin/v1/cluster/members/"
                    if not self.path.startswith(prefix):
                        return self._reply(404, None)
                    if cluster.scripted:
                        return self._reply(*cluster.scripted.pop(0))
                    self._reply(*cluster.remove(int(self.path[len(prefix):])))

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://{host}:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> "FakeCluster":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def member(self, node: int) -> Member | None:
        return next((m for m in self.members if m.id == node), None)

    def _change(self) -> int:
        self.log_index += 1
        if not self.hold_commit:
            self.commit_index = self.log_index
        return self.log_index

    def add(self, node: int, address: str, replace: bool) -> tuple[int, dict[str, Any]]:
        known = self.member(node)
        if known and not replace:
            if known.address != address:
                return 409, {"error": {"code": "member_conflict", "message": f"node {node} is a member"}}
            return 200, {"id": node, "address": address, "voter": known.voter, "change": "none", "log_index": 0}
        index = self._change()
        if known:
            self.members.remove(known)
            self._change()
        self.members.append(Member(node, address, voter=False))
        return 202, {"id": node, "address": address, "voter": False, "change": "replace" if replace else "add",
                     "log_index": index}

    def remove(self, node: int) -> tuple[int, dict[str, Any]]:
        known = self.member(node)
        if not known:
            return 404, {"error": {"code": "member_not_found", "message": f"node {node} is not a member"}}
        self.members.remove(known)
        return 202, {"id": node, "address": None, "voter": False, "change": "remove", "log_index": self._change()}

    def status(self) -> dict[str, Any]:
        return {
            "node_id": self.node_id, "cluster_id": "42ed9e6d063411051c923d1aaaf51952", "admission": self.admission,
            "role": "leader" if self.leader_id == self.node_id else "follower", "term": 3,
            "leader_id": self.leader_id, "commit_index": self.commit_index, "applied_index": self.commit_index,
            "members": [{"id": m.id, "address": m.address, "voter": m.voter,
                         "role": "learner" if not m.voter else "leader" if m.id == self.leader_id else "follower",
                         "match_index": None} for m in self.members],
        }

    def calls(self, method: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.method == method]
