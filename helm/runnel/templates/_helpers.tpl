{{/* Chart name, overridable by nameOverride. */}}
{{- define "runnel.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Prefix of every resource name. Kept to 52 characters: the StatefulSet's pods add
"-<ordinal>" and the headless Service "-headless", and both must stay DNS labels.
*/}}
{{- define "runnel.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* The headless Service: one stable DNS name per pod, for Raft peers. */}}
{{- define "runnel.headlessName" -}}
{{- printf "%s-headless" (include "runnel.fullname" .) }}
{{- end }}

{{- define "runnel.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "runnel.selectorLabels" -}}
app.kubernetes.io/name: {{ include "runnel.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "runnel.labels" -}}
helm.sh/chart: {{ include "runnel.chart" . }}
{{ include "runnel.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: server
{{- end }}

{{- define "runnel.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "runnel.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "runnel.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/* How many pods formed the cluster: they start with --peers; later ones --join. */}}
{{- define "runnel.initialReplicas" -}}
{{- if kindIs "invalid" .Values.cluster.initialReplicas }}
{{- .Values.replicaCount | int }}
{{- else }}
{{- .Values.cluster.initialReplicas | int }}
{{- end }}
{{- end }}

{{- define "runnel.scheme" -}}
{{- if .Values.tls.enabled }}https{{ else }}http{{ end }}
{{- end }}

{{/* The client URL that pods added by scaling up join through. */}}
{{- define "runnel.joinURL" -}}
{{- if .Values.cluster.joinURL }}
{{- .Values.cluster.joinURL }}
{{- else }}
{{- printf "%s://%s.%s.svc.%s:%d" (include "runnel.scheme" .) (include "runnel.fullname" .) .Release.Namespace .Values.cluster.clusterDomain (.Values.service.port | int) }}
{{- end }}
{{- end }}

{{/*
Checks that values.schema.json cannot express; fails the render with a clear message.
*/}}
{{- define "runnel.validate" -}}
{{- if and .Values.tls.enabled (not .Values.tls.secretName) }}
{{- fail "tls.enabled needs tls.secretName: an existing Secret with the certificate and key" }}
{{- end }}
{{- if and .Values.tls.peer.enabled (not .Values.tls.enabled) }}
{{- fail "tls.peer.enabled needs tls.enabled: peers authenticate with the node's certificate" }}
{{- end }}
{{- if and (gt (.Values.replicaCount | int) 0) (lt (include "runnel.initialReplicas" . | int) 1) }}
{{- fail "cluster.initialReplicas must be at least 1" }}
{{- end }}
{{- if .Values.preStop.enabled }}
{{- $hook := add .Values.preStop.transferTimeoutSeconds .Values.preStop.drainSeconds }}
{{- if ge ($hook | int) (.Values.terminationGracePeriodSeconds | int) }}
{{- fail "terminationGracePeriodSeconds must exceed preStop.transferTimeoutSeconds + preStop.drainSeconds, leaving runnel time to drain after SIGTERM" }}
{{- end }}
{{- end }}
{{- if eq (.Values.ports.client | int) (.Values.ports.peer | int) }}
{{- fail "ports.client and ports.peer must differ" }}
{{- end }}
{{- end }}
