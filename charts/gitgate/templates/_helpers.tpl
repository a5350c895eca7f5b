{{/* fullname is the release's name for every object. */}}
{{- define "gitgate.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "gitgate.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "gitgate.labels" -}}
{{ include "gitgate.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "gitgate.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "gitgate.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* tlsSecretName holds the serving certificate in every TLS mode. */}}
{{- define "gitgate.tlsSecretName" -}}
{{- if eq .Values.tls.mode "existingSecret" -}}
{{- required "tls.existingSecret.name is required when tls.mode is existingSecret" .Values.tls.existingSecret.name -}}
{{- else -}}
{{- printf "%s-tls" (include "gitgate.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/*
generatedTLS makes (or, on upgrade, reuses) a CA and a serving certificate
for the Service, once per render: the Secret, the APIService and the webhook
all read the same pair from .Values._generatedTLS.
*/}}
{{- define "gitgate.generatedTLS" -}}
{{- if not (hasKey .Values "_generatedTLS") -}}
{{- $svc := include "gitgate.fullname" . -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "gitgate.tlsSecretName" .) -}}
{{- if and $existing (hasKey $existing.data "ca.crt") (hasKey $existing.data "tls.crt") (hasKey $existing.data "tls.key") -}}
{{- $_ := set .Values "_generatedTLS" (dict "ca" (index $existing.data "ca.crt") "cert" (index $existing.data "tls.crt") "key" (index $existing.data "tls.key")) -}}
{{- else -}}
{{- $names := list $svc (printf "%s.%s" $svc .Release.Namespace) (printf "%s.%s.svc" $svc .Release.Namespace) (printf "%s.%s.svc.cluster.local" $svc .Release.Namespace) -}}
{{- $ca := genCA (printf "%s-ca" $svc) (int .Values.tls.validityDays) -}}
{{- $cert := genSignedCert (printf "%s.%s.svc" $svc .Release.Namespace) nil $names (int .Values.tls.validityDays) $ca -}}
{{- $_ := set .Values "_generatedTLS" (dict "ca" ($ca.Cert | b64enc) "cert" ($cert.Cert | b64enc) "key" ($cert.Key | b64enc)) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* caBundle is the base64 CA bundle for the APIService and the webhook; empty with cert-manager, which injects it. */}}
{{- define "gitgate.caBundle" -}}
{{- if eq .Values.tls.mode "generated" -}}
{{- include "gitgate.generatedTLS" . -}}
{{- .Values._generatedTLS.ca -}}
{{- else if eq .Values.tls.mode "existingSecret" -}}
{{- required "tls.existingSecret.caBundle is required when tls.mode is existingSecret" .Values.tls.existingSecret.caBundle -}}
{{- end -}}
{{- end -}}

{{/* certManagerAnnotation asks cert-manager's CA injector for the bundle. */}}
{{- define "gitgate.certManagerAnnotation" -}}
{{- if eq .Values.tls.mode "certManager" -}}
cert-manager.io/inject-ca-from: {{ printf "%s/%s" .Release.Namespace (include "gitgate.fullname" .) }}
{{- end -}}
{{- end -}}

{{/* excludedNamespaces adds the release's namespace to the configured ones. */}}
{{- define "gitgate.excludedNamespaces" -}}
{{- $ns := .Values.admission.excludedNamespaces -}}
{{- if not (has .Release.Namespace $ns) -}}{{- $ns = append $ns .Release.Namespace -}}{{- end -}}
{{- toJson $ns -}}
{{- end -}}

{{/* celQuote renders a string as a CEL string literal, as the server does. */}}
{{- define "gitgate.celQuote" -}}
'{{ . | replace "\\" "\\\\" | replace "'" "\\'" }}'
{{- end -}}

{{/*
policyIdentities is the CEL condition that skips the identities allowed to
change managed objects: Kubernetes' own components, the appliers, tenant
service accounts, allowed users and groups. It mirrors pkg/admission's
RenderPolicy; the chart tests compare the two.
*/}}
{{- define "gitgate.policyIdentities" -}}
{{- $u := "request.userInfo.username" -}}
{{- $allowed := list (printf "%s.startsWith('system:serviceaccount:kube-system:')" $u) (printf "%s.startsWith('system:node:')" $u) -}}
{{- range list "system:apiserver" "system:kube-controller-manager" "system:kube-scheduler" -}}
{{- $allowed = append $allowed (printf "%s == %s" $u (include "gitgate.celQuote" .)) -}}
{{- end -}}
{{- range .Values.admission.applierNamespaces -}}
{{- $allowed = append $allowed (printf "%s.startsWith(%s)" $u (include "gitgate.celQuote" (printf "system:serviceaccount:%s:" .))) -}}
{{- end -}}
{{- range .Values.admission.tenantServiceAccounts -}}
{{- $parts := splitn ":" 2 . -}}
{{- if eq $parts._0 "*" -}}
{{- $allowed = append $allowed (printf "(%s.startsWith('system:serviceaccount:') && %s.endsWith(%s))" $u $u (include "gitgate.celQuote" (printf ":%s" $parts._1))) -}}
{{- else -}}
{{- $allowed = append $allowed (printf "%s == %s" $u (include "gitgate.celQuote" (printf "system:serviceaccount:%s:%s" $parts._0 $parts._1))) -}}
{{- end -}}
{{- end -}}
{{- range .Values.admission.allowedUsers -}}
{{- $allowed = append $allowed (printf "%s == %s" $u (include "gitgate.celQuote" .)) -}}
{{- end -}}
{{- range .Values.admission.allowedGroups -}}
{{- $allowed = append $allowed (printf "(has(request.userInfo.groups) && %s in request.userInfo.groups)" (include "gitgate.celQuote" .)) -}}
{{- end -}}
{{- printf "!(%s)" (join " || " $allowed) -}}
{{- end -}}
