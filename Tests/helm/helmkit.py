"""Helm's own engine, driven from Python, for testing the chart without a cluster.

helm-sdkpy wraps Helm's Go library. Two of its actions matter here:

* `Lint` runs `helm lint` on a chart directory. It takes no values, so a variant is linted
  by copying the chart and merging the variant into the copy's values.yaml (Helm then
  validates the merged values against values.schema.json, as `helm lint -f` would).
  helm-sdkpy reports each finding's severity and file but not its text.
* `Install` is the only way it renders templates. It needs an API server, so `render`
  points it at `FakeKubeAPI`, a loopback HTTP server that answers discovery, stores
  nothing and accepts every object. Helm renders in install mode (so `fail` and
  `required` in templates do fail, unlike in lint mode) and returns the release's
  manifest, which is parsed back into objects.
"""

from __future__ import annotations

import asyncio
import copy
import json
import shutil
import tempfile
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import helm_sdkpy
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "runnel"
VALUES_DIR = Path(__file__).resolve().parent / "values"

# Severities in helm lint's report (helm's lint/support package).
INFO, WARNING, ERROR = 1, 2, 3


def load_values(name: str) -> dict[str, Any]:
    """A variant's values from Tests/helm/values/<name>.yaml."""
    with open(VALUES_DIR / f"{name}.yaml") as f:
        return yaml.safe_load(f) or {}


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`override` laid over `base`, maps merged key by key, as Helm merges values files."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


@dataclass
class LintFinding:
    severity: int
    path: str


def lint(values: dict[str, Any] | None = None, chart: Path = CHART) -> list[LintFinding]:
    """Findings of `helm lint` on the chart with `values` over its defaults."""
    with tempfile.TemporaryDirectory(prefix="runnel-lint-") as tmp:
        copy_dir = Path(tmp) / chart.name
        shutil.copytree(chart, copy_dir)
        if values:
            defaults = yaml.safe_load((copy_dir / "values.yaml").read_text()) or {}
            (copy_dir / "values.yaml").write_text(yaml.safe_dump(deep_merge(defaults, values)))
        config = helm_sdkpy.Configuration(namespace="default")
        report = asyncio.run(helm_sdkpy.Lint(config).run(str(copy_dir)))
    return [LintFinding(m.get("Severity", 0), m.get("Path", "")) for m in report.get("Messages") or []]


class FakeKubeAPI:
    """A loopback stand-in for the Kubernetes API server, just enough for `helm install`.

    Answers /version and discovery for the kinds the chart uses, an empty release history,
    404 for every existing-object lookup, and echoes created or updated objects back.
    """

    # (group, version, kind, plural, namespaced)
    RESOURCES = [
        ("", "v1", "ConfigMap", "configmaps", True),
        ("", "v1", "Secret", "secrets", True),
        ("", "v1", "Service", "services", True),
        ("", "v1", "ServiceAccount", "serviceaccounts", True),
        ("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", True),
        ("", "v1", "Namespace", "namespaces", False),
        ("apps", "v1", "StatefulSet", "statefulsets", True),
        ("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", True),
        ("rbac.authorization.k8s.io", "v1", "Role", "roles", True),
        ("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", True),
        ("monitoring.coreos.com", "v1", "ServiceMonitor", "servicemonitors", True),
    ]
    KUBE_VERSION = ("1", "33")

    def __init__(self) -> None:
        # Objects that already exist, by API path (what `lookup` in a template finds).
        self.existing: dict[str, dict[str, Any]] = {}
        handler = self._handler()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> "FakeKubeAPI":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def kubeconfig(self) -> str:
        port = self._server.server_address[1]
        return yaml.safe_dump({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
            "users": [{"name": "fake", "user": {"token": "fake"}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
            "current-context": "fake",
        })

    @classmethod
    def _discovery(cls, path: str) -> dict[str, Any] | None:
        major, minor = cls.KUBE_VERSION
        if path == "/version":
            return {"major": major, "minor": minor, "gitVersion": f"v{major}.{minor}.0", "platform": "linux/amd64"}
        if path == "/api":
            return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
        groups: dict[str, str] = {}
        for group, version, *_ in cls.RESOURCES:
            if group:
                groups.setdefault(group, version)
        if path == "/apis":
            return {
                "kind": "APIGroupList", "apiVersion": "v1",
                "groups": [{
                    "name": g,
                    "versions": [{"groupVersion": f"{g}/{v}", "version": v}],
                    "preferredVersion": {"groupVersion": f"{g}/{v}", "version": v},
                } for g, v in groups.items()],
            }
        for group, version, *_ in cls.RESOURCES:
            base = f"/apis/{group}/{version}" if group else f"/api/{version}"
            if path == base:
                group_version = f"{group}/{version}" if group else version
                return {
                    "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version,
                    "resources": [{
                        "name": plural, "singularName": kind.lower(), "namespaced": namespaced, "kind": kind,
                        "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
                    } for g, v, kind, plural, namespaced in cls.RESOURCES if (g, v) == (group, version)],
                }
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        discovery = self._discovery
        existing = self.existing

        class Handler(BaseHTTPRequestHandler):
            def _reply(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = self.path.split("?", 1)[0]
                if self.command == "GET":
                    found = discovery(path)
                    if found is not None:
                        return self._reply(200, found)
                    if path in existing:
                        return self._reply(200, existing[path])
                    if path.endswith("/secrets"):  # Helm's release history: none yet
                        return self._reply(200, {"kind": "SecretList", "apiVersion": "v1", "metadata": {}, "items": []})
                    return self._reply(404, {
                        "kind": "Status", "apiVersion": "v1", "status": "Failure",
                        "reason": "NotFound", "code": 404, "message": "not found",
                    })
                if self.command in ("PUT", "PATCH") and path in existing:
                    return self._reply(200, existing[path])  # adopted; the patch itself is not kept
                if self.command in ("POST", "PUT", "PATCH"):
                    status = 201 if self.command == "POST" else 200
                    if "protobuf" in (self.headers.get("Content-Type") or ""):
                        # Helm's release record (a Secret) arrives as protobuf; any Secret will do.
                        return self._reply(status, {
                            "kind": "Secret", "apiVersion": "v1",
                            "metadata": {"name": "release", "resourceVersion": "1"},
                        })
                    obj = json.loads(body or b"{}")
                    obj.setdefault("metadata", {})["resourceVersion"] = "1"
                    return self._reply(status, obj)
                return self._reply(200, {"kind": "Status", "apiVersion": "v1", "status": "Success"})

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def log_message(self, *args: object) -> None:
                pass

        return Handler


class RenderError(Exception):
    """Helm refused to render the chart; the message is Helm's."""


_api: FakeKubeAPI | None = None


def api_path(obj: dict[str, Any], namespace: str) -> str:
    """The API path of a namespaced object of one of FakeKubeAPI's kinds."""
    for group, version, kind, plural, _ in FakeKubeAPI.RESOURCES:
        if kind == obj["kind"] and obj["apiVersion"] == (f"{group}/{version}" if group else version):
            base = f"/apis/{group}/{version}" if group else f"/api/{version}"
            return f"{base}/namespaces/{namespace}/{plural}/{obj['metadata']['name']}"
    raise ValueError(f"no API path for {obj['kind']}")


def _install(values: dict[str, Any] | None, release: str, namespace: str, chart: Path,
             skip_schema: bool, existing: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """`helm install` against the shared fake API server; returns Helm's release record.
    `existing` objects are what the API server holds meanwhile (found by `lookup`)."""
    global _api
    if _api is None:
        _api = FakeKubeAPI().__enter__()  # one per test run; its thread dies with the process
    config = helm_sdkpy.Configuration(namespace=namespace, kubeconfig=_api.kubeconfig)
    _api.existing.clear()
    for obj in existing or []:
        _api.existing[api_path(obj, namespace)] = obj
    try:
        return asyncio.run(helm_sdkpy.Install(config).run(
            release, str(chart), values=values or None, wait=False, timeout=30,
            skip_schema_validation=skip_schema,
        ))
    except helm_sdkpy.HelmError as error:
        raise RenderError(str(error)) from error
    finally:
        _api.existing.clear()


def render(
    values: dict[str, Any] | None = None,
    release: str = "runnel",
    namespace: str = "streams",
    chart: Path = CHART,
    skip_schema: bool = False,
    existing: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """The chart's objects as Helm renders them for `helm install` with `values`, with
    `existing` objects in the (fake) cluster for the templates' `lookup`."""
    result = _install(values, release, namespace, chart, skip_schema, existing)
    return [doc for doc in yaml.safe_load_all(result["manifest"]) if doc]


def notes(values: dict[str, Any] | None = None, release: str = "runnel", namespace: str = "streams") -> str:
    """The rendered NOTES.txt."""
    result = _install(values, release, namespace, CHART, False)
    return (result.get("info") or {}).get("notes", "")


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o.get("kind") == kind]


def one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = by_kind(objects, kind)
    if len(found) != 1:
        raise AssertionError(f"expected one {kind}, found {len(found)}")
    return found[0]
