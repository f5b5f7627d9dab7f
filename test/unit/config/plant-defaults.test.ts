import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadPlantFile, loadPlantText } from "../../../schemas/load-plant.ts";
import type { ModbusUnitConfig, OpcuaUnitConfig } from "../../../schemas/plant-types.ts";
import { tagId } from "../../../schemas/plant-types.ts";

const VALID = join(import.meta.dirname, "../../fixtures/plants/valid");

describe("defaults", () => {
  it("fills in every default of a minimal plant", async () => {
    const plant = await loadPlantFile(join(VALID, "minimal.yaml"), { env: {} });
    const [pemel, meth] = plant.units as [ModbusUnitConfig, OpcuaUnitConfig];
    const reconnect = {
      initialDelayMs: 500,
      maxDelayMs: 30_000,
      factor: 2,
      jitter: 0.2,
      stableAfterMs: 10_000,
    };
    expect(pemel).toMatchObject({
      port: 502,
      unitId: 1,
      timeoutMs: 1000,
      maxRegistersPerRequest: 125,
      maxGapRegisters: 10,
      reconnect,
    });
    expect(pemel.tags[0]).toMatchObject({
      name: "power",
      address: 0x8065,
      type: "uint16",
      wordOrder: "ABCD",
      scale: 1,
      offset: 0,
    });
    expect(pemel.tags[0]?.writable).toBeUndefined();
    expect(meth).toMatchObject({
      securityMode: "None",
      securityPolicy: "None",
      timeoutMs: 5000,
      keepAliveMs: 5000,
      publishingIntervalMs: 100,
      reconnect,
    });
    expect(meth.username).toBeUndefined();
    expect(meth.password).toBeUndefined();
    expect(meth.tags[0]).toMatchObject({ mode: "subscribe", samplingIntervalMs: 100, dataType: "Double" });
    expect(plant.control).toEqual([]);
    expect(plant.storage).toEqual({
      periodMs: 10_000,
      deadlineMs: 8000,
      tags: [
        { unit: "PEMEL", tag: "power" },
        { unit: "METH", tag: "h2_demand" },
      ],
      historian: { schema: "plantbridge", layout: "narrow", alterTable: true },
      spool: {
        path: join(process.cwd(), "var/spool/minimal.sqlite"),
        maxSamples: 10_000_000,
        maxDeadLetters: 100_000,
        synchronous: "NORMAL",
        batchSize: 5000,
      },
    });
  });

  it("gives a loop staleAfter = 3 × period, onChange and rounding defaults", () => {
    const text = [
      "plant: loop",
      "units:",
      "  A:",
      "    protocol: modbus-tcp",
      "    host: h",
      "    tags:",
      "      x: { area: input, address: 1 }",
      "      y: { area: holding, address: 2, writable: { min: 0, max: 10 } }",
      "control:",
      "  follow:",
      "    input: A.x",
      "    output: A.y",
      "    period: 2s",
      "    failSafe: { after: 10s, value: 0 }",
    ].join("\n");
    const loop = loadPlantText(text, "loop.yaml", { env: {} }).control[0];
    expect(loop).toMatchObject({
      periodMs: 2000,
      staleAfterMs: 6000,
      onChange: true,
      transform: { round: "none" },
    });
    expect(loop?.permissive).toBeUndefined();
  });
});

describe("a plant using most keys", () => {
  it("normalises durations, addresses, bits, aliases, OPC UA options and a wide historian", async () => {
    const plant = await loadPlantFile(join(VALID, "features.yaml"), {
      env: { PLC1_PORT: "1502", PLC2_PASSWORD: "pw" },
    });
    expect(plant.varDir).toBe(join(process.cwd(), "var/test/features-plant"));
    const [plc1, plc2] = plant.units as [ModbusUnitConfig, OpcuaUnitConfig];
    expect(plc1).toMatchObject({
      host: "plc1.local",
      port: 1502,
      unitId: 17,
      timeoutMs: 250,
      maxRegistersPerRequest: 60,
      maxGapRegisters: 0,
      reconnect: { initialDelayMs: 1000, maxDelayMs: 60_000, factor: 1.5, jitter: 0 },
    });
    // Bits expand in bit order, at the word's address ("0x0010" written as text).
    expect(plc1.tags.map((t) => t.name)).toEqual([
      "alarm",
      "ready",
      "energy",
      "flow",
      "valve_open",
      "valve_limit",
      "speed",
      "speed_2",
    ]);
    expect(plc1.tags[1]).toMatchObject({ type: "bit", bit: 3, address: 16, area: "input" });
    expect(plc1.tags[2]).toMatchObject({ type: "float64", address: 32, wordOrder: "DCBA" });
    expect(plc1.tags[3]).toMatchObject({ type: "int32", wordOrder: "CDAB", scale: 0.1, offset: -5 });
    expect(plc1.tags[4]).toMatchObject({ area: "coil", type: "bool", writable: { min: 0, max: 1 } });
    expect(plc1.tags[7]).toMatchObject({ type: "int16", address: 50, writable: { min: -100, max: 100 } });
    expect(plc2).toMatchObject({
      securityMode: "SignAndEncrypt",
      securityPolicy: "Basic256Sha256",
      username: "operator",
      password: "pw",
      timeoutMs: 2000,
      keepAliveMs: 10_000,
      publishingIntervalMs: 50,
    });
    expect(plc2.tags[0]).toMatchObject({
      nodeId: "nsu=urn:vendor:plc2;s=Tank.Level",
      mode: "poll",
      samplingIntervalMs: 0,
    });
    expect(plc2.tags[1]?.deadband).toEqual({ type: "absolute", value: 0.05 });
    expect(plc2.tags[2]).toMatchObject({ dataType: "Float", writable: { min: 0, max: 3000 } });
    const [levelLoop, flowLoop] = plant.control;
    expect(levelLoop).toMatchObject({
      periodMs: 500,
      onChange: false,
      staleAfterMs: 4000,
      failSafe: { afterMs: 60_000, value: 0 },
      transform: {
        curve: { file: join(VALID, "../curves/linear.txt"), inputColumn: 0, outputColumn: 1 },
        round: "half-up",
      },
    });
    expect(flowLoop?.permissive).toEqual({ unit: "PLC1", tag: "ready" });
    expect(plant.storage.periodMs).toBe(2000);
    expect(plant.storage.tags.map(tagId)).toEqual(["PLC2.level", "PLC1.energy", "PLC1.alarm"]);
    expect(plant.storage.historian).toEqual({
      schema: "plant_data",
      layout: "wide",
      alterTable: false,
      timeZone: "Europe/Berlin",
      table: "features_data",
      timeColumn: "ts",
      columns: [
        { column: "level", tag: { unit: "PLC2", tag: "level" } },
        { column: "energy", tag: { unit: "PLC1", tag: "energy" } },
        { column: "alarm", tag: { unit: "PLC1", tag: "alarm" } },
      ],
    });
    expect(plant.storage.spool).toEqual({
      path: join(process.cwd(), "var/test/features-plant/spool/features.db"),
      maxSamples: 1000,
      maxDeadLetters: 250,
      synchronous: "FULL",
      batchSize: 100,
    });
  });

  it("reads the historian's retention in ms, and a wide table's zone defaults to the process's", () => {
    const units = [
      "units:",
      "  PEMEL:",
      "    protocol: modbus-tcp",
      "    host: 127.0.0.1",
      "    tags:",
      "      power: { area: holding, address: 0x8065, type: uint16 }",
    ];
    const narrow = loadPlantText(
      ["plant: kept", ...units, "storage:", "  historian:", "    retention: 400d"].join("\n"),
      "kept.yaml",
      { env: {} },
    );
    expect(narrow.storage.historian).toEqual({
      schema: "plantbridge",
      layout: "narrow",
      alterTable: true,
      retentionMs: 400 * 86_400_000,
    });
    const wide = loadPlantText(
      [
        "plant: wide",
        ...units,
        "storage:",
        "  historian:",
        "    layout: wide",
        "    table: t",
        "    columns: { power: PEMEL.power }",
      ].join("\n"),
      "wide.yaml",
      { env: {} },
    );
    expect(wide.storage.historian.timeZone).toBe(Intl.DateTimeFormat().resolvedOptions().timeZone);
    expect(wide.storage.historian.retentionMs).toBeUndefined();
  });

  it("lets the caller's varDir win over runtime.varDir", async () => {
    const plant = await loadPlantFile(join(VALID, "features.yaml"), {
      env: { PLC1_PORT: "1502", PLC2_PASSWORD: "pw" },
      varDir: "/tmp/pb-elsewhere",
    });
    expect(plant.varDir).toBe("/tmp/pb-elsewhere");
    expect(plant.storage.spool.path).toBe("/tmp/pb-elsewhere/spool/features.db");
  });
});
