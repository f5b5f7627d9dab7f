import { chmod, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  assertPostgresUserCanReach,
  privateFolderAbove,
} from "../../../adapters/embedded-postgres/postgres-user-access.ts";
import { isPlantbridgeError } from "../../../lib/errors.ts";

describe("embedded PostgreSQL as root: can user postgres reach the folders?", () => {
  let top: string;
  beforeAll(async () => {
    top = await mkdtemp(join(tmpdir(), "pb-access-"));
    await mkdir(join(top, "open", "var"), { recursive: true });
    await mkdir(join(top, "private", "var"), { recursive: true });
    await chmod(top, 0o755);
    await chmod(join(top, "open"), 0o755);
    await chmod(join(top, "private"), 0o700);
  });
  afterAll(async () => {
    await rm(top, { recursive: true, force: true });
  });

  it("finds the private folder above a data folder", () => {
    expect(privateFolderAbove(join(top, "private", "var", "postgres"))).toBe(join(top, "private"));
    expect(privateFolderAbove(join(top, "open", "var", "postgres"))).toBeUndefined();
  });

  it("refuses up front with the folder and the fix named, instead of a start that fails obscurely", () => {
    expect(() => assertPostgresUserCanReach([join(top, "open", "var", "postgres")])).not.toThrow();
    try {
      assertPostgresUserCanReach([join(top, "private", "var", "postgres")]);
      expect.unreachable();
    } catch (e) {
      expect(isPlantbridgeError(e, "PB_ERR_HISTORIAN_UNAVAILABLE")).toBe(true);
      expect((e as Error).message).toContain(`chmod o+x ${join(top, "private")}`);
    }
  });
});
