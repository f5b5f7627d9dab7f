import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository / package root (bin/runtime/ is two levels below it). */
export const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

export function bundledConfig(name: string): string {
  return join(packageRoot, "config", name);
}
