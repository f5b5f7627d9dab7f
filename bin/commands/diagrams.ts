import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { machineDefinitions } from "../../machines/machine-catalogue.ts";
import { toMermaid } from "../runtime/mermaid.ts";

export const machines = machineDefinitions;

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
