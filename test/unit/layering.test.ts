// The folders of src/ and bindings/ import each other as a DAG (issue 14): a two-way import
// between folders means a shared type or protocol lives on one side and should move to a module
// both import. And ffi-rs is loaded only by bindings/ (the lazy load in bindings/load-ffi.ts).
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';

const repo = path.resolve(__dirname, '../..');

/** Every .ts file under dir, repo-relative with '/' separators. */
function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(repo, dir), { withFileTypes: true })) {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) out.push(...tsFiles(rel));
    else if (e.name.endsWith('.ts')) out.push(rel);
  }
  return out;
}

/** The folder a file belongs to: src/<folder>, bindings, or a file at the top of src/ on its own. */
function folderOf(file: string): string {
  const parts = file.split('/');
  if (parts[0] === 'bindings') return 'bindings';
  return parts.length > 2 ? `${parts[0]}/${parts[1]}` : file;
}

/** Module specifiers of a file: import/export ... from, import(), require() (ts.preProcessFile reads all). */
function specifiers(file: string): string[] {
  const text = fs.readFileSync(path.join(repo, file), 'utf8');
  return ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);
}

/** The repo-relative .ts (or generated .d.ts) file a relative specifier names; undefined for packages. */
function resolve(from: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const base = path.posix.join(path.posix.dirname(from), spec);
  for (const cand of [`${base}.ts`, `${base}.d.ts`, `${base}/index.ts`, base]) {
    if (cand.endsWith('.ts') && fs.existsSync(path.join(repo, cand))) return cand;
  }
  // The schema validators npm run build writes (not in git): in the importing folder.
  return base.includes('/generated/') ? `${base}.d.ts` : undefined;
}

const files = [...tsFiles('src'), ...tsFiles('bindings')];
/** folder -> folder -> the file imports that make that edge (for the failure message). */
const edges = new Map<string, Map<string, string[]>>();
const ffiOutsideBindings: string[] = [];
const unresolved: string[] = [];
for (const file of files) {
  for (const spec of specifiers(file)) {
    if (/^ffi-rs(\/|$)/.test(spec) && folderOf(file) !== 'bindings') ffiOutsideBindings.push(`${file} imports ${spec}`);
    if (!spec.startsWith('.')) continue;
    const target = resolve(file, spec);
    if (target === undefined) {
      if (!/\.(json|js)$/.test(spec)) unresolved.push(`${file}: ${spec}`);
      continue;
    }
    const a = folderOf(file);
    const b = folderOf(target);
    if (a === b) continue;
    if (!edges.has(a)) edges.set(a, new Map());
    const to = edges.get(a)!;
    to.set(b, [...(to.get(b) ?? []), `${file} -> ${target}`]);
  }
}

/** Strongly connected components with more than one folder (Tarjan): each one is a cycle. */
function cycles(): string[][] {
  const nodes = new Set<string>(files.map(folderOf));
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v)?.keys() ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) out.push(scc.sort());
    }
  };
  for (const v of [...nodes].sort()) if (!index.has(v)) visit(v);
  return out;
}

t.test('the import parser sees the files and their imports', async (t) => {
  t.ok(files.includes('src/cli/main.ts') && files.includes('bindings/load-ffi.ts'), 'files found');
  t.ok(edges.get('src/container')?.has('bindings'), 'src/container imports bindings');
  t.same(unresolved, [], 'every relative import resolves to a .ts file');
});

t.test('no two folders import each other, directly or through others', async (t) => {
  const found = cycles();
  const detail = found.map((scc) => {
    const lines = [`cycle between ${scc.join(', ')}:`];
    for (const a of scc) for (const b of scc) for (const e of edges.get(a)?.get(b) ?? []) lines.push(`  ${e}`);
    return lines.join('\n');
  });
  t.same(detail, [], 'folder import graph is a DAG');
});

/**
 * What each folder may import (docs/architecture.md, Source layout): container uses init's
 * set-up for the direct init (never the reverse: they share src/protocol); spec is the
 * document and knows nothing of the runtime;
 * bindings is the bottom. A new edge is a design decision: make it here and in the doc.
 */
const ALLOWED: Record<string, string[]> = {
  'src/cli': ['src/container', 'src/spec', 'src/procfs.ts', 'src/errors.ts', 'src/logging.ts', 'bindings'],
  'src/container': ['src/init', 'src/cgroups', 'src/security', 'src/spec', 'src/protocol', 'src/hooks.ts', 'src/procfs.ts', 'src/errors.ts', 'src/logging.ts', 'bindings'],
  'src/init': ['src/protocol', 'src/security', 'src/spec', 'src/hooks.ts', 'src/procfs.ts', 'src/errors.ts', 'bindings'],
  'src/protocol': ['src/security', 'src/spec', 'src/errors.ts'],
  'src/cgroups': ['src/spec', 'src/errors.ts', 'bindings'],
  'src/security': ['src/spec', 'src/errors.ts', 'bindings'],
  'src/spec': ['src/errors.ts', 'bindings'],
  'src/hooks.ts': ['src/spec', 'src/errors.ts', 'src/logging.ts'],
  'src/procfs.ts': [],
  'src/errors.ts': [],
  'src/logging.ts': [],
  'src/code-cache.ts': [],
  bindings: [],
};

t.test('each folder imports only the layers below it', async (t) => {
  const unknown = [...new Set(files.map(folderOf))].filter((f) => !(f in ALLOWED));
  t.same(unknown, [], 'every folder has a row in ALLOWED');
  const extra: string[] = [];
  for (const [a, to] of edges) for (const [b, why] of to) if (!(ALLOWED[a] ?? []).includes(b)) extra.push(`${a} -> ${b}: ${why.join(', ')}`);
  t.same(extra, [], 'no import outside ALLOWED');
});

t.test('only bindings/ imports ffi-rs', async (t) => {
  t.same(ffiOutsideBindings, []);
});
