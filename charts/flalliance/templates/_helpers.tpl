{{- define "flalliance.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "flalliance.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "flalliance.selector" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "flalliance.serviceAccountName" -}}
{{- default (include "flalliance.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{- define "flalliance.image" -}}
{{- printf "%s:%s" .repository .tag -}}
{{- end -}}

{{- define "flalliance.devchainName" -}}
{{- printf "%s-devchain" (include "flalliance.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "flalliance.podSecurity" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "flalliance.containerSecurity" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
{{- end -}}

{{/* The operator's own resources: FLTasks and Participants, their status and finalizers. */}}
{{- define "flalliance.ownResourceRules" }}
  - apiGroups: ["flalliance.io"]
    resources: ["fltasks", "participants"]
    verbs: ["get", "list", "watch", "patch"]
  - apiGroups: ["flalliance.io"]
    resources: ["fltasks/status", "participants/status"]
    verbs: ["get", "patch"]
  - apiGroups: ["flalliance.io"]
    resources: ["fltasks/finalizers", "participants/finalizers"]
    verbs: ["update"]
{{- end }}

{{/* The dev chain's chain id: devChain.chainId on anvil; geth --dev's is always 1337. */}}
{{- define "flalliance.devchainChainId" -}}
{{- if eq .Values.devChain.client "geth" -}}1337{{- else -}}{{ .Values.devChain.chainId }}{{- end -}}
{{- end -}}
