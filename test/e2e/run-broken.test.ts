import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot, runCli } from "./run-cli.ts";

/**
 * The plant never half-starts: `plantbridge run` on a broken plant file, or on a plant whose curve
 * file is broken, exits 1 naming the place of the problem, and leaves nothing behind in its --var
 * folder — no log, no spool, no embedded database, no PKI — because nothing was started.
 */

const literal = (s: string) => s.replaceAll(/[.*+?^${}()|[\]\\]/g, "\\$&");
const brokenPlant = (name: string) => join("test", "fixtures", "plants", "broken", name);
const brokenCurve = (name: string) => join(repoRoot, "test", "fixtures", "calibration", "broken", name);

/** Broken plant files, with the line and key path the error must name (as `plantbridge check` does). */
const plantCases = [
  { file: "unknown-key.yaml", line: 7, keyPath: "units.PEMEL.unitID" },
  { file: "missing-env-variable.yaml", line: 6, keyPath: "units.PEMEL.host" },
  { file: "bad-yaml-syntax.yaml", line: 9, keyPath: "units.PEMEL.tags.power" },
  { file: "missing-curve-file.yaml", line: 20, keyPath: "control.follow.transform.curve.file" },
  { file: "output-not-writable.yaml", line: 17, keyPath: "control.follow.output" },
];

/** Broken curve files, with the line of the problem inside the curve file. */
const curveCases = [
  { curve: "not-monotonic.txt", line: 5 },
  { curve: "not-a-number.txt", line: 5 },
  { curve: "wrong-field-count.txt", line: 4 },
  { curve: "single-point.txt", line: 4 },
];

/**
 * A valid plant (checked below with a good curve) whose one loop reads CURVE. Its units point at
 * ports where nothing listens and its historian is the embedded one: if it ever started, it would
 * create var/postgres, var/spool and var/log and keep running.
 */
const plantWithCurve = (curve: string) => `plant: broken-curve
units:
  PEMEL:
    protocol: modbus-tcp
    host: 127.0.0.1
    port: 1
    tags:
      current_setpoint: { area: holding, address: 0x8006, unit: A, writable: { min: 0, max: 52 } }
  METH:
    protocol: opcua
    endpoint: opc.tcp://127.0.0.1:1
    tags:
      h2_demand: { nodeId: "ns=7;s=::AsGlobalPV:real_h2_flowrate" }
control:
  follow:
    input: METH.h2_demand
    output: PEMEL.current_setpoint
    transform:
      curve:
        file: ${JSON.stringify(curve)}
        input: 1
        output: 0
        atOrAboveTop: 52
        belowBottom: 0
    failSafe: { after: 10s, value: 0 }
storage:
  period: 1s
  tags: [PEMEL.current_setpoint, METH.h2_demand]
`;
/** Line of `control.follow` in `plantWithCurve`. */
const loopLine = 15;

describe("plantbridge run never half-starts", () => {
  let dir: string;

  beforeAll(async () => {
    dir = join(repoRoot, "var", "test", `run-broken-${randomBytes(4).toString("hex")}`);
    await mkdir(dir, { recursive: true });
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Runs `plantbridge run FILE --var <fresh folder>`; returns the result and the folder. */
  async function run(file: string, name: string) {
    const varDir = join(dir, `var-${name}`);
    const result = await runCli(["run", file, "--var", varDir], {
      env: { PEMEL_HOST: undefined, PB_HISTORIAN_URL: undefined },
      // A plant that did start would run until killed: the exit code then tells.
      timeoutMs: 30_000,
    });
    return { result, varDir };
  }

  it.each(plantCases)(
    "broken plant file $file → exit 1, $file:$line $keyPath, nothing created",
    async ({ file, line, keyPath }) => {
      const { result, varDir } = await run(brokenPlant(file), file);
      expect(result.code, result.stderr).toBe(1);
      expect(result.stderr).toMatch(
        new RegExp(`${literal(brokenPlant(file))}:${line}:\\d+ ${literal(keyPath)}: `),
      );
      expect(result.stdout).toBe("");
      expect(existsSync(varDir), "the --var folder was not even created").toBe(false);
    },
  );

  it("the plant used for the curve cases is valid with a good curve", async () => {
    const file = join(dir, "good-curve.yaml");
    await writeFile(
      file,
      plantWithCurve(join(repoRoot, "test", "fixtures", "plants", "curves", "linear.txt")),
    );
    const result = await runCli(["check", file]);
    expect(result.code, result.stderr).toBe(0);
  });

  it.each(curveCases)(
    "broken curve $curve → exit 1 naming the loop and $curve:$line, nothing created",
    async ({ curve, line }) => {
      const file = join(dir, `plant-${curve}.yaml`);
      await writeFile(file, plantWithCurve(brokenCurve(curve)));
      const { result, varDir } = await run(file, curve);
      expect(result.code, result.stderr).toBe(1);
      expect(result.stderr).toMatch(new RegExp(`${literal(file)}:${loopLine}:\\d+ control\\.follow: `));
      expect(result.stderr).toMatch(new RegExp(`${literal(brokenCurve(curve))}:${line}:\\d+`));
      expect(result.stdout).toBe("");
      expect(existsSync(varDir), "the --var folder was not even created").toBe(false);
      // `check` finds the same problem (it used to pass a plant whose curve `run` then refused).
      const checked = await runCli(["check", file]);
      expect(checked.code).toBe(1);
      expect(checked.stderr).toContain(`${brokenCurve(curve)}:${line}:`);
    },
  );

  it("an unusable spool path stops the start before the embedded database or a link exists", async () => {
    const notAFolder = join(dir, "not-a-folder");
    await writeFile(notAFolder, "a file where the spool's folder should be\n");
    const file = join(dir, "bad-spool.yaml");
    const good = join(repoRoot, "test", "fixtures", "plants", "curves", "linear.txt");
    await writeFile(
      file,
      `${plantWithCurve(good)}  spool:\n    path: ${JSON.stringify(join(notAFolder, "spool.sqlite"))}\n`,
    );
    const { result, varDir } = await run(file, "bad-spool");
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toMatch(/PB_ERR_SPOOL|spool/);
    expect(result.stderr).toContain(join(notAFolder, "spool.sqlite"));
    // Only the log was written (the error is in it); no database, no PKI.
    expect(await readdir(varDir)).toEqual(["log"]);
  });
});
