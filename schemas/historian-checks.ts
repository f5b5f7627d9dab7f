/**
 * The rules for `storage.historian` a JSON Schema cannot say: keys that belong to one layout
 * only, the wide table's columns against the stored tags, a time zone this Node knows, and a
 * retention long enough that a typo (`400s` for `400d`) cannot delete the history.
 */

import type { Checker } from "./checker.ts";
import { parseDuration } from "./durations.ts";
import type { RawStorage } from "./raw-plant.ts";
import { findTag, type TagCatalogue } from "./tag-catalogue.ts";

/** The shortest retention accepted. */
export const minimumRetentionMs = 86_400_000;

const wideOnly = ["table", "timeColumn", "columns", "timeZone"] as const;

function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

/** `stored`: the tags of storage.tags (when it is a list) with their index in it. */
export function checkHistorian(
  check: Checker,
  catalogue: TagCatalogue,
  storage: RawStorage,
  stored: ReadonlyMap<string, number>,
): void {
  const historian = storage.historian ?? {};
  const layout = historian.layout ?? "narrow";
  const hpath = ["storage", "historian"];
  if (historian.retention !== undefined) {
    const ms = parseDuration(historian.retention);
    if (layout === "wide") {
      check.report(
        [...hpath, "retention"],
        "retention only applies to layout: narrow (plantbridge never deletes from the wide table, which is the original tool's table and holds its history)",
        "key",
      );
    } else if (!Number.isFinite(ms) || ms < minimumRetentionMs) {
      check.report(
        [...hpath, "retention"],
        "must be at least 1d (e.g. 400d): a shorter one would delete the history",
      );
    }
  }
  if (layout === "narrow") {
    for (const key of wideOnly) {
      if (historian[key] !== undefined) {
        check.report(
          [...hpath, key],
          `${key} only applies to layout: wide (this historian is narrow)`,
          "key",
        );
      }
    }
    return;
  }
  if (historian.timeZone !== undefined && !isTimeZone(historian.timeZone)) {
    check.report(
      [...hpath, "timeZone"],
      `"${historian.timeZone}" is not a time zone (an IANA name such as Europe/Berlin)`,
    );
  }
  checkWideColumns(check, catalogue, storage, stored);
}

function checkWideColumns(
  check: Checker,
  catalogue: TagCatalogue,
  storage: RawStorage,
  stored: ReadonlyMap<string, number>,
): void {
  const historian = storage.historian ?? {};
  const hpath = ["storage", "historian"];
  const columns = historian.columns ?? {};
  const timeColumn = historian.timeColumn ?? "time";
  const columnOf = new Map<string, string>();
  for (const [column, ref] of Object.entries(columns)) {
    const path = [...hpath, "columns", column];
    if (column === timeColumn) {
      check.report(path, `column ${column} is the time column`, "key");
      continue;
    }
    const found = findTag(catalogue, ref);
    if (typeof found === "string") check.report(path, found);
    const other = columnOf.get(ref);
    if (other !== undefined) {
      check.report(path, `${ref} is already stored in column ${other}`);
      continue;
    }
    columnOf.set(ref, column);
    if (Array.isArray(storage.tags) && !stored.has(ref)) {
      check.report(path, `${ref} has a column but is not in storage.tags: add it there or remove the column`);
    }
  }
  const tagsNeedingColumns =
    storage.tags === "all"
      ? catalogue.all.map((t) => ({ ref: `${t.unit}.${t.name}`, path: ["storage", "tags"] }))
      : [...stored.entries()].map(([ref, index]) => ({ ref, path: ["storage", "tags", String(index)] }));
  for (const { ref, path } of tagsNeedingColumns) {
    if (!columnOf.has(ref) && typeof findTag(catalogue, ref) !== "string") {
      check.report(path, `${ref} is stored but has no column in storage.historian.columns (layout wide)`);
    }
  }
}
