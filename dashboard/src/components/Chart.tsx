import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

/** A bar chart of one series over time (uPlot draws on a canvas; the table beside it is the accessible form). */
export function UsageChart({ times, values, label, timeZone, range }: { times: number[]; values: number[]; label: string; timeZone: string; range: [number, number] }) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const width = Math.max(320, el.clientWidth || 720);
    const plot = new uPlot(
      {
        width,
        height: 260,
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), timeZone),
        // Bars stand on zero, whatever the smallest bucket.
        scales: { x: { time: true, range: () => range }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
        series: [{}, { label, stroke: "#1f4e79", fill: "rgba(31,78,121,0.15)", width: 2, paths: uPlot.paths.bars!({ size: [0.8, 48], align: 1 }), points: { show: false } }],
        axes: [{}, { size: 70 }],
      },
      [times, values],
      el,
    );
    return () => plot.destroy();
  }, [times, values, label, timeZone, range[0], range[1]]);
  return <div ref={host} className="chart" role="img" aria-label={`${label} over time (the table below lists the same numbers)`} />;
}
