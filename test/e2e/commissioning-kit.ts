/**
 * The commissioning commands' test bench: the PEMEL and METH simulators in the test process, the
 * plant file test/fixtures/plants/commissioning.yaml pointed at them through its ${VAR}s, a var
 * folder of its own, and the real CLI run as a child (one-shot, or followed until a line appears).
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type MethSimulator, startMethSimulator } from "../../simulators/meth/index.ts";
import { type PemelSimulator, startPemelSimulator } from "../../simulators/pemel/index.ts";
import { type CliResult, repoRoot, runCli } from "./run-cli.ts";

export const plantFile = join("test", "fixtures", "plants", "commissioning.yaml");
const bin = fileURLToPath(new URL("../../bin/plantbridge.ts", import.meta.url));

export interface Bench {
  pemel: PemelSimulator;
  meth: MethSimulator;
  varDir: string;
  env: Record<string, string | undefined>;
  /** `plantbridge COMMAND plantFile ARGS… --var varDir` */
  cli(
    command: string,
    args: readonly string[],
    extraEnv?: Record<string, string | undefined>,
  ): Promise<CliResult>;
  stop(): Promise<void>;
}

export async function startBench(
  name: string,
  methOptions: { security?: string; policy?: string } = {},
): Promise<Bench> {
  const varDir = join(repoRoot, "var", "test", `${name}-${randomBytes(4).toString("hex")}`);
  mkdirSync(varDir, { recursive: true });
  const pemel = await startPemelSimulator({ warmUpMs: 0 });
  const meth = await startMethSimulator({
    pkiDir: join(varDir, "meth-pki"),
    username: "plantbridge",
    password: "sim",
  });
  const env = {
    PB_SIM_PEMEL_PORT: String(pemel.port),
    PB_SIM_METH_ENDPOINT: meth.endpoint,
    PB_SIM_METH_PASSWORD: "sim",
    PB_SIM_METH_SECURITY: methOptions.security,
    PB_SIM_METH_POLICY: methOptions.policy,
  };
  return {
    pemel,
    meth,
    varDir,
    env,
    cli: (command, args, extraEnv = {}) =>
      runCli([command, plantFile, ...args, "--var", varDir], {
        env: { ...env, ...extraEnv },
        timeoutMs: 60_000,
      }),
    async stop() {
      await Promise.all([pemel.stop(), meth.stop()]);
      rmSync(varDir, { recursive: true, force: true });
    },
  };
}

export interface Followed {
  /** Everything printed on stdout so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves when stdout holds a line matching `pattern`; rejects after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Sends SIGINT and resolves with the exit code. */
  interrupt(): Promise<number | null>;
}

/** Starts the CLI and follows its output (for `read --watch`, which runs until Ctrl-C). */
export function followCli(args: readonly string[], env: Record<string, string | undefined>): Followed {
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  const waiters = new Set<() => void>();
  child.stdout.setEncoding("utf8").on("data", (d: string) => {
    out += d;
    for (const w of waiters) w();
  });
  child.stderr.setEncoding("utf8").on("data", (d: string) => {
    err += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  const killer = setTimeout(() => child.kill("SIGKILL"), 120_000);
  void exited.then(() => clearTimeout(killer));
  return {
    stdout: () => out,
    stderr: () => err,
    waitFor(pattern, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const line = out.split("\n").find((l) => pattern.test(l));
          if (line === undefined) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(line);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(`no line matching ${pattern} within ${timeoutMs} ms; stdout:\n${out}\nstderr:\n${err}`),
          );
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    async interrupt() {
      child.kill("SIGINT");
      return exited;
    },
  };
}
