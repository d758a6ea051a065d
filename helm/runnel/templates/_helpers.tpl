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

{{/*
How many pods formed the cluster: they start with --peers; later ones --join.
cluster.initialReplicas when set; else, on an upgrade, what the running StatefulSet was
given (its REPLICAS variable), so raising replicaCount never changes the initial members;
else (a first install, or `helm template`) replicaCount.
*/}}
{{- define "runnel.initialReplicas" -}}
{{- if not (kindIs "invalid" .Values.cluster.initialReplicas) }}
{{- .Values.cluster.initialReplicas | int }}
{{- else }}
{{- $found := "" }}
{{- $existing := lookup "apps/v1" "StatefulSet" .Release.Namespace (include "runnel.fullname" .) }}
{{- range (dig "spec" "template" "spec" "containers" list $existing) }}
{{- if eq (.name | toString) "runnel" }}
{{- range (.env | default list) }}
{{- if and (eq (.name | toString) "REPLICAS") (regexMatch "^[1-9][0-9]*$" (.value | default "" | toString)) }}
{{- $found = .value }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- if $found }}
{{- $found | int }}
{{- else }}
{{- .Values.replicaCount | int }}
{{- end }}
{{- end }}
{{- end }}

{{/* "true" when the preStop hook removes a pod's node on a scale-down (and needs the API). */}}
{{- define "runnel.removeOnScaleDown" -}}
{{- if and .Values.cluster.removeOnScaleDown .Values.preStop.enabled }}true{{ else }}false{{ end }}
{{- end }}

{{/*
The CA file pods trust for the cluster's client URL (--join, the scripts): tls.caKey of the
certificate Secret, else the peer CA (it signed every node's certificate), else none (the
system trust store).
*/}}
{{- define "runnel.joinCA" -}}
{{- if .Values.tls.enabled }}
{{- if .Values.tls.caKey }}
{{- printf "/etc/runnel/tls/%s" .Values.tls.caKey }}
{{- else if .Values.tls.peer.enabled }}
{{- printf "/etc/runnel/peer-ca/%s" .Values.tls.peer.caKey }}
{{- end }}
{{- end }}
{{- end }}

{{/* The Secret holding the bootstrap admin token (docs/access-control.md). */}}
{{- define "runnel.adminTokenSecret" -}}
{{- default (printf "%s-admin-token" (include "runnel.fullname" .)) .Values.auth.adminTokenSecret -}}
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
{{- if eq (include "runnel.removeOnScaleDown" .) "true" }}
{{- $hook = add $hook .Values.preStop.removeTimeoutSeconds }}
{{- end }}
{{- if ge ($hook | int) (.Values.terminationGracePeriodSeconds | int) }}
{{- fail "terminationGracePeriodSeconds must exceed preStop.transferTimeoutSeconds + preStop.drainSeconds (+ preStop.removeTimeoutSeconds with cluster.removeOnScaleDown), leaving runnel time to drain after SIGTERM" }}
{{- end }}
{{- end }}
{{- if eq (.Values.ports.client | int) (.Values.ports.peer | int) }}
{{- fail "ports.client and ports.peer must differ" }}
{{- end }}
{{- $jwt := .Values.auth.jwt }}
{{- if not .Values.auth.enabled }}
{{- $set := list }}
{{- range $name := list "jwksSecret" "hs256Secret" "issuer" "audience" }}
{{- if index $jwt $name }}
{{- $set = append $set (printf "auth.jwt.%s" $name) }}
{{- end }}
{{- end }}
{{- if not (kindIs "invalid" $jwt.leewaySeconds) }}
{{- $set = append $set "auth.jwt.leewaySeconds" }}
{{- end }}
{{- range $name := list "keyRequestsPerSecond" "keyBytesPerSecond" "authFailuresPerSecond" }}
{{- if not (kindIs "invalid" (index $.Values.auth $name)) }}
{{- $set = append $set (printf "auth.%s" $name) }}
{{- end }}
{{- end }}
{{- if $set }}
{{- fail (printf "%s set while auth.enabled is false: JWT keys and per-key rates need authentication on (with auth.enabled=false the pods serve openly and would ignore them); set auth.enabled=true or unset them" (join ", " $set)) }}
{{- end }}
{{- else if and (not $jwt.jwksSecret) (not $jwt.hs256Secret) (or $jwt.issuer $jwt.audience (not (kindIs "invalid" $jwt.leewaySeconds))) }}
{{- fail "auth.jwt.issuer, auth.jwt.audience and auth.jwt.leewaySeconds check JWTs: they need a key, auth.jwt.jwksSecret or auth.jwt.hs256Secret" }}
{{- end }}
{{- end }}
