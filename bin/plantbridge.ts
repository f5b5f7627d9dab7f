#!/usr/bin/env -S node --max-semi-space-size=2 --initial-old-space-size=32 --heap-growing-percent=50
// plantbridge command line: run a plant, run it on the simulators, check or import a plant file.
const major = Number(process.versions.node.split(".")[0]);
if (major < 24) {
  process.stderr.write(
    `plantbridge needs Node 24 (this is ${process.versions.node}). Run it through npm (npm start, npm run sim) or npx plantbridge, which use the pinned Node.\n`,
  );
  process.exit(2);
}
// `plantbridge read … | head`: a reader that stops reading ends the command quietly, not with a stack trace.
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code !== "EPIPE") throw e;
  process.exit(process.exitCode ?? 0);
});
const { main } = await import("./cli.ts");
process.exitCode = await main(process.argv.slice(2));
