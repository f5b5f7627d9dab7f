/**
 * A client-side deadline over a database call. The server's statement_timeout does not help
 * when the network itself goes silent (packets dropped, no RST): the pg client would wait
 * forever. Past the deadline the promise rejects with `onTimeout()`'s error and the caller
 * treats the connection as lost; the call's late outcome is ignored (the sink is idempotent,
 * so a write that committed after all is harmless when it is retried).
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
