/**
 * Micro-benchmarks of applying what the engine says to the registry: an initial sync's records, a burst of
 * 5,000 container events (the tracker's per-event work, without the inspects it schedules), and the
 * coalescing queue that bounds those inspects.
 * Run with `deno task bench` or `deno bench --allow-read bench/registry_bench.ts`.
 */
import { CoalescingQueue } from "../lib/engine/coalescing_queue.ts";
import { ContainerRegistry, recordFromInspect } from "../lib/engine/registry.ts";
import { type ContainerEvent, parseContainerEvent } from "../lib/docker/events.ts";
import { eventEffect } from "../lib/engine/event_effects.ts";
import { inspects, records, restartBurstStream } from "./fixtures.ts";

const HOUR_MS = 3_600_000;
const decoder = new TextDecoder();

/** The events of a `docker restart` burst over 1,000 containers (5,000 events), parsed as the stream reader does. */
function burstEvents(containers: number): ContainerEvent[] {
  const text = decoder.decode(restartBurstStream(containers));
  return text.split("\r\n").filter((line) => line.startsWith("{")).map((line) =>
    parseContainerEvent(JSON.parse(line))!
  );
}

/** What the tracker does per event before any inspect: returns how many inspects it would schedule. */
function apply(registry: ContainerRegistry, events: readonly ContainerEvent[], nowMs: number): number {
  let inspectsWanted = 0;
  for (const event of events) {
    const effect = eventEffect(event, registry.has(event.id));
    if (effect.remove) {
      registry.remove(event.id, nowMs);
      continue;
    }
    if (effect.patch) registry.patch(event.id, effect.patch, nowMs);
    else registry.markSeen(event.id, nowMs);
    if (effect.inspect) inspectsWanted++;
  }
  return inspectsWanted;
}

const inspected = inspects(1_000);
Deno.bench({
  name: "recordFromInspect() for 1,000 inspect documents",
  group: "sync",
  fn: () => void inspected.forEach((inspect) => recordFromInspect(inspect)),
});

for (const n of [1_000, 10_000]) {
  const fresh = records(n);
  Deno.bench({
    name: `upsert ${n} records into an empty registry (initial sync)`,
    group: "sync",
    fn: () => {
      const registry = new ContainerRegistry(HOUR_MS);
      for (const record of fresh) registry.upsert(record, 1);
    },
  });
}

const events = burstEvents(1_000);
const base = records(1_000);
Deno.bench({
  name: `apply a burst of ${events.length} events to a registry of 1,000 containers`,
  group: "events",
  fn: (b) => {
    const registry = new ContainerRegistry(HOUR_MS);
    for (const record of base) registry.upsert(record, 1);
    b.start();
    apply(registry, events, 2);
    b.end();
  },
});

const keys = records(10_000).map((record) => record.id);
Deno.bench({
  name: "schedule 10,000 inspects through the coalescing queue (8 at a time, no-op work)",
  group: "events",
  async fn() {
    const queue = new CoalescingQueue(8, () => Promise.resolve());
    await Promise.all(keys.map((key) => queue.schedule(key)));
  },
});
