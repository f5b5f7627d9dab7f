// The cards of the status page: one per unit, per control loop and per historian sink.
import { formatAge, formatValue, h } from "./dom.js";

function stateClass(state) {
  if (
    state === "connected" ||
    state === "idle" ||
    state === "reading" ||
    state === "delivering" ||
    state === "running"
  )
    return "good";
  if (
    state === "connecting" ||
    state === "disconnected" ||
    state === "opening" ||
    state === "waiting" ||
    state === "evaluating" ||
    state === "sampling" ||
    state === "appending"
  )
    return "warn";
  if (
    state === "closing" ||
    state === "closed" ||
    state === "flushed" ||
    state === "stopped" ||
    state === "stopping"
  )
    return "neutral";
  return "bad";
}

const protocolNames = { "modbus-tcp": "Modbus TCP", opcua: "OPC UA" };

function kpi(label, value, unit, testid) {
  return h(
    "div",
    { class: "kpi" },
    h("div", { class: "label" }, label),
    h("span", { class: "big", "data-testid": testid }, value),
    unit ? h("span", { class: "unit" }, unit) : null,
  );
}

function figures(pairs) {
  return h(
    "dl",
    { class: "figures" },
    pairs.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]),
  );
}

export function unitCard(u, now) {
  const cls = stateClass(u.state);
  const since = u.since ? formatAge((now - u.since) / 1000) : "—";
  const errors =
    Object.entries(u.errors || {})
      .map(([code, n]) => `${code.replace(/^PB_ERR_/, "")} ${n}`)
      .join(", ") || "none";
  const requests = u.requests ? `${u.requests.read} reads, ${u.requests.write} writes` : "—";
  return h(
    "article",
    {
      class: `card unit state-${cls === "good" ? "good" : cls === "bad" ? "bad" : "warn"}`,
      "data-testid": `unit-${u.name}`,
      "data-state": u.state,
    },
    h(
      "div",
      { class: "card-head" },
      h("h2", {}, u.name),
      h("span", { class: "muted" }, protocolNames[u.protocol] || u.protocol),
      h("span", { class: `badge ${cls}`, "data-testid": `unit-state-${u.name}` }, u.state),
    ),
    u.reason
      ? h("div", { class: "reason", "data-testid": `unit-reason-${u.name}` }, u.reason)
      : h("div", { class: "reason quiet" }, `${u.state} for ${since}`),
    figures([
      ["address", u.address],
      [
        "last good value",
        u.lastGoodSampleAgeSeconds === null ? "none yet" : `${formatAge(u.lastGoodSampleAgeSeconds)} ago`,
      ],
      ["in this state", since],
      ["faults / reconnects", `${u.faults} / ${u.reconnects}`],
      ["requests", requests],
      ["errors", errors],
    ]),
  );
}

export function qualityBadge(point) {
  if (point.quality === "good") return h("span", { class: "badge good" }, "good");
  if (point.quality === "bad") return h("span", { class: "badge bad", title: point.reason || "" }, "bad");
  return h("span", { class: "badge neutral" }, "not read");
}

const decisionNames = {
  follow: "following",
  "permissive-off": "permissive off",
  hold: "holding",
  "fail-safe": "FAIL-SAFE",
};

export function loopCard(l, tagsById) {
  const unitOf = (id) => tagsById.get(id)?.engineeringUnit || "";
  const decisionCls =
    l.decision === "follow"
      ? "good"
      : l.decision === "fail-safe"
        ? "bad"
        : l.decision === null
          ? "neutral"
          : "warn";
  const p = l.permissive;
  const permissive = p
    ? [
        h(
          "span",
          {
            class: `badge ${p.value === true ? "good" : p.quality === "bad" ? "bad" : "warn"}`,
            "data-testid": "loop-permissive",
          },
          p.quality === "bad" ? "bad" : formatValue(p.value),
        ),
        h("span", { class: "muted" }, ` ${p.tag}`),
      ]
    : h("span", { class: "muted" }, "none");
  return h(
    "article",
    {
      class: `card loop state-${decisionCls === "good" ? "good" : decisionCls === "bad" ? "bad" : "warn"}`,
      "data-testid": `loop-${l.name}`,
    },
    h(
      "div",
      { class: "card-head" },
      h("h2", {}, "Control: ", h("span", { class: "muted" }, l.name)),
      h(
        "span",
        { class: `badge ${decisionCls}`, "data-testid": "loop-decision" },
        decisionNames[l.decision] || "not evaluated yet",
      ),
    ),
    h(
      "div",
      { class: "kpis" },
      kpi("demand", formatValue(l.input.value), unitOf(l.input.tag), "loop-demand"),
      kpi("set point written", formatValue(l.output.lastWritten), unitOf(l.output.tag), "loop-setpoint"),
      kpi(
        "fail-safe",
        l.failSafeActive ? `ACTIVE ${formatValue(l.failSafeValue)}` : "armed",
        l.failSafeActive ? unitOf(l.output.tag) : "",
        "loop-failsafe",
      ),
    ),
    l.reason ? h("div", { class: `reason ${l.decision === "follow" ? "quiet" : ""}` }, l.reason) : null,
    figures([
      ["input → output", `${l.input.tag} → ${l.output.tag}`],
      ["permissive", permissive],
      ["demand quality", qualityBadge(l.input)],
      [
        "limits",
        l.output.min !== undefined ? `${l.output.min} … ${l.output.max} ${unitOf(l.output.tag)}` : "—",
      ],
      [
        "fail-safe",
        `${formatValue(l.failSafeValue)} ${unitOf(l.output.tag)} after the input is unusable; taken over ${l.failSafeActivations}×`,
      ],
      [
        "evaluations / writes",
        `${l.evaluations} / ${l.writes} (failed ${l.writeFailures}, overruns ${l.overruns})`,
      ],
    ]),
  );
}

export function historianCard(view) {
  const cards = [];
  for (const s of view.sinks) {
    const cls = s.connected ? (s.draining ? "good" : "warn") : "bad";
    cards.push(
      h(
        "article",
        { class: `card sink state-${cls}`, "data-testid": `sink-${s.name}` },
        h(
          "div",
          { class: "card-head" },
          h("h2", {}, "Historian ", h("span", { class: "muted" }, s.name)),
          h("span", { class: `badge ${cls}`, "data-testid": `sink-state-${s.name}` }, s.state),
        ),
        s.reason ? h("div", { class: "reason" }, s.reason) : null,
        h(
          "div",
          { class: "kpis" },
          kpi("lag", formatAge(s.lagSeconds), "", "sink-lag"),
          kpi("spool depth", String(s.pending), "samples", "spool-depth"),
          kpi("delivered", `${s.rowsPerSecond.toFixed(1)}`, "rows/s", "sink-rate"),
        ),
        figures([
          ["draining", s.draining ? "yes" : "no"],
          ["delivered in all", `${s.delivered} samples in ${s.batches} transactions`],
          ["spool file", `${view.spool.held} samples held, ${(view.spool.bytes / 1048576).toFixed(1)} MiB`],
          ["dropped / dead-lettered", `${view.spool.dropped} / ${view.spool.deadLettered}`],
          [
            "storage",
            `every ${view.storage.periodMs / 1000} s: ${view.storage.cycles} cycles, ${view.storage.samples} samples (${view.storage.badSamples} bad)`,
          ],
          ["retries", String(s.retries)],
        ]),
      ),
    );
  }
  return cards;
}
