/**
 * A stand-in for systemd's notification socket, for tests of the sd_notify protocol: a unix datagram
 * socket that records every message. Node cannot open one (node:dgram is UDP only), so a small
 * python3 process listens and prints each datagram as a line. `available()` says whether python3
 * and systemd-notify are there; tests skip without them.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";

const listener = `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("LISTENING", flush=True)
while True:
    data = s.recv(65536)
    print(data.decode("utf-8", "replace").replace("\\n", " | "), flush=True)
`;

export function available(): boolean {
  for (const [command, args] of [
    ["python3", ["--version"]],
    ["systemd-notify", ["--version"]],
  ] as const) {
    try {
      execFileSync(command, [...args], { stdio: "ignore" });
    } catch {
      return false;
    }
  }
  return true;
}

export interface NotifySocket {
  readonly path: string;
  /** The messages received so far, one per datagram (lines of one message joined with " | "). */
  messages(): string[];
  waitFor(predicate: (messages: string[]) => boolean, timeoutMs?: number): Promise<void>;
  close(): void;
}

export async function openNotifySocket(path: string): Promise<NotifySocket> {
  const child: ChildProcess = spawn("python3", ["-c", listener, path], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const received: string[] = [];
  let listening = false;
  child.stdout?.setEncoding("utf8").on("data", (d: string) => {
    for (const line of d.split("\n")) {
      if (line === "") continue;
      if (line === "LISTENING") listening = true;
      else received.push(line);
    }
  });
  const socket: NotifySocket = {
    path,
    messages: () => [...received],
    async waitFor(predicate, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(received)) {
        if (Date.now() > deadline)
          throw new Error(`notify socket: timed out; received ${JSON.stringify(received)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    close: () => child.kill(),
  };
  await socket.waitFor(() => listening && existsSync(path), 30_000);
  return socket;
}
