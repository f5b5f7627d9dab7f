/**
 * Run by test/unit/spool/spool-disk-full.test.ts under a file-size limit (`ulimit -f`, SIGXFSZ
 * ignored: a write past the limit fails with EFBIG, as on a full disk). Appends storage cycles of
 * 33 samples until an append fails, tries once more, prints one JSON line on stdout and exits
 * without closing the spool. argv: <spool path>
 */
import { openSpool } from "../../adapters/spool/sqlite-spool.ts";
import type { Sample } from "../../adapters/types.ts";
import { isPlantbridgeError } from "../../lib/errors.ts";
import { silentLog } from "../../lib/log.ts";

const [path] = process.argv.slice(2);
if (path === undefined) throw new Error("usage: spool-disk-full-child <spool path>");

const t0 = Date.UTC(2026, 0, 1);
const cycle = (k: number): Sample[] =>
  Array.from({ length: 33 }, (_, i) => ({
    tag: `PEMEL.tag${i}`,
    time: t0 + k * 1000,
    value: k * 100 + i,
    quality: "good",
  }));

const describe = (e: unknown) =>
  isPlantbridgeError(e) ? { code: e.code, message: e.message } : { code: "not coded", message: String(e) };

const spool = openSpool({
  path,
  sinks: ["postgres"],
  maxSamples: 1_000_000,
  synchronous: "NORMAL",
  log: silentLog(),
});
let appended = 0;
let failure: { code: string; message: string } | undefined;
for (let k = 0; k < 100_000 && failure === undefined; k++) {
  try {
    spool.append(cycle(k));
    appended++;
  } catch (e) {
    failure = describe(e);
  }
}
const statsAfterFailure = spool.stats();
let again: { code: string; message: string } | undefined;
try {
  spool.append(cycle(appended));
} catch (e) {
  again = describe(e);
}
process.stdout.write(
  `${JSON.stringify({ appended, failure, again, statsAfterFailure, statsAtEnd: spool.stats() })}\n`,
);
process.exit(0);
