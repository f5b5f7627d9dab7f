/**
 * The plant's V8 flags (bin/node-flags.ts) are read when node starts, so they must be on every
 * command line that starts a plant: the shebang of bin/plantbridge.ts (npx plantbridge), the
 * `start` and `sim` scripts, and the systemd unit's ExecStart.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { plantNodeFlags } from "../../../bin/node-flags.ts";
import { renderServiceUnit } from "../../../bin/service/systemd-unit.ts";

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
const flags = plantNodeFlags.join(" ");

describe("the plant's V8 flags", () => {
  it("are V8 heap flags with a value, none of them a hard limit", () => {
    expect(plantNodeFlags.length).toBeGreaterThan(0);
    for (const flag of plantNodeFlags) expect(flag).toMatch(/^--[a-z-]+=\d+$/);
    expect(flags).not.toMatch(/max-old-space-size|max-heap-size/);
  });

  it("are on the shebang, the start and sim scripts and the systemd unit's ExecStart", () => {
    const shebang = readFileSync(join(repoRoot, "bin", "plantbridge.ts"), "utf8").split("\n")[0];
    expect(shebang).toBe(`#!/usr/bin/env -S node ${flags}`);
    const scripts = (
      JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { scripts: Record<string, string> }
    ).scripts;
    expect(scripts.start).toBe(`node ${flags} bin/plantbridge.ts run config/plant.yaml`);
    expect(scripts.sim).toBe(`node ${flags} bin/plantbridge.ts sim`);
    const unit = renderServiceUnit({
      name: "plantbridge",
      plantFile: "/etc/plantbridge/plant.yaml",
      plantName: "p",
      installDir: "/opt/plantbridge",
      varDir: "/var/lib/plantbridge",
      envFile: "/etc/plantbridge/env",
      user: "plantbridge",
      node: "/opt/plantbridge/node_modules/.bin/node",
      watchdogS: 30,
    });
    expect(unit).toContain(
      `ExecStart=/opt/plantbridge/node_modules/.bin/node ${flags} /opt/plantbridge/bin/plantbridge.ts run`,
    );
  });
});
