/**
 * The V8 flags a plant process starts with (`npm start`, `npm run sim`, `npx plantbridge`, the
 * systemd unit): a small young generation and an old generation that grows by half its live size,
 * instead of V8's defaults for a machine with gigabytes to spare, which let a plant of 10 000 tags
 * hold 300–450 MB of RSS for 40–50 MB of live objects. No hard limit: the heap still grows with a
 * larger plant. They are read when the process starts, so they go on node's command line (the
 * shebang of bin/plantbridge.ts, the scripts of package.json, the unit's ExecStart); a unit test
 * checks that every one of those carries exactly these. See docs/performance.md#memory.
 */
export const plantNodeFlags: readonly string[] = [
  "--max-semi-space-size=2",
  "--initial-old-space-size=32",
  "--heap-growing-percent=50",
];
