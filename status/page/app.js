// The status page: one event stream (GET /api/events) keeps everything current. `hello` brings the
// whole view, `values` a new one every second, `state` each machine state change as it happens.
// A lost stream shows a banner and greys the page; the browser reconnects by itself and the next
// `hello` brings everything back.
import { activePaths, highlight, prepareDiagram } from "./diagram.js";
import { formatAge, h } from "./dom.js";
import { createTrend } from "./trend.js";
import { renderView } from "./view.js";

const silenceMs = 5000;
const keptChanges = 60;

const page = {
  view: null,
  diagrams: new Map(), // actor → { svg, current }
  layouts: new Map(), // machine id → prepared diagram
  trend: null,
  lastMessage: 0,
  lostAt: null,
  seq: 0,
};

async function getJson(path) {
  const res = await fetch(path, { cache: "no-store", credentials: "same-origin" });
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return res.json();
}

function setStream(live, text) {
  document.getElementById("stream-dot").className = `dot ${live ? "live" : "lost"}`;
  document.getElementById("stream-text").textContent = text;
  document.body.classList.toggle("stale", !live);
  const banner = document.getElementById("banner");
  banner.hidden = live;
  if (!live) {
    page.lostAt ??= new Date();
    document.getElementById("banner-text").textContent = `at ${page.lostAt.toLocaleTimeString()}`;
  } else {
    page.lostAt = null;
  }
}

function renderMachines(view) {
  const container = document.getElementById("machines");
  for (const m of view.machines) {
    let entry = page.diagrams.get(m.actor);
    if (!entry) {
      const layout = page.layouts.get(m.machine);
      if (!layout) continue;
      const svg = layout.draw(page.diagrams.size);
      const current = h("span", { class: "current", "data-testid": `machine-current-${m.actor}` });
      const box = h(
        "div",
        { class: "machine", "data-actor": m.actor, "data-testid": `machine-${m.actor}` },
        h(
          "div",
          { class: "machine-head" },
          h("strong", {}, m.actor),
          h("span", { class: "muted" }, `${m.machine} machine`),
          current,
        ),
        svg,
      );
      container.append(box);
      entry = { svg, current, box };
      page.diagrams.set(m.actor, entry);
    }
    showState(entry, m.value, m.status);
  }
}

function showState(entry, value, status) {
  highlight(entry.svg, value);
  const paths = activePaths(value);
  entry.current.textContent = status === "active" ? paths.at(-1) || "" : `${paths.at(-1) || ""} (${status})`;
  entry.box.dataset.state = paths.join(" ");
}

function logChange(change) {
  const list = document.getElementById("changes");
  const time = new Date(change.at).toLocaleTimeString();
  const to = activePaths(change.value).at(-1) || change.status;
  list.prepend(h("li", { "data-seq": change.seq }, `${time}  ${change.actor}  → ${to}  (${change.event})`));
  while (list.children.length > keptChanges) list.lastElementChild.remove();
}

// The control loop and storage change state every period, a forwarder at every batch: the list
// shows the changes a person looks for (links, the plant, a historian that is not reached).
const routine = new Set(["reading", "idle", "delivering"]);
const lastShown = new Map();
function worthLogging(change) {
  if (change.machine === "control" || change.machine === "storage") return false;
  const state = activePaths(change.value)[0];
  const before = lastShown.get(change.actor);
  lastShown.set(change.actor, state);
  return !(
    change.machine === "forwarder" &&
    routine.has(state) &&
    (before === undefined || routine.has(before))
  );
}

function applyState(change) {
  if (change.seq <= page.seq) return;
  page.seq = change.seq;
  const entry = page.diagrams.get(change.actor);
  if (entry) showState(entry, change.value, change.status);
  if (page.view) {
    const m = page.view.machines.find((x) => x.actor === change.actor);
    if (m) Object.assign(m, { value: change.value, status: change.status });
  }
  // A unit's card follows its connection machine at once, not only at the next values message.
  if (change.machine === "connection" && page.view) {
    const unit = page.view.units.find((u) => `unit:${u.name}` === change.actor);
    const state = typeof change.value === "string" ? change.value : Object.keys(change.value || {})[0];
    const card = document.querySelector(`[data-testid="unit-${unit?.name}"]`);
    if (unit && card && state) {
      card.dataset.state = state;
      const badge = card.querySelector(".badge");
      badge.textContent = state;
      badge.className = `badge ${state === "connected" ? "good" : state === "faulted" ? "bad" : "warn"}`;
    }
  }
  if (worthLogging(change)) logChange(change);
}

function showView(message) {
  page.view = message.view;
  renderView(message.view, message.health);
  renderMachines(message.view);
}

async function start() {
  const [graphs, trends] = await Promise.all([getJson("/api/machines"), getJson("/api/trend")]);
  for (const graph of graphs) page.layouts.set(graph.id, prepareDiagram(graph));
  if (trends.length > 0) {
    document.getElementById("trend-title").textContent = `— ${trends[0].loop}`;
    page.trend = createTrend(document.getElementById("trend"), trends[0]);
  } else {
    document.getElementById("trend").textContent = "This plant has no control loop.";
  }

  const stream = new EventSource("/api/events");
  const heard = () => {
    page.lastMessage = performance.now();
  };
  stream.addEventListener("open", () => heard());
  stream.addEventListener("hello", (e) => {
    heard();
    const message = JSON.parse(e.data);
    page.seq = message.seq;
    showView(message);
    setStream(true, "live");
  });
  stream.addEventListener("values", (e) => {
    heard();
    const message = JSON.parse(e.data);
    showView(message);
    page.trend?.add(message.view);
    setStream(true, "live");
  });
  stream.addEventListener("state", (e) => {
    heard();
    applyState(JSON.parse(e.data));
  });
  stream.addEventListener("error", () => {
    setStream(
      false,
      stream.readyState === EventSource.CLOSED ? "stream closed" : "stream lost — reconnecting",
    );
  });
  setInterval(() => {
    const quiet = performance.now() - page.lastMessage;
    if (page.lastMessage > 0 && quiet > silenceMs && !page.lostAt)
      setStream(false, `no data for ${formatAge(quiet / 1000)} — reconnecting`);
  }, 1000);
}

start().catch((e) => {
  setStream(false, "cannot load");
  document.getElementById("banner-text").textContent = String(e.message || e);
});
