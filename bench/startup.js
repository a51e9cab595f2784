#!/usr/bin/env node
// Node start-up options for tsrun, measured side by side (issue 13):
//
//   node bench/startup.js            (BENCH_N=40 rounds by default, ~1 minute)
//
// Each round runs every variant once, in turn, so that load on the machine hits them all
// alike; medians and minimums in ms, and each median's difference from bare `node -e 0`:
//   node -e 0                          the floor
//   --snapshot-blob (empty snapshot)   a user-land startup snapshot holding nothing: what
//                                      deserialising one costs before it saves anything
//   --no-rehash-snapshot -e 0          skips re-seeding V8's hash tables at start-up
//   tsrun list (V8 code cache)         dist/tsrun.js as shipped: src/code-cache.ts
//   tsrun list (module compile cache)  the same bundles through module.enableCompileCache
//   tsrun list (no cache)              the same bundles compiled from source
// `list` of an empty --root is a full CLI start that reads the state directory and prints.
// Needs a built dist/. NODE_EXTRA_CA_CERTS is removed (it costs every variant the same).
'use strict';

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const L = require('./lib');

const N = L.positiveInt(process.env.BENCH_N, 40);
const dist = path.resolve(__dirname, '..', 'dist');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-startup-'));
const env = { ...process.env };
delete env.NODE_EXTRA_CA_CERTS;
delete env.NODE_OPTIONS;

function main() {
  const root = path.join(work, 'root');
  fs.mkdirSync(root);
  // Launchers that load the same entry bundle other ways.
  const entry = JSON.stringify(path.join(dist, 'entry.js'));
  const compileCache = path.join(work, 'compile-cache.js');
  fs.writeFileSync(compileCache, `require('node:module').enableCompileCache(${JSON.stringify(path.join(work, 'cc'))});\nrequire(${entry});\n`);
  const plain = path.join(work, 'plain.js');
  fs.writeFileSync(plain, `require(${entry});\n`);
  const snapshotMain = path.join(work, 'snapshot-main.js');
  fs.writeFileSync(snapshotMain, "require('node:v8').startupSnapshot.setDeserializeMainFunction(() => {});\n");
  const blob = path.join(work, 'empty.blob');
  const built = spawnSync(process.execPath, ['--snapshot-blob', blob, '--build-snapshot', snapshotMain], { env, stdio: 'ignore' });

  const list = ['--root', root, 'list'];
  const variants = [
    ['node -e 0', [process.execPath, '-e', '0']],
    ...(built.status === 0 ? [['--snapshot-blob (empty snapshot)', [process.execPath, '--snapshot-blob', blob]]] : []),
    ['--no-rehash-snapshot -e 0', [process.execPath, '--no-rehash-snapshot', '-e', '0']],
    ['tsrun list (V8 code cache)', [process.execPath, path.join(dist, 'tsrun.js'), ...list]],
    ['tsrun list (module compile cache)', [process.execPath, compileCache, ...list]],
    ['tsrun list (no cache)', [process.execPath, plain, ...list]],
  ];
  // Warm up: page cache, and each cache written once.
  for (const [, argv] of variants) for (let i = 0; i < 2; i++) spawnSync(argv[0], argv.slice(1), { env, stdio: 'ignore' });
  const times = new Map(variants.map(([name]) => [name, []]));
  for (let i = 0; i < N; i++) {
    for (const [name, argv] of variants) {
      const t0 = process.hrtime.bigint();
      const r = spawnSync(argv[0], argv.slice(1), { env, stdio: 'ignore' });
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (r.status !== 0) throw new Error(`${name}: exit status ${r.status}`);
      times.get(name).push(ms);
    }
  }
  const floor = L.stats(times.get('node -e 0')).median;
  console.log(`| variant (node ${process.version}, ${N} rounds) | median ms | min ms | median - node -e 0 |`);
  console.log('|---|---|---|---|');
  for (const [name] of variants) {
    const { median: m, min } = L.stats(times.get(name));
    const d = m - floor;
    console.log(`| ${name} | ${m.toFixed(1)} | ${min.toFixed(1)} | ${d >= 0 ? '+' : ''}${d.toFixed(1)} |`);
  }
}

try {
  main();
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
