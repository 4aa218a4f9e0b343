{{/* The prefix of every object's name: the release name. */}}
{{- define "videogen.fullname" -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of every object. */}}
{{- define "videogen.labels" -}}
app.kubernetes.io/part-of: videogen
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels of the server pods. */}}
{{- define "videogen.serverSelector" -}}
app.kubernetes.io/name: videogen-server
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The container image. */}}
{{- define "videogen.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- end -}}

{{/* The models volume: the chart's claim, or the node's directory. */}}
{{- define "videogen.modelsVolume" -}}
- name: models
{{- if .Values.modelStorage.hostPath }}
  hostPath:
    path: {{ .Values.modelStorage.hostPath }}
    type: Directory
{{- else }}
  persistentVolumeClaim:
    claimName: {{ include "videogen.fullname" . }}-models
    readOnly: true
{{- end }}
{{- end -}}

{{/* The pod spec's user and placement, shared by the server and the search worker. */}}
{{- define "videogen.podSecurityAndPlacement" -}}
securityContext:
  runAsUser: 10001
  runAsGroup: 10001
  runAsNonRoot: true
  fsGroup: 10001
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
