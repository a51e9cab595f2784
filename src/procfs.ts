// Readers of /proc used on both sides: by create, exec and the CLI on the host and by the
// container init.
import * as fs from 'node:fs';

/** As moby/sys/userns: anything but the initial namespace's full "0 0 4294967295" map. */
export function runningInUserNamespace(uidMap?: string): boolean {
  let text = uidMap;
  if (text === undefined) {
    try {
      text = fs.readFileSync('/proc/self/uid_map', 'utf8');
    } catch {
      return false;
    }
  }
  const lines = text.trim().split('\n');
  if (lines.length !== 1) return true;
  const [inside, outside, size] = lines[0].trim().split(/\s+/).map(Number);
  return !(inside === 0 && outside === 0 && size === 4294967295);
}

/** A path as mountinfo writes it: space, tab, newline and backslash escaped as octal "\\ooo". */
export function unescapeMountPath(field: string): string {
  return field.replace(/\\(\d{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Field 22 of /proc/PID/stat (start time in clock ticks); undefined when gone, a zombie or dead. */
export function startTime(pid: number): string | undefined {
  const fields = statFields(pid);
  if (!fields || fields[0] === 'Z' || fields[0] === 'X') return undefined;
  return fields[19];
}

/** The parent pid of a process, as our pid namespace sees it. */
export function parentPid(pid: number): number | undefined {
  const fields = statFields(pid);
  return fields ? Number(fields[1]) : undefined;
}

/** /proc/PID/stat from field 3 (state) on. */
function statFields(pid: number): string[] | undefined {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}
