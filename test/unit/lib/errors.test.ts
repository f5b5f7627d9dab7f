import { describe, expect, it } from "vitest";
import { ErrorCode, errorMessage, isPlantbridgeError, PlantbridgeError } from "../../../lib/errors.ts";

describe("PlantbridgeError", () => {
  it("names file, line, column and key path for config errors", () => {
    const e = new PlantbridgeError(ErrorCode.CONFIG, "must be a number", {
      file: "config/plant.yaml",
      line: 12,
      column: 7,
      keyPath: "units.PEMEL.port",
    });
    expect(e.describe()).toBe("config/plant.yaml:12:7 units.PEMEL.port: must be a number");
    expect(e.code).toBe("PB_ERR_CONFIG");
  });

  it("names unit and tag for run-time errors", () => {
    const e = new PlantbridgeError(ErrorCode.OUT_OF_LIMITS, "60 is above the limit 52", {
      unit: "PEMEL",
      tag: "current_setpoint",
    });
    expect(e.describe()).toBe("PEMEL.current_setpoint: 60 is above the limit 52");
    expect(isPlantbridgeError(e, ErrorCode.OUT_OF_LIMITS)).toBe(true);
    expect(isPlantbridgeError(e, ErrorCode.TIMEOUT)).toBe(false);
  });

  it("reads the message of plain objects that libraries reject with", () => {
    expect(errorMessage({ err: "Timeout", message: "Req timed out" })).toBe("Req timed out");
    expect(errorMessage("boom")).toBe("boom");
  });
});
