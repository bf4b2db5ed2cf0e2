/** A semicircle gauge with threshold ticks; the numbers are in the text, the arc is decoration. */
export function Gauge({ value, max, thresholds, status, label }: { value: number; max: number; thresholds: number[]; status: string; label: string }) {
  const ratio = max > 0 ? Math.min(value / max, 1) : 0;
  const point = (r: number, radius = 40) => {
    const a = Math.PI * (1 - r);
    return [50 + radius * Math.cos(a), 50 - radius * Math.sin(a)] as const;
  };
  const [x, y] = point(ratio);
  // Small shares keep a decimal: 0.2 % of a limit is not 0 %.
  const pct = max > 0 ? (value / max) * 100 : 0;
  const shown = pct > 0 && pct < 10 ? pct.toFixed(1) : String(Math.round(pct));
  const large = 0;
  return (
    <svg viewBox="0 0 100 60" className={`gauge gauge-${status.toLowerCase()}`} role="img" aria-label={`${label}: ${shown} % of the limit, ${status}`}>
      <path d="M10 50 A40 40 0 0 1 90 50" className="gauge-track" />
      {ratio > 0 && <path d={`M10 50 A40 40 0 ${large} 1 ${x.toFixed(2)} ${y.toFixed(2)}`} className="gauge-value" />}
      {thresholds.map((t) => {
        const [x1, y1] = point(Math.min(t / 100, 1), 34);
        const [x2, y2] = point(Math.min(t / 100, 1), 46);
        return <line key={t} x1={x1} y1={y1} x2={x2} y2={y2} className="gauge-tick" />;
      })}
      <text x="50" y="48" textAnchor="middle" className="gauge-text">
        {shown}%
      </text>
    </svg>
  );
}
