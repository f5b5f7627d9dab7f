import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { widthOf } from "../../../adapters/modbus/codec.ts";
import { type PlanOptions, planRequests } from "../../../adapters/modbus/request-plan.ts";
import { ErrorCode, isPlantbridgeError } from "../../../lib/errors.ts";
import type { ModbusArea, ModbusDataType, ModbusTagConfig } from "../../../schemas/plant-types.ts";
import { pemelTags, tag } from "./fixtures.ts";

const defaults: PlanOptions = { maxRegisters: 125, maxGap: 10 };

/** The plan as `area@address+count [tag names]` strings: easy to read in a table. */
function shape(tags: readonly ModbusTagConfig[], options: PlanOptions = defaults): string[] {
  return planRequests(tags, options).map(
    (r) => `${r.area}@${r.address}+${r.count} [${r.tags.map((t) => t.name).join(",")}]`,
  );
}

const coil = (name: string, address: number) => tag(name, address, "bool", { area: "coil" });
const input = (name: string, address: number, type: ModbusDataType = "uint16") =>
  tag(name, address, type, { area: "input" });

describe("planRequests: table", () => {
  const cases: { name: string; tags: ModbusTagConfig[]; options?: PlanOptions; plan: string[] }[] = [
    { name: "nothing to read", tags: [], plan: [] },
    { name: "one register", tags: [tag("a", 7)], plan: ["holding@7+1 [a]"] },
    {
      name: "contiguous registers merge",
      tags: [tag("c", 2), tag("a", 0), tag("b", 1)],
      plan: ["holding@0+3 [a,b,c]"],
    },
    {
      name: "bits of one status word share one register",
      tags: [
        tag("b0", 5, "bit", { bit: 0 }),
        tag("b1", 5, "bit", { bit: 1 }),
        tag("b15", 5, "bit", { bit: 15 }),
      ],
      plan: ["holding@5+1 [b0,b1,b15]"],
    },
    {
      name: "overlapping tags merge (uint32 at 10, uint16 inside it at 11)",
      tags: [tag("wide", 10, "uint32"), tag("low", 11)],
      plan: ["holding@10+2 [wide,low]"],
    },
    {
      name: "multi-register types count their width",
      tags: [tag("f", 0, "float32"), tag("d", 2, "float64"), tag("i", 6, "int32")],
      plan: ["holding@0+8 [f,d,i]"],
    },
    {
      name: "a gap of maxGap is bridged",
      tags: [tag("a", 0), tag("b", 4)],
      options: { maxRegisters: 125, maxGap: 3 },
      plan: ["holding@0+5 [a,b]"],
    },
    {
      name: "a gap of maxGap + 1 is not",
      tags: [tag("a", 0), tag("b", 5)],
      options: { maxRegisters: 125, maxGap: 3 },
      plan: ["holding@0+1 [a]", "holding@5+1 [b]"],
    },
    {
      name: "maxGap 0 merges contiguous only",
      tags: [tag("a", 0), tag("b", 1), tag("c", 3)],
      options: { maxRegisters: 125, maxGap: 0 },
      plan: ["holding@0+2 [a,b]", "holding@3+1 [c]"],
    },
    {
      name: "the cap splits between tags",
      tags: [tag("a", 0), tag("b", 2), tag("c", 4)],
      options: { maxRegisters: 4, maxGap: 10 },
      plan: ["holding@0+3 [a,b]", "holding@4+1 [c]"],
    },
    {
      name: "a multi-register value is never split over the cap",
      tags: [tag("a", 0), tag("d", 2, "float64")],
      options: { maxRegisters: 5, maxGap: 10 },
      plan: ["holding@0+1 [a]", "holding@2+4 [d]"],
    },
    {
      name: "a value exactly filling the cap fits",
      tags: [tag("a", 0), tag("d", 1, "float64")],
      options: { maxRegisters: 5, maxGap: 10 },
      plan: ["holding@0+5 [a,d]"],
    },
    {
      name: "a cap above the protocol's 125 registers is held at 125",
      tags: [tag("first", 0), tag("last", 125)],
      options: { maxRegisters: 1000, maxGap: 200 },
      plan: ["holding@0+1 [first]", "holding@125+1 [last]"],
    },
    {
      name: "125 registers in one request",
      tags: [tag("first", 0), tag("last", 124)],
      options: { maxRegisters: 125, maxGap: 200 },
      plan: ["holding@0+125 [first,last]"],
    },
    {
      name: "areas never merge and come out holding, input, coil, discrete",
      tags: [tag("d", 0, "bool", { area: "discrete" }), coil("c", 0), input("i", 0), tag("h", 0)],
      plan: ["holding@0+1 [h]", "input@0+1 [i]", "coil@0+1 [c]", "discrete@0+1 [d]"],
    },
    {
      name: "coils merge up to 2000 regardless of the register cap",
      tags: [coil("c0", 0), coil("c1999", 1999)],
      options: { maxRegisters: 10, maxGap: 2000 },
      plan: ["coil@0+2000 [c0,c1999]"],
    },
    {
      name: "coils split at 2000",
      tags: [coil("c0", 0), coil("c2000", 2000)],
      options: { maxRegisters: 10, maxGap: 2000 },
      plan: ["coil@0+1 [c0]", "coil@2000+1 [c2000]"],
    },
    {
      name: "a float in an input area is 2 registers",
      tags: [input("t", 100, "float32"), input("p", 102, "float32")],
      plan: ["input@100+4 [t,p]"],
    },
    {
      name: "the same address twice (two names) is read once",
      tags: [tag("x", 3), tag("y", 3)],
      plan: ["holding@3+1 [x,y]"],
    },
    {
      name: "the top of the address space",
      tags: [tag("top", 65534, "uint32")],
      plan: ["holding@65534+2 [top]"],
    },
  ];

  it.each(cases)("$name", ({ tags, options, plan }) => {
    expect(shape(tags, options)).toEqual(plan);
  });
});

describe("planRequests: the reference PEMEL", () => {
  const statusAndValues = pemelTags().filter((t) => t.name !== "current_setpoint");

  it("bridges the gap of 3 between the status word and the values: 16 bits + 14 values = 1 request of 18 registers", () => {
    const plan = planRequests(statusAndValues, defaults);
    expect(plan).toHaveLength(1);
    expect(plan[0]).toMatchObject({ area: "holding", address: 0x8061, count: 18 });
    expect(plan[0]?.tags).toHaveLength(30);
  });

  it("without gap bridging: 2 requests, 0x8061 (1 register) and 0x8065..0x8072 (14)", () => {
    const plan = planRequests(statusAndValues, { maxRegisters: 125, maxGap: 2 });
    expect(plan.map((r) => [r.address, r.count])).toEqual([
      [0x8061, 1],
      [0x8065, 14],
    ]);
  });

  it("with the set point (0x8006, far away): 2 requests", () => {
    const plan = planRequests(pemelTags(), defaults);
    expect(plan.map((r) => [r.address, r.count, r.tags.length])).toEqual([
      [0x8006, 1, 1],
      [0x8061, 18, 30],
    ]);
  });
});

describe("planRequests: refusals", () => {
  function codeOf(f: () => unknown): string | undefined {
    try {
      f();
    } catch (e) {
      return isPlantbridgeError(e) ? e.code : "uncoded";
    }
    return undefined;
  }

  it("a value wider than the cap is a config error", () => {
    expect(codeOf(() => planRequests([tag("d", 0, "float64")], { maxRegisters: 3, maxGap: 0 }))).toBe(
      ErrorCode.CONFIG,
    );
  });

  it("a value past register 65535 is a config error", () => {
    expect(codeOf(() => planRequests([tag("d", 65535, "uint32")], defaults))).toBe(ErrorCode.CONFIG);
    expect(codeOf(() => planRequests([tag("n", -1)], defaults))).toBe(ErrorCode.CONFIG);
  });

  it("a cap below 1 is a config error", () => {
    expect(codeOf(() => planRequests([tag("a", 0)], { maxRegisters: 0, maxGap: 0 }))).toBe(ErrorCode.CONFIG);
  });

  it("a value straddling the cap opens a new request where it starts (never split)", () => {
    expect(shape([tag("d", 0, "float64"), tag("w", 3, "uint32")], { maxRegisters: 4, maxGap: 0 })).toEqual([
      "holding@0+4 [d]",
      "holding@3+2 [w]",
    ]);
  });
});

describe("planRequests: properties", () => {
  const types: ModbusDataType[] = ["uint16", "int16", "bit", "bool", "int32", "uint32", "float32", "float64"];
  const areas: ModbusArea[] = ["holding", "input", "coil", "discrete"];
  const arbitraryTags = fc
    .array(
      fc.record({
        area: fc.constantFrom(...areas),
        address: fc.integer({ min: 0, max: 400 }),
        type: fc.constantFrom(...types),
      }),
      { maxLength: 60 },
    )
    .map((specs) =>
      specs.map((s, i) =>
        tag(`t${i}`, s.address, s.area === "coil" || s.area === "discrete" ? "bool" : s.type, {
          area: s.area,
          ...(s.type === "bit" ? { bit: i % 16 } : {}),
        }),
      ),
    );

  it("every tag lies in exactly one request, whole, and no request breaks the cap or the gap rule", () => {
    fc.assert(
      fc.property(
        arbitraryTags,
        fc.integer({ min: 4, max: 130 }),
        fc.integer({ min: 0, max: 20 }),
        (tags, maxRegisters, maxGap) => {
          const plan = planRequests(tags, { maxRegisters, maxGap });
          const seen = new Map<string, number>();
          for (const request of plan) {
            const bits = request.area === "coil" || request.area === "discrete";
            expect(request.count).toBeLessThanOrEqual(bits ? 2000 : Math.min(125, maxRegisters));
            let covered = request.address;
            for (const t of request.tags) {
              expect(t.area).toBe(request.area);
              expect(t.address).toBeGreaterThanOrEqual(request.address);
              expect(t.address + widthOf(t)).toBeLessThanOrEqual(request.address + request.count);
              // registers between merged tags that nobody needs are at most maxGap
              expect(t.address - covered).toBeLessThanOrEqual(maxGap);
              covered = Math.max(covered, t.address + widthOf(t));
              seen.set(t.name, (seen.get(t.name) ?? 0) + 1);
            }
            expect(covered).toBe(request.address + request.count);
          }
          expect(seen.size).toBe(tags.length);
          expect([...seen.values()].every((n) => n === 1)).toBe(true);
        },
      ),
    );
  });

  it("requests of one area come out by address, each starting past the previous one's first tag", () => {
    fc.assert(
      fc.property(arbitraryTags, fc.integer({ min: 0, max: 20 }), (tags, maxGap) => {
        const plan = planRequests(tags, { maxRegisters: 125, maxGap });
        for (const area of areas) {
          const inArea = plan.filter((r) => r.area === area);
          for (let i = 1; i < inArea.length; i++) {
            const before = inArea[i - 1]!;
            // A tag that straddles the cap starts a new request inside the previous one's span:
            // the two may overlap, but a request never starts before its predecessor.
            expect(inArea[i]!.address).toBeGreaterThan(before.address);
          }
        }
      }),
    );
  });
});
