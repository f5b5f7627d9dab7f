// Renders the plant view (GET /api/snapshot, the event stream's `hello` and `values`) into the page.
import { historianCard, loopCard, qualityBadge, unitCard } from "./cards.js";
import { formatAge, formatValue, h } from "./dom.js";

function tagRows(view) {
  const rows = [];
  const written = new Map(view.loops.map((l) => [l.output.tag, l.output.lastWritten]));
  let unit = null;
  for (const t of view.tags) {
    if (t.unit !== unit) {
      unit = t.unit;
      rows.push(h("tr", { class: "unit-row" }, h("td", { colspan: 6 }, unit)));
    }
    const age = t.time === undefined ? null : Math.max(0, (view.time - t.time) / 1000);
    rows.push(
      h(
        "tr",
        { class: `q-${t.quality}`, "data-tag": t.id },
        h(
          "td",
          { title: t.description || "" },
          t.tag,
          t.writable ? h("span", { class: "muted" }, " (writable)") : null,
        ),
        h(
          "td",
          { class: "num", "data-testid": `tag-${t.id}` },
          formatValue(t.quality === "none" && written.has(t.id) ? written.get(t.id) : t.value),
        ),
        h("td", {}, t.engineeringUnit || ""),
        h(
          "td",
          {},
          t.quality === "none" && written.has(t.id)
            ? h("span", { class: "badge info" }, "written")
            : qualityBadge(t),
        ),
        h("td", {}, age === null ? "—" : formatAge(age)),
        h(
          "td",
          { class: "why", title: t.reason || "" },
          h(
            "div",
            {},
            t.quality === "bad"
              ? t.reason || ""
              : t.quality === "none" && written.has(t.id)
                ? "by the loop"
                : "",
          ),
        ),
      ),
    );
  }
  return rows;
}

/** Replaces the content of every section from `view` and its health (as /health reports it). */
export function renderView(view, health) {
  document.getElementById("plant-name").textContent = view.plant;
  document.title = `plantbridge — ${view.plant}`;
  const overall = document.getElementById("overall");
  overall.className = `badge ${health.ok ? "good" : "bad"}`;
  overall.textContent = health.ok
    ? "healthy"
    : `${health.problems.length} problem${health.problems.length === 1 ? "" : "s"}`;
  const problems = document.getElementById("problems");
  problems.hidden = health.ok;
  problems.replaceChildren(
    ...(health.ok
      ? []
      : [
          h("strong", {}, "Not healthy:"),
          h(
            "ul",
            {},
            health.problems.map((p) => h("li", {}, p)),
          ),
        ]),
  );
  document.getElementById("units").replaceChildren(...view.units.map((u) => unitCard(u, view.time)));
  const tagsById = new Map(view.tags.map((t) => [t.id, t]));
  document.getElementById("loops").replaceChildren(...view.loops.map((l) => loopCard(l, tagsById)));
  document.getElementById("historian").replaceChildren(...historianCard(view));
  document.querySelector("#tags tbody").replaceChildren(...tagRows(view));
  document.getElementById("updated").textContent = new Date(view.time).toLocaleTimeString();
}
