/**
 * The soak's memory figures: RSS and heap every 2 s; the heap after a full collection every 10 s
 * when the process runs with --expose-gc (npm run soak does). Memory "grew without bound" when the
 * collected heap of the last quarter of the run is clearly above that of its second quarter (the
 * first quarter is warm-up: caches, JIT, the first reconnects).
 */

interface MemoryPoint {
  at: number;
  rssMb: number;
  heapMb: number;
  /** Heap used right after a full collection, when one was made. */
  collectedHeapMb?: number;
}

export interface MemoryFigures {
  points: MemoryPoint[];
  summary: {
    peakRssMb: number;
    peakHeapMb: number;
    firstCollectedHeapMb?: number;
    lastCollectedHeapMb?: number;
  };
}

const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;

type Collect = () => void;

function collector(): Collect | undefined {
  const gc = (globalThis as { gc?: Collect }).gc;
  return typeof gc === "function" ? gc : undefined;
}

export function startMemoryWatch(): { stop(): MemoryFigures } {
  const points: MemoryPoint[] = [];
  const gc = collector();
  let ticks = 0;
  const sample = () => {
    ticks++;
    const collect = gc !== undefined && ticks % 5 === 0;
    if (collect) gc?.();
    const m = process.memoryUsage();
    points.push({
      at: performance.now(),
      rssMb: mb(m.rss),
      heapMb: mb(m.heapUsed),
      ...(collect ? { collectedHeapMb: mb(m.heapUsed) } : {}),
    });
  };
  sample();
  const timer = setInterval(sample, 2000);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      sample();
      const collected = points.flatMap((p) => (p.collectedHeapMb === undefined ? [] : [p.collectedHeapMb]));
      return {
        points,
        summary: {
          peakRssMb: Math.max(...points.map((p) => p.rssMb)),
          peakHeapMb: Math.max(...points.map((p) => p.heapMb)),
          ...(collected.length > 0
            ? { firstCollectedHeapMb: collected[0], lastCollectedHeapMb: collected.at(-1) }
            : {}),
        },
      };
    },
  };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

/** Growth of the collected heap from the second quarter of the run to its last quarter. */
export function judgeMemory(figures: MemoryFigures): { grew: boolean; note: string } {
  const collected = figures.points.filter((p) => p.collectedHeapMb !== undefined);
  if (collected.length < 8)
    return { grew: false, note: "too short to judge the heap (fewer than 8 collections)" };
  const q = Math.floor(collected.length / 4);
  const second = median(collected.slice(q, 2 * q).map((p) => p.collectedHeapMb ?? 0));
  const last = median(collected.slice(-q).map((p) => p.collectedHeapMb ?? 0));
  const allowed = second * 1.25 + 15;
  const note = `collected heap ${second} MB in the second quarter, ${last} MB in the last (limit ${Math.round(allowed)} MB)`;
  return { grew: last > allowed, note };
}
