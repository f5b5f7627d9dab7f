/**
 * Reading the status server the way a person's tools do: JSON over HTTP, the Prometheus text of
 * /metrics, and the Server-Sent Events stream of /api/events (collected as it arrives).
 */

export interface SseEvent {
  event: string;
  data: unknown;
}

export interface SseStream {
  readonly events: readonly SseEvent[];
  /** Everything received, as text. */
  text(): string;
  close(): void;
}

/** Opens the event stream; events are parsed and kept in arrival order. */
export async function openEventStream(url: string, headers: Record<string, string> = {}): Promise<SseStream> {
  const controller = new AbortController();
  const res = await fetch(url, {
    headers: { accept: "text/event-stream", ...headers },
    signal: controller.signal,
  });
  if (!res.ok || res.body === null) throw new Error(`${url}: HTTP ${res.status}`);
  const events: SseEvent[] = [];
  let raw = "";
  let buffer = "";
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        raw += value;
        buffer += value;
        let end = buffer.indexOf("\n\n");
        while (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event !== undefined && data !== undefined) events.push({ event, data: JSON.parse(data) });
          end = buffer.indexOf("\n\n");
        }
      }
    } catch {
      // aborted
    }
  })();
  return { events, text: () => raw, close: () => controller.abort() };
}

/** `name{label="v",…}` → value, for every sample line of a Prometheus text. */
export function parseMetrics(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

export async function getMetrics(
  base: string,
  headers: Record<string, string> = {},
): Promise<Map<string, number>> {
  const res = await fetch(new URL("/metrics", base), { headers });
  if (res.status !== 200) throw new Error(`/metrics: HTTP ${res.status}`);
  return parseMetrics(await res.text());
}

export async function getJson<T>(base: string, path: string, headers: Record<string, string> = {}) {
  const res = await fetch(new URL(path, base), { headers });
  return { status: res.status, body: (await res.json()) as T };
}
