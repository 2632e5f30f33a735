// Custom resources in the bundle: which npm package holds the models generated from their CRDs,
// and the check for fields those CRDs do not declare. Used by check.mjs.
import fs from "node:fs";

// By API group. @kubernetes-models/cert-manager 4.4.4 (the last release that runs on Node 20)
// carries cert-manager.io/v1 schemas from before cert-manager 1.14 (they lack nameConstraints and
// otherNames, added then); the bundle uses only fields that those schemas already declare.
export const CRD_PACKAGES = { "cert-manager.io": "@kubernetes-models/cert-manager" };

export function isCustomResource(apiVersion) {
  return Boolean(CRD_PACKAGES[apiVersion.split("/")[0]]);
}

const treeCache = new Map();

// The declarations of custom resources nest inline object types instead of importing one file
// per type, so the property tree is read from the nesting of the interface:
//   "name"?: {             an object           "name"?: Array<{     an array of objects
//   "name"?: IObjectMeta;  an imported type    [key: string]: ...   a map (any key)
// declFile(spec, fromFile) resolves an import to its .d.ts file.
function parseInlineDecl(file, declFile) {
  if (treeCache.has(file)) return treeCache.get(file);
  const text = fs.readFileSync(file, "utf8").replace(/\/\*\*[\s\S]*?\*\//g, "");
  const imports = new Map();
  for (const m of text.matchAll(/^import \{([^}]+)\} from "([^"]+)";/gm)) {
    for (const n of m[1].split(",")) imports.set(n.trim(), declFile(m[2], file));
  }
  const start = text.search(/^export interface \w+ \{$/m);
  const root = { props: new Map(), anyKey: false };
  const stack = [root];
  for (const raw of text.slice(start).split("\n").slice(1)) {
    const line = raw.trim();
    const top = stack[stack.length - 1];
    let m;
    if ((m = /^"([^"]+)"\??: (.*)$/.exec(line))) {
      if (/^(Array<)?\{$/.test(m[2])) {
        const child = { props: new Map(), anyKey: false };
        top.props.set(m[1], child);
        stack.push(child);
      } else {
        const t = m[2].replace(/;$/, "");
        top.props.set(m[1], imports.has(t) ? { file: imports.get(t) } : null);
      }
    } else if (/^\[key: string\]: \{$/.test(line)) {
      top.anyKey = true;
      top.mapOf = { props: new Map(), anyKey: false };
      stack.push(top.mapOf);
    } else if (/^\[key: string\]:/.test(line)) {
      top.anyKey = true;
    } else if (/^\}>?;?$/.test(line)) {
      if (stack.length === 1) break;
      stack.pop();
    }
  }
  treeCache.set(file, root);
  return root;
}

function walk(value, node, where, report, strictCheck) {
  if (!node || !value || typeof value !== "object") return;
  if (Array.isArray(value)) {
    value.forEach((x, i) => walk(x, node, `${where}[${i}]`, report, strictCheck));
    return;
  }
  if (node.file) {
    strictCheck(value, node.file, where, report);
    return;
  }
  for (const [k, v] of Object.entries(value)) {
    if (node.props.has(k)) walk(v, node.props.get(k), `${where}.${k}`, report, strictCheck);
    else if (node.anyKey) walk(v, node.mapOf, `${where}.${k}`, report, strictCheck);
    else report(`${where}.${k}: unknown field`);
  }
}

// Reports every field of `value` that the custom resource's declaration (file, a .d.ts) does not
// declare; imported types (metadata) go to strictCheck(value, file, where, report).
export function strictCustomResource(value, file, where, report, { declFile, strictCheck }) {
  walk(value, parseInlineDecl(file, declFile), where, report, strictCheck);
}
