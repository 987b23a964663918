{{/*
Public named templates: what a workload chart includes to run the agent in its pods.

Every template takes one dict:
  root       the including chart's top-level context ($)
  component  core | trigger | scan | crawler (any key of the values tree holding a component)
  values     optional: the values tree with image/vault/agent/<component> keys; defaults to
             root.Values (pass .Values.s4e-secret-agent, or your own copy, from another chart)

List-valued templates emit YAML list items, so they compose with the including chart's own:

  spec:
    serviceAccountName: s4e-core
    {{- include "s4e-secret-agent.podSettings" $ctx | nindent 4 }}
    initContainers:
      {{- include "s4e-secret-agent.initContainers" $ctx | nindent 6 }}
    containers:
      - name: core
        volumeMounts:
          {{- include "s4e-secret-agent.secretsVolumeMount" $ctx | nindent 10 }}
      {{- include "s4e-secret-agent.containers" $ctx | nindent 6 }}
    volumes:
      {{- include "s4e-secret-agent.volumes" $ctx | nindent 6 }}

Public names: initContainers, containers (per the component's mode), initContainer,
sidecarContainer, nativeSidecarContainer, volumes, secretsVolume, secretsVolumeMount,
podSettings, podSecurityContext, podLabels, podAnnotations (config checksum), config (the
agent's configuration file), configMap (the ConfigMap holding it).
*/}}

{{/* Resolved settings of one component, as YAML (read back with fromYaml). */}}
{{- define "s4e-secret-agent.settings" -}}
{{- $values := .values | default .root.Values -}}
{{- $component := index $values .component | default dict -}}
{{- $signal := false -}}
{{- range ($component.templates | default list) -}}
{{- if .signal }}{{ $signal = true }}{{ end -}}
{{- end -}}
name: {{ .component | quote }}
mode: {{ $component.mode | default $values.agent.mode | quote }}
annotations: {{ $component.annotations | default false }}
signal: {{ $signal }}
configMapName: {{ printf "%s-%s" ($values.fullnameOverride | default "s4e-secret-agent" | trunc 40 | trimSuffix "-") .component | quote }}
{{- if $values.image.digest }}
image: {{ printf "%s@%s" $values.image.repository $values.image.digest | quote }}
{{- else }}
image: {{ printf "%s:%s" $values.image.repository ($values.image.tag | default .root.Chart.AppVersion) | quote }}
{{- end }}
{{- end -}}

{{- define "s4e-secret-agent.tokenDirectory" -}}
/var/run/secrets/kubernetes.io/serviceaccount
{{- end -}}

{{/* The agent configuration (native YAML, Vault Agent field names) for one component. */}}
{{- define "s4e-secret-agent.config" -}}
{{- $values := .values | default .root.Values -}}
{{- $component := index $values .component -}}
{{- $vault := dict "address" $values.vault.address -}}
{{- with $values.vault.namespace }}{{ $_ := set $vault "namespace" . }}{{ end -}}
{{- with $values.vault.tlsServerName }}{{ $_ := set $vault "tls_server_name" . }}{{ end -}}
{{- if $values.vault.caCert.configMapName }}{{ $_ := set $vault "ca_cert" "/vault/tls/ca.crt" }}{{ end -}}
{{- $methodConfig := dict "role" ($component.role | default $values.vault.auth.role) "token_path" (printf "%s/token" (include "s4e-secret-agent.tokenDirectory" .)) -}}
{{- $method := dict "type" "kubernetes" "mount_path" $values.vault.auth.mountPath "config" $methodConfig -}}
{{- $templates := list -}}
{{- range $index, $raw := $component.templates -}}
{{- $where := printf "%s.templates[%d] (%s)" $.component $index .name -}}
{{- if and .contents .source }}{{ fail (printf "%s: set either contents or source, not both" $where) }}{{ end -}}
{{- if not (or .contents .source) }}{{ fail (printf "%s: needs contents (the template text) or source (a template file inside the agent container)" $where) }}{{ end -}}
{{- if and .command .exec }}{{ fail (printf "%s: set either command or exec, not both" $where) }}{{ end -}}
{{- with .signal }}{{ if eq (len (compact (list .process .pid_file))) 1 | not }}{{ fail (printf "%s: signal needs exactly one of process (a process name) or pid_file" $where) }}{{ end }}{{ end -}}
{{- $template := dict "name" .name "destination" (.destination | default (printf "%s/%s" $values.agent.secretsPath .name)) -}}
{{- with .contents }}{{ $_ := set $template "contents" . }}{{ end -}}
{{- with .source }}{{ $_ := set $template "source" . }}{{ end -}}
{{- $_ := set $template "perms" (.perms | default "0640") -}}
{{- with .command }}{{ $_ := set $template "command" . }}{{ end -}}
{{- with .exec }}{{ $_ := set $template "exec" . }}{{ end -}}
{{- with .signal }}{{ $_ := set $template "signal" (merge (dict "signal" (.signal | default "SIGHUP")) (pick . "process" "pid_file")) }}{{ end -}}
{{- if hasKey . "errorOnMissingKey" }}{{ $_ := set $template "error_on_missing_key" .errorOnMissingKey }}{{ end -}}
{{- $templates = append $templates $template -}}
{{- end -}}
{{- $templateConfig := dict "static_secret_render_interval" $values.agent.staticSecretRenderInterval "exit_on_retry_failure" $values.agent.exitOnRetryFailure -}}
{{- $config := dict "vault" $vault "auto_auth" (dict "method" $method) "template_config" $templateConfig "template" $templates -}}
{{- if $values.agent.apiProxy.enabled -}}
{{- if eq (int $values.agent.apiProxy.port) (int $values.agent.metricsPort) }}{{ fail "agent.apiProxy.port: the metrics port; pick another" }}{{ end -}}
{{- $_ := set $config "listener" (list (dict "type" "tcp" "address" (printf "127.0.0.1:%v" $values.agent.apiProxy.port) "tls_disable" true)) -}}
{{- $_ := set $config "api_proxy" (dict "use_auto_auth_token" $values.agent.apiProxy.useAutoAuthToken) -}}
{{- end -}}
{{- toYaml $config -}}
{{- end -}}

{{/* The ConfigMap holding one component's agent configuration, mounted by its pods. */}}
{{- define "s4e-secret-agent.configMap" -}}
{{- $s := include "s4e-secret-agent.settings" . | fromYaml -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ $s.configMapName }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "s4e-secret-agent.labels" .root | nindent 4 }}
    s4e-secret-agent/component: {{ .component }}
data:
  config.yaml: |
    {{- include "s4e-secret-agent.config" . | nindent 4 }}
{{- end -}}

{{- define "s4e-secret-agent.securityContext" -}}
{{- $values := .values | default .root.Values -}}
runAsNonRoot: true
runAsUser: {{ $values.agent.runAsUser }}
runAsGroup: {{ $values.agent.runAsGroup }}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Fields shared by every agent container; $role is init or sidecar. */}}
{{- define "s4e-secret-agent.containerBody" -}}
{{- $ctx := index . 0 -}}
{{- $command := index . 1 -}}
{{- $values := $ctx.values | default $ctx.root.Values -}}
{{- $s := include "s4e-secret-agent.settings" $ctx | fromYaml -}}
image: {{ $s.image }}
imagePullPolicy: {{ $values.image.pullPolicy }}
args:
  - {{ $command }}
{{- if $s.annotations }}
  - --annotations
  - /etc/podinfo/annotations
{{- else }}
  - --config
  - /etc/s4e-secret-agent/config.yaml
{{- end }}
  - --log-format
  - {{ $values.agent.logFormat }}
  - --log-level
  - {{ $values.agent.logLevel }}
{{- if eq $command "sidecar" }}
  - --metrics-listen
  - {{ printf "0.0.0.0:%v" $values.agent.metricsPort | quote }}
ports:
  - name: agent-metrics
    containerPort: {{ $values.agent.metricsPort }}
    protocol: TCP
{{- end }}
env:
  - name: VAULT_ADDR
    value: {{ $values.vault.address | quote }}
{{- with $values.vault.namespace }}
  - name: VAULT_NAMESPACE
    value: {{ . | quote }}
{{- end }}
{{- if $values.vault.caCert.configMapName }}
  - name: VAULT_CACERT
    value: /vault/tls/ca.crt
{{- end }}
{{- with $values.vault.tlsServerName }}
  - name: VAULT_TLS_SERVER_NAME
    value: {{ . | quote }}
{{- end }}
  - name: TMPDIR
    value: /tmp
  - name: POD_NAME
    valueFrom:
      fieldRef:
        fieldPath: metadata.name
  - name: POD_NAMESPACE
    valueFrom:
      fieldRef:
        fieldPath: metadata.namespace
{{- with $values.agent.extraEnv }}
{{- toYaml . | nindent 2 }}
{{- end }}
resources:
  {{- toYaml $values.agent.resources | nindent 2 }}
securityContext:
  {{- include "s4e-secret-agent.securityContext" $ctx | nindent 2 }}
volumeMounts:
  - name: s4e-secrets
    mountPath: {{ $values.agent.secretsPath }}
  - name: s4e-agent-tmp
    mountPath: /tmp
  # The Vault login token (projected, optionally audience-bound) sits where Vault Agent's
  # kubernetes method looks by default; the kubelet then adds no API-server token to the agent.
  - name: s4e-vault-token
    mountPath: {{ include "s4e-secret-agent.tokenDirectory" $ctx }}
    readOnly: true
{{- if $s.annotations }}
  - name: s4e-podinfo
    mountPath: /etc/podinfo
    readOnly: true
{{- else }}
  - name: s4e-agent-config
    mountPath: /etc/s4e-secret-agent
    readOnly: true
{{- end }}
{{- if $values.vault.caCert.configMapName }}
  - name: s4e-vault-ca
    mountPath: /vault/tls
    readOnly: true
{{- end }}
{{- with $values.agent.extraVolumeMounts }}
{{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Init container: renders every template once, then exits; the app starts after it. */}}
{{- define "s4e-secret-agent.initContainer" -}}
- name: s4e-secret-agent-init
  {{- include "s4e-secret-agent.containerBody" (list . "init") | nindent 2 }}
{{- end -}}

{{/* Classic sidecar (in containers): keeps token, leases and files fresh for the pod's life. */}}
{{- define "s4e-secret-agent.sidecarContainer" -}}
- name: s4e-secret-agent
  {{- include "s4e-secret-agent.containerBody" (list . "sidecar") | nindent 2 }}
  {{- include "s4e-secret-agent.probes" . | nindent 2 }}
{{- end -}}

{{/*
Probes: the startup probe passes after the first render and holds back the liveness probe.
No readiness probe: a sidecar's readiness counts for the whole pod, and an app usually keeps
working with the credentials it has while Vault is briefly unreachable (docs/health.md).
*/}}
{{- define "s4e-secret-agent.probes" -}}
startupProbe:
  httpGet:
    path: /readyz
    port: agent-metrics
  periodSeconds: 1
  timeoutSeconds: 2
  failureThreshold: 300
livenessProbe:
  httpGet:
    path: /healthz
    port: agent-metrics
  periodSeconds: 10
  timeoutSeconds: 2
  failureThreshold: 3
{{- end -}}

{{/*
Native sidecar (Kubernetes 1.29+): an init container with restartPolicy Always. The kubelet
starts the next containers only once the startup probe passes, i.e. after the first render, so
the app never starts without its secrets; Jobs still complete because sidecars are stopped after
the main containers.
*/}}
{{- define "s4e-secret-agent.nativeSidecarContainer" -}}
- name: s4e-secret-agent
  restartPolicy: Always
  {{- include "s4e-secret-agent.containerBody" (list . "sidecar") | nindent 2 }}
  {{- include "s4e-secret-agent.probes" . | nindent 2 }}
{{- end -}}

{{/* The agent's entries for spec.initContainers, per the component's mode. */}}
{{- define "s4e-secret-agent.initContainers" -}}
{{- $s := include "s4e-secret-agent.settings" . | fromYaml -}}
{{- if eq $s.mode "native-sidecar" -}}
{{ include "s4e-secret-agent.nativeSidecarContainer" . }}
{{- else if or (eq $s.mode "init") (eq $s.mode "sidecar") -}}
{{ include "s4e-secret-agent.initContainer" . }}
{{- else -}}
{{- fail (printf "%s.mode: %q is not one of init, sidecar, native-sidecar" .component $s.mode) -}}
{{- end -}}
{{- end -}}

{{/* The agent's entries for spec.containers: only the classic sidecar mode has one. */}}
{{- define "s4e-secret-agent.containers" -}}
{{- $s := include "s4e-secret-agent.settings" . | fromYaml -}}
{{- if eq $s.mode "sidecar" -}}
{{ include "s4e-secret-agent.sidecarContainer" . }}
{{- end -}}
{{- end -}}

{{/* The shared secrets volume: tmpfs, so secrets never reach the node's disk. */}}
{{- define "s4e-secret-agent.secretsVolume" -}}
{{- $values := .values | default .root.Values -}}
- name: s4e-secrets
  emptyDir:
    medium: Memory
    sizeLimit: {{ $values.agent.secretsSizeLimit }}
{{- end -}}

{{/* Mount for app containers: the directory, never a subPath (subPath misses updates). */}}
{{- define "s4e-secret-agent.secretsVolumeMount" -}}
{{- $values := .values | default .root.Values -}}
- name: s4e-secrets
  mountPath: {{ $values.agent.secretsPath }}
  readOnly: true
{{- end -}}

{{/* Every volume the agent containers mount. */}}
{{- define "s4e-secret-agent.volumes" -}}
{{- $values := .values | default .root.Values -}}
{{- $s := include "s4e-secret-agent.settings" . | fromYaml -}}
{{ include "s4e-secret-agent.secretsVolume" . }}
- name: s4e-agent-tmp
  emptyDir:
    medium: Memory
    sizeLimit: 16Mi
- name: s4e-vault-token
  projected:
    sources:
      - serviceAccountToken:
          path: token
          expirationSeconds: {{ $values.vault.auth.tokenExpirationSeconds }}
          {{- with $values.vault.auth.audience }}
          audience: {{ . | quote }}
          {{- end }}
{{- if $s.annotations }}
- name: s4e-podinfo
  downwardAPI:
    items:
      - path: annotations
        fieldRef:
          fieldPath: metadata.annotations
{{- else }}
- name: s4e-agent-config
  configMap:
    name: {{ $s.configMapName }}
{{- end }}
{{- with $values.vault.caCert.configMapName }}
- name: s4e-vault-ca
  configMap:
    name: {{ . }}
    items:
      - key: {{ $values.vault.caCert.key }}
        path: ca.crt
{{- end }}
{{- with $values.agent.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Pod securityContext for the restricted profile; fsGroup lets the app read 0640 files. */}}
{{- define "s4e-secret-agent.podSecurityContext" -}}
{{- $values := .values | default .root.Values -}}
runAsNonRoot: true
fsGroup: {{ $values.agent.fsGroup }}
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Pod-level fields: securityContext, plus shareProcessNamespace when a template signals. */}}
{{- define "s4e-secret-agent.podSettings" -}}
{{- $s := include "s4e-secret-agent.settings" . | fromYaml -}}
{{- if $s.signal -}}
# A template signals an app process: the agent must see the app's processes.
shareProcessNamespace: true
{{ end -}}
securityContext:
  {{- include "s4e-secret-agent.podSecurityContext" . | nindent 2 }}
{{- end -}}

{{/*
Annotations for the pod template: a checksum of the agent configuration, so that changing the
templates in values rolls the pods (the agent reads its configuration once, at start).
*/}}
{{- define "s4e-secret-agent.podAnnotations" -}}
{{- $s := include "s4e-secret-agent.settings" . | fromYaml -}}
{{- if not $s.annotations -}}
checksum/s4e-secret-agent-config: {{ include "s4e-secret-agent.config" . | sha256sum }}
{{- end -}}
{{- end -}}

{{/* Labels for the pod template: the PodMonitor and the metrics Service select on them. */}}
{{- define "s4e-secret-agent.podLabels" -}}
{{- $s := include "s4e-secret-agent.settings" . | fromYaml -}}
s4e-secret-agent/component: {{ $s.name }}
s4e-secret-agent/mode: {{ $s.mode }}
{{- if ne $s.mode "init" }}
s4e-secret-agent/metrics: "true"
{{- end }}
{{- end -}}
