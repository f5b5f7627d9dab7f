/** How `plantbridge spool` prints a spool's status and its dead letters for a person. */
import type { DeadLetter } from "../../adapters/spool/dead-letters.ts";
import type { SpoolReport } from "../../adapters/spool/spool-report.ts";
import type { SpoolConfig } from "../../schemas/plant-types.ts";

const iso = (ms: number): string => new Date(ms).toISOString();

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

const count = (n: number): string => n.toLocaleString("en-US");

function row(label: string, text: string): string {
  return `${label.padEnd(13)}${text}`;
}

export function formatStatus(r: SpoolReport, config: SpoolConfig): string {
  const c = r.counters;
  const lines = [
    row("spool", `${r.path} (${bytes(r.fileBytes)}, schema ${r.schemaVersion})`),
    row(
      "open by",
      r.owner
        ? `process ${r.owner.pid} (${r.owner.role}, since ${iso(r.owner.since)})`
        : "no process (replay and purge may run)",
    ),
    row("samples", `${count(r.held)} held of at most ${count(config.maxSamples)}; last seq ${r.lastSeq}`),
  ];
  if (r.sinks.length === 0) lines.push(row("pending", "no sink has read this spool yet"));
  for (const s of r.sinks) {
    const span =
      s.oldest === undefined ? "" : ` (oldest ${iso(s.oldest)}, newest ${iso(s.newest ?? s.oldest)})`;
    lines.push(row(s === r.sinks[0] ? "pending" : "", `${s.sink}: ${count(s.pending)}${span}`));
  }
  lines.push(
    row("dropped", `${count(c.dropped)} (the oldest samples, when the spool was full)`),
    row("duplicates", `${count(c.duplicates)} (the same sample appended again: ignored)`),
    row("conflicts", `${count(c.conflicts)} (same tag and time, another value: kept as dead letters)`),
  );
  const d = r.deadLetters;
  const bySink = Object.entries(d.bySink)
    .map(([sink, n]) => `${sink} ${count(n)}`)
    .join(", ");
  lines.push(
    row(
      "dead letters",
      `${count(d.held)} held of at most ${count(config.maxDeadLetters)}${bySink === "" ? "" : `: ${bySink}`}`,
    ),
    row(
      "",
      `${count(c.deadLettered)} refused by sinks in all; ${count(c.deadLettersDropped)} dropped past maxDeadLetters; ` +
        `${count(c.deadLettersReplayed)} replayed; ${count(c.deadLettersPurged)} purged`,
    ),
  );
  d.topReasons.forEach((t, i) => {
    lines.push(row(i === 0 ? "reasons" : "", `${String(t.count).padStart(7)}  ${t.reason}`));
  });
  return `${lines.join("\n")}\n`;
}

export function statusJson(r: SpoolReport, config: SpoolConfig): unknown {
  return {
    ...r,
    maxSamples: config.maxSamples,
    maxDeadLetters: config.maxDeadLetters,
    sinks: r.sinks.map((s) => ({
      ...s,
      ...(s.oldest !== undefined ? { oldest: iso(s.oldest) } : {}),
      ...(s.newest !== undefined ? { newest: iso(s.newest) } : {}),
    })),
    ...(r.owner ? { owner: { ...r.owner, since: iso(r.owner.since) } } : {}),
  };
}

function valueText(l: DeadLetter): string {
  return l.value === null ? "null" : String(l.value);
}

export function formatDeadLetters(letters: readonly DeadLetter[]): string {
  if (letters.length === 0) return "no dead letters match\n";
  const lines = letters.map((l) => {
    const bad = l.quality === "bad" ? ` (${l.reason ?? "no reason"})` : "";
    return `#${l.id}  ${iso(l.time)}  ${l.tag} = ${valueText(l)} ${l.quality}${bad}  [${l.sink}] ${l.error}`;
  });
  return `${lines.join("\n")}\n`;
}

export function deadLettersJson(letters: readonly DeadLetter[]): unknown {
  return letters.map((l) => ({
    id: l.id,
    seq: l.seq,
    sink: l.sink,
    tag: l.tag,
    time: iso(l.time),
    value: typeof l.value === "number" && !Number.isFinite(l.value) ? String(l.value) : l.value,
    quality: l.quality,
    ...(l.reason !== undefined ? { reason: l.reason } : {}),
    error: l.error,
    at: iso(l.at),
  }));
}
