"""Runs the chart's shell scripts with a stand-in `runnel` that reports how it was called."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FILES = REPO / "helm" / "runnel" / "files"
ENTRYPOINT = FILES / "entrypoint.sh"
PRESTOP = FILES / "prestop.sh"

# Prints its arguments and RUNNEL_* environment as JSON, as the exec'd `runnel` would see them.
FAKE_RUNNEL = """#!/usr/bin/env python3
import json, os, sys
json.dump({"argv": sys.argv[1:], "env": {k: v for k, v in os.environ.items() if k.startswith("RUNNEL_")}}, sys.stdout)
"""


def shells() -> list[str]:
    """The POSIX shells to run the scripts under: the image's /bin/sh is dash (Debian)."""
    found = []
    for name in ("sh", "dash", "bash"):
        path = shutil.which(name)
        if path and os.path.realpath(path) not in {os.path.realpath(p) for p in found}:
            found.append(path)
    return found


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    argv: list[str]
    env: dict[str, str]

    def flag(self, name: str) -> str | None:
        """The value after `name` in argv, or None if absent."""
        if name not in self.argv:
            return None
        return self.argv[self.argv.index(name) + 1]

    def peers(self) -> dict[int, str]:
        """--peers parsed into {id: address}."""
        result = {}
        for entry in (self.flag("--peers") or "").split(","):
            node, _, address = entry.partition("=")
            assert node.isdigit(), f"peer entry {entry!r} has no numeric id"
            assert int(node) not in result, f"peer id {node} appears twice"
            result[int(node)] = address
        return result


def run_entrypoint(env: dict[str, str], args: list[str] | None = None, shell: str = "sh",
                   script: Path = ENTRYPOINT) -> Run:
    """Runs the entrypoint with only `env` (plus PATH) and a fake runnel binary."""
    with tempfile.TemporaryDirectory(prefix="runnel-entrypoint-") as tmp:
        fake = Path(tmp) / "runnel"
        fake.write_text(FAKE_RUNNEL)
        fake.chmod(0o755)
        full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "RUNNEL_BIN": str(fake), **env}
        proc = subprocess.run([shell, str(script), *(args or [])], env=full_env,
                              capture_output=True, text=True, timeout=20)
    argv, child_env = [], {}
    if proc.returncode == 0 and proc.stdout:
        reported = json.loads(proc.stdout)
        argv, child_env = reported["argv"], reported["env"]
    return Run(proc.returncode, proc.stdout, proc.stderr, argv, child_env)
