/** The shape of a loaded calibration curve (calibration/curve.ts parses it, the lookups read it). */

export type CurveDelimiter = ";" | ",";

export interface Curve {
  /** The file the curve came from (as given to the loader), for messages. */
  readonly file: string;
  /** Column names from the header, or `column 0`, `column 1`, … when the file has none. */
  readonly columns: readonly string[];
  readonly hasHeader: boolean;
  readonly delimiter: CurveDelimiter;
  /** One row per point, one value per column, in file order. */
  readonly rows: readonly (readonly number[])[];
  /** 1-based file line of each row. */
  readonly lines: readonly number[];
  /** 1-based character column of each value in its line (same shape as `rows`). */
  readonly fieldColumns: readonly (readonly number[])[];
}
