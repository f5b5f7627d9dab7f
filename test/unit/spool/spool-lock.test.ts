/**
 * One process owns a spool: a second open — in the same process or another — is refused with a
 * coded error naming the owner's pid, and an owner that died (SIGKILL) leaves no stale lock.
 */
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { claimSpool, currentOwner } from "../../../adapters/spool/spool-lock.ts";
import { openSpool, type SqliteSpool } from "../../../adapters/spool/sqlite-spool.ts";
import { ErrorCode, isPlantbridgeError } from "../../../lib/errors.ts";
import { silentLog } from "../../../lib/log.ts";
import { holdSpoolInChild, type SpoolOwnerProcess } from "../../support/spool-owner.ts";
import { makeTestDir } from "./spool-kit.ts";

let folder: ReturnType<typeof makeTestDir>;
let path: string;
const open: SqliteSpool[] = [];
let child: SpoolOwnerProcess | undefined;

function spool(): SqliteSpool {
  const s = openSpool({ path, sinks: ["postgres"], maxSamples: 100, synchronous: "OFF", log: silentLog() });
  open.push(s);
  return s;
}

function refusal(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    expect(isPlantbridgeError(e, ErrorCode.SPOOL)).toBe(true);
    return e as Error;
  }
  throw new Error("expected a refusal");
}

beforeEach(() => {
  folder = makeTestDir("spool-lock");
  path = join(folder.dir, "spool.sqlite");
});

afterEach(async () => {
  for (const s of open.splice(0)) s.close();
  await child?.kill();
  child = undefined;
  folder.remove();
});

describe("spool ownership", () => {
  it("refuses a second open while the first is open, and allows it after close", () => {
    const first = spool();
    expect(currentOwner(path)).toMatchObject({ pid: process.pid, role: "plant" });
    const e = refusal(() => spool());
    expect(e.message).toContain(`spool ${path} is in use by`);
    first.close();
    expect(currentOwner(path)).toBeUndefined();
    expect(spool().stats().held).toBe(0);
  });

  it("refuses while another process has it, naming that process, and takes it once that process died", async () => {
    child = await holdSpoolInChild(path);
    const e = refusal(() => spool());
    expect(e.message).toMatch(new RegExp(`in use by process ${child.pid} \\(plant, since \\d{4}-`));
    expect(refusal(() => claimSpool(path, "spool replay")).message).toContain(`process ${child.pid}`);
    expect(currentOwner(path)?.pid).toBe(child.pid);

    await child.kill();
    // No stale lock: the operating system released it with the process.
    expect(currentOwner(path)).toBeUndefined();
    const s = spool();
    expect(s.stats()).toMatchObject({ held: 1, pending: { postgres: 1 } });
    expect(currentOwner(path)?.pid).toBe(process.pid);
  });

  it("releases the lock when the open fails after the claim", () => {
    expect(() =>
      openSpool({
        path,
        sinks: ["postgres"],
        maxSamples: 1,
        synchronous: "EXTRA" as "OFF",
        log: silentLog(),
      }),
    ).toThrow(/synchronous level "EXTRA"/);
    expect(spool().stats().held).toBe(0);
  });
});
