/**
 * The wide layout's table, found or created at open (and again after drift). A missing table is
 * created (`time timestamptz PRIMARY KEY` and one double precision column per tag). An existing
 * one — the original tool's — is adopted as it is: its time column may be `timestamptz` or a local
 * `timestamp without time zone`; a configured column the table has only in another case is
 * matched; a missing column is added (logged at warn with the DDL) — or, with
 * `storage.historian.alterTable: false`, reported as a config error naming table and column.
 */
import { type CommonQueryMethods, sql } from "slonik";
import { z } from "zod";
import { ErrorCode, PlantbridgeError } from "../../lib/errors.ts";
import type { Log } from "../../lib/log.ts";
import { statementText, tableExists, tableId } from "./layout.ts";

export interface WideTableConfig {
  schema: string;
  table: string;
  timeColumn: string;
  /** The configured column names, in order. */
  columns: readonly string[];
  alterTable: boolean;
}

export interface WideShape {
  /** The table's OID: another one means the table was dropped and created again. */
  id: number;
  timeType: "timestamptz" | "timestamp";
  /** Configured column name → the name the table really has (an older table may have folded it to lower case). */
  actual: ReadonlyMap<string, string>;
}

const columnRow = z.object({ name: z.string(), type: z.string() });

function configError(config: WideTableConfig, message: string, key: string): PlantbridgeError {
  return new PlantbridgeError(
    ErrorCode.CONFIG,
    `historian wide table ${config.schema}.${config.table} ${message}`,
    {
      keyPath: `storage.historian.${key}`,
    },
  );
}

export async function openWideTable(
  db: CommonQueryMethods,
  config: WideTableConfig,
  log: Log,
): Promise<{ shape: WideShape; changes: string[] }> {
  const { schema, table, timeColumn } = config;
  const target = sql.identifier([schema, table]);
  const where = `${schema}.${table}`;
  const changes: string[] = [];
  if (!(await tableExists(db, schema, table))) {
    const columns = config.columns.map((c) => sql.fragment`${sql.identifier([c])} double precision`);
    await db.query(sql.unsafe`
      CREATE TABLE IF NOT EXISTS ${target} (
        ${sql.identifier([timeColumn])} timestamptz NOT NULL PRIMARY KEY,
        ${sql.join(columns, sql.fragment`, `)}
      )`);
    changes.push(`created table ${where}`);
  }
  const present = await db.any(sql.type(columnRow)`
    SELECT column_name AS name, data_type AS type FROM information_schema.columns
    WHERE table_schema = ${schema} AND table_name = ${table}`);
  const find = (wanted: string) => {
    const exact = present.find((p) => p.name === wanted);
    if (exact !== undefined) return exact;
    const folded = present.filter((p) => p.name.toLowerCase() === wanted.toLowerCase());
    return folded.length === 1 ? folded[0] : undefined;
  };
  const time = present.find((p) => p.name === timeColumn);
  if (time === undefined) throw configError(config, `has no time column "${timeColumn}"`, "timeColumn");
  if (time.type !== "timestamp with time zone" && time.type !== "timestamp without time zone") {
    throw configError(
      config,
      `time column "${timeColumn}" is of type ${time.type}, not a timestamp`,
      "timeColumn",
    );
  }
  const actual = new Map<string, string>();
  const missing: string[] = [];
  for (const column of config.columns) {
    const found = find(column);
    if (found === undefined) {
      missing.push(column);
      continue;
    }
    actual.set(column, found.name);
    if (found.name !== column) {
      log.info(
        { table: where, configured: column, column: found.name },
        "wide table column matched without regard to case",
      );
    }
  }
  if (missing.length > 0) {
    const adds = missing.map(
      (c) => sql.fragment`ADD COLUMN IF NOT EXISTS ${sql.identifier([c])} double precision`,
    );
    const ddl = sql.unsafe`ALTER TABLE ${target} ${sql.join(adds, sql.fragment`, `)}`;
    if (!config.alterTable) {
      throw configError(
        config,
        `has no column "${missing[0]}"${
          missing.length > 1
            ? ` (nor ${missing
                .slice(1)
                .map((c) => `"${c}"`)
                .join(", ")})`
            : ""
        }, ` +
          `and storage.historian.alterTable is false: add it (${statementText(ddl)}) or let plantbridge add it`,
        `columns.${missing[0]}`,
      );
    }
    await db.query(ddl);
    log.warn(
      { table: where, added: missing, ddl: statementText(ddl) },
      `historian: changed table ${where}: ${statementText(ddl)}`,
    );
    changes.push(`added column(s) ${missing.join(", ")} to ${where}`);
    for (const c of missing) actual.set(c, c);
  }
  const id = await tableId(db, schema, table);
  if (id === null) throw new Error(`historian wide table ${where} vanished while it was opened`);
  return {
    shape: { id, timeType: time.type === "timestamp with time zone" ? "timestamptz" : "timestamp", actual },
    changes,
  };
}
