/**
 * When the disk refuses a write (full, or a file-size limit), `append` fails at once with a coded
 * PB_ERR_SPOOL naming the spool file, changes nothing in memory, and leaves nothing half-written:
 * the file holds exactly the cycles appended before, each whole.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { SqliteSpoolStats } from "../../../adapters/spool/sqlite-spool.ts";
import { openSpool } from "../../../adapters/spool/sqlite-spool.ts";
import { ErrorCode } from "../../../lib/errors.ts";
import { silentLog } from "../../../lib/log.ts";
import { makeTestDir } from "./spool-kit.ts";

const child = fileURLToPath(new URL("../../support/spool-disk-full-child.ts", import.meta.url));

interface ChildReport {
  appended: number;
  failure?: { code: string; message: string };
  again?: { code: string; message: string };
  statsAfterFailure: SqliteSpoolStats;
  statsAtEnd: SqliteSpoolStats;
}

let folder: ReturnType<typeof makeTestDir>;
beforeEach(() => {
  folder = makeTestDir("spool-disk-full");
});
afterEach(() => folder.remove());

/** Runs the child with files limited to `kib` KiB (SIGXFSZ ignored, so writes fail with EFBIG). */
async function runLimited(path: string, kib: number): Promise<ChildReport> {
  const proc = spawn(
    "bash",
    ["-c", `trap '' XFSZ; ulimit -f ${kib}; exec "$0" "$@"`, process.execPath, child, path],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  let err = "";
  proc.stdout.setEncoding("utf8").on("data", (d: string) => {
    out += d;
  });
  proc.stderr.setEncoding("utf8").on("data", (d: string) => {
    err += d;
  });
  const [code] = await once(proc, "close");
  if (code !== 0) throw new Error(`child exited with ${code}: ${err}`);
  return JSON.parse(out.trim()) as ChildReport;
}

describe("sqlite spool on a full disk", () => {
  it("fails fast with PB_ERR_SPOOL naming the file, and keeps exactly the whole cycles before", async () => {
    const path = join(folder.dir, "spool.sqlite");
    const report = await runLimited(path, 512);
    expect(report.appended).toBeGreaterThan(0);
    expect(report.failure?.code).toBe(ErrorCode.SPOOL);
    expect(report.failure?.message).toContain(`spool ${path}: append failed:`);
    expect(report.failure?.message).toMatch(
      /\((no space left on the disk|the disk may be full or failing)\)$/,
    );
    expect(report.again?.code).toBe(ErrorCode.SPOOL);
    // Nothing of the failed appends reached the figures.
    const whole = report.appended * 33;
    expect(report.statsAfterFailure).toMatchObject({ held: whole, pending: { postgres: whole } });
    expect(report.statsAtEnd).toEqual(report.statsAfterFailure);

    // Opened again without the limit: the appended cycles, each whole, and nothing else.
    const spool = openSpool({
      path,
      sinks: ["postgres"],
      maxSamples: 1_000_000,
      synchronous: "NORMAL",
      log: silentLog(),
    });
    try {
      expect(spool.stats()).toMatchObject({ held: whole, pending: { postgres: whole }, duplicates: 0 });
      const back = spool.readBatch("postgres", whole + 100);
      expect(back.map((b) => b.seq)).toEqual(Array.from({ length: whole }, (_, i) => i + 1));
      const perTime = new Map<number, number>();
      for (const b of back) perTime.set(b.time, (perTime.get(b.time) ?? 0) + 1);
      expect([...perTime.values()].every((n) => n === 33)).toBe(true);
      expect(perTime.size).toBe(report.appended);
      // And the spool goes on once the disk takes writes again.
      expect(spool.append([{ tag: "PEMEL.tag0", time: 1, value: 1, quality: "good" }])).toBe(whole + 1);
    } finally {
      spool.close();
    }
  });
});
