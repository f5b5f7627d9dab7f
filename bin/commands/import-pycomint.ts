import { writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { importPycomint } from "../../schemas/import-pycomint.ts";

/** `plantbridge import-pycomint DIR [--out FILE]`: the original tool's four YAML files → one plant file. */
export async function importPycomintCommand(args: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: { out: { type: "string", short: "o" } },
  });
  const dir = positionals[0];
  if (dir === undefined) {
    process.stderr.write(
      "plantbridge import-pycomint: name the folder that holds config_gen.yaml, config_modbus.yaml, config_opcua.yaml and config_sql.yaml\n",
    );
    return 2;
  }
  const text = await importPycomint(dir, values.out === undefined ? {} : { output: values.out });
  if (values.out === undefined) {
    process.stdout.write(text);
  } else {
    await writeFile(values.out, text);
    process.stderr.write(`wrote ${values.out}; check it with: plantbridge check ${values.out}\n`);
  }
  return 0;
}
