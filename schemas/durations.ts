/**
 * Plant-file values written the way a process engineer writes them: durations (`500ms`, `1s`,
 * `2m`, `1h`, `400d` or a number of milliseconds) and Modbus addresses (`0x8061` or `32865`).
 */

const DURATION = /^\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h|d)\s*$/;
const MS_PER_UNIT = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/**
 * Milliseconds of a duration: a number is taken as milliseconds, a string needs a unit
 * (`ms`, `s`, `m`, `h`, `d`). Returns NaN for anything else (callers report it with its position).
 */
export function parseDuration(value: number | string): number {
  if (typeof value === "number") return value;
  const m = DURATION.exec(value);
  if (!m) return Number.NaN;
  const unit = m[2] as keyof typeof MS_PER_UNIT;
  return Number(m[1]) * MS_PER_UNIT[unit];
}

const ADDRESS = /^\s*(?:0[xX]([0-9a-fA-F]+)|([0-9]+))\s*$/;

/** A Modbus address written as a number, `0x8061` or `"32865"`; NaN when it is neither. */
export function parseAddress(value: number | string): number {
  if (typeof value === "number") return value;
  const m = ADDRESS.exec(value);
  if (!m) return Number.NaN;
  return m[1] !== undefined ? Number.parseInt(m[1], 16) : Number(m[2]);
}

/** `0x8061` for messages: addresses are read from hex register maps. */
export function formatAddress(address: number): string {
  return `0x${address.toString(16).toUpperCase().padStart(4, "0")}`;
}
