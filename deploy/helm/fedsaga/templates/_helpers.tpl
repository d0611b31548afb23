{{/*
Names and labels.
*/}}
{{- define "fedsaga.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "fedsaga.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "fedsaga.selectorLabels" -}}
app.kubernetes.io/name: {{ include "fedsaga.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "fedsaga.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "fedsaga.selectorLabels" . }}
app.kubernetes.io/version: {{ include "fedsaga.tag" . | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "fedsaga.tag" -}}
{{- .Values.image.tag | default .Chart.AppVersion -}}
{{- end -}}

{{- define "fedsaga.image" -}}
{{- printf "%s:%s" .Values.image.repository (include "fedsaga.tag" .) -}}
{{- end -}}

{{/* The Secret a reference with no name uses. */}}
{{- define "fedsaga.secretName" -}}
{{- .Values.secrets.name | default (include "fedsaga.fullname" .) -}}
{{- end -}}

{{/*
fedsaga.check stops the rendering with a message naming the value to fix
when the values contradict what fedsaga needs.
*/}}
{{- define "fedsaga.check" -}}
{{- $w := .Values.worker -}}
{{- if lt (int $w.replicas) 1 -}}
{{- fail "worker.replicas must be at least 1: the outbox relay runs in the workers" -}}
{{- end -}}
{{- if and $w.autoscaling.enabled (lt (int $w.autoscaling.minReplicas) 1) -}}
{{- fail "worker.autoscaling.minReplicas must be at least 1: the outbox relay runs in the workers" -}}
{{- end -}}
{{- if and $w.keda.enabled (lt (int $w.keda.minReplicaCount) 1) -}}
{{- fail "worker.keda.minReplicaCount must be at least 1: the outbox relay runs in the workers, so they never scale to zero" -}}
{{- end -}}
{{- if and $w.keda.enabled $w.autoscaling.enabled -}}
{{- fail "worker.keda.enabled and worker.autoscaling.enabled are both true: KEDA makes its own HorizontalPodAutoscaler; set worker.autoscaling.enabled=false" -}}
{{- end -}}
{{- if lt (int $w.stopTimeoutSeconds) 0 -}}
{{- fail "worker.stopTimeoutSeconds must not be negative" -}}
{{- end -}}
{{- if lt (int $w.terminationMarginSeconds) 1 -}}
{{- fail "worker.terminationMarginSeconds must be at least 1: the pod must outlive worker.stop_timeout" -}}
{{- end -}}
{{- $c := .Values.config | default dict -}}
{{- /* Keys the chart sets from other values: [key path..., the values to set instead]. */ -}}
{{- range $k := list
      (list "worker" "stop_timeout" "worker.stopTimeoutSeconds")
      (list "worker" "http_address" "worker.port")
      (list "federation" "http_address" "api.port")
      (list "federation" "api" "metrics_address" "api.metricsPort")
      (list "federation" "api" "auth" "api.auth")
      (list "federation" "api" "tokens" "secrets.readAPITokens (a Secret and its key)")
      (list "federation" "api" "tls" "api.tls")
      (list "codec" "enabled" "codec.enabled")
      (list "codec" "active_key" "codec.activeKey")
      (list "codec" "keys" "codec.secret and codec.keys")
      (list "codec" "customer_id_attribute" "codec.customerIdAttribute")
      (list "codec" "customer_id_key" "codec.secret and codec.customerIdKey")
      (list "temporal" "api_key" "temporal.apiKey and secrets.temporalAPIKey")
      (list "temporal" "tls" "temporal.tls and secrets.temporalTLS")
      (list "nats" "tls" "secrets.natsTLS")
      (list "nats" "auth" "token" "secrets.natsToken")
      (list "nats" "auth" "password" "secrets.natsPassword")
      (list "nats" "auth" "nkey_seed_file" "secrets.natsNKeySeed")
      (list "nats" "auth" "credentials_file" "secrets.natsCredentials") -}}
{{- $path := initial $k -}}
{{- $v := "" -}}
{{- if eq (len $path) 2 -}}
{{- $v = dig (index $path 0) (index $path 1) nil $c -}}
{{- else -}}
{{- $v = dig (index $path 0) (index $path 1) (index $path 2) nil $c -}}
{{- end -}}
{{- if not (kindIs "invalid" $v) -}}
{{- fail (printf "config.%s is set by the chart: set %s instead" (join "." $path) (last $k)) -}}
{{- end -}}
{{- end -}}
{{- include "fedsaga.checkAPI" . -}}
{{- include "fedsaga.checkCodec" . -}}
{{- range $name, $db := ($c.databases | default dict) -}}
{{- if hasKey $db "url" -}}
{{- fail (printf "config.databases.%s.url would put a password in the ConfigMap: set secrets.databaseURLs.%s (a Secret and its key) instead" $name $name) -}}
{{- end -}}
{{- if not (hasKey $.Values.secrets.databaseURLs $name) -}}
{{- fail (printf "config.databases.%s has no URL: add secrets.databaseURLs.%s (a Secret and its key)" $name $name) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* fedsaga.checkAPI: `fedsaga serve` refuses to start without authentication. */}}
{{- define "fedsaga.checkAPI" -}}
{{- $a := .Values.api -}}
{{- if $a.enabled -}}
{{- if not (has $a.auth (list "required" "none")) -}}
{{- fail (printf "api.auth is %q: want \"required\" or \"none\"" (toString $a.auth)) -}}
{{- end -}}
{{- $ref := .Values.secrets.readAPITokens -}}
{{- $s := .Values.secrets -}}
{{- if and $ref.key $s.create (not $ref.name) -}}
{{- $tokens := get $s.values $ref.key -}}
{{- if not $tokens -}}
{{- fail (printf "secrets.values has no %q: the read API's tokens (comma-separated, at least 16 characters each) go there when the chart makes the Secret; or set secrets.readAPITokens.name to an existing Secret" $ref.key) -}}
{{- end -}}
{{- range $i, $t := splitList "," (toString $tokens) -}}
{{- if lt (len (trim $t)) 16 -}}
{{- fail (printf "secrets.values.%s: token %d has %d characters; a read API token needs at least 16" $ref.key (add1 $i) (len (trim $t))) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if and $a.tls.clientCAKey (not $a.tls.secretName) -}}
{{- fail "api.tls.clientCAKey needs api.tls.secretName: mutual TLS needs the server's certificate" -}}
{{- end -}}
{{- if and (eq $a.auth "required") (not (or .Values.secrets.readAPITokens.key $a.tls.clientCAKey)) -}}
{{- fail "api.enabled with api.auth=required needs a way to authenticate, or `fedsaga serve` refuses to start: set secrets.readAPITokens.key (a Secret's key holding the tokens), or api.tls.secretName with api.tls.clientCAKey; or set api.auth=none behind a proxy that authenticates" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* fedsaga.checkCodec: the keys payload encryption needs. */}}
{{- define "fedsaga.checkCodec" -}}
{{- $k := .Values.codec -}}
{{- if and (or $k.enabled $k.keys (eq $k.customerIdAttribute "hash")) (not $k.secret) -}}
{{- fail "codec.secret is not set: name the Secret that holds the keys of codec.keys and codec.customerIdKey" -}}
{{- end -}}
{{- if and $k.enabled (not (hasKey ($k.keys | default dict) (toString $k.activeKey))) -}}
{{- fail (printf "codec.activeKey %q is not an id of codec.keys: add it (key id: the Secret's key)" (toString $k.activeKey)) -}}
{{- end -}}
{{- if and (eq $k.customerIdAttribute "hash") (not $k.customerIdKey) -}}
{{- fail "codec.customerIdAttribute hash needs codec.customerIdKey: the Secret's key holding the HMAC key" -}}
{{- end -}}
{{- end -}}

{{/* fedsaga.codecMounted: whether pods mount the codec keys. */}}
{{- define "fedsaga.codecMounted" -}}
{{- if and .Values.codec.secret (or .Values.codec.keys .Values.codec.customerIdKey) -}}true{{- end -}}
{{- end -}}

{{/* The environment variable that carries a database's URL. */}}
{{- define "fedsaga.dbEnv" -}}
{{- printf "FEDSAGA_DB_%s_URL" (upper .) -}}
{{- end -}}

{{- define "fedsaga.natsAuthType" -}}
{{- dig "nats" "auth" "type" "none" (.Values.config | default dict) -}}
{{- end -}}

{{/*
fedsaga.toml: .Values.config with the keys the chart owns filled in. Every
secret is a ${VAR} reference to an environment variable set from a Secret
(fedsaga expands ${NAME} when it loads the file), or a file mounted from a
Secret.
*/}}
{{- define "fedsaga.configToml" -}}
{{- $c := deepCopy (.Values.config | default dict) -}}
{{- $worker := $c.worker | default dict -}}
{{- $_ := set $worker "stop_timeout" (printf "%ds" (int .Values.worker.stopTimeoutSeconds)) -}}
{{- $_ = set $worker "http_address" (printf ":%d" (int .Values.worker.port)) -}}
{{- $_ = set $c "worker" $worker -}}
{{- $fed := $c.federation | default dict -}}
{{- $_ = set $fed "http_address" (printf ":%d" (int .Values.api.port)) -}}
{{- $api := $fed.api | default dict -}}
{{- $_ = set $api "metrics_address" (printf ":%d" (int .Values.api.metricsPort)) -}}
{{- $_ = set $api "auth" .Values.api.auth -}}
{{- with .Values.api.tls -}}
{{- if .secretName -}}
{{- $t := dict "cert_file" "/etc/fedsaga/api-tls/tls.crt" "key_file" "/etc/fedsaga/api-tls/tls.key" -}}
{{- if .clientCAKey -}}{{- $_ = set $t "client_ca_file" "/etc/fedsaga/api-tls/ca.crt" -}}{{- end -}}
{{- $_ = set $api "tls" $t -}}
{{- end -}}
{{- end -}}
{{- $_ = set $fed "api" $api -}}
{{- $_ = set $c "federation" $fed -}}
{{- $dbs := $c.databases | default dict -}}
{{- range $name, $ref := .Values.secrets.databaseURLs -}}
{{- $db := get $dbs $name | default dict -}}
{{- $_ := set $db "url" (printf "${%s}" (include "fedsaga.dbEnv" $name)) -}}
{{- $_ = set $dbs $name $db -}}
{{- end -}}
{{- $_ = set $c "databases" $dbs -}}
{{- $nats := $c.nats | default dict -}}
{{- $auth := $nats.auth | default dict -}}
{{- $type := include "fedsaga.natsAuthType" . -}}
{{- if eq $type "token" -}}
{{- $_ = set $auth "token" "${FEDSAGA_NATS_TOKEN}" -}}
{{- else if eq $type "user_password" -}}
{{- $_ = set $auth "password" "${FEDSAGA_NATS_PASSWORD}" -}}
{{- else if eq $type "nkey" -}}
{{- $_ = set $auth "nkey_seed_file" "/etc/fedsaga/nats-auth/nkey.seed" -}}
{{- else if eq $type "credentials" -}}
{{- $_ = set $auth "credentials_file" "/etc/fedsaga/nats-auth/nats.creds" -}}
{{- end -}}
{{- $natsTLS := .Values.secrets.natsTLS -}}
{{- if $natsTLS.name -}}
{{- $t := dict -}}
{{- if $natsTLS.ca -}}{{- $_ = set $t "ca_file" "/etc/fedsaga/nats-tls/ca.crt" -}}{{- end -}}
{{- if $natsTLS.cert -}}{{- $_ = set $t "cert_file" "/etc/fedsaga/nats-tls/tls.crt" -}}{{- end -}}
{{- if $natsTLS.key -}}{{- $_ = set $t "key_file" "/etc/fedsaga/nats-tls/tls.key" -}}{{- end -}}
{{- $_ = set $nats "tls" $t -}}
{{- end -}}
{{- if $auth -}}{{- $_ = set $nats "auth" $auth -}}{{- end -}}
{{- $_ = set $c "nats" $nats -}}
{{- $temporal := $c.temporal | default dict -}}
{{- if .Values.temporal.apiKey -}}
{{- $_ = set $temporal "api_key" "${FEDSAGA_TEMPORAL_API_KEY}" -}}
{{- end -}}
{{- if .Values.temporal.tls.enabled -}}
{{- $t := dict -}}
{{- $tls := .Values.secrets.temporalTLS -}}
{{- if and $tls.name $tls.ca -}}{{- $_ = set $t "ca_file" "/etc/fedsaga/temporal-tls/ca.crt" -}}{{- end -}}
{{- if and $tls.name $tls.cert -}}{{- $_ = set $t "cert_file" "/etc/fedsaga/temporal-tls/tls.crt" -}}{{- end -}}
{{- if and $tls.name $tls.key -}}{{- $_ = set $t "key_file" "/etc/fedsaga/temporal-tls/tls.key" -}}{{- end -}}
{{- if .Values.temporal.tls.serverName -}}{{- $_ = set $t "server_name" .Values.temporal.tls.serverName -}}{{- end -}}
{{- $_ = set $temporal "tls" $t -}}
{{- end -}}
{{- $_ = set $c "temporal" $temporal -}}
{{- $k := .Values.codec -}}
{{- $codec := $c.codec | default dict -}}
{{- $_ = set $codec "enabled" $k.enabled -}}
{{- $_ = set $codec "customer_id_attribute" $k.customerIdAttribute -}}
{{- if $k.activeKey -}}{{- $_ = set $codec "active_key" $k.activeKey -}}{{- end -}}
{{- if $k.keys -}}
{{- $keys := dict -}}
{{- range $id, $_ := $k.keys -}}
{{- $_ := set $keys $id (dict "file" (printf "/etc/fedsaga/codec/%s.key" $id)) -}}
{{- end -}}
{{- $_ = set $codec "keys" $keys -}}
{{- end -}}
{{- if $k.customerIdKey -}}
{{- $_ = set $codec "customer_id_key" (dict "file" "/etc/fedsaga/codec/customer-id.key") -}}
{{- end -}}
{{- $_ = set $c "codec" $codec -}}
{{- include "fedsaga.ints" $c -}}
# fedsaga.toml rendered by the fedsaga chart from its values (config and the
# keys it sets). Secrets are ${VAR} references: fedsaga expands them from
# the environment, which takes them from Secrets.
{{ toToml $c }}
{{- end -}}

{{/*
fedsaga.ints turns the whole numbers in a map (and the maps and lists in it)
back into integers, in place. Helm reads every number in the values as a
float, which toToml would write as 10.0, and fedsaga's integer keys refuse
floats; fedsaga has no float keys.
*/}}
{{- define "fedsaga.ints" -}}
{{- $m := . -}}
{{- range $k, $v := $m -}}
{{- if and (kindIs "float64" $v) (eq $v (floor $v)) -}}
{{- $_ := set $m $k (int64 $v) -}}
{{- else if kindIs "map" $v -}}
{{- include "fedsaga.ints" $v -}}
{{- else if kindIs "slice" $v -}}
{{- $out := list -}}
{{- range $e := $v -}}
{{- if and (kindIs "float64" $e) (eq $e (floor $e)) -}}
{{- $out = append $out (int64 $e) -}}
{{- else -}}
{{- if kindIs "map" $e -}}{{- include "fedsaga.ints" $e -}}{{- end -}}
{{- $out = append $out $e -}}
{{- end -}}
{{- end -}}
{{- $_ := set $m $k $out -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* A secretKeyRef of a reference {name, key}. */}}
{{- define "fedsaga.secretKeyRef" -}}
secretKeyRef:
  name: {{ .ref.name | default .secret }}
  key: {{ .ref.key }}
{{- end -}}

{{/*
The environment of every fedsaga container. Argument: dict "root" .
"secret" <the Secret a reference with no name uses>.
*/}}
{{- define "fedsaga.env" -}}
{{- $root := .root -}}
{{- $secret := .secret -}}
- name: FEDSAGA_CONFIG
  value: /etc/fedsaga/fedsaga.toml
{{- range $name, $ref := $root.Values.secrets.databaseURLs }}
- name: {{ include "fedsaga.dbEnv" $name }}
  valueFrom:
    {{- include "fedsaga.secretKeyRef" (dict "ref" $ref "secret" $secret) | nindent 4 }}
{{- end }}
{{- $type := include "fedsaga.natsAuthType" $root }}
{{- if eq $type "token" }}
- name: FEDSAGA_NATS_TOKEN
  valueFrom:
    {{- include "fedsaga.secretKeyRef" (dict "ref" $root.Values.secrets.natsToken "secret" $secret) | nindent 4 }}
{{- else if eq $type "user_password" }}
- name: FEDSAGA_NATS_PASSWORD
  valueFrom:
    {{- include "fedsaga.secretKeyRef" (dict "ref" $root.Values.secrets.natsPassword "secret" $secret) | nindent 4 }}
{{- end }}
{{- if $root.Values.temporal.apiKey }}
- name: FEDSAGA_TEMPORAL_API_KEY
  valueFrom:
    {{- include "fedsaga.secretKeyRef" (dict "ref" $root.Values.secrets.temporalAPIKey "secret" $secret) | nindent 4 }}
{{- end }}
{{- if .api }}
{{- if $root.Values.secrets.readAPITokens.key }}
- name: FEDSAGA_FEDERATION__API__TOKENS
  valueFrom:
    {{- include "fedsaga.secretKeyRef" (dict "ref" $root.Values.secrets.readAPITokens "secret" $secret) | nindent 4 }}
{{- end }}
{{- end }}
{{- with $root.Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The volume mounts of every fedsaga container. Argument as fedsaga.volumes. */}}
{{- define "fedsaga.volumeMounts" -}}
{{- $api := .api -}}
{{- with .root -}}
- name: config
  mountPath: /etc/fedsaga/fedsaga.toml
  subPath: fedsaga.toml
  readOnly: true
{{- $type := include "fedsaga.natsAuthType" . }}
{{- if or (eq $type "nkey") (eq $type "credentials") }}
- name: nats-auth
  mountPath: /etc/fedsaga/nats-auth
  readOnly: true
{{- end }}
{{- if .Values.secrets.natsTLS.name }}
- name: nats-tls
  mountPath: /etc/fedsaga/nats-tls
  readOnly: true
{{- end }}
{{- if and .Values.temporal.tls.enabled .Values.secrets.temporalTLS.name }}
- name: temporal-tls
  mountPath: /etc/fedsaga/temporal-tls
  readOnly: true
{{- end }}
{{- if include "fedsaga.codecMounted" . }}
- name: codec-keys
  mountPath: /etc/fedsaga/codec
  readOnly: true
{{- end }}
{{- if and $api .Values.api.tls.secretName }}
- name: api-tls
  mountPath: /etc/fedsaga/api-tls
  readOnly: true
{{- end }}
{{- end }}
{{- end -}}

{{/*
The volumes of every fedsaga pod. Argument: dict "root" . "config" <the
ConfigMap> "secret" <the Secret a reference with no name uses>.
*/}}
{{- define "fedsaga.volumes" -}}
{{- $root := .root -}}
{{- $s := $root.Values.secrets -}}
- name: config
  configMap:
    name: {{ .config }}
{{- $type := include "fedsaga.natsAuthType" $root }}
{{- if eq $type "nkey" }}
- name: nats-auth
  secret:
    secretName: {{ $s.natsNKeySeed.name | default .secret }}
    defaultMode: 0440
    items:
      - {key: {{ $s.natsNKeySeed.key | quote }}, path: nkey.seed}
{{- else if eq $type "credentials" }}
- name: nats-auth
  secret:
    secretName: {{ $s.natsCredentials.name | default .secret }}
    defaultMode: 0440
    items:
      - {key: {{ $s.natsCredentials.key | quote }}, path: nats.creds}
{{- end }}
{{- if $s.natsTLS.name }}
- name: nats-tls
  secret:
    secretName: {{ $s.natsTLS.name }}
    defaultMode: 0440
    items:
      {{- if $s.natsTLS.ca }}
      - {key: {{ $s.natsTLS.ca | quote }}, path: ca.crt}
      {{- end }}
      {{- if $s.natsTLS.cert }}
      - {key: {{ $s.natsTLS.cert | quote }}, path: tls.crt}
      {{- end }}
      {{- if $s.natsTLS.key }}
      - {key: {{ $s.natsTLS.key | quote }}, path: tls.key}
      {{- end }}
{{- end }}
{{- if and $root.Values.temporal.tls.enabled $s.temporalTLS.name }}
- name: temporal-tls
  secret:
    secretName: {{ $s.temporalTLS.name }}
    defaultMode: 0440
    items:
      {{- if $s.temporalTLS.ca }}
      - {key: {{ $s.temporalTLS.ca | quote }}, path: ca.crt}
      {{- end }}
      {{- if $s.temporalTLS.cert }}
      - {key: {{ $s.temporalTLS.cert | quote }}, path: tls.crt}
      {{- end }}
      {{- if $s.temporalTLS.key }}
      - {key: {{ $s.temporalTLS.key | quote }}, path: tls.key}
      {{- end }}
{{- end }}
{{- $k := $root.Values.codec }}
{{- if include "fedsaga.codecMounted" $root }}
- name: codec-keys
  secret:
    secretName: {{ $k.secret }}
    defaultMode: 0440
    items:
      {{- range $id, $key := $k.keys }}
      - {key: {{ $key | quote }}, path: {{ printf "%s.key" $id | quote }}}
      {{- end }}
      {{- if $k.customerIdKey }}
      - {key: {{ $k.customerIdKey | quote }}, path: customer-id.key}
      {{- end }}
{{- end }}
{{- if and .api $root.Values.api.tls.secretName }}
- name: api-tls
  secret:
    secretName: {{ $root.Values.api.tls.secretName }}
    defaultMode: 0440
    items:
      - {key: tls.crt, path: tls.crt}
      - {key: tls.key, path: tls.key}
      {{- with $root.Values.api.tls.clientCAKey }}
      - {key: {{ . | quote }}, path: ca.crt}
      {{- end }}
{{- end }}
{{- end -}}

{{/*
The pod spec fields every fedsaga pod shares. Argument as fedsaga.volumes.
*/}}
{{- define "fedsaga.podCommon" -}}
{{- $root := .root -}}
automountServiceAccountToken: false
enableServiceLinks: false
{{- with $root.Values.serviceAccountName }}
serviceAccountName: {{ . }}
{{- end }}
{{- with $root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml $root.Values.podSecurityContext | nindent 2 }}
volumes:
  {{- include "fedsaga.volumes" . | nindent 2 }}
{{- end -}}

{{/* The container fields every fedsaga container shares. Argument as fedsaga.volumes. */}}
{{- define "fedsaga.containerCommon" -}}
{{- $root := .root -}}
image: {{ include "fedsaga.image" $root }}
imagePullPolicy: {{ $root.Values.image.pullPolicy }}
securityContext:
  {{- toYaml $root.Values.securityContext | nindent 2 }}
env:
  {{- include "fedsaga.env" . | nindent 2 }}
volumeMounts:
  {{- include "fedsaga.volumeMounts" . | nindent 2 }}
{{- end -}}
