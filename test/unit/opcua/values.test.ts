import { DataType, DataValue, StatusCodes, Variant, VariantArrayType } from "node-opcua";
import { describe, expect, it } from "vitest";
import { subscriptionCounts } from "../../../adapters/opcua/subscription.ts";
import { readingFromDataValue, variantForWrite } from "../../../adapters/opcua/values.ts";
import { ErrorCode, isPlantbridgeError } from "../../../lib/errors.ts";
import type { OpcuaTagConfig, OpcuaUnitConfig } from "../../../schemas/plant-types.ts";

const NOW = 1_700_000_000_000;

function dv(
  value: Variant | null,
  extra: Partial<{ status: typeof StatusCodes.Good; source: Date; server: Date }> = {},
): DataValue {
  return new DataValue({
    value: value ?? new Variant({ dataType: DataType.Null }),
    statusCode: extra.status ?? StatusCodes.Good,
    ...(extra.source ? { sourceTimestamp: extra.source } : {}),
    ...(extra.server ? { serverTimestamp: extra.server } : {}),
  });
}

/** The wall-clock time and the monotonic receive time of the reading. */
const AT = { time: NOW, receivedAt: 7 };

describe("readings from DataValues", () => {
  it("takes a good Double with its source timestamp", () => {
    const r = readingFromDataValue(
      dv(new Variant({ dataType: DataType.Double, value: 12.5 }), {
        source: new Date(NOW - 500),
        server: new Date(NOW - 100),
      }),
      AT,
    );
    expect(r).toEqual({ value: 12.5, quality: "good", time: NOW - 500, receivedAt: 7 });
  });

  it("falls back to the server timestamp, then to now", () => {
    expect(
      readingFromDataValue(
        dv(new Variant({ dataType: DataType.Float, value: 1.5 }), { server: new Date(NOW - 100) }),
        AT,
      ).time,
    ).toBe(NOW - 100);
    expect(readingFromDataValue(dv(new Variant({ dataType: DataType.Int16, value: -3 })), AT)).toEqual({
      value: -3,
      quality: "good",
      ...AT,
    });
  });

  it("converts booleans and 64-bit integers", () => {
    expect(readingFromDataValue(dv(new Variant({ dataType: DataType.Boolean, value: true })), AT).value).toBe(
      true,
    );
    expect(
      readingFromDataValue(
        dv(new Variant({ dataType: DataType.UInt64, arrayType: VariantArrayType.Scalar, value: [1, 5] })),
        AT,
      ).value,
    ).toBe(2 ** 32 + 5);
    expect(
      readingFromDataValue(
        dv(
          new Variant({
            dataType: DataType.Int64,
            arrayType: VariantArrayType.Scalar,
            value: [0xffffffff, 0xfffffffe],
          }),
        ),
        AT,
      ).value,
    ).toBe(-2);
  });

  it("makes Bad and Uncertain statuses bad quality with the status name", () => {
    expect(readingFromDataValue(dv(null, { status: StatusCodes.BadNodeIdUnknown }), AT)).toEqual({
      value: null,
      quality: "bad",
      reason: "BadNodeIdUnknown",
      code: "PB_ERR_OPCUA_BAD_STATUS",
      ...AT,
    });
    const uncertain = readingFromDataValue(
      dv(new Variant({ dataType: DataType.Double, value: 1 }), {
        status: StatusCodes.UncertainLastUsableValue,
      }),
      AT,
    );
    expect(uncertain).toMatchObject({ quality: "bad", value: null, reason: "UncertainLastUsableValue" });
  });

  it("refuses values that are no finite scalar number or boolean, with a reason", () => {
    expect(
      readingFromDataValue(dv(new Variant({ dataType: DataType.Double, value: Number.NaN })), AT),
    ).toMatchObject({
      quality: "bad",
      reason: expect.stringContaining("not finite"),
    });
    expect(
      readingFromDataValue(dv(new Variant({ dataType: DataType.String, value: "hi" })), AT),
    ).toMatchObject({
      quality: "bad",
      reason: expect.stringContaining("String"),
    });
    expect(
      readingFromDataValue(
        dv(new Variant({ dataType: DataType.Double, arrayType: VariantArrayType.Array, value: [1, 2] })),
        AT,
      ),
    ).toMatchObject({ quality: "bad", reason: expect.stringContaining("array") });
  });
});

function tag(dataType: OpcuaTagConfig["dataType"], writable?: { min: number; max: number }): OpcuaTagConfig {
  return {
    name: "t",
    nodeId: "ns=7;s=t",
    mode: "poll",
    samplingIntervalMs: 100,
    dataType,
    ...(writable ? { writable } : {}),
  };
}

function refusal(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (isPlantbridgeError(e)) {
      expect(e.origin).toEqual({ unit: "METH", tag: "t" });
      return e.code;
    }
    throw e;
  }
  return "accepted";
}

describe("values to write", () => {
  it.each([
    ["Double", 12.5, DataType.Double],
    ["Float", -1.25, DataType.Float],
    ["Int16", -300, DataType.Int16],
    ["UInt16", 65535, DataType.UInt16],
    ["Byte", 255, DataType.Byte],
    ["SByte", -128, DataType.SByte],
    ["Int32", -2147483648, DataType.Int32],
    ["UInt32", 4294967295, DataType.UInt32],
  ] as const)("sends a %s as that data type", (type, value, dataType) => {
    expect(variantForWrite("METH", tag(type, { min: -1e10, max: 1e10 }), value)).toEqual({ dataType, value });
  });

  it("sends Booleans from true/false or 0/1", () => {
    expect(variantForWrite("METH", tag("Boolean", { min: 0, max: 1 }), true)).toEqual({
      dataType: DataType.Boolean,
      value: true,
    });
    expect(variantForWrite("METH", tag("Boolean", { min: 0, max: 1 }), 0)).toEqual({
      dataType: DataType.Boolean,
      value: false,
    });
  });

  it.each([
    ["read-only tag", () => variantForWrite("METH", tag("Double"), 1), ErrorCode.NOT_WRITABLE],
    [
      "above the limit",
      () => variantForWrite("METH", tag("Double", { min: 0, max: 52 }), 52.01),
      ErrorCode.OUT_OF_LIMITS,
    ],
    [
      "below the limit",
      () => variantForWrite("METH", tag("Double", { min: 0, max: 52 }), -0.1),
      ErrorCode.OUT_OF_LIMITS,
    ],
    [
      "NaN",
      () => variantForWrite("METH", tag("Double", { min: 0, max: 52 }), Number.NaN),
      ErrorCode.BAD_INPUT,
    ],
    [
      "Infinity",
      () => variantForWrite("METH", tag("Double", { min: 0, max: 52 }), Number.NEGATIVE_INFINITY),
      ErrorCode.BAD_INPUT,
    ],
    [
      "boolean to a Double",
      () => variantForWrite("METH", tag("Double", { min: 0, max: 52 }), true),
      ErrorCode.BAD_INPUT,
    ],
    [
      "fraction to an Int16",
      () => variantForWrite("METH", tag("Int16", { min: 0, max: 52 }), 1.5),
      ErrorCode.BAD_INPUT,
    ],
    [
      "beyond the Byte range",
      () => variantForWrite("METH", tag("Byte", { min: -1000, max: 1000 }), 256),
      ErrorCode.OUT_OF_LIMITS,
    ],
    [
      "beyond the Float range",
      () => variantForWrite("METH", tag("Float", { min: -1e300, max: 1e300 }), 1e39),
      ErrorCode.OUT_OF_LIMITS,
    ],
    [
      "2 to a Boolean",
      () => variantForWrite("METH", tag("Boolean", { min: 0, max: 1 }), 2),
      ErrorCode.BAD_INPUT,
    ],
    [
      "true outside [0, 0]",
      () => variantForWrite("METH", tag("Boolean", { min: 0, max: 0 }), true),
      ErrorCode.OUT_OF_LIMITS,
    ],
  ])("refuses %s", (_what, f, code) => {
    expect(refusal(f)).toBe(code);
  });
});

describe("subscription counts", () => {
  const unit = (publishingIntervalMs: number, keepAliveMs: number) =>
    ({ publishingIntervalMs, keepAliveMs }) as OpcuaUnitConfig;

  it("asks for a keep-alive about every keepAliveMs and a lifetime of at least three of them", () => {
    expect(subscriptionCounts(unit(100, 5_000))).toEqual({
      publishingInterval: 100,
      maxKeepAliveCount: 50,
      lifetimeCount: 150,
    });
    const fast = subscriptionCounts(unit(10, 1_000));
    expect(fast.maxKeepAliveCount * fast.publishingInterval).toBe(1_000);
    expect(fast.lifetimeCount).toBeGreaterThanOrEqual(3 * fast.maxKeepAliveCount);
  });

  it("never requests publishing interval 0 (the client would make it 100 ms)", () => {
    expect(subscriptionCounts(unit(0, 1_000)).publishingInterval).toBe(1);
  });

  it("caps the keep-alive count for very fast publishing", () => {
    const c = subscriptionCounts(unit(1, 60_000));
    expect(c.maxKeepAliveCount).toBe(1_000);
    expect(c.lifetimeCount).toBeGreaterThanOrEqual(3 * c.maxKeepAliveCount);
  });
});
