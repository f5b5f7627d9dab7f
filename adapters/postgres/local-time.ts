/**
 * The plant's local wall time, for a wide table whose time column is `timestamp without time
 * zone` (the original tool wrote `datetime.now()` there). A wall time is carried as a number:
 * the epoch ms of that wall time read as if it were UTC ("wall ms"), so it binds as float8 and
 * converts in SQL exactly (`timestamp 'epoch' + wall * interval '1 millisecond'`).
 *
 * In the autumn, when the clocks go back, two instants an hour apart have the same wall time:
 * they map to the same wall ms, and the wide table keeps the first (see wide-merge.ts).
 */

/** The zone the process runs in (TZ, else the system's), as an IANA name. */
export function processTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/** A function from epoch ms to wall ms in `timeZone`. */
export function wallClockIn(timeZone: string): (epochMs: number) => number {
  const format = new Intl.DateTimeFormat("en-US", {
    timeZone,
    hourCycle: "h23",
    year: "numeric",
    month: "numeric",
    day: "numeric",
    hour: "numeric",
    minute: "numeric",
    second: "numeric",
  });
  return (epochMs) => {
    const millis = ((epochMs % 1000) + 1000) % 1000;
    const parts: Record<string, number> = {};
    for (const p of format.formatToParts(new Date(epochMs - millis))) parts[p.type] = Number(p.value);
    // Set field by field: Date.UTC would read years 0..99 as 1900..1999.
    const wall = new Date(0);
    wall.setUTCFullYear(parts.year ?? 1970, (parts.month ?? 1) - 1, parts.day ?? 1);
    wall.setUTCHours(parts.hour ?? 0, parts.minute ?? 0, parts.second ?? 0, millis);
    return wall.getTime();
  };
}

/** `2025-10-26 02:30:00.000`: a wall ms as PostgreSQL shows a timestamp. */
export function formatWall(wallMs: number): string {
  return new Date(wallMs).toISOString().replace("T", " ").replace("Z", "");
}
