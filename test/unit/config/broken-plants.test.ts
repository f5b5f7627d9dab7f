import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ErrorCode, type PlantbridgeError } from "../../../lib/errors.ts";
import { loadPlantFile, PlantConfigError } from "../../../schemas/load-plant.ts";

const BROKEN = join(import.meta.dirname, "../../fixtures/plants/broken");

interface Case {
  file: string;
  line: number;
  keyPath: string;
  code?: string;
  /** A word the message must contain, so that it says what is wrong. */
  says: string;
}

const cases: Case[] = [
  { file: "unknown-key.yaml", line: 7, keyPath: "units.PEMEL.unitID", says: 'unknown key "unitID"' },
  { file: "wrong-type.yaml", line: 7, keyPath: "units.PEMEL.port", says: "whole number" },
  {
    file: "missing-required-key.yaml",
    line: 4,
    keyPath: "units.PEMEL.host",
    says: 'missing required key "host"',
  },
  { file: "bad-protocol.yaml", line: 5, keyPath: "units.PEMEL.protocol", says: "modbus-tcp, opcua" },
  { file: "address-too-large.yaml", line: 10, keyPath: "units.PEMEL.tags.power.address", says: "65535" },
  {
    file: "address-string-out-of-range.yaml",
    line: 9,
    keyPath: "units.PEMEL.tags.energy.address",
    says: "outside 0..65535",
  },
  {
    file: "value-past-last-address.yaml",
    line: 9,
    keyPath: "units.PEMEL.tags.energy.address",
    says: "4 registers",
  },
  { file: "duplicate-tag-bit.yaml", line: 13, keyPath: "units.PEMEL.tags.power", says: "used twice" },
  { file: "duplicate-yaml-key.yaml", line: 10, keyPath: "units.PEMEL.tags.power", says: "unique" },
  { file: "unknown-tag-reference.yaml", line: 16, keyPath: "control.follow.input", says: "METH.h2_flow" },
  {
    file: "unknown-unit-in-storage.yaml",
    line: 12,
    keyPath: "storage.tags.1",
    says: 'unknown unit "ELECTROLYZER"',
  },
  { file: "output-not-writable.yaml", line: 17, keyPath: "control.follow.output", says: "not writable" },
  {
    file: "missing-env-variable.yaml",
    line: 6,
    keyPath: "units.PEMEL.host",
    code: ErrorCode.CONFIG_ENV,
    says: "PEMEL_HOST",
  },
  {
    file: "malformed-placeholder.yaml",
    line: 6,
    keyPath: "units.PEMEL.host",
    code: ErrorCode.CONFIG_ENV,
    says: "not a valid placeholder",
  },
  { file: "bad-duration.yaml", line: 10, keyPath: "storage.period", says: "duration" },
  { file: "zero-duration.yaml", line: 7, keyPath: "units.PEMEL.timeout", says: "positive" },
  { file: "bad-yaml-syntax.yaml", line: 9, keyPath: "units.PEMEL.tags.power", says: "YAML" },
  {
    file: "writable-min-above-max.yaml",
    line: 12,
    keyPath: "units.PEMEL.tags.current_setpoint.writable.max",
    says: "below min 60",
  },
  {
    file: "word-order-on-16-bit.yaml",
    line: 12,
    keyPath: "units.PEMEL.tags.power.wordOrder",
    says: "32- and 64-bit",
  },
  { file: "bits-index-16.yaml", line: 15, keyPath: "units.PEMEL.tags.status.bits.16", says: "bit index" },
  {
    file: "permissive-not-boolean.yaml",
    line: 19,
    keyPath: "control.follow.permissive",
    says: "not a boolean",
  },
  {
    file: "missing-curve-file.yaml",
    line: 20,
    keyPath: "control.follow.transform.curve.file",
    says: "no-such-curve.txt not found",
  },
  { file: "bad-node-id.yaml", line: 9, keyPath: "units.METH.tags.pressure.nodeId", says: "node id" },
  {
    file: "writable-input-register.yaml",
    line: 12,
    keyPath: "units.PEMEL.tags.current_setpoint.writable",
    says: "read-only",
  },
  { file: "coil-not-bool.yaml", line: 8, keyPath: "units.PEMEL.tags.pump_on.type", says: "must be bool" },
  {
    file: "fail-safe-outside-limits.yaml",
    line: 20,
    keyPath: "control.follow.failSafe.value",
    says: "0..52",
  },
  {
    file: "clamp-beyond-output-limits.yaml",
    line: 19,
    keyPath: "control.follow.transform.clamp.max",
    says: "writable max 52",
  },
  {
    file: "security-mode-policy-mismatch.yaml",
    line: 9,
    keyPath: "units.METH.security.policy",
    says: "policy None",
  },
  { file: "username-without-password.yaml", line: 7, keyPath: "units.METH.username", says: "password too" },
  {
    file: "wide-layout-without-columns.yaml",
    line: 10,
    keyPath: "storage.historian.columns",
    says: "columns",
  },
  { file: "storage-tag-twice.yaml", line: 11, keyPath: "storage.tags.2", says: "listed twice" },
  {
    file: "bits-without-type-bits.yaml",
    line: 11,
    keyPath: "units.PEMEL.tags.status.bits",
    says: "type: bits",
  },
  {
    file: "historian-url-not-postgres.yaml",
    line: 11,
    keyPath: "storage.historian.url",
    says: "postgres://",
  },
  { file: "empty-file.yaml", line: 1, keyPath: "", says: "mapping" },
  {
    file: "historian-retention-too-short.yaml",
    line: 11,
    keyPath: "storage.historian.retention",
    says: "at least 1d",
  },
  {
    file: "historian-retention-wide.yaml",
    line: 14,
    keyPath: "storage.historian.retention",
    says: "layout: narrow",
  },
  {
    file: "historian-bad-time-zone.yaml",
    line: 13,
    keyPath: "storage.historian.timeZone",
    says: "Europe/Berlin",
  },
];

/** Variables some fixtures use; the url is deliberately wrong and must never be shown. */
const env = { PB_HISTORIAN_URL: "mysql://admin:hunter2-secret@db.example/plant" };

async function loadError(file: string): Promise<PlantConfigError> {
  try {
    await loadPlantFile(join(BROKEN, file), { env });
  } catch (e) {
    if (e instanceof PlantConfigError) return e;
    throw e;
  }
  throw new Error(`${file} loaded, but it is broken`);
}

describe("broken plant files", () => {
  it("covers at least 20 kinds of mistakes", () => {
    expect(cases.length).toBeGreaterThanOrEqual(20);
  });

  it.each(cases)("$file: line $line, $keyPath", async (c) => {
    const error = await loadError(c.file);
    const path = join(BROKEN, c.file);
    expect(error.code).toBe(ErrorCode.CONFIG);
    const first = error.problems[0] as PlantbridgeError;
    expect(first.code).toBe(c.code ?? ErrorCode.CONFIG);
    expect(first.origin.file).toBe(path);
    expect(first.origin.line).toBe(c.line);
    expect(first.origin.column).toBeGreaterThanOrEqual(1);
    expect(first.origin.keyPath).toBe(c.keyPath);
    expect(first.message).toContain(c.says);
    // The whole error names the file and lists the problem as file:line:col key.path: message.
    expect(error.message).toContain(path);
    expect(error.message).toContain(first.describe());
    expect(first.describe()).toMatch(
      new RegExp(`^${escapeRegExp(path)}:${c.line}:\\d+${c.keyPath ? ` ${escapeRegExp(c.keyPath)}` : ""}: `),
    );
    expect(error.message).not.toContain("hunter2");
  });

  it("gives YAML syntax errors a line and a column", async () => {
    const error = await loadError("bad-yaml-syntax.yaml");
    expect(error.problems[0]?.origin).toMatchObject({ line: 9, column: 7 });
  });

  it("reports every problem of a file, in reading order", async () => {
    const { loadPlantText } = await import("../../../schemas/load-plant.ts");
    const text = [
      "plant: several",
      "units:",
      "  PEMEL:",
      "    protocol: modbus-tcp",
      "    host: 127.0.0.1",
      "    port: nope",
      "    tags:",
      "      power: { area: holding, address: 0x8065, typ: uint16 }",
      "      current: { area: register, address: 0x8066 }",
      "storage:",
      "  period: often",
    ].join("\n");
    let error: unknown;
    try {
      loadPlantText(text, "several.yaml", { env: {} });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PlantConfigError);
    const problems = (error as PlantConfigError).problems;
    expect(problems.map((p) => [p.origin.line, p.origin.keyPath])).toEqual([
      [6, "units.PEMEL.port"],
      [8, "units.PEMEL.tags.power.typ"],
      [9, "units.PEMEL.tags.current.area"],
      [11, "storage.period"],
    ]);
    expect((error as PlantConfigError).message.split("\n")).toHaveLength(5);
  });

  it("names the file when it cannot be read", async () => {
    const missing = join(BROKEN, "no-such-plant.yaml");
    await expect(loadPlantFile(missing)).rejects.toSatisfy(
      (e) =>
        e instanceof PlantConfigError && e.message.includes(missing) && e.message.includes("does not exist"),
    );
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
