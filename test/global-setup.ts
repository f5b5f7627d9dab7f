// Runs once before the suite: the code needs the Node version pinned by the `node` devDependency.
export default function setup(): void {
  const major = Number(process.versions.node.split(".")[0]);
  if (major < 24) {
    throw new Error(
      `plantbridge tests need Node 24 (found ${process.versions.node}); run them through npm scripts (npm test), which use the pinned node devDependency`,
    );
  }
}
