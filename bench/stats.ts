/**
 * The bench's arithmetic and its printed table: percentiles of latencies, medians over repeats,
 * ratios, and one text table per figure (plantbridge, its baseline(s), the ratios, the goal).
 */

/** One way of doing a job: plantbridge's, or a baseline measured in the same run. */
export interface Variant {
  label: string;
  role: "plantbridge" | "baseline";
  /** Figure name → median over the repeats (e.g. `p50`, `samples/s`). */
  figures: Record<string, number>;
  /** The figures of each repeat, in run order. */
  repeats: Record<string, number>[];
}

export interface Ratio {
  /** e.g. "p50: baseline / plantbridge". */
  label: string;
  value: number;
}

/** One bench's outcome, as printed and as written to var/bench/results.json. */
export interface SectionResult {
  id: string;
  title: string;
  /** Column order of the figures, each with its unit, e.g. `{ name: "p50", unit: "ms" }`. */
  columns: { name: string; unit: string }[];
  variants: Variant[];
  ratios: Ratio[];
  /** The DESIGN's goal and reference figures from STACK.md, where they exist. */
  goal?: string;
  notes: string[];
  /** Raw measurements (e.g. every latency of every run), for results.json only. */
  raw?: Record<string, number[][]>;
  /**
   * The stage's headline figures under flat keys (`ingest.ratio_vs_copy_text`, `e2e.max_samples_per_s`),
   * each key starting with the stage's own prefix; run.ts merges every stage's into bench/results.json.
   */
  flat?: Record<string, number>;
}

/** Every stage's flat figures in one object; a key two stages both give is an error of the bench. */
export function mergeFlat(sections: readonly Pick<SectionResult, "id" | "flat">[]): Record<string, number> {
  const merged: Record<string, number> = {};
  const owner = new Map<string, string>();
  for (const section of sections) {
    for (const [key, value] of Object.entries(section.flat ?? {})) {
      const first = owner.get(key);
      if (first !== undefined) throw new Error(`bench: ${section.id} and ${first} both report ${key}`);
      owner.set(key, section.id);
      merged[key] = Number.isFinite(value) ? value : Number.NaN;
    }
  }
  return merged;
}

/** Linear-interpolated percentile (0..100) of unsorted values; NaN for none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (Math.min(100, Math.max(0, p)) / 100) * (sorted.length - 1);
  const low = Math.floor(rank);
  const high = Math.ceil(rank);
  const a = sorted[low] ?? Number.NaN;
  const b = sorted[high] ?? Number.NaN;
  return a + (b - a) * (rank - low);
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/** p50/p95/p99/max and the count of a latency sample. */
export function latencySummary(latencies: readonly number[]): Record<string, number> {
  return {
    n: latencies.length,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
    max: latencies.length === 0 ? Number.NaN : Math.max(...latencies),
  };
}

/** A variant from its repeats: every figure is the median over the repeats. */
export function variantOf(label: string, role: Variant["role"], repeats: Record<string, number>[]): Variant {
  const names = [...new Set(repeats.flatMap((r) => Object.keys(r)))];
  const figures: Record<string, number> = {};
  for (const name of names) {
    figures[name] = median(repeats.map((r) => r[name] ?? Number.NaN).filter((v) => !Number.isNaN(v)));
  }
  return { label, role, figures, repeats };
}

/** `numerator / denominator` of one figure of two variants. */
export function ratioOf(label: string, numerator: Variant, denominator: Variant, figure: string): Ratio {
  const a = numerator.figures[figure] ?? Number.NaN;
  const b = denominator.figures[figure] ?? Number.NaN;
  return { label, value: b === 0 ? Number.NaN : a / b };
}

/** Whole numbers (and anything from 100 up) with thousands separators, 3 significant digits below 100. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return "n/a";
  if (Number.isInteger(value) || Math.abs(value) >= 100) return Math.round(value).toLocaleString("en-US");
  if (value === 0) return "0";
  return value.toPrecision(3);
}

function pad(text: string, width: number, right: boolean): string {
  return right ? text.padStart(width) : text.padEnd(width);
}

/** The section as text lines: a table of variants × figures, then ratios, goal and notes. */
export function formatSection(section: SectionResult): string[] {
  const header = ["variant", ...section.columns.map((c) => (c.unit ? `${c.name} (${c.unit})` : c.name))];
  const rows = section.variants.map((v) => [
    `${v.role === "plantbridge" ? "plantbridge" : "baseline   "}  ${v.label}`,
    ...section.columns.map((c) => formatNumber(v.figures[c.name] ?? Number.NaN)),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => pad(cell, widths[i] ?? 0, i > 0))
      .join("  ")
      .trimEnd();
  const lines = [`## ${section.title}`, line(header), line(widths.map((w) => "-".repeat(w)))];
  for (const row of rows) lines.push(line(row));
  for (const ratio of section.ratios) lines.push(`ratio  ${ratio.label}: ${formatNumber(ratio.value)}×`);
  if (section.goal) lines.push(`goal   ${section.goal}`);
  for (const note of section.notes) lines.push(`note   ${note}`);
  return lines;
}
