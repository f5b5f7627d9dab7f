// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} placeholders of plant files are plain text here
/**
 * The parts of `plantbridge spool` below the CLI: reading only the spool keys of a plant file,
 * and the confirmation question of `purge`.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { confirm } from "../../../bin/commands/spool.ts";
import { ErrorCode, isPlantbridgeError } from "../../../lib/errors.ts";
import { loadSpoolSettings } from "../../../schemas/load-spool-settings.ts";
import { makeTestDir } from "./spool-kit.ts";

let folder: ReturnType<typeof makeTestDir>;
beforeEach(() => {
  folder = makeTestDir("spool-command");
});
afterEach(() => folder.remove());

function plantFile(storage: string): string {
  const file = join(folder.dir, "plant.yaml");
  writeFileSync(
    file,
    [
      "plant: pilot",
      "runtime:",
      "  varDir: ${PB_TEST_VAR:-relative-var}",
      "units:",
      "  PEMEL:",
      "    protocol: modbus-tcp",
      "    host: ${PEMEL_HOST_THAT_IS_NOT_SET}",
      "    port: ${PEMEL_PORT_THAT_IS_NOT_SET}",
      "    tags: { power: { address: 0x8065, type: uint16 } }",
      storage,
    ].join("\n"),
  );
  return file;
}

describe("spool settings of a plant file", () => {
  it("reads plant, varDir and storage.spool with their defaults, ignoring the rest and its environment", async () => {
    const file = plantFile("storage:\n  spool:\n    maxDeadLetters: 20\n    path: ${SPOOL_FILE}");
    const settings = await loadSpoolSettings(file, { env: { SPOOL_FILE: "here/pilot.db" } });
    expect(settings).toEqual({
      plant: "pilot",
      file,
      varDir: join(process.cwd(), "relative-var"),
      spool: {
        path: join(process.cwd(), "relative-var", "here", "pilot.db"),
        maxSamples: 10_000_000,
        maxDeadLetters: 20,
        synchronous: "NORMAL",
        batchSize: 5000,
      },
    });
    const withVar = await loadSpoolSettings(plantFile("storage: {}"), { varDir: "/srv/pb", env: {} });
    expect(withVar.spool.path).toBe("/srv/pb/spool/pilot.sqlite");
  });

  it("reports a problem in the spool keys with file, line, column and key path", async () => {
    const file = plantFile("storage:\n  spool:\n    maxDeadLetters: 0\n    path: ${SPOOL_FILE}");
    const problems = async (env: Record<string, string>) => {
      try {
        await loadSpoolSettings(file, { env });
      } catch (e) {
        expect(isPlantbridgeError(e, ErrorCode.CONFIG)).toBe(true);
        return (e as Error).message;
      }
      return "loaded";
    };
    const unset = await problems({});
    expect(unset).toContain(`${file}:13:11 storage.spool.path: environment variable SPOOL_FILE is not set`);
    expect(unset).not.toContain("PEMEL");
    const bad = await problems({ SPOOL_FILE: "x.db" });
    expect(bad).toContain("(1 problem)");
    expect(bad).toContain(`${file}:12:21 storage.spool.maxDeadLetters: `);
  });
});

describe("purge's question", () => {
  for (const [answer, yes] of [
    ["y", true],
    ["Yes", true],
    ["n", false],
    ["", false],
    ["yesterday", false],
  ] as const) {
    it(`takes "${answer}" as ${yes ? "yes" : "no"}`, async () => {
      const input = new PassThrough();
      const output = new PassThrough();
      let asked = "";
      output.on("data", (d: Buffer) => {
        asked += d.toString();
      });
      const answered = confirm("Delete 3 dead letters? [y/N] ", input, output);
      input.end(`${answer}\n`);
      expect(await answered).toBe(yes);
      expect(asked).toBe("Delete 3 dead letters? [y/N] ");
    });
  }
});
