"""Rendering the chart with the real Helm engine, and checks on the Kubernetes objects it makes.

``restricted_violations`` implements the Pod Security Standards (baseline and restricted
profiles, as the Kubernetes documentation lists them, version "latest") for one pod spec. It
returns human-readable violations instead of raising, so a failing test lists all of them.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml
from helm_python import Chart

from tests.ship.dockerfile import REPO_ROOT

CHART_DIR = REPO_ROOT / "helm" / "s4e-secret-agent"
RELEASE = "s4e"
NAMESPACE = "s4e"
COMPONENTS = ("core", "trigger", "scan", "crawler")

Manifest = dict[str, Any]


def render(values: Mapping[str, Any] | None = None, chart_dir: Path = CHART_DIR) -> dict[str, str]:
    """Template path -> rendered text, as ``helm template`` would produce (NOTES included)."""
    with Chart.load(chart_dir) as chart:
        return chart.render(dict(values or {}), name=RELEASE, namespace=NAMESPACE)


@functools.lru_cache(maxsize=64)
def _manifests(values_json: str) -> tuple[Manifest, ...]:
    objects: list[Manifest] = []
    for path, text in sorted(render(json.loads(values_json)).items()):
        if path.endswith("NOTES.txt"):
            continue
        for document in yaml.safe_load_all(text):
            if document:
                objects.append(document)
    return tuple(objects)


def manifests(values: Mapping[str, Any] | None = None) -> list[Manifest]:
    """The rendered objects (a fresh copy: tests may change them). Renders are cached per
    values, so the many tests over the same variants run the Helm engine once each."""
    key = json.dumps(values or {}, sort_keys=True)
    return copy.deepcopy(list(_manifests(key)))


def find(objects: list[Manifest], kind: str, name: str | None = None) -> list[Manifest]:
    return [
        o for o in objects
        if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)
    ]


def pod_specs(objects: list[Manifest]) -> Iterator[tuple[str, Manifest, Manifest]]:
    """(object name, pod metadata, pod spec) of every workload object."""
    for obj in objects:
        kind = obj["kind"]
        if kind == "Pod":
            yield obj["metadata"]["name"], obj["metadata"], obj["spec"]
        elif kind in {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}:
            template = obj["spec"]["template"]
            yield obj["metadata"]["name"], template.get("metadata", {}), template["spec"]
        elif kind == "CronJob":
            template = obj["spec"]["jobTemplate"]["spec"]["template"]
            yield obj["metadata"]["name"], template.get("metadata", {}), template["spec"]


# Pod Security Standards ---------------------------------------------------------------------

_ALLOWED_VOLUME_TYPES = {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
    "projected", "secret",
}
_BASELINE_CAPABILITIES = {
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
    "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}
_SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}
_SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}


def _containers(spec: Manifest) -> Iterator[tuple[str, Manifest]]:
    for field in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(field) or []:
            yield f"{field}[{container.get('name')}]", container


def restricted_violations(metadata: Manifest, spec: Manifest) -> list[str]:
    """Every baseline + restricted Pod Security Standard rule this pod spec breaks."""
    problems: list[str] = []
    pod_sc: Manifest = spec.get("securityContext") or {}

    # Baseline: host namespaces, hostPath, host ports, privileged, capabilities, and friends.
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field):
            problems.append(f"spec.{field} must be unset or false")
    if (pod_sc.get("windowsOptions") or {}).get("hostProcess"):
        problems.append("spec.securityContext.windowsOptions.hostProcess must not be true")
    for volume in spec.get("volumes") or []:
        types = set(volume) - {"name"}
        if "hostPath" in types:
            problems.append(f"volume {volume['name']}: hostPath is not allowed")
        if not types <= _ALLOWED_VOLUME_TYPES:
            problems.append(f"volume {volume['name']}: type {sorted(types)} is not allowed")
    for sysctl in pod_sc.get("sysctls") or []:
        if sysctl.get("name") not in _SAFE_SYSCTLS:
            problems.append(f"sysctl {sysctl.get('name')} is not in the safe set")
    for key, value in (metadata.get("annotations") or {}).items():
        if key.startswith("container.apparmor.security.beta.kubernetes.io/") and value not in {
            "runtime/default"
        } and not str(value).startswith("localhost/"):
            problems.append(f"annotation {key}={value}: AppArmor must not be unconfined")
    pod_seccomp = (pod_sc.get("seccompProfile") or {}).get("type")
    pod_run_as_non_root = pod_sc.get("runAsNonRoot")
    if pod_sc.get("runAsUser") == 0:
        problems.append("spec.securityContext.runAsUser must not be 0")
    problems.extend(_selinux_and_apparmor("spec.securityContext", pod_sc))

    for where, container in _containers(spec):
        sc: Manifest = container.get("securityContext") or {}
        if sc.get("privileged"):
            problems.append(f"{where}: privileged must be false")
        if (sc.get("windowsOptions") or {}).get("hostProcess"):
            problems.append(f"{where}: windowsOptions.hostProcess must not be true")
        for port in container.get("ports") or []:
            if port.get("hostPort"):
                problems.append(f"{where}: hostPort {port['hostPort']} is not allowed")
        if sc.get("procMount") not in (None, "Default"):
            problems.append(f"{where}: procMount must be Default")
        problems.extend(_selinux_and_apparmor(f"{where}.securityContext", sc))
        capabilities = sc.get("capabilities") or {}
        added = set(capabilities.get("add") or [])
        if not added <= _BASELINE_CAPABILITIES:
            problems.append(f"{where}: capabilities.add {sorted(added)} exceeds baseline")

        # Restricted.
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{where}: allowPrivilegeEscalation must be false")
        if "ALL" not in (capabilities.get("drop") or []):
            problems.append(f"{where}: capabilities.drop must include ALL")
        if not added <= {"NET_BIND_SERVICE"}:
            problems.append(f"{where}: only NET_BIND_SERVICE may be added")
        non_root = sc.get("runAsNonRoot", pod_run_as_non_root)
        if non_root is not True:
            problems.append(f"{where}: runAsNonRoot must be true (pod or container)")
        if sc.get("runAsNonRoot") is False:
            problems.append(f"{where}: runAsNonRoot must not be false")
        if sc.get("runAsUser") == 0:
            problems.append(f"{where}: runAsUser must not be 0")
        seccomp = (sc.get("seccompProfile") or {}).get("type", pod_seccomp)
        if seccomp not in {"RuntimeDefault", "Localhost"}:
            problems.append(f"{where}: seccompProfile.type must be RuntimeDefault or Localhost")
    if pod_seccomp not in (None, "RuntimeDefault", "Localhost"):
        problems.append("spec.securityContext.seccompProfile.type must not be Unconfined")
    return problems


def _selinux_and_apparmor(where: str, sc: Manifest) -> list[str]:
    problems = []
    selinux = sc.get("seLinuxOptions") or {}
    if selinux.get("type", "") not in _SELINUX_TYPES:
        problems.append(f"{where}.seLinuxOptions.type {selinux['type']} is not allowed")
    for field in ("user", "role"):
        if selinux.get(field):
            problems.append(f"{where}.seLinuxOptions.{field} must be unset")
    apparmor = (sc.get("appArmorProfile") or {}).get("type")
    if apparmor == "Unconfined":
        problems.append(f"{where}.appArmorProfile.type must not be Unconfined")
    return problems
