// The live trend of the first control loop: demand vs set point written vs measured value over the
// last 15 minutes (uPlot, served from node_modules). History comes from GET /api/trend, then one
// point per `values` message of the event stream.

const windowSeconds = 15 * 60;

export function createTrend(container, loopTrend) {
  const { demand, setpoint, measured } = loopTrend;
  const data = [loopTrend.time.slice(), demand.values.slice(), setpoint.values.slice()];
  if (measured) data.push(measured.values.slice());
  const unitOf = (series) => (series.engineeringUnit ? ` (${series.engineeringUnit})` : "");
  const rightUnit = demand.engineeringUnit || "demand";
  const leftUnit = setpoint.engineeringUnit || "set point";
  const series = [
    {},
    { label: `demand ${demand.tag}${unitOf(demand)}`, stroke: "#1f5fa8", width: 2, scale: "demand" },
    {
      label: `set point ${setpoint.tag}${unitOf(setpoint)}`,
      stroke: "#d4700f",
      width: 2,
      scale: "out",
      paths: uPlot.paths.stepped({ align: 1 }),
    },
  ];
  if (measured)
    series.push({
      label: `measured ${measured.tag}${unitOf(measured)}`,
      stroke: "#1a7f37",
      width: 1.5,
      scale: "out",
      dash: [5, 3],
    });
  const width = () => Math.max(320, container.clientWidth - 8);
  const plot = new uPlot(
    {
      width: width(),
      height: 300,
      series,
      scales: {
        x: { time: true },
        out: { range: (_u, min, max) => [Math.min(0, min ?? 0), Math.max(10, max ?? 10)] },
        demand: { range: (_u, min, max) => [Math.min(0, min ?? 0), Math.max(10, max ?? 10)] },
      },
      axes: [
        {},
        { scale: "out", label: leftUnit, stroke: "#3b4856" },
        { scale: "demand", side: 1, label: rightUnit, stroke: "#1f5fa8", grid: { show: false } },
      ],
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
    },
    data,
    container,
  );
  addEventListener("resize", () => plot.setSize({ width: width(), height: 300 }));

  return {
    /** Adds the point of one plant view. */
    add(view) {
      const loop = view.loops.find((l) => l.name === loopTrend.loop);
      const value = (tag) => {
        const t = view.tags.find((x) => x.id === tag);
        return t && t.quality === "good" && typeof t.value === "number" ? t.value : null;
      };
      const now = view.time / 1000;
      if (data[0].length > 0 && now <= data[0][data[0].length - 1]) return;
      data[0].push(now);
      data[1].push(value(demand.tag));
      data[2].push(loop ? loop.output.lastWritten : null);
      if (measured) data[3].push(value(measured.tag));
      while (data[0].length > 0 && data[0][0] < now - windowSeconds)
        for (const column of data) column.shift();
      plot.setData(data);
    },
  };
}
