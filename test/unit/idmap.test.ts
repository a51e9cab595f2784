// Idmapped mounts without root: the config checks (runtime-spec config.md "mounts", runc's
// rules), and the runtime side (open_tree + mount_setattr) against the fake bindings.
// The config checks need `npm run build` first (validateSpec uses the generated validator).
import t from 'tap';
import * as fs from 'node:fs';
import { AT_EMPTY_PATH, AT_RECURSIVE, MOUNT_ATTR_IDMAP, O, OPEN_TREE_CLONE, useLibc } from '../../bindings';
import { FakeLibc } from '../../bindings/fake';
import { idmapPlan, mayHaveIdmappedMounts, openIdmappedMount } from '../../src/container/idmap';
import { ConfigError } from '../../src/errors';
import type { Mount, Spec } from '../../src/spec/types';
import { validateSpec } from '../../src/spec/validate';

const FILE = '/b/config.json';
const MAP = [{ containerID: 0, hostID: 100000, size: 65536 }];

function spec(mount: Mount, userns = false): Spec {
  return {
    ociVersion: '1.0.2',
    process: { args: ['sh'], cwd: '/', user: { uid: 0, gid: 0 } },
    root: { path: 'rootfs' },
    mounts: [{ destination: '/proc', type: 'proc', source: 'proc' }, mount],
    linux: {
      namespaces: [{ type: 'mount' }, ...(userns ? [{ type: 'user' as const }] : [])],
      ...(userns ? { uidMappings: MAP, gidMappings: MAP } : {}),
    },
  };
}

function refused(s: Spec): ConfigError {
  try {
    validateSpec(s, FILE);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

t.test('accepted idmapped mounts', async (t) => {
  const ok = (s: Spec, what: string) => t.doesNotThrow(() => validateSpec(s, FILE), what);
  ok(spec({ destination: '/d', type: 'bind', source: '/src', options: ['rbind', 'idmap'] }, true), 'idmap with the container\'s user namespace');
  ok(spec({ destination: '/d', source: '/src', options: ['rbind', 'ridmap'] }, true), 'ridmap with the container\'s user namespace');
  ok(spec({ destination: '/d', type: 'bind', source: '/src', options: ['bind', 'idmap'], uidMappings: MAP, gidMappings: MAP }), 'own mappings need no user namespace');
  ok(spec({ destination: '/d', type: 'bind', source: '/src', options: ['bind'], uidMappings: MAP, gidMappings: MAP }), 'mappings without idmap imply it (runc)');
});

t.test('refused idmapped mounts name the file, the JSON path and the value', async (t) => {
  const cases: Array<{ name: string; s: Spec; path: string; detail: RegExp }> = [
    { name: 'idmap on a tmpfs', s: spec({ destination: '/d', type: 'tmpfs', source: 'tmpfs', options: ['idmap'] }, true), path: '/mounts/1/options/0', detail: /found "idmap" on a mount of type "tmpfs": only bind mounts/ },
    { name: 'mappings on a tmpfs', s: spec({ destination: '/d', type: 'tmpfs', source: 'tmpfs', gidMappings: MAP, uidMappings: MAP }), path: '/mounts/1/uidMappings', detail: /found mappings on a mount of type "tmpfs"/ },
    { name: 'gidMappings alone', s: spec({ destination: '/d', type: 'bind', source: '/s', gidMappings: MAP }), path: '/mounts/1/uidMappings', detail: /found nothing, expected a non-empty list/ },
    { name: 'empty gidMappings', s: spec({ destination: '/d', type: 'bind', source: '/s', options: ['idmap'], uidMappings: MAP, gidMappings: [] }), path: '/mounts/1/gidMappings', detail: /found \[\]/ },
    { name: 'idmap without mappings nor user namespace', s: spec({ destination: '/d', type: 'bind', source: '/s', options: ['rbind', 'nosuid', 'ridmap'] }), path: '/mounts/1/options/2', detail: /found "ridmap" without uidMappings\/gidMappings .* user namespace/ },
  ];
  for (const c of cases) {
    const err = refused(c.s);
    t.equal(err.file, FILE, `${c.name}: file`);
    t.equal(err.jsonPath, c.path, `${c.name}: path`);
    t.match(err.detail, c.detail, `${c.name}: detail`);
    t.match(err.message, `${FILE}: ${c.path}: `, `${c.name}: message`);
  }
});

t.test('mayHaveIdmappedMounts reads the raw config leniently', async (t) => {
  t.ok(mayHaveIdmappedMounts({ mounts: [{ options: ['idmap'] }] }));
  t.ok(mayHaveIdmappedMounts({ mounts: [null, { uidMappings: 'nonsense' }] }), 'anything with mappings: the checks judge it');
  t.notOk(mayHaveIdmappedMounts({ mounts: [{ options: ['rbind'] }] }));
  t.notOk(mayHaveIdmappedMounts({ mounts: 'x' }));
  t.notOk(mayHaveIdmappedMounts(null));
});

/** open_tree hands out a real fd (of /dev/null), so that the code under test can close it. */
class FakeWithFds extends FakeLibc {
  opened: number[] = [];
  override openTree(...a: Parameters<FakeLibc['openTree']>): number {
    super.openTree(...a);
    const fd = fs.openSync('/dev/null', 'r');
    this.opened.push(fd);
    return fd;
  }
}

t.test('openIdmappedMount: open_tree(OPEN_TREE_CLONE [| AT_RECURSIVE]) then mount_setattr(MOUNT_ATTR_IDMAP)', async (t) => {
  const cases = [
    { options: ['bind', 'idmap'], tree: 0, attr: 0 },
    { options: ['rbind', 'idmap'], tree: AT_RECURSIVE, attr: 0 },
    { options: ['rbind', 'ridmap'], tree: AT_RECURSIVE, attr: AT_RECURSIVE },
    { options: ['bind', 'ridmap'], tree: 0, attr: AT_RECURSIVE },
  ];
  for (const c of cases) {
    const fake = new FakeWithFds();
    useLibc(fake);
    t.teardown(() => useLibc(undefined));
    const plan = idmapPlan({ destination: '/d', type: 'bind', source: 'data', options: c.options }, '/bundle');
    t.equal(plan.source, '/bundle/data', 'relative sources are relative to the bundle');
    const fd = openIdmappedMount(plan, 77);
    t.equal(fd, fake.opened[0], `${c.options.join(',')}: the open_tree fd`);
    t.same(fake.names(), ['openTree', 'mountSetattr']);
    t.same(fake.argsOf('openTree')[0], [-100, '/bundle/data', OPEN_TREE_CLONE | O.CLOEXEC | c.tree]);
    t.same(fake.argsOf('mountSetattr')[0], [fd, '', AT_EMPTY_PATH | c.attr, { attrSet: MOUNT_ATTR_IDMAP, usernsFd: 77 }]);
    fs.closeSync(fd);
  }
});

t.test('openIdmappedMount: errors name the call and errno, and close the tree', async (t) => {
  const fake = new FakeWithFds();
  useLibc(fake);
  t.teardown(() => useLibc(undefined));
  const plan = idmapPlan({ destination: '/d', source: '/src', options: ['rbind', 'idmap'] }, '/bundle');
  fake.failNext('mountSetattr', 'EINVAL');
  t.throws(() => openIdmappedMount(plan, 5), { message: /^mount_setattr fd \d+: invalid argument \(EINVAL\): the filesystem of \/src .* may not support idmapped mounts$/ });
  t.throws(() => fs.fstatSync(fake.opened[0]), { code: 'EBADF' }, 'the detached tree was closed');
  fake.failNext('mountSetattr', 'EPERM');
  t.throws(() => openIdmappedMount(plan, 5), { name: 'SysError', message: /^mount_setattr fd \d+: operation not permitted \(EPERM\)$/ });
  fake.failNext('openTree', 'ENOENT');
  t.throws(() => openIdmappedMount(plan, 5), { name: 'SysError', message: 'open_tree /src: no such file or directory (ENOENT)' });
  t.equal(fake.opened.length, 2, 'a failed open_tree opened nothing');
});
