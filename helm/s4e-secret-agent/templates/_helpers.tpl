{{/*
Internal helpers: names and labels. The public named templates (agent containers, volumes,
pod settings) are in _agent.tpl.
*/}}

{{/* Prefix of every resource name: fixed so that other charts can find the ConfigMaps. */}}
{{- define "s4e-secret-agent.fullname" -}}
{{- .Values.fullnameOverride | default "s4e-secret-agent" | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{- define "s4e-secret-agent.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "s4e-secret-agent.selectorLabels" -}}
app.kubernetes.io/name: s4e-secret-agent
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "s4e-secret-agent.labels" -}}
{{ include "s4e-secret-agent.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: s4e
helm.sh/chart: {{ include "s4e-secret-agent.chart" . }}
{{- end -}}

{{/* The S4E components, in a fixed order. */}}
{{- define "s4e-secret-agent.componentNames" -}}
core trigger scan crawler
{{- end -}}
