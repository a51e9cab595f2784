// rtnetlink (NETLINK_ROUTE): the few link and address operations linux.netDevices needs.
// A socket talks to the network namespace of the thread that opened it; one request at a
// time, each acknowledged (NLM_F_ACK) or ended by NLMSG_DONE (dumps). The messages are
// plain byte buffers: struct nlmsghdr, ifinfomsg, ifaddrmsg and rtattr of <linux/netlink.h>
// and <linux/rtnetlink.h>, the same on every Linux architecture (host byte order, LE here).
import { calloc, checked, free, libcCall, sysError, T, u8, view } from './c';
import { SOCK_CLOEXEC } from './tty';
import { SysError } from './types';

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const NETLINK_ROUTE = 0;

const NLM_F_REQUEST = 0x1;
const NLM_F_ACK = 0x4;
const NLM_F_DUMP = 0x300;
const NLM_F_EXCL = 0x200;
const NLM_F_CREATE = 0x400;
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;

const RTM_NEWLINK = 16;
const RTM_GETLINK = 18;
const RTM_NEWADDR = 20;
const RTM_GETADDR = 22;

const IFLA_IFNAME = 3;
const IFLA_NET_NS_FD = 28;
export const IFF_UP = 0x1;

const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const IFA_BROADCAST = 4;
const IFA_FLAGS = 8;
export const IFA_F_PERMANENT = 0x80;
export const RT_SCOPE_UNIVERSE = 0;

const HDR = 16; // struct nlmsghdr
const IFINFO = 16; // struct ifinfomsg
const IFADDR = 8; // struct ifaddrmsg
const RECV_SIZE = 64 * 1024;

export interface Link {
  index: number;
  name: string;
  /** IFF_* flags. */
  flags: number;
}

export interface Address {
  family: number;
  prefixLength: number;
  /** IFA_F_* flags (IFA_FLAGS when the kernel sends it). */
  flags: number;
  scope: number;
  /** The attributes that make the address again: IFA_LOCAL, IFA_ADDRESS, IFA_BROADCAST. */
  attributes: Array<{ type: number; data: Buffer }>;
  /** For messages: "192.0.2.1/24". */
  text: string;
}

const align4 = (n: number) => (n + 3) & ~3;

function attribute(type: number, data: Buffer): Buffer {
  const out = Buffer.alloc(align4(4 + data.length));
  out.writeUInt16LE(4 + data.length, 0);
  out.writeUInt16LE(type, 2);
  data.copy(out, 4);
  return out;
}

function u32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(value >>> 0, 0);
  return b;
}

const cString = (s: string) => Buffer.concat([Buffer.from(s), Buffer.alloc(1)]);

function ifinfomsg(index: number, flags = 0, change = 0): Buffer {
  const b = Buffer.alloc(IFINFO);
  b.writeInt32LE(index, 4);
  b.writeUInt32LE(flags >>> 0, 8);
  b.writeUInt32LE(change >>> 0, 12);
  return b;
}

/** The attributes after a fixed header, as type -> data (the last one of a type wins). */
export function parseAttributes(buf: Buffer): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  let off = 0;
  while (off + 4 <= buf.length) {
    const len = buf.readUInt16LE(off);
    if (len < 4 || off + len > buf.length) break;
    out.set(buf.readUInt16LE(off + 2) & 0x3fff, buf.subarray(off + 4, off + len));
    off += align4(len);
  }
  return out;
}

function parseLink(payload: Buffer): Link {
  const attrs = parseAttributes(payload.subarray(IFINFO));
  const name = attrs.get(IFLA_IFNAME);
  return { index: payload.readInt32LE(4), flags: payload.readUInt32LE(8), name: name ? name.toString('utf8').replace(/\0.*$/s, '') : '' };
}

function addressText(family: number, data: Buffer | undefined, prefixLength: number): string {
  if (!data) return `?/${prefixLength}`;
  const ip = family === 2 ? [...data].join('.') : (data.toString('hex').match(/..../g) ?? []).join(':');
  return `${ip}/${prefixLength}`;
}

export function parseAddress(payload: Buffer): Address & { index: number } {
  const family = payload.readUInt8(0);
  const prefixLength = payload.readUInt8(1);
  const attrs = parseAttributes(payload.subarray(IFADDR));
  const wide = attrs.get(IFA_FLAGS);
  const attributes = [IFA_LOCAL, IFA_ADDRESS, IFA_BROADCAST].filter((type) => attrs.has(type)).map((type) => ({ type, data: Buffer.from(attrs.get(type)!) }));
  return {
    family, prefixLength, index: payload.readInt32LE(4), scope: payload.readUInt8(3),
    flags: wide && wide.length >= 4 ? wide.readUInt32LE(0) : payload.readUInt8(2),
    attributes,
    text: addressText(family, attrs.get(IFA_LOCAL) ?? attrs.get(IFA_ADDRESS), prefixLength),
  };
}

function errnoText(errno: number): string {
  // Loaded here, on a failure only: a public require('node:util') costs every create ~1.4 ms.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { getSystemErrorMap } = require('node:util') as typeof import('node:util');
  return getSystemErrorMap().get(-errno)?.[1] ?? `errno ${errno}`;
}

/** An rtnetlink socket of the calling thread's network namespace. */
export class RouteSocket {
  private seq = 0;
  private constructor(private fd: number) {}

  static open(): RouteSocket {
    return new RouteSocket(checked('socket', 'AF_NETLINK NETLINK_ROUTE', 'socket', [T.I32, T.I32, T.I32], [AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE]));
  }

  close(): void {
    if (this.fd >= 0) libcCall('close', T.I32, [T.I32], [this.fd]);
    this.fd = -1;
  }

  /** The link of that name, or undefined when there is none (ENODEV). */
  link(name: string): Link | undefined {
    try {
      const [reply] = this.request(`RTM_GETLINK ${name}`, RTM_GETLINK, 0, [ifinfomsg(0), attribute(IFLA_IFNAME, cString(name))]);
      return reply ? parseLink(reply) : undefined;
    } catch (err) {
      if ((err as SysError).code === 'ENODEV') return undefined;
      throw err;
    }
  }

  /** The link with that index, or undefined. */
  linkByIndex(index: number): Link | undefined {
    try {
      const [reply] = this.request(`RTM_GETLINK index ${index}`, RTM_GETLINK, 0, [ifinfomsg(index)]);
      return reply ? parseLink(reply) : undefined;
    } catch (err) {
      if ((err as SysError).code === 'ENODEV') return undefined;
      throw err;
    }
  }

  addresses(index: number): Address[] {
    const head = Buffer.alloc(IFADDR); // AF_UNSPEC: every family
    return this.request('RTM_GETADDR', RTM_GETADDR, NLM_F_DUMP, [head]).map(parseAddress).filter((a) => a.index === index);
  }

  setFlags(index: number, flags: number, change: number): void {
    this.request(`RTM_NEWLINK index ${index} flags 0x${flags.toString(16)}`, RTM_NEWLINK, 0, [ifinfomsg(index, flags, change)]);
  }

  /** Move link `index` into the network namespace `nsFd` under `name` (in one request, as runc). */
  moveTo(index: number, nsFd: number, name: string): void {
    this.request(`RTM_NEWLINK index ${index} to netns fd ${nsFd} as ${JSON.stringify(name)}`, RTM_NEWLINK, 0,
      [ifinfomsg(index), attribute(IFLA_IFNAME, cString(name)), attribute(IFLA_NET_NS_FD, u32(nsFd))]);
  }

  addAddress(index: number, address: Address): void {
    const head = Buffer.alloc(IFADDR);
    head.writeUInt8(address.family, 0);
    head.writeUInt8(address.prefixLength, 1);
    head.writeUInt8(address.scope, 3);
    head.writeInt32LE(index, 4);
    this.request(`RTM_NEWADDR ${address.text}`, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, [head, ...address.attributes.map((a) => attribute(a.type, a.data))]);
  }

  /** Send one request; returns the payloads of the answers (after nlmsghdr). */
  private request(what: string, type: number, flags: number, parts: Buffer[]): Buffer[] {
    const dump = (flags & NLM_F_DUMP) === NLM_F_DUMP;
    const body = Buffer.concat(parts);
    const msg = Buffer.alloc(HDR + body.length);
    const seq = ++this.seq;
    msg.writeUInt32LE(msg.length, 0);
    msg.writeUInt16LE(type, 4);
    msg.writeUInt16LE(NLM_F_REQUEST | flags | (dump ? 0 : NLM_F_ACK), 6);
    msg.writeUInt32LE(seq, 8);
    body.copy(msg, HDR);
    const sent = libcCall('send', T.I64, [T.I32, u8(msg.length), T.U64, T.I32], [this.fd, msg, msg.length, 0]);
    if (sent.value < 0) throw sysError('netlink send', what, sent.errnoCode, sent.errnoMessage);
    const replies: Buffer[] = [];
    const mem = calloc(RECV_SIZE);
    try {
      for (;;) {
        const r = libcCall('recv', T.I64, [T.I32, T.External, T.U64, T.I32], [this.fd, mem, RECV_SIZE, 0]);
        if (r.value < 0) throw sysError('netlink recv', what, r.errnoCode, r.errnoMessage);
        const data = Buffer.from(view(mem, r.value));
        for (let off = 0; off + HDR <= data.length;) {
          const len = data.readUInt32LE(off);
          if (len < HDR || off + len > data.length) break;
          const kind = data.readUInt16LE(off + 4);
          const answers = data.readUInt32LE(off + 8);
          const payload = data.subarray(off + HDR, off + len);
          off += align4(len);
          if (answers !== seq) continue; // to an earlier request
          if (kind === NLMSG_DONE) return replies;
          if (kind === NLMSG_ERROR) {
            const errno = -payload.readInt32LE(0);
            if (errno === 0) return replies; // the ACK
            throw new SysError('netlink', what, errno, errnoText(errno));
          }
          replies.push(Buffer.from(payload));
        }
      }
    } finally {
      free(mem);
    }
  }
}
