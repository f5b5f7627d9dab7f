import { describe, expect, it } from "vitest";
import { formatWall, wallClockIn } from "../../../adapters/postgres/local-time.ts";

const berlin = wallClockIn("Europe/Berlin");
const wall = (epochMs: number) => formatWall(berlin(epochMs));

describe("the plant's wall time (Europe/Berlin)", () => {
  it("is UTC+1 in winter and UTC+2 in summer, to the millisecond", () => {
    expect(wall(Date.UTC(2025, 0, 15, 11, 59, 59, 999))).toBe("2025-01-15 12:59:59.999");
    expect(wall(Date.UTC(2025, 6, 15, 10, 0, 0, 7))).toBe("2025-07-15 12:00:00.007");
  });

  it("repeats the hour 02:00–03:00 on the last Sunday of October", () => {
    // 00:30 UTC is 02:30 CEST; an hour later, 01:30 UTC, the clocks went back: 02:30 CET again.
    const first = Date.UTC(2025, 9, 26, 0, 30);
    const second = Date.UTC(2025, 9, 26, 1, 30);
    expect(wall(first)).toBe("2025-10-26 02:30:00.000");
    expect(berlin(second)).toBe(berlin(first));
    expect(wall(Date.UTC(2025, 9, 26, 2, 0))).toBe("2025-10-26 03:00:00.000");
  });

  it("skips the hour 02:00–03:00 on the last Sunday of March", () => {
    expect(wall(Date.UTC(2025, 2, 30, 0, 59, 59))).toBe("2025-03-30 01:59:59.000");
    expect(wall(Date.UTC(2025, 2, 30, 1, 0, 0))).toBe("2025-03-30 03:00:00.000");
  });

  it("handles instants before 1970 and leap days", () => {
    expect(formatWall(wallClockIn("UTC")(-1))).toBe("1969-12-31 23:59:59.999");
    expect(wall(Date.UTC(2024, 1, 29, 22, 0))).toBe("2024-02-29 23:00:00.000");
  });
});
