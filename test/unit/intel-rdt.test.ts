// linux.intelRdt against a resctrl stand-in: a temp directory given as the mount point
// (this machine has no resctrl). The kernel makes a group's files (tasks, schemata,
// mon_groups) at mkdir and drops them at rmdir: the tests play that part where it matters.
import t, { Test } from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkIntelRdt, joinIntelRdt, removeIntelRdt, resctrlMount, ResctrlGroup, updateIntelRdt } from '../../src/container/intel-rdt';

function fakeResctrl(t: Test, info: string[] = ['L3', 'MB']): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-resctrl-'));
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  for (const name of info) fs.mkdirSync(path.join(root, 'info', name), { recursive: true });
  return root;
}

/** rmdir on resctrl drops the kernel's files: empty the directory as the kernel would. */
function kernelFilesGone(dir: string | undefined): void {
  if (!dir || !fs.existsSync(dir)) return;
  for (const name of fs.readdirSync(dir)) if (fs.statSync(path.join(dir, name)).isFile()) fs.rmSync(path.join(dir, name));
  fs.rmSync(path.join(dir, 'mon_groups'), { recursive: true, force: true });
}

t.test('resctrlMount finds the mount point in mountinfo (octal escapes decoded)', async (t) => {
  const info = [
    '22 1 0:21 / /proc rw,nosuid - proc proc rw',
    '40 22 0:35 / /sys/fs/res\\040ctrl rw,relatime shared:20 - resctrl resctrl rw',
  ].join('\n');
  t.equal(resctrlMount(info), '/sys/fs/res ctrl');
  t.equal(resctrlMount('22 1 0:21 / /proc rw,nosuid - proc proc rw\n'), undefined);
});

t.test('without closID: a group named after the container, schemata in order, the pid in tasks, removed at delete', async (t) => {
  const root = fakeResctrl(t);
  const rdt = { l3CacheSchema: 'L3:0=f', memBwSchema: 'MB:0=50', schemata: ['L2:0=3'], enableMonitoring: true };
  checkIntelRdt(rdt, 'ctr1', root);
  const noted: ResctrlGroup[] = [];
  const group = joinIntelRdt(rdt, 'ctr1', 4242, root, (g) => noted.push({ ...g }));
  const dir = path.join(root, 'ctr1');
  t.same(group, { dir, remove: true, monDir: path.join(dir, 'mon_groups', 'ctr1') });
  t.same(noted[0], { dir, remove: true }, 'noted for recovery before anything is written');
  t.equal(fs.readFileSync(path.join(dir, 'schemata'), 'utf8'), 'L3:0=f\nMB:0=50\nL2:0=3\n', 'l3CacheSchema, memBwSchema, then schemata');
  t.equal(fs.readFileSync(path.join(dir, 'tasks'), 'utf8'), '4242');
  t.equal(fs.readFileSync(path.join(dir, 'mon_groups', 'ctr1', 'tasks'), 'utf8'), '4242', 'enableMonitoring: a MON group named after the container');
  kernelFilesGone(group.monDir);
  kernelFilesGone(dir);
  removeIntelRdt(group);
  t.notOk(fs.existsSync(dir), 'the group tsrun made is removed');
  t.doesNotThrow(() => removeIntelRdt(group), 'gone already is fine');
});

t.test('a closID group stays at delete (made by tsrun or not); only its MON group goes', async (t) => {
  const root = fakeResctrl(t);
  const rdt = { closID: 'gold', schemata: ['L3:0=ff'], enableMonitoring: true };
  const group = joinIntelRdt(rdt, 'ctr2', 7, root, () => {});
  t.same(group, { dir: path.join(root, 'gold'), remove: false, monDir: path.join(root, 'gold', 'mon_groups', 'ctr2') });
  kernelFilesGone(group.monDir);
  removeIntelRdt(group);
  t.ok(fs.existsSync(path.join(root, 'gold')), 'the CTRL_MON group stays');
  t.notOk(fs.existsSync(group.monDir!), 'the MON group is removed');
});

t.test('closID "/" is the root group: never made nor removed', async (t) => {
  const root = fakeResctrl(t);
  const group = joinIntelRdt({ closID: '/' }, 'ctr3', 9, root, () => {});
  t.same(group, { dir: root, remove: false });
  t.equal(fs.readFileSync(path.join(root, 'tasks'), 'utf8'), '9');
  t.notOk(fs.existsSync(path.join(root, 'schemata')), 'no schema given: schemata untouched');
});

t.test('refused before anything is made', async (t) => {
  const root = fakeResctrl(t, []);
  const cases: Array<[object, RegExp]> = [
    [{ closID: '../x' }, /^linux\.intelRdt\.closID: "\.\.\/x" is not a resctrl group name/],
    [{ closID: '..' }, /^linux\.intelRdt\.closID: /],
    [{ l3CacheSchema: 'L3:0=f' }, /^linux\.intelRdt\.l3CacheSchema: .*no L3 cache allocation/],
    [{ memBwSchema: 'MB:0=20' }, /^linux\.intelRdt\.memBwSchema: .*no memory bandwidth allocation/],
    [{ schemata: ['L3:0=f\nMB:0=1'] }, /^linux\.intelRdt\.schemata\[0\]: .*newline/],
    [{ closID: 'absent' }, /^linux\.intelRdt\.closID: the resctrl group .*absent does not exist/],
  ];
  for (const [rdt, expect] of cases) t.throws(() => checkIntelRdt(rdt, 'ctr4', root), expect, JSON.stringify(rdt));
  t.same(fs.readdirSync(root), [], 'nothing made');
});

t.test('update --l3-cache-schema/--mem-bw-schema: runc\'s refusals, a group made when there is none, only the given lines written', async (t) => {
  t.throws(() => updateIntelRdt({}, { l3CacheSchema: 'L3:0=f' }, 'u1', 4242, undefined), /^Intel RDT\/CAT: l3 cache schema is not enabled$/, 'no resctrl: runc\'s words');
  const l3only = fakeResctrl(t, ['L3']);
  t.throws(() => updateIntelRdt({}, { memBwSchema: 'MB:0=50' }, 'u1', 4242, l3only), /^Intel RDT\/MBA: memory bandwidth schema is not enabled$/, 'no info/MB');
  t.notOk(fs.existsSync(path.join(l3only, 'u1')), 'nothing made by a refusal');

  const root = fakeResctrl(t);
  const made = updateIntelRdt({}, { l3CacheSchema: 'L3:0=f', memBwSchema: undefined }, 'u1', 4242, root);
  t.same(made.rdt, { l3CacheSchema: 'L3:0=f' }, 'the config gets the given schema only');
  t.same(made.group, { dir: path.join(root, 'u1'), remove: true }, 'a group named after the container, ours to remove');
  t.equal(fs.readFileSync(path.join(root, 'u1', 'tasks'), 'utf8'), '4242', 'the init joins it');

  const again = updateIntelRdt({ rdt: made.rdt, group: made.group }, { memBwSchema: 'MB:0=30' }, 'u1', 4242, root);
  t.same(again.rdt, { l3CacheSchema: 'L3:0=f', memBwSchema: 'MB:0=30' }, 'the earlier schema is kept in the config');
  t.equal(fs.readFileSync(path.join(root, 'u1', 'schemata'), 'utf8'), 'MB:0=30\n', 'only the new line is written (the kernel keeps the others)');
});
