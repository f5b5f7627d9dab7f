/**
 * Every call to the outside world is bounded: a hung unit or a network gone silent (packets dropped,
 * no RST) must make the call reject, not hang. Past `ms` the promise rejects with `onTimeout()`'s
 * error; the timer is always cleared; the call's late outcome is ignored (the caller has already
 * been told, and treats the link as lost).
 */
export function withDeadline<T>(work: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  // The loser must not become an unhandled rejection.
  work.catch(() => {});
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}
