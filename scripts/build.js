#!/usr/bin/env node
// Build: compile the JSON Schemas to standalone validator code (no ajv at run time),
// then bundle each entry point into one file so start-up never walks node_modules.
'use strict';
const path = require('node:path');
const fs = require('node:fs');
const esbuild = require('esbuild');

const top = path.resolve(__dirname, '..');
const dist = path.join(top, 'dist');

require('./compile-schemas').compileSchemas(top);

// Build next to dist/ and swap it in at the end: tests running meanwhile never see a half build.
const out = `${dist}.tmp-${process.pid}`;
fs.rmSync(out, { recursive: true, force: true });
// `import * as fs from 'node:fs'` in each of ~20 source files would make esbuild copy fs's
// ~100 properties into a fresh namespace object per importing file (its __toESM helper):
// 3-7 ms per bundle at every start. Route node: built-ins through one ES module each, so
// every bundle converts each built-in once.
const builtinsOnce = {
  name: 'builtins-once',
  setup(build) {
    // A plain require() (src/code-cache.ts) stays one: no conversion at all.
    build.onResolve({ filter: /^node:/ }, (args) => (args.namespace === 'builtin' || args.kind === 'require-call'
      ? { path: args.path, external: true }
      : { path: args.path, namespace: 'builtin' }));
    build.onLoad({ filter: /.*/, namespace: 'builtin' }, (args) => ({
      // Named exports only: a default import would make esbuild copy the module a second time.
      contents: `export * from ${JSON.stringify(args.path)};`,
      loader: 'js',
    }));
  },
};
// `tsrun --version` prints the commit it was built from (runc's "commit:" line).
const commit = (() => {
  const r = require('node:child_process').spawnSync('git', ['rev-parse', 'HEAD'], { cwd: top, encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : 'unknown';
})();
const common = {
  bundle: true,
  define: { TSRUN_COMMIT: JSON.stringify(commit) },
  plugins: [builtinsOnce],
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  // ffi-rs loads a native addon: keep it a real require() resolved from node_modules.
  // The validators are large generated code that only create/run/exec/update need: they
  // stay separate files (dist/generated/), loaded on first use.
  external: ['ffi-rs', './generated/*'],
  legalComments: 'none',
  minify: !process.env.TSRUN_NO_MINIFY, // TSRUN_NO_MINIFY=1: readable names in CPU profiles
  keepNames: true,
  logLevel: 'warning',
};
// Entry points are small launchers (see launcher() below); the code they load:
const bundles = {
  entry: 'src/cli/entry.ts',
  'code-cache': 'src/code-cache.ts',
  // create, run and exec: loaded by tsrun.js only for those commands.
  spawning: 'src/cli/spawning.ts',
  // pause, resume, ps, events, update and --version: loaded by tsrun.js only for them.
  cli: 'src/cli/main.ts',
  'init-main': 'src/init/main.ts',
  // The exec-init: `tsrun exec` spawns it into a running container.
  'exec-init-main': 'src/init/exec.ts',
};
const validators = ['config', 'state', 'features'];
// The entry points: [launcher, bundle it loads, save a code cache at exit]. The CA bundle
// NODE_EXTRA_CA_CERTS names costs ~80 ms per start and tsrun makes no TLS connection: the
// CLI's shebang drops it (and NODE_OPTIONS) before node starts, at no extra exec. The inits
// are spawned by tsrun with an environment of its own, and never write (see code-cache.ts).
// --min-semi-space-size=8 (MB): V8's young generation starts at 1 MB, and loading the
// create/exec bundle fills it twice; each scavenge costs 1-2 ms, up to 8 ms when the other
// CPU is busy (parallel creates). With 8 MB a command runs without any collection and its
// peak RSS is the same (src/container/spawn-init.ts starts the Node inits the same way).
const launchers = [
  ['tsrun.js', 'entry.js', true, '#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS -u NODE_OPTIONS node --min-semi-space-size=8\n'],
  ['init.js', 'init-main.js', false],
  ['exec-init.js', 'exec-init-main.js', false],
];

async function main() {
  await Promise.all([
    ...Object.entries(bundles).map(([name, src]) => esbuild.build({ ...common, entryPoints: { [name]: path.join(top, src) }, outdir: out })),
    ...validators.map((name) => esbuild.build({
      ...common,
      entryPoints: { [`${name}-validator`]: path.join(top, `src/spec/generated/${name}-validator.js`) },
      outdir: path.join(out, 'generated'),
    })),
  ]);
  for (const [name, main, saveAtExit, shebang] of launchers) launcher(name, main, saveAtExit, shebang);
  fs.chmodSync(path.join(out, 'tsrun.js'), 0o755);
  buildCodeCache(out);
  buildTrampoline(out);
  buildStage(out);
  const old = `${dist}.old-${process.pid}`;
  if (fs.existsSync(dist)) fs.renameSync(dist, old);
  fs.renameSync(out, dist);
  fs.rmSync(old, { recursive: true, force: true });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

/** An entry point: load `main` through the V8 code cache (src/code-cache.ts). */
function launcher(name, main, saveAtExit, shebang = '') {
  const body = `'use strict';\nrequire('./code-cache.js').run(__dirname, ${JSON.stringify(main)}, ${saveAtExit});\n`;
  fs.writeFileSync(path.join(out, name), shebang + body);
}

// The code cache made before anything ran (top-level code of every file tsrun loads): the
// inits use it (they cannot write one); the CLI replaces it with a fuller one on first use.
// Keyed by the files' final place: the size, mtime and inode survive the rename of out/.
function buildCodeCache(outDir) {
  const vm = require('node:vm');
  const { cacheFiles, saveCache, wrappedSource } = require(path.join(outDir, 'code-cache.js'));
  // The launchers and code-cache.js itself are compiled before any cache is in place.
  const notCached = new Set([...launchers.map(([name]) => name), 'code-cache.js']);
  const files = [];
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.js') && !notCached.has(p.slice(outDir.length + 1))) files.push(p);
    }
  };
  walk(outDir);
  files.push(require.resolve('ffi-rs', { paths: [top] }));
  for (const file of files) {
    const names = cacheFiles(outDir, file);
    const script = new vm.Script(wrappedSource(fs.readFileSync(file, 'utf8')), { filename: file });
    saveCache(names.build, script.createCachedData());
  }
}

// tsrun-stage (bindings/process-stage.c): every container process is exec'd through it, so
// the build fails without it. Static: it is exec'd from inside the container's mount
// namespace, where an ELF interpreter or shared library would be looked up in the
// container's files.
function buildStage(outDir) {
  const { spawnSync } = require('node:child_process');
  const src = path.join(top, 'bindings', 'process-stage.c');
  const cc = process.env.CC || 'cc';
  const r = spawnSync(cc, ['-O2', '-Wall', '-Werror', '-static', '-s', '-o', path.join(outDir, 'tsrun-stage'), src], { stdio: 'inherit' });
  if (r.error || r.status !== 0) {
    console.error(`build: ${cc} could not build ${path.relative(top, src)} (${r.error ? r.error.message : `status ${r.status}`}): tsrun needs it for every container (apt-get install gcc libc6-dev)`);
    process.exit(1);
  }
}

// The single-threaded step user namespaces need (bindings/userns-trampoline.c, docs/design-notes.md).
// Built with the system C compiler (tsrun-stage needs it too, so a build without one fails
// in buildStage); if only this program fails to build, a container with a user namespace is refused
// at create time with a message saying so.
function buildTrampoline(outDir) {
  const { spawnSync } = require('node:child_process');
  const src = path.join(top, 'bindings', 'userns-trampoline.c');
  const cc = process.env.CC || 'cc';
  const r = spawnSync(cc, ['-O2', '-Wall', '-Werror', '-o', path.join(outDir, 'tsrun-userns'), src], { stdio: 'inherit' });
  if (r.error || r.status !== 0) {
    console.warn(`build: ${cc} could not build ${path.relative(top, src)} (${r.error ? r.error.message : `status ${r.status}`}): user namespaces will be unavailable (apt-get install gcc libc6-dev)`);
  }
}
