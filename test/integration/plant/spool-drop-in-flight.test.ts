import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { openSpool, type SqliteSpool } from "../../../adapters/spool/sqlite-spool.ts";
import type { Sample } from "../../../adapters/types.ts";
import { captureLog, readSpoolFile } from "../../support/historian-faults.ts";

/**
 * The race the spool-bounded plant test ran into: the historian comes back, the forwarder reads
 * the full spool and writes it; while that write is on the wire the next storage cycle overflows
 * the spool, which deletes the oldest samples — the very ones being written. They are counted as
 * dropped (the write may still fail), and when the sink acks them they were delivered after all:
 * the count is taken back (and said so in the log), so `dropped` is exactly what never arrived.
 */
const folder = join(
  fileURLToPath(new URL("../../../", import.meta.url)),
  "var",
  "test",
  `spool-in-flight-${randomBytes(4).toString("hex")}`,
);
mkdirSync(folder, { recursive: true });
afterAll(() => rmSync(folder, { recursive: true, force: true }));

const t0 = Date.UTC(2025, 0, 1);
let files = 0;

function cycle(k: number): Sample[] {
  return ["METH.a", "METH.b", "METH.c"].map((tag, i) => ({
    tag,
    time: t0 + k * 1000,
    value: k * 10 + i,
    quality: "good",
  }));
}

function spool(
  sinks: string[],
  log = captureLog("info"),
): { s: SqliteSpool; lines: () => Record<string, unknown>[] } {
  const s = openSpool({
    path: join(folder, `spool-${files++}.sqlite`),
    sinks,
    maxSamples: 6,
    synchronous: "OFF",
    log: log.log,
  });
  return { s, lines: log.lines };
}

describe("samples the full spool drops while they are being delivered", () => {
  it("are counted as dropped, and taken back when the sink acks them", () => {
    const { s, lines } = spool(["postgres"]);
    s.append([...cycle(0), ...cycle(1)]);
    const batch = s.readBatch("postgres", 100); // seq 1..6 on their way
    s.append(cycle(2)); // full: seq 1..3 go while in flight
    expect(s.stats()).toMatchObject({ dropped: 3, held: 6, pending: { postgres: 6 } });
    s.ack("postgres", batch.at(-1)?.seq ?? 0); // the write carried 1..6: all arrived
    expect(s.stats()).toMatchObject({ dropped: 0, held: 3, pending: { postgres: 3 } });
    expect(s.readBatch("postgres", 100).map((b) => b.seq)).toEqual([7, 8, 9]);
    const rescued = lines().filter((l) => l.rescued !== undefined);
    expect(rescued).toHaveLength(1);
    expect(rescued[0]).toMatchObject({ sink: "postgres", rescued: 3, droppedTotal: 0 });
    // The count that survives a restart agrees.
    expect(readSpoolFile(s.path).dropped).toBe(0);
    s.close();
  });

  it("stay dropped when the write failed and the sink reads again from its cursor", () => {
    const { s } = spool(["postgres"]);
    s.append([...cycle(0), ...cycle(1)]);
    s.readBatch("postgres", 100); // the write will fail
    s.append(cycle(2));
    const retry = s.readBatch("postgres", 100);
    expect(retry.map((b) => b.seq)).toEqual([4, 5, 6, 7, 8, 9]);
    s.ack("postgres", retry.at(-1)?.seq ?? 0);
    expect(s.stats()).toMatchObject({ dropped: 3, held: 0, pending: { postgres: 0 } });
    expect(readSpoolFile(s.path).dropped).toBe(3);
    s.close();
  });

  it("only an ack that covers them takes them back; a partial ack takes back its part", () => {
    const { s } = spool(["postgres"]);
    s.append([...cycle(0), ...cycle(1)]);
    s.readBatch("postgres", 100);
    s.append(cycle(2)); // 1..3 dropped in flight
    s.ack("postgres", 2); // the first half of a split batch arrived
    expect(s.stats().dropped).toBe(1);
    s.deadLetter("postgres", [{ seq: 3, ...cycle(0)[2]! }], "refused"); // the third was refused: kept, not lost
    expect(s.stats()).toMatchObject({ dropped: 0, deadLettered: 1 });
    s.close();
  });

  it("with two sinks, are taken back only once both have them", () => {
    const { s } = spool(["postgres", "mqtt"]);
    s.append([...cycle(0), ...cycle(1)]);
    s.readBatch("postgres", 100);
    s.readBatch("mqtt", 100);
    s.append(cycle(2));
    expect(s.stats().dropped).toBe(3);
    s.ack("postgres", 6);
    expect(s.stats().dropped).toBe(3);
    s.ack("mqtt", 6);
    expect(s.stats().dropped).toBe(0);
    s.close();
  });

  it("with two sinks, stay dropped when one sink did not have them in hand", () => {
    const { s } = spool(["postgres", "mqtt"]);
    s.append([...cycle(0), ...cycle(1)]);
    s.readBatch("postgres", 100); // mqtt has read nothing
    s.append(cycle(2));
    s.ack("postgres", 6);
    expect(s.stats()).toMatchObject({ dropped: 3, pending: { postgres: 3, mqtt: 6 } });
    s.close();
  });
});
