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
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  // ffi-rs loads a native addon: keep it a real require() resolved from node_modules.
  // The validators are large generated code that only create/run/exec/update need: they
  // stay separate files (dist/generated/), loaded on first use.
  external: ['ffi-rs', './generated/*'],
  legalComments: 'none',
  minify: true,
  keepNames: true,
  logLevel: 'warning',
};
esbuild.buildSync({
  ...common,
  entryPoints: { tsrun: path.join(top, 'src/cli/entry.ts') },
  outdir: out,
  // The CA bundle NODE_EXTRA_CA_CERTS names costs ~80 ms per start and tsrun makes no TLS
  // connection: drop it (and NODE_OPTIONS) before node starts, at no extra exec.
  banner: { js: '#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS -u NODE_OPTIONS node' },
});
// create, run and exec: loaded by tsrun.js only for those commands.
esbuild.buildSync({
  ...common,
  entryPoints: { spawning: path.join(top, 'src/cli/spawning.ts') },
  outdir: out,
});
// The full CLI (yargs, validators), loaded by tsrun.js only for commands off the fast path.
esbuild.buildSync({
  ...common,
  entryPoints: { cli: path.join(top, 'src/cli/main.ts') },
  outdir: out,
});
esbuild.buildSync({
  ...common,
  entryPoints: { init: path.join(top, 'src/init/main.ts') },
  outdir: out,
});
// The exec-init: `tsrun exec` spawns it into a running container.
esbuild.buildSync({
  ...common,
  entryPoints: { 'exec-init': path.join(top, 'src/init/exec.ts') },
  outdir: out,
});
for (const name of ['config', 'state', 'features']) {
  esbuild.buildSync({
    ...common,
    entryPoints: { [`${name}-validator`]: path.join(top, `src/spec/generated/${name}-validator.js`) },
    outdir: path.join(out, 'generated'),
  });
}
fs.chmodSync(path.join(out, 'tsrun.js'), 0o755);
buildTrampoline(out);
const old = `${dist}.old-${process.pid}`;
if (fs.existsSync(dist)) fs.renameSync(dist, old);
fs.renameSync(out, dist);
fs.rmSync(old, { recursive: true, force: true });

// The single-threaded step user namespaces need (bindings/userns-trampoline.c, DESIGN.md 1).
// Built with the system C compiler when there is one; without it tsrun still works, and a
// container with a user namespace is refused at create time with a message saying so.
function buildTrampoline(outDir) {
  const { spawnSync } = require('node:child_process');
  const src = path.join(top, 'bindings', 'userns-trampoline.c');
  const cc = process.env.CC || 'cc';
  const r = spawnSync(cc, ['-O2', '-Wall', '-Werror', '-o', path.join(outDir, 'tsrun-userns'), src], { stdio: 'inherit' });
  if (r.error || r.status !== 0) {
    console.warn(`build: ${cc} could not build ${path.relative(top, src)} (${r.error ? r.error.message : `status ${r.status}`}): user namespaces will be unavailable (apt-get install gcc libc6-dev)`);
  }
}
