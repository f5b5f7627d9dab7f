/**
 * The spool against a model: any mix of appends (with re-run cycles), acks and dead letters by
 * two sinks, with a bound that drops the oldest, leaves each sink exactly the samples the model
 * says, in order, holds exactly the samples some sink still needs, and counts every drop.
 */
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openSpool } from "../../../adapters/spool/sqlite-spool.ts";
import { silentLog } from "../../../lib/log.ts";
import { makeTestDir, t0 } from "./spool-kit.ts";

type Op =
  | { kind: "append"; cycles: number[] }
  | { kind: "ack"; sink: "postgres" | "mqtt"; count: number }
  | { kind: "dead"; sink: "postgres" | "mqtt"; count: number };

const sinkArb = fc.constantFrom("postgres" as const, "mqtt" as const);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant("append" as const),
    cycles: fc.array(fc.integer({ min: 0, max: 30 }), { maxLength: 6 }),
  }),
  fc.record({ kind: fc.constant("ack" as const), sink: sinkArb, count: fc.integer({ min: 0, max: 8 }) }),
  fc.record({ kind: fc.constant("dead" as const), sink: sinkArb, count: fc.integer({ min: 1, max: 3 }) }),
);

let folder: ReturnType<typeof makeTestDir>;
beforeAll(() => {
  folder = makeTestDir("spool-model");
});
afterAll(() => folder.remove());

describe("sqlite spool model", () => {
  it("delivers to each sink exactly what the model delivers, and holds what is still needed", () => {
    let run = 0;
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 25 }), fc.integer({ min: 3, max: 40 }), (ops, maxSamples) => {
        const spool = openSpool({
          path: join(folder.dir, `model-${run++}.sqlite`),
          sinks: ["postgres", "mqtt"],
          maxSamples,
          synchronous: "OFF",
          log: silentLog(),
        });
        // Model: the list of held keys in append order; what each sink has taken.
        const held: string[] = [];
        const taken = { postgres: new Set<string>(), mqtt: new Set<string>() };
        const deadModel = { postgres: 0, mqtt: 0 };
        let droppedModel = 0;
        try {
          for (const op of ops) {
            if (op.kind === "append") {
              const samples = op.cycles.map((c) => ({
                tag: `PEMEL.t${c % 3}`,
                time: t0 + c * 1000,
                value: c,
                quality: "good" as const,
              }));
              spool.append(samples);
              for (const s of samples) {
                const key = `${s.tag}@${s.time}`;
                if (held.includes(key)) continue;
                // Not held (never, or gone after both sinks took it): a new sample for both.
                held.push(key);
                taken.postgres.delete(key);
                taken.mqtt.delete(key);
              }
              // Past the bound the oldest go, delivered or not.
              while (held.length > maxSamples) {
                held.shift();
                droppedModel++;
              }
            } else {
              const batch = spool.readBatch(op.sink, op.kind === "ack" ? Math.max(op.count, 1) : op.count);
              const expected = held.filter((k) => !taken[op.sink].has(k)).slice(0, batch.length);
              expect(batch.map((b) => `${b.tag}@${b.time}`)).toEqual(expected);
              if (op.kind === "ack" && op.count > 0 && batch.length > 0) {
                spool.ack(op.sink, batch.at(-1)!.seq);
              } else if (op.kind === "dead" && batch.length > 0) {
                spool.deadLetter(op.sink, batch, "refused");
                deadModel[op.sink] += batch.length;
              } else {
                continue;
              }
              for (const k of expected) taken[op.sink].add(k);
              // Whatever both sinks have taken leaves the file.
              for (let i = held.length - 1; i >= 0; i--) {
                const k = held[i]!;
                if (taken.postgres.has(k) && taken.mqtt.has(k)) held.splice(i, 1);
              }
            }
          }
          const stats = spool.stats();
          expect(stats.held).toBe(held.length);
          expect(stats.pending).toEqual({
            postgres: held.filter((k) => !taken.postgres.has(k)).length,
            mqtt: held.filter((k) => !taken.mqtt.has(k)).length,
          });
          expect(stats.deadLettered).toBe(deadModel.postgres + deadModel.mqtt);
          expect(stats.dropped).toBe(droppedModel);
        } finally {
          spool.close();
        }
      }),
      { numRuns: 40 },
    );
  });
});
