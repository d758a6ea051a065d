"""The chart's JWT settings (auth.jwt, default rates) as a real runnel process reads them.

Renders the chart with the `jwt` values variant, writes each mounted Secret's file where
the pod would see it (under a temporary directory standing in for the container's root),
and starts one runnel node with the rendered RUNNEL_* variables: it must start (the files
and numbers parse), accept an HS256 JWT with the configured issuer and audience, and refuse
one for another audience.

Needs the runnel binary that `make test` builds (or RUNNEL_BINARY); skipped otherwise.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from helmkit import load_values, one, render
from scripttest import REPO

BINARY = Path(os.environ.get("RUNNEL_BINARY", REPO / ".build" / "debug" / "runnel"))
ADMIN_TOKEN = "admin-token-for-the-jwt-test-0123456789abcdef"
HS256_SECRET = b"an-hs256-secret-of-more-than-32-bytes-for-tests"
# The Ed25519 public key of RFC 8037, appendix A.2: a JWKS runnel must load to start.
JWKS = {"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "rfc8037", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256_jwt(claims: dict[str, Any], secret: bytes = HS256_SECRET) -> str:
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = b64url(json.dumps(claims).encode())
    signature = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64url(signature)}"


@unittest.skipUnless(BINARY.exists(), f"no runnel binary at {BINARY} (make test builds it)")
class RenderedJWTSettingsReachRunnel(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="runnel-chart-jwt-"))
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def pod_files_and_env(self, values: dict[str, Any]) -> dict[str, str]:
        """The rendered RUNNEL_* variables with plain values, file paths moved under self.tmp,
        and the Secrets' contents written at those paths as the kubelet would mount them."""
        objects = render(values)
        pod = one(objects, "StatefulSet")["spec"]["template"]["spec"]
        contents = {"runnel-jwks": {"jwks.json": json.dumps(JWKS)},
                    "runnel-hs256": {"secret": HS256_SECRET.decode() + "\n"}}
        mounts = {m["name"]: m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
        for volume in pod["volumes"]:
            if not volume["name"].startswith("jwt-"):
                continue
            secret = volume["secret"]
            for item in secret["items"]:
                path = self.tmp / mounts[volume["name"]].lstrip("/") / item["path"]
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(contents[secret["secretName"]][item["key"]])
        env = {}
        for entry in pod["containers"][0]["env"]:
            if entry["name"].startswith(("RUNNEL_JWT_", "RUNNEL_KEY_", "RUNNEL_AUTH_")) and "value" in entry:
                value = entry["value"]
                env[entry["name"]] = str(self.tmp / value.lstrip("/")) if value.startswith("/etc/runnel/") else value
        return env

    def test_runnel_starts_with_the_rendered_settings_and_checks_claims(self) -> None:
        values = load_values("jwt")
        env = self.pod_files_and_env(values)
        self.assertIn("RUNNEL_JWT_JWKS_FILE", env)
        self.assertTrue(Path(env["RUNNEL_JWT_JWKS_FILE"]).is_file())
        self.assertTrue(Path(env["RUNNEL_JWT_HS256_SECRET_FILE"]).is_file())
        port = free_port()
        log_path = self.tmp / "runnel.log"
        with open(log_path, "wb") as log:
            node = subprocess.Popen(
                [str(BINARY), "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", str(self.tmp / "data"),
                 "--log-level", "warning"],
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "RUNNEL_ADMIN_TOKEN": ADMIN_TOKEN, **env},
                stdout=log, stderr=subprocess.STDOUT)
        self.addCleanup(stop, node)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while status(f"{base}/healthz") != 200:
            if node.poll() is not None or time.monotonic() > deadline:
                self.fail(f"runnel did not start with {env}:\n{log_path.read_text()}")
            time.sleep(0.1)

        jwt = values["auth"]["jwt"]
        claims = {"sub": "app", "iss": jwt["issuer"], "aud": jwt["audience"], "scope": "read",
                  "exp": int(time.time()) + 300}
        # Authorized: the stream does not exist.
        self.assertEqual(status(f"{base}/v1/stream/absent", hs256_jwt(claims)), 404)
        for bad in ({"aud": "someone-else"}, {"iss": "https://other.example.com/"},
                    {"exp": int(time.time()) - 3600}):
            with self.subTest(claims=bad):
                self.assertEqual(status(f"{base}/v1/stream/absent", hs256_jwt({**claims, **bad})), 401)
        self.assertEqual(status(f"{base}/v1/stream/absent", hs256_jwt(claims, b"x" * 40)), 401)


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status(url: str, token: str | None = None) -> int | None:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, OSError):
        return None


def stop(node: subprocess.Popen[bytes]) -> None:
    node.terminate()
    try:
        node.wait(timeout=20)
    except subprocess.TimeoutExpired:
        node.kill()
        node.wait()


if __name__ == "__main__":
    unittest.main()
