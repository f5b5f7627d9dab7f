import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot, runCli } from "./run-cli.ts";

const broken = (name: string) => join("test", "fixtures", "plants", "broken", name);

/** Each broken plant file, and the line and key path `plantbridge check` must name. */
const cases: ReadonlyArray<{ file: string; line: number; keyPath: string; says: RegExp }> = [
  { file: "unknown-key.yaml", line: 7, keyPath: "units.PEMEL.unitID", says: /unknown key "unitID"/ },
  { file: "wrong-type.yaml", line: 7, keyPath: "units.PEMEL.port", says: /whole number/ },
  {
    file: "missing-required-key.yaml",
    line: 4,
    keyPath: "units.PEMEL.host",
    says: /missing required key "host"/,
  },
  { file: "address-too-large.yaml", line: 10, keyPath: "units.PEMEL.tags.power.address", says: /65535/ },
  { file: "duplicate-tag-bit.yaml", line: 13, keyPath: "units.PEMEL.tags.power", says: /used twice/ },
  {
    file: "unknown-tag-reference.yaml",
    line: 16,
    keyPath: "control.follow.input",
    says: /unknown tag METH\.h2_flow/,
  },
  { file: "output-not-writable.yaml", line: 17, keyPath: "control.follow.output", says: /not writable/ },
  { file: "missing-env-variable.yaml", line: 6, keyPath: "units.PEMEL.host", says: /PEMEL_HOST is not set/ },
  { file: "bad-duration.yaml", line: 10, keyPath: "storage.period", says: /not a valid duration/ },
  { file: "bad-yaml-syntax.yaml", line: 9, keyPath: "units.PEMEL.tags.power", says: /YAML/ },
  {
    file: "writable-min-above-max.yaml",
    line: 12,
    keyPath: "units.PEMEL.tags.current_setpoint.writable.max",
    says: /below min/,
  },
  {
    file: "word-order-on-16-bit.yaml",
    line: 12,
    keyPath: "units.PEMEL.tags.power.wordOrder",
    says: /32- and 64-bit/,
  },
  { file: "bits-index-16.yaml", line: 15, keyPath: "units.PEMEL.tags.status.bits.16", says: /bit index/ },
  {
    file: "permissive-not-boolean.yaml",
    line: 19,
    keyPath: "control.follow.permissive",
    says: /not a boolean tag/,
  },
  {
    file: "missing-curve-file.yaml",
    line: 20,
    keyPath: "control.follow.transform.curve.file",
    says: /not found/,
  },
  {
    file: "bad-node-id.yaml",
    line: 9,
    keyPath: "units.METH.tags.pressure.nodeId",
    says: /not a valid node id/,
  },
];

describe("plantbridge check (the CLI)", () => {
  it.each(cases)("$file → line $line, $keyPath", async ({ file, line, keyPath, says }) => {
    const result = await runCli(["check", broken(file)], {
      env: { PEMEL_HOST: undefined, PB_HISTORIAN_URL: undefined },
    });
    expect(result.code).toBe(1);
    const first = result.stderr.split("\n")[0] ?? "";
    expect(first).toMatch(
      new RegExp(`^${broken(file).replaceAll(".", "\\.")}:${line}:\\d+ ${keyPath.replaceAll(".", "\\.")}: `),
    );
    expect(first).toMatch(says);
  });

  it("accepts the reference plant when its variables are set, and never prints the password", async () => {
    const result = await runCli(["check", "config/plant.yaml"], {
      env: {
        PEMEL_HOST: "10.0.6.65",
        METH_ENDPOINT: "opc.tcp://10.0.6.66:4840",
        METH_USERNAME: "OPCUA_user_1",
        METH_PASSWORD: "s3cret-Pa55",
      },
    });
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      /config\/plant\.yaml: ok — plant "[^"]+", 2 units, \d+ tags, 1 control loops, 33 stored tags/,
    );
    expect(result.stdout + result.stderr).not.toContain("s3cret-Pa55");
  });

  it("exits 1 and lists every unset variable of the reference plant", async () => {
    const result = await runCli(["check", join(repoRoot, "config", "plant.yaml")], {
      env: {
        PEMEL_HOST: undefined,
        METH_ENDPOINT: undefined,
        METH_USERNAME: undefined,
        METH_PASSWORD: undefined,
      },
    });
    expect(result.code).toBe(1);
    for (const name of ["PEMEL_HOST", "METH_ENDPOINT", "METH_USERNAME", "METH_PASSWORD"]) {
      expect(result.stderr).toContain(`environment variable ${name} is not set`);
    }
  });

  it("reports a misspelt key together with the unset variables, in one pass", async () => {
    const file = broken("unset-variables-and-typo.yaml");
    const result = await runCli(["check", file], { env: { PEMEL_HOST: undefined, PEMEL_PORT: undefined } });
    expect(result.code).toBe(1);
    const lines = result.stderr.trim().split("\n");
    expect(lines).toEqual([
      expect.stringMatching(/:6:\d+ units\.PEMEL\.host: environment variable PEMEL_HOST is not set/),
      expect.stringMatching(/:7:\d+ units\.PEMEL\.port: environment variable PEMEL_PORT is not set/),
      expect.stringMatching(/:8:\d+ units\.PEMEL\.unitID: unknown key "unitID"/),
      `${file}: 2 variables not set: PEMEL_HOST, PEMEL_PORT — the rest of the file was checked without them; run refuses to start until they are set`,
    ]);
  });
});
