import { createHash, randomBytes } from "node:crypto";
import { copyFile, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Curve, loadCurve } from "../../../calibration/curve.ts";
import { createTransform, loadTransform, type TransformResult } from "../../../calibration/transform.ts";
import { ErrorCode, isPlantbridgeError } from "../../../lib/errors.ts";
import type { TransformConfig } from "../../../schemas/plant-types.ts";

const repo = fileURLToPath(new URL("../../../", import.meta.url));
const referenceFile = join(repo, "calibration/pemel-current-h2flow.txt");
const goldenFile = join(repo, "test/fixtures/calibration/reference-currents.json");

/** The reference loop: H2 demand (column 1) → stack current (column 0). */
const reference: TransformConfig = {
  curve: { file: referenceFile, inputColumn: 1, outputColumn: 0, atOrAboveTop: 52, belowBottom: 0 },
  minimum: { value: 8, replacement: 0 },
  round: "half-even",
  clamp: { min: 0, max: 52 },
};

type GoldenRow = [demand: number, current: number, raw: number | null, rule: string, kind: string];
interface Golden {
  curveSha256: string;
  count: number;
  columns: string[];
  rows: GoldenRow[];
}

let curve: Curve;
let golden: Golden;
beforeAll(async () => {
  curve = await loadCurve(referenceFile, { lookupColumns: [1] });
  golden = JSON.parse(await readFile(goldenFile, "utf8")) as Golden;
});

function mismatches(transform: (x: number) => TransformResult, rows: GoldenRow[]): string[] {
  const out: string[] = [];
  for (const [demand, current, raw, rule, kind] of rows) {
    const r = transform(demand);
    if (!r.ok) {
      out.push(`${kind} ${demand}: error ${r.error.message}`);
    } else if (r.value !== current || r.rule !== rule || (raw !== null && !Object.is(r.raw, raw))) {
      out.push(
        `${kind} ${demand}: got ${r.value} (${r.rule}, raw ${r.raw}), want ${current} (${rule}, raw ${raw})`,
      );
    }
  }
  return out;
}

describe("the golden table from the Python oracle", () => {
  it("was computed on this very curve file", async () => {
    const hash = createHash("sha256")
      .update(await readFile(referenceFile))
      .digest("hex");
    expect(golden.curveSha256).toBe(hash);
    expect(golden.rows).toHaveLength(golden.count);
    expect(golden.columns).toEqual(["demand", "current", "raw", "rule", "kind"]);
  });

  it("covers the ends, every point, ties, negatives, above the top and thousands of random demands", () => {
    const demands = new Set(golden.rows.map((r) => r[0]));
    for (const [, flow] of curve.rows as [number, number][]) {
      expect(demands.has(flow)).toBe(true);
      expect(demands.has(flow + 1e-9) && demands.has(flow - 1e-9)).toBe(true);
      expect(demands.has(flow + 0.01) && demands.has(flow - 0.01)).toBe(true);
    }
    const kinds = new Map<string, number>();
    for (const r of golden.rows) kinds.set(r[4], (kinds.get(r[4]) ?? 0) + 1);
    expect(kinds.get("midpoint")).toBe(52);
    expect(kinds.get("random")).toBeGreaterThanOrEqual(3000);
    expect(kinds.get("negative")).toBeGreaterThan(0);
    expect(kinds.get("above-top")).toBeGreaterThan(0);
    // Exact half-way currents where round-half-even goes DOWN to the even integer.
    const evenTies = golden.rows.filter(
      (r) => r[2] !== null && r[2] % 1 === 0.5 && r[1] === r[2] - 0.5 && r[1] % 2 === 0,
    );
    expect(evenTies.length).toBeGreaterThan(10);
  });

  it("createTransform with the reference loop's settings gives exactly the golden current for every row", () => {
    const transform = createTransform(reference, curve);
    expect(mismatches(transform, golden.rows)).toEqual([]);
  });

  it("would catch rounding half-up instead of half-even", () => {
    const transform = createTransform({ ...reference, round: "half-up" }, curve);
    expect(mismatches(transform, golden.rows).length).toBeGreaterThan(10);
  });
});

describe("createTransform rules", () => {
  it("refuses NaN, +Infinity and -Infinity as bad input, naming the loop's unit and tag", () => {
    const transform = createTransform(reference, curve, { unit: "METH", tag: "h2_demand" });
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const r = transform(bad);
      expect(r.ok).toBe(false);
      if (r.ok) continue;
      expect(isPlantbridgeError(r.error, ErrorCode.BAD_INPUT)).toBe(true);
      expect(r.error.origin).toEqual({ unit: "METH", tag: "h2_demand" });
      expect(r.error.describe()).toMatch(
        /^METH\.h2_demand: the input \(H2_Flowrate_\[Nl_per_min\]\) is (NaN|Infinity|-Infinity), not a finite/,
      );
    }
  });

  it("names the branch taken", () => {
    const transform = createTransform(reference, curve);
    expect(transform(18.4)).toEqual({
      ok: true,
      value: 52,
      rule: "at-or-above-top",
      clamped: false,
      raw: 52,
    });
    expect(transform(-0.5)).toEqual({ ok: true, value: 0, rule: "below-bottom", clamped: false, raw: 0 });
    expect(transform(2.6)).toMatchObject({ ok: true, value: 0, rule: "minimum" });
    expect(transform(2.7)).toMatchObject({ ok: true, value: 8, rule: "curve" });
    expect(transform(16.45)).toEqual({
      ok: true,
      value: 46,
      rule: "curve",
      clamped: false,
      raw: 46.49999999999999,
    });
  });

  it("clamps every branch and says so", () => {
    const transform = createTransform({ ...reference, clamp: { min: 10, max: 40 } }, curve);
    expect(transform(18.4)).toMatchObject({ ok: true, value: 40, rule: "at-or-above-top", clamped: true });
    expect(transform(-1)).toMatchObject({ ok: true, value: 10, rule: "below-bottom", clamped: true });
    expect(transform(10.7)).toMatchObject({ ok: true, value: 30, rule: "curve", clamped: false });
  });

  it("without a curve transforms the input itself", () => {
    const transform = createTransform({ round: "half-even", minimum: { value: 1, replacement: -1 } });
    expect(transform(2.5)).toEqual({ ok: true, value: 2, rule: "direct", clamped: false, raw: 2.5 });
    expect(transform(0.5)).toMatchObject({ value: -1, rule: "minimum" });
    expect(createTransform({ round: "none" })(0.1)).toMatchObject({ value: 0.1, rule: "direct" });
  });

  it("needs the curve loaded, and refuses a curve it has no settings for", () => {
    expect(() => createTransform(reference)).toThrow(/no curve was loaded/);
    expect(() => createTransform({ round: "none" }, curve)).toThrow(/no curve settings/);
  });

  it("refuses unusable settings before the plant starts", () => {
    const inverted = (): unknown => createTransform({ ...reference, clamp: { min: 52, max: 0 } }, curve);
    expect(inverted).toThrow(/min 52 is above its max 0/);
    const noColumn = (): unknown =>
      createTransform({ ...reference, curve: { ...reference.curve!, outputColumn: 2 } }, curve);
    expect(noColumn).toThrow(/no column 2/);
    const notFinite = (): unknown =>
      createTransform({ ...reference, minimum: { value: Number.NaN, replacement: 0 } }, curve);
    expect(notFinite).toThrow(/not a finite number/);
  });
});

describe("loading the curve once", () => {
  const dir = join(repo, "var/test", `calibration-${randomBytes(4).toString("hex")}`);
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("keeps working from memory when the file changes or disappears after start-up", async () => {
    await mkdir(dir, { recursive: true });
    const file = join(dir, "curve.txt");
    await copyFile(referenceFile, file);
    const transform = await loadTransform(
      { ...reference, curve: { ...reference.curve!, file } },
      { unit: "METH", tag: "h2_demand" },
    );
    expect(transform(16.3)).toMatchObject({ value: 46 });
    await writeFile(file, "Current_[A];H2_Flowrate_[Nl_per_min]\n52;1\n0;0\n");
    expect(transform(16.3)).toMatchObject({ value: 46 });
    await rm(file);
    expect(transform(16.3)).toMatchObject({ value: 46 });
  });

  it("reports a broken curve file when the transform is built", async () => {
    const broken = fileURLToPath(
      new URL("../../fixtures/calibration/broken/not-monotonic.txt", import.meta.url),
    );
    const e = await loadTransform({ ...reference, curve: { ...reference.curve!, file: broken } }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(isPlantbridgeError(e, ErrorCode.CALIBRATION)).toBe(true);
    expect((e as { origin: { line: number } }).origin.line).toBe(5);
  });
});
