// TLS in the bundle, for check.mjs: cert-manager's Certificates and Issuers, the OTLP receiver's
// `tls` blocks in telegate configurations and the files they name, and the TLS of every Ingress
// path to the gateway (docs/deploy.md, "TLS").
//
// The checks get a context from check.mjs:
//   ok(cond, msg), fail(msg)      count a check, report a failure
//   get(kind, ns, name), ofKind(kind), secretKeys(secret)
//   selects(selector, labels), podLabelsOf(workload), containerPortsOf(workload)
//   servicePort(ns, name, port), parsePort(backendPort)
//   mountedObject(workload, container, get, dir), mountedKey(mounted, file)
import fs from "node:fs";
import path from "node:path";

// A Certificate's Secret exists once cert-manager has issued it, with tls.crt, tls.key and
// ca.crt: it is added to the objects (byKey) as a Secret carrying `certificate`, so that the
// cross-references of check.mjs find it. Returns the Certificates.
export function addCertificateSecrets(all, byKey, key, ok) {
  const certificates = all.filter((o) => o.apiVersion === "cert-manager.io/v1" && o.kind === "Certificate");
  for (const c of certificates) {
    const sn = c.spec?.secretName;
    const k = key("Secret", c.metadata.namespace, sn);
    if (!sn) continue;
    if (!ok(!byKey.has(k), `Certificate ${c.metadata.name}: Secret ${sn} is also written by ${byKey.get(k)?.certificate ? `Certificate ${byKey.get(k)?.certificate.metadata.name}` : "a Secret object"}`)) continue;
    byKey.set(k, { apiVersion: "v1", kind: "Secret", metadata: { name: sn, namespace: c.metadata.namespace }, type: "kubernetes.io/tls", data: { "tls.crt": "", "tls.key": "", "ca.crt": "" }, certificate: c });
  }
  return certificates;
}

// issuerRefs name an Issuer or ClusterIssuer of the bundle; dnsNames are DNS names; a CA
// Issuer's Secret holds a key pair and, when a Certificate writes it, that one is a CA. Returns
// issuerOf(certificate).
export function checkCertManager({ ok, get, ofKind, secretKeys }, certificates) {
  const issuerOf = (c) => {
    const r = c.spec?.issuerRef || {};
    if ((r.group || "cert-manager.io") !== "cert-manager.io") return null;
    return (r.kind || "Issuer") === "ClusterIssuer" ? get("ClusterIssuer", undefined, r.name) : get("Issuer", c.metadata.namespace, r.name);
  };
  for (const c of certificates) {
    const r = c.spec?.issuerRef || {};
    ok(issuerOf(c), `Certificate ${c.metadata.name}: issuerRef ${r.kind || "Issuer"} ${r.name} missing`);
    for (const h of c.spec?.dnsNames || []) ok(/^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(h), `Certificate ${c.metadata.name}: dnsName ${h} is not a DNS name`);
    ok((c.spec?.dnsNames || []).length || c.spec?.isCA || c.spec?.commonName, `Certificate ${c.metadata.name}: no dnsNames, commonName or isCA`);
  }
  for (const i of [...ofKind("Issuer"), ...ofKind("ClusterIssuer")].filter((o) => o.apiVersion === "cert-manager.io/v1")) {
    const sn = i.spec?.ca?.secretName;
    if (!sn) continue;
    // A namespaced Issuer reads its own namespace; a ClusterIssuer reads cert-manager's
    // (--cluster-resource-namespace), which the bundle does not know.
    if (i.kind === "ClusterIssuer") continue;
    const sec = get("Secret", i.metadata.namespace, sn);
    if (ok(sec, `Issuer ${i.metadata.name}: CA Secret ${sn} missing`)) {
      ok(secretKeys(sec).has("tls.crt") && secretKeys(sec).has("tls.key"), `Issuer ${i.metadata.name}: Secret ${sn} lacks tls.crt or tls.key`);
      if (sec.certificate) ok(sec.certificate.spec.isCA === true, `Issuer ${i.metadata.name}: Certificate ${sec.certificate.metadata.name} (Secret ${sn}) is not isCA`);
    }
  }
  return issuerOf;
}

// Blocks of an Alloy configuration: the text between the braces of the first block whose header
// matches `re` (a regular expression source, anchored at a line start), strings and comments
// skipped; null if absent.
export function alloyBlock(text, re) {
  const m = new RegExp(`^[ \\t]*${re}[ \\t]*\\{`, "m").exec(text);
  if (!m) return null;
  let depth = 1;
  for (let i = m.index + m[0].length; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') {
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === "\\") i++;
    } else if (ch === "/" && text[i + 1] === "/") {
      while (i < text.length && text[i] !== "\n") i++;
    } else if (ch === "{") depth++;
    else if (ch === "}" && --depth === 0) return text.slice(m.index + m[0].length, i);
  }
  return null;
}

// Attributes of a block written one per line as `name = "literal"` or `name = sys.env("X")`;
// values of other forms are returned as {expr}.
function alloyAttrs(block, env) {
  const out = {};
  for (const m of block.matchAll(/^[ \t]*(\w+)[ \t]*=[ \t]*(.+?)[ \t]*$/gm)) {
    let v;
    const lit = /^"((?:[^"\\]|\\.)*)"$/.exec(m[2]);
    const sysEnv = /^sys\.env\("(\w+)"\)$/.exec(m[2]);
    if (lit) v = { value: lit[1] };
    else if (sysEnv) v = { value: env[sysEnv[1]] ?? "", env: sysEnv[1] };
    else v = { expr: m[2] };
    out[m[1]] = v;
  }
  return out;
}

const TLS_FILE_ATTRS = ["cert_file", "key_file", "ca_file", "client_ca_file"];

// TLS of the OTLP receiver in a telegate configuration: {grpc, http} with each null (plain) or
// {attrs, serving (the cert-manager Certificate behind cert_file, if any), files: [{attr, path}]}.
export function receiverTls(body, env) {
  const recv = alloyBlock(body, 'otelcol\\.receiver\\.otlp\\s+"[^"]*"');
  const out = { grpc: null, http: null };
  if (!recv) return out;
  for (const proto of ["grpc", "http"]) {
    const b = alloyBlock(recv, proto);
    const t = b && alloyBlock(b, "tls");
    if (t === null || t === undefined) continue;
    const attrs = alloyAttrs(t, env);
    out[proto] = { attrs, files: TLS_FILE_ATTRS.filter((a) => attrs[a]?.value).map((a) => ({ attr: a, path: attrs[a].value, env: attrs[a].env })) };
  }
  return out;
}

// Whether a certificate's DNS names cover a host name (a leading "*." covers one label).
export function dnsCovers(names, host) {
  return (names || []).some((n) => n === host || (n.startsWith("*.") && host.split(".").slice(1).join(".") === n.slice(2)));
}

// The receiver's tls blocks in the configuration `body` of container c of workload w, with the
// pod's environment: both grpc and http or neither, files on Secrets mounted read-only as
// directories, a serving certificate that may serve, a client CA from a CA certificate; probes
// stay plain HTTP. Returns {tls (receiverTls), info: {grpc, http} with each null or {serving,
// clientCa}}.
export function checkReceiverTls({ ok, get, secretKeys, mountedObject, mountedKey }, { id, w, c, body, env }) {
  const tls = receiverTls(body, env);
  ok(!tls.grpc === !tls.http, `${id}: TLS on ${tls.grpc ? "4317 (grpc)" : "4318 (http)"} only: the receiver's grpc and http blocks should both have a tls block, or neither`);
  for (const probe of ["readinessProbe", "livenessProbe", "startupProbe"]) {
    const sch = c[probe]?.httpGet?.scheme;
    ok(!sch || sch === "HTTP", `${id}: ${probe} uses ${sch}, but the admin port 12345 serves plain HTTP (no top-level http tls block)`);
  }
  const tlsInfo = { grpc: null, http: null };
  for (const proto of ["grpc", "http"]) {
    const t = tls[proto];
    if (!t) continue;
    const where = `${id}: ${proto} tls`;
    for (const a of ["cert_pem", "key_pem"]) ok(!t.attrs[a], `${where}: ${a} puts key material in the ConfigMap; mount a Secret and use ${a.replace("_pem", "_file")}`);
    ok(t.attrs.cert_file?.value && t.attrs.key_file?.value, `${where}: cert_file and key_file must name files`);
    for (const a of Object.keys(t.attrs)) ok(!t.attrs[a].expr, `${where}: ${a} = ${t.attrs[a].expr}: only literals and sys.env("...") are checked here`);
    const info = { serving: null, clientCa: null };
    for (const f of t.files) {
      const src = mountedObject(w, c, get, path.dirname(f.path));
      if (!ok(src?.kind === "Secret" && src.obj, `${where}: ${f.attr} ${f.path} is not in a mounted Secret`)) continue;
      ok(!src.mount.subPath, `${where}: ${f.attr}: Secret ${src.obj.metadata.name} mounted with subPath (renewals would never reach the file)`);
      ok(src.mount.readOnly === true, `${where}: ${f.attr}: Secret ${src.obj.metadata.name} is not mounted read-only`);
      const k = mountedKey(src, f.path);
      ok(k && secretKeys(src.obj).has(k), `${where}: ${f.attr} ${f.path}: Secret ${src.obj.metadata.name} has no such key`);
      ok(!src.obj.metadata.name.match(/-[a-z0-9]{10}$/), `${where}: Secret ${src.obj.metadata.name} has a hash suffix: a renewal would roll pods instead of reloading`);
      const cert = src.obj.certificate;
      if (f.attr === "cert_file" || f.attr === "key_file") {
        if (cert) info.serving = cert;
        if (cert) ok(k === (f.attr === "cert_file" ? "tls.crt" : "tls.key"), `${where}: ${f.attr} reads ${k} of Certificate ${cert.metadata.name}'s Secret`);
      }
      if (f.attr === "client_ca_file") {
        if (cert) ok(cert.spec.isCA === true && k === "ca.crt", `${where}: client_ca_file should be ca.crt of a CA Certificate's Secret (${cert.metadata.name}, key ${k})`);
        info.clientCa = cert || src.obj;
      }
    }
    const cert = info.serving;
    if (cert) {
      const usages = cert.spec.usages;
      ok(!usages || usages.includes("server auth"), `${where}: Certificate ${cert.metadata.name} has usages ${usages} without "server auth"`);
      ok(!cert.spec.isCA, `${where}: Certificate ${cert.metadata.name} is a CA`);
    }
    tlsInfo[proto] = info;
  }
  ok(!tls.grpc || !tls.http || tls.grpc.attrs.cert_file?.value === tls.http.attrs.cert_file?.value, `${id}: 4317 and 4318 serve different certificates`);
  return { tls, info: tlsInfo };
}

// The files the tls blocks name, as the pod sees them: throwaway ones of the same kind from
// `fixtures` (ca.crt, tls.crt, tls.key) at the same paths under `dir`. Returns the configuration
// and environment pointing there (unchanged without fixtures).
export function layOutTlsFiles({ get, mountedObject, mountedKey }, { w, c, tls, dir, body, env, fixtures }) {
  let cfg = body;
  const vEnv = { ...env };
  if (!fixtures) return { cfg, env: vEnv };
  for (const f of [...(tls.grpc?.files || []), ...(tls.http?.files || [])]) {
    const src = mountedObject(w, c, get, path.dirname(f.path));
    const k = src && mountedKey(src, f.path);
    const fixture = path.join(fixtures, ["tls.crt", "tls.key", "ca.crt"].includes(k) ? k : f.attr === "key_file" ? "tls.key" : f.attr === "cert_file" ? "tls.crt" : "ca.crt");
    const local = path.join(dir, "files", f.path);
    fs.mkdirSync(path.dirname(local), { recursive: true });
    if (!fs.existsSync(local)) fs.copyFileSync(fixture, local);
    if (f.env) vEnv[f.env] = local;
    else cfg = cfg.split(`"${f.path}"`).join(`"${local}"`);
  }
  return { cfg, env: vEnv };
}

// Ingress TLS: Secrets and certificate names; the hop to the gateway speaks TLS exactly when the
// gateway serves it, and what verifies the gateway matches its certificate. gatewayTls maps
// each telegate workload to the `info` of checkReceiverTls.
export function checkIngressTls(ctx, ingresses, gatewayTls, issuerOf) {
  const { ok, fail, get, secretKeys, selects, podLabelsOf, containerPortsOf, servicePort, parsePort } = ctx;
  const secretRef = (ns, ref) => {
    if (!ref) return null;
    const [rns, rname] = ref.includes("/") ? ref.split("/") : [ns, ref];
    return get("Secret", rns, rname) || null;
  };
  const caSecretOf = (cert) => {
    const issuer = cert && issuerOf(cert);
    return issuer?.kind === "Issuer" && issuer.spec?.ca?.secretName ? issuer.spec.ca.secretName : null;
  };
  for (const ing of ingresses) {
    const ns = ing.metadata.namespace;
    const id = `Ingress ${ing.metadata.name}`;
    const ann = ing.metadata.annotations || {};
    const cls = ing.spec.ingressClassName;
    for (const t of ing.spec.tls || []) {
      const sec = get("Secret", ns, t.secretName);
      if (!ok(sec, `${id}: TLS Secret ${t.secretName} missing`)) continue;
      if (sec.certificate) for (const h of t.hosts || []) ok(dnsCovers(sec.certificate.spec.dnsNames, h), `${id}: TLS host ${h} is not a dnsName of Certificate ${sec.certificate.metadata.name}`);
    }
    for (const rule of ing.spec.rules || []) {
      for (const p of rule.http?.paths || []) {
        const b = p.backend.service;
        const sp = servicePort(ns, b.name, parsePort(b.port));
        const svc = get("Service", ns, b.name);
        if (!sp || !svc) continue;
        // The receiver block behind this Service port: 4317 grpc, 4318 http.
        const pods = [...gatewayTls.keys()].filter((w) => w.metadata.namespace === ns && selects(svc.spec.selector || {}, podLabelsOf(w)));
        if (!pods.length) continue;
        const tp = sp.targetPort ?? sp.port;
        const cport = containerPortsOf(pods[0]).find((x) => (typeof tp === "number" ? x.containerPort === tp : x.name === tp))?.containerPort;
        const proto = cport === 4317 ? "grpc" : cport === 4318 ? "http" : null;
        if (!proto) continue;
        const gw = gatewayTls.get(pods[0])[proto];
        const where = `${id}: ${rule.host || "*"}${p.path} -> ${b.name}:${parsePort(b.port)}`;
        const sann = svc.metadata.annotations || {};
        let speaksTls;
        let passthrough = false;
        if (cls === "nginx") {
          const bp = (ann["nginx.ingress.kubernetes.io/backend-protocol"] || "HTTP").toUpperCase();
          passthrough = ann["nginx.ingress.kubernetes.io/ssl-passthrough"] === "true";
          speaksTls = passthrough || ["HTTPS", "GRPCS"].includes(bp);
          if (!passthrough) {
            const want = proto === "grpc" ? (gw ? "GRPCS" : "GRPC") : gw ? "HTTPS" : "HTTP";
            ok(bp === want, `${where}: backend-protocol ${bp}, the gateway's ${proto} port needs ${want}`);
          }
          if (gw && !passthrough && ann["nginx.ingress.kubernetes.io/proxy-ssl-verify"] === "on") {
            const sec = secretRef(ns, ann["nginx.ingress.kubernetes.io/proxy-ssl-secret"]);
            if (ok(sec && secretKeys(sec).has("ca.crt"), `${where}: proxy-ssl-verify needs proxy-ssl-secret with ca.crt (${ann["nginx.ingress.kubernetes.io/proxy-ssl-secret"]})`) && sec.certificate && gw.serving) {
              ok(caSecretOf(sec.certificate) && caSecretOf(sec.certificate) === caSecretOf(gw.serving), `${where}: proxy-ssl-secret ${sec.metadata.name} carries the CA of ${sec.certificate.spec.issuerRef.name}, not the CA that issues the gateway's certificate`);
            }
            const name = ann["nginx.ingress.kubernetes.io/proxy-ssl-name"];
            ok(name, `${where}: proxy-ssl-verify without proxy-ssl-name: nginx would check the upstream's generated name`);
            if (name && gw.serving) ok(dnsCovers(gw.serving.spec.dnsNames, name), `${where}: proxy-ssl-name ${name} is not a dnsName of Certificate ${gw.serving.metadata.name}`);
          }
        } else if (cls === "haproxy") {
          const a = (k) => sann[`haproxy.org/${k}`] ?? ann[`haproxy.org/${k}`];
          passthrough = a("ssl-passthrough") === "true";
          const serverSsl = a("server-ssl") === "true";
          speaksTls = passthrough || serverSsl;
          ok(!(passthrough && serverSsl), `${where}: ssl-passthrough together with server-ssl would wrap the client's TLS in a second one`);
          if (gw && serverSsl && a("server-ca")) {
            const sec = secretRef(ns, a("server-ca"));
            if (ok(sec && secretKeys(sec).has("tls.crt"), `${where}: server-ca ${a("server-ca")} missing or without tls.crt`) && gw.serving) {
              ok(sec.metadata.name === caSecretOf(gw.serving), `${where}: server-ca ${a("server-ca")} is not the CA (Secret ${caSecretOf(gw.serving)}) that issues the gateway's certificate`);
            }
          }
          if (proto === "grpc" && !speaksTls) ok(a("server-proto") === "h2", `${where}: OTLP/gRPC needs server-proto h2 to a plain gateway`);
        } else if (cls === "alb") {
          speaksTls = (ann["alb.ingress.kubernetes.io/backend-protocol"] || "HTTP").toUpperCase() === "HTTPS";
          if (gw) ok((ann["alb.ingress.kubernetes.io/healthcheck-protocol"] || "HTTP").toUpperCase() === "HTTPS", `${where}: the ALB health check must use HTTPS on a TLS port`);
        } else {
          fail(`${where}: ingress class ${cls}: cannot tell whether it speaks TLS to the gateway`);
          continue;
        }
        ok(speaksTls === !!gw, gw ? `${where}: the gateway serves TLS on ${cport}, but the Ingress sends plain text` : `${where}: the Ingress speaks TLS to the gateway's plain ${cport}`);
        if (gw && passthrough) {
          ok(rule.host, `${where}: ssl-passthrough routes by SNI and needs a host`);
          if (rule.host && gw.serving) ok(dnsCovers(gw.serving.spec.dnsNames, rule.host), `${where}: passthrough host ${rule.host} is not a dnsName of Certificate ${gw.serving.metadata.name}`);
        }
      }
    }
  }
}

// The gateway's certificate names each of its ClusterIP Services in their namespace.
export function checkServingNames({ ok, ofKind, selects, podLabelsOf }, gatewayTls) {
  for (const [w, t] of gatewayTls) {
    const cert = t.grpc?.serving || t.http?.serving;
    if (!cert) continue;
    for (const s of ofKind("Service").filter((x) => x.metadata.namespace === w.metadata.namespace && (x.spec.type || "ClusterIP") === "ClusterIP" && selects(x.spec.selector || {}, podLabelsOf(w)))) {
      for (const n of [`${s.metadata.name}.${s.metadata.namespace}.svc`, `${s.metadata.name}.${s.metadata.namespace}.svc.cluster.local`]) {
        ok(dnsCovers(cert.spec.dnsNames, n), `Certificate ${cert.metadata.name}: does not name ${n}, which in-cluster clients of ${w.kind} ${w.metadata.name} verify`);
      }
    }
  }
}
