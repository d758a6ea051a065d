"""The Helm chart: helm lint, rendering, Kubernetes schemas, and what the manifests promise."""

from __future__ import annotations

import re
import shutil
import tempfile
import unittest
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

import helmkit
from helmkit import ERROR, WARNING, by_kind, lint, load_values, one, render
from scripttest import ENTRYPOINT, PRESTOP, run_entrypoint

# Every values variant in Tests/helm/values/ and what it is for.
VARIANTS = [
    "tls",
    "tls-client-only",
    "persistence-disabled",
    "persistence-custom",
    "persistence-static",
    "production",
    "jwt",
]

# Oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest schemas known.
KUBE_VERSIONS = ["1.27.0", kubernetes_validate.latest_version()]


def problems(values: dict[str, Any] | None = None, chart: Path = helmkit.CHART) -> list[str]:
    """Lint findings at warning level or worse (what `helm lint --strict` fails on)."""
    return [f"{'ERROR' if f.severity >= ERROR else 'WARNING'} in {f.path}"
            for f in lint(values, chart) if f.severity >= WARNING]


def container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return one(objects, "StatefulSet")["spec"]["template"]["spec"]["containers"][0]


def env_of(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container(objects)["env"]}


class Lint(unittest.TestCase):
    def assert_clean(self, values: dict[str, Any] | None, name: str) -> None:
        found = problems(values)
        if found:
            # helm-sdkpy drops lint messages' text; an install-mode render names the cause.
            try:
                render(values)
                detail = "renders fine; see the files named"
            except helmkit.RenderError as error:
                detail = str(error)
            self.fail(f"helm lint of {name}: {found}\n{detail}")

    def test_default_values(self) -> None:
        self.assert_clean(None, "default values")

    def test_variants(self) -> None:
        for name in VARIANTS:
            with self.subTest(variant=name):
                self.assert_clean(load_values(name), name)


class LintCatchesErrors(unittest.TestCase):
    """The lint check above could fail: each of these mistakes makes it report an error."""

    def broken_chart(self, edit: Any) -> Path:
        tmp = Path(tempfile.mkdtemp(prefix="runnel-broken-"))
        self.addCleanup(shutil.rmtree, tmp)
        chart = tmp / "runnel"
        shutil.copytree(helmkit.CHART, chart)
        edit(chart)
        return chart

    def test_template_that_is_not_yaml(self) -> None:
        chart = self.broken_chart(lambda c: (c / "templates" / "service.yaml").write_text(
            (c / "templates" / "service.yaml").read_text() + "\n  ports: [oops\n"))
        self.assertIn("ERROR in templates/service.yaml", problems(chart=chart))

    def test_template_syntax_error(self) -> None:
        chart = self.broken_chart(lambda c: (c / "templates" / "configmap.yaml").write_text(
            "{{ if .Values.tls.enabled }}\n"))
        self.assertTrue(any(p.startswith("ERROR") for p in problems(chart=chart)))

    def test_missing_chart_version(self) -> None:
        def drop_version(c: Path) -> None:
            meta = yaml.safe_load((c / "Chart.yaml").read_text())
            del meta["version"]
            (c / "Chart.yaml").write_text(yaml.safe_dump(meta))
        self.assertIn("ERROR in Chart.yaml", problems(chart=self.broken_chart(drop_version)))

    def test_values_against_the_schema(self) -> None:
        for values in ({"replicaCount": "three"}, {"replicas": 5}, {"tls": {"enabled": True}},
                       {"tls": {"peer": {"enabled": True}}}, {"podAntiAffinity": "always"},
                       {"persistence": {"size": "lots"}}, {"config": {"logLevel": "loud"}},
                       {"image": {"digest": "latest"}}, {"auth": {"keyRequestsPerSecond": 0}},
                       {"auth": {"jwt": {"leewaySeconds": -1}}}, {"auth": {"jwt": {"jwksFile": "x"}}}):
            with self.subTest(values=values):
                self.assertIn("ERROR in values.yaml", problems(values))


class Schemas(unittest.TestCase):
    """Rendered objects against the Kubernetes OpenAPI schemas, unknown fields refused."""

    def assert_valid(self, objects: list[dict[str, Any]], name: str) -> None:
        for version in KUBE_VERSIONS:
            for obj in objects:
                if obj["kind"] == "ServiceMonitor":
                    continue  # a CRD: no schema in kubernetes-validate; checked below
                with self.subTest(variant=name, kube=version, kind=obj["kind"], name=obj["metadata"]["name"]):
                    try:
                        kubernetes_validate.validate(obj, version, strict=True)
                    except kubernetes_validate.ValidationError as error:
                        self.fail(f"{obj['kind']} {obj['metadata']['name']}: {error.message} at {list(error.path)}")

    def test_default_values(self) -> None:
        self.assert_valid(render(), "default values")

    def test_variants(self) -> None:
        for name in VARIANTS:
            self.assert_valid(render(load_values(name)), name)

    def test_validation_could_fail(self) -> None:
        statefulset = one(render(), "StatefulSet")
        statefulset["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["paht"] = "/readyz"
        with self.assertRaises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(statefulset, KUBE_VERSIONS[-1], strict=True)


class Render(unittest.TestCase):
    def test_refuses_contradictory_values(self) -> None:
        # The templates' own checks, which hold even when the schema is skipped.
        cases = {
            "tls.peer.enabled needs tls.enabled": {"tls": {"peer": {"enabled": True}}},
            "tls.enabled needs tls.secretName": {"tls": {"enabled": True}},
            "terminationGracePeriodSeconds must exceed": {"terminationGracePeriodSeconds": 20},
            "ports.client and ports.peer must differ": {"ports": {"client": 4437, "peer": 4437}},
            # 20 s handover + 20 s removal + 5 s drain leave nothing of 45 s for runnel.
            "preStop.removeTimeoutSeconds": {"terminationGracePeriodSeconds": 45},
        }
        for message, values in cases.items():
            with self.subTest(values=values):
                with self.assertRaises(helmkit.RenderError) as caught:
                    render(values, skip_schema=True)
                self.assertIn(message, str(caught.exception))

    def test_schema_names_the_bad_value(self) -> None:
        with self.assertRaises(helmkit.RenderError) as caught:
            render({"tls": {"enabled": True}})
        self.assertIn("/tls/secretName", str(caught.exception))

    def test_objects_of_the_default_install(self) -> None:
        objects = render()
        kinds = sorted(o["kind"] for o in objects)
        self.assertEqual(kinds, ["ConfigMap", "PodDisruptionBudget", "Role", "RoleBinding", "Secret", "Service", "Service",
                                 "ServiceAccount", "StatefulSet"])
        self.assertEqual(by_kind(objects, "ServiceMonitor"), [])


class StatefulSet(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.objects = render()
        cls.sts = one(cls.objects, "StatefulSet")
        cls.pod = cls.sts["spec"]["template"]["spec"]
        cls.container = cls.pod["containers"][0]

    def test_three_voters_started_together(self) -> None:
        self.assertEqual(self.sts["metadata"]["name"], "runnel")
        self.assertEqual(self.sts["spec"]["replicas"], 3)
        self.assertEqual(self.sts["spec"]["podManagementPolicy"], "Parallel")
        self.assertEqual(self.sts["spec"]["updateStrategy"], {"type": "RollingUpdate"})

    def test_selector_matches_pod_labels(self) -> None:
        selector = self.sts["spec"]["selector"]["matchLabels"]
        labels = self.sts["spec"]["template"]["metadata"]["labels"]
        self.assertTrue(selector.items() <= labels.items())

    def test_headless_service_gives_peers_stable_names_before_readiness(self) -> None:
        headless = [s for s in by_kind(self.objects, "Service") if s["spec"].get("clusterIP") == "None"]
        self.assertEqual(len(headless), 1)
        headless = headless[0]
        self.assertEqual(self.sts["spec"]["serviceName"], headless["metadata"]["name"])
        self.assertTrue(headless["spec"]["publishNotReadyAddresses"])
        self.assertEqual({p["name"]: p["port"] for p in headless["spec"]["ports"]}, {"peer": 4438, "client": 4437})
        self.assertEqual(env_of(self.objects)["HEADLESS_SERVICE"], headless["metadata"]["name"])

    def test_client_service_balances_over_ready_pods(self) -> None:
        client = [s for s in by_kind(self.objects, "Service") if s["spec"].get("clusterIP") != "None"][0]
        self.assertEqual(client["spec"]["type"], "ClusterIP")
        self.assertNotIn("publishNotReadyAddresses", client["spec"])
        self.assertEqual(client["spec"]["ports"], [{"name": "http", "port": 4437, "targetPort": "client", "protocol": "TCP"}])
        self.assertEqual(client["spec"]["selector"], self.sts["spec"]["selector"]["matchLabels"])

    def test_identity_comes_from_the_downward_api(self) -> None:
        env = env_of(self.objects)
        self.assertEqual(env["POD_NAME"], {"fieldRef": {"fieldPath": "metadata.name"}})
        self.assertEqual(env["NAMESPACE"], {"fieldRef": {"fieldPath": "metadata.namespace"}})
        self.assertEqual(env["REPLICAS"], "3")
        self.assertEqual(env["PEER_PORT"], "4438")
        self.assertEqual(env["RUNNEL_DATA_DIR"], "/var/lib/runnel/data")
        self.assertEqual(self.container["command"], ["/bin/sh", "/etc/runnel/scripts/entrypoint.sh"])
        self.assertNotIn("RUNNEL_TLS_CERT", env)

    def test_probes(self) -> None:
        self.assertEqual(self.container["readinessProbe"]["httpGet"], {"path": "/readyz", "port": "client", "scheme": "HTTP"})
        self.assertEqual(self.container["livenessProbe"]["httpGet"], {"path": "/healthz", "port": "client", "scheme": "HTTP"})
        startup = self.container["startupProbe"]
        self.assertEqual(startup["httpGet"]["path"], "/healthz")
        self.assertGreaterEqual(startup["periodSeconds"] * startup["failureThreshold"], 300,
                                "the startup probe should allow minutes of log replay")

    def test_graceful_stop_hands_leadership_over(self) -> None:
        self.assertEqual(self.container["lifecycle"]["preStop"]["exec"]["command"],
                         ["/bin/sh", "/etc/runnel/scripts/prestop.sh"])
        env = env_of(self.objects)
        hook = int(env["TRANSFER_TIMEOUT"]) + int(env["DRAIN_SECONDS"])
        self.assertGreater(self.pod["terminationGracePeriodSeconds"], hook)

    def test_runs_as_non_root_with_a_read_only_root(self) -> None:
        self.assertTrue(self.pod["securityContext"]["runAsNonRoot"])
        self.assertNotEqual(self.pod["securityContext"]["runAsUser"], 0)
        self.assertIn("fsGroup", self.pod["securityContext"])
        security = self.container["securityContext"]
        self.assertTrue(security["readOnlyRootFilesystem"])
        self.assertFalse(security["allowPrivilegeEscalation"])
        self.assertEqual(security["capabilities"], {"drop": ["ALL"]})
        mounts = {m["mountPath"] for m in self.container["volumeMounts"]}
        self.assertLessEqual({"/var/lib/runnel", "/tmp"}, mounts)
        self.assertFalse(self.pod["automountServiceAccountToken"])

    def test_pods_spread_across_nodes(self) -> None:
        terms = self.pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
        self.assertEqual(terms[0]["podAffinityTerm"]["topologyKey"], "kubernetes.io/hostname")
        self.assertEqual(terms[0]["podAffinityTerm"]["labelSelector"]["matchLabels"],
                         self.sts["spec"]["selector"]["matchLabels"])

    def test_one_claim_per_pod(self) -> None:
        claims = self.sts["spec"]["volumeClaimTemplates"]
        self.assertEqual([c["metadata"]["name"] for c in claims], ["data"])
        self.assertEqual(claims[0]["spec"]["resources"]["requests"]["storage"], "10Gi")
        self.assertNotIn("storageClassName", claims[0]["spec"])
        self.assertNotIn("data", {v["name"] for v in self.pod["volumes"]})

    def test_disruption_budget_allows_one_pod_down(self) -> None:
        pdb = one(self.objects, "PodDisruptionBudget")
        self.assertEqual(pdb["spec"]["maxUnavailable"], 1)
        self.assertEqual(pdb["spec"]["selector"]["matchLabels"], self.sts["spec"]["selector"]["matchLabels"])

    def test_scripts_config_map_carries_the_repository_scripts(self) -> None:
        config_map = one(self.objects, "ConfigMap")
        self.assertEqual(config_map["data"]["entrypoint.sh"], ENTRYPOINT.read_text())
        self.assertEqual(config_map["data"]["prestop.sh"], PRESTOP.read_text())
        scripts = [v for v in self.pod["volumes"] if v["name"] == "scripts"][0]
        self.assertEqual(scripts["configMap"]["name"], config_map["metadata"]["name"])
        self.assertIn("checksum/scripts", self.sts["spec"]["template"]["metadata"]["annotations"])


class Membership(unittest.TestCase):
    """Scaling: which pods join, the scale-down hook's wiring, the CA joining pods trust."""

    def test_initial_members_come_from_the_running_statefulset_on_upgrade(self) -> None:
        installed = one(render(), "StatefulSet")
        installed["metadata"].setdefault("annotations", {}).update(
            {"meta.helm.sh/release-name": "runnel", "meta.helm.sh/release-namespace": "streams"})
        upgraded = render({"replicaCount": 5}, existing=[installed])
        self.assertEqual(one(upgraded, "StatefulSet")["spec"]["replicas"], 5)
        self.assertEqual(env_of(upgraded)["REPLICAS"], "3")
        # An explicit value wins; a first install takes replicaCount.
        self.assertEqual(env_of(render({"replicaCount": 5, "cluster": {"initialReplicas": 5}},
                                       existing=[installed]))["REPLICAS"], "5")
        self.assertEqual(env_of(render({"replicaCount": 5}))["REPLICAS"], "5")

    def test_scale_down_hook_reads_only_its_statefulsets_scale(self) -> None:
        objects = render()
        role, binding = one(objects, "Role"), one(objects, "RoleBinding")
        self.assertEqual(role["rules"], [{"apiGroups": ["apps"], "resources": ["statefulsets/scale"],
                                          "resourceNames": ["runnel"], "verbs": ["get"]}])
        self.assertEqual(binding["roleRef"]["name"], role["metadata"]["name"])
        pod = one(objects, "StatefulSet")["spec"]["template"]["spec"]
        self.assertEqual(binding["subjects"], [{"kind": "ServiceAccount", "name": pod["serviceAccountName"],
                                                "namespace": "streams"}])
        env = env_of(objects)
        self.assertEqual(env["REMOVE_ON_SCALE_DOWN"], "true")
        self.assertEqual(env["REMOVE_TIMEOUT"], "20")
        # The token is a projected volume for the hook; the pod's own automount stays off.
        self.assertFalse(pod["automountServiceAccountToken"])
        volume = [v for v in pod["volumes"] if v["name"] == "kube-api"][0]["projected"]["sources"]
        self.assertEqual(volume[0]["serviceAccountToken"]["path"], "token")
        self.assertEqual(volume[1]["configMap"]["name"], "kube-root-ca.crt")
        mount = [m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "kube-api"][0]
        self.assertEqual((mount["mountPath"], mount["readOnly"]), (env["KUBE_TOKEN_DIR"], True))

    def test_without_scale_down_removal_no_api_access(self) -> None:
        for values in ({"cluster": {"removeOnScaleDown": False}}, {"preStop": {"enabled": False}}):
            with self.subTest(values=values):
                objects = render(values)
                self.assertEqual(by_kind(objects, "Role") + by_kind(objects, "RoleBinding"), [])
                self.assertEqual(env_of(objects)["REMOVE_ON_SCALE_DOWN"], "false")
                pod = one(objects, "StatefulSet")["spec"]["template"]["spec"]
                self.assertNotIn("kube-api", {v["name"] for v in pod["volumes"]})
        # Without removal, the hook's time is the handover and the drain only.
        render({"cluster": {"removeOnScaleDown": False}, "terminationGracePeriodSeconds": 30})

    def test_auto_replace_is_passed_on(self) -> None:
        self.assertEqual(env_of(render())["AUTO_REPLACE"], "true")
        self.assertEqual(env_of(render({"cluster": {"autoReplace": False}}))["AUTO_REPLACE"], "false")

    def test_joining_pods_trust_the_ca_of_the_client_certificate(self) -> None:
        self.assertNotIn("RUNNEL_JOIN_CA", env_of(render()))
        self.assertNotIn("RUNNEL_JOIN_CA", env_of(render(load_values("tls-client-only"))))
        self.assertEqual(env_of(render(load_values("tls")))["RUNNEL_JOIN_CA"], "/etc/runnel/peer-ca/ca.crt")
        objects = render({"tls": {"enabled": True, "secretName": "runnel-tls", "caKey": "ca.crt",
                                  "peer": {"enabled": True}}})
        self.assertEqual(env_of(objects)["RUNNEL_JOIN_CA"], "/etc/runnel/tls/ca.crt")
        volumes = {v["name"]: v for v in one(objects, "StatefulSet")["spec"]["template"]["spec"]["volumes"]}
        self.assertIn({"key": "ca.crt", "path": "ca.crt"}, volumes["tls"]["secret"]["items"])


class Variants(unittest.TestCase):
    def test_tls_mounts_secrets_and_probes_speak_https(self) -> None:
        objects = render(load_values("tls"))
        spec = one(objects, "StatefulSet")["spec"]["template"]["spec"]
        c = spec["containers"][0]
        env = env_of(objects)
        volumes = {v["name"]: v for v in spec["volumes"]}
        mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
        self.assertEqual(volumes["tls"]["secret"]["secretName"], "runnel-tls")
        self.assertEqual(volumes["peer-ca"]["secret"]["secretName"], "runnel-peer-ca")
        self.assertEqual(env["RUNNEL_TLS_CERT"], f"{mounts['tls']}/tls.crt")
        self.assertEqual(env["RUNNEL_TLS_KEY"], f"{mounts['tls']}/tls.key")
        self.assertEqual(env["RUNNEL_PEER_TLS_CA"], f"{mounts['peer-ca']}/ca.crt")
        self.assertEqual(env["CLIENT_SCHEME"], "https")
        self.assertTrue(env["JOIN_URL"].startswith("https://"))
        for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
            self.assertEqual(c[probe]["httpGet"]["scheme"], "HTTPS")
        client = [s for s in by_kind(objects, "Service") if s["spec"].get("clusterIP") != "None"][0]
        self.assertEqual(client["spec"]["ports"][0]["name"], "https")

    def test_client_tls_only_with_custom_keys(self) -> None:
        objects = render(load_values("tls-client-only"))
        env = env_of(objects)
        self.assertTrue(env["RUNNEL_TLS_CERT"].endswith("/server.pem"))
        self.assertTrue(env["RUNNEL_TLS_KEY"].endswith("/server-key.pem"))
        self.assertNotIn("RUNNEL_PEER_TLS_CA", env)
        volumes = one(objects, "StatefulSet")["spec"]["template"]["spec"]["volumes"]
        self.assertNotIn("peer-ca", {v["name"] for v in volumes})

    def test_peer_ca_defaults_to_the_certificate_secret(self) -> None:
        objects = render({"tls": {"enabled": True, "secretName": "runnel-tls", "peer": {"enabled": True}}})
        volumes = {v["name"]: v for v in one(objects, "StatefulSet")["spec"]["template"]["spec"]["volumes"]}
        self.assertEqual(volumes["peer-ca"]["secret"]["secretName"], "runnel-tls")

    def test_without_persistence_data_is_an_empty_dir(self) -> None:
        objects = render(load_values("persistence-disabled"))
        sts = one(objects, "StatefulSet")
        self.assertNotIn("volumeClaimTemplates", sts["spec"])
        volumes = {v["name"]: v for v in sts["spec"]["template"]["spec"]["volumes"]}
        self.assertEqual(volumes["data"], {"name": "data", "emptyDir": {"sizeLimit": "2Gi"}})
        self.assertIn("persistence is disabled", helmkit.notes(load_values("persistence-disabled")))

    def test_custom_persistence(self) -> None:
        sts = one(render(load_values("persistence-custom")), "StatefulSet")
        claim = sts["spec"]["volumeClaimTemplates"][0]
        self.assertEqual(claim["spec"]["storageClassName"], "fast-ssd")
        self.assertEqual(claim["spec"]["accessModes"], ["ReadWriteOncePod"])
        self.assertEqual(claim["spec"]["resources"]["requests"]["storage"], "200Gi")
        self.assertEqual(claim["metadata"]["annotations"], {"backup.example.com/schedule": "nightly"})
        self.assertEqual(claim["metadata"]["labels"]["tier"], "storage")
        self.assertEqual(sts["spec"]["persistentVolumeClaimRetentionPolicy"],
                         {"whenDeleted": "Delete", "whenScaled": "Retain"})

    def test_static_volumes_ask_for_no_storage_class(self) -> None:
        claim = one(render(load_values("persistence-static")), "StatefulSet")["spec"]["volumeClaimTemplates"][0]
        self.assertEqual(claim["spec"]["storageClassName"], "")
        self.assertEqual(claim["spec"]["selector"], {"matchLabels": {"runnel-volume": "true"}})

    def test_production(self) -> None:
        objects = render(load_values("production"), namespace="data")
        sts = one(objects, "StatefulSet")
        spec = sts["spec"]["template"]["spec"]
        c = spec["containers"][0]
        env = env_of(objects)
        self.assertEqual(sts["metadata"]["name"], "streams")
        self.assertEqual(sts["spec"]["replicas"], 5)
        self.assertEqual(env["REPLICAS"], "3")
        self.assertEqual(env["JOIN_URL"], "https://streams.data.svc.corp.internal:443")
        self.assertEqual(env["CLUSTER_DOMAIN"], "corp.internal")
        self.assertEqual(env["LISTEN_HOST"], "::")
        self.assertEqual(env["RUNNEL_MAX_BODY_BYTES"], "16777216")
        self.assertEqual(env["RUNNEL_LONG_POLL_TIMEOUT"], "55")
        self.assertEqual(env["RUNNEL_SSE_WRITE_TIMEOUT"], "20")
        self.assertEqual(env["RUNNEL_HEADER_READ_TIMEOUT"], "12")
        self.assertEqual(env["RUNNEL_IDLE_TIMEOUT"], "120")
        self.assertEqual(env["RUNNEL_TLS_HANDSHAKE_TIMEOUT"], "5")
        self.assertEqual(env["RUNNEL_HTTP2_IDLE_TIMEOUT"], "90")
        self.assertEqual(env["RUNNEL_MAX_CONNECTIONS"], "20000")
        self.assertEqual(env["RUNNEL_LOG_LEVEL"], "notice")
        self.assertEqual(env["TZ"], "UTC")
        self.assertEqual(c["args"], ["--read-chunk-bytes", "1048576"])
        self.assertEqual(c["image"], "registry.example.com/runnel:1.2.3@sha256:" + "0123456789abcdef" * 4)
        self.assertEqual(spec["serviceAccountName"], "streams-sa")
        self.assertEqual(by_kind(objects, "ServiceAccount"), [])
        hard = spec["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        self.assertEqual(hard[0]["topologyKey"], "kubernetes.io/hostname")
        spread = spec["topologySpreadConstraints"][0]
        self.assertEqual(spread["labelSelector"]["matchLabels"], sts["spec"]["selector"]["matchLabels"])
        client = [s for s in by_kind(objects, "Service") if s["spec"].get("clusterIP") != "None"][0]
        self.assertEqual(client["spec"]["type"], "LoadBalancer")
        self.assertEqual(client["spec"]["ports"][0]["nodePort"], 30443)
        self.assertEqual(client["spec"]["externalTrafficPolicy"], "Local")
        self.assertIn("join the cluster through", helmkit.notes(load_values("production"), namespace="data"))

    def test_service_monitor_scrapes_every_pod(self) -> None:
        objects = render(load_values("production"), namespace="data")
        monitor = one(objects, "ServiceMonitor")
        self.assertEqual(monitor["apiVersion"], "monitoring.coreos.com/v1")
        self.assertEqual(monitor["metadata"]["namespace"], "monitoring")
        self.assertEqual(monitor["metadata"]["labels"]["release"], "prometheus")
        self.assertEqual(monitor["spec"]["namespaceSelector"], {"matchNames": ["data"]})
        endpoint = monitor["spec"]["endpoints"][0]
        self.assertEqual((endpoint["port"], endpoint["path"], endpoint["scheme"]), ("client", "/metrics", "https"))
        self.assertEqual(endpoint["tlsConfig"]["serverName"], "streams")
        # It selects exactly one Service: the headless one, whose endpoints include every pod.
        selected = [s for s in by_kind(objects, "Service")
                    if monitor["spec"]["selector"]["matchLabels"].items() <= s["metadata"]["labels"].items()]
        self.assertEqual([s["metadata"]["name"] for s in selected], ["streams-headless"])
        self.assertIn("client", {p["name"] for p in selected[0]["spec"]["ports"]})

    def test_long_release_names_stay_valid_dns_labels(self) -> None:
        release = "a-very-long-release-name-for-the-streaming-cluster-eu"  # Helm's limit: 53
        self.assertEqual(len(release), 53)
        objects = render(release=release)
        sts = one(objects, "StatefulSet")
        pod = f"{sts['metadata']['name']}-{sts['spec']['replicas'] + 100}"
        self.assertLessEqual(len(pod), 63)
        self.assertLessEqual(len(sts["spec"]["serviceName"]), 63)


JWT_ENV = ["RUNNEL_JWT_JWKS_FILE", "RUNNEL_JWT_HS256_SECRET_FILE", "RUNNEL_JWT_ISSUER", "RUNNEL_JWT_AUDIENCE",
           "RUNNEL_JWT_LEEWAY", "RUNNEL_KEY_REQUESTS_PER_SECOND", "RUNNEL_KEY_BYTES_PER_SECOND",
           "RUNNEL_AUTH_FAILURES_PER_SECOND"]


class JWT(unittest.TestCase):
    """auth.jwt: verification keys mounted from existing Secrets; auth.* default rates."""

    @staticmethod
    def pod(objects: list[dict[str, Any]]) -> dict[str, Any]:
        return one(objects, "StatefulSet")["spec"]["template"]["spec"]

    def jwt_volumes(self, objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        return {v["name"]: v for v in self.pod(objects)["volumes"] if v["name"].startswith("jwt")}

    def jwt_mounts(self, objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        return {m["name"]: m for m in container(objects)["volumeMounts"] if m["name"].startswith("jwt")}

    def file_of(self, objects: list[dict[str, Any]], volume: str) -> str:
        """The path inside the container of the one file `volume` mounts."""
        items = self.jwt_volumes(objects)[volume]["secret"]["items"]
        self.assertEqual(len(items), 1)
        return f"{self.jwt_mounts(objects)[volume]['mountPath']}/{items[0]['path']}"

    def test_default_install_has_no_jwt_keys_or_rates(self) -> None:
        objects = render()
        env = env_of(objects)
        self.assertEqual([name for name in JWT_ENV if name in env], [])
        self.assertEqual(self.jwt_volumes(objects), {})
        self.assertEqual(self.jwt_mounts(objects), {})
        # Still authenticated: the admin token from the chart's Secret.
        self.assertIn("secretKeyRef", env["RUNNEL_ADMIN_TOKEN"])
        self.assertNotIn("RUNNEL_INSECURE_NO_AUTH", env)

    def test_keys_claims_and_rates(self) -> None:
        objects = render(load_values("jwt"))
        env = env_of(objects)
        self.assertEqual({name: env[name] for name in JWT_ENV if name in env}, {
            "RUNNEL_JWT_JWKS_FILE": "/etc/runnel/jwt/jwks/jwks.json",
            "RUNNEL_JWT_HS256_SECRET_FILE": "/etc/runnel/jwt/hs256/secret",
            "RUNNEL_JWT_ISSUER": "https://id.example.com/",
            "RUNNEL_JWT_AUDIENCE": "runnel",
            "RUNNEL_JWT_LEEWAY": "30",
            "RUNNEL_KEY_REQUESTS_PER_SECOND": "200",
            "RUNNEL_KEY_BYTES_PER_SECOND": "1048576",  # not 1.048576e+06
            "RUNNEL_AUTH_FAILURES_PER_SECOND": "2.5",
        })
        self.assertEqual(self.jwt_volumes(objects), {
            "jwt-jwks": {"name": "jwt-jwks", "secret": {
                "secretName": "runnel-jwks", "defaultMode": 0o440,
                "items": [{"key": "jwks.json", "path": "jwks.json"}]}},
            "jwt-hs256": {"name": "jwt-hs256", "secret": {
                "secretName": "runnel-hs256", "defaultMode": 0o440,
                "items": [{"key": "secret", "path": "secret"}]}},
        })
        self.assertEqual(self.jwt_mounts(objects), {
            "jwt-jwks": {"name": "jwt-jwks", "mountPath": "/etc/runnel/jwt/jwks", "readOnly": True},
            "jwt-hs256": {"name": "jwt-hs256", "mountPath": "/etc/runnel/jwt/hs256", "readOnly": True},
        })
        # The variables name exactly the files the volumes put there.
        self.assertEqual(env["RUNNEL_JWT_JWKS_FILE"], self.file_of(objects, "jwt-jwks"))
        self.assertEqual(env["RUNNEL_JWT_HS256_SECRET_FILE"], self.file_of(objects, "jwt-hs256"))
        self.assertIn("secretKeyRef", env["RUNNEL_ADMIN_TOKEN"])

    def test_only_what_is_set(self) -> None:
        objects = render({"auth": {"jwt": {"jwksSecret": "idp-keys", "jwksKey": "keys.json", "leewaySeconds": 0}}})
        env = env_of(objects)
        self.assertEqual({name: env[name] for name in JWT_ENV if name in env}, {
            "RUNNEL_JWT_JWKS_FILE": "/etc/runnel/jwt/jwks/keys.json",
            "RUNNEL_JWT_LEEWAY": "0",  # 0 is a leeway, not "unset"
        })
        self.assertEqual(list(self.jwt_volumes(objects)), ["jwt-jwks"])
        self.assertEqual(env["RUNNEL_JWT_JWKS_FILE"], self.file_of(objects, "jwt-jwks"))
        # A key that YAML would read as a number stays a string.
        objects = render({"auth": {"jwt": {"hs256Secret": "idp-secret", "hs256Key": "2024"}}})
        self.assertEqual(self.jwt_volumes(objects)["jwt-hs256"]["secret"]["items"], [{"key": "2024", "path": "2024"}])
        self.assertEqual(env_of(objects)["RUNNEL_JWT_HS256_SECRET_FILE"], "/etc/runnel/jwt/hs256/2024")
        # Rates alone, without JWT keys (they apply to API keys too).
        env = env_of(render({"auth": {"keyRequestsPerSecond": 5, "authFailuresPerSecond": 1}}))
        self.assertEqual({name: env[name] for name in JWT_ENV if name in env},
                         {"RUNNEL_KEY_REQUESTS_PER_SECOND": "5", "RUNNEL_AUTH_FAILURES_PER_SECOND": "1"})

    def test_schema_refuses_bad_values(self) -> None:
        cases = {
            "/auth/keyRequestsPerSecond": {"auth": {"keyRequestsPerSecond": 0}},
            "/auth/keyBytesPerSecond": {"auth": {"keyBytesPerSecond": 1.5}},
            "/auth/authFailuresPerSecond": {"auth": {"authFailuresPerSecond": 0}},
            "/auth/jwt/leewaySeconds": {"auth": {"jwt": {"leewaySeconds": -1}}},
            "leewaySeconds": {"auth": {"jwt": {"leewaySeconds": 3601}}},
            "jwksFile": {"auth": {"jwt": {"jwksSecret": "runnel-jwks", "jwksFile": "/jwks.json"}}},
            "/auth/jwt/jwksKey": {"auth": {"jwt": {"jwksSecret": "runnel-jwks", "jwksKey": "../jwks.json"}}},
            "/auth/jwt/issuer": {"auth": {"jwt": {"hs256Secret": "s", "issuer": 7}}},
        }
        for path, values in cases.items():
            with self.subTest(values=values):
                with self.assertRaises(helmkit.RenderError) as caught:
                    render(values)
                self.assertIn(path, str(caught.exception))

    def test_jwt_with_auth_disabled_is_refused(self) -> None:
        cases = {
            "auth.jwt.jwksSecret, auth.jwt.hs256Secret set while auth.enabled is false":
                {"auth": {"enabled": False, "jwt": {"jwksSecret": "runnel-jwks", "hs256Secret": "runnel-hs256"}}},
            "auth.keyRequestsPerSecond set while auth.enabled is false":
                {"auth": {"enabled": False, "keyRequestsPerSecond": 10}},
            "auth.jwt.leewaySeconds set while auth.enabled is false":
                {"auth": {"enabled": False, "jwt": {"leewaySeconds": 0}}},
        }
        for message, values in cases.items():
            for skip_schema in (False, True):
                with self.subTest(values=values, skip_schema=skip_schema):
                    with self.assertRaises(helmkit.RenderError) as caught:
                        render(values, skip_schema=skip_schema)
                    self.assertIn(message, str(caught.exception))
                    self.assertIn("need authentication on", str(caught.exception))
        # Without them, auth disabled still renders, openly and with no JWT volume.
        objects = render({"auth": {"enabled": False}})
        self.assertEqual(env_of(objects)["RUNNEL_INSECURE_NO_AUTH"], "1")
        self.assertEqual(self.jwt_volumes(objects), {})

    def test_claims_without_a_key_are_refused(self) -> None:
        for values in ({"issuer": "https://id.example.com/"}, {"audience": "runnel"}, {"leewaySeconds": 10}):
            with self.subTest(values=values):
                with self.assertRaises(helmkit.RenderError) as caught:
                    render({"auth": {"jwt": values}})
                self.assertIn("they need a key, auth.jwt.jwksSecret or auth.jwt.hs256Secret", str(caught.exception))


def value_paths(values: dict[str, Any], schema: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted paths of the chart's settable values: keys the schema describes field by field
    are walked into; free-form objects (resources, securityContext, ...) are one value."""
    paths = []
    for key, value in values.items():
        path = f"{prefix}{key}"
        node = schema.get("properties", {}).get(key, {})
        if isinstance(value, dict) and value and "properties" in node:
            paths += value_paths(value, node, f"{path}.")
        else:
            paths.append(path)
    return paths


class Documentation(unittest.TestCase):
    """Every value is in values.schema.json and in the README's table, and nothing else is."""

    def setUp(self) -> None:
        import json
        self.values = yaml.safe_load((helmkit.CHART / "values.yaml").read_text())
        self.schema = json.loads((helmkit.CHART / "values.schema.json").read_text())
        readme = (helmkit.CHART / "README.md").read_text()
        readme = readme.split("\n## Values\n", 1)[1].split("\n## ", 1)[0]
        self.documented = set(re.findall(r"^\| `([^`]+)` \|", readme, re.MULTILINE))

    def test_every_value_is_in_the_readme(self) -> None:
        paths = value_paths(self.values, self.schema)
        self.assertGreater(len(paths), 50)
        self.assertEqual([p for p in paths if p not in self.documented], [])

    def test_the_readme_documents_no_missing_value(self) -> None:
        paths = set(value_paths(self.values, self.schema))
        self.assertEqual(sorted(self.documented - paths), [])

    def test_every_value_has_a_schema(self) -> None:
        def walk(values: dict[str, Any], schema: dict[str, Any], prefix: str) -> None:
            for key, value in values.items():
                self.assertIn(key, schema.get("properties", {}), f"{prefix}{key} is not in values.schema.json")
                if isinstance(value, dict) and "properties" in schema["properties"][key]:
                    walk(value, schema["properties"][key], f"{prefix}{key}.")
        walk(self.values, self.schema, "")


class ChartDrivesEntrypoint(unittest.TestCase):
    """The rendered pod environment, fed to the rendered script, names the rendered Services."""

    def pod_env(self, objects: list[dict[str, Any]], pod: str, namespace: str) -> dict[str, str]:
        env = {}
        for name, value in env_of(objects).items():
            if isinstance(value, dict) and "secretKeyRef" in value:
                value = "admin-token-from-the-secret-0123456789abcdef"  # what the kubelet would inject
            elif isinstance(value, dict):
                value = {"metadata.name": pod, "metadata.namespace": namespace}[value["fieldRef"]["fieldPath"]]
            env[name] = value
        return env

    def run_rendered(self, values: dict[str, Any] | None, pod: str, namespace: str, cluster_url: str | None = None):
        """The rendered entrypoint in the rendered pod environment. Without `cluster_url` the
        pod's volume already holds a node (it resumes and asks nobody); with it, the volume
        is new and the cluster's client URL is that fake."""
        objects = render(values, namespace=namespace)
        tmp = Path(tempfile.mkdtemp(prefix="runnel-rendered-"))
        self.addCleanup(shutil.rmtree, tmp)
        script = tmp / "entrypoint.sh"
        script.write_text(one(objects, "ConfigMap")["data"]["entrypoint.sh"])
        env = self.pod_env(objects, pod, namespace)
        env["RUNNEL_DATA_DIR"] = str(tmp / "data")
        if cluster_url:
            env["JOIN_URL"] = cluster_url
            env.pop("RUNNEL_JOIN_CA", None)
        else:
            (tmp / "data").mkdir()
            (tmp / "data" / "CURRENT").write_text("MANIFEST-000001\n")
        args = container(objects).get("args", [])
        return objects, run_entrypoint(env, args=args, script=script)

    def test_pod_two_of_the_default_install(self) -> None:
        objects, run = self.run_rendered(None, "runnel-2", "streams")
        self.assertEqual(run.code, 0, run.stderr)
        self.assertEqual(run.flag("--node-id"), "3")
        headless = one([s for s in by_kind(objects, "Service") if s["spec"].get("clusterIP") == "None"], "Service")
        self.assertEqual(run.peers(), {
            i + 1: f"runnel-{i}.{headless['metadata']['name']}.streams.svc.cluster.local:4438" for i in range(3)
        })
        self.assertEqual(run.env["RUNNEL_LISTEN"], "0.0.0.0:4437")
        self.assertEqual(run.env["RUNNEL_PEER_LISTEN"], "0.0.0.0:4438")
        self.assertEqual(run.env["RUNNEL_LOG_LEVEL"], "info")

    def test_production_pods(self) -> None:
        values = load_values("production")
        _, first = self.run_rendered(values, "streams-0", "data")
        self.assertEqual(first.code, 0, first.stderr)
        self.assertEqual(len(first.peers()), 3)
        self.assertEqual(first.peers()[1], "streams-0.streams-headless.data.svc.corp.internal:4438")
        self.assertEqual(first.env["RUNNEL_LISTEN"], "[::]:4437")
        self.assertEqual(first.env["RUNNEL_TLS_CERT"], "/etc/runnel/tls/tls.crt")
        self.assertEqual(first.argv[-2:], ["--read-chunk-bytes", "1048576"])
        _, added = self.run_rendered(values, "streams-4", "data")
        self.assertEqual(added.code, 0, added.stderr)
        self.assertEqual(added.flag("--node-id"), "5")
        self.assertEqual(added.flag("--join"), "https://streams.data.svc.corp.internal:443")
        self.assertEqual(added.env["RUNNEL_ADVERTISE"], "streams-4.streams-headless.data.svc.corp.internal:4438")
        self.assertEqual(added.env["RUNNEL_JOIN_CA"], "/etc/runnel/peer-ca/ca.crt")

    @unittest.skipUnless(shutil.which("curl"), "the entrypoint asks the cluster with curl")
    def test_scaled_up_pod_of_the_default_install_joins(self) -> None:
        from fakecluster import FakeCluster
        with FakeCluster() as cluster:
            _, run = self.run_rendered({"replicaCount": 4}, "runnel-3", "streams", cluster_url=cluster.url)
            self.assertEqual(run.code, 0, run.stderr)
            self.assertEqual(run.flag("--node-id"), "4")
            self.assertEqual(run.flag("--join"), cluster.url)
            self.assertEqual(run.env["RUNNEL_ADVERTISE"], "runnel-3.runnel-headless.streams.svc.cluster.local:4438")
            self.assertEqual(cluster.calls("POST"), [])


if __name__ == "__main__":
    unittest.main()
