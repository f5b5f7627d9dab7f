/**
 * What each `synchronous` level costs: 10 000 samples appended as storage cycles of 34 samples
 * (one commit each, the reference plant's record size) and as one append. The figures are
 * printed, not asserted (no timing assertions); docs/historian.md quotes them.
 */
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openSpool } from "../../../adapters/spool/sqlite-spool.ts";
import type { Sample } from "../../../adapters/types.ts";
import { silentLog } from "../../../lib/log.ts";
import { makeTestDir, t0 } from "./spool-kit.ts";

const total = 10_000;
const perCycle = 34;

function samplesOf(count: number, offset: number): Sample[] {
  return Array.from({ length: count }, (_, i) => {
    const n = offset + i;
    return {
      tag: `PEMEL.tag${n % perCycle}`,
      time: t0 + Math.floor(n / perCycle) * 10_000,
      value: n,
      quality: "good",
    };
  });
}

let folder: ReturnType<typeof makeTestDir>;
beforeAll(() => {
  folder = makeTestDir("spool-durability");
});
afterAll(() => folder.remove());

describe("sqlite spool durability levels", () => {
  it("appends 10 000 samples at OFF, NORMAL and FULL (figures printed)", () => {
    const figures: string[] = [];
    for (const level of ["OFF", "NORMAL", "FULL"] as const) {
      const cycles = openSpool({
        path: join(folder.dir, `cycles-${level}.sqlite`),
        sinks: ["postgres"],
        maxSamples: 100_000,
        synchronous: level,
        log: silentLog(),
      });
      const start = performance.now();
      for (let n = 0; n < total; n += perCycle) cycles.append(samplesOf(Math.min(perCycle, total - n), n));
      const cycleMs = performance.now() - start;
      expect(cycles.stats().held).toBe(total);
      cycles.close();

      const bulk = openSpool({
        path: join(folder.dir, `bulk-${level}.sqlite`),
        sinks: ["postgres"],
        maxSamples: 100_000,
        synchronous: level,
        log: silentLog(),
      });
      const bulkStart = performance.now();
      bulk.append(samplesOf(total, 0));
      const bulkMs = performance.now() - bulkStart;
      expect(bulk.stats().held).toBe(total);
      bulk.close();
      figures.push(
        `${level.padEnd(6)} ${Math.ceil(total / perCycle)} commits: ${cycleMs.toFixed(1)} ms, one commit: ${bulkMs.toFixed(1)} ms`,
      );
    }
    console.info(`spool append of ${total} samples by synchronous level:\n  ${figures.join("\n  ")}`);
  });
});
