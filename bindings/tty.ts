// Terminals and fd passing: ptys (ioctl), unix sockets (socket, connect, socketpair) and
// sendmsg/recvmsg with SCM_RIGHTS. The C structs that hold pointers (msghdr, iovec,
// cmsghdr) are laid out in calloc'd memory viewed through createExternalBuffer; their
// addresses are read with strncpy(p, p, 0), which returns its argument.
//
// Kept apart from libc.ts (the Libc interface and its fake): only the exec and terminal
// code paths load it. Layouts are those of 64-bit Linux (x86_64 and arm64 agree).
import type * as ffi from 'ffi-rs';
import { addressOf, calloc, free, libcCall, sysError, T, u8, view as cView } from './c';
import { SysError } from './types';
import type { Param } from './c';

function call(funcName: string, retType: ffi.DataType, paramsType: Param[], paramsValue: unknown[]) {
  return libcCall(funcName, retType, paramsType, paramsValue);
}

function check(name: string, arg: string, funcName: string, retType: ffi.DataType, paramsType: Param[], values: unknown[]): number {
  const r = call(funcName, retType, paramsType, values);
  if (r.value === -1) throw sysError(name, arg, r.errnoCode, r.errnoMessage);
  return r.value;
}

export const AF_UNIX = 1;
export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;
const MSG_DONTWAIT = 0x40;
const MSG_CMSG_CLOEXEC = 0x40000000;

export const TIOCGWINSZ = 0x5413;
export const TIOCSWINSZ = 0x5414;
export const TIOCSCTTY = 0x540e;
export const TIOCGPTN = 0x80045430;
export const TIOCSPTLCK = 0x40045431;

// struct msghdr (56 bytes) | struct iovec (16) | cmsghdr + one int (CMSG_SPACE(4) = 24) | data
const MSG_OFF = 0;
const IOV_OFF = 64;
const CMSG_OFF = 80;
const CMSG_SPACE_INT = 24;
const CMSG_LEN_INT = 20;
const DATA_OFF = 112;
const DATA_MAX = 4096;

/** Lay out msghdr -> iovec -> data and msghdr -> cmsghdr in one block; returns its view. */
function messageBlock(block: ffi.JsExternal, dataLen: number): Buffer {
  const base = addressOf(block);
  const view = cView(block, DATA_OFF + DATA_MAX);
  view.writeBigUInt64LE(0n, MSG_OFF); // msg_name
  view.writeUInt32LE(0, MSG_OFF + 8); // msg_namelen
  view.writeBigUInt64LE(base + BigInt(IOV_OFF), MSG_OFF + 16); // msg_iov
  view.writeBigUInt64LE(1n, MSG_OFF + 24); // msg_iovlen
  view.writeBigUInt64LE(base + BigInt(CMSG_OFF), MSG_OFF + 32); // msg_control
  view.writeBigUInt64LE(BigInt(CMSG_SPACE_INT), MSG_OFF + 40); // msg_controllen
  view.writeInt32LE(0, MSG_OFF + 48); // msg_flags
  view.writeBigUInt64LE(base + BigInt(DATA_OFF), IOV_OFF); // iov_base
  view.writeBigUInt64LE(BigInt(dataLen), IOV_OFF + 8); // iov_len
  return view;
}

/** Payload bytes one sendFd carries at most. */
export const SEND_FD_MAX = DATA_MAX;

/** Send `fd` over unix socket `sock` in one sendmsg: SCM_RIGHTS plus `name` as payload (runc's way). */
export function sendFd(sock: number, fd: number, name: string | Buffer): void {
  const payload = Buffer.isBuffer(name) ? name : Buffer.from(name.length > 0 ? name : '\0');
  if (payload.length > DATA_MAX) throw new Error('sendFd: name too long');
  const block = calloc(DATA_OFF + DATA_MAX);
  try {
    const view = messageBlock(block, payload.length);
    view.writeBigUInt64LE(BigInt(CMSG_LEN_INT), CMSG_OFF); // cmsg_len
    view.writeInt32LE(SOL_SOCKET, CMSG_OFF + 8);
    view.writeInt32LE(SCM_RIGHTS, CMSG_OFF + 12);
    view.writeInt32LE(fd, CMSG_OFF + 16);
    payload.copy(view, DATA_OFF);
    for (;;) {
      const r = call('sendmsg', T.I64, [T.I32, T.External, T.I32], [sock, block, 0]);
      if (r.value >= 0) return;
      if (r.errnoCode === 4 /* EINTR */) continue;
      throw sysError('sendmsg', `fd ${sock}`, r.errnoCode, r.errnoMessage);
    }
  } finally {
    free(block);
  }
}

/**
 * Receive one fd (SCM_RIGHTS, close-on-exec) and the payload sent with it. With `wait`
 * false, fails with EAGAIN when nothing is queued. Throws when the message carries no fd.
 */
export function recvFd(sock: number, wait = true): { fd: number; name: string } {
  const block = calloc(DATA_OFF + DATA_MAX);
  try {
    const view = messageBlock(block, DATA_MAX);
    let n: number;
    for (;;) {
      const r = call('recvmsg', T.I64, [T.I32, T.External, T.I32], [sock, block, MSG_CMSG_CLOEXEC | (wait ? 0 : MSG_DONTWAIT)]);
      if (r.value >= 0) {
        n = r.value;
        break;
      }
      if (r.errnoCode === 4) continue;
      throw sysError('recvmsg', `fd ${sock}`, r.errnoCode, r.errnoMessage);
    }
    const controllen = Number(view.readBigUInt64LE(MSG_OFF + 40));
    const level = view.readInt32LE(CMSG_OFF + 8);
    const type = view.readInt32LE(CMSG_OFF + 12);
    if (controllen < CMSG_LEN_INT || level !== SOL_SOCKET || type !== SCM_RIGHTS) {
      throw new Error(n === 0 ? 'recvmsg: the peer closed the socket without sending a file descriptor' : 'recvmsg: the message carries no file descriptor');
    }
    const fd = view.readInt32LE(CMSG_OFF + 16);
    const name = view.subarray(DATA_OFF, DATA_OFF + n).toString('utf8').replace(/\0+$/, '');
    return { fd, name };
  } finally {
    free(block);
  }
}

/** A connected unix stream socket pair, both ends close-on-exec. */
export function socketpair(): [number, number] {
  const fds = calloc(8);
  try {
    check('socketpair', 'AF_UNIX', 'socketpair', T.I32, [T.I32, T.I32, T.I32, T.External], [AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds]);
    const view = cView(fds, 8);
    return [view.readInt32LE(0), view.readInt32LE(4)];
  } finally {
    free(fds);
  }
}

/**
 * struct sockaddr_un { sa_family_t; char sun_path[108] } for a path and its length; "@name"
 * is the abstract namespace (as systemd's NOTIFY_SOCKET may say).
 */
function unixAddress(call_: string, socketPath: string): { addr: Buffer; len: number } {
  const abstract = socketPath.startsWith('@');
  const pathBytes = Buffer.from(abstract ? socketPath.slice(1) : socketPath);
  if (pathBytes.length >= 107) throw new SysError(call_, socketPath, 36, 'file name too long');
  const addr = Buffer.alloc(110);
  addr.writeUInt16LE(AF_UNIX, 0);
  pathBytes.copy(addr, abstract ? 3 : 2); // abstract: a NUL first, no NUL after
  return { addr, len: 2 + pathBytes.length + 1 };
}

/** socket() + connect() to a unix socket path; returns the fd (close-on-exec). */
export function connectUnix(socketPath: string): number {
  const { addr, len } = unixAddress('connect', socketPath);
  const fd = check('socket', 'AF_UNIX', 'socket', T.I32, [T.I32, T.I32, T.I32], [AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0]);
  try {
    check('connect', socketPath, 'connect', T.I32, [T.I32, u8(110), T.U32], [fd, addr, len]);
  } catch (err) {
    call('close', T.I32, [T.I32], [fd]);
    throw err;
  }
  return fd;
}

/** A unix datagram socket (close-on-exec), bound to `bindPath` when given. */
export function datagramSocket(bindPath?: string): number {
  const fd = check('socket', 'AF_UNIX', 'socket', T.I32, [T.I32, T.I32, T.I32], [AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0]);
  if (bindPath === undefined) return fd;
  try {
    const { addr, len } = unixAddress('bind', bindPath);
    check('bind', bindPath, 'bind', T.I32, [T.I32, u8(110), T.U32], [fd, addr, len]);
  } catch (err) {
    call('close', T.I32, [T.I32], [fd]);
    throw err;
  }
  return fd;
}

/** One datagram waiting on `fd`, or undefined when none is (never blocks). */
export function recvDatagram(fd: number): Buffer | undefined {
  const buf = calloc(DATA_MAX); // the kernel writes C memory, read back through a view
  try {
    const r = call('recv', T.I64, [T.I32, T.External, T.U64, T.I32], [fd, buf, DATA_MAX, MSG_DONTWAIT]);
    if (r.value === -1) {
      if (r.errnoCode === 11 /* EAGAIN */) return undefined;
      throw sysError('recv', `fd ${fd}`, r.errnoCode, r.errnoMessage);
    }
    return Buffer.from(cView(buf, DATA_MAX).subarray(0, Number(r.value)));
  } finally {
    free(buf);
  }
}

/** sendto(): one datagram to the unix socket at `socketPath`. */
export function sendDatagram(fd: number, socketPath: string, data: Buffer): void {
  const { addr, len } = unixAddress('sendto', socketPath);
  check('sendto', socketPath, 'sendto', T.I64, [T.I32, u8(data.length), T.U64, T.I32, u8(110), T.U32], [fd, data, data.length, 0, addr, len]);
}

/** ioctl with an int value argument (TIOCSCTTY). */
export function ioctlInt(fd: number, request: number, arg: number, what = 'ioctl'): void {
  check(what, `fd ${fd}`, 'ioctl', T.I32, [T.I32, T.U64, T.I64], [fd, request, arg]);
}

/** Unlock a pty master (TIOCSPTLCK with 0), as unlockpt(3). */
export function unlockpt(master: number): void {
  check('ioctl(TIOCSPTLCK)', `fd ${master}`, 'ioctl', T.I32, [T.I32, T.U64, u8(4)], [master, TIOCSPTLCK, Buffer.alloc(4)]);
}

/** The pts number of a pty master (TIOCGPTN). */
export function ptsNumber(master: number): number {
  const out = calloc(4);
  try {
    check('ioctl(TIOCGPTN)', `fd ${master}`, 'ioctl', T.I32, [T.I32, T.U64, T.External], [master, TIOCGPTN, out]);
    return cView(out, 4).readUInt32LE(0);
  } finally {
    free(out);
  }
}

/** TIOCSWINSZ: struct winsize { u16 rows, cols, xpixel, ypixel }. */
export function setWinsize(fd: number, rows: number, cols: number): void {
  const ws = Buffer.alloc(8);
  ws.writeUInt16LE(rows & 0xffff, 0);
  ws.writeUInt16LE(cols & 0xffff, 2);
  check('ioctl(TIOCSWINSZ)', `fd ${fd}`, 'ioctl', T.I32, [T.I32, T.U64, u8(8)], [fd, TIOCSWINSZ, ws]);
}

/** setsid(2); returns false when already a process group leader (EPERM). */
export function setsid(): boolean {
  const r = call('setsid', T.I32, [], []);
  if (r.value !== -1) return true;
  if (r.errnoCode === 1) return false;
  throw sysError('setsid', '', r.errnoCode, r.errnoMessage);
}

/** dup3(2) without flags (the new fd is inherited across execve). */
export function dup2(oldFd: number, newFd: number): void {
  if (oldFd === newFd) return;
  check('dup3', `fd ${oldFd} -> ${newFd}`, 'dup3', T.I32, [T.I32, T.I32, T.I32], [oldFd, newFd, 0]);
}

/** TIOCGWINSZ: the size of the terminal on `fd`, or undefined when `fd` is not a terminal. */
export function getWinsize(fd: number): { rows: number; cols: number } | undefined {
  const ws = calloc(8);
  try {
    const r = call('ioctl', T.I32, [T.I32, T.U64, T.External], [fd, TIOCGWINSZ, ws]);
    if (r.value === -1) return undefined;
    const view = cView(ws, 8);
    return { rows: view.readUInt16LE(0), cols: view.readUInt16LE(2) };
  } finally {
    free(ws);
  }
}
