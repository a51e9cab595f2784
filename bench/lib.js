// Helpers shared by bench/bench.js and bench/parallel.js: locating runtimes, timing one
// command (optionally under GNU time for its peak RSS), waiting for a process to exit,
// statistics, tables and a scan for what containers left behind.
'use strict';

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const top = path.resolve(__dirname, '..');
const GNU_TIME = '/usr/bin/time';

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

function version(cmd, timeout) {
  const r = spawnSync(cmd[0], [...cmd.slice(1), '--version'], { encoding: 'utf8', timeout, stdio: ['ignore', 'pipe', 'pipe'] });
  return r.status === 0 ? r.stdout.trim().split('\n')[0] : `unknown (--version: status ${r.status})`;
}

/** GNU time (Debian package `time`) if installed: `-f %M` is the peak RSS in KiB. */
function gnuTime() {
  try {
    const r = spawnSync(GNU_TIME, ['-f', '%M', 'true'], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
    return r.status === 0 && /^\d+\s*$/.test(r.stderr) ? GNU_TIME : null;
  } catch {
    return null;
  }
}

function readSafe(p) {
  try {
    return fs.readFileSync(p, 'utf8');
  } catch {
    return '';
  }
}

const devnull = fs.openSync('/dev/null', 'r+');

/**
 * Run one command with stdio on files (a detached container inherits them; a pipe would
 * keep spawnSync waiting until the container exits). With opts.rss, the command runs under
 * GNU time and rssKB is its peak RSS (ru_maxrss from wait4: the command's own peak and
 * that of the children it reaped). Returns {ms, ok, why, err, out, rssKB}.
 */
function timed(cmd, args, env, scratch, timeout, opts = {}) {
  const errPath = path.join(scratch, 'stderr');
  const outPath = path.join(scratch, 'stdout');
  const rssPath = path.join(scratch, 'rss');
  const errFd = fs.openSync(errPath, 'w');
  const outFd = fs.openSync(outPath, 'w');
  let argv = [...cmd, ...args];
  if (opts.rss) argv = [opts.rss, '-f', '%M', '-o', rssPath, ...argv];
  const t0 = process.hrtime.bigint();
  const r = spawnSync(argv[0], argv.slice(1), { env, stdio: [devnull, outFd, errFd], timeout, killSignal: 'SIGKILL' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  fs.closeSync(errFd);
  fs.closeSync(outFd);
  const err = readSafe(errPath).trim();
  const out = readSafe(outPath);
  let why = '';
  if (r.error) why = r.error.code === 'ETIMEDOUT' ? `timed out after ${timeout} ms` : String(r.error.message);
  else if (r.status !== 0) why = `exit ${r.status ?? 'signal ' + r.signal}`;
  const res = { ms, ok: !why, why, err: err.split('\n').filter((l) => !/^Command (exited|terminated)/.test(l)).slice(-1)[0] || '', out };
  if (opts.rss) {
    // GNU time writes "Command exited with non-zero status N" before the value on failure.
    const m = /(\d+)\s*$/.exec(readSafe(rssPath));
    if (m) res.rssKB = Number(m[1]);
    fs.rmSync(rssPath, { force: true });
  }
  return res;
}

/** The state letter of a process ('' when gone). */
function procState(pid) {
  const stat = readSafe(`/proc/${pid}/stat`);
  return stat ? stat.charAt(stat.lastIndexOf(')') + 2) : '';
}
/** true once pid is gone or a zombie. */
function exited(pid) {
  const s = procState(pid);
  return s === '' || s === 'Z';
}

/** Peak RSS (VmHWM, KiB) of a live process, or null. */
function vmHWM(pid) {
  const m = /^VmHWM:\s+(\d+) kB/m.exec(readSafe(`/proc/${pid}/status`));
  return m ? Number(m[1]) : null;
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
function waitExit(pid, timeoutMs) {
  const t0 = process.hrtime.bigint();
  const end = Date.now() + timeoutMs;
  while (!exited(pid)) {
    if (Date.now() > end) return { ms: Number(process.hrtime.bigint() - t0) / 1e6, ok: false, why: `pid ${pid} still running after ${timeoutMs} ms` };
    Atomics.wait(sleeper, 0, 0, 1);
  }
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, ok: true };
}

const round = (x) => Math.round(x * 10) / 10;
function stats(xs) {
  xs = xs.filter((x) => typeof x === 'number' && Number.isFinite(x));
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  return { n: s.length, median: round(median), min: round(s[0]), max: round(s[s.length - 1]) };
}

/** Markdown table: rows[0] is the header. */
function markdownTable(rows) {
  const w = rows[0].map((_, i) => Math.max(3, ...rows.map((r) => String(r[i]).length)));
  const line = (r) => `| ${r.map((c, i) => String(c).padEnd(w[i])).join(' | ')} |`;
  return [line(rows[0]), `|${w.map((n) => '-'.repeat(n + 2)).join('|')}|`, ...rows.slice(1).map(line)].join('\n');
}

/** Directories under /sys/fs/cgroup (every hierarchy) whose name contains `needle`. */
function findCgroups(needle) {
  const found = [];
  const walk = (dir, depth) => {
    if (depth > 8) return;
    let entries;
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (!e.isDirectory()) continue; // also skips the v1 aliases (cpu -> cpu,cpuacct)
      const p = path.join(dir, e.name);
      if (e.name.includes(needle)) found.push(p);
      walk(p, depth + 1);
    }
  };
  walk('/sys/fs/cgroup', 0);
  return found;
}

/**
 * What containers whose ids contain `needle` left behind: state entries under `root`,
 * mounts, cgroup directories, live processes whose cgroup or cmdline names them.
 */
function leftovers(needle, root) {
  const out = [];
  let names = [];
  try {
    names = fs.readdirSync(root);
  } catch {
    /* no root */
  }
  for (const n of names) if (n.includes(needle)) out.push(`state: ${path.join(root, n)}`);
  for (const line of readSafe('/proc/self/mountinfo').split('\n')) if (line.includes(needle)) out.push(`mount: ${line}`);
  for (const cg of findCgroups(needle)) out.push(`cgroup: ${cg}`);
  let pids = [];
  try {
    pids = fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n) && Number(n) !== process.pid);
  } catch {
    /* no /proc */
  }
  for (const pid of pids) {
    if (exited(pid)) continue;
    const cmdline = readSafe(`/proc/${pid}/cmdline`).replace(/\0/g, ' ').trim();
    if (cmdline.includes(needle) || readSafe(`/proc/${pid}/cgroup`).includes(needle)) out.push(`process: ${pid} ${cmdline}`);
  }
  return out;
}

module.exports = { top, positiveInt, which, runtimeCommand, version, gnuTime, readSafe, devnull, timed, procState, exited, vmHWM, waitExit, stats, round, markdownTable, findCgroups, leftovers };
