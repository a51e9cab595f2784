// Every file the docs and code comments point at is in the repository (issue 14: eight
// comments cited a DESIGN.md kept outside it). Checked: repository paths such as
// src/init/boot.ts or docs/design-notes.md, and every NAME.md named alone.
import t from 'tap';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '../helpers/rootfs';

/** Build output and local results: named by the docs, never in git. */
const GENERATED = ['dist/', 'src/spec/generated/', 'bench/results/'];
/** Documents of the OCI runtime-spec, cited by name. */
const RUNTIME_SPEC = new Set(['config.md', 'config-linux.md', 'runtime.md', 'runtime-linux.md', 'features.md', 'features-linux.md']);
const TOP_DIRS = ['src', 'bindings', 'test', 'scripts', 'bench', 'docs', 'examples', 'spec-schemas'];
const EXTENSIONS = ['test.ts', 'test.cjs', 'ts', 'cjs', 'js', 'c', 'sh', 'py', 'md', 'json', 'toml', 'yaml', 'conf'];

function walk(dir: string, out: string[]): string[] {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (!['node_modules', 'fixtures', 'generated', 'rootfs', 'results'].includes(e.name)) walk(p, out);
    } else if (/\.(ts|cjs|js|c|sh|md)$/.test(e.name)) {
      out.push(p);
    }
  }
  return out;
}

const sources = [
  path.join(repoRoot, 'README.md'),
  ...['src', 'bindings', 'test', 'scripts', 'bench', 'docs', 'examples'].flatMap((d) => walk(path.join(repoRoot, d), [])),
].filter((f) => f !== __filename); // this file names missing ones on purpose

const repoPath = new RegExp(`(?<![\\w./-])((?:${TOP_DIRS.join('|')})/[\\w./-]*?\\.(?:${EXTENSIONS.map((x) => x.replace('.', '\\.')).join('|')}))(?![\\w/-])`, 'g');
const bareMd = /(?<![\w./-])([A-Za-z][\w-]*\.md)\b/g;

/** A bare NAME.md: beside the file, at the top, or in docs/. */
function mdExists(from: string, name: string): boolean {
  return [path.dirname(from), repoRoot, path.join(repoRoot, 'docs')].some((d) => fs.existsSync(path.join(d, name)));
}

t.test('every file named in the docs and comments exists', async (t) => {
  const missing: string[] = [];
  for (const file of sources) {
    const text = fs.readFileSync(file, 'utf8');
    const rel = path.relative(repoRoot, file);
    for (const m of text.matchAll(repoPath)) {
      const p = m[1].replace(/\.$/, '');
      if (GENERATED.some((g) => p.startsWith(g))) continue;
      if (!fs.existsSync(path.join(repoRoot, p))) missing.push(`${rel}: ${p}`);
    }
    for (const m of text.matchAll(bareMd)) {
      if (!RUNTIME_SPEC.has(m[1]) && !mdExists(file, m[1])) missing.push(`${rel}: ${m[1]}`);
    }
  }
  t.same(missing, [], 'files named but not in the repository');
});

t.test('the check sees a missing file', async (t) => {
  const text = 'see DESIGN.md 4 and src/init/nowhere.ts, not src/init/boot.ts';
  t.same([...text.matchAll(repoPath)].map((m) => m[1]), ['src/init/nowhere.ts', 'src/init/boot.ts']);
  t.same([...text.matchAll(bareMd)].map((m) => m[1]), ['DESIGN.md']);
  t.notOk(mdExists(path.join(repoRoot, 'src', 'x.ts'), 'DESIGN.md'));
});
