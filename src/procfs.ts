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

/** Field 22 of /proc/PID/stat (start time in clock ticks); undefined when gone or a zombie. */
export function startTime(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] === 'Z' ? undefined : fields[19];
  } catch {
    return undefined;
  }
}
