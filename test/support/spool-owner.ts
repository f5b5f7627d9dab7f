/** A child process that holds a spool open like a running plant (test/support/spool-owner-child.ts). */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";

const child = fileURLToPath(new URL("./spool-owner-child.ts", import.meta.url));

export interface SpoolOwnerProcess {
  pid: number;
  /** SIGKILL: the process ends without closing the spool, as in a crash. */
  kill(): Promise<void>;
}

/** Starts the child and resolves once it has the spool open. */
export async function holdSpoolInChild(path: string): Promise<SpoolOwnerProcess> {
  const proc: ChildProcess = spawn(process.execPath, [child, path], { stdio: ["ignore", "pipe", "pipe"] });
  const exited = once(proc, "exit");
  let stderr = "";
  proc.stderr?.setEncoding("utf8").on("data", (d: string) => {
    stderr += d;
  });
  const line = await new Promise<string>((resolve, reject) => {
    let out = "";
    proc.stdout?.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      if (out.includes("\n")) resolve(out.split("\n")[0] ?? "");
    });
    exited.then(([code]) => reject(new Error(`spool owner child exited with ${code}: ${stderr}`)));
  });
  const { pid } = JSON.parse(line) as { pid: number };
  return {
    pid,
    async kill() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
      await exited;
    },
  };
}
