/**
 * Run by the spool lock and CLI tests in a child process: opens a spool like a plant does,
 * appends one cycle, prints `{"pid": …}` on stdout, then holds the spool until it is killed.
 * argv: <spool path>
 */
import { openSpool } from "../../adapters/spool/sqlite-spool.ts";
import { silentLog } from "../../lib/log.ts";

const [path] = process.argv.slice(2);
if (path === undefined) throw new Error("usage: spool-owner-child <spool path>");

const spool = openSpool({
  path,
  sinks: ["postgres"],
  maxSamples: 1000,
  synchronous: "NORMAL",
  log: silentLog(),
});
spool.append([{ tag: "PEMEL.current", time: Date.UTC(2026, 0, 1), value: 20, quality: "good" }]);
process.stdout.write(`${JSON.stringify({ pid: process.pid })}\n`);
setInterval(() => {}, 60_000);
