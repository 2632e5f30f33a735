#!/usr/bin/env bash
# Checks the deployment bundle without a cluster or a container engine (docs/deploy.md, "What CI
# checks"):
#   1. renders every kustomization of deploy/kubernetes with `kubectl kustomize` (the TLS overlays,
#      and gateway-only with the disk-queue and with the TLS component, included), and checks that
#      components/tls/config.alloy is gateway/config.alloy plus the receiver's tls blocks;
#   2. runs the container image's build stage on this Debian 12 host (scripts/container-build.sh,
#      the script the Dockerfile runs) into a staging root, and checks with ldd that every
#      library the binary needs comes from the runtime stage's packages;
#   3. validates every rendered object against the Kubernetes 1.33 OpenAPI schemas and checks
#      cross-references, ports, NodePorts, routing and NetworkPolicies (deploy/validate/check.mjs),
#      including that telegate's admin port 12345 is in no Service and admits only the node agent,
#      the gateway's preStop delay and grace period, and `telegate validate` of each rendered
#      config.alloy with the pod's environment (and throwaway certificates made with openssl at
#      the paths its tls blocks name), cert-manager objects against their CRD schemas and the TLS
#      cross-references (certificates, mounts, Ingress backends), refused on deliberately broken
#      copies of the TLS overlays, and parses the dashboard's PromQL with promtool;
#   4. smoke-tests the staged binary on free loopback ports: readiness, OTLP/HTTP under
#      /observability with the bearer token, and a token rotation through a Secret-style volume
#      (kubelet's ..data symlink swap) without a restart; then the TLS configuration
#      (components/tls) with certificates laid out as cert-manager's Secret volume: HTTPS and
#      gRPC over TLS with a client trusting the CA, refused without it, plain-HTTP probes on the
#      admin port, a certificate renewal by symlink swap served without a restart, and mutual
#      TLS (components/mtls) refusing a client without a certificate.
#
# Usage: scripts/check-deploy.sh [--work DIR] [--binary BIN --no-container-build]
# Exit status: 0 passed, 1 failed, 77 skipped (kubectl is not installed).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

work=""
binary=""
container_build=1
while (($#)); do
  case "$1" in
    --work) work="$2"; shift ;;
    --binary) binary="$2"; shift ;;
    --no-container-build) container_build=0 ;;
    -h | --help) sed -n '2,27p' "$0"; exit 0 ;;
    *) echo "check-deploy: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

if ! command -v kubectl >/dev/null 2>&1; then
  echo "check-deploy: SKIPPED: kubectl is not installed (scripts/setup.sh installs it when apt can)"
  exit 77
fi
for tool in node npm curl python3 ldd dpkg-query openssl; do
  command -v "$tool" >/dev/null 2>&1 || { echo "check-deploy: $tool is missing (run scripts/setup.sh)" >&2; exit 1; }
done
if ((!container_build)) && [[ -z "$binary" ]]; then
  echo "check-deploy: --no-container-build needs --binary" >&2
  exit 2
fi

work="${work:-$(mktemp -d)}"
# Reuse only a directory this script made (it leaves a marker); never empty anything else.
[[ -e "$work/.check-deploy" ]] && rm -rf "$work"
if [[ -d "$work" && -n "$(ls -A "$work")" ]]; then
  echo "check-deploy: --work $work is not empty and was not made by this script" >&2
  exit 2
fi
mkdir -p "$work"
touch "$work/.check-deploy"
work="$(cd "$work" && pwd)"
failed=0
step() { printf '\n== %s\n' "$*"; }
bad() {
  echo "FAIL: $*"
  failed=1
}

# 1. Render.
step "render (kubectl $(kubectl version --client 2>/dev/null | sed -n 's/^Kustomize Version: //p' | sed 's/^/kustomize /'))"
k8s="deploy/kubernetes"
variants=()
render() { # name dir
  if kubectl kustomize "$2" >"$work/$1.yaml" 2>"$work/$1.err"; then
    echo "rendered $2 ($(grep -c '^kind:' "$work/$1.yaml") objects)"
    variants+=("$1=$work/$1.yaml")
  else
    bad "kubectl kustomize $2: $(cat "$work/$1.err")"
  fi
}
render base "$k8s/base"
for d in "$k8s"/overlays/*/; do
  render "$(basename "$d")" "${d%/}"
done
render gateway-only "$k8s/gateway-only"
# The gateway-only kustomization with its disk-queue component switched on, as docs/deploy.md
# tells users to do (a temporary kustomization; kustomize only accepts relative paths).
dq="$work/gateway-only-disk-queue"
mkdir -p "$dq"
rel="$(python3 -c 'import os,sys; print(os.path.relpath(sys.argv[1], sys.argv[2]))' "$root/$k8s" "$dq")"
printf 'namespace: telegate\nresources:\n  - %s/gateway-only\ncomponents:\n  - %s/components/disk-queue\n' \
  "$rel" "$rel" >"$dq/kustomization.yaml"
render gateway-only-disk-queue "$dq"
# gateway-only with TLS, as docs/deploy.md ("TLS for gateway-only") tells users to switch it on:
# the component, and ingress-nginx re-encrypting to the gateway.
gt="$work/gateway-only-tls"
mkdir -p "$gt"
rel="$(python3 -c 'import os,sys; print(os.path.relpath(sys.argv[1], sys.argv[2]))' "$root/$k8s" "$gt")"
cat >"$gt/kustomization.yaml" <<KUST
namespace: telegate
resources:
  - $rel/gateway-only
components:
  - $rel/components/tls
patches:
  - target: {kind: Ingress, name: telegate}
    patch: |-
      - op: add
        path: /metadata/annotations/nginx.ingress.kubernetes.io~1backend-protocol
        value: HTTPS
KUST
render gateway-only-tls "$gt"

# components/tls/config.alloy replaces gateway/config.alloy: apart from comments and the
# receiver's two tls blocks it must stay the same file.
if python3 - "$k8s/gateway/config.alloy" "$k8s/components/tls/config.alloy" <<'PY'; then
import difflib, re, sys
def strip(text, drop_tls):
    text = re.sub(r"(?m)^[ \t]*//.*\n", "", text)
    if drop_tls:
        start = text.index('otelcol.receiver.otlp "default" {')
        end = text.index("\n}\n", start)
        block = re.sub(r"\n\n\t\ttls \{\n(\t\t\t.*\n)*\t\t\}", "", text[start:end])
        text = text[:start] + block + text[end:]
    return text
plain = strip(open(sys.argv[1]).read(), False)
tls = strip(open(sys.argv[2]).read(), True)
if plain != tls:
    sys.stdout.writelines(difflib.unified_diff(plain.splitlines(True), tls.splitlines(True), "gateway/config.alloy", "components/tls/config.alloy"))
    sys.exit(1)
PY
  echo "components/tls/config.alloy = gateway/config.alloy + the receiver's tls blocks"
else
  bad "components/tls/config.alloy differs from gateway/config.alloy by more than the receiver's tls blocks"
fi

# 2. The container's build stage, on this host.
if ((container_build)); then
  step "container build stage (scripts/container-build.sh)"
  stage="$work/stage"
  if scripts/container-build.sh --build-dir "$root/build/container" --prefix "$stage" \
    >"$work/container-build.log" 2>&1; then
    tail -1 "$work/container-build.log"
    binary="$stage/usr/bin/telegate"
  else
    tail -30 "$work/container-build.log"
    bad "scripts/container-build.sh failed (log: $work/container-build.log)"
  fi
fi

if [[ -n "$binary" && -x "$binary" ]]; then
  step "runtime libraries of $binary"
  # Packages the runtime stage installs, with everything they depend on (first alternatives,
  # which apt picks by default).
  mapfile -t runtime < <(grep -v '^#' scripts/container-runtime-packages.txt | sed '/^\s*$/d')
  declare -A closure=()
  queue=("${runtime[@]}")
  while ((${#queue[@]})); do
    p="${queue[0]}"
    queue=("${queue[@]:1}")
    [[ -n "${closure[$p]:-}" ]] && continue
    closure[$p]=1
    deps="$(dpkg-query -W -f='${Depends},${Pre-Depends}' "$p" 2>/dev/null)" || {
      bad "runtime package $p is not installed on this host, so its libraries cannot be checked"
      continue
    }
    while read -r d; do
      [[ -n "$d" ]] && queue+=("$d")
    done < <(tr ',' '\n' <<<"$deps" | sed 's/|.*//; s/(.*)//; s/:any//; s/^ *//; s/ *$//')
  done
  # Which package owns each library (one dpkg query for all). Debian 12 has a merged /usr, so
  # a library may be registered under /lib or /usr/lib: ask for both spellings.
  mapfile -t lib_lines < <(ldd "$binary" | awk '$2 == "=>" {print $1, $3}')
  declare -A owner=()
  candidates=()
  for l in "${lib_lines[@]}"; do
    path="${l#* }"
    [[ "$path" == "not" ]] && continue
    real="$(readlink -f "$path")"
    for f in "$path" "$real"; do
      candidates+=("$f" "/usr${f#/usr}" "${f#/usr}")
    done
  done
  while IFS= read -r line; do
    owner["${line#*: }"]="${line%%:*}"
  done < <(dpkg-query -S "${candidates[@]}" 2>/dev/null | grep -v '^diversion')
  libs=0
  for l in "${lib_lines[@]}"; do
    name="${l%% *}"
    path="${l#* }"
    if [[ "$path" == "not" ]]; then
      bad "$name: not found"
      continue
    fi
    real="$(readlink -f "$path")"
    pkg=""
    for f in "$path" "$real"; do
      for g in "$f" "/usr${f#/usr}" "${f#/usr}"; do
        [[ -z "$pkg" && -n "${owner[$g]:-}" ]] && pkg="${owner[$g]%%:*}"
      done
    done
    libs=$((libs + 1))
    if [[ -z "$pkg" ]]; then
      bad "$name ($path) belongs to no Debian package"
    elif [[ -z "${closure[$pkg]:-}" ]]; then
      bad "$name comes from $pkg, which the runtime stage does not install (scripts/container-runtime-packages.txt)"
    fi
  done
  echo "$libs shared libraries, all provided by the runtime packages and their dependencies: $([[ $failed == 0 ]] && echo yes || echo NO)"
fi

step "Dockerfile"
grep -q 'scripts/container-build.sh' Dockerfile || bad "Dockerfile does not run scripts/container-build.sh"
grep -q 'container-runtime-packages.txt' Dockerfile || bad "Dockerfile does not install scripts/container-runtime-packages.txt"
base_image="$(sed -n 's/^ARG DEBIAN_IMAGE=//p' Dockerfile)"
[[ "$base_image" =~ ^debian:12\.[0-9]+-slim$ ]] || bad "Dockerfile base image '$base_image' is not a pinned Debian 12 slim tag"
grep -q '^USER 10001' Dockerfile || bad "Dockerfile runtime user is not 10001"
grep -q '^ENTRYPOINT \["/usr/bin/telegate"\]' Dockerfile || bad "Dockerfile entrypoint is not /usr/bin/telegate"
grep -qF 'CMD ["run", "/etc/alloy/config.alloy", "--server.http.listen-addr=0.0.0.0:12345", "--storage.path=/var/lib/alloy/data"]' Dockerfile ||
  bad "Dockerfile CMD is not the setup guide's arguments"
echo "Dockerfile checked"

# 3. Schemas and cross-references.
step "schemas and cross-references (deploy/validate)"
if [[ ! -d deploy/validate/node_modules || deploy/validate/package-lock.json -nt deploy/validate/node_modules ]]; then
  (cd deploy/validate && npm ci --no-audit --no-fund --loglevel=error) || bad "npm ci in deploy/validate failed"
fi
# Throwaway certificates: check.mjs lays them out at the paths the tls blocks name before it runs
# `telegate validate` (which builds no listener and so does not read them today, but sees the
# same files a pod would if it ever does), and the TLS smoke test below serves them.
mkca() { # dir: ca.crt, ca.key
  mkdir -p "$1"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=check-deploy CA $(basename "$1")" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    -keyout "$1/ca.key" -out "$1/ca.crt" 2>/dev/null
}
mkcert() { # ca-dir out-dir cn usage san : out-dir/tls.crt, out-dir/tls.key signed by the CA
  mkdir -p "$2"
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$3" \
    -keyout "$2/tls.key" -out "$2/tls.csr" 2>/dev/null &&
    printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=%s\n%s\n' "$4" "${5:+subjectAltName=$5}" >"$2/ext.cnf" &&
    openssl x509 -req -in "$2/tls.csr" -CA "$1/ca.crt" -CAkey "$1/ca.key" -CAcreateserial -days 2 \
      -extfile "$2/ext.cnf" -out "$2/tls.crt" 2>/dev/null &&
    cp "$1/ca.crt" "$2/ca.crt"
}
mkca "$work/tls-ca" && mkcert "$work/tls-ca" "$work/tls-fixtures" telegate serverAuth DNS:telegate.monitoring.svc ||
  bad "openssl could not make the test certificates"
tg_args=()
[[ -n "$binary" && -x "$binary" ]] && tg_args=(--telegate "$binary")
node deploy/validate/check.mjs "${tg_args[@]}" --work "$work" --tls-fixtures "$work/tls-fixtures" "${variants[@]}" || failed=1
# The TLS checks themselves: broken copies of rendered TLS overlays must be refused, each for
# the reason it was broken for.
mutant() { # variant sed-expression expected-message
  sed -e "$2" "$work/$1.yaml" >"$work/mutant.yaml"
  if cmp -s "$work/$1.yaml" "$work/mutant.yaml"; then
    bad "self-test: '$2' changes nothing in $1"
  elif grep -qF "$3" <<<"$(node deploy/validate/check.mjs --work "$work" "$1=$work/mutant.yaml" 2>&1 || true)"; then
    echo "ok: a broken $1 is refused: $3"
  else
    bad "self-test: $1 with '$2' was not refused with '$3'"
  fi
}
mutant ingress-nginx-tls 's/backend-protocol: HTTPS/backend-protocol: HTTP/' "the gateway serves TLS on 4318, but the Ingress sends plain text"
mutant haproxy-tls 's/- host: otlp-grpc.example.com/- host: grpc.example.org/' "passthrough host grpc.example.org is not a dnsName"
mutant haproxy-tls 's#server-ca: monitoring/telegate-ca#server-ca: monitoring/monitoring-ingress-tls#' "is not the CA (Secret telegate-ca)"
mutant haproxy-tls 's/^  - telegate.monitoring.svc$/  - telegate.other.svc/' "does not name telegate.monitoring.svc"
mutant nodeport-mtls 's/^  secretName: telegate-client-ca$/  secretNam: telegate-client-ca/' "spec.secretNam: unknown field"
mutant nodeport-mtls 's#/etc/telegate/client-ca$#/etc/telegate/client-ca2#' "client_ca_file /etc/telegate/client-ca/ca.crt is not in a mounted Secret"
mutant aws-alb-tls 's/healthcheck-protocol: HTTPS/healthcheck-protocol: HTTP/' "the ALB health check must use HTTPS"
mutant haproxy-tls 's/^          secretName: telegate-tls$/          secretName: telegate-tlz/' "volume tls: Secret telegate-tlz missing"
# PromQL of the dashboard and of Tempo's trace-to-metrics links, parsed by promtool (Debian's
# prometheus package) as recording rules, with Grafana's variables filled in.
py=python3
python3 -c 'import yaml' 2>/dev/null || py=/usr/bin/python3 # Debian's python3-yaml
if command -v promtool >/dev/null 2>&1; then
  "$py" - "$k8s/grafana" "$work/promql-rules.yaml" <<'PY' || bad "could not extract the dashboard's queries"
import json, re, sys, yaml
src, out = sys.argv[1:3]
exprs = []
def walk(node):
    if isinstance(node, dict):
        if isinstance(node.get("expr"), str):
            exprs.append(node["expr"])
        if isinstance(node.get("query"), str) and node.get("name"):
            exprs.append(node["query"])
        for v in node.values():
            walk(v)
    elif isinstance(node, list):
        for v in node:
            walk(v)
walk(json.load(open(f"{src}/dashboards/telegate.json")))
walk(yaml.safe_load(open(f"{src}/datasources.yaml")))
def fill(e):
    e = e.replace("$$", "$").replace("$__rate_interval", "5m").replace("$__tags", 'service="x"')
    return re.sub(r"\$\w+", ".*", e)
rules = [{"record": f"dashboard:query{i}", "expr": fill(e)} for i, e in enumerate(exprs)]
yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, open(out, "w"))
print(f"{len(rules)} PromQL queries")
PY
  promtool check rules "$work/promql-rules.yaml" >"$work/promtool.log" 2>&1 ||
    { cat "$work/promtool.log"; bad "promtool rejects a dashboard or data source query"; }
fi
if [[ -n "$binary" && -x "$binary" ]]; then
  # The image's default configuration (examples/lgtm.alloy with the guide's token variable).
  ALLOY_RECEIVER_TOKEN=check "$binary" validate examples/lgtm.alloy || bad "examples/lgtm.alloy (the image's default) is invalid"
fi

# 4. Smoke test of the binary with the bundle's gateway configuration.
if [[ -n "$binary" && -x "$binary" ]]; then
  step "smoke test of $binary"
  "$binary" --version || bad "--version failed"
  read -r p_admin p_grpc p_http < <(python3 -c '
import socket
s = [socket.socket() for _ in range(3)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
  # Secret volume as kubelet lays it out: <dir>/tokens -> ..data/tokens, ..data -> ..<timestamp>.
  tok="$work/tokens"
  mkdir -p "$tok/..v1"
  {
    echo "first-token name=ci"
    # The digest form docs/deploy.md recommends for files kept in git.
    echo "sha256:$(printf '%s' digest-token | sha256sum | cut -d' ' -f1) name=ci-digest"
  } >"$tok/..v1/tokens"
  ln -s ..v1 "$tok/..data"
  ln -s ..data/tokens "$tok/tokens"
  sed -e "s#/etc/telegate/tokens/tokens#$tok/tokens#" \
    -e "s#0.0.0.0:4317#127.0.0.1:$p_grpc#" -e "s#0.0.0.0:4318#127.0.0.1:$p_http#" \
    "$k8s/gateway/config.alloy" >"$work/gateway.alloy"
  TELEGATE_LOKI_PUSH_URL=http://127.0.0.1:9/loki/api/v1/push \
    TELEGATE_MIMIR_OTLP_URL=http://127.0.0.1:9/otlp TELEGATE_TEMPO_OTLP_GRPC=127.0.0.1:9 \
    "$binary" run "$work/gateway.alloy" --server.http.listen-addr="127.0.0.1:$p_admin" \
    --storage.path="$work/data" --shutdown-timeout=2 >"$work/telegate.log" 2>&1 &
  pid=$!
  admin="http://127.0.0.1:$p_admin"
  otlp="http://127.0.0.1:$p_http"
  ready=0
  for _ in $(seq 1 50); do
    if [[ "$(curl -s -o /dev/null -w '%{http_code}' "$admin/-/ready")" == 200 ]]; then ready=1; break; fi
    sleep 0.2
  done
  ((ready)) || bad "/-/ready did not answer 200 within 10 s"
  post() { # token path -> HTTP status
    curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $1" \
      -H 'Content-Type: application/json' --data '{"resourceLogs":[]}' "$otlp$2"
  }
  expect() { # what want got
    if [[ "$3" == "$2" ]]; then echo "ok: $1 -> $3"; else bad "$1: expected $2, got $3"; fi
  }
  expect "POST /observability/v1/logs with the token" 200 "$(post first-token /observability/v1/logs)"
  expect "POST /v1/logs with the token" 200 "$(post first-token /v1/logs)"
  expect "POST /v1/metrics with a token given as its sha256 digest" 200 "$(post digest-token /v1/metrics)"
  expect "POST /observability/v1/logs with a wrong token" 401 "$(post wrong /observability/v1/logs)"
  expect "GET /-/healthy" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$admin/-/healthy")"
  expect "GET /-/reload (only POST reloads)" 405 "$(curl -s -o /dev/null -w '%{http_code}' "$admin/-/reload")"
  # Rotate the way kubelet updates a Secret volume: new directory, then swap ..data atomically.
  mkdir -p "$tok/..v2"
  echo "second-token name=ci" >"$tok/..v2/tokens"
  ln -s ..v2 "$tok/..data_tmp"
  mv -T "$tok/..data_tmp" "$tok/..data"
  rotated=0
  for _ in $(seq 1 50); do
    if [[ "$(post second-token /observability/v1/traces)" == 200 ]]; then rotated=1; break; fi
    sleep 0.2
  done
  if ((rotated)); then echo "ok: rotated token accepted without a restart"; else bad "the rotated token was not accepted within 10 s"; fi
  expect "old token after rotation" 401 "$(post first-token /observability/v1/traces)"
  # The Django example's exporter URLs and header (examples/django/telemetry.py), as an
  # application behind the ingress would use them.
  if python3 - "$otlp/observability" second-token <<'PY'; then echo "ok: examples/django endpoints and header -> 200"; else bad "examples/django endpoints were refused"; fi
import json, sys, urllib.request
sys.path.insert(0, "examples/django")
sys.dont_write_bytecode = True
import telemetry
s = telemetry.exporter_settings({"TELEGATE_OTLP_URL": sys.argv[1], "TELEGATE_TOKEN": sys.argv[2]})
bodies = {"traces": "resourceSpans", "metrics": "resourceMetrics", "logs": "resourceLogs"}
for signal, url in s["endpoints"].items():
    req = urllib.request.Request(url, data=json.dumps({bodies[signal]: []}).encode(),
                                 headers={**s["headers"], "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as r:
        assert r.status == 200, (url, r.status)
PY
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" || true

  # The node agent's relabeling rules, on pod targets shaped like discovery.kubernetes's: only
  # the annotated port of annotated pods is scraped; opted-out pods are not tailed; labels.
  "$py" - "$k8s/node-agent/config.alloy" "$work/relabel.alloy" <<'PY' || bad "could not extract the node agent's relabel rules"
import re, sys
src, out = sys.argv[1:3]
def pod(ns, name, container, port, **extra):
    t = {"__address__": f"10.0.0.1:{port}", "__meta_kubernetes_namespace": ns,
         "__meta_kubernetes_pod_name": name, "__meta_kubernetes_pod_container_name": container,
         "__meta_kubernetes_pod_container_port_number": str(port),
         "__meta_kubernetes_pod_phase": "Running"}
    t.update({f"__meta_kubernetes_pod_{k}": v for k, v in extra.items()})
    return "{" + ", ".join(f'"{k}" = "{v}"' for k, v in t.items()) + "}"
scrape = dict(annotation_prometheus_io_scrape="true", annotation_prometheus_io_port="12345",
              label_app_kubernetes_io_name="telegate", label_app_kubernetes_io_component="gateway")
targets = "[" + ", ".join([
    pod("monitoring", "telegate-0", "telegate", 12345, **scrape),
    pod("monitoring", "telegate-0", "telegate", 4317, **scrape),
    pod("shop", "web-1", "web", 8080, label_app="web", annotation_telegate_io_logs="false"),
    pod("shop", "api-1", "api", 80, label_app="api"),
]) + "]"
text = open(src).read()
blocks = re.findall(r'discovery\.relabel "(?:logs|metrics)" \{.*?\n\}\n', text, re.S)
assert len(blocks) == 2, "expected the logs and metrics relabel blocks"
open(out, "w").write("\n".join(b.replace("discovery.kubernetes.pods.targets", targets) for b in blocks))
PY
  "$binary" run "$work/relabel.alloy" --server.http.listen-addr="127.0.0.1:$p_admin" \
    --storage.path="$work/relabel-data" >"$work/relabel.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 50); do
    [[ "$(curl -s -o /dev/null -w '%{http_code}' "$admin/-/ready")" == 200 ]] && break
    sleep 0.2
  done
  if "$py" - "$admin" <<'PY'; then echo "ok: node agent relabeling"; else bad "node agent relabeling"; fi
import json, sys, urllib.request
def output(component):
    with urllib.request.urlopen(f"{sys.argv[1]}/api/v0/web/components/{component}", timeout=5) as r:
        return json.load(r)["exports"]["output"]
public = lambda ts: sorted(tuple(sorted((k, v) for k, v in t.items() if not k.startswith("__") or k == "__address__" or k == "__metrics_path__")) for t in ts)
metrics = output("discovery.relabel.metrics")
assert public(metrics) == public([{"__address__": "10.0.0.1:12345", "app": "telegate", "component": "gateway", "namespace": "monitoring", "pod": "telegate-0"}]), metrics
logs = output("discovery.relabel.logs")
got = sorted((t["namespace"], t["pod"], t["container"], t["app"], t["job"]) for t in logs)
want = sorted([("monitoring", "telegate-0", "telegate", "telegate", "monitoring/telegate")] * 2 + [("shop", "api-1", "api", "api", "shop/api")])
assert got == want, got
PY
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" || true
  if ((failed)); then
    echo "--- telegate log"
    tail -20 "$work/telegate.log"
  fi

  # TLS: the gateway configuration of components/tls, its certificate laid out the way kubelet
  # mounts cert-manager's Secret (tls.crt, tls.key, ca.crt -> ..data/ -> ..<version>/).
  step "TLS smoke test (components/tls, components/mtls)"
  tls_failed_before=$failed
  read -r p_admin p_grpc p_http < <(python3 -c '
import socket
s = [socket.socket() for _ in range(3)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
  host=telegate.monitoring.svc
  sec="$work/tls-secret"
  mkcert "$work/tls-ca" "$sec/..v1" telegate serverAuth "DNS:$host" || bad "openssl: serving certificate"
  ln -s ..v1 "$sec/..data"
  for f in tls.crt tls.key ca.crt; do ln -s "..data/$f" "$sec/$f"; done
  # The client CA of components/mtls, a client certificate from it, and one from another CA.
  mkca "$work/client-ca" && mkcert "$work/client-ca" "$work/client" ci-client clientAuth "" &&
    mkcert "$work/tls-ca" "$work/other-client" other-ca-client clientAuth "" || bad "openssl: client certificates"
  sed -e "s#/etc/telegate/tokens/tokens#$tok/tokens#" -e "s#/etc/telegate/tls/#$sec/#" \
    -e "s#0.0.0.0:4317#127.0.0.1:$p_grpc#" -e "s#0.0.0.0:4318#127.0.0.1:$p_http#" \
    "$k8s/components/tls/config.alloy" >"$work/gateway-tls.alloy"
  tls_start() { # client CA file ("" = no client certificates), log file
    TELEGATE_TLS_CLIENT_CA_FILE="$1" TELEGATE_LOKI_PUSH_URL=http://127.0.0.1:9/loki/api/v1/push \
      TELEGATE_MIMIR_OTLP_URL=http://127.0.0.1:9/otlp TELEGATE_TEMPO_OTLP_GRPC=127.0.0.1:9 \
      "$binary" run "$work/gateway-tls.alloy" --server.http.listen-addr="127.0.0.1:$p_admin" \
      --storage.path="$work/tls-data" --shutdown-timeout=2 >"$2" 2>&1 &
    pid=$!
    local i
    for i in $(seq 1 50); do
      # The probes' request: plain HTTP on the admin port, which TLS on the OTLP ports leaves as is.
      [[ "$(curl -s -o /dev/null -w '%{http_code}' "$admin/-/ready")" == 200 ]] && return 0
      sleep 0.2
    done
    bad "TLS gateway: /-/ready (plain HTTP on the admin port) did not answer 200 within 10 s"
  }
  admin="http://127.0.0.1:$p_admin"
  https_post() { # curl TLS options... -> HTTP status (000: no HTTP answer, e.g. a refused handshake)
    curl -s -o /dev/null -w '%{http_code}' --max-time 5 --resolve "$host:$p_http:127.0.0.1" "$@" -X POST \
      -H "Authorization: Bearer second-token" -H 'Content-Type: application/json' \
      --data '{"resourceLogs":[]}' "https://$host:$p_http/observability/v1/logs" || true
  }
  served_serial() { # port -> serial of the certificate served there
    { openssl s_client -connect "127.0.0.1:$1" -servername "$host" </dev/null 2>/dev/null |
      openssl x509 -noout -serial 2>/dev/null; } || true
  }
  tls_start "" "$work/tls-telegate.log"
  expect "GET /-/ready on the admin port (plain HTTP, as the probes)" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$admin/-/ready")"
  expect "HTTPS POST /observability/v1/logs trusting the CA, with the token" 200 "$(https_post --cacert "$work/tls-ca/ca.crt")"
  expect "HTTPS POST trusting the CA, wrong token" 401 "$(https_post --cacert "$work/tls-ca/ca.crt" -H 'Authorization: Bearer wrong')"
  expect "HTTPS POST by a client that does not trust the CA" 000 "$(https_post)"
  expect "plain HTTP POST to the TLS port" 000 "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X POST "http://127.0.0.1:$p_http/v1/logs" || true)"
  grpc_hs="$(openssl s_client -connect "127.0.0.1:$p_grpc" -servername "$host" -verify_hostname "$host" \
    -CAfile "$work/tls-ca/ca.crt" -verify_return_error -alpn h2 </dev/null 2>&1 | tr -d '\0' || true)"
  if grep -q 'Verify return code: 0 (ok)' <<<"$grpc_hs" && grep -q 'ALPN protocol: h2' <<<"$grpc_hs"; then
    echo "ok: OTLP/gRPC port: TLS handshake verified against the CA, ALPN h2"
  else
    bad "OTLP/gRPC port: no verified TLS handshake with ALPN h2: $(grep -E 'Verify return code|ALPN|error' <<<"$grpc_hs" | head -3)"
  fi
  # Renewal as cert-manager and kubelet do it: a new certificate and key in a new directory,
  # then ..data swapped atomically. New handshakes get it without a restart.
  old_serial="$(served_serial "$p_http")"
  mkcert "$work/tls-ca" "$sec/..v2" telegate serverAuth "DNS:$host" || bad "openssl: renewed certificate"
  new_serial="$(openssl x509 -noout -serial -in "$sec/..v2/tls.crt")"
  ln -s ..v2 "$sec/..data_tmp"
  mv -T "$sec/..data_tmp" "$sec/..data"
  renewed=0
  for _ in $(seq 1 50); do
    if [[ "$(served_serial "$p_http")" == "$new_serial" && "$(served_serial "$p_grpc")" == "$new_serial" ]]; then renewed=1; break; fi
    sleep 0.2
  done
  if ((renewed)) && [[ "$old_serial" != "$new_serial" ]]; then
    echo "ok: renewed certificate served on 4317 and 4318 without a restart"
  else
    bad "the renewed certificate was not served within 10 s (before: $old_serial, want: $new_serial, now: $(served_serial "$p_http"))"
  fi
  expect "HTTPS POST after the renewal" 200 "$(https_post --cacert "$work/tls-ca/ca.crt")"
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" || true

  # Mutual TLS (components/mtls sets TELEGATE_TLS_CLIENT_CA_FILE to the client CA's ca.crt).
  tls_start "$work/client-ca/ca.crt" "$work/mtls-telegate.log"
  expect "mTLS: HTTPS POST with a client certificate from the client CA" 200 \
    "$(https_post --cacert "$work/tls-ca/ca.crt" --cert "$work/client/tls.crt" --key "$work/client/tls.key")"
  expect "mTLS: HTTPS POST without a client certificate" 000 "$(https_post --cacert "$work/tls-ca/ca.crt")"
  expect "mTLS: HTTPS POST with a client certificate from another CA" 000 \
    "$(https_post --cacert "$work/tls-ca/ca.crt" --cert "$work/other-client/tls.crt" --key "$work/other-client/tls.key")"
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" || true
  if ((failed && !tls_failed_before)); then
    echo "--- telegate log (TLS)"
    tail -20 "$work/tls-telegate.log"
    echo "--- telegate log (mutual TLS)"
    tail -20 "$work/mtls-telegate.log"
  fi
fi

echo
if ((failed)); then
  echo "check-deploy: FAILED (work files in $work)"
  exit 1
fi
echo "check-deploy: passed"
