// parseMountOptions: config.json mount options -> mount(2) flags, propagation, data string.
import t from 'tap';
import { MS } from '../../bindings/constants';
import { isBindMount, isIdmapped, KNOWN_MOUNT_OPTIONS, parseMountOptions } from '../../src/spec/mount-options';

t.test('no options', async (t) => {
  t.same(parseMountOptions(), { flags: 0, propagation: [], data: '' });
  t.same(parseMountOptions([]), { flags: 0, propagation: [], data: '' });
});

t.test('flag options set their MS_ bits', async (t) => {
  t.equal(parseMountOptions(['ro']).flags, MS.RDONLY);
  t.equal(parseMountOptions(['nosuid', 'nodev', 'noexec']).flags, MS.NOSUID | MS.NODEV | MS.NOEXEC);
  t.equal(parseMountOptions(['bind']).flags, MS.BIND);
  t.equal(parseMountOptions(['rbind']).flags, MS.BIND | MS.REC);
  t.equal(parseMountOptions(['strictatime', 'relatime', 'noatime']).flags, MS.STRICTATIME | MS.RELATIME | MS.NOATIME);
  t.equal(parseMountOptions(['nosymfollow', 'lazytime', 'sync', 'dirsync']).flags,
    MS.NOSYMFOLLOW | MS.LAZYTIME | MS.SYNCHRONOUS | MS.DIRSYNC);
  t.equal(parseMountOptions(['remount', 'silent', 'mand']).flags, MS.REMOUNT | MS.SILENT | MS.MANDLOCK);
  t.equal(parseMountOptions(['defaults']).flags, 0, 'defaults sets nothing');
  t.equal(parseMountOptions(['defaults']).data, '', 'defaults is not passed as data');
});

t.test('clearing options undo an earlier flag (the last one wins)', async (t) => {
  t.equal(parseMountOptions(['ro', 'rw']).flags, 0, 'rw after ro');
  t.equal(parseMountOptions(['rw', 'ro']).flags, MS.RDONLY, 'ro after rw');
  t.equal(parseMountOptions(['ro', 'rw', 'ro']).flags, MS.RDONLY);
  t.equal(parseMountOptions(['nosuid', 'nodev', 'suid']).flags, MS.NODEV, 'suid clears only nosuid');
  t.equal(parseMountOptions(['noexec', 'exec']).flags, 0);
  t.equal(parseMountOptions(['nodev', 'dev']).flags, 0);
  t.equal(parseMountOptions(['noatime', 'atime']).flags, 0);
  t.equal(parseMountOptions(['sync', 'async']).flags, 0);
  t.equal(parseMountOptions(['nosymfollow', 'symfollow']).flags, 0);
  t.equal(parseMountOptions(['rbind', 'ro', 'rw']).flags, MS.BIND | MS.REC, 'clearing ro keeps the bind flags');
  t.equal(parseMountOptions(['rw']).flags, 0, 'clearing an unset flag is harmless');
});

t.test('propagation options are listed in order, not or-ed into flags', async (t) => {
  const p = parseMountOptions(['rbind', 'rprivate', 'shared', 'rslave', 'unbindable', 'runbindable', 'private', 'slave', 'rshared']);
  t.equal(p.flags, MS.BIND | MS.REC);
  t.same(p.propagation, [
    MS.PRIVATE | MS.REC,
    MS.SHARED,
    MS.SLAVE | MS.REC,
    MS.UNBINDABLE,
    MS.UNBINDABLE | MS.REC,
    MS.PRIVATE,
    MS.SLAVE,
    MS.SHARED | MS.REC,
  ]);
  t.equal(p.data, '');
});

t.test('anything else goes to the data string, in order', async (t) => {
  const p = parseMountOptions(['nosuid', 'mode=755', 'strictatime', 'size=65536k', 'newinstance']);
  t.equal(p.flags, MS.NOSUID | MS.STRICTATIME);
  t.equal(p.data, 'mode=755,size=65536k,newinstance');
  t.same(p.propagation, []);
  t.equal(parseMountOptions(['uid=0', 'gid=5']).data, 'uid=0,gid=5');
});

t.test('idmap and ridmap mark an idmapped mount: no flag, no data', async (t) => {
  t.same(parseMountOptions(['rbind', 'idmap']), { flags: MS.BIND | MS.REC, propagation: [], data: '', idmap: 'idmap' });
  t.same(parseMountOptions(['ridmap', 'bind', 'ro']), { flags: MS.BIND | MS.RDONLY, propagation: [], data: '', idmap: 'ridmap' });
  t.equal(parseMountOptions(['idmap', 'ridmap']).idmap, 'ridmap', 'the last one wins');
  t.equal(parseMountOptions(['rbind']).idmap, undefined, 'absent without the options');
  t.notOk('idmap' in parseMountOptions(['rbind']), 'and not even a key (engines compare parsed options)');
});

t.test('isIdmapped: the options, or mappings of the mount\'s own (which imply idmap, as in runc)', async (t) => {
  const map = [{ containerID: 0, hostID: 1000, size: 1 }];
  t.ok(isIdmapped({ destination: '/a', options: ['rbind', 'idmap'] }));
  t.ok(isIdmapped({ destination: '/a', options: ['ridmap'] }));
  t.ok(isIdmapped({ destination: '/a', type: 'bind', uidMappings: map, gidMappings: map }));
  t.ok(isIdmapped({ destination: '/a', type: 'bind', uidMappings: [] }), 'an empty list still asks (and fails the checks)');
  t.notOk(isIdmapped({ destination: '/a', type: 'bind', options: ['rbind', 'ro'] }));
  t.notOk(isIdmapped({ destination: '/a' }));
});

t.test('isBindMount: type "bind" or a bind/rbind option', async (t) => {
  t.ok(isBindMount({ destination: '/a', type: 'bind' }));
  t.ok(isBindMount({ destination: '/a', type: 'none', options: ['rbind'] }));
  t.ok(isBindMount({ destination: '/a', options: ['bind', 'idmap'] }));
  t.notOk(isBindMount({ destination: '/a', type: 'tmpfs', options: ['idmap'] }));
});

t.test('tmpcopyup is parsed, not passed to mount(2) as data', async (t) => {
  t.same(parseMountOptions(['tmpcopyup', 'mode=755']), { flags: 0, propagation: [], data: 'mode=755', copyUp: true });
});

t.test('KNOWN_MOUNT_OPTIONS (what features reports) holds flags, propagation, idmap, recursive and tmpcopyup, not data', async (t) => {
  for (const o of ['ro', 'rw', 'rbind', 'bind', 'nosuid', 'rprivate', 'rslave', 'shared', 'idmap', 'ridmap', 'rro', 'ratime', 'tmpcopyup']) t.ok(KNOWN_MOUNT_OPTIONS.includes(o), o);
  for (const o of ['mode=755']) t.notOk(KNOWN_MOUNT_OPTIONS.includes(o), o);
});

// runtime-spec 1.1 recursive attributes: applied with mount_setattr(AT_RECURSIVE), as runc.
t.test('recursive mount attributes become set/clear masks, never data', async (t) => {
  t.same(parseMountOptions(['rbind', 'rro', 'rnosuid']).recursive, { set: 0x1 | 0x2, clr: 0 });
  t.same(parseMountOptions(['rro', 'rrw']).recursive, { set: 0, clr: 0x1 }, 'the later option wins');
  t.same(parseMountOptions(['rnoatime']).recursive, { set: 0x10, clr: 0x70 }, 'an atime mode replaces the whole mode');
  for (const option of ['rro', 'rrw', 'rnosuid', 'rnodev', 'rnoexec', 'rnoatime']) t.equal(parseMountOptions([option]).data, '', option);
});
