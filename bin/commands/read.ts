/**
 * `plantbridge read FILE UNIT.tag… [--watch] [--interval S] [--json]`: reads tags of the plant file
 * from the units, through the same adapters as `run`. All tags of one unit are read in one call
 * (the adapter's planner merges Modbus registers into as few requests as it can; OPC UA reads
 * them in one Read). Exit 1 when a unit or a tag fails: each failure is named `UNIT.tag: reason`.
 */
import type { Reading } from "../../adapters/types.ts";
import { errorMessage } from "../../lib/errors.ts";
import {
  byUnit,
  commonOptions,
  ExitCode,
  findTags,
  loadPlant,
  type NamedTag,
  parseCommandLine,
  seconds,
} from "../commissioning/command-line.ts";
import {
  columnWidths,
  readingJson,
  readingRow,
  readingTable,
  type TagReading,
} from "../commissioning/reading-format.ts";
import { type Commissioning, commissioning, withUnitLink } from "../commissioning/unit-links.ts";

export const readUsage =
  "plantbridge read FILE UNIT.tag... [--watch] [--interval S] [--json] [--var DIR] [--log-level LEVEL]";

export async function readCommand(args: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    ...commonOptions,
    watch: { type: "boolean" },
    interval: { type: "string" },
    json: { type: "boolean" },
  });
  const [file, ...specs] = positionals;
  const intervalMs = seconds("--interval", values.interval, 1) * 1000;
  const plant = await loadPlant(file, values.var);
  const tags = findTags(plant, specs);
  const context = commissioning(plant, values["log-level"]);
  if (values.watch === true) return watch(tags, context, intervalMs, values.json === true);
  return readOnce(tags, context, values.json === true);
}

function withUnit(tag: NamedTag, reading: Reading): TagReading {
  return {
    id: tag.id,
    reading,
    ...(tag.tag.engineeringUnit !== undefined ? { engineeringUnit: tag.tag.engineeringUnit } : {}),
  };
}

async function readOnce(tags: readonly NamedTag[], context: Commissioning, json: boolean): Promise<number> {
  const groups = byUnit(tags);
  const failures: string[] = [];
  const results = new Map<string, TagReading>();
  await Promise.all(
    [...groups].map(async ([unit, unitTags]) => {
      try {
        const readings = await withUnitLink(unit, context, (link) =>
          link.read(unitTags.map((t) => t.tag.name)),
        );
        for (const t of unitTags) {
          const reading = readings.get(t.tag.name) ?? {
            value: null,
            quality: "bad",
            reason: `${unit.name} returned no value`,
            time: Date.now(),
            receivedAt: performance.now(),
          };
          results.set(t.id, withUnit(t, reading));
        }
      } catch (e) {
        failures.push(errorMessage(e));
      }
    }),
  );
  const rows = tags.flatMap((t) => results.get(t.id) ?? []);
  if (json) {
    for (const row of rows) process.stdout.write(`${readingJson(row)}\n`);
  } else if (rows.length > 0) {
    process.stdout.write(`${readingTable(rows).join("\n")}\n`);
  }
  for (const row of rows) {
    if (row.reading.quality === "bad") failures.push(`${row.id}: ${row.reading.reason ?? "bad quality"}`);
  }
  for (const failure of failures) process.stderr.write(`${failure}\n`);
  return failures.length === 0 ? ExitCode.ok : ExitCode.failed;
}

async function watch(
  tags: readonly NamedTag[],
  context: Commissioning,
  intervalMs: number,
  json: boolean,
): Promise<number> {
  const { watchTags } = await import("../commissioning/watch.ts");
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  // Widths from the tag names and a generous value column; a longer value just pushes the line.
  const sample = tags.map((t) =>
    withUnit(t, { value: 1234567.891, quality: "good", time: Date.now(), receivedAt: 0, reason: "" }),
  );
  const widths = columnWidths(sample);
  if (!json) process.stdout.write(`${readingTable([], widths)[0]}\n`);
  try {
    await watchTags(byUnit(tags), context, {
      intervalMs,
      signal: stop.signal,
      print: (row) => process.stdout.write(`${json ? readingJson(row) : readingRow(row, widths)}\n`),
    });
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  return ExitCode.ok;
}
