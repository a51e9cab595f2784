// container/state: start times from /proc, status derived from facts, loading records.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TsrunError } from '../../src/errors';
import {
  Container,
  ContainerRecord,
  initAlive,
  inspectContainer,
  listState,
  loadContainer,
  loadRecovery,
  NoSuchContainer,
  ociState,
  saveRecord,
  statusOf,
} from '../../src/container/state';
import { startTime as processStartTime } from '../../src/procfs';
import type { Spec } from '../../src/spec/types';

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-unit-state-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The pid of a process that has exited and been reaped. */
function deadPid(): number {
  const r = spawnSync('/bin/true');
  if (!r.pid) throw new Error('could not run /bin/true');
  return r.pid;
}

const ownStartTime = (): string => {
  const stat = fs.readFileSync('/proc/self/stat', 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
};

function record(over: Partial<ContainerRecord> = {}): ContainerRecord {
  return {
    ociVersion: '1.2.0',
    id: 'c1',
    pid: process.pid,
    bundle: '/bundles/c1',
    rootfs: '/bundles/c1/rootfs',
    created: '2024-01-01T00:00:00.000Z',
    owner: 'root',
    annotations: { a: 'b' },
    initStartTime: ownStartTime(),
    config: { ociVersion: '1.2.0' } as Spec,
    ...over,
  };
}

t.test('processStartTime', async (t) => {
  const mine = processStartTime(process.pid);
  t.type(mine, 'string');
  t.match(mine, /^\d+$/, 'a number string');
  t.equal(mine, ownStartTime(), 'field 22 of /proc/self/stat');
  t.not(processStartTime(process.ppid), undefined, 'the parent is alive too');
  t.equal(processStartTime(deadPid()), undefined, 'a reaped pid');
  t.equal(processStartTime(0x3fffffff), undefined, 'a pid that cannot exist');
});

t.test('processStartTime: a command name with spaces and parentheses', async (t) => {
  // comm is set from argv[0]'s base name by exec: use a copy of sleep with an awkward name.
  const dir = tempDir(t);
  const odd = path.join(dir, 'a) b (c');
  fs.copyFileSync('/bin/sleep', odd);
  fs.chmodSync(odd, 0o755);
  const child = spawn(odd, ['5'], { stdio: 'ignore' });
  t.teardown(() => child.kill('SIGKILL'));
  await new Promise((resolve) => child.once('spawn', resolve));
  const comm = fs.readFileSync(`/proc/${child.pid}/comm`, 'utf8').trim();
  t.equal(comm, 'a) b (c', 'comm holds the awkward name');
  const start = processStartTime(child.pid!);
  t.match(start, /^\d+$/);
  const stat = fs.readFileSync(`/proc/${child.pid}/stat`, 'utf8');
  t.equal(start, stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
});

t.test('processStartTime: a zombie counts as gone', async (t) => {
  // python forks a child that exits at once and never reaps it (a shell might reap it).
  const child = spawn('python3', ['-c', 'import os, sys, time\npid = os.fork()\nif pid == 0: os._exit(0)\nprint(pid, flush=True)\ntime.sleep(5)'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  t.teardown(() => child.kill('SIGKILL'));
  const line: string = await new Promise((resolve) => child.stdout!.once('data', (d: Buffer) => resolve(d.toString())));
  const zombie = Number(line.trim());
  t.ok(zombie > 0, `background pid ${zombie}`);
  // Wait until `true` has exited.
  for (let i = 0; i < 200; i++) {
    const stat = fs.readFileSync(`/proc/${zombie}/stat`, 'utf8');
    if (stat.slice(stat.lastIndexOf(')') + 2)[0] === 'Z') break;
    await new Promise((r) => setTimeout(r, 10));
  }
  const stat = fs.readFileSync(`/proc/${zombie}/stat`, 'utf8');
  t.equal(stat.slice(stat.lastIndexOf(')') + 2)[0], 'Z', 'it is a zombie');
  t.equal(processStartTime(zombie), undefined);
  t.match(processStartTime(child.pid!), /^\d+$/, 'its parent is alive');
});

t.test('statusOf', async (t) => {
  const dir = tempDir(t);
  const c = (r?: ContainerRecord): Container => ({ id: 'c1', dir, record: r });

  t.equal(statusOf(c()), 'creating', 'no record yet');
  t.equal(statusOf(c(record({ pid: deadPid() }))), 'stopped', 'init gone');
  t.equal(statusOf(c(record({ pid: 0 }))), 'stopped', 'pid 0');
  t.equal(statusOf(c(record({ initStartTime: '1' }))), 'stopped', 'pid recycled: start time differs');
  t.equal(statusOf(c(record({ initStartTime: '' }))), 'stopped', 'empty start time');

  t.equal(statusOf(c(record())), 'running', 'live init, no exec.fifo');
  fs.writeFileSync(path.join(dir, 'exec.fifo'), '');
  t.equal(statusOf(c(record())), 'created', 'live init, exec.fifo present');
  t.equal(statusOf(c(record({ initStartTime: '1' }))), 'stopped', 'exec.fifo does not make a dead init alive');
  fs.rmSync(path.join(dir, 'exec.fifo'));
  t.equal(statusOf(c(record())), 'running', 'fifo removed by start');
});

t.test('initAlive', async (t) => {
  t.equal(initAlive(record()), true);
  t.equal(initAlive(record({ pid: -1 })), false);
  t.equal(initAlive(record({ pid: deadPid() })), false);
});

t.test('ociState', async (t) => {
  const dir = tempDir(t);
  const running = ociState({ id: 'c1', dir, record: record() });
  t.same(running, {
    ociVersion: '1.2.0', id: 'c1', pid: process.pid, status: 'running', bundle: '/bundles/c1',
    rootfs: '/bundles/c1/rootfs', created: '2024-01-01T00:00:00.000Z', owner: 'root', annotations: { a: 'b' },
  });
  t.equal(ociState({ id: 'c1', dir, record: record({ initStartTime: '1' }) }).pid, 0, 'stopped: pid 0');
  const creating = ociState({ id: 'c2', dir });
  t.equal(creating.status, 'creating');
  t.equal(creating.pid, 0);
  t.equal(creating.id, 'c2');
  t.same(creating.annotations, {});
});

t.test('loadContainer', async (t) => {
  const root = tempDir(t);

  t.test('no such container', async (t) => {
    const err = t.throws(() => loadContainer(root, 'nope')) as Error;
    t.type(err, NoSuchContainer);
    t.type(err, TsrunError);
    t.equal(err.message, 'container does not exist: nope');
    t.throws(() => loadContainer(path.join(root, 'missing-root'), 'x'), { message: 'container does not exist: x' }, 'root itself missing');
  });

  t.test('invalid id', async (t) => {
    t.throws(() => loadContainer(root, '../etc'), { name: 'TsrunError', message: /invalid container id/ });
  });

  t.test('directory without state.json: being created', async (t) => {
    fs.mkdirSync(path.join(root, 'new'));
    t.same(loadContainer(root, 'new'), { id: 'new', dir: path.join(root, 'new') });
    t.equal(statusOf(loadContainer(root, 'new')), 'creating');
  });

  t.test('saved record round-trips', async (t) => {
    const dir = path.join(root, 'saved');
    fs.mkdirSync(dir);
    const r = record({ id: 'saved' });
    saveRecord(dir, r);
    t.notOk(fs.existsSync(path.join(dir, 'state.json.tmp')), 'no temp file left');
    t.equal(fs.statSync(path.join(dir, 'state.json')).mode & 0o777, 0o600, 'state.json is private');
    const c = loadContainer(root, 'saved');
    t.equal(c.dir, dir);
    t.same(c.record, r);
    t.equal(statusOf(c), 'running');
  });

  t.test('corrupt state file', async (t) => {
    const dir = path.join(root, 'bad');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'state.json'), '{"id": "bad", ');
    t.throws(() => loadContainer(root, 'bad'), {
      name: 'TsrunError',
      message: `container bad is damaged: ${path.join(dir, 'state.json')} is not JSON; \`tsrun delete --force bad\` kills what is left of it and removes it`,
    });
  });

  t.test('unreadable state file: damaged, naming the error, not "does not exist"', async (t) => {
    const dir = path.join(root, 'isdir');
    fs.mkdirSync(path.join(dir, 'state.json'), { recursive: true });
    t.throws(() => loadContainer(root, 'isdir'), { name: 'TsrunError', message: /is damaged: .*state\.json: cannot be read \(EISDIR\)/ });
  });
});

t.test('inspectContainer: damaged states are reported, never thrown', async (t) => {
  const root = tempDir(t);
  const make = (id: string, state?: string, recovery?: unknown): Container => {
    const dir = path.join(root, id);
    fs.mkdirSync(dir);
    if (state !== undefined) fs.writeFileSync(path.join(dir, 'state.json'), state);
    if (recovery !== undefined) fs.writeFileSync(path.join(dir, 'recovery.json'), JSON.stringify(recovery));
    return inspectContainer(root, id);
  };
  const me = { pid: process.pid, start: ownStartTime() };
  const gone = { pid: deadPid(), start: '1' };
  t.match(make('empty', '').damaged, /state\.json is empty$/);
  t.match(make('null', 'null').damaged, /not a container record \(expected an object, found null\)/);
  t.match(make('obj', '{}').damaged, /\/id is missing/);
  t.match(make('other', JSON.stringify(record({ id: 'c1' }))).damaged, /\/id is "c1", expected "other"/);
  t.match(make('nopid', JSON.stringify({ ...record({ id: 'nopid' }), pid: 'x' })).damaged, /\/pid is not a process id/);
  t.match(make('noconfig', JSON.stringify({ ...record({ id: 'noconfig' }), config: null })).damaged, /\/config is not an object/);
  t.match(make('badcg', JSON.stringify({ ...record({ id: 'badcg' }), cgroup: { version: 1, dirs: { a: 'rel' }, created: [] } })).damaged, /\/cgroup/);
  const good = make('good', JSON.stringify(record({ id: 'good' })), { id: 'good', creator: gone, processes: [me], recorded: true });
  t.equal(good.damaged, undefined, 'a valid record');
  t.equal(good.recovery?.processes[0].pid, process.pid, 'with its recovery record');

  t.same(make('fresh'), { id: 'fresh', dir: path.join(root, 'fresh') }, 'nothing recorded yet: being created');
  t.equal(make('creating', undefined, { id: 'creating', creator: me, processes: [] }).damaged, undefined, 'creator alive: being created');
  t.match(make('interrupted', undefined, { id: 'interrupted', creator: gone, processes: [] }).damaged, /create \(pid \d+\) was interrupted/);
  t.match(make('lost', undefined, { id: 'lost', creator: me, processes: [], recorded: true }).damaged, /state\.json is missing/);
  const badRecovery = make('badrec', 'x', { id: 'badrec', creator: me, processes: [{ pid: 'x' }] });
  t.equal(badRecovery.recovery, undefined, 'an invalid recovery record is ignored');
  t.equal(make('wrongid', 'x', { id: 'someone-else', creator: me, processes: [] }).recovery, undefined, 'so is one of another id');

  t.throws(() => statusOf(badRecovery), { message: /damaged/ }, 'statusOf refuses a damaged container');
  const listed = listState(make('listed', '{', { id: 'listed', creator: gone, processes: [gone, me] }));
  t.equal(listed.status, 'damaged');
  t.equal(listed.pid, process.pid, 'list shows the pid of a recorded process still alive');
  t.equal(listState(good).status, 'running', 'a healthy container is listed with its OCI status');
  t.equal(loadRecovery(path.join(root, 'good'), 'good')?.recorded, true);
});
