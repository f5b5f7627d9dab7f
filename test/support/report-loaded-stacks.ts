/**
 * Loaded with `node --import` into a CLI under test: prints `LOADED node-opcua` (or jsmodbus) on
 * stderr the first time the process resolves that package or a part of it (node-opcua-client, …),
 * so a test can prove a command did not load a protocol stack it does not need.
 */
import { registerHooks } from "node:module";

const reported = new Set<string>();
registerHooks({
  resolve(specifier, context, nextResolve) {
    // node-opcua-client, node-opcua-nodeid, …: parts of the OPC UA stack count as node-opcua.
    const stack = /^(node-opcua|jsmodbus)(-[a-z0-9-]+)?(\/|$)/.exec(specifier)?.[1];
    if (stack !== undefined && !reported.has(stack)) {
      reported.add(stack);
      process.stderr.write(`LOADED ${stack}\n`);
    }
    return nextResolve(specifier, context);
  },
});
