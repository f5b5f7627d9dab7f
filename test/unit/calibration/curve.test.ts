import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { type CurveParseOptions, loadCurve, parseCurve } from "../../../calibration/curve.ts";
import { checkLookupColumn } from "../../../calibration/monotonic.ts";
import { ErrorCode, isPlantbridgeError, type PlantbridgeError } from "../../../lib/errors.ts";

const referenceFile = fileURLToPath(
  new URL("../../../calibration/pemel-current-h2flow.txt", import.meta.url),
);
const fixture = (name: string): string =>
  fileURLToPath(new URL(`../../fixtures/calibration/${name}`, import.meta.url));

async function loadError(file: string, options?: CurveParseOptions): Promise<PlantbridgeError> {
  const e = await loadCurve(file, options).then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!isPlantbridgeError(e, ErrorCode.CALIBRATION))
    throw new Error(`expected a calibration error, got ${String(e)}`);
  return e;
}

function parseError(text: string, options?: CurveParseOptions): PlantbridgeError {
  try {
    parseCurve(text, "inline.txt", options);
  } catch (e) {
    if (isPlantbridgeError(e, ErrorCode.CALIBRATION)) return e;
    throw e;
  }
  throw new Error("expected a calibration error");
}

describe("the reference curve file", () => {
  it("is the original tool's file byte for byte", async () => {
    const bytes = await readFile(referenceFile);
    expect(bytes.length).toBe(414);
    expect(createHash("sha256").update(bytes).digest("hex")).toBe(
      "5e772336d91562609069948d780a43578cfb23ea36584168e7b70c2049d16a90",
    );
  });

  it("parses into 53 points from 52 A down to 0 A, in file order", async () => {
    const curve = await loadCurve(referenceFile, { lookupColumns: [0, 1] });
    expect(curve.hasHeader).toBe(true);
    expect(curve.delimiter).toBe(";");
    expect(curve.columns).toEqual(["Current_[A]", "H2_Flowrate_[Nl_per_min]"]);
    expect(curve.rows).toHaveLength(53);
    expect(curve.rows[0]).toEqual([52, 18.4]);
    expect(curve.rows[8]).toEqual([44, 15.4]);
    expect(curve.rows[52]).toEqual([0, 0]);
    expect(curve.lines[0]).toBe(2);
    expect(curve.lines[52]).toBe(54);
    expect(curve.fieldColumns[0]).toEqual([1, 4]);
    expect(checkLookupColumn(curve, 1)).toBe("descending");
    expect(checkLookupColumn(curve, 0)).toBe("descending");
  });
});

describe("parseCurve formats", () => {
  it("reads CSV without a header, with CRLF, blank lines and # comments", async () => {
    const curve = await loadCurve(fixture("no-header.csv"), { lookupColumns: [1] });
    expect(curve.hasHeader).toBe(false);
    expect(curve.delimiter).toBe(",");
    expect(curve.columns).toEqual(["column 0", "column 1"]);
    expect(curve.rows).toEqual([
      [52, 18.4],
      [51, 18.1],
      [50, 17.8],
    ]);
    expect(curve.lines).toEqual([3, 4, 6]);
    expect(curve.fieldColumns[1]).toEqual([3, 8]);
  });

  it("reads a CSV with a byte-order mark and a quoted header, ascending", async () => {
    const curve = await loadCurve(fixture("ascending-quoted.csv"), { lookupColumns: [0, 1] });
    expect(curve.columns).toEqual(["Current [A]", "H2 flow [Nl/min]"]);
    expect(curve.rows).toEqual([
      [0, 0],
      [8, 2.7],
      [16, 5.7],
    ]);
    expect(checkLookupColumn(curve, 1)).toBe("ascending");
  });

  it("takes a first line with any non-numeric field as the header", () => {
    const curve = parseCurve("x;2.5 m3/h\n1;2\n3;4\n", "inline.txt");
    expect(curve.columns).toEqual(["x", "2.5 m3/h"]);
    expect(curve.rows).toEqual([
      [1, 2],
      [3, 4],
    ]);
  });

  it("reads exponents, signs and leading/trailing points as the doubles Python's float() gives", () => {
    const curve = parseCurve("a;b\n-1.5e1;.5\n+2;3.\n1E-3;0.1\n", "inline.txt");
    expect(curve.rows).toEqual([
      [-15, 0.5],
      [2, 3],
      [0.001, 0.1],
    ]);
  });

  it("needs two columns", () => {
    const e = parseError("52\n51\n");
    expect(e.origin.line).toBe(1);
    expect(e.message).toMatch(/at least two columns/);
  });

  it("rejects an empty file", () => {
    const e = parseError("# only a comment\n\n");
    expect(e.message).toMatch(/no points/);
  });

  it("leaves a non-monotonic column alone unless it is looked up by", () => {
    const text = "a;b\n1;5\n2;3\n3;4\n";
    expect(parseCurve(text, "inline.txt").rows).toHaveLength(3);
    const e = parseError(text, { lookupColumns: [1] });
    expect(e.origin).toMatchObject({ line: 4, keyPath: "b" });
  });

  it("names the columns when a lookup column does not exist", () => {
    const e = parseError("a;b\n1;5\n2;3\n", { lookupColumns: [2] });
    expect(e.message).toMatch(/no column 2; its columns are 0 = a, 1 = b/);
  });
});

describe("broken curve files", () => {
  const cases: {
    file: string;
    line: number;
    column?: number;
    keyPath?: string;
    message: RegExp;
    lookup?: number[];
  }[] = [
    {
      file: "wrong-field-count.txt",
      line: 4,
      message:
        /this point has 3 value\(s\) but the header on line 1 has 2 \(Current_\[A\], H2_Flowrate_\[Nl_per_min\]\)/,
    },
    {
      file: "not-a-number.txt",
      line: 5,
      column: 4,
      keyPath: "H2_Flowrate_[Nl_per_min]",
      message: /H2_Flowrate_\[Nl_per_min\] "approx. 17" is not a number/,
    },
    {
      file: "nan-value.txt",
      line: 5,
      column: 4,
      keyPath: "H2_Flowrate_[Nl_per_min]",
      message: /"NaN" is not a finite number/,
    },
    {
      file: "overflow.txt",
      line: 3,
      column: 4,
      keyPath: "H2_Flowrate_[Nl_per_min]",
      message: /"1e999" is too large to be a number/,
    },
    {
      file: "decimal-comma.txt",
      line: 2,
      column: 4,
      keyPath: "H2_Flowrate_[Nl_per_min]",
      message: /"18,4" uses a decimal comma; write decimals with a point \(18\.4\)/,
    },
    {
      file: "decimal-comma.csv",
      line: 4,
      message: /has 3 value\(s\).*a decimal comma\? write decimals with a point/,
    },
    {
      file: "not-monotonic.txt",
      line: 5,
      column: 4,
      keyPath: "H2_Flowrate_[Nl_per_min]",
      message:
        /H2_Flowrate_\[Nl_per_min\] goes up from 17\.8 \(line 4\) to 17\.9, but it falls everywhere before; the column used for the lookup must only rise or only fall/,
      lookup: [1],
    },
    {
      file: "duplicate-flow.txt",
      line: 4,
      column: 4,
      keyPath: "H2_Flowrate_[Nl_per_min]",
      message: /H2_Flowrate_\[Nl_per_min\] 18\.1 repeats the value on line 3/,
      lookup: [1],
    },
    {
      file: "single-point.txt",
      line: 4,
      message: /only 1 point; it needs at least 2 points/,
    },
    {
      file: "unnamed-column.txt",
      line: 1,
      column: 13,
      message: /column 1 of the header has no name/,
    },
    {
      file: "empty-value.txt",
      line: 2,
      column: 1,
      keyPath: "column 0",
      message: /column 0 is empty/,
    },
  ];

  for (const c of cases) {
    it(`${c.file}: line ${c.line}`, async () => {
      const file = fixture(`broken/${c.file}`);
      const e = await loadError(file, c.lookup ? { lookupColumns: c.lookup } : undefined);
      expect(e.origin.file).toBe(file);
      expect(e.origin.line).toBe(c.line);
      if (c.column !== undefined) expect(e.origin.column).toBe(c.column);
      if (c.keyPath !== undefined) expect(e.origin.keyPath).toBe(c.keyPath);
      expect(e.message).toMatch(c.message);
      expect(e.describe()).toContain(`${file}:${c.line}:`);
    });
  }

  it("a missing file is a calibration error naming the file", async () => {
    const file = fixture("broken/does-not-exist.txt");
    const e = await loadError(file);
    expect(e.origin.file).toBe(file);
    expect(e.message).toMatch(/does not exist/);
  });
});
