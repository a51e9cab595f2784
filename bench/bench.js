#!/usr/bin/env node
// Container life-cycle benchmark: tsrun against runc (and crun, where it runs).
//
//   sudo npm run bench            (BENCH_N=20 iterations by default, ~2-4 minutes)
//
// Every runtime gets its own --root and bundle (the busybox rootfs of
// scripts/make-rootfs.sh). In each iteration, for each environment variant (without and
// with NODE_EXTRA_CA_CERTS: engines pass their environment on to the runtime, and that
// variable costs every Node start-up; every runtime gets the same environment), the
// runtimes take turns (the order rotates every iteration) through:
//   floor   `node -e 0`                                   (the cost of a bare Node start)
//   cycle   create --pid-file F ID (/bin/true), state ID, start ID, wait for the pid of F
//           to exit, delete ID          full cycle = create + start + wait + delete
//   exec    create + start a container running `sleep 1000`, then
//           exec ID /bin/true, exec --process FILE ID (the same /bin/true, as engines
//           pass it), kill ID KILL, wait, delete
//   run     run --bundle B ID2 (/bin/true, in the foreground)
// Then a shorter pass (BENCH_RSS_N iterations, default 5) runs the same commands under
// GNU time (/usr/bin/time -f %M: ru_maxrss from wait4, i.e. the peak RSS of the command
// and of any child it reaped) and reads VmHWM of the container init right after create
// (the init is not tsrun's child: it is reparented when create exits). RSS is measured in
// that separate pass so that the timings do not include time's own fork and exec.
// Last, BENCH_PARALLEL (default 50) containers per runtime are created, started and
// deleted concurrently (bench/parallel.js), BENCH_PAR_ROUNDS times (default 2, runtimes
// alternating): wall time, throughput, failures, and a scan for anything left behind.
//
// Environment: BENCH_N (iterations, default 20), BENCH_RSS_N (default 5; 0 = skip),
// BENCH_PARALLEL (default 50; 0 = skip), BENCH_PAR_ROUNDS (default 2),
// BENCH_RUNTIMES (default "tsrun,runc,crun"; a runtime whose warm-up fails is reported and
// left out, e.g. crun on hybrid cgroup hosts), BENCH_TIMEOUT_MS (per command, default 30000),
// TSRUN_BIN (command for tsrun, default: dist/tsrun.js run directly, else `tsrun` on PATH),
// RUNC_BIN, CRUN_BIN.
// Writes bench/results/latest.json and prints markdown tables.
'use strict';

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const L = require('./lib');
const { parallelRound, stopInFlight } = require('./parallel');

const N = L.positiveInt(process.env.BENCH_N, 20);
const nonNegative = (s, d) => (s === '0' ? 0 : L.positiveInt(s, d));
const RSS_N = nonNegative(process.env.BENCH_RSS_N, 5);
const PAR = nonNegative(process.env.BENCH_PARALLEL, 50);
const PAR_ROUNDS = L.positiveInt(process.env.BENCH_PAR_ROUNDS, 2);
const TIMEOUT = L.positiveInt(process.env.BENCH_TIMEOUT_MS, 30000);
const WAIT_TIMEOUT = 10000;
const MAX_CONSECUTIVE_FAILURES = 3;
const CA_DEFAULT = '/etc/ssl/certs/ca-certificates.crt';
const REQUIRED = new Set(['tsrun', 'runc']);
/** Timed steps, in table order; "total" is the full cycle. */
const STEPS = ['create', 'start', 'state', 'kill', 'delete', 'total', 'run', 'exec', 'execp'];
const LABEL = {
  create: 'create',
  start: 'start',
  state: 'state',
  kill: 'kill',
  delete: 'delete',
  total: 'full cycle (create+start+wait+delete)',
  run: 'run (foreground /bin/true)',
  exec: 'exec ID /bin/true',
  execp: 'exec --process FILE ID (engines\' form)',
  init: 'container init after create (VmHWM)',
};

let seq = 0;
const nextId = (rt, what) => `bench-${rt.name}-${process.pid}-${++seq}${what}`;

/**
 * A cycle's samples: s (ms per step, with the paired floor), rss (KB per step); keep(step, r)
 * records a result, fail(step, r) deletes the container and returns the failure.
 */
function stepLog(rt, base, id, pidFile, env) {
  const s = {};
  const rss = {};
  const fail = (step, r) => {
    L.timed(rt.cmd, [...base, 'delete', '--force', id], env, rt.scratch, TIMEOUT);
    fs.rmSync(pidFile, { force: true });
    return { ok: false, step, why: r.why, err: r.err || '', s, rss };
  };
  const keep = (step, r) => {
    s[step] = r.ms;
    if (r.floorMs !== undefined) s[`${step}@floor`] = r.floorMs;
    if (r.rssKB !== undefined) rss[step] = r.rssKB;
  };
  return { s, rss, fail, keep };
}

/** create (/bin/true), state, start, wait, delete. */
function cycleTrue(rt, env, o) {
  const id = nextId(rt, '');
  const pidFile = path.join(rt.scratch, `${id}.pid`);
  const base = ['--root', rt.root];
  const t = (args) => pairedTimed(rt, [...base, ...args], env, o);
  const { s, rss, fail, keep } = stepLog(rt, base, id, pidFile, env);

  let r = t(['create', '--bundle', rt.trueBundle, '--pid-file', pidFile, id]);
  if (!r.ok) return fail('create', r);
  keep('create', r);
  const pid = Number(L.readSafe(pidFile).trim());
  if (!Number.isInteger(pid) || pid <= 0) return fail('create', { why: `no pid in --pid-file (${JSON.stringify(L.readSafe(pidFile))})` });
  if (o.rss) {
    const hwm = L.vmHWM(pid);
    if (hwm !== null) rss.init = hwm;
  }

  r = t(['state', id]);
  if (!r.ok) return fail('state', r);
  try {
    const st = JSON.parse(r.out);
    if (st.status !== 'created') return fail('state', { why: `status ${JSON.stringify(st.status)} after create, expected "created"` });
  } catch {
    return fail('state', { why: 'state output is not JSON' });
  }
  keep('state', r);

  r = t(['start', id]);
  if (!r.ok) return fail('start', r);
  keep('start', r);

  r = L.waitExit(pid, WAIT_TIMEOUT);
  if (!r.ok) return fail('wait', r);
  s.wait = r.ms;

  r = t(['delete', id]);
  if (!r.ok) return fail('delete', r);
  keep('delete', r);
  s.total = s.create + s.start + s.wait + s.delete;
  fs.rmSync(pidFile, { force: true });
  return { ok: true, s, rss };
}

/** create + start `sleep 1000`, exec /bin/true into it, kill KILL, wait, delete. */
function cycleExec(rt, env, o) {
  const id = nextId(rt, '-x');
  const pidFile = path.join(rt.scratch, `${id}.pid`);
  const base = ['--root', rt.root];
  const t = (args, measured) => (measured ? pairedTimed(rt, [...base, ...args], env, o) : L.timed(rt.cmd, [...base, ...args], env, rt.scratch, TIMEOUT));
  const { s, rss, fail, keep } = stepLog(rt, base, id, pidFile, env);
  let r = t(['create', '--bundle', rt.sleepBundle, '--pid-file', pidFile, id]);
  if (!r.ok) return fail('create (sleep)', r);
  const pid = Number(L.readSafe(pidFile).trim());
  if (!Number.isInteger(pid) || pid <= 0) return fail('create (sleep)', { why: 'no pid in --pid-file' });
  r = t(['start', id]);
  if (!r.ok) return fail('start (sleep)', r);
  r = t(['exec', id, '/bin/true'], true);
  if (!r.ok) return fail('exec', r);
  keep('exec', r);
  r = t(['exec', '--process', path.join(rt.sleepBundle, 'process.json'), id], true);
  if (!r.ok) return fail('exec --process', r);
  keep('execp', r);
  r = t(['kill', id, 'KILL'], true);
  if (!r.ok) return fail('kill', r);
  keep('kill', r);
  r = L.waitExit(pid, WAIT_TIMEOUT);
  if (!r.ok) return fail('wait (killed)', r);
  r = t(['delete', id]);
  if (!r.ok) return fail('delete (killed)', r);
  fs.rmSync(pidFile, { force: true });
  return { ok: true, s, rss };
}

/** Foreground run of /bin/true. */
function runOnce(rt, env, o) {
  const id = nextId(rt, '-run');
  const r = pairedTimed(rt, ['--root', rt.root, 'run', '--bundle', rt.trueBundle, id], env, o);
  if (!r.ok) {
    L.timed(rt.cmd, ['--root', rt.root, 'delete', '--force', id], env, rt.scratch, TIMEOUT);
    return { ok: false, step: 'run', why: r.why, err: r.err || '', s: {}, rss: {} };
  }
  const s = { run: r.ms };
  if (r.floorMs !== undefined) s['run@floor'] = r.floorMs;
  return { ok: true, s, rss: r.rssKB !== undefined ? { run: r.rssKB } : {} };
}

/**
 * One runtime command; with o.floor (timing pass, tsrun only), a `node -e 0` is timed just
 * before it, so that "tsrun - node" can be taken per pair, both measured under the same
 * load (floorMs).
 */
function pairedTimed(rt, args, env, o) {
  const floorMs = o.floor ? o.floor(env) : undefined;
  const r = L.timed(rt.cmd, args, env, rt.scratch, TIMEOUT, o);
  if (floorMs !== undefined) r.floorMs = floorMs;
  return r;
}

/** One iteration of everything for one runtime; merges samples, collects failures. */
function iteration(rt, env, o) {
  const s = {};
  const rss = {};
  const failures = [];
  for (const f of [cycleTrue, cycleExec, runOnce]) {
    const c = f(rt, env, o);
    Object.assign(s, c.s);
    Object.assign(rss, c.rss);
    if (!c.ok) failures.push({ step: c.step, why: c.why, err: c.err });
  }
  return { s, rss, failures };
}

function mkRuntimeDirs(work, name, cmd, trueConfig, sleepConfig) {
  const dir = path.join(work, name);
  const rt = { name, cmd, version: L.version(cmd, TIMEOUT), root: path.join(dir, 'root'), scratch: path.join(dir, 'scratch'), trueBundle: path.join(dir, 'true'), sleepBundle: path.join(dir, 'sleep') };
  for (const d of [rt.root, rt.scratch, rt.trueBundle, rt.sleepBundle]) fs.mkdirSync(d, { recursive: true });
  fs.writeFileSync(path.join(rt.trueBundle, 'config.json'), JSON.stringify(trueConfig, null, 2));
  fs.writeFileSync(path.join(rt.sleepBundle, 'config.json'), JSON.stringify(sleepConfig, null, 2));
  fs.writeFileSync(path.join(rt.sleepBundle, 'process.json'), JSON.stringify({ ...sleepConfig.process, args: ['/bin/true'] }, null, 2));
  return rt;
}

const loadavg = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');
const fmt = (st) => (st ? `${st.median.toFixed(1)} (${st.min.toFixed(1)}–${st.max.toFixed(1)})` : '-');
const mb = (kb) => (kb === null || kb === undefined ? '-' : (kb / 1024).toFixed(1));
const fmtRss = (st) => (st ? (st.min === st.max ? mb(st.median) : `${mb(st.median)} (${mb(st.min)}–${mb(st.max)})`) : '-');

async function main() {
  if (process.getuid && process.getuid() !== 0) {
    console.error('bench: containers need root; run: sudo npm run bench');
    process.exit(1);
  }
  const t0 = Date.now();
  const loadStart = loadavg();
  const names = (process.env.BENCH_RUNTIMES || 'tsrun,runc,crun').split(',').map((s) => s.trim()).filter(Boolean);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-bench-'));
  const ca = process.env.NODE_EXTRA_CA_CERTS || (fs.existsSync(CA_DEFAULT) ? CA_DEFAULT : '');
  const cleanEnv = { ...process.env };
  delete cleanEnv.NODE_EXTRA_CA_CERTS;
  delete cleanEnv.NODE_OPTIONS;
  const runtimes = [];
  const unavailable = {};
  let cleaned = false;
  const cleanup = () => {
    if (cleaned) return;
    cleaned = true;
    // force-delete anything a failure left, then remove the work dir
    for (const rt of runtimes) {
      let ids = [];
      try {
        ids = fs.readdirSync(rt.root);
      } catch {
        /* none */
      }
      for (const id of ids) L.timed(rt.cmd, ['--root', rt.root, 'delete', '--force', id], cleanEnv, rt.scratch, TIMEOUT);
    }
    fs.rmSync(work, { recursive: true, force: true });
  };
  // Interrupted (Ctrl-C, kill, a closed terminal): containers made so far are deleted too.
  for (const [sig, n] of [['SIGINT', 2], ['SIGTERM', 15], ['SIGHUP', 1]]) {
    process.on(sig, async () => {
      await stopInFlight(); // commands of a parallel round: what they made is deleted below
      cleanup();
      process.exit(128 + n);
    });
  }

  const rootfs = path.join(work, 'rootfs');
  const mk = spawnSync('bash', [path.join(L.top, 'scripts', 'make-rootfs.sh'), rootfs], { encoding: 'utf8', timeout: 60000 });
  if (mk.status !== 0) {
    console.error(`bench: make-rootfs.sh failed: ${(mk.stderr || '').trim() || mk.error}`);
    cleanup();
    process.exit(1);
  }
  const trueConfig = JSON.parse(fs.readFileSync(path.join(L.top, 'examples', 'hello-world', 'config.json'), 'utf8'));
  trueConfig.process.args = ['/bin/true'];
  trueConfig.root = { path: rootfs, readonly: false };
  const sleepConfig = JSON.parse(JSON.stringify(trueConfig));
  sleepConfig.process.args = ['/bin/sleep', '1000'];

  const variants = [{ key: 'clean', name: 'without NODE_EXTRA_CA_CERTS', env: cleanEnv }];
  if (ca) variants.push({ key: 'ca', name: `with NODE_EXTRA_CA_CERTS=${ca}`, env: { ...cleanEnv, NODE_EXTRA_CA_CERTS: ca } });

  const nodeBin = L.which('node') || process.execPath;
  const floorCmd = [nodeBin, '-e', '0'];
  const floorScratch = path.join(work, 'node');
  fs.mkdirSync(floorScratch);
  const rssTool = L.gnuTime();
  if (!rssTool && RSS_N > 0) console.log('bench: /usr/bin/time (GNU time) not found: peak RSS not measured (apt-get install time)');

  // Runtimes, each with one warm-up iteration (page cache, first-run costs). A runtime
  // whose warm-up fails is left out and reported (crun refuses hybrid cgroup hosts).
  for (const name of names) {
    const { cmd, why } = L.runtimeCommand(name);
    if (!cmd) {
      unavailable[name] = why;
      continue;
    }
    const rt = mkRuntimeDirs(work, name, cmd, trueConfig, sleepConfig);
    runtimes.push(rt);
    const w = iteration(rt, cleanEnv, {});
    if (w.failures.length > 0) {
      const f = w.failures[0];
      unavailable[name] = `warm-up failed: ${f.step}: ${f.why}${f.err ? ': ' + f.err : ''}`;
    }
  }
  for (const [name, why] of Object.entries(unavailable)) console.log(`${name}: not benchmarked: ${why}`);
  const active = runtimes.filter((rt) => !unavailable[rt.name]);
  if (active.length === 0) {
    console.error('bench: no runtime to benchmark');
    cleanup();
    process.exit(1);
  }
  L.timed(floorCmd, [], cleanEnv, floorScratch, TIMEOUT);
  let floorSink = null;
  const pairFloor = (env) => {
    const f = L.timed(floorCmd, [], env, floorScratch, TIMEOUT);
    if (!f.ok) return undefined;
    if (floorSink) floorSink.push(f.ms);
    return f.ms;
  };
  console.log(`bench: ${N} iterations, ${RSS_N} RSS iterations, ${PAR}x${PAR_ROUNDS} parallel; ${active.map((r) => `${r.name} (${r.version})`).join(', ')}; node ${process.version}; load ${loadStart}`);

  // timed iterations
  const res = {};
  for (const v of variants) {
    res[v.key] = { floor: [], rt: {} };
    for (const rt of active) res[v.key].rt[rt.name] = { samples: [], failures: [], consecutive: 0, disabled: false };
  }
  for (let i = 0; i < N; i++) {
    for (const v of variants) {
      floorSink = res[v.key].floor;
      const f = L.timed(floorCmd, [], v.env, floorScratch, TIMEOUT);
      if (f.ok) res[v.key].floor.push(f.ms);
      for (let k = 0; k < active.length; k++) {
        const rt = active[(i + k) % active.length];
        const r = res[v.key].rt[rt.name];
        if (r.disabled) continue;
        const it = iteration(rt, v.env, rt.name === 'tsrun' ? { floor: pairFloor } : {});
        r.samples.push(it.s);
        for (const fl of it.failures) r.failures.push({ iteration: i + 1, ...fl });
        r.consecutive = it.failures.length ? r.consecutive + 1 : 0;
        if (r.consecutive >= MAX_CONSECUTIVE_FAILURES) {
          r.disabled = true;
          const fl = it.failures[0];
          console.log(`\n${rt.name} (${v.name}): failures in ${r.consecutive} iterations in a row, giving up on it: ${fl.step}: ${fl.why}${fl.err ? ': ' + fl.err : ''}`);
        }
      }
    }
    process.stdout.write(`\riteration ${i + 1}/${N}`);
  }
  process.stdout.write('\n');

  // peak RSS pass (clean environment)
  const rss = { floor: [], rt: Object.fromEntries(active.map((rt) => [rt.name, { samples: [], failures: [] }])) };
  if (rssTool) {
    for (let i = 0; i < RSS_N; i++) {
      const f = L.timed(floorCmd, [], cleanEnv, floorScratch, TIMEOUT, { rss: rssTool });
      if (f.rssKB !== undefined) rss.floor.push(f.rssKB);
      for (let k = 0; k < active.length; k++) {
        const rt = active[(i + k) % active.length];
        const it = iteration(rt, cleanEnv, { rss: rssTool });
        rss.rt[rt.name].samples.push(it.rss);
        for (const fl of it.failures) rss.rt[rt.name].failures.push({ iteration: i + 1, ...fl });
      }
      process.stdout.write(`\rRSS iteration ${i + 1}/${RSS_N}`);
    }
    if (RSS_N > 0) process.stdout.write('\n');
  }

  // parallel load
  const parallel = Object.fromEntries(active.map((rt) => [rt.name, []]));
  if (PAR > 0) {
    for (let round = 0; round < PAR_ROUNDS; round++) {
      for (let k = 0; k < active.length; k++) {
        const rt = active[(round + k) % active.length];
        process.stdout.write(`\rparallel round ${round + 1}/${PAR_ROUNDS}: ${rt.name}    `);
        parallel[rt.name].push(await parallelRound(rt, cleanEnv, PAR, String(round), TIMEOUT));
      }
    }
    process.stdout.write('\n');
  }
  const loadEnd = loadavg();
  const build = buildInfo(active.find((r) => r.name === 'tsrun'));

  // summaries
  const summary = {};
  for (const v of variants) {
    const sv = { floor: L.stats(res[v.key].floor), runtimes: {} };
    for (const rt of active) {
      const r = res[v.key].rt[rt.name];
      const steps = {};
      for (const st of [...STEPS, 'wait']) steps[st] = L.stats(r.samples.map((x) => x[st]));
      sv.runtimes[rt.name] = { iterations: r.samples.length, failed: r.failures.length, gaveUp: r.disabled, steps };
    }
    const ref = sv.runtimes.runc;
    for (const rt of active) {
      if (rt.name === 'runc' || !ref) continue;
      const ratio = {};
      for (const st of STEPS) {
        const a = sv.runtimes[rt.name].steps[st];
        const b = ref.steps[st];
        if (a && b && b.median > 0) ratio[st] = Math.round((a.median / b.median) * 100) / 100;
      }
      sv[`ratio ${rt.name}/runc`] = ratio;
    }
    if (sv.floor && sv.runtimes.tsrun) {
      // per step: the median of (command - the node -e 0 timed just before it); for the
      // full cycle (no single pair), median minus median. Also min minus min.
      const samples = res[v.key].rt.tsrun.samples;
      const delta = {};
      const minDelta = {};
      for (const st of STEPS) {
        const ts = sv.runtimes.tsrun.steps[st];
        if (!ts) continue;
        const pairs = L.stats(samples.filter((x) => x[st] !== undefined && x[`${st}@floor`] !== undefined).map((x) => x[st] - x[`${st}@floor`]));
        delta[st] = pairs ? pairs.median : L.round(ts.median - sv.floor.median);
        minDelta[st] = L.round(ts.min - sv.floor.min);
      }
      sv['tsrun minus node floor (ms, median of paired differences)'] = delta;
      sv['tsrun minus node floor (ms, min minus min)'] = minDelta;
    }
    summary[v.key] = sv;
  }
  const rssSummary = { floor: L.stats(rss.floor), runtimes: {} };
  for (const rt of active) {
    const keys = ['create', 'start', 'state', 'kill', 'delete', 'run', 'exec', 'execp', 'init'];
    rssSummary.runtimes[rt.name] = { failed: rss.rt[rt.name].failures.length, kb: Object.fromEntries(keys.map((k) => [k, L.stats(rss.rt[rt.name].samples.map((x) => x[k]))])) };
  }

  // tables
  const out = [];
  const when = new Date();
  out.push(`### tsrun vs ${active.filter((r) => r.name !== 'tsrun').map((r) => r.name).join(', ')}: ${when.toISOString().slice(0, 16).replace('T', ' ')} UTC`);
  out.push('');
  out.push(`${os.cpus().length} CPUs (${os.cpus()[0] ? os.cpus()[0].model.trim() : '?'}), Linux ${os.release()}, node ${process.version}, ${active.map((r) => `${r.name} ${r.version.replace(/^.*version /, '')}`).join(', ')}; BENCH_N=${N}, RSS over ${rssTool ? RSS_N : 0} runs, ${PAR} parallel x ${PAR_ROUNDS}; load average ${loadStart} at start, ${loadEnd} at end. ms: median (min–max).`);
  if (build) out.push(`tsrun: ${build}.`);
  for (const [name, why] of Object.entries(unavailable)) out.push(`Not benchmarked: ${name}: ${why}.`);
  for (const v of variants) {
    const sv = summary[v.key];
    const withRss = v.key === 'clean';
    const others = active.filter((r) => r.name !== 'runc' && sv.runtimes.runc);
    const header = ['command', ...active.map((r) => `${r.name} ms`), ...others.map((r) => `${r.name}/runc`)];
    if (sv.runtimes.tsrun && sv.floor) header.push('tsrun − node (paired)');
    if (withRss && rssTool) header.push(...active.map((r) => `${r.name} peak RSS MB`));
    const rows = [header];
    const floorRow = ['`node -e 0` (floor)', ...active.map((r) => (r.name === 'tsrun' ? fmt(sv.floor) : '')), ...others.map(() => '')];
    if (sv.runtimes.tsrun && sv.floor) floorRow.push('0');
    if (withRss && rssTool) floorRow.push(...active.map((r) => (r.name === 'tsrun' ? fmtRss(rssSummary.floor) : '')));
    rows.push(floorRow);
    for (const st of [...STEPS, ...(withRss && rssTool ? ['init'] : [])]) {
      const row = [LABEL[st], ...active.map((r) => (st === 'init' ? '' : fmt(sv.runtimes[r.name].steps[st]))), ...others.map((r) => (st === 'init' ? '' : sv[`ratio ${r.name}/runc`][st] !== undefined ? `${sv[`ratio ${r.name}/runc`][st].toFixed(2)}x` : '-'))];
      if (sv.runtimes.tsrun && sv.floor) row.push(st === 'init' || !sv.runtimes.tsrun.steps[st] ? '' : `${sv['tsrun minus node floor (ms, median of paired differences)'][st] >= 0 ? '+' : ''}${sv['tsrun minus node floor (ms, median of paired differences)'][st].toFixed(1)}`);
      if (withRss && rssTool) row.push(...active.map((r) => (st === 'total' ? '' : fmtRss(rssSummary.runtimes[r.name].kb[st]))));
      rows.push(row);
    }
    out.push('');
    out.push(`Environment ${v.name}${v.key === 'clean' ? '' : ' (tsrun − node: against `node -e 0` in this environment; tsrun\'s shebang drops the variable)'}:`);
    out.push('');
    out.push(L.markdownTable(rows));
  }
  if (PAR > 0) {
    out.push('');
    out.push(`${PAR} containers created, started (/bin/true), waited for and deleted concurrently, per round:`);
    out.push('');
    const rows = [['runtime', 'round', 'ok', 'failed', 'wall s', 'containers/s', 'left behind']];
    for (const rt of active) {
      parallel[rt.name].forEach((p, i) => rows.push([rt.name, String(i + 1), `${p.ok}/${p.n}`, String(p.failures.length), (p.wallMs / 1000).toFixed(2), p.perSecond.toFixed(1), p.leftBehind.length ? `${p.leftBehind.length}${p.cleanedUp ? '' : ' (not cleaned up!)'}` : 'nothing']));
    }
    out.push(L.markdownTable(rows));
  }

  // the numbers issue 13 asks for
  const targets = [];
  const sc = summary.clean;
  const ts = sc.runtimes.tsrun;
  if (ts && sc.runtimes.runc && sc['ratio tsrun/runc'].total !== undefined) {
    const x = sc['ratio tsrun/runc'].total;
    targets.push({ target: 'full cycle <= 2.5x runc', value: `${x.toFixed(2)}x (${ts.steps.total.median.toFixed(1)} vs ${sc.runtimes.runc.steps.total.median.toFixed(1)} ms)`, holds: x <= 2.5 });
  }
  if (ts && sc.floor) {
    for (const st of ['start', 'state', 'kill', 'delete']) {
      if (!ts.steps[st]) continue;
      const d = sc['tsrun minus node floor (ms, median of paired differences)'][st];
      const m = sc['tsrun minus node floor (ms, min minus min)'][st];
      const sign = (x) => `${x >= 0 ? '+' : ''}${x.toFixed(1)}`;
      targets.push({ target: `${st} within 10 ms of node -e 0`, value: `${sign(d)} ms (median of paired differences; min ${ts.steps[st].min.toFixed(1)} vs ${sc.floor.min.toFixed(1)} ms: ${sign(m)})`, holds: d <= 10 });
    }
  }
  if (rssTool && rssSummary.runtimes.tsrun) {
    let worst = null;
    const kb = rssSummary.runtimes.tsrun.kb;
    for (const [k, st] of Object.entries(kb)) if (st && k !== 'init' && (!worst || st.max > worst.kb)) worst = { k, kb: st.max };
    if (worst) targets.push({ target: 'peak RSS of any tsrun process <= 60 MB', value: `max ${mb(worst.kb)} MB (${LABEL[worst.k] || worst.k})`, holds: worst.kb <= 60 * 1024 });
    if (kb.init) targets.push({ target: 'created container (its waiting init) <= 10 MB', value: `max ${mb(kb.init.max)} MB`, holds: kb.init.max <= 10 * 1024 });
  }
  if (PAR > 0 && parallel.tsrun) {
    const bad = parallel.tsrun.filter((p) => p.failures.length || p.leftBehind.length);
    targets.push({ target: `${PAR} parallel containers all succeed, nothing left`, value: parallel.tsrun.map((p) => `${p.ok}/${p.n} ok, ${p.leftBehind.length} left`).join('; '), holds: bad.length === 0 });
    const rate = (rt) => parallel[rt].reduce((sum, p) => sum + p.perSecond, 0) / parallel[rt].length;
    if (parallel.runc?.length) {
      const x = rate('tsrun') / rate('runc');
      targets.push({ target: `${PAR} parallel cycles: containers/s >= 0.5x runc's`, value: `${x.toFixed(2)}x (${rate('tsrun').toFixed(1)} vs ${rate('runc').toFixed(1)} per second, mean of rounds)`, holds: x >= 0.5 });
    }
  }
  if (targets.length) {
    out.push('');
    out.push('Targets of issue 13 (environment without NODE_EXTRA_CA_CERTS; engines: ENGINE_BENCH_N=8 npx tap -j1 test/engines):');
    out.push('');
    for (const t of targets) out.push(`- ${t.holds ? 'holds' : 'does NOT hold'}: ${t.target}: ${t.value}`);
  }

  // failures
  const failLines = [];
  let requiredFailed = false;
  const failLine = (rt, text) => {
    failLines.push(`${rt.name} ${text}`);
    if (REQUIRED.has(rt.name)) requiredFailed = true;
  };
  for (const v of variants) {
    for (const rt of active) {
      const f = res[v.key].rt[rt.name].failures;
      if (f.length) failLine(rt, `(${v.name}): ${summarizeFailures(f)}`);
    }
  }
  for (const rt of active) {
    if (rss.rt[rt.name].failures.length) failLine(rt, `(RSS pass): ${summarizeFailures(rss.rt[rt.name].failures)}`);
    for (const p of parallel[rt.name]) {
      if (p.failures.length) failLine(rt, `(parallel): ${summarizeFailures(p.failures)}`);
      if (p.leftBehind.length) failLine(rt, `(parallel) left behind: ${p.leftBehind.slice(0, 5).join('; ')}${p.leftBehind.length > 5 ? ` and ${p.leftBehind.length - 5} more` : ''}`);
    }
  }
  if (failLines.length) {
    out.push('');
    out.push('Failures:');
    out.push('');
    for (const l of failLines) out.push(`- ${l}`);
  }
  out.push('');
  out.push(`Reproduce (as root): \`BENCH_N=${N} npm run bench\` (took ${Math.round((Date.now() - t0) / 1000)} s).`);
  console.log('\n' + out.join('\n'));

  const json = {
    date: when.toISOString(),
    durationS: Math.round((Date.now() - t0) / 1000),
    host: { kernel: os.release(), cpus: os.cpus().length, cpu: os.cpus()[0] ? os.cpus()[0].model : 'unknown', node: process.version, loadavgStart: loadStart, loadavgEnd: loadEnd },
    iterations: N,
    rssIterations: rssTool ? RSS_N : 0,
    rssMethod: rssTool ? `${rssTool} -f %M (ru_maxrss from wait4, KiB); container init: VmHWM from /proc/PID/status right after create` : 'not measured: GNU time missing',
    parallel: { containers: PAR, rounds: PAR_ROUNDS },
    timeoutMs: TIMEOUT,
    floorCommand: floorCmd.join(' '),
    tsrunBuild: build,
    runtimes: Object.fromEntries(runtimes.map((r) => [r.name, { command: r.cmd.join(' '), version: r.version }])),
    unavailable,
    summary,
    rss: rssSummary,
    parallelResults: parallel,
    targets,
    table: out.join('\n'),
    samples: {
      timings: Object.fromEntries(variants.map((v) => [v.key, { env: v.name, floor: res[v.key].floor, ...Object.fromEntries(active.map((r) => [r.name, { samples: res[v.key].rt[r.name].samples, failures: res[v.key].rt[r.name].failures }])) }])),
      rssKB: rss,
    },
  };
  const resultsDir = path.join(__dirname, 'results');
  fs.mkdirSync(resultsDir, { recursive: true });
  fs.writeFileSync(path.join(resultsDir, 'latest.json'), JSON.stringify(json, null, 2) + '\n');
  console.log(`wrote ${path.relative(process.cwd(), path.join(resultsDir, 'latest.json')) || 'bench/results/latest.json'}`);

  cleanup();
  const requiredMissing = names.some((n) => REQUIRED.has(n) && unavailable[n]);
  process.exitCode = requiredMissing || requiredFailed ? 1 : 0;
}

/** Which tsrun was measured: the build time of its file and the checkout's commit. */
function buildInfo(rt) {
  if (!rt) return null;
  let file = rt.cmd[rt.cmd.length - 1];
  if (!file.includes('/')) file = L.which(file) || file;
  let built = '';
  try {
    built = `${path.relative(L.top, fs.realpathSync(file)) || file} built ${fs.statSync(file).mtime.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  } catch {
    built = rt.cmd.join(' ');
  }
  const git = (args) => spawnSync('git', ['-C', L.top, ...args], { encoding: 'utf8' });
  const head = git(['rev-parse', '--short', 'HEAD']);
  if (head.status !== 0) return built;
  const dirty = git(['status', '--porcelain', '--', 'src', 'bindings', 'scripts']).stdout.trim() !== '';
  return `${built}, checkout at ${head.stdout.trim()}${dirty ? ' with uncommitted changes in src/bindings/scripts' : ''}`;
}

function summarizeFailures(f) {
  const seen = new Map();
  for (const x of f) {
    const key = `${x.step}: ${x.why}${x.err ? ': ' + x.err : ''}`;
    seen.set(key, (seen.get(key) || 0) + 1);
  }
  return [...seen].map(([k, n]) => `${n}x ${k}`).join('; ');
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
