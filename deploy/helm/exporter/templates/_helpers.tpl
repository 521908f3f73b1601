{{- define "exporter.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 52 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "exporter.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "exporter.labels" -}}
{{ include "exporter.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "exporter.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "exporter.lookerSecret" -}}
{{ .Values.looker.existingSecret | default (printf "%s-looker" (include "exporter.fullname" .)) }}
{{- end -}}
{{- define "exporter.stateSecret" -}}
{{ .Values.state.existingSecret | default (printf "%s-state" (include "exporter.fullname" .)) }}
{{- end -}}
{{- define "exporter.tokenSecret" -}}
{{ .Values.token.existingSecret | default (printf "%s-token" (include "exporter.fullname" .)) }}
{{- end -}}
{{- define "exporter.postgres" -}}
{{- if or .Values.state.existingSecret .Values.state.dsn }}true{{ end -}}
{{- end -}}

{{/* Every job of config.jobs and jobFiles (CronJob mode makes one CronJob each). */}}
{{- define "exporter.jobs" -}}
{{- $jobs := list -}}
{{- range (.Values.config.jobs | default list) }}{{ $jobs = append $jobs . }}{{ end -}}
{{- range $file, $content := .Values.jobFiles }}{{ range ($content.jobs | default list) }}{{ $jobs = append $jobs . }}{{ end }}{{ end -}}
{{- toYaml (dict "jobs" $jobs) -}}
{{- end -}}

{{/* The main config file: the chart's looker:, state:, server: and include:, then the user's config. */}}
{{- define "exporter.config" -}}
{{- $main := dict "looker" (dict "base_url" (required "looker.baseURL is required, e.g. https://example.cloud.looker.com" .Values.looker.baseURL)) -}}
{{- if include "exporter.postgres" . -}}
{{- $_ := set $main "state" (dict "driver" "postgres" "dsn" "${EXPORTER_STATE_DSN}") -}}
{{- else -}}
{{- $_ := set $main "state" (dict "driver" "sqlite" "dsn" "/var/lib/exporter/exporter.db") -}}
{{- end -}}
{{- $server := dict "listen" (printf "0.0.0.0:%v" .Values.server.port) "metrics_public" .Values.server.metricsPublic -}}
{{- if eq .Values.mode "daemon" -}}
{{- $_ := set $server "token_file" "/var/run/secrets/exporter/token" -}}
{{- else -}}
{{- $_ := set $server "listen" (printf "127.0.0.1:%v" .Values.server.port) -}}
{{- end -}}
{{- $_ := set $main "server" $server -}}
{{- if .Values.jobFiles -}}
{{- $_ := set $main "include" (list "jobs.d/*.yaml") -}}
{{- end -}}
{{- toYaml (merge $main (omit .Values.config "looker" "state" "server" "include")) -}}
{{- end -}}

{{- define "exporter.securityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* The container's env: Looker credentials, and the state DSN. */}}
{{- define "exporter.env" -}}
- name: LOOKERSDK_CLIENT_ID
  valueFrom:
    secretKeyRef:
      name: {{ include "exporter.lookerSecret" . }}
      key: LOOKERSDK_CLIENT_ID
- name: LOOKERSDK_CLIENT_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ include "exporter.lookerSecret" . }}
      key: LOOKERSDK_CLIENT_SECRET
{{- if include "exporter.postgres" . }}
- name: EXPORTER_STATE_DSN
  valueFrom:
    secretKeyRef:
      name: {{ include "exporter.stateSecret" . }}
      key: dsn
{{- end }}
{{- end -}}

{{- define "exporter.volumeMounts" -}}
- name: config
  mountPath: /etc/exporter
  readOnly: true
- name: state
  mountPath: /var/lib/exporter
- name: tmp
  mountPath: /tmp
{{- if eq .Values.mode "daemon" }}
- name: token
  mountPath: /var/run/secrets/exporter
  readOnly: true
{{- end }}
{{- end -}}

{{- define "exporter.volumes" -}}
- name: config
  configMap:
    name: {{ include "exporter.fullname" . }}
    items:
      - key: jobs.yaml
        path: jobs.yaml
      {{- range $file, $_ := .Values.jobFiles }}
      - key: {{ printf "jobs.d_%s.yaml" $file }}
        path: {{ printf "jobs.d/%s.yaml" $file }}
      {{- end }}
- name: state
  emptyDir: {}
- name: tmp
  emptyDir: {}
{{- if eq .Values.mode "daemon" }}
- name: token
  secret:
    secretName: {{ include "exporter.tokenSecret" . }}
    items:
      - key: token
        path: token
{{- end }}
{{- end -}}

{{- define "exporter.podExtras" -}}
{{- with .Values.serviceAccountName }}
serviceAccountName: {{ . }}
{{- end }}
securityContext:
  runAsNonRoot: true
  runAsUser: 65532
  runAsGroup: 65532
  fsGroup: 65532
  seccompProfile:
    type: RuntimeDefault
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
