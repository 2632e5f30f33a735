// Offline checks of rendered Kubernetes manifests (the output of `kubectl kustomize`).
//
// Usage: node check.mjs [--telegate BIN] [--work DIR] [--tls-fixtures DIR] NAME=RENDERED.yaml ...
//
// For every variant (overlay) it checks, and reports every failure (exit 1 if any):
//   - each object against the OpenAPI schema of Kubernetes 1.33 (npm kubernetes-models 4.5.1),
//     and no field the API does not know (a misspelt or misplaced field is an error here, where
//     the API server would drop it or refuse the object);
//   - images carry a pinned tag (never "latest" or none); pods meet the "restricted" Pod Security
//     level where their namespace enforces it;
//   - every ConfigMap, Secret (with the keys used), ServiceAccount, PersistentVolumeClaim,
//     volume and named port a pod refers to exists;
//   - Service selectors select a workload, each targetPort is a containerPort (by number or
//     name) of the selected pods, NodePorts are in 30000-32767 and unique across the variant;
//   - Ingress backends name existing Services and ports, and the request routing table of the
//     setup guide holds (/observability/... to telegate's OTLP/HTTP port, /grafana and / to
//     Grafana, "/" landing on /grafana/); NodePorts match the guide's NodePort table;
//   - HPA/PDB targets exist, RBAC subjects exist, NetworkPolicies only admit the expected peers
//     to Loki, Mimir and Tempo;
//   - telegate's admin port 12345 is in no Service; every telegate pod is selected by a
//     NetworkPolicy that admits 12345 only from the node agent (the scraper) and, for the
//     gateway, the OTLP ports from every client; gateway containers have a preStop delay and a
//     grace period covering it plus --shutdown-timeout;
//   - paths the backends write (Loki, Mimir, Tempo, telegate) lie on writable volumes, since root
//     filesystems are read-only; Grafana is served from /grafana/ and its data sources point to
//     existing Services; the dashboard's data sources exist;
//   - each telegate configuration (config.alloy in a ConfigMap) passes `telegate validate` with
//     the environment the pod gets, and its token_file lies on a mounted Secret key;
//   - cert-manager objects (cert-manager.io/v1 Certificate, Issuer, ClusterIssuer) against the
//     schemas generated from cert-manager's CRDs (npm @kubernetes-models/cert-manager 4.4.4), with
//     no undeclared field; a Certificate's Secret counts as present with tls.crt, tls.key and
//     ca.crt; issuerRefs and CA Issuers' Secrets exist; Ingress TLS hosts are in their certificate;
//   - TLS on the gateway (docs/deploy.md, "TLS"): the receiver's grpc and http `tls` blocks both
//     or neither; cert_file, key_file and client_ca_file lie on keys of Secrets mounted read-only
//     as directories; a cert-manager serving certificate names the gateway Service in its
//     namespace and may serve ("server auth"); a client CA comes from a CA certificate; the admin
//     port's probes stay plain HTTP; every Ingress path to the gateway speaks TLS to it exactly
//     when the gateway serves TLS (ingress-nginx backend-protocol HTTPS/GRPCS or ssl-passthrough,
//     HAProxy server-ssl or ssl-passthrough, ALB backend-protocol HTTPS), verification settings
//     name the CA that issued the gateway's certificate and a name it carries, and passthrough
//     hosts are in the gateway's certificate. With --tls-fixtures DIR (ca.crt, tls.crt, tls.key
//     made by scripts/check-deploy.sh), `telegate validate` runs with those files at the paths the
//     tls blocks name (it does not read them today, as it starts no listener).
// The cert-manager and TLS checks live in tls.mjs, the custom resources' schemas in crd.mjs.
// Variant names decide which routing expectations apply: haproxy, ingress-nginx, aws-alb,
// nodeport, gateway-only*; "base" has no way in.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import YAML from "yaml";
import { CRD_PACKAGES, isCustomResource, strictCustomResource } from "./crd.mjs";
import { addCertificateSecrets, checkCertManager, checkIngressTls, checkReceiverTls, checkServingNames, layOutTlsFiles } from "./tls.mjs";

const args = process.argv.slice(2);
let telegate = "";
let work = "";
let tlsFixtures = "";
const variants = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--telegate") telegate = args[++i];
  else if (args[i] === "--work") work = args[++i];
  else if (args[i] === "--tls-fixtures") tlsFixtures = args[++i];
  else if (args[i].includes("=")) {
    const [name, file] = args[i].split(/=(.*)/s);
    variants.push({ name, file });
  } else {
    console.error(`check.mjs: unexpected argument ${args[i]}`);
    process.exit(2);
  }
}
if (!variants.length) {
  console.error("usage: node check.mjs [--telegate BIN] [--work DIR] [--tls-fixtures DIR] NAME=RENDERED.yaml ...");
  process.exit(2);
}
work = work || fs.mkdtempSync(path.join(os.tmpdir(), "telegate-deploy-check-"));

const BACKENDS = ["loki", "mimir", "tempo"];
const WORKLOAD_KINDS = new Set(["Deployment", "StatefulSet", "DaemonSet"]);
let failures = 0;
let checks = 0;

function key(kind, ns, name) {
  return `${kind}/${ns || ""}/${name}`;
}

function modelPath(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  if (CRD_PACKAGES[group]) return `${CRD_PACKAGES[group]}/${group}/${version}/${kind}`;
  return `kubernetes-models/${group ? `${group}/` : ""}${version}/${kind}`;
}

async function modelFor(apiVersion, kind) {
  try {
    const mod = await import(modelPath(apiVersion, kind));
    return mod[kind];
  } catch {
    return null;
  }
}

function podSpecOf(obj) {
  return obj.spec?.template?.spec;
}

function podLabelsOf(obj) {
  return obj.spec?.template?.metadata?.labels || {};
}

function selects(selector, labels) {
  if (!selector || !Object.keys(selector).length) return false;
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

function labelSelectorMatches(sel, labels) {
  if (!sel) return false;
  const ml = sel.matchLabels || {};
  if (!Object.entries(ml).every(([k, v]) => labels[k] === v)) return false;
  for (const e of sel.matchExpressions || []) {
    const has = e.key in labels;
    if (e.operator === "In" && !(has && e.values.includes(labels[e.key]))) return false;
    if (e.operator === "NotIn" && has && e.values.includes(labels[e.key])) return false;
    if (e.operator === "Exists" && !has) return false;
    if (e.operator === "DoesNotExist" && has) return false;
  }
  return Object.keys(ml).length > 0 || (sel.matchExpressions || []).length > 0;
}

function secretKeys(secret) {
  return new Set([...Object.keys(secret.data || {}), ...Object.keys(secret.stringData || {})]);
}

function secretValue(secret, k) {
  if (secret.stringData && k in secret.stringData) return secret.stringData[k];
  if (secret.data && k in secret.data) return Buffer.from(secret.data[k], "base64").toString();
  return undefined;
}

// Kubernetes Ingress matching: Exact beats Prefix; among Prefix the longest path wins; a Prefix
// path matches element-wise ("/foo" matches "/foo" and "/foo/bar", not "/foobar"). With a host
// (null: a request whose host no rule names), only rules for that host or for any host apply.
function route(ingresses, reqPath, host) {
  let best = null;
  for (const ing of ingresses) {
    for (const rule of ing.spec.rules || []) {
      if (host !== undefined && rule.host && rule.host !== host) continue;
      for (const p of rule.http?.paths || []) {
        let score = -1;
        if (p.pathType === "Exact" && reqPath === p.path) score = 1e6;
        else if (p.pathType === "Prefix" || p.pathType === "ImplementationSpecific") {
          const pre = p.path.replace(/\/+$/, "");
          if (pre === "" || reqPath === pre || reqPath.startsWith(pre + "/")) score = pre.length;
        }
        if (score > (best?.score ?? -1)) best = { score, ing, p };
      }
    }
  }
  return best;
}

function parsePort(p) {
  return p.number ?? p.name;
}

// Unknown fields. The schemas above accept extra properties, so the declared properties of each
// type are read from the packages' TypeScript declarations (generated from the same OpenAPI
// document) and every field of an object is looked up in them, recursively.
const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const typeCache = new Map();

function declFile(spec, fromFile) {
  const base = spec.startsWith(".") ? path.resolve(path.dirname(fromFile), spec) : path.join(here, "node_modules", spec);
  return base.endsWith(".d.ts") ? base : `${base}.d.ts`;
}

// file -> {props: Map(name -> type text), imports: Map(typeName -> file)} of its first interface,
// or null when the file declares a plain type (string, number, IntOrString, Quantity...).
function parseDecl(file) {
  if (typeCache.has(file)) return typeCache.get(file);
  let result = null;
  if (fs.existsSync(file)) {
    const text = fs.readFileSync(file, "utf8");
    const imports = new Map();
    for (const m of text.matchAll(/^import \{([^}]+)\} from "([^"]+)";/gm)) {
      for (const n of m[1].split(",")) imports.set(n.trim(), declFile(m[2], file));
    }
    const start = text.search(/^export interface \w+( extends [\w, ]+)? \{$/m);
    if (start >= 0) {
      const lines = text.slice(start).split("\n").slice(1);
      const props = new Map();
      for (let i = 0; i < lines.length && lines[i] !== "}"; i++) {
        const m = /^ {4}"([^"]+)"\??: (.*)$/.exec(lines[i]);
        if (!m) continue;
        let type = m[2];
        while (!/;$/.test(type) || (type.match(/\{/g) || []).length > (type.match(/\}/g) || []).length) type += " " + lines[++i].trim();
        props.set(m[1], type.replace(/;$/, "").trim());
      }
      result = { props, imports };
    }
  }
  typeCache.set(file, result);
  return result;
}

function strictCheck(value, file, where, report) {
  const decl = parseDecl(file);
  if (!decl || !value || typeof value !== "object" || Array.isArray(value)) return;
  for (const [k, v] of Object.entries(value)) {
    if (!decl.props.has(k)) {
      report(`${where}.${k}: unknown field`);
      continue;
    }
    checkTyped(v, decl.props.get(k), decl, `${where}.${k}`, report);
  }
}

function checkTyped(v, type, decl, where, report) {
  let m;
  if ((m = /^Array<(.+)>$/.exec(type))) {
    if (Array.isArray(v)) v.forEach((x, i) => checkTyped(x, m[1], decl, `${where}[${i}]`, report));
  } else if ((m = /^\{ \[key: string\]: (.+); \}$/.exec(type))) {
    if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) checkTyped(x, m[1], decl, `${where}.${k}`, report);
  } else if (decl.imports.has(type)) {
    strictCheck(v, decl.imports.get(type), where, report);
  }
}

function modelDeclFile(apiVersion, kind) {
  return require.resolve(modelPath(apiVersion, kind)).replace(/\.(c|m)?js$/, ".d.ts");
}

async function checkVariant(v) {
  const fail = (msg) => {
    failures++;
    console.log(`FAIL [${v.name}] ${msg}`);
  };
  const ok = (cond, msg) => {
    checks++;
    if (!cond) fail(msg);
    return cond;
  };
  const text = fs.readFileSync(v.file, "utf8");
  const docs = YAML.parseAllDocuments(text)
    .map((d) => {
      if (d.errors.length) fail(`YAML: ${d.errors[0].message}`);
      return d.toJS();
    })
    .filter((d) => d);
  const byKey = new Map();
  const all = [];
  for (const o of docs) {
    if (!ok(o.apiVersion && o.kind && o.metadata?.name, `object without apiVersion/kind/name: ${JSON.stringify(o).slice(0, 80)}`)) continue;
    const k = key(o.kind, o.metadata.namespace, o.metadata.name);
    ok(!byKey.has(k), `duplicate object ${k}`);
    byKey.set(k, o);
    all.push(o);
  }
  const get = (kind, ns, name) => byKey.get(key(kind, ns, name));
  const ofKind = (kind) => all.filter((o) => o.kind === kind);
  const certificates = addCertificateSecrets(all, byKey, key, ok);
  const issuerOf = checkCertManager({ ok, get, ofKind, secretKeys }, certificates);

  // Schemas.
  for (const o of all) {
    const Model = await modelFor(o.apiVersion, o.kind);
    if (!ok(Model, `${o.kind} ${o.metadata.name}: no schema for ${o.apiVersion} ${o.kind} in Kubernetes 1.33`)) continue;
    try {
      // kustomize wraps long base64 values over lines; the API server's decoder skips the newlines.
      const copy = o.kind === "Secret" && o.data ? { ...o, data: Object.fromEntries(Object.entries(o.data).map(([k, x]) => [k, String(x).replace(/\s+/g, "")])) } : o;
      new Model(copy).validate();
      checks++;
    } catch (e) {
      fail(`${o.kind} ${o.metadata.name}: schema: ${e.message}`);
    }
    checks++;
    const decl = modelDeclFile(o.apiVersion, o.kind);
    if (isCustomResource(o.apiVersion)) strictCustomResource(o, decl, `${o.kind} ${o.metadata.name}`, fail, { declFile, strictCheck });
    else strictCheck(o, decl, `${o.kind} ${o.metadata.name}`, fail);
    if (o.kind !== "Namespace" && !["ClusterRole", "ClusterRoleBinding", "ClusterIssuer"].includes(o.kind)) {
      ok(o.metadata.namespace, `${o.kind} ${o.metadata.name}: no namespace`);
    }
  }

  // Workloads.
  const workloads = all.filter((o) => WORKLOAD_KINDS.has(o.kind));
  const containerPortsOf = (w) => {
    const out = [];
    for (const c of podSpecOf(w)?.containers || []) for (const p of c.ports || []) out.push({ ...p, container: c.name });
    return out;
  };
  for (const w of workloads) {
    const ns = w.metadata.namespace;
    const spec = podSpecOf(w);
    const id = `${w.kind} ${w.metadata.name}`;
    ok(labelSelectorMatches(w.spec.selector, podLabelsOf(w)), `${id}: selector does not match its pod template labels`);
    const sa = spec.serviceAccountName;
    if (sa && sa !== "default") ok(get("ServiceAccount", ns, sa), `${id}: ServiceAccount ${sa} missing`);
    const volumes = new Map((spec.volumes || []).map((x) => [x.name, x]));
    const claimTemplates = new Set((w.spec.volumeClaimTemplates || []).map((t) => t.metadata.name));
    for (const vol of spec.volumes || []) {
      if (vol.configMap) ok(get("ConfigMap", ns, vol.configMap.name), `${id}: volume ${vol.name}: ConfigMap ${vol.configMap.name} missing`);
      if (vol.secret) {
        const sec = get("Secret", ns, vol.secret.secretName);
        if (ok(sec, `${id}: volume ${vol.name}: Secret ${vol.secret.secretName} missing`)) {
          for (const it of vol.secret.items || []) ok(secretKeys(sec).has(it.key), `${id}: volume ${vol.name}: Secret ${vol.secret.secretName} has no key ${it.key}`);
        }
      }
      if (vol.persistentVolumeClaim) ok(get("PersistentVolumeClaim", ns, vol.persistentVolumeClaim.claimName), `${id}: volume ${vol.name}: PVC ${vol.persistentVolumeClaim.claimName} missing`);
      ok(!claimTemplates.has(vol.name), `${id}: volume ${vol.name} is also a volumeClaimTemplate`);
    }
    const seenPorts = new Set();
    for (const c of [...(spec.initContainers || []), ...spec.containers]) {
      const cid = `${id} container ${c.name}`;
      const image = c.image || "";
      const tag = image.includes("@") ? "digest" : image.slice(image.lastIndexOf("/") + 1).split(":")[1];
      ok(tag && tag !== "latest", `${cid}: image ${image} is not pinned to a version`);
      for (const m of c.volumeMounts || []) {
        ok(volumes.has(m.name) || claimTemplates.has(m.name), `${cid}: volumeMount ${m.name} has no volume`);
      }
      for (const ef of c.envFrom || []) {
        if (ef.configMapRef) ok(get("ConfigMap", ns, ef.configMapRef.name), `${cid}: envFrom ConfigMap ${ef.configMapRef.name} missing`);
        if (ef.secretRef) ok(get("Secret", ns, ef.secretRef.name), `${cid}: envFrom Secret ${ef.secretRef.name} missing`);
      }
      for (const e of c.env || []) {
        const cm = e.valueFrom?.configMapKeyRef;
        const sk = e.valueFrom?.secretKeyRef;
        if (cm) ok(get("ConfigMap", ns, cm.name)?.data?.[cm.key] !== undefined, `${cid}: env ${e.name}: ConfigMap ${cm.name} key ${cm.key} missing`);
        if (sk) {
          const s = get("Secret", ns, sk.name);
          ok(s && secretKeys(s).has(sk.key), `${cid}: env ${e.name}: Secret ${sk.name} key ${sk.key} missing`);
        }
      }
      const names = new Set();
      for (const p of c.ports || []) {
        ok(!seenPorts.has(p.containerPort), `${cid}: containerPort ${p.containerPort} declared twice in the pod`);
        seenPorts.add(p.containerPort);
        if (p.name) {
          ok(!names.has(p.name), `${cid}: port name ${p.name} declared twice`);
          names.add(p.name);
        }
      }
      for (const probe of ["readinessProbe", "livenessProbe", "startupProbe"]) {
        const port = c[probe]?.httpGet?.port;
        if (typeof port === "string") ok(names.has(port), `${cid}: ${probe} port ${port} is not a named containerPort`);
        else if (typeof port === "number") ok(seenPorts.has(port), `${cid}: ${probe} port ${port} is not a containerPort`);
      }
      // Read-only root filesystem: every path a known backend writes must be on a writable volume.
      if (c.securityContext?.readOnlyRootFilesystem) {
        const writable = (c.volumeMounts || []).filter((m) => !m.readOnly).map((m) => m.mountPath.replace(/\/+$/, ""));
        const onWritable = (p) => writable.some((w) => p === w || p.startsWith(w + "/"));
        for (const p of writtenPaths(w, c, get)) ok(onWritable(p), `${cid}: writes ${p}, which is not on a writable volume (root filesystem is read-only)`);
      }
    }
  }

  // Pod Security "restricted", where the namespace enforces it (the bundle's namespace does).
  const restricted = (ns) => get("Namespace", undefined, ns)?.metadata?.labels?.["pod-security.kubernetes.io/enforce"] === "restricted";
  const allowedVolumes = ["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"];
  for (const w of workloads.filter((x) => restricted(x.metadata.namespace))) {
    const spec = podSpecOf(w);
    const id = `${w.kind} ${w.metadata.name}`;
    for (const vol of spec.volumes || []) {
      ok(Object.keys(vol).filter((k) => k !== "name").every((k) => allowedVolumes.includes(k)), `${id}: volume ${vol.name} is not allowed under the restricted Pod Security level`);
    }
    ok(!spec.hostNetwork && !spec.hostPID && !spec.hostIPC, `${id}: host namespaces are not allowed under restricted`);
    for (const c of [...(spec.initContainers || []), ...spec.containers]) {
      const sc = c.securityContext || {};
      const psc = spec.securityContext || {};
      const cid = `${id} container ${c.name}`;
      ok((sc.runAsNonRoot ?? psc.runAsNonRoot) === true, `${cid}: runAsNonRoot is not true (restricted)`);
      ok((sc.runAsUser ?? psc.runAsUser) !== 0, `${cid}: runs as user 0 (restricted)`);
      ok(sc.allowPrivilegeEscalation === false, `${cid}: allowPrivilegeEscalation is not false (restricted)`);
      ok((sc.capabilities?.drop || []).includes("ALL"), `${cid}: capabilities do not drop ALL (restricted)`);
      const add = sc.capabilities?.add || [];
      ok(add.every((x) => x === "NET_BIND_SERVICE"), `${cid}: adds capabilities ${add} (restricted)`);
      const sec = (sc.seccompProfile ?? psc.seccompProfile)?.type;
      ok(["RuntimeDefault", "Localhost"].includes(sec), `${cid}: seccompProfile is not RuntimeDefault (restricted)`);
      ok(!sc.privileged, `${cid}: privileged (restricted)`);
      for (const p of c.ports || []) ok(!p.hostPort, `${cid}: hostPort ${p.hostPort} (restricted)`);
    }
  }

  // Services.
  const nodePorts = new Map();
  for (const s of ofKind("Service")) {
    const ns = s.metadata.namespace;
    const id = `Service ${s.metadata.name}`;
    const sel = s.spec.selector || {};
    const targets = workloads.filter((w) => w.metadata.namespace === ns && selects(sel, podLabelsOf(w)));
    ok(targets.length > 0, `${id}: selector ${JSON.stringify(sel)} selects no workload`);
    const seen = new Set();
    for (const p of s.spec.ports || []) {
      ok(!seen.has(p.port), `${id}: port ${p.port} twice`);
      seen.add(p.port);
      const tp = p.targetPort ?? p.port;
      for (const w of targets) {
        const cps = containerPortsOf(w);
        const hit = cps.some((cp) => (typeof tp === "number" ? cp.containerPort === tp : cp.name === tp));
        ok(hit, `${id}: port ${p.name || p.port} targetPort ${tp} is not a containerPort of ${w.kind} ${w.metadata.name}`);
      }
      if (p.nodePort !== undefined) {
        ok(["NodePort", "LoadBalancer"].includes(s.spec.type), `${id}: nodePort on a ${s.spec.type || "ClusterIP"} Service`);
        ok(p.nodePort >= 30000 && p.nodePort <= 32767, `${id}: nodePort ${p.nodePort} outside 30000-32767`);
        ok(!nodePorts.has(p.nodePort), `${id}: nodePort ${p.nodePort} already used by ${nodePorts.get(p.nodePort)}`);
        nodePorts.set(p.nodePort, `${s.metadata.name}:${p.port}`);
      }
    }
  }
  const servicePort = (ns, name, port) => {
    const s = get("Service", ns, name);
    if (!s) return null;
    return (s.spec.ports || []).find((p) => p.port === port || p.name === port) || null;
  };

  // Ingresses.
  const ingresses = ofKind("Ingress");
  for (const ing of ingresses) {
    const ns = ing.metadata.namespace;
    const id = `Ingress ${ing.metadata.name}`;
    ok(ing.spec.ingressClassName, `${id}: no ingressClassName`);
    ok(!ing.metadata.annotations?.["kubernetes.io/ingress.class"], `${id}: deprecated kubernetes.io/ingress.class annotation`);
    for (const rule of ing.spec.rules || []) {
      for (const p of rule.http?.paths || []) {
        const b = p.backend.service;
        const port = parsePort(b.port);
        if (port === "use-annotation") {
          ok(ing.metadata.annotations?.[`alb.ingress.kubernetes.io/actions.${b.name}`], `${id}: ${p.path} uses action ${b.name} without its annotation`);
          continue;
        }
        ok(servicePort(ns, b.name, port), `${id}: ${p.path} -> Service ${b.name} port ${port} does not exist`);
      }
    }
  }

  // HPA, PDB.
  for (const h of ofKind("HorizontalPodAutoscaler")) {
    const t = h.spec.scaleTargetRef;
    ok(get(t.kind, h.metadata.namespace, t.name), `HPA ${h.metadata.name}: target ${t.kind} ${t.name} missing`);
    const w = get(t.kind, h.metadata.namespace, t.name);
    if (w) {
      for (const m of h.spec.metrics || []) {
        if (m.type === "Resource") {
          const r = m.resource.name;
          ok(podSpecOf(w).containers.every((c) => c.resources?.requests?.[r]), `HPA ${h.metadata.name}: scales on ${r} but ${t.name} has no ${r} request`);
        }
      }
    }
  }
  for (const pdb of ofKind("PodDisruptionBudget")) {
    ok(workloads.some((w) => w.metadata.namespace === pdb.metadata.namespace && labelSelectorMatches(pdb.spec.selector, podLabelsOf(w))), `PDB ${pdb.metadata.name}: selects no workload`);
  }

  // RBAC.
  for (const b of [...ofKind("ClusterRoleBinding"), ...ofKind("RoleBinding")]) {
    const rk = b.roleRef.kind;
    ok(get(rk, rk === "ClusterRole" ? undefined : b.metadata.namespace, b.roleRef.name), `${b.kind} ${b.metadata.name}: ${rk} ${b.roleRef.name} missing`);
    for (const s of b.subjects || []) {
      if (s.kind === "ServiceAccount") ok(get("ServiceAccount", s.namespace || b.metadata.namespace, s.name), `${b.kind} ${b.metadata.name}: ServiceAccount ${s.namespace}/${s.name} missing`);
    }
  }

  // NetworkPolicies: who may reach the backends.
  const podsOf = (app) => workloads.filter((w) => podLabelsOf(w)["app.kubernetes.io/name"] === app);
  const allowedPeers = { loki: ["telegate", "grafana", "loki"], mimir: ["telegate", "grafana", "tempo", "mimir"], tempo: ["telegate", "grafana", "tempo"] };
  for (const np of ofKind("NetworkPolicy")) {
    const selected = workloads.filter((w) => labelSelectorMatches(np.spec.podSelector, podLabelsOf(w)));
    ok(selected.length > 0, `NetworkPolicy ${np.metadata.name}: selects no pod`);
    for (const rule of np.spec.ingress || []) {
      for (const p of rule.ports || []) {
        if (typeof p.port === "string") {
          for (const w of selected) ok(containerPortsOf(w).some((cp) => cp.name === p.port), `NetworkPolicy ${np.metadata.name}: port ${p.port} is not a port of ${w.metadata.name}`);
        }
      }
      const openToAll = !rule.from || rule.from.length === 0;
      for (const w of selected) {
        const app = podLabelsOf(w)["app.kubernetes.io/name"];
        if (!BACKENDS.includes(app)) continue;
        if (openToAll) {
          ok(v.name.startsWith("nodeport"), `NetworkPolicy ${np.metadata.name}: opens ${app} to every client outside the nodeport overlay`);
          continue;
        }
        for (const peer of rule.from) {
          const peerApp = peer.podSelector?.matchLabels?.["app.kubernetes.io/name"];
          ok(!peer.namespaceSelector && !peer.ipBlock && allowedPeers[app].includes(peerApp), `NetworkPolicy ${np.metadata.name}: ${app} admits ${JSON.stringify(peer)}`);
        }
      }
    }
  }
  for (const app of BACKENDS) {
    for (const w of podsOf(app)) {
      ok(ofKind("NetworkPolicy").some((np) => labelSelectorMatches(np.spec.podSelector, podLabelsOf(w))), `${w.kind} ${w.metadata.name}: no NetworkPolicy restricts who reaches it`);
    }
  }

  // telegate's admin port (12345: /-/reload, the component API, /metrics): in no Service, and
  // every telegate pod is selected by a NetworkPolicy that admits it only from the node agent
  // (the scraper); the gateway's OTLP ports stay open to every client.
  const isAdminPort = (w, p) => {
    const cps = containerPortsOf(w);
    const cp = cps.find((x) => (typeof p === "number" ? x.containerPort === p : x.name === p));
    return cp ? cp.containerPort === 12345 : p === 12345;
  };
  const telegatePods = workloads.filter((w) => podLabelsOf(w)["app.kubernetes.io/name"] === "telegate");
  for (const s of ofKind("Service")) {
    const sel = s.spec.selector || {};
    for (const w of telegatePods.filter((x) => x.metadata.namespace === s.metadata.namespace && selects(sel, podLabelsOf(x)))) {
      for (const p of s.spec.ports || []) {
        ok(!isAdminPort(w, p.targetPort ?? p.port) && p.port !== 12345, `Service ${s.metadata.name}: publishes telegate's admin port 12345 (${p.name || p.port}); probes and the scraper use the pod IP`);
      }
    }
  }
  const nodeAgentPeer = (peer) => {
    const ml = peer.podSelector?.matchLabels || {};
    return !peer.namespaceSelector && !peer.ipBlock && ml["app.kubernetes.io/name"] === "telegate" && ml["app.kubernetes.io/component"] === "node-agent" && !(peer.podSelector.matchExpressions || []).length;
  };
  for (const w of telegatePods) {
    const component = podLabelsOf(w)["app.kubernetes.io/component"];
    const id = `${w.kind} ${w.metadata.name}`;
    if (component === "gateway") {
      // preStop: endpoints and load balancers stop sending before the receivers close.
      const spec = podSpecOf(w);
      for (const c of spec.containers) {
        const pre = c.lifecycle?.preStop;
        const secs = pre?.sleep?.seconds ?? (pre?.exec?.command || []).map(Number).find((x) => x > 0) ?? 0;
        ok(secs >= 5, `${id}: container ${c.name} has no preStop delay of at least 5 s (receivers would close while traffic is still routed to the pod)`);
        const st = Number(((c.args || []).find((a) => a.startsWith("--shutdown-timeout=")) || "--shutdown-timeout=20").split("=")[1]);
        const grace = spec.terminationGracePeriodSeconds ?? 30;
        ok(grace >= secs + st + 2, `${id}: terminationGracePeriodSeconds ${grace} < preStop ${secs} s + --shutdown-timeout ${st} s + 2 s`);
      }
    }
    const policies = ofKind("NetworkPolicy").filter((np) => np.metadata.namespace === w.metadata.namespace && labelSelectorMatches(np.spec.podSelector, podLabelsOf(w)) && (np.spec.policyTypes || ["Ingress"]).includes("Ingress"));
    if (!ok(policies.length > 0, `${id}: no NetworkPolicy selects the telegate pods, so anyone in the cluster reaches the admin port 12345`)) continue;
    const otlpOpen = new Set();
    for (const np of policies) {
      for (const rule of np.spec.ingress || []) {
        const ports = rule.ports || [];
        ok(ports.length > 0, `NetworkPolicy ${np.metadata.name}: a rule for ${id} without ports admits every port, the admin port included`);
        const admin = ports.some((p) => isAdminPort(w, p.port));
        if (admin) {
          ok(rule.from?.length && rule.from.every(nodeAgentPeer), `NetworkPolicy ${np.metadata.name}: admits ${id}'s admin port 12345 from ${JSON.stringify(rule.from || "everyone")}; only the node agent (the scraper) may connect`);
        } else if (!rule.from || !rule.from.length) {
          for (const p of ports) otlpOpen.add(p.port);
        }
      }
    }
    if (component === "gateway") {
      for (const p of ["otlp-grpc", "otlp-http"]) ok(otlpOpen.has(p) || otlpOpen.has(p === "otlp-grpc" ? 4317 : 4318), `${id}: NetworkPolicy does not admit clients to ${p}`);
    }
  }

  // Grafana: sub-path serving, data sources, dashboard.
  for (const w of podsOf("grafana")) {
    const c = podSpecOf(w).containers[0];
    const env = podEnv(w, c, get);
    ok(env.GF_SERVER_SERVE_FROM_SUB_PATH === "true", `grafana: GF_SERVER_SERVE_FROM_SUB_PATH is not true`);
    ok(/\/grafana\/$/.test(env.GF_SERVER_ROOT_URL || ""), `grafana: GF_SERVER_ROOT_URL does not end in /grafana/`);
    for (const probe of ["readinessProbe", "livenessProbe"]) {
      const p = c[probe]?.httpGet?.path;
      if (p) ok(p.startsWith("/grafana/"), `grafana: ${probe} path ${p} is outside the /grafana/ sub-path`);
    }
    const mounted = (dir) => {
      const m = (c.volumeMounts || []).find((x) => x.mountPath === dir);
      const vol = m && podSpecOf(w).volumes.find((x) => x.name === m.name);
      return vol?.configMap ? get("ConfigMap", w.metadata.namespace, vol.configMap.name) : null;
    };
    const dsCm = mounted("/etc/grafana/provisioning/datasources");
    const uids = new Set();
    if (ok(dsCm, "grafana: no data source provisioning ConfigMap at /etc/grafana/provisioning/datasources")) {
      for (const [file, body] of Object.entries(dsCm.data || {})) {
        const ds = YAML.parse(body).datasources || [];
        for (const d of ds) {
          uids.add(d.uid);
          const u = new URL(d.url);
          const [svc, svcNs] = u.hostname.split(".");
          const port = Number(u.port || 80);
          ok(servicePort(svcNs || w.metadata.namespace, svc, port), `grafana ${file}: data source ${d.name} URL ${d.url} is not a Service port`);
        }
        const types = new Set(ds.map((d) => d.type));
        ok(["prometheus", "loki", "tempo"].every((t) => types.has(t)), `grafana ${file}: needs prometheus (Mimir), loki and tempo data sources`);
        const tempo = ds.find((d) => d.type === "tempo");
        ok(tempo?.jsonData?.tracesToLogsV2?.datasourceUid && tempo?.jsonData?.tracesToMetrics?.datasourceUid, `grafana ${file}: Tempo lacks trace-to-logs or trace-to-metrics links`);
        for (const d of ds) {
          for (const ref of JSON.stringify(d.jsonData || {}).matchAll(/"datasourceUid":"([^"]+)"/g)) {
            ok(ds.some((x) => x.uid === ref[1]), `grafana ${file}: ${d.name} links to unknown data source ${ref[1]}`);
          }
        }
      }
    }
    const dashCm = mounted("/etc/grafana/dashboards");
    if (ok(dashCm, "grafana: no dashboards ConfigMap at /etc/grafana/dashboards")) {
      for (const [file, body] of Object.entries(dashCm.data || {})) {
        let dash;
        try {
          dash = JSON.parse(body);
        } catch (e) {
          fail(`grafana dashboard ${file}: ${e.message}`);
          continue;
        }
        for (const m of body.matchAll(/"uid":\s*"([^"]+)"/g)) {
          if (m[1] !== dash.uid) ok(uids.has(m[1]), `grafana dashboard ${file}: unknown data source uid ${m[1]}`);
        }
      }
    }
  }

  // telegate configurations, and TLS between the Ingresses and the gateway (tls.mjs).
  const tlsCtx = { ok, fail, get, ofKind, secretKeys, selects, podLabelsOf, containerPortsOf, servicePort, parsePort, mountedObject, mountedKey };
  const gatewayTls = new Map(); // workload -> {grpc, http} TLS of its receiver
  for (const w of workloads) {
    for (const c of podSpecOf(w).containers) {
      if (!/(^|\/)telegate(:|@)/.test(c.image)) continue;
      const t = checkTelegate(v, w, c, tlsCtx);
      if (t) gatewayTls.set(w, t);
    }
  }
  checkIngressTls(tlsCtx, ingresses, gatewayTls, issuerOf);
  checkServingNames(tlsCtx, gatewayTls);

  // Routing tables of the setup guide.
  checkRouting(v, ingresses, nodePorts, ok, get);
  return { objects: all.length };
}

// Environment of a container as Kubernetes builds it (envFrom, then env).
function podEnv(w, c, get) {
  const ns = w.metadata.namespace;
  const env = {};
  for (const ef of c.envFrom || []) {
    if (ef.configMapRef) Object.assign(env, get("ConfigMap", ns, ef.configMapRef.name)?.data || {});
    if (ef.secretRef) {
      const s = get("Secret", ns, ef.secretRef.name);
      if (s) for (const k of secretKeys(s)) env[k] = secretValue(s, k);
    }
  }
  for (const e of c.env || []) {
    if (e.value !== undefined) env[e.name] = e.value;
    else if (e.valueFrom?.configMapKeyRef) env[e.name] = get("ConfigMap", ns, e.valueFrom.configMapKeyRef.name)?.data?.[e.valueFrom.configMapKeyRef.key];
    else if (e.valueFrom?.secretKeyRef) env[e.name] = secretValue(get("Secret", ns, e.valueFrom.secretKeyRef.name) || {}, e.valueFrom.secretKeyRef.key);
    else if (e.valueFrom?.fieldRef) env[e.name] = `fieldref-${e.valueFrom.fieldRef.fieldPath.replace(/\W/g, "-")}`;
  }
  return env;
}

// Files mounted into a container: mountPath -> {configMap|secret object, readOnly}.
function mountedObject(w, c, get, dir) {
  const m = (c.volumeMounts || []).find((x) => x.mountPath.replace(/\/+$/, "") === dir);
  if (!m) return null;
  const vol = (podSpecOf(w).volumes || []).find((x) => x.name === m.name);
  const ns = w.metadata.namespace;
  if (vol?.configMap) return { kind: "ConfigMap", obj: get("ConfigMap", ns, vol.configMap.name), mount: m };
  if (vol?.secret) return { kind: "Secret", obj: get("Secret", ns, vol.secret.secretName), mount: m, items: vol.secret.items };
  return null;
}

// The key of a mounted Secret or ConfigMap that a file of the mount shows (items map keys to paths).
function mountedKey(src, file) {
  const name = path.basename(file);
  if (!src.items) return name;
  return src.items.find((it) => it.path === name)?.key;
}

// Paths a container writes, from the configuration files it mounts (Loki, Mimir, Tempo) and its
// arguments (telegate --storage.path).
function writtenPaths(w, c, get) {
  const out = [];
  for (const a of c.args || []) {
    const m = /^--storage\.path=(.+)$/.exec(a);
    if (m) out.push(m[1].replace(/\/+$/, ""));
  }
  const cfgArg = (c.args || []).map((a) => /^-?-config\.file=(.+)$/.exec(a)).find((m) => m);
  if (cfgArg) {
    const file = cfgArg[1];
    const src = mountedObject(w, c, get, path.dirname(file));
    const body = src?.obj?.data?.[path.basename(file)];
    if (body) {
      const walk = (node, k) => {
        if (Array.isArray(node)) node.forEach((x) => walk(x, k));
        else if (node && typeof node === "object") for (const [kk, vv] of Object.entries(node)) walk(vv, kk);
        else if (typeof node === "string" && /(dir|directory|path|path_prefix|filepath|rule_path|sync_dir)$/.test(k || "") && node.startsWith("/")) out.push(node.replace(/\/+$/, ""));
      };
      walk(YAML.parse(body));
    }
  }
  return out;
}

function checkTelegate(v, w, c, tlsCtx) {
  const { get, ok, fail, servicePort } = tlsCtx;
  const id = `${w.kind} ${w.metadata.name}`;
  const cfgPath = (c.args || []).find((a) => a.endsWith(".alloy") && a.startsWith("/"));
  if (!ok(cfgPath, `${id}: telegate args name no configuration file`)) return;
  ok((c.args || [])[0] === "run", `${id}: telegate args do not start with "run"`);
  ok((c.args || []).includes("--server.http.listen-addr=0.0.0.0:12345"), `${id}: admin server not on 0.0.0.0:12345 (probes)`);
  const src = mountedObject(w, c, get, path.dirname(cfgPath));
  const body = src?.obj?.data?.[path.basename(cfgPath)];
  if (!ok(body, `${id}: ${cfgPath} is not a key of a mounted ConfigMap`)) return;
  const probes = [c.readinessProbe?.httpGet?.path, c.livenessProbe?.httpGet?.path];
  ok(probes[0] === "/-/ready", `${id}: readiness probe is not /-/ready`);
  ok(["/-/healthy", "/-/ready"].includes(probes[1]), `${id}: liveness probe is not /-/healthy or /-/ready`);
  ok(c.securityContext?.readOnlyRootFilesystem === true && c.securityContext?.runAsNonRoot !== false, `${id}: telegate should run with a read-only root filesystem`);

  // token_file on a mounted Secret, mounted as a directory so updates reach the file.
  for (const m of body.matchAll(/token_file\s*=\s*"([^"]+)"/g)) {
    const file = m[1];
    const sec = mountedObject(w, c, get, path.dirname(file));
    if (ok(sec?.kind === "Secret" && sec.obj, `${id}: token_file ${file} is not in a mounted Secret`)) {
      ok(!sec.mount.subPath, `${id}: token Secret mounted with subPath (updates would never reach the file)`);
      ok(secretKeys(sec.obj).has(path.basename(file)), `${id}: Secret ${sec.obj.metadata.name} has no key ${path.basename(file)}`);
      ok(!sec.obj.metadata.name.match(/-[a-z0-9]{10}$/), `${id}: token Secret ${sec.obj.metadata.name} has a hash suffix: rotating would roll pods instead of reloading`);
    }
  }

  // TLS of the OTLP receiver: files on mounted Secrets, certificate names, probes.
  const env = podEnv(w, c, get);
  const { tls, info } = checkReceiverTls(tlsCtx, { id, w, c, body, env });

  // Backend URLs in the environment must be Services of this variant (whole stack only).
  if (!v.name.startsWith("gateway-only")) {
    for (const [k, val] of Object.entries(env)) {
      if (!/^TELEGATE_.*_(URL|GRPC)$/.test(k)) continue;
      const u = new URL(val.includes("://") ? val : `grpc://${val}`);
      const [svc, ns] = u.hostname.split(".");
      ok(servicePort(ns, svc, Number(u.port)), `${id}: ${k}=${val} is not a Service port of the bundle`);
    }
  }

  if (!telegate) return info;
  const dir = fs.mkdtempSync(path.join(work, "cfg-"));
  const file = path.join(dir, path.basename(cfgPath));
  const { cfg, env: vEnv } = layOutTlsFiles(tlsCtx, { w, c, tls, dir, body, env, fixtures: tlsFixtures });
  fs.writeFileSync(file, cfg);
  try {
    execFileSync(telegate, ["validate", file], { env: { PATH: process.env.PATH, ...vEnv }, stdio: "pipe" });
    ok(true, "");
  } catch (e) {
    fail(`${id}: telegate validate ${cfgPath}:\n${(e.stdout || "").toString()}${(e.stderr || "").toString()}`);
  }
  return info;
}

// The setup guide's "Request Routing" and "Access Methods" tables, per variant.
function checkRouting(v, ingresses, nodePorts, ok, get) {
  const n = v.name;
  const viaIngress = ["haproxy", "ingress-nginx", "aws-alb"].find((x) => n === x || n.startsWith(`${x}-`));
  if (viaIngress) {
    // The guide's table is for the host that serves Grafana (any host when its rules name none);
    // rules for other hosts (SSL passthrough, OTLP/gRPC) are not part of it.
    const grafanaRule = ingresses.flatMap((i) => i.spec.rules || []).find((r) => (r.http?.paths || []).some((p) => p.path === "/grafana"));
    const host = grafanaRule ? grafanaRule.host || null : undefined;
    const target = (p) => {
      const r = route(ingresses, p, host);
      return r && { svc: r.p.backend.service.name, port: parsePort(r.p.backend.service.port), ing: r.ing, path: r.p };
    };
    for (const sig of ["logs", "metrics", "traces"]) {
      const t = target(`/observability/v1/${sig}`);
      ok(t && t.svc === "telegate" && [4318, "otlp-http"].includes(t.port), `routing: /observability/v1/${sig} does not reach telegate:4318 (${JSON.stringify(t && [t.svc, t.port])})`);
      if (t) {
        const ann = t.ing.metadata.annotations || {};
        ok(!Object.keys(ann).some((k) => /rewrite-target|path-rewrite|strip/.test(k) && !/\^\/\$/.test(ann[k])), `routing: /observability is rewritten by ${t.ing.metadata.name}; telegate expects the prefix`);
      }
    }
    // On the ALB the exact "/" is a redirect action, checked below.
    const grafanaPaths = ["/grafana", "/grafana/", "/grafana/d/telegate-overview", "/login"];
    if (viaIngress !== "aws-alb") grafanaPaths.push("/");
    for (const p of grafanaPaths) {
      const t = target(p);
      ok(t && t.svc === "grafana-service" && [3000, "http"].includes(t.port), `routing: ${p} does not reach Grafana:3000`);
    }
    // "/" must land on Grafana's sub-path home.
    const root = route(ingresses, "/", host);
    const ann = root?.ing.metadata.annotations || {};
    if (viaIngress === "ingress-nginx") ok(ann["nginx.ingress.kubernetes.io/app-root"] === "/grafana/", "routing: ingress-nginx needs app-root /grafana/ on the Ingress serving /");
    if (viaIngress === "haproxy") ok(/^\^\/\$\s+\/grafana\/$/.test(ann["haproxy.org/path-rewrite"] || ""), "routing: haproxy needs path-rewrite '^/$ /grafana/' on the Ingress serving /");
    if (viaIngress === "aws-alb") {
      const exact = ingresses.flatMap((i) => (i.spec.rules || []).flatMap((r) => r.http.paths.map((p) => ({ i, p })))).find(({ p }) => p.path === "/" && p.pathType === "Exact");
      const action = exact && JSON.parse(exact.i.metadata.annotations?.[`alb.ingress.kubernetes.io/actions.${exact.p.backend.service.name}`] || "{}");
      ok(action?.type === "redirect" && action.redirectConfig?.path === "/grafana/", "routing: the ALB needs an exact / rule redirecting to /grafana/");
      const groups = new Set(ingresses.map((i) => i.metadata.annotations?.["alb.ingress.kubernetes.io/group.name"]));
      ok(groups.size === 1 && !groups.has(undefined), "routing: ALB Ingresses must share one group.name (one load balancer)");
      for (const i of ingresses) {
        const a = i.metadata.annotations || {};
        const svc = i.spec.rules[0].http.paths[0].backend.service.name;
        // The admin port admits only the node agent, so the ALB checks the OTLP port, where an
        // unauthenticated request is answered 401 while the receiver is up.
        if (svc === "telegate") ok(/^\/observability\/v1\//.test(a["alb.ingress.kubernetes.io/healthcheck-path"] || "") && (a["alb.ingress.kubernetes.io/healthcheck-port"] ?? "traffic-port") === "traffic-port" && (a["alb.ingress.kubernetes.io/success-codes"] || "").split(",").includes("401"), "routing: the ALB health check of telegate must GET /observability/v1/... on the traffic port and accept 401");
      }
    }
  }
  if (n === "nodeport" || n.startsWith("nodeport-")) {
    const want = { 30317: ["telegate-nodeport", 4317], 30318: ["telegate-nodeport", 4318], 30300: ["grafana-nodeport", 3000], 30100: ["loki-nodeport", 3100], 30080: ["mimir-nodeport", 8080], 30200: ["tempo-nodeport", 3200] };
    for (const [np, [svc, port]] of Object.entries(want)) {
      ok(nodePorts.get(Number(np)) === `${svc}:${port}`, `nodeport table: ${np} should be ${svc}:${port}, is ${nodePorts.get(Number(np))}`);
    }
  }
  if (n.startsWith("gateway-only")) {
    ok(ingresses.some((i) => route([i], "/observability/v1/traces")?.p.backend.service.name === "telegate"), "gateway-only: no Ingress routes /observability to telegate");
  }
}

let total = 0;
for (const v of variants) {
  const r = await checkVariant(v);
  total += r.objects;
  console.log(`checked ${v.name}: ${r.objects} objects`);
}
console.log(`${checks} checks over ${total} objects in ${variants.length} variants, ${failures} failures`);
process.exit(failures ? 1 : 0);
