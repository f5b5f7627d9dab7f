/**
 * `plantbridge write FILE UNIT.tag VALUE [--yes]`: writes one writable tag, within its limits,
 * through the same adapter as the control loop. A tag that is not writable or a value outside the
 * limits is refused before the unit is even connected. On a terminal it asks first, showing the
 * current value, the new one and the limits; `--yes` skips the question (and is required when
 * there is no terminal to ask on). After the write it reads the tag back and prints it.
 */
import type { Reading, TagValue } from "../../adapters/types.ts";
import { errorMessage } from "../../lib/errors.ts";
import type { TagConfig } from "../../schemas/plant-types.ts";
import {
  commonOptions,
  ExitCode,
  findTag,
  loadPlant,
  parseCommandLine,
  UsageError,
} from "../commissioning/command-line.ts";
import { canAsk, confirm } from "../commissioning/confirm.ts";
import { formatValue } from "../commissioning/reading-format.ts";
import { commissioning, withUnitLink } from "../commissioning/unit-links.ts";
import { checkWrite, parseTagValue } from "../commissioning/write-check.ts";

export async function writeCommand(args: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    ...commonOptions,
    yes: { type: "boolean", short: "y" },
  });
  const [file, spec, text, ...extra] = positionals;
  if (spec === undefined || text === undefined)
    throw new UsageError("name the plant file, UNIT.tag and VALUE");
  if (extra.length > 0) throw new UsageError(`one tag and one value only; extra: ${extra.join(" ")}`);
  const plant = await loadPlant(file, values.var);
  const { unit, tag, id } = findTag(plant, spec);
  const value = parseTagValue(text);
  try {
    await checkWrite(unit, tag, value);
  } catch (e) {
    process.stderr.write(`${errorMessage(e)}\n`);
    return ExitCode.failed;
  }
  const yes = values.yes === true;
  if (!yes && !canAsk()) {
    throw new UsageError("no terminal to confirm on: give --yes to write without asking");
  }
  const context = commissioning(plant, values["log-level"]);
  const show = (v: TagValue | null) => withUnit(formatValue(v), tag);
  try {
    return await withUnitLink(unit, context, async (link) => {
      const before = (await link.read([tag.name])).get(tag.name);
      const now =
        before?.quality === "good" ? show(before.value) : `unreadable (${before?.reason ?? "no value"})`;
      const limits =
        tag.writable === undefined ? "" : `${show(tag.writable.min)} .. ${show(tag.writable.max)}`;
      if (!yes) {
        const question = `${id}: now ${now}; write ${show(value)} (limits ${limits})?`;
        if (!(await confirm(question))) {
          process.stderr.write(`${id}: not written\n`);
          return ExitCode.ok;
        }
      }
      await link.write(tag.name, value);
      const after = (await link.read([tag.name])).get(tag.name);
      process.stdout.write(`${id}: was ${now}, wrote ${show(value)}, reads back ${readBack(after, tag)}\n`);
      if (after?.quality === "good" && after.value !== value) {
        process.stderr.write(
          `${id}: reads back ${show(after.value)}, not the ${show(value)} written (the unit rounds, scales or limits it)\n`,
        );
      }
      return ExitCode.ok;
    });
  } catch (e) {
    process.stderr.write(`${errorMessage(e)}\n`);
    return ExitCode.failed;
  }
}

function withUnit(value: string, tag: TagConfig): string {
  return tag.engineeringUnit === undefined ? value : `${value} ${tag.engineeringUnit}`;
}

function readBack(reading: Reading | undefined, tag: TagConfig): string {
  if (reading === undefined) return "nothing (no value)";
  if (reading.quality !== "good") return `bad quality (${reading.reason ?? "no reason given"})`;
  return `${withUnit(formatValue(reading.value), tag)} (good, ${new Date(reading.time).toISOString()})`;
}
