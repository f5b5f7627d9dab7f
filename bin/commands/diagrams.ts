import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { AnyStateMachine } from "xstate";
import { connectionMachine } from "../../machines/connection.machine.ts";
import { controlMachine } from "../../machines/control.machine.ts";
import { forwarderMachine } from "../../machines/forwarder.machine.ts";
import { plantMachine } from "../../machines/plant.machine.ts";
import { pushMachine } from "../../machines/push.machine.ts";
import { storageMachine } from "../../machines/storage.machine.ts";
import { toMermaid } from "../runtime/mermaid.ts";

export const machines: Record<string, AnyStateMachine> = {
  plant: plantMachine,
  connection: connectionMachine,
  push: pushMachine,
  control: controlMachine,
  storage: storageMachine,
  forwarder: forwarderMachine,
};

/** `plantbridge diagrams [DIR]`: one Mermaid file per machine, generated from the machine definitions themselves. */
export async function diagramsCommand(args: readonly string[]): Promise<number> {
  const dir = resolve(args[0] ?? join("docs", "diagrams"));
  await mkdir(dir, { recursive: true });
  for (const [name, machine] of Object.entries(machines)) {
    const file = join(dir, `${name}.mmd`);
    await writeFile(file, toMermaid(machine));
    process.stdout.write(`${file}\n`);
  }
  return 0;
}
