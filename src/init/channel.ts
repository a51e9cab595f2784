// The init's side of the control socket: blocking reads and writes on the main thread.
import * as fs from 'node:fs';
import type { HooksRequest, InitMessage, JoinCgroupRequest, NetDevicesRequest, SetupRequest } from '../protocol/init-protocol';

const sleeper = new Int32Array(new SharedArrayBuffer(4));

export class ParentChannel {
  constructor(readonly fd: number) {}

  readRequest(): SetupRequest {
    return this.readMessage() as SetupRequest;
  }

  /** One JSON line from the parent (blocking). */
  readMessage(): unknown {
    const chunks: Buffer[] = [];
    const buf = Buffer.alloc(65536);
    for (;;) {
      let n: number;
      try {
        n = fs.readSync(this.fd, buf, 0, buf.length, null);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
        Atomics.wait(sleeper, 0, 0, 2);
        continue;
      }
      if (n === 0) throw new Error('the runtime went away before sending the container setup');
      chunks.push(Buffer.from(buf.subarray(0, n)));
      if (buf[n - 1] === 0x0a) break;
    }
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  }

  send(message: InitMessage | HooksRequest | JoinCgroupRequest | NetDevicesRequest): void {
    const data = Buffer.from(`${JSON.stringify(message)}\n`);
    let off = 0;
    while (off < data.length) {
      try {
        off += fs.writeSync(this.fd, data, off);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
        Atomics.wait(sleeper, 0, 0, 2);
      }
    }
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}
