/**
 * Where the status server listens: the `--http [HOST:]PORT` option, loopback addresses, the URL
 * printed for a person. No fastify here: `run` and `sim` parse the option before anything loads.
 */
import { isIP } from "node:net";
import { ErrorCode, PlantbridgeError } from "../lib/errors.ts";
import type { HttpConfig } from "../schemas/plant-types.ts";

export const defaultHttpPort = 8480;
export const defaultHttpHost = "127.0.0.1";

/** `8480`, `0`, `127.0.0.1:8480`, `0.0.0.0:8480`, `[::1]:8480`, `localhost:0` → host and port. */
export function parseHttpOption(text: string): { host?: string; port: number } {
  const match = /^(?:(\[[0-9a-fA-F:.]+\]|[^:[\]]+):)?(\d{1,5})$/.exec(text.trim());
  const port = Number(match?.[2]);
  if (match === null || !Number.isInteger(port) || port > 65535) {
    throw new PlantbridgeError(
      ErrorCode.BAD_INPUT,
      `--http wants [HOST:]PORT (e.g. 8480, 127.0.0.1:8480, 0.0.0.0:8480, 127.0.0.1:0), got "${text}"`,
    );
  }
  const host = match[1]?.replace(/^\[|\]$/g, "");
  return host === undefined ? { port } : { host, port };
}

/** The plant file's `http:` with `--http` over it; `false` (off) only when the file says so and no option is given. */
export function effectiveHttp(file: HttpConfig | false, option: string | undefined): HttpConfig | false {
  if (option === undefined) return file;
  const parsed = parseHttpOption(option);
  const base: HttpConfig = file === false ? { host: defaultHttpHost, port: defaultHttpPort } : file;
  return { ...base, host: parsed.host ?? base.host, port: parsed.port };
}

/** 127.0.0.0/8, ::1 and localhost: reachable from this computer only. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  if (h === "localhost" || h === "::1" || h === "0:0:0:0:0:0:0:1") return true;
  if (isIP(h) === 4) return h.startsWith("127.");
  if (h.startsWith("::ffff:")) return isLoopback(h.slice("::ffff:".length));
  return false;
}

/** The address a person types: `http://127.0.0.1:8480/`; a wildcard bind is shown as this machine's loopback. */
export function pageUrl(host: string, port: number): string {
  const shown = host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "::1" : host;
  return `http://${isIP(shown) === 6 ? `[${shown}]` : shown}:${port}/`;
}
