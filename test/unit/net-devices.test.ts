// linux.netDevices without a kernel: the name rule (the kernel's dev_valid_name), which
// addresses move (permanent and global only, as the spec says), and the rtnetlink answers
// decoded from bytes laid out as the kernel sends them.
import t from 'tap';
import { IFA_F_PERMANENT, parseAddress, parseAttributes, RT_SCOPE_UNIVERSE } from '../../bindings/netlink';
import { addressesToMove } from '../../src/container/net-devices';
import { validNetDeviceName } from '../../src/spec/checks';

t.test('device names: 1 to 15 bytes, not "." or "..", no "/", ":" or white space', async (t) => {
  for (const ok of ['eth0', 'x', 'a'.repeat(15), 'veth%d', 'é'.repeat(7)]) t.ok(validNetDeviceName(ok), ok);
  for (const bad of ['', '.', '..', 'a/b', 'a:b', 'a b', 'a\tb', 'a'.repeat(16), 'é'.repeat(8)]) t.notOk(validNetDeviceName(bad), JSON.stringify(bad));
});

/** struct rtattr + data, padded to 4. */
function rtattr(type: number, data: Buffer): Buffer {
  const out = Buffer.alloc((4 + data.length + 3) & ~3);
  out.writeUInt16LE(4 + data.length, 0);
  out.writeUInt16LE(type, 2);
  data.copy(out, 4);
  return out;
}

/** struct ifaddrmsg + attributes: an RTM_NEWADDR payload. */
function ifaddr(family: number, prefix: number, flags: number, scope: number, index: number, attrs: Buffer[]): Buffer {
  const head = Buffer.from([family, prefix, flags, scope, 0, 0, 0, 0]);
  head.writeInt32LE(index, 4);
  return Buffer.concat([head, ...attrs]);
}

t.test('attributes: padding skipped, a truncated one ignored', async (t) => {
  const buf = Buffer.concat([rtattr(3, Buffer.from('eth9\0')), rtattr(28, Buffer.from([1, 0, 0, 0])), Buffer.from([8, 0, 1])]);
  const attrs = parseAttributes(buf);
  t.same([...attrs.keys()], [3, 28]);
  t.equal(attrs.get(3)!.toString(), 'eth9\0');
});

t.test('addresses: IPv4 and IPv6 decoded, IFA_FLAGS wins over the 8-bit flags; only permanent global ones move', async (t) => {
  const v4 = parseAddress(ifaddr(2, 24, IFA_F_PERMANENT, RT_SCOPE_UNIVERSE, 7, [
    rtattr(2, Buffer.from([192, 0, 2, 7])), rtattr(1, Buffer.from([192, 0, 2, 7])), rtattr(4, Buffer.from([192, 0, 2, 255])),
  ]));
  t.same({ ...v4, attributes: v4.attributes.map((a) => a.type) }, { family: 2, prefixLength: 24, index: 7, scope: 0, flags: IFA_F_PERMANENT, attributes: [2, 1, 4], text: '192.0.2.7/24' });
  const ip6 = Buffer.from('20010db8000000000000000000000001', 'hex');
  const wide = Buffer.alloc(4);
  wide.writeUInt32LE(IFA_F_PERMANENT | 0x100, 0);
  const v6 = parseAddress(ifaddr(10, 64, 0, RT_SCOPE_UNIVERSE, 7, [rtattr(1, ip6), rtattr(8, wide)]));
  t.equal(v6.text, '2001:0db8:0000:0000:0000:0000:0000:0001/64');
  t.equal(v6.flags, IFA_F_PERMANENT | 0x100, 'IFA_FLAGS (32 bits)');
  const linkLocal = parseAddress(ifaddr(10, 64, IFA_F_PERMANENT, 253, 7, [rtattr(1, ip6)]));
  const dynamic = parseAddress(ifaddr(2, 24, 0, RT_SCOPE_UNIVERSE, 7, [rtattr(2, Buffer.from([10, 0, 0, 5]))]));
  t.same(addressesToMove([v4, v6, linkLocal, dynamic]).map((a) => a.text), [v4.text, v6.text]);
});
