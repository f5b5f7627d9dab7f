import { describe, expect, it } from "vitest";
import { createRoundQueue } from "../../../adapters/modbus/gateway-rounds.ts";

/** Drains the queue; `suspended` names the units not in good standing. */
function drain(
  queue: ReturnType<typeof createRoundQueue<string>>,
  suspended: readonly string[] = [],
): string[] {
  const order: string[] = [];
  for (
    let next = queue.next((m) => suspended.includes(m));
    next;
    next = queue.next((m) => suspended.includes(m))
  )
    order.push(next.group);
  return order;
}

describe("rounds on a shared connection", () => {
  it.each([
    {
      name: "one group per unit per round, oldest waiting work first",
      pushed: [
        ["A", "a1"],
        ["A", "a2"],
        ["B", "b1"],
        ["C", "c1"],
        ["B", "b2"],
      ],
      suspended: [],
      order: ["a1", "b1", "c1", "a2", "b2"],
    },
    {
      name: "a suspended unit goes last in each round, but never starves",
      pushed: [
        ["DEAD", "d1"],
        ["DEAD", "d2"],
        ["A", "a1"],
        ["B", "b1"],
        ["A", "a2"],
        ["B", "b2"],
      ],
      suspended: ["DEAD"],
      order: ["a1", "b1", "d1", "a2", "b2", "d2"],
    },
    {
      name: "only suspended units waiting: they are served",
      pushed: [
        ["X", "x1"],
        ["Y", "y1"],
      ],
      suspended: ["X", "Y"],
      order: ["x1", "y1"],
    },
  ])("$name", ({ pushed, suspended, order }) => {
    const queue = createRoundQueue<string>();
    for (const [member, group] of pushed) queue.push(member as string, group as string);
    expect(queue.size).toBe(pushed.length);
    expect(drain(queue, suspended)).toEqual(order);
    expect(queue.size).toBe(0);
  });

  it("work that arrives during a round waits for the next round", () => {
    const queue = createRoundQueue<string>();
    queue.push("A", "a1");
    queue.push("B", "b1");
    expect(queue.next(() => false)?.group).toBe("a1");
    queue.push("A", "a2");
    queue.push("C", "c1");
    expect(drain(queue)).toEqual(["b1", "a2", "c1"]);
  });

  it("a unit's work taken off the queue leaves its place in the round", () => {
    const queue = createRoundQueue<string>();
    queue.push("A", "a1");
    queue.push("B", "b1");
    queue.push("B", "b2");
    queue.push("C", "c1");
    expect(queue.next(() => false)?.group).toBe("a1");
    expect(queue.take("B")).toEqual(["b1", "b2"]);
    expect(queue.size).toBe(1);
    expect(drain(queue)).toEqual(["c1"]);
    expect(queue.take("nobody")).toEqual([]);
  });

  it("takeAll empties the queue oldest first", () => {
    const queue = createRoundQueue<string>();
    queue.push("B", "b1");
    queue.push("A", "a1");
    queue.push("B", "b2");
    expect(queue.takeAll()).toEqual(["b1", "a1", "b2"]);
    expect(queue.size).toBe(0);
    expect(queue.next(() => false)).toBeUndefined();
  });
});
