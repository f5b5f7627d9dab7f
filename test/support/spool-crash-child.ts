/**
 * Run by test/unit/spool/spool-crash.test.ts in a child process: appends samples, acks part of
 * them like a forwarder would, tells the parent, then waits to be killed with SIGKILL.
 * argv: <spool path> <synchronous level>
 */
import { openSpool } from "../../adapters/spool/sqlite-spool.ts";
import { silentLog } from "../../lib/log.ts";
import type { SpoolSynchronous } from "../../schemas/plant-types.ts";

const [path, synchronous] = process.argv.slice(2);
if (path === undefined || synchronous === undefined)
  throw new Error("usage: spool-crash-child <path> <sync>");

const spool = openSpool({
  path,
  sinks: ["postgres"],
  maxSamples: 10_000,
  synchronous: synchronous as SpoolSynchronous,
  log: silentLog(),
});

const cycle = (i: number) => [
  { tag: "PEMEL.current", time: 1_700_000_000_000 + i * 1000, value: i, quality: "good" as const },
  {
    tag: "PEMEL.cooling_ready",
    time: 1_700_000_000_000 + i * 1000,
    value: i % 2 === 0,
    quality: "good" as const,
  },
];

for (let i = 0; i < 50; i++) spool.append(cycle(i));
const delivered = spool.readBatch("postgres", 40);
spool.ack("postgres", delivered.at(-1)?.seq ?? 0);
for (let i = 50; i < 80; i++) spool.append(cycle(i));
// Read like a forwarder that is in the middle of a write when the process dies: no ack.
spool.readBatch("postgres", 500);

process.send?.({ appended: 160, acked: delivered.length });
setInterval(() => {}, 60_000);
