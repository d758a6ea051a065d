#!/usr/bin/env bash
# Tests of the Helm chart (helm/runnel) and its scripts: helm lint of the chart with its
# values variants, manifests rendered by Helm's engine and checked against the Kubernetes
# schemas, the entrypoint / preStop logic, three real runnel processes started the way
# the chart starts pods (needs the binary `make test` builds), and static checks of the
# Dockerfile. Installs its Python tools if missing.
# Usage: scripts/test-helm.sh [-v] [-k PATTERN]
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
# Pinned: the tests drive Helm's install path against a fake API server, so a new Helm
# inside helm-sdkpy is taken on deliberately. helm-sdkpy declares Python >= 3.12 but loads
# under 3.11, hence --ignore-requires-python.
REQUIREMENTS=(helm-sdkpy==0.1.32 kubernetes-validate==1.37.0 dockerfile==3.4.0 cffi PyYAML)

if ! "$PYTHON" - "${REQUIREMENTS[@]}" <<'PY' >/dev/null 2>&1
import sys
from importlib.metadata import version
for requirement in sys.argv[1:]:
    name, _, pinned = requirement.partition("==")
    installed = version(name)
    if pinned and installed != pinned:
        sys.exit(1)
PY
then
    echo "test-helm: installing ${REQUIREMENTS[*]}"
    "$PYTHON" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
        --ignore-requires-python "${REQUIREMENTS[@]}"
fi

# No __pycache__ in the working tree.
export PYTHONDONTWRITEBYTECODE=1
exec "$PYTHON" Tests/helm/run.py "$@"
