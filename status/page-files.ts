/**
 * The status page's files: plain static files from status/page/ and uPlot's build from
 * node_modules — a fixed list, read from disk when asked (no build step, nothing fetched from
 * the internet, no path taken from a request).
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const pageDir = join(dirname(fileURLToPath(import.meta.url)), "page");
const uplotDir = dirname(createRequire(import.meta.url).resolve("uplot/dist/uPlot.iife.min.js"));

const types = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
} as const;

export interface PageFile {
  path: string;
  type: string;
}

/** URL path → file. */
export const pageFiles: Readonly<Record<string, PageFile>> = {
  "/": { path: join(pageDir, "index.html"), type: types.html },
  "/style.css": { path: join(pageDir, "style.css"), type: types.css },
  "/app.js": { path: join(pageDir, "app.js"), type: types.js },
  "/view.js": { path: join(pageDir, "view.js"), type: types.js },
  "/dom.js": { path: join(pageDir, "dom.js"), type: types.js },
  "/cards.js": { path: join(pageDir, "cards.js"), type: types.js },
  "/trend.js": { path: join(pageDir, "trend.js"), type: types.js },
  "/diagram.js": { path: join(pageDir, "diagram.js"), type: types.js },
  "/vendor/uPlot.iife.min.js": { path: join(uplotDir, "uPlot.iife.min.js"), type: types.js },
  "/vendor/uPlot.min.css": { path: join(uplotDir, "uPlot.min.css"), type: types.css },
};

export async function readPageFile(file: PageFile): Promise<Buffer> {
  return readFile(file.path);
}
