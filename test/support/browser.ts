/**
 * A real browser for page tests: Debian's Chromium (/usr/bin/chromium; `.ci/run` installs it when
 * missing) driven by playwright-core, headless, with a fresh profile under var/ and nothing that
 * reaches beyond this machine (no background networking, updates, sync or QUIC).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { type BrowserContext, chromium } from "playwright-core";

export const chromiumPath = process.env.PB_CHROMIUM ?? "/usr/bin/chromium";

export interface TestBrowser {
  context: BrowserContext;
  close(): Promise<void>;
}

export async function openBrowser(varDir: string): Promise<TestBrowser> {
  const profile = await mkdtemp(join(varDir, "chromium-profile-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    viewport: { width: 1600, height: 1000 },
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-quic",
    ],
  });
  return {
    context,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}
