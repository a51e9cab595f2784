// Parallel load: N containers with distinct ids, each taken through create -> start ->
// wait for /bin/true to exit -> delete, all N chains started at once (the runtime's own
// locking and the machine's 2 cores decide how they interleave). Reports the wall time,
// containers per second, failures (step, reason) and whatever was left behind.
'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { devnull, exited, leftovers, readSafe } = require('./lib');

/** Runtime commands still running, with a promise of their end (see stopInFlight). */
const inFlight = new Map();

/** SIGKILL every command still running and wait for them: an interrupted bench then deletes what they made. */
function stopInFlight() {
  const ends = [...inFlight.entries()].map(([child, ended]) => {
    child.kill('SIGKILL');
    return ended;
  });
  return Promise.all(ends);
}

/** One runtime command, asynchronously; stderr to a file. Resolves {ok, why, err, ms}. */
function runAsync(cmd, args, env, errPath, timeout) {
  return new Promise((resolve) => {
    const errFd = fs.openSync(errPath, 'w');
    const t0 = process.hrtime.bigint();
    let child;
    try {
      child = spawn(cmd[0], [...cmd.slice(1), ...args], { env, stdio: [devnull, devnull, errFd] });
    } catch (e) {
      fs.closeSync(errFd);
      resolve({ ok: false, why: String(e.message), err: '', ms: 0 });
      return;
    }
    fs.closeSync(errFd);
    inFlight.set(child, new Promise((done) => child.once('close', done)));
    child.once('close', () => inFlight.delete(child));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeout);
    let spawnError = null;
    child.once('error', (e) => {
      spawnError = e;
    });
    child.once('close', (status, signal) => {
      clearTimeout(timer);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      let why = '';
      if (spawnError) why = String(spawnError.message);
      else if (timedOut) why = `timed out after ${timeout} ms`;
      else if (status !== 0) why = `exit ${status ?? 'signal ' + signal}`;
      const err = readSafe(errPath).trim().split('\n').slice(-1)[0] || '';
      resolve({ ok: !why, why, err, ms });
    });
  });
}

async function waitExitAsync(pid, timeoutMs) {
  const end = Date.now() + timeoutMs;
  while (!exited(pid)) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 5));
  }
  return true;
}

/**
 * rt: {name, cmd, trueBundle, root, scratch}. Returns {n, wallMs, perSecond, ok, failures,
 * leftBehind, cleanedUp}.
 */
async function parallelRound(rt, env, n, tag, timeout) {
  const dir = path.join(rt.scratch, `par-${tag}`);
  fs.mkdirSync(dir, { recursive: true });
  const prefix = `bp${tag}-${rt.name}-${process.pid}-`;
  const base = ['--root', rt.root];
  const failures = [];
  const chain = async (i) => {
    const id = `${prefix}${i}`;
    const errPath = path.join(dir, `${i}.err`);
    const pidFile = path.join(dir, `${i}.pid`);
    const fail = (step, r) => {
      failures.push({ id, step, why: r.why, err: r.err || '' });
      return false;
    };
    let r = await runAsync(rt.cmd, [...base, 'create', '--bundle', rt.trueBundle, '--pid-file', pidFile, id], env, errPath, timeout);
    if (!r.ok) return fail('create', r);
    const pid = Number(readSafe(pidFile).trim());
    if (!Number.isInteger(pid) || pid <= 0) return fail('create', { why: 'no pid in --pid-file' });
    r = await runAsync(rt.cmd, [...base, 'start', id], env, errPath, timeout);
    if (!r.ok) return fail('start', r);
    if (!(await waitExitAsync(pid, timeout))) return fail('wait', { why: `pid ${pid} still running after ${timeout} ms` });
    r = await runAsync(rt.cmd, [...base, 'delete', id], env, errPath, timeout);
    if (!r.ok) return fail('delete', r);
    return true;
  };
  const t0 = process.hrtime.bigint();
  const results = await Promise.all(Array.from({ length: n }, (_, i) => chain(i)));
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const ok = results.filter(Boolean).length;

  // Let the host's init reap the exited containers before looking for processes.
  await new Promise((r) => setTimeout(r, 200));
  const leftBehind = leftovers(prefix, rt.root);
  // Clean up after failures, so the next round and the next runtime start from nothing.
  let cleanedUp = true;
  if (leftBehind.length > 0) {
    for (let i = 0; i < n; i++) {
      if (fs.existsSync(path.join(rt.root, `${prefix}${i}`))) await runAsync(rt.cmd, [...base, 'delete', '--force', `${prefix}${i}`], env, path.join(dir, 'cleanup.err'), timeout);
    }
    await new Promise((r) => setTimeout(r, 200));
    cleanedUp = leftovers(prefix, rt.root).length === 0;
  }
  fs.rmSync(dir, { recursive: true, force: true });
  return { n, wallMs: Math.round(wallMs), perSecond: Math.round((ok / (wallMs / 1000)) * 10) / 10, ok, failures, leftBehind, cleanedUp };
}

module.exports = { parallelRound, stopInFlight };
