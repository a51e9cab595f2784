#!/usr/bin/env node
// Container life-cycle benchmark: tsrun against runc (and optionally crun).
//
//   sudo npm run bench            (BENCH_N=20 iterations by default)
//
// For each environment variant (with and without NODE_EXTRA_CA_CERTS: engines pass their
// environment on to the runtime, and that variable costs every Node start-up; runc gets
// the same environment, for fairness) and each iteration, the runtimes take turns:
//   create --bundle B --pid-file F ID      (container init waits before /bin/true)
//   state ID                               (timed separately, not part of the total)
//   start ID
//   wait: poll /proc/<pid from F> until the process is gone or a zombie
//   delete ID
// then a foreground `run --bundle B ID2` of the same /bin/true.
// Every runtime has its own --root in a temp dir. Each command has a timeout; failures
// are counted and reported, never waited on forever.
//
// Environment: BENCH_N (iterations, default 20), BENCH_RUNTIMES (default "tsrun,runc";
// "crun" is also known), BENCH_TIMEOUT_MS (per command, default 30000),
// TSRUN_BIN (command for tsrun, default: dist/tsrun.js run directly, else `tsrun` on PATH),
// RUNC_BIN, CRUN_BIN.
// Writes bench/results/latest.json.
'use strict';

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const top = path.resolve(__dirname, '..');
const N = positiveInt(process.env.BENCH_N, 20);
const TIMEOUT = positiveInt(process.env.BENCH_TIMEOUT_MS, 30000);
const WAIT_TIMEOUT = 10000;
const MAX_CONSECUTIVE_FAILURES = 3;
const CA_DEFAULT = '/etc/ssl/certs/ca-certificates.crt';

function positiveInt(s, dflt) {
  const n = Number(s);
  return Number.isInteger(n) && n > 0 ? n : dflt;
}

function which(name) {
  for (const dir of (process.env.PATH || '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    const p = path.join(dir || '.', name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {
      /* not here */
    }
  }
  return null;
}

/** argv prefix that runs each runtime, or null with a reason. */
function runtimeCommand(name) {
  if (name === 'tsrun') {
    if (process.env.TSRUN_BIN) return { cmd: process.env.TSRUN_BIN.split(' ').filter(Boolean) };
    const js = path.join(top, 'dist', 'tsrun.js');
    // Run the file itself, as engines do: its shebang line is part of what tsrun costs.
    if (fs.existsSync(js)) return { cmd: [js] };
    const bin = which('tsrun');
    if (bin) return { cmd: [bin] };
    return { cmd: null, why: 'dist/tsrun.js not built (npm run build) and no tsrun on PATH' };
  }
  const envName = `${name.toUpperCase()}_BIN`;
  const bin = process.env[envName] || which(name);
  if (!bin) return { cmd: null, why: `${name} not found (apt-get install ${name})` };
  return { cmd: [bin] };
}

function version(cmd) {
  const r = spawnSync(cmd[0], [...cmd.slice(1), '--version'], { encoding: 'utf8', timeout: TIMEOUT, stdio: ['ignore', 'pipe', 'pipe'] });
  return r.status === 0 ? r.stdout.trim().split('\n')[0] : `unknown (--version: status ${r.status})`;
}

const devnull = fs.openSync('/dev/null', 'r+');

/**
 * Run one runtime command with stdio on files (a detached container inherits them; a
 * pipe would keep spawnSync waiting until the container exits). Returns {ms, ok, status,
 * err, out}.
 */
function timed(cmd, args, env, scratch) {
  const errPath = path.join(scratch, 'stderr');
  const outPath = path.join(scratch, 'stdout');
  const errFd = fs.openSync(errPath, 'w');
  const outFd = fs.openSync(outPath, 'w');
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd[0], [...cmd.slice(1), ...args], {
    env,
    stdio: [devnull, outFd, errFd],
    timeout: TIMEOUT,
    killSignal: 'SIGKILL',
  });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  fs.closeSync(errFd);
  fs.closeSync(outFd);
  const err = readSafe(errPath).trim();
  const out = readSafe(outPath);
  let why = '';
  if (r.error) why = r.error.code === 'ETIMEDOUT' ? `timed out after ${TIMEOUT} ms` : String(r.error.message);
  else if (r.status !== 0) why = `exit ${r.status ?? 'signal ' + r.signal}`;
  return { ms, ok: !why, why, err: err.split('\n').slice(-1)[0] || '', out };
}

function readSafe(p) {
  try {
    return fs.readFileSync(p, 'utf8');
  } catch {
    return '';
  }
}

/** true once pid is gone or a zombie. */
function exited(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.charAt(stat.lastIndexOf(')') + 2) === 'Z';
  } catch {
    return true;
  }
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
function waitExit(pid) {
  const t0 = process.hrtime.bigint();
  const end = Date.now() + WAIT_TIMEOUT;
  while (!exited(pid)) {
    if (Date.now() > end) return { ms: Number(process.hrtime.bigint() - t0) / 1e6, ok: false, why: `pid ${pid} still running after ${WAIT_TIMEOUT} ms` };
    Atomics.wait(sleeper, 0, 0, 1);
  }
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, ok: true };
}

let seq = 0;
/** One create/state/start/wait/delete cycle, then one foreground run. */
function cycle(rt, env) {
  const id = `bench-${rt.name}-${process.pid}-${++seq}`;
  const pidFile = path.join(rt.scratch, `${id}.pid`);
  const base = ['--root', rt.root];
  const sample = {};
  const fail = (step, r) => {
    timed(rt.cmd, [...base, 'delete', '--force', id], env, rt.scratch);
    return { ok: false, step, why: r.why, err: r.err || '' };
  };

  let r = timed(rt.cmd, [...base, 'create', '--bundle', rt.bundle, '--pid-file', pidFile, id], env, rt.scratch);
  if (!r.ok) return fail('create', r);
  sample.create = r.ms;
  const pid = Number(readSafe(pidFile).trim());
  if (!Number.isInteger(pid) || pid <= 0) return fail('create', { why: `no pid in --pid-file (${JSON.stringify(readSafe(pidFile))})` });

  r = timed(rt.cmd, [...base, 'state', id], env, rt.scratch);
  if (!r.ok) return fail('state', r);
  try {
    const st = JSON.parse(r.out);
    if (st.status !== 'created') return fail('state', { why: `status ${JSON.stringify(st.status)} after create, expected "created"` });
  } catch {
    return fail('state', { why: 'state output is not JSON' });
  }
  sample.state = r.ms;

  r = timed(rt.cmd, [...base, 'start', id], env, rt.scratch);
  if (!r.ok) return fail('start', r);
  sample.start = r.ms;

  r = waitExit(pid);
  if (!r.ok) return fail('wait', r);
  sample.wait = r.ms;

  r = timed(rt.cmd, [...base, 'delete', id], env, rt.scratch);
  if (!r.ok) return fail('delete', r);
  sample.delete = r.ms;
  sample.total = sample.create + sample.start + sample.wait + sample.delete;
  fs.rmSync(pidFile, { force: true });

  const runId = `${id}-run`;
  r = timed(rt.cmd, [...base, 'run', '--bundle', rt.bundle, runId], env, rt.scratch);
  if (!r.ok) {
    timed(rt.cmd, [...base, 'delete', '--force', runId], env, rt.scratch);
    return { ok: false, step: 'run', why: r.why, err: r.err || '' };
  }
  sample.run = r.ms;
  return { ok: true, sample };
}

function stats(xs) {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  return { n: s.length, median: round(median), min: round(s[0]), max: round(s[s.length - 1]) };
}
const round = (x) => Math.round(x * 10) / 10;

function main() {
  if (process.getuid && process.getuid() !== 0) {
    console.error('bench: containers need root; run: sudo npm run bench');
    process.exit(1);
  }
  const names = (process.env.BENCH_RUNTIMES || 'tsrun,runc').split(',').map((s) => s.trim()).filter(Boolean);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-bench-'));
  const cleanup = () => fs.rmSync(work, { recursive: true, force: true });
  process.on('SIGINT', () => {
    cleanup();
    process.exit(130);
  });

  // rootfs + config (the hello-world example running /bin/true)
  const rootfs = path.join(work, 'rootfs');
  const mk = spawnSync('bash', [path.join(top, 'scripts', 'make-rootfs.sh'), rootfs], { encoding: 'utf8', timeout: 60000 });
  if (mk.status !== 0) {
    console.error(`bench: make-rootfs.sh failed: ${(mk.stderr || '').trim() || mk.error}`);
    cleanup();
    process.exit(1);
  }
  const config = JSON.parse(fs.readFileSync(path.join(top, 'examples', 'hello-world', 'config.json'), 'utf8'));
  config.process.args = ['/bin/true'];
  config.root = { path: rootfs, readonly: false };

  const runtimes = [];
  const unavailable = {};
  for (const name of names) {
    const { cmd, why } = runtimeCommand(name);
    if (!cmd) {
      unavailable[name] = why;
      console.log(`${name}: not benchmarked: ${why}`);
      continue;
    }
    const dir = path.join(work, name);
    fs.mkdirSync(path.join(dir, 'bundle'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'root'));
    fs.mkdirSync(path.join(dir, 'scratch'));
    fs.writeFileSync(path.join(dir, 'bundle', 'config.json'), JSON.stringify(config, null, 2));
    runtimes.push({
      name,
      cmd,
      version: version(cmd),
      bundle: path.join(dir, 'bundle'),
      root: path.join(dir, 'root'),
      scratch: path.join(dir, 'scratch'),
    });
  }
  if (runtimes.length === 0) {
    console.error('bench: no runtime to benchmark');
    cleanup();
    process.exit(1);
  }

  const ca = process.env.NODE_EXTRA_CA_CERTS || (fs.existsSync(CA_DEFAULT) ? CA_DEFAULT : '');
  const baseEnv = { ...process.env };
  delete baseEnv.NODE_EXTRA_CA_CERTS;
  delete baseEnv.NODE_OPTIONS;
  const variants = [{ name: 'without NODE_EXTRA_CA_CERTS', env: baseEnv }];
  if (ca) variants.unshift({ name: `with NODE_EXTRA_CA_CERTS=${ca}`, env: { ...baseEnv, NODE_EXTRA_CA_CERTS: ca } });

  console.log(`bench: ${N} iterations, runtimes ${runtimes.map((r) => `${r.name} (${r.version})`).join(', ')}`);
  const results = {};
  for (const v of variants) {
    results[v.name] = {};
    for (const rt of runtimes) {
      results[v.name][rt.name] = { samples: [], failures: [], consecutive: 0, disabled: false };
      // warm-up (page cache, first-run costs); not counted, but a failure is reported
      const w = cycle(rt, v.env);
      if (!w.ok) {
        const res = results[v.name][rt.name];
        res.failures.push({ iteration: 'warm-up', step: w.step, why: w.why, err: w.err });
        res.consecutive++;
      }
    }
  }

  for (let i = 0; i < N; i++) {
    for (const v of variants) {
      for (const rt of runtimes) {
        const res = results[v.name][rt.name];
        if (res.disabled) continue;
        const c = cycle(rt, v.env);
        if (c.ok) {
          res.samples.push(c.sample);
          res.consecutive = 0;
        } else {
          res.failures.push({ iteration: i + 1, step: c.step, why: c.why, err: c.err });
          if (++res.consecutive >= MAX_CONSECUTIVE_FAILURES) {
            res.disabled = true;
            console.log(`\n${rt.name} (${v.name}): ${res.consecutive} failures in a row, giving up on it: ${c.step}: ${c.why}${c.err ? ': ' + c.err : ''}`);
          }
        }
      }
    }
    process.stdout.write(`\riteration ${i + 1}/${N}`);
  }
  process.stdout.write('\n');

  // summaries
  const steps = ['total', 'create', 'state', 'start', 'wait', 'delete', 'run'];
  const summary = {};
  for (const v of variants) {
    summary[v.name] = {};
    console.log(`\n== ${v.name}  (ms; total = create + start + wait + delete)`);
    const rows = [['runtime', 'ok', 'fail', ...steps.map((s) => `${s} median`), 'total min', 'total max']];
    for (const rt of runtimes) {
      const res = results[v.name][rt.name];
      const s = {};
      for (const step of steps) s[step] = stats(res.samples.map((x) => x[step]));
      summary[v.name][rt.name] = { ok: res.samples.length, failed: res.failures.length, gaveUp: res.disabled, steps: s };
      rows.push([
        rt.name,
        String(res.samples.length),
        String(res.failures.length),
        ...steps.map((st) => (s[st] ? s[st].median.toFixed(1) : '-')),
        s.total ? s.total.min.toFixed(1) : '-',
        s.total ? s.total.max.toFixed(1) : '-',
      ]);
    }
    printTable(rows);
    const ts = summary[v.name].tsrun;
    for (const ref of ['runc', 'crun']) {
      const rs = summary[v.name][ref];
      if (!ts || !rs) continue;
      const ratio = {};
      for (const st of steps) {
        if (ts.steps[st] && rs.steps[st] && rs.steps[st].median > 0) ratio[st] = Math.round((ts.steps[st].median / rs.steps[st].median) * 100) / 100;
      }
      summary[v.name][`ratio tsrun/${ref}`] = ratio;
      const parts = Object.entries(ratio).map(([k, x]) => `${k} ${x}x`);
      console.log(`tsrun/${ref} (medians): ${parts.length ? parts.join(', ') : 'n/a (no successful samples)'}`);
    }
    for (const rt of runtimes) {
      const f = results[v.name][rt.name].failures;
      if (f.length === 0) continue;
      console.log(`${rt.name} failures (${f.length}):`);
      const seen = new Map();
      for (const x of f) {
        const key = `${x.step}: ${x.why}${x.err ? ': ' + x.err : ''}`;
        seen.set(key, (seen.get(key) || 0) + 1);
      }
      for (const [k, n] of seen) console.log(`  ${n}x ${k}`);
    }
  }

  const out = {
    date: new Date().toISOString(),
    host: { kernel: os.release(), cpus: os.cpus().length, cpu: os.cpus()[0] ? os.cpus()[0].model : 'unknown', node: process.version },
    iterations: N,
    timeoutMs: TIMEOUT,
    runtimes: Object.fromEntries(runtimes.map((r) => [r.name, { command: r.cmd.join(' '), version: r.version }])),
    unavailable,
    summary,
    samples: Object.fromEntries(
      variants.map((v) => [v.name, Object.fromEntries(runtimes.map((r) => [r.name, { samples: results[v.name][r.name].samples, failures: results[v.name][r.name].failures }]))]),
    ),
  };
  const resultsDir = path.join(__dirname, 'results');
  fs.mkdirSync(resultsDir, { recursive: true });
  fs.writeFileSync(path.join(resultsDir, 'latest.json'), JSON.stringify(out, null, 2) + '\n');
  console.log(`\nwrote ${path.relative(process.cwd(), path.join(resultsDir, 'latest.json')) || 'bench/results/latest.json'}`);

  // leftover state (failed deletes) is removed with the work dir; containers are force-deleted
  for (const rt of runtimes) {
    let ids = [];
    try {
      ids = fs.readdirSync(rt.root);
    } catch {
      /* none */
    }
    for (const id of ids) timed(rt.cmd, ['--root', rt.root, 'delete', '--force', id], baseEnv, rt.scratch);
  }
  cleanup();
  const anyFailed = Object.values(summary).some((v) => Object.values(v).some((r) => r && typeof r.failed === 'number' && r.failed > 0));
  process.exitCode = anyFailed ? 1 : 0;
}

function printTable(rows) {
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows) console.log(r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  '));
}

main();
