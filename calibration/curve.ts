/**
 * Calibration curves: a measured table such as stack current (A) against H2 flow (Nl/min).
 *
 * A curve file is text, one point per line, values separated by `;` (the original tool's
 * format, with a header line) or `,` (CSV, header optional). Blank lines and `#` comments are
 * ignored, CRLF is accepted, decimals are written with a point. Rows keep their FILE ORDER:
 * the reference lookup walks them in that order and its results depend on it.
 */
import { readFile } from "node:fs/promises";
import { ErrorCode, PlantbridgeError } from "../lib/errors.ts";
import type { Curve, CurveDelimiter } from "./curve-types.ts";
import { checkLookupColumn } from "./monotonic.ts";

export type { Curve, CurveDelimiter } from "./curve-types.ts";

export interface CurveParseOptions {
  /**
   * 0-based columns that something will look up by (the input of a control loop, or the
   * output for an inverse lookup): each must be strictly monotonic, checked at parse time.
   */
  lookupColumns?: readonly number[];
}

interface Field {
  text: string;
  /** 1-based character column where the field's text starts. */
  column: number;
}

interface ContentLine {
  line: number;
  /** The line without its comment. */
  text: string;
}

const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const NOT_FINITE = /^[+-]?(?:nan|inf|infinity)$/i;
const DECIMAL_COMMA = /^[+-]?\d*,\d+$/;

/** Parses and validates a curve file's text. Throws `PB_ERR_CALIBRATION` naming file, line and column. */
export function parseCurve(text: string, file: string, options: CurveParseOptions = {}): Curve {
  const content = contentLines(text);
  const first = content[0];
  if (first === undefined) {
    throw calibrationError(file, 1, "the curve file holds no points (only blank or comment lines)");
  }
  const delimiter: CurveDelimiter = first.text.includes(";") || !first.text.includes(",") ? ";" : ",";
  const split = content.map((c) => ({ line: c.line, fields: splitFields(c.text, delimiter) }));
  const head = split[0]!;
  if (head.fields.length < 2) {
    throw calibrationError(
      file,
      head.line,
      `a curve needs at least two columns separated by ";" or ",", found one value "${head.fields[0]?.text ?? ""}"`,
    );
  }
  const hasHeader = head.fields.some((f) => !looksNumeric(f.text, delimiter));
  const columns = hasHeader ? headerNames(file, head) : head.fields.map((_, i) => `column ${i}`);
  const dataLines = hasHeader ? split.slice(1) : split;

  const rows: number[][] = [];
  const lines: number[] = [];
  const fieldColumns: number[][] = [];
  for (const data of dataLines) {
    rows.push(parseRow(file, data, columns, delimiter, hasHeader ? head.line : undefined));
    lines.push(data.line);
    fieldColumns.push(data.fields.map((f) => f.column));
  }
  if (rows.length < 2) {
    const where = lines[0] ?? head.line;
    throw calibrationError(
      file,
      where,
      `the curve has ${rows.length === 0 ? "no points" : "only 1 point"}; it needs at least 2 points to interpolate between`,
    );
  }
  const curve: Curve = { file, columns, hasHeader, delimiter, rows, lines, fieldColumns };
  for (const column of options.lookupColumns ?? []) checkLookupColumn(curve, column);
  return curve;
}

/** Reads and parses a curve file once (callers keep the result; never re-read it per cycle). */
export async function loadCurve(file: string, options: CurveParseOptions = {}): Promise<Curve> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code === "ENOENT" ? "the file does not exist" : String(e);
    throw new PlantbridgeError(
      ErrorCode.CALIBRATION,
      `cannot read the curve file: ${reason}`,
      { file },
      { cause: e },
    );
  }
  return parseCurve(text, file, options);
}

export function calibrationError(
  file: string,
  line: number,
  message: string,
  column?: number,
  keyPath?: string,
): PlantbridgeError {
  const origin: { file: string; line: number; column?: number; keyPath?: string } = { file, line };
  if (column !== undefined) origin.column = column;
  if (keyPath !== undefined) origin.keyPath = keyPath;
  return new PlantbridgeError(ErrorCode.CALIBRATION, message, origin);
}

/** Non-blank, non-comment lines with their number; a `#` starts a comment up to the line's end. */
function contentLines(text: string): ContentLine[] {
  const body = text.startsWith("\uFEFF") ? text.slice(1) : text;
  const out: ContentLine[] = [];
  body.split(/\r\n|\r|\n/).forEach((raw, index) => {
    const hash = raw.indexOf("#");
    const kept = hash >= 0 ? raw.slice(0, hash) : raw;
    if (kept.trim() === "") return;
    out.push({ line: index + 1, text: kept });
  });
  return out;
}

/** Splits a line at the delimiter; trims and unquotes each part, keeping where it starts. */
function splitFields(line: string, delimiter: CurveDelimiter): Field[] {
  const fields: Field[] = [];
  let start = 0;
  for (;;) {
    const end = line.indexOf(delimiter, start);
    const part = end < 0 ? line.slice(start) : line.slice(start, end);
    const lead = part.length - part.trimStart().length;
    let text = part.trim();
    let column = start + lead + 1;
    if (text.length >= 2 && text.startsWith('"') && text.endsWith('"')) {
      text = text.slice(1, -1).trim();
      column += 1;
    }
    fields.push({ text, column });
    if (end < 0) break;
    start = end + 1;
  }
  return fields;
}

/** A number, or something meant as one (NaN, inf, a decimal comma), so that it is reported, not taken as a header. */
function looksNumeric(text: string, delimiter: CurveDelimiter): boolean {
  return NUMBER.test(text) || NOT_FINITE.test(text) || (delimiter === ";" && DECIMAL_COMMA.test(text));
}

function headerNames(file: string, head: { line: number; fields: Field[] }): string[] {
  return head.fields.map((f, i) => {
    if (f.text === "") {
      throw calibrationError(
        file,
        head.line,
        `column ${i} of the header has no name; name every column (e.g. Current_[A];H2_Flowrate_[Nl_per_min])`,
        f.column,
      );
    }
    return f.text;
  });
}

function parseRow(
  file: string,
  data: { line: number; fields: Field[] },
  columns: readonly string[],
  delimiter: CurveDelimiter,
  headerLine: number | undefined,
): number[] {
  if (data.fields.length !== columns.length) {
    const expected = headerLine !== undefined ? `the header on line ${headerLine}` : "the first point";
    const hint =
      delimiter === "," && data.fields.length > columns.length
        ? ' (a decimal comma? write decimals with a point, e.g. 18.4, or separate the values with ";")'
        : "";
    throw calibrationError(
      file,
      data.line,
      `this point has ${data.fields.length} value(s) but ${expected} has ${columns.length} (${columns.join(", ")})${hint}`,
      1,
    );
  }
  return data.fields.map((f, i) => {
    const name = columns[i]!;
    if (f.text === "") {
      throw calibrationError(
        file,
        data.line,
        `${name} is empty; every point needs a value in every column`,
        f.column,
        name,
      );
    }
    if (delimiter === ";" && DECIMAL_COMMA.test(f.text)) {
      throw calibrationError(
        file,
        data.line,
        `${name} "${f.text}" uses a decimal comma; write decimals with a point (${f.text.replace(",", ".")}) so that no value is misread`,
        f.column,
        name,
      );
    }
    if (NOT_FINITE.test(f.text)) {
      throw calibrationError(
        file,
        data.line,
        `${name} "${f.text}" is not a finite number; a calibration point must be a measured value`,
        f.column,
        name,
      );
    }
    if (!NUMBER.test(f.text)) {
      throw calibrationError(file, data.line, `${name} "${f.text}" is not a number`, f.column, name);
    }
    const value = Number(f.text);
    if (!Number.isFinite(value)) {
      throw calibrationError(
        file,
        data.line,
        `${name} "${f.text}" is too large to be a number (it overflows to infinity)`,
        f.column,
        name,
      );
    }
    return value;
  });
}
