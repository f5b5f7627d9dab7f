import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { machines } from "../../../bin/commands/diagrams.ts";
import { toMermaid } from "../../../bin/runtime/mermaid.ts";

describe("docs/diagrams", () => {
  it.each(Object.keys(machines))(
    "%s.mmd matches the machine definition (regenerate: npm run diagrams)",
    async (name) => {
      const committed = await readFile(
        new URL(`../../../docs/diagrams/${name}.mmd`, import.meta.url),
        "utf8",
      );
      expect(committed).toBe(toMermaid(machines[name] as (typeof machines)[string]));
    },
  );
});
