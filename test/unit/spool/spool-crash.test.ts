import { fork } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openSpool } from "../../../adapters/spool/sqlite-spool.ts";
import { silentLog } from "../../../lib/log.ts";
import { makeTestDir } from "./spool-kit.ts";

const child = fileURLToPath(new URL("../../support/spool-crash-child.ts", import.meta.url));

let folder: ReturnType<typeof makeTestDir>;
beforeEach(() => {
  folder = makeTestDir("spool-crash");
});
afterEach(() => folder.remove());

describe("sqlite spool after a crash", () => {
  for (const level of ["NORMAL", "OFF"] as const) {
    it(`redelivers everything appended but not acked when the process is killed (synchronous ${level})`, async () => {
      const path = join(folder.dir, "spool.sqlite");
      const proc = fork(child, [path, level], { execPath: process.execPath, execArgv: [], stdio: "pipe" });
      const exited = once(proc, "exit");
      try {
        const [message] = (await Promise.race([
          once(proc, "message"),
          exited.then(([code]) => Promise.reject(new Error(`child exited early with ${code}`))),
        ])) as [{ appended: number; acked: number }];
        expect(message).toEqual({ appended: 160, acked: 40 });
      } finally {
        proc.kill("SIGKILL");
      }
      const [, signal] = await exited;
      expect(signal).toBe("SIGKILL");

      const spool = openSpool({
        path,
        sinks: ["postgres"],
        maxSamples: 10_000,
        synchronous: "NORMAL",
        log: silentLog(),
      });
      try {
        expect(spool.stats()).toMatchObject({ held: 120, pending: { postgres: 120 }, dropped: 0 });
        const again = spool.readBatch("postgres", 1000);
        expect(again).toHaveLength(120);
        expect(again[0]).toEqual({
          seq: 41,
          tag: "PEMEL.current",
          time: 1_700_000_000_000 + 20_000,
          value: 20,
          quality: "good",
        });
        expect(again[1]).toMatchObject({ tag: "PEMEL.cooling_ready", value: true });
        expect(again.at(-1)).toMatchObject({ seq: 160, tag: "PEMEL.cooling_ready", value: false });
      } finally {
        spool.close();
      }
    });
  }
});
