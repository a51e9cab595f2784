// Error types. Every error tsrun reports ends as exit 1 with one line on stderr and,
// with --log, one JSON line; these classes only carry what the message needs.

export class TsrunError extends Error {
  override name = 'TsrunError';
}

/** An invalid config.json (or process.json): names the file, the JSON path and the value. */
export class ConfigError extends TsrunError {
  override name = 'ConfigError';
  constructor(
    readonly file: string,
    readonly jsonPath: string,
    readonly detail: string,
  ) {
    super(`${file}: ${jsonPath || '/'}: ${detail}`);
  }
}

/** Describe a JSON value briefly for an error message. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  let text: string;
  try {
    text = JSON.stringify(value);
  } catch {
    text = String(value);
  }
  if (text === undefined) text = String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
