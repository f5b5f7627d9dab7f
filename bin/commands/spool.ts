/**
 * `plantbridge spool status|dead-letters|replay|purge FILE`: the spool of the plant in FILE
 * (`storage.spool.path` under `--var`). `status` and `dead-letters` only read and run at any time;
 * `replay` and `purge` change the spool and refuse while a plantbridge process has it open.
 */
import { resolve } from "node:path";
import { createInterface } from "node:readline/promises";
import { parseArgs } from "node:util";
import type { DeadLetterFilter } from "../../adapters/spool/dead-letter-filter.ts";
import { purgeDeadLetters, replayDeadLetters } from "../../adapters/spool/spool-maintenance.ts";
import { openSpoolReader } from "../../adapters/spool/spool-report.ts";
import { loadSpoolSettings, type SpoolSettings } from "../../schemas/load-spool-settings.ts";
import { deadLettersJson, formatDeadLetters, formatStatus, statusJson } from "./spool-output.ts";

const actions = ["status", "dead-letters", "replay", "purge"] as const;
type Action = (typeof actions)[number];

/** The options each action takes besides --var. */
const allowed: Record<Action, readonly string[]> = {
  status: ["json"],
  "dead-letters": ["json", "limit", "sink", "tag", "reason-contains"],
  replay: ["json", "sink", "tag", "reason-contains"],
  purge: ["json", "sink", "tag", "reason-contains", "yes"],
};

export const spoolUsage = "plantbridge spool status|dead-letters|replay|purge FILE [--var DIR] [options]";

interface SpoolArgs {
  action: Action;
  file: string;
  varDir?: string;
  json: boolean;
  limit: number;
  filter: DeadLetterFilter;
  yes: boolean;
}

class UsageError extends Error {}

function parseSpoolArgs(args: readonly string[]): SpoolArgs {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: {
      var: { type: "string" },
      json: { type: "boolean" },
      limit: { type: "string" },
      sink: { type: "string" },
      tag: { type: "string" },
      "reason-contains": { type: "string" },
      yes: { type: "boolean" },
    },
  });
  const [action, file, ...extra] = positionals;
  if (!actions.includes(action as Action)) throw new UsageError(`name an action: ${actions.join(", ")}`);
  if (file === undefined) throw new UsageError("name the plant file, e.g. config/plant.yaml");
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
  const act = action as Action;
  for (const key of Object.keys(values)) {
    if (key !== "var" && !allowed[act].includes(key)) throw new UsageError(`${act} takes no --${key}`);
  }
  const limit = values.limit === undefined ? 100 : Number(values.limit);
  if (!Number.isSafeInteger(limit) || limit < 1) throw new UsageError("--limit must be a whole number >= 1");
  const filter: DeadLetterFilter = {
    ...(values.sink !== undefined ? { sink: values.sink } : {}),
    ...(values.tag !== undefined ? { tag: values.tag } : {}),
    ...(values["reason-contains"] !== undefined ? { reasonContains: values["reason-contains"] } : {}),
  };
  return {
    action: act,
    file,
    ...(values.var !== undefined ? { varDir: values.var } : {}),
    json: values.json === true,
    limit,
    filter,
    yes: values.yes === true,
  };
}

export async function spoolCommand(args: readonly string[]): Promise<number> {
  let parsed: SpoolArgs;
  try {
    parsed = parseSpoolArgs(args);
  } catch (e) {
    process.stderr.write(`plantbridge spool: ${(e as Error).message}\nusage: ${spoolUsage}\n`);
    return 2;
  }
  const settings = await loadSpoolSettings(
    parsed.file,
    parsed.varDir !== undefined ? { varDir: resolve(parsed.varDir) } : {},
  );
  switch (parsed.action) {
    case "status":
      return status(settings, parsed);
    case "dead-letters":
      return deadLetters(settings, parsed);
    case "replay":
      return replay(settings, parsed);
    case "purge":
      return await purge(settings, parsed);
  }
}

function print(json: boolean, value: unknown, text: string): void {
  process.stdout.write(json ? `${JSON.stringify(value)}\n` : text);
}

function status(settings: SpoolSettings, args: SpoolArgs): number {
  const reader = openSpoolReader(settings.spool.path);
  try {
    const report = reader.report();
    print(args.json, statusJson(report, settings.spool), formatStatus(report, settings.spool));
    return 0;
  } finally {
    reader.close();
  }
}

function deadLetters(settings: SpoolSettings, args: SpoolArgs): number {
  const reader = openSpoolReader(settings.spool.path);
  try {
    const letters = reader.deadLetters(args.filter, args.limit);
    print(args.json, deadLettersJson(letters), formatDeadLetters(letters));
    return 0;
  } finally {
    reader.close();
  }
}

function replay(settings: SpoolSettings, args: SpoolArgs): number {
  const { path, maxSamples, synchronous } = settings.spool;
  const r = replayDeadLetters({ path, maxSamples, synchronous }, args.filter);
  const seqs = r.firstSeq === undefined ? "" : ` (seq ${r.firstSeq}..${r.lastSeq})`;
  const notes = [
    r.stillHeld > 0 ? `${r.stillHeld} left: the spool still holds a sample with the same tag and time` : "",
    r.noRoom > 0 ? `${r.noRoom} left: the spool would hold more than maxSamples (${maxSamples})` : "",
    r.conflictsLeft > 0 ? `${r.conflictsLeft} conflicts left out (name them with --sink conflict)` : "",
  ].filter((n) => n !== "");
  print(
    args.json,
    r,
    `replayed ${r.replayed} dead letters into ${path} as new pending samples${seqs}` +
      `${notes.map((n) => `\n  ${n}`).join("")}\n`,
  );
  return 0;
}

async function purge(settings: SpoolSettings, args: SpoolArgs): Promise<number> {
  const { path, maxSamples, synchronous } = settings.spool;
  const reader = openSpoolReader(path);
  let matching: number;
  try {
    matching = reader.countDeadLetters(args.filter);
  } finally {
    reader.close();
  }
  if (matching > 0 && !args.yes) {
    if (process.stdin.isTTY !== true) {
      process.stderr.write(
        `plantbridge spool purge: would delete ${matching} dead letters from ${path}; not a terminal, so confirm with --yes\n`,
      );
      return 2;
    }
    if (!(await confirm(`Delete ${matching} dead letters from ${path}? [y/N] `))) {
      process.stderr.write("plantbridge spool purge: nothing deleted\n");
      return 1;
    }
  }
  const purged = matching > 0 ? purgeDeadLetters({ path, maxSamples, synchronous }, args.filter) : 0;
  print(args.json, { purged }, `purged ${purged} dead letters from ${path}\n`);
  return 0;
}

/** Asks on the terminal; true only for an answer starting with y. */
export async function confirm(
  question: string,
  input: NodeJS.ReadableStream = process.stdin,
  output: NodeJS.WritableStream = process.stderr,
): Promise<boolean> {
  const rl = createInterface({ input, output });
  try {
    const answer = await rl.question(question);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}
