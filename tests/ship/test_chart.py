"""The Helm chart, rendered by the real Helm engine and checked as Kubernetes would see it.

Core objects are validated against the Kubernetes OpenAPI schemas of every version from 1.29
(native sidecars on by default) to the newest kubernetes-validate ships, in strict mode (unknown
fields fail). Prometheus Operator objects are custom resources, so their shape is checked here.
Every rendered pod spec must pass the restricted Pod Security Standard.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from helm_python import lint
from helm_python.errors import HelmError
from packaging.version import Version

from tests.ship import chart_readme
from tests.ship.k8s import (
    CHART_DIR,
    COMPONENTS,
    NAMESPACE,
    Manifest,
    find,
    manifests,
    pod_specs,
    render,
    restricted_violations,
)

MODES = ("init", "sidecar", "native-sidecar")
METRICS = {
    "token_ttl_seconds", "token_expiry_timestamp_seconds", "authenticated", "auth_total",
    "lease_ttl_seconds", "lease_expiry_timestamp_seconds", "lease_renewals_total",
    "secret_fetches_total", "secret_rotations_total", "template_renders_total",
    "template_last_render_timestamp_seconds", "actions_total", "vault_request_duration_seconds",
    "ready", "build_info",
}
EVERYTHING_ON = {
    "example": {"enabled": True},
    "tokenReviewer": {"clusterRoleBinding": True},
    "monitoring": {
        "podMonitor": {"enabled": True},
        "serviceMonitor": {"enabled": True},
        "prometheusRule": {"enabled": True},
        "grafanaDashboard": {"enabled": True},
    },
    "vault": {"caCert": {"configMapName": "vault-ca"}, "auth": {"audience": "vault"}},
}


def _kubernetes_versions() -> list[str]:
    versions = sorted({v for v in kubernetes_validate.utils.all_versions()}, key=Version)
    return [v for v in versions if Version(v) >= Version("1.29")]


KUBERNETES_VERSIONS = _kubernetes_versions()


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _variant(mode: str, annotations: bool = False) -> dict[str, Any]:
    return _merge(EVERYTHING_ON, {
        "agent": {"mode": mode},
        "core": {"annotations": annotations},
    })


@cache
def _validated(document: str, version: str) -> None:
    kubernetes_validate.validate(json.loads(document), version, strict=True)


def _example(objects: list[Manifest]) -> Manifest:
    (deployment,) = find(objects, "Deployment", "s4e-secret-agent-example")
    spec: Manifest = deployment["spec"]["template"]["spec"]
    return spec


def _by_name(items: list[Manifest] | None) -> dict[str, Manifest]:
    return {item["name"]: item for item in items or []}


# Lint, schema ------------------------------------------------------------------------------


def test_strict_lint_is_clean() -> None:
    for values in ({}, EVERYTHING_ON):
        report = lint(CHART_DIR, values, strict=True, namespace=NAMESPACE,
                      kube_version="v1.29.0")
        problems = [m for m in report["messages"] if m["severity"] >= 2]
        assert (report["errors"], problems) == ([], [])


def test_default_values_satisfy_the_schema_and_python_jsonschema_agrees() -> None:
    import jsonschema

    schema = json.loads((CHART_DIR / "values.schema.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    values = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    jsonschema.Draft7Validator(schema).validate(values)


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ({}, "core.templates[0] (db): needs contents (the template text) or source"),
        ({"contents": "x", "source": "/t"}, "core.templates[0] (db): set either contents or "
                                            "source, not both"),
        ({"contents": "x", "command": "true", "exec": {"command": "true"}},
         "core.templates[0] (db): set either command or exec, not both"),
        ({"contents": "x", "signal": {"signal": "SIGHUP"}},
         "core.templates[0] (db): signal needs exactly one of process (a process name) or "
         "pid_file"),
        ({"contents": "x", "signal": {"process": "app", "pid_file": "/run/app.pid"}},
         "signal needs exactly one of process"),
    ],
)
def test_template_choices_are_checked_with_the_template_index(
    template: dict[str, Any], message: str
) -> None:
    with pytest.raises(HelmError) as caught:
        render({"core": {"templates": [{"name": "db", **template}]}})
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"core": {"mode": "sidekick"}}, "at '/core/mode': value must be one of"),
        ({"core": {"templatez": []}}, "additional properties 'templatez' not allowed"),
        ({"agent": {"metricsPort": "9102"}}, "at '/agent/metricsPort': got string, want integer"),
        ({"core": {"templates": [{"name": "db", "contents": "x", "perms": 640}]}},
         "at '/core/templates/0/perms': got number, want string"),
        ({"core": {"templates": [{"contents": "x"}]}}, "missing property 'name'"),
        ({"core": {"templates": [{"name": "db", "contents": "x", "signal": "SIGHUP"}]}},
         "at '/core/templates/0/signal': got string, want object"),
        ({"vault": {"address": "vault:8200"}}, "at '/vault/address'"),
        ({"vault": {"auth": {"tokenExpirationSeconds": 60}}}, "minimum"),
        ({"agent": {"runAsUser": 0}}, "at '/agent/runAsUser'"),
        ({"image": {"digest": "latest"}}, "at '/image/digest'"),
        ({"unknownTopLevel": True}, "additional properties 'unknownTopLevel' not allowed"),
    ],
)
def test_schema_rejects_wrong_values_naming_the_path(values: dict[str, Any], message: str) -> None:
    with pytest.raises(HelmError) as caught:
        render(values)
    assert message in str(caught.value)


# Kubernetes validity -------------------------------------------------------------------------


@pytest.mark.parametrize("annotations", [False, True], ids=["config", "annotations"])
@pytest.mark.parametrize("mode", MODES)
def test_every_object_is_valid_kubernetes_from_1_29_to_newest(mode: str, annotations: bool) -> None:
    objects = manifests(_variant(mode, annotations))
    assert len(KUBERNETES_VERSIONS) >= 2 and KUBERNETES_VERSIONS[0] == "1.29.0"
    custom = [o for o in objects if o["apiVersion"].startswith("monitoring.coreos.com/")]
    core = [o for o in objects if o not in custom]
    assert {o["kind"] for o in core} >= {
        "ServiceAccount", "ConfigMap", "ClusterRoleBinding", "Deployment", "Service"
    }
    for obj in core:
        document = json.dumps(obj, sort_keys=True)
        for version in KUBERNETES_VERSIONS:
            try:
                _validated(document, version)
            except kubernetes_validate.ValidationError as error:
                path = "/".join(str(p) for p in error.path)
                pytest.fail(f"{obj['kind']}/{obj['metadata']['name']} invalid for Kubernetes "
                            f"{version} at {path}: {error.message}")
    assert {o["kind"] for o in custom} == {"PodMonitor", "ServiceMonitor", "PrometheusRule"}


def test_validator_catches_a_bad_field() -> None:
    """Guards the check above: strict schemas reject an unknown container field."""
    deployment = find(manifests(_variant("native-sidecar")), "Deployment")[0]
    deployment["spec"]["template"]["spec"]["initContainers"][0]["restartPolicyy"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[0], strict=True)


def test_monitoring_custom_resources_have_the_operator_shape() -> None:
    objects = manifests(EVERYTHING_ON)
    (pod_monitor,) = find(objects, "PodMonitor")
    assert pod_monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert pod_monitor["spec"]["selector"]["matchLabels"] == {"s4e-secret-agent/metrics": "true"}
    assert pod_monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    (endpoint,) = pod_monitor["spec"]["podMetricsEndpoints"]
    assert endpoint == {"port": "agent-metrics", "path": "/metrics", "interval": "30s"}

    (service_monitor,) = find(objects, "ServiceMonitor")
    (service,) = find(objects, "Service")
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["selector"] == {"s4e-secret-agent/metrics": "true"}
    selected = service_monitor["spec"]["selector"]["matchLabels"]
    assert selected.items() <= service["metadata"]["labels"].items()
    assert service_monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"]

    (rule,) = find(objects, "PrometheusRule")
    (group,) = rule["spec"]["groups"]
    alerts = {r["alert"]: r for r in group["rules"]}
    assert set(alerts) == {
        "S4ESecretAgentTokenExpiringSoon", "S4ESecretAgentLeaseExpiringSoon",
        "S4ESecretAgentLeaseRenewalsFailing", "S4ESecretAgentAuthFailing",
        "S4ESecretAgentNotReady", "S4ESecretAgentRenderFailing",
    }
    for alert in alerts.values():
        assert set(alert) == {"alert", "expr", "for", "labels", "annotations"}
        assert re.fullmatch(r"\d+[smh]", alert["for"])
        assert alert["labels"] == {"severity": "warning"}
        assert {"summary", "description"} <= set(alert["annotations"])
        _assert_known_metrics(alert["expr"])
        assert alert["expr"].count("(") == alert["expr"].count(")")
    assert "< 600" in alerts["S4ESecretAgentTokenExpiringSoon"]["expr"]


def _assert_known_metrics(expression: str) -> None:
    names = set(re.findall(r"\bs4e_secret_agent_(\w+)", expression))
    assert names, expression
    for name in names:
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        assert base in METRICS, f"unknown metric s4e_secret_agent_{name} in {expression}"


def test_alert_thresholds_follow_values() -> None:
    objects = manifests(_merge(EVERYTHING_ON, {"monitoring": {"prometheusRule": {
        "tokenExpiryMinutes": 3, "leaseExpiryMinutes": 7, "severity": "critical"}}}))
    (rule,) = find(objects, "PrometheusRule")
    rules = {r["alert"]: r for r in rule["spec"]["groups"][0]["rules"]}
    assert rules["S4ESecretAgentTokenExpiringSoon"]["expr"].endswith("< 180")
    assert rules["S4ESecretAgentLeaseExpiringSoon"]["expr"].endswith("< 420")
    assert rules["S4ESecretAgentNotReady"]["labels"]["severity"] == "critical"


def test_grafana_dashboard_is_json_over_the_agent_metrics() -> None:
    objects = manifests(EVERYTHING_ON)
    (config_map,) = find(objects, "ConfigMap", "s4e-secret-agent-dashboard")
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = json.loads(config_map["data"]["s4e-secret-agent.json"])
    titles = {panel["title"] for panel in dashboard["panels"]}
    assert {"Token TTL", "Lease TTL by secret", "Lease renewals", "Secret rotations",
            "Render errors"} <= titles
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            _assert_known_metrics(target["expr"])


# Pod shapes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("annotations", [False, True], ids=["config", "annotations"])
@pytest.mark.parametrize("mode", MODES)
def test_every_pod_passes_the_restricted_pod_security_standard(
    mode: str, annotations: bool
) -> None:
    pods = list(pod_specs(manifests(_variant(mode, annotations))))
    assert pods
    for name, metadata, spec in pods:
        assert restricted_violations(metadata, spec) == [], name
        for container in spec.get("initContainers", []) + spec["containers"]:
            assert container["securityContext"]["readOnlyRootFilesystem"] is True


def test_restricted_check_catches_violations() -> None:
    """Guards the check above with a pod that breaks several rules."""
    spec = _example(manifests(_variant("sidecar")))
    spec["hostNetwork"] = True
    spec["volumes"].append({"name": "host", "hostPath": {"path": "/"}})
    agent = spec["containers"][1]["securityContext"]
    agent["allowPrivilegeEscalation"] = True
    agent["capabilities"] = {"add": ["SYS_PTRACE"]}
    agent["seccompProfile"] = {"type": "Unconfined"}
    del spec["securityContext"]["runAsNonRoot"]
    del spec["containers"][0]["securityContext"]["runAsNonRoot"]
    problems = "\n".join(restricted_violations({}, spec))
    for expected in ("hostNetwork", "hostPath", "allowPrivilegeEscalation", "SYS_PTRACE",
                     "capabilities.drop must include ALL", "seccompProfile", "runAsNonRoot"):
        assert expected in problems


def test_native_sidecar_is_a_restartable_init_container_gated_by_readyz() -> None:
    spec = _example(manifests(_variant("native-sidecar")))
    (agent,) = spec["initContainers"]
    assert agent["restartPolicy"] == "Always"
    assert agent["args"][0] == "sidecar"
    assert agent["startupProbe"]["httpGet"] == {"path": "/readyz", "port": "agent-metrics"}
    assert agent["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert "readinessProbe" not in agent
    assert agent["ports"] == [{"name": "agent-metrics", "containerPort": 9102, "protocol": "TCP"}]
    assert "--metrics-listen" in agent["args"]
    assert [c["name"] for c in spec["containers"]] == ["core"]


def test_init_mode_renders_once_before_the_app() -> None:
    spec = _example(manifests(_variant("init")))
    (agent,) = spec["initContainers"]
    assert agent["name"] == "s4e-secret-agent-init"
    assert "restartPolicy" not in agent and "ports" not in agent
    assert agent["args"][:3] == ["init", "--config", "/etc/s4e-secret-agent/config.yaml"]
    assert [c["name"] for c in spec["containers"]] == ["core"]


def test_classic_sidecar_has_an_init_container_and_a_sidecar() -> None:
    objects = manifests(_variant("sidecar"))
    spec = _example(objects)
    assert [c["name"] for c in spec["initContainers"]] == ["s4e-secret-agent-init"]
    assert [c["name"] for c in spec["containers"]] == ["core", "s4e-secret-agent"]
    sidecar = spec["containers"][1]
    assert sidecar["args"][0] == "sidecar"
    assert sidecar["startupProbe"]["httpGet"]["path"] == "/readyz"
    assert "readinessProbe" not in sidecar, "a sidecar's readiness would gate the whole pod"
    labels = find(objects, "Deployment")[0]["spec"]["template"]["metadata"]["labels"]
    assert labels["s4e-secret-agent/metrics"] == "true"


def test_volumes_mounts_and_pod_settings() -> None:
    spec = _example(manifests(_variant("native-sidecar")))
    volumes = _by_name(spec["volumes"])
    assert volumes["s4e-secrets"]["emptyDir"] == {"medium": "Memory", "sizeLimit": "5Mi"}
    (token_source,) = volumes["s4e-vault-token"]["projected"]["sources"]
    assert token_source["serviceAccountToken"] == {
        "path": "token", "expirationSeconds": 3600, "audience": "vault"
    }
    assert volumes["s4e-vault-ca"]["configMap"]["name"] == "vault-ca"
    assert volumes["s4e-agent-config"]["configMap"]["name"] == "s4e-secret-agent-core"
    app = spec["containers"][0]
    assert app["volumeMounts"] == [
        {"name": "s4e-secrets", "mountPath": "/vault/secrets", "readOnly": True}
    ]
    agent_mounts = _by_name(spec["initContainers"][0]["volumeMounts"])
    assert agent_mounts["s4e-secrets"]["mountPath"] == "/vault/secrets"
    assert "readOnly" not in agent_mounts["s4e-secrets"]
    assert agent_mounts["s4e-vault-ca"]["mountPath"] == "/vault/tls"
    env = {e["name"]: e.get("value") for e in spec["initContainers"][0]["env"]}
    assert env["VAULT_ADDR"] == "https://vault.vault.svc:8200"
    assert env["VAULT_CACERT"] == "/vault/tls/ca.crt"
    assert spec["securityContext"]["fsGroup"] == 10001
    assert "shareProcessNamespace" not in spec
    assert spec["automountServiceAccountToken"] is False


def test_extra_volumes_reach_the_agent() -> None:
    objects = manifests(_merge(_variant("init"), {"agent": {
        "extraEnv": [{"name": "HTTPS_PROXY", "value": "http://proxy:3128"}],
        "extraVolumes": [{"name": "templates", "configMap": {"name": "s4e-templates"}}],
        "extraVolumeMounts": [{"name": "templates", "mountPath": "/templates", "readOnly": True}],
    }}))
    spec = _example(objects)
    assert _by_name(spec["volumes"])["templates"] == {"name": "templates",
                                                       "configMap": {"name": "s4e-templates"}}
    assert _by_name(spec["initContainers"][0]["volumeMounts"])["templates"]["mountPath"] == (
        "/templates")
    assert _by_name(spec["initContainers"][0]["env"])["HTTPS_PROXY"]["value"] == (
        "http://proxy:3128")


def test_a_signal_action_shares_the_process_namespace() -> None:
    values = _merge(_variant("native-sidecar"), {"core": {"templates": [{
        "name": "db", "contents": "x", "signal": {"signal": "SIGHUP", "process": "gunicorn"},
    }]}})
    objects = manifests(values)
    assert _example(objects)["shareProcessNamespace"] is True
    config = _agent_config(objects, "core")
    assert config["template"][0]["signal"] == {"signal": "SIGHUP", "process": "gunicorn"}


def test_annotations_mode_reads_the_downward_api_file() -> None:
    objects = manifests(_variant("native-sidecar", annotations=True))
    spec = _example(objects)
    volumes = _by_name(spec["volumes"])
    assert volumes["s4e-podinfo"]["downwardAPI"]["items"] == [
        {"path": "annotations", "fieldRef": {"fieldPath": "metadata.annotations"}}
    ]
    assert "s4e-agent-config" not in volumes
    agent = spec["initContainers"][0]
    assert agent["args"][1:3] == ["--annotations", "/etc/podinfo/annotations"]
    assert _by_name(agent["volumeMounts"])["s4e-podinfo"]["mountPath"] == "/etc/podinfo"
    assert not find(objects, "ConfigMap", "s4e-secret-agent-core")
    annotations = find(objects, "Deployment")[0]["spec"]["template"]["metadata"]["annotations"]
    assert annotations["vault.hashicorp.com/agent-inject-secret-db"] == "s4e/data/database"
    assert 'with secret "s4e/data/database"' in annotations[
        "vault.hashicorp.com/agent-inject-template-db"]


@pytest.mark.parametrize("component", COMPONENTS)
def test_components_have_service_accounts_and_per_component_modes(component: str) -> None:
    objects = manifests({component: {"mode": "init"},
                         "tokenReviewer": {"clusterRoleBinding": True}})
    (account,) = find(objects, "ServiceAccount", f"s4e-{component}")
    assert account["metadata"]["namespace"] == NAMESPACE
    (binding,) = find(objects, "ClusterRoleBinding")
    assert binding["roleRef"]["name"] == "system:auth-delegator"
    assert {s["name"] for s in binding["subjects"]} == {f"s4e-{c}" for c in COMPONENTS}
    notes = render({component: {"mode": "init"}})["s4e-secret-agent/templates/NOTES.txt"]
    assert f"{component}: mode init" in notes


def test_disabled_component_gets_nothing() -> None:
    objects = manifests({"crawler": {"enabled": False}})
    assert not find(objects, "ServiceAccount", "s4e-crawler")
    assert not find(objects, "ConfigMap", "s4e-secret-agent-crawler")
    with pytest.raises(HelmError, match="crawler is not enabled"):
        render({"crawler": {"enabled": False},
                "example": {"enabled": True, "component": "crawler"}})


# The agent configuration -------------------------------------------------------------------


def _agent_config(objects: list[Manifest], component: str) -> dict[str, Any]:
    (config_map,) = find(objects, "ConfigMap", f"s4e-secret-agent-{component}")
    config: dict[str, Any] = yaml.safe_load(config_map["data"]["config.yaml"])
    return config


def test_rendered_agent_config_has_the_vault_agent_shape() -> None:
    config = _agent_config(manifests(EVERYTHING_ON), "core")
    assert config["vault"] == {"address": "https://vault.vault.svc:8200",
                               "ca_cert": "/vault/tls/ca.crt"}
    assert config["auto_auth"] == {"method": {
        "type": "kubernetes",
        "mount_path": "auth/kubernetes",
        "config": {"role": "s4e",
                   "token_path": "/var/run/secrets/kubernetes.io/serviceaccount/token"},
    }}
    assert config["template_config"] == {
        "static_secret_render_interval": "5m", "exit_on_retry_failure": True,
    }
    (template,) = config["template"]
    assert template["destination"] == "/vault/secrets/db"
    assert template["perms"] == "0640"
    # The seed's template survives Helm byte for byte (it is data, not a Helm template).
    values = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    assert template["contents"] == values["core"]["templates"][0]["contents"]
    assert template["contents"].startswith('{{- with secret "s4e/data/database" -}}\n')


def test_template_options_map_to_vault_agent_field_names() -> None:
    objects = manifests({"trigger": {"role": "s4e-trigger", "templates": [{
        "name": "app.env", "destination": "/vault/secrets/app/env", "source": "/tpl/app.ctmpl",
        "perms": "0400", "errorOnMissingKey": True,
        "exec": {"command": ["/bin/true"], "timeout": "10s"},
    }, {"name": "other", "contents": "x", "command": "pkill -HUP trigger"}]},
        "vault": {"namespace": "team-s4e", "tlsServerName": "vault.internal"}})
    config = _agent_config(objects, "trigger")
    assert config["auto_auth"]["method"]["config"]["role"] == "s4e-trigger"
    assert config["vault"]["namespace"] == "team-s4e"
    assert config["vault"]["tls_server_name"] == "vault.internal"
    assert config["template"] == [{
        "name": "app.env", "destination": "/vault/secrets/app/env", "source": "/tpl/app.ctmpl",
        "perms": "0400", "error_on_missing_key": True,
        "exec": {"command": ["/bin/true"], "timeout": "10s"},
    }, {
        "name": "other", "destination": "/vault/secrets/other", "contents": "x", "perms": "0640",
        "command": "pkill -HUP trigger",
    }]


def _config_check_is_a_stub() -> bool:
    result = subprocess.run(
        [sys.executable, "-m", "s4e_secret_agent", "config", "check", "--help"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    return "--config" not in result.stdout


needs_config_check = pytest.mark.skipif(
    _config_check_is_a_stub(),
    reason="`s4e-secret-agent config check` has no --config option yet in this build",
)


def _config_check(*args: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "s4e_secret_agent", "config", "check", *args],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, **(env or {})},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


RICH_TEMPLATES = {"core": {"templates": [
    {"name": "db",
     "contents": '{{ with secret "s4e/data/database" }}{{ .Data.data.host }}{{ end }}',
     "perms": "0600", "signal": {"signal": "SIGUSR1", "process": "gunicorn"}},
    {"name": "app",
     "contents": '{{ with secret "s4e/data/app" }}{{ .Data.data.secret_key }}{{ end }}',
     "exec": {"command": ["touch", "/tmp/reloaded"], "timeout": "5s"}, "errorOnMissingKey": True},
    {"name": "redis", "destination": "/vault/secrets/cache/redis",
     "contents": '{{ with secret "s4e/data/redis" }}{{ .Data.data.password }}{{ end }}',
     "command": "echo changed"},
]}}


@needs_config_check
@pytest.mark.parametrize("component", COMPONENTS)
def test_agent_accepts_the_rendered_config(component: str, tmp_path: Path) -> None:
    config_map = find(manifests(EVERYTHING_ON), "ConfigMap", f"s4e-secret-agent-{component}")[0]
    config_file = tmp_path / "config.yaml"
    config_file.write_text(config_map["data"]["config.yaml"])
    plan = _config_check("--config", str(config_file))
    assert "/vault/secrets/db" in plan


@needs_config_check
def test_agent_accepts_every_template_option_the_chart_renders(tmp_path: Path) -> None:
    config_map = find(manifests(RICH_TEMPLATES), "ConfigMap", "s4e-secret-agent-core")[0]
    config_file = tmp_path / "config.yaml"
    config_file.write_text(config_map["data"]["config.yaml"])
    plan = json.loads(_config_check("--config", str(config_file), "--json"))
    text = json.dumps(plan)
    for expected in ("/vault/secrets/db", "/vault/secrets/app", "/vault/secrets/cache/redis",
                     "SIGUSR1", "gunicorn", "0600"):
        assert expected in text


@needs_config_check
def test_agent_reads_the_example_pods_annotations_file(tmp_path: Path) -> None:
    """The downward-API file the kubelet writes: sorted key="value" lines, Go-quoted values."""
    objects = manifests(_variant("native-sidecar", annotations=True))
    deployment = find(objects, "Deployment", "s4e-secret-agent-example")[0]
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    podinfo = tmp_path / "annotations"
    podinfo.write_text("\n".join(f"{key}={json.dumps(value)}"
                                  for key, value in sorted(annotations.items())))
    agent = deployment["spec"]["template"]["spec"]["initContainers"][0]
    env = {e["name"]: e["value"] for e in agent["env"] if "value" in e}
    plan = _config_check("--annotations", str(podinfo), env=env)
    assert "/vault/secrets/db" in plan
    assert "role s4e" in plan


# Using the named templates from another chart --------------------------------------------------


def test_named_templates_work_from_a_parent_chart(tmp_path: Path) -> None:
    parent = tmp_path / "s4e"
    (parent / "templates").mkdir(parents=True)
    shutil.copytree(CHART_DIR, parent / "charts" / "s4e-secret-agent")
    (parent / "Chart.yaml").write_text(
        "apiVersion: v2\nname: s4e\nversion: 1.0.0\nappVersion: '9.9.9'\n"
        "dependencies:\n  - name: s4e-secret-agent\n    version: 0.1.0\n"
    )
    (parent / "values.yaml").write_text(
        "s4e-secret-agent:\n  image:\n    tag: '0.1.0'\n  scan:\n    mode: init\n"
    )
    (parent / "templates" / "scan.yaml").write_text("""\
{{- $agent := dict "root" $ "component" "scan" "values" (index .Values "s4e-secret-agent") }}
apiVersion: batch/v1
kind: Job
metadata:
  name: s4e-scan
spec:
  template:
    metadata:
      labels:
        {{- include "s4e-secret-agent.podLabels" $agent | nindent 8 }}
    spec:
      restartPolicy: Never
      serviceAccountName: s4e-scan
      {{- include "s4e-secret-agent.podSettings" $agent | nindent 6 }}
      initContainers:
        {{- include "s4e-secret-agent.initContainers" $agent | nindent 8 }}
      containers:
        - name: scan
          image: s4e/scan:1
          securityContext:
            allowPrivilegeEscalation: false
            capabilities:
              drop: [ALL]
          volumeMounts:
            {{- include "s4e-secret-agent.secretsVolumeMount" $agent | nindent 12 }}
      volumes:
        {{- include "s4e-secret-agent.volumes" $agent | nindent 8 }}
""")
    rendered = render({}, chart_dir=parent)
    (job,) = [d for d in yaml.safe_load_all(rendered["s4e/templates/scan.yaml"]) if d]
    spec = job["spec"]["template"]["spec"]
    assert spec["initContainers"][0]["image"] == "s4e-secret-agent:0.1.0"
    assert spec["initContainers"][0]["args"][0] == "init"
    assert _by_name(spec["volumes"])["s4e-agent-config"]["configMap"]["name"] == (
        "s4e-secret-agent-scan")
    for version in (KUBERNETES_VERSIONS[0], KUBERNETES_VERSIONS[-1]):
        kubernetes_validate.validate(job, version, strict=True)
    assert restricted_violations(job["spec"]["template"]["metadata"], spec) == []
    # The subchart's own ConfigMap is the one the Job mounts.
    assert "name: s4e-secret-agent-scan" in rendered[
        "s4e/charts/s4e-secret-agent/templates/configmaps.yaml"]


# README ------------------------------------------------------------------------------------


def test_chart_readme_values_table_is_current() -> None:
    current = chart_readme.README.read_text(encoding="utf-8")
    expected = chart_readme.expected_readme(current, chart_readme.VALUES.read_text("utf-8"))
    assert current == expected, "run: python -m tests.ship.chart_readme"


def test_every_value_is_documented() -> None:
    values = yaml.safe_load(chart_readme.VALUES.read_text(encoding="utf-8"))
    documented = {path for path, _ in chart_readme.documented_keys(
        chart_readme.VALUES.read_text(encoding="utf-8"))}

    def leaves(node: Any, prefix: str) -> list[str]:
        if isinstance(node, dict) and node and prefix not in documented:
            return [leaf for key, value in node.items()
                    for leaf in leaves(value, f"{prefix}.{key}" if prefix else key)]
        return [prefix]

    undocumented = [leaf for leaf in leaves(values, "") if leaf not in documented]
    assert undocumented == []


# Documentation -------------------------------------------------------------------------------


def _doc_values_blocks() -> list[str]:
    """YAML blocks of docs/kubernetes.md that are values for this chart.

    Skips the S4E values file shown as the starting point and the pod-template snippets.
    """
    text = (CHART_DIR.parents[1] / "docs" / "kubernetes.md").read_text(encoding="utf-8")
    chart_keys = set(yaml.safe_load((CHART_DIR / "values.yaml").read_text()))
    blocks = []
    for block in re.findall(r"```yaml\n(.*?)```", text, flags=re.S):
        if block.startswith("# s4e-values.yaml") or block.lstrip().startswith("{{"):
            continue
        document = yaml.safe_load(block)
        if isinstance(document, dict) and set(document) <= chart_keys:
            blocks.append(block)
    return blocks


def test_values_shown_in_the_kubernetes_guide_render() -> None:
    blocks = _doc_values_blocks()
    assert len(blocks) >= 4
    for block in blocks:
        values = yaml.safe_load(block)
        objects = manifests(values)
        for _, metadata, spec in pod_specs(objects):
            assert restricted_violations(metadata, spec) == []
    combined: dict[str, Any] = {}
    for block in blocks:
        combined = _merge(combined, yaml.safe_load(block))
    objects = manifests(combined)
    assert find(objects, "PodMonitor") and find(objects, "PrometheusRule")
    assert _agent_config(objects, "core")["vault"]["ca_cert"] == "/vault/tls/ca.crt"


def test_config_checksum_rolls_pods_when_templates_change() -> None:
    def checksum(values: dict[str, Any]) -> str:
        deployment = find(manifests(values), "Deployment")[0]
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        value: str = annotations["checksum/s4e-secret-agent-config"]
        return value

    base = _variant("native-sidecar")
    changed = _merge(base, {"core": {"templates": [{"name": "db", "contents": "x"}]}})
    assert re.fullmatch(r"[0-9a-f]{64}", checksum(base))
    assert checksum(base) == checksum(copy.deepcopy(base))
    assert checksum(base) != checksum(changed)
    # The checksum covers only the component's own configuration.
    other = _merge(base, {"trigger": {"templates": [{"name": "db", "contents": "x"}]}})
    assert checksum(base) == checksum(other)


def test_the_api_proxy_value_adds_a_loopback_listener_the_agent_accepts(tmp_path: Path) -> None:
    objects = manifests({"agent": {"apiProxy": {"enabled": True, "port": 8201,
                                                "useAutoAuthToken": "force"}}})
    config = _agent_config(objects, "core")
    assert config["listener"] == [{"type": "tcp", "address": "127.0.0.1:8201",
                                   "tls_disable": True}]
    assert config["api_proxy"] == {"use_auto_auth_token": "force"}
    from s4e_secret_agent.config.load import load_config
    from s4e_secret_agent.config.model import ConfigSources

    config_file = tmp_path / "config.yaml"
    config_file.write_text(yaml.safe_dump(config))
    loaded = load_config(ConfigSources(config_file=str(config_file), environ={}))
    (listener,) = loaded.config.listeners
    assert listener.address == "127.0.0.1:8201" and loaded.config.api_proxy.force_auto_auth_token
    assert "listener" not in _agent_config(manifests({}), "core")
