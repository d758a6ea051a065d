"""The Dockerfile, checked without a container engine: BuildKit's parser, the files it
copies, agreement with the chart, and the runtime libraries against this Debian."""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import subprocess
import unittest
from pathlib import Path

import dockerfile
import yaml

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
CHART_VALUES = yaml.safe_load((REPO / "helm" / "runnel" / "values.yaml").read_text())

# Linked into runnel by --static-swift-stdlib: not needed from the runtime image.
SWIFT_RUNTIME = re.compile(r"^lib(swift|Foundation|_FoundationICU|dispatch|BlocksRuntime)")
# In every Debian image (essential or required by libc6 / libstdc++6 itself).
BASE_PACKAGES = {"libc6", "libstdc++6", "libgcc-s1"}


def instructions() -> list[dockerfile.Command]:
    return list(dockerfile.parse_file(str(DOCKERFILE)))


def stages() -> list[list[dockerfile.Command]]:
    result: list[list[dockerfile.Command]] = []
    for command in instructions():
        if command.cmd.upper() == "FROM":
            result.append([])
        if result:
            result[-1].append(command)
    return result


def arg_defaults() -> dict[str, str]:
    defaults = {}
    for command in instructions():
        if command.cmd.upper() == "ARG" and "=" in command.value[0]:
            name, _, value = command.value[0].partition("=")
            defaults[name] = value
    return defaults


def expand(text: str) -> str:
    defaults = arg_defaults()
    return re.sub(r"\$\{(\w+)\}", lambda m: defaults.get(m.group(1), m.group(0)), text)


def apt_packages(stage: list[dockerfile.Command]) -> list[str]:
    """Packages named by `apt-get install` in the stage's RUN lines."""
    packages = []
    for command in stage:
        if command.cmd.upper() != "RUN":
            continue
        for match in re.finditer(r"apt-get install ((?:[^&]|&(?!&))*)", command.value[0]):
            packages += [w for w in match.group(1).split() if not w.startswith("-")]
    return packages


class Dockerfile(unittest.TestCase):
    def test_two_stages_on_one_debian_release(self) -> None:
        build, runtime = stages()
        self.assertEqual(build[0].value[-2:], ("AS", "build"))
        build_image = expand(build[0].value[0])
        runtime_image = expand(runtime[0].value[0])
        self.assertRegex(build_image, r"^swift:6\.3(\.\d+)?-bookworm$")
        self.assertRegex(runtime_image, r"^debian:bookworm(-slim)?$")

    def test_builds_the_runnel_product_in_release_with_a_static_swift_runtime(self) -> None:
        build, _ = stages()
        runs = " ".join(c.value[0] for c in build if c.cmd.upper() == "RUN")
        self.assertIn("swift build -c release --product runnel --static-swift-stdlib", runs)
        self.assertIn("librocksdb-dev", apt_packages(build))

    def test_runtime_has_rocksdb_and_its_codecs(self) -> None:
        _, runtime = stages()
        packages = set(apt_packages(runtime))
        self.assertLessEqual({"librocksdb7.8", "libsnappy1v5", "liblz4-1", "libzstd1", "zlib1g", "libbz2-1.0"}, packages)
        self.assertIn("curl", packages, "the chart's preStop hook uses curl")

    def test_copied_paths_exist_and_are_not_ignored(self) -> None:
        ignored = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
                   if line.strip() and not line.startswith("#")]
        for command in instructions():
            if command.cmd.upper() != "COPY" or any(f.startswith("--from") for f in command.flags):
                continue
            for source in command.value[:-1]:
                with self.subTest(source=source):
                    matches = list(REPO.glob(source))
                    self.assertTrue(matches, f"COPY {source}: nothing in the repository matches")
                    for pattern in ignored:
                        self.assertFalse(fnmatch.fnmatch(source, pattern), f"{source} is in .dockerignore")

    def test_user_and_ports_match_the_chart(self) -> None:
        _, runtime = stages()
        user = [c.value[0] for c in runtime if c.cmd.upper() == "USER"][-1]
        security = CHART_VALUES["podSecurityContext"]
        self.assertEqual(user, f"{security['runAsUser']}:{security['runAsGroup']}")
        exposed = {int(p) for c in runtime if c.cmd.upper() == "EXPOSE" for p in c.value}
        self.assertEqual(exposed, {CHART_VALUES["ports"]["client"], CHART_VALUES["ports"]["peer"]})
        entrypoint = [c for c in runtime if c.cmd.upper() == "ENTRYPOINT"][-1]
        self.assertTrue(entrypoint.json, "exec form, so runnel gets SIGTERM directly")
        self.assertEqual(entrypoint.value, ("runnel",))

    @unittest.skipUnless(shutil.which("apt-cache") and Path("/etc/debian_version").read_text().startswith("12")
                         if Path("/etc/debian_version").exists() else False,
                         "needs Debian 12 (bookworm) package lists")
    def test_runtime_packages_exist_in_bookworm(self) -> None:
        _, runtime = stages()
        packages = apt_packages(runtime)
        proc = subprocess.run(["apt-cache", "show", "--no-all-versions", *packages], capture_output=True, text=True)
        found = set(re.findall(r"^Package: (\S+)$", proc.stdout, re.MULTILINE))
        if not found:
            self.skipTest("apt package lists not downloaded (apt-get update)")
        self.assertEqual(set(packages) - found, set(), proc.stderr.strip())


class RuntimeLibraries(unittest.TestCase):
    """Every shared library the locally built runnel needs, apart from the Swift runtime,
    comes from a package the runtime stage installs (or from Debian's base)."""

    def test_needed_libraries_are_installed_by_the_runtime_stage(self) -> None:
        binary = Path(os.environ.get("RUNNEL_BINARY", REPO / ".build" / "debug" / "runnel"))
        if not binary.exists() or not shutil.which("readelf") or not shutil.which("dpkg"):
            self.skipTest(f"needs {binary} (make test builds it), readelf and dpkg")
        dynamic = subprocess.run(["readelf", "-d", str(binary)], capture_output=True, text=True, check=True).stdout
        needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dynamic)
        self.assertIn("librocksdb.so.7.8", needed)
        _, runtime = stages()
        installed = set(apt_packages(runtime)) | BASE_PACKAGES
        for soname in needed:
            if SWIFT_RUNTIME.match(soname):
                continue
            with self.subTest(library=soname):
                owner = subprocess.run(["dpkg", "-S", f"*/{soname}"], capture_output=True, text=True)
                self.assertEqual(owner.returncode, 0, f"no package ships {soname}")
                packages = {line.split(":")[0] for line in owner.stdout.splitlines()}
                self.assertTrue(packages & installed, f"{soname} comes from {packages}, not installed by the runtime stage")


if __name__ == "__main__":
    unittest.main()
