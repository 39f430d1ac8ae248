{{- define "mcpgw.fullname" -}}
{{- printf "%s-mcpgw" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "mcpgw.labels" -}}
app.kubernetes.io/name: mcpgw
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "mcpgw.image" -}}
{{- $root := index . 0 -}}
{{- printf "%s/%s:%s" $root.Values.image.registry (index . 1) (default $root.Chart.AppVersion $root.Values.image.tag) -}}
{{- end -}}

{{/* An env var from a Secret: (list "NAME" secretName key) */}}
{{- define "mcpgw.secretEnv" -}}
- name: {{ index . 0 }}
  valueFrom:
    secretKeyRef:
      name: {{ index . 1 }}
      key: {{ index . 2 }}
{{- end -}}
