// Draws a machine graph (GET /api/machines: machines/machine-graph.ts, the same description the
// Mermaid diagrams of `plantbridge diagrams` are made from) as an SVG state diagram, and marks the
// live actor's current states on it. Layout: in each (compound) state its children are placed in
// columns by their distance from the initial state; transitions are curves with their events.

const svgNs = "http://www.w3.org/2000/svg";
const charWidth = 7;
const atomicHeight = 30;
const gapX = 84;
const gapY = 26;
const pad = 10;
const header = 22;
const badStates = new Set(["faulted", "historianDown", "error"]);

function s(tag, attrs = {}, text) {
  const el = document.createElementNS(svgNs, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

const key = (path) => path.join(".");

/** Every state of the graph with its parent, by path key. */
function index(root) {
  const nodes = new Map();
  const visit = (node, parent) => {
    nodes.set(key(node.path), { node, parent });
    for (const child of node.children) visit(child, node);
  };
  visit(root, null);
  return nodes;
}

/** The child of `container` that holds the state at `path` (or null when it is outside). */
function childHolding(container, path) {
  const depth = container.path.length;
  if (path.length <= depth || key(path.slice(0, depth)) !== key(container.path)) return null;
  return container.children.find((c) => c.key === path[depth]) || null;
}

function allTransitions(node, into = []) {
  for (const t of node.transitions)
    for (const target of t.targets)
      into.push({ from: node.path, to: target, event: t.event, guard: t.guard });
  for (const child of node.children) allTransitions(child, into);
  return into;
}

/**
 * Columns of sibling states: the longest path from the initial state over the transitions that do
 * not lead back (back edges found by a depth-first walk in definition order). States the initial
 * state never reaches (entered only from "any state") come after the others.
 */
function layers(children, initial, edges) {
  const back = new Set();
  const seen = new Set();
  const onPath = new Set();
  const walk = (v) => {
    seen.add(v);
    onPath.add(v);
    for (const e of edges) {
      if (e[0] !== v) continue;
      if (onPath.has(e[1])) back.add(e);
      else if (!seen.has(e[1])) walk(e[1]);
    }
    onPath.delete(v);
  };
  if (initial) walk(initial);
  const reached = new Set(seen);
  for (const c of children) if (!seen.has(c)) walk(c);
  const forward = edges.filter((e) => !back.has(e));
  const layer = new Map(children.map((c) => [c, 0]));
  for (let round = 0; round < children.length; round++)
    for (const [from, to] of forward)
      if (layer.get(to) < layer.get(from) + 1) layer.set(to, layer.get(from) + 1);
  const lastReached = Math.max(0, ...[...reached].map((c) => layer.get(c)));
  for (const c of children) if (!reached.has(c)) layer.set(c, layer.get(c) + lastReached + 1);
  return layer;
}

/** Sizes and relative positions of every state, bottom-up. */
function measure(node, layout) {
  if (node.children.length === 0) {
    const box = { w: Math.max(74, node.key.length * charWidth + 24), h: atomicHeight };
    layout.set(key(node.path), box);
    return box;
  }
  for (const child of node.children) measure(child, layout);
  const initial = node.initial ? childHolding(node, node.initial) : node.children[0];
  const edges = [];
  for (const child of node.children)
    for (const t of allTransitions(child)) {
      const target = childHolding(node, t.to);
      if (target && target !== child) edges.push([child, target]);
    }
  const layer = layers(node.children, initial, edges);
  const sparse = [];
  for (const child of node.children) {
    const at = layer.get(child);
    if (sparse[at] === undefined) sparse[at] = [];
    sparse[at].push(child);
  }
  const columns = sparse.filter(Boolean);
  const isRoot = node.path.length === 0;
  const top = isRoot ? 0 : header;
  const inset = isRoot ? 0 : pad;
  const heights = columns.map(
    (col) => col.reduce((sum, c) => sum + layout.get(key(c.path)).h, 0) + gapY * (col.length - 1),
  );
  const tallest = Math.max(...heights);
  let x = inset + (isRoot ? 18 : 0);
  columns.forEach((col, i) => {
    const width = Math.max(...col.map((c) => layout.get(key(c.path)).w));
    let y = top + inset + (tallest - heights[i]) / 2;
    for (const c of col) {
      const box = layout.get(key(c.path));
      box.x = x + (width - box.w) / 2;
      box.y = y;
      y += box.h + gapY;
    }
    x += width + gapX;
  });
  const box = {
    w: Math.max(x - gapX + inset, node.key.length * charWidth + 24),
    h: top + tallest + inset * 2,
  };
  layout.set(key(node.path), box);
  return box;
}

/** Absolute positions: each child's x/y was relative to its parent. */
function place(node, layout, dx, dy) {
  const box = layout.get(key(node.path));
  box.ax = dx + (box.x || 0);
  box.ay = dy + (box.y || 0);
  for (const child of node.children) place(child, layout, box.ax, box.ay);
}

function edgePath(a, b, below) {
  const [sx, sy] = [a.ax + a.w, a.ay + a.h / 2];
  const [tx, ty] = [b.ax, b.ay + b.h / 2];
  if (tx >= sx + 8 && tx - sx <= gapX + 8) {
    const c = Math.max(20, (tx - sx) / 2);
    return curve([sx, sy], [sx + c, sy], [tx - c, ty], [tx, ty], -4);
  }
  if (tx >= sx + 8) {
    // Past a column: over the top, so it does not run through the states in between.
    const [ax, ay] = [a.ax + a.w / 2, a.ay];
    const [zx, zy] = [b.ax + b.w / 2, b.ay];
    const high = Math.min(ay, zy) - below - 6;
    return curve([ax, ay], [ax, high], [zx, high], [zx, zy], -2);
  }
  const [bx, by] = [a.ax + a.w / 2 + 6, a.ay + a.h];
  const [ex, ey] = [b.ax + b.w / 2 - 6, b.ay + b.h];
  const low = Math.max(by, ey) + below;
  return curve([bx, by], [bx, low], [ex, low], [ex, ey], 11);
}

/** A cubic curve with its label at the curve's middle (t = 0.5), nudged by `dy`. */
function curve(p0, p1, p2, p3, dy) {
  const mid = (i) => (p0[i] + 3 * p1[i] + 3 * p2[i] + p3[i]) / 8;
  return {
    d: `M${p0[0]},${p0[1]} C${p1[0]},${p1[1]} ${p2[0]},${p2[1]} ${p3[0]},${p3[1]}`,
    lx: mid(0),
    ly: mid(1) + dy,
  };
}

/** Lays a machine graph out once; `draw(id)` makes one SVG of it for one actor. */
export function prepareDiagram(graph) {
  const layout = new Map();
  const nodes = index(graph.root);
  const size = measure(graph.root, layout);
  place(graph.root, layout, 0, 0);
  const grouped = new Map();
  const anyState = [];
  for (const t of allTransitions(graph.root)) {
    const label = t.guard ? `${t.event} [${t.guard}]` : t.event;
    if (t.from.length === 0) {
      anyState.push(`any state → ${t.to.join(".")} : ${label}`);
      continue;
    }
    if (key(t.from) === key(t.to)) continue;
    const k = `${key(t.from)}>${key(t.to)}`;
    if (!grouped.has(k)) grouped.set(k, { from: t.from, to: t.to, labels: [] });
    grouped.get(k).labels.push(label);
  }
  const above = 64;
  const height = size.h + 70 + anyState.length * 14 + above;
  return {
    draw(id) {
      const svg = s("svg", {
        width: size.w + 36,
        height,
        viewBox: `-8 ${-above} ${size.w + 36} ${height}`,
        role: "img",
      });
      const defs = s("defs");
      const marker = s("marker", {
        id: `arrow-${id}`,
        viewBox: "0 0 10 10",
        refX: 9,
        refY: 5,
        markerWidth: 7,
        markerHeight: 7,
        orient: "auto-start-reverse",
      });
      marker.append(s("path", { d: "M0,0 L10,5 L0,10 z", fill: "#8c99a6" }));
      defs.append(marker);
      svg.append(defs);
      const states = [...nodes.values()].filter(({ node }) => node.path.length > 0);
      states.sort((a, b) => a.node.path.length - b.node.path.length);
      for (const { node } of states) {
        const box = layout.get(key(node.path));
        const compound = node.children.length > 0;
        const cls = [
          "state",
          compound ? "compound" : "",
          node.type === "final" ? "final" : "",
          badStates.has(node.key) ? "bad" : "",
        ]
          .filter(Boolean)
          .join(" ");
        const g = s("g", { class: cls, "data-path": key(node.path) });
        g.append(s("rect", { x: box.ax, y: box.ay, width: box.w, height: box.h, rx: compound ? 8 : 14 }));
        g.append(
          s(
            "text",
            {
              x: box.ax + (compound ? 10 : box.w / 2),
              y: box.ay + (compound ? 15 : box.h / 2 + 4),
              "text-anchor": compound ? "start" : "middle",
            },
            node.key,
          ),
        );
        const invoke = node.invokes.length > 0 ? `invokes ${node.invokes.join(", ")}` : "";
        if (invoke) g.append(s("title", {}, `${node.path.join(".")} — ${invoke}`));
        svg.append(g);
      }
      const initial = graph.root.initial && layout.get(key(graph.root.initial));
      if (initial) {
        svg.append(
          s("circle", { class: "initial", cx: initial.ax - 12, cy: initial.ay + initial.h / 2, r: 5 }),
        );
      }
      let n = 0;
      for (const edge of grouped.values()) {
        const a = layout.get(key(edge.from));
        const b = layout.get(key(edge.to));
        const route = edgePath(a, b, 26 + (n++ % 3) * 14);
        svg.append(s("path", { class: "edge", d: route.d, "marker-end": `url(#arrow-${id})` }));
        const text = edge.labels.length > 1 ? `${edge.labels[0]} +${edge.labels.length - 1}` : edge.labels[0];
        const label = s(
          "text",
          { class: "edge-label", x: route.lx, y: route.ly, "text-anchor": "middle" },
          text.length > 30 ? `${text.slice(0, 29)}…` : text,
        );
        label.append(s("title", {}, edge.labels.join("\n")));
        svg.append(label);
      }
      anyState.forEach((line, i) => {
        svg.append(s("text", { class: "any-state", x: 0, y: size.h + 58 + i * 14 }, line));
      });
      return svg;
    },
  };
}

/** Paths of the states a state value is in: `{ faulted: "waiting" }` → faulted, faulted.waiting. */
export function activePaths(value, prefix = []) {
  if (typeof value === "string") return [key([...prefix, value])];
  if (value && typeof value === "object")
    return Object.entries(value).flatMap(([k, v]) => [
      key([...prefix, k]),
      ...activePaths(v, [...prefix, k]),
    ]);
  return [];
}

/** Marks the states of `value` active in one actor's SVG. */
export function highlight(svg, value) {
  const active = new Set(activePaths(value));
  for (const g of svg.querySelectorAll("g.state")) g.classList.toggle("active", active.has(g.dataset.path));
}
