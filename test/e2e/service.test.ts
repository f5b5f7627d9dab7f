/**
 * `plantbridge service install|uninstall` into a temporary root: the unit's content, the environment
 * file template, `systemd-analyze verify` where that tool exists, and the refusals.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { plantNodeFlags } from "../../bin/node-flags.ts";
import { repoRoot, runCli } from "./run-cli.ts";

const root = join(repoRoot, "var", "test", `service-${randomBytes(4).toString("hex")}`);
const plantFile = join(repoRoot, "config", "sim.yaml");
const unitFile = join(root, "etc", "systemd", "system", "plantbridge.service");
const envFile = join(root, "etc", "plantbridge", "plantbridge.env");
const node = join(repoRoot, "node_modules", ".bin", "node");

afterAll(() => rmSync(root, { recursive: true, force: true }));

async function systemdAnalyze(): Promise<string | undefined> {
  try {
    await promisify(execFile)("systemd-analyze", ["--version"]);
    return "systemd-analyze";
  } catch {
    return undefined;
  }
}

describe("plantbridge service install", () => {
  it("writes a unit that runs the plant with the pinned Node, as its own user, hardened", async () => {
    // A variable set in the installing shell still goes into the template: the service does not see that shell.
    const r = await runCli(["service", "install", plantFile, "--root", root, "--user", "pb"], {
      env: { PB_SIM_PEMEL_PORT: "1502", PB_SIM_METH_ENDPOINT: undefined },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`wrote ${unitFile}`);
    expect(r.stdout).toContain("systemctl daemon-reload");
    expect(r.stdout).toContain("systemctl enable --now plantbridge");
    expect(r.stdout).toContain(
      "useradd --system --user-group --home-dir /var/lib/plantbridge --shell /usr/sbin/nologin pb",
    );

    const unit = readFileSync(unitFile, "utf8");
    const settings = (key: string) =>
      unit
        .split("\n")
        .filter((l) => l.startsWith(`${key}=`))
        .map((l) => l.slice(key.length + 1));
    const setting = (key: string) => settings(key)[0];
    expect(setting("Type")).toBe("notify");
    expect(setting("NotifyAccess")).toBe("all");
    expect(setting("WatchdogSec")).toBe("30");
    expect(setting("Restart")).toBe("on-failure");
    expect(setting("User")).toBe("pb");
    expect(setting("Group")).toBe("pb");
    expect(setting("WorkingDirectory")).toBe(repoRoot.replace(/\/$/, ""));
    expect(setting("EnvironmentFile")).toBe("/etc/plantbridge/plantbridge.env");
    expect(setting("StateDirectory")).toBe("plantbridge");
    const script = join(repoRoot, "bin", "plantbridge.ts");
    expect(setting("ExecStartPre")).toBe(`${node} ${script} check ${plantFile}`);
    expect(setting("ExecStart")).toBe(
      `${node} ${plantNodeFlags.join(" ")} ${script} run ${plantFile} --var /var/lib/plantbridge`,
    );
    expect(setting("KillMode")).toBe("mixed");
    expect(setting("NoNewPrivileges")).toBe("yes");
    expect(setting("ProtectSystem")).toBe("strict");
    expect(setting("ReadWritePaths")).toBe("/var/lib/plantbridge");
    expect(setting("CapabilityBoundingSet")).toBe("");
    expect(setting("PrivateTmp")).toBe("yes");
    expect(setting("WantedBy")).toBe("multi-user.target");
    expect(settings("MemoryDenyWriteExecute")).toEqual([]); // V8's JIT needs it off

    const env = readFileSync(envFile, "utf8");
    expect(env.split("\n")).toEqual(expect.arrayContaining(["PB_SIM_METH_ENDPOINT=", "PB_SIM_PEMEL_PORT="]));
    expect(statSync(envFile).mode & 0o777).toBe(0o600);
  });

  it("passes systemd-analyze verify (where the tool exists)", async (context) => {
    expect(existsSync(unitFile)).toBe(true);
    const tool = await systemdAnalyze();
    if (tool === undefined) {
      context.annotate("systemd-analyze is not installed: the unit's content is checked by the test above");
      return;
    }
    const result = await promisify(execFile)(tool, ["verify", unitFile]).then(
      (r) => ({ code: 0, stderr: r.stderr }),
      (e: { code?: number; stderr?: string }) => ({ code: e.code ?? 1, stderr: e.stderr ?? "" }),
    );
    expect(result).toEqual({ code: 0, stderr: "" });
  });

  it("takes another var folder and env file, keeps an existing env file, and says what it replaced", async () => {
    const r = await runCli([
      "service",
      "install",
      plantFile,
      "--root",
      root,
      "--var",
      "/srv/plant data",
      "--environment-file",
      "/etc/plantbridge/plantbridge.env",
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`replaced ${unitFile}`);
    expect(r.stdout).toContain(`kept ${envFile} (it exists)`);
    expect(r.stdout).toContain("install -d -o plantbridge -g plantbridge -m 0750 '/srv/plant data'");
    const unit = readFileSync(unitFile, "utf8");
    expect(unit).toContain('ReadWritePaths="/srv/plant data"\n');
    expect(unit).toContain(`run ${plantFile} --var "/srv/plant data"\n`);
    expect(unit).not.toContain("StateDirectory=");
    const tool = await systemdAnalyze();
    if (tool !== undefined) {
      const verified = await promisify(execFile)(tool, ["verify", unitFile]);
      expect(verified.stderr).toBe("");
    }
  });

  it("refuses a broken plant file, root as the user, and writes nothing", async () => {
    const other = join(root, "other");
    const broken = await runCli([
      "service",
      "install",
      join(repoRoot, "test", "fixtures", "plants", "broken", "unknown-key.yaml"),
      "--root",
      other,
    ]);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(/unknown key "unitID"/);
    expect(broken.stderr).toContain("not installed");
    const asRoot = await runCli(["service", "install", plantFile, "--root", other, "--user", "root"]);
    expect(asRoot.code).toBe(2);
    expect(existsSync(other)).toBe(false);
  });
});

describe("plantbridge service uninstall", () => {
  it("refuses while the unit is enabled, then removes it and keeps the env file", async () => {
    const wants = join(root, "etc", "systemd", "system", "multi-user.target.wants");
    mkdirSync(wants, { recursive: true });
    symlinkSync(unitFile, join(wants, "plantbridge.service"));
    const enabled = await runCli(["service", "uninstall", "--root", root]);
    expect(enabled.code).toBe(1);
    expect(enabled.stderr).toContain("systemctl disable --now plantbridge");
    expect(existsSync(unitFile)).toBe(true);

    rmSync(join(wants, "plantbridge.service"));
    const r = await runCli(["service", "uninstall", "--root", root]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`removed ${unitFile}`);
    expect(existsSync(unitFile)).toBe(false);
    expect(existsSync(envFile)).toBe(true);
  });
});
