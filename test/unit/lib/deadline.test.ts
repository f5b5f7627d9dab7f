import { describe, expect, it, vi } from "vitest";
import { withDeadline } from "../../../lib/deadline.ts";

describe("withDeadline", () => {
  it("settles like the call when it answers in time", async () => {
    await expect(withDeadline(Promise.resolve(7), 1000, () => new Error("late"))).resolves.toBe(7);
    await expect(
      withDeadline(Promise.reject(new Error("refused")), 1000, () => new Error("late")),
    ).rejects.toThrow("refused");
  });

  it("rejects with the timeout error when the call hangs, and ignores its late failure", async () => {
    vi.useFakeTimers();
    try {
      let failLate: (e: Error) => void = () => {};
      const hung = new Promise<number>((_, reject) => {
        failLate = reject;
      });
      const bounded = withDeadline(hung, 500, () => new Error("no answer within 500 ms"));
      const outcome = expect(bounded).rejects.toThrow("no answer within 500 ms");
      await vi.advanceTimersByTimeAsync(500);
      await outcome;
      failLate(new Error("socket closed")); // must not become an unhandled rejection
    } finally {
      vi.useRealTimers();
    }
  });
});
