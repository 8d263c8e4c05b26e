/** A small line of recent rates, in plain SVG, with its meaning in words for screen readers. */
import { formatRate } from './format.js';

export interface SparklineProps {
  values: readonly number[];
  /** Seconds between two values, to say how far back the line goes. */
  interval: number;
  width?: number;
  height?: number;
}

export function Sparkline({ values, interval, width = 120, height = 24 }: SparklineProps) {
  const peak = values.reduce((max, value) => Math.max(max, value), 0);
  const current = values[values.length - 1];
  const label =
    current === undefined
      ? 'Rate: measuring'
      : `Rate over the last ${Math.round(values.length * interval)} s: now ${formatRate(current)}, peak ${formatRate(peak)}`;
  const step = values.length > 1 ? width / (values.length - 1) : 0;
  const y = (value: number) => (peak === 0 ? height - 1 : height - 1 - (value / peak) * (height - 2));
  // One value is a level, drawn across.
  const drawn = values.length === 1 ? [values[0]!, values[0]!] : values;
  const drawnStep = values.length === 1 ? width : step;
  const points = drawn.map((value, i) => `${(i * drawnStep).toFixed(1)},${y(value).toFixed(1)}`).join(' ');
  return (
    <svg class="sparkline" width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="img" aria-label={label} data-samples={values.length}>
      <title>{label}</title>
      {values.length > 0 && <polyline points={points} fill="none" stroke="currentColor" stroke-width="1.5" />}
    </svg>
  );
}
