/**
 * Bars per period in plain SVG, stacked (events per period by group) or side
 * by side (utilization per key), with a legend, a value on hover, and the
 * same numbers as a table for screen readers and keyboard users.
 */
import { useEffect, useId, useRef, useState } from 'preact/hooks';
import { niceCeiling, type ChartPeriod } from './chart-data.js';

export interface BarChartProps {
  title: string;
  periods: readonly ChartPeriod[];
  /** Groups in legend order; each gets a colour. */
  groups: readonly string[];
  mode: 'stacked' | 'grouped';
  /** The top of the axis; by default the largest bar. */
  max?: number;
  formatValue(value: number): string;
}

/** Colours told apart also by people with the commonest colour blindness (Okabe–Ito, then greys). */
export const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#000000', '#999999', '#666666'];

const HEIGHT = 260;
const MARGIN = { top: 12, right: 12, bottom: 48, left: 56 };

export function BarChart({ title, periods, groups, mode, max, formatValue }: BarChartProps) {
  const id = useId();
  const box = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(720);
  useEffect(() => {
    const element = box.current!;
    const observer = new ResizeObserver(() => setWidth(Math.max(280, element.clientWidth)));
    observer.observe(element);
    setWidth(Math.max(280, element.clientWidth));
    return () => observer.disconnect();
  }, []);

  const totals = periods.map((period) =>
    mode === 'stacked'
      ? groups.reduce((sum, group) => sum + (period.values.get(group) ?? 0), 0)
      : groups.reduce((top, group) => Math.max(top, period.values.get(group) ?? 0), 0),
  );
  const top = max ?? niceCeiling(Math.max(0, ...totals));
  const plotWidth = width - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const slot = periods.length > 0 ? plotWidth / periods.length : plotWidth;
  const barWidth = Math.max(1, slot * 0.8);
  const y = (value: number) => plotHeight - (value / top) * plotHeight;
  const ticks = [0, top / 2, top];
  // Label every k-th period so that labels do not overlap.
  const every = Math.max(1, Math.ceil(periods.length / Math.max(1, Math.floor(plotWidth / 90))));
  const summary = `${title}: ${periods.length} period${periods.length === 1 ? '' : 's'}, ${groups.length} group${groups.length === 1 ? '' : 's'}; the table below holds the numbers.`;

  return (
    <figure class="chart" aria-labelledby={`${id}-caption`}>
      <figcaption id={`${id}-caption`}>{title}</figcaption>
      <ul class="legend" aria-label="Legend">
        {groups.map((group, i) => (
          <li key={group}>
            <svg width="12" height="12" aria-hidden="true">
              <rect width="12" height="12" fill={PALETTE[i % PALETTE.length]} />
            </svg>
            {group}
          </li>
        ))}
      </ul>
      <div ref={box} class="chart-box">
        <svg width={width} height={HEIGHT} role="img" aria-label={summary} data-testid="chart-svg">
          <g transform={`translate(${MARGIN.left},${MARGIN.top})`}>
            {ticks.map((tick) => (
              <g key={tick} class="tick" transform={`translate(0,${y(tick)})`}>
                <line x1={0} x2={plotWidth} stroke="currentColor" stroke-opacity="0.15" />
                <text x={-6} dy="0.32em" text-anchor="end">
                  {formatValue(tick)}
                </text>
              </g>
            ))}
            {periods.map((period, p) => {
              const x = p * slot + (slot - barWidth) / 2;
              let base = 0;
              const inner = mode === 'grouped' ? barWidth / Math.max(1, groups.length) : barWidth;
              return (
                <g key={period.start} class="bar" data-start={period.start} data-total={totals[p]}>
                  {groups.map((group, g) => {
                    const value = period.values.get(group) ?? 0;
                    if (value === 0) return null;
                    const rect =
                      mode === 'stacked'
                        ? { x, y: y(base + value), width: barWidth, height: y(base) - y(base + value) }
                        : { x: x + g * inner, y: y(value), width: Math.max(1, inner - 1), height: plotHeight - y(value) };
                    base += value;
                    return (
                      <rect key={group} {...rect} fill={PALETTE[g % PALETTE.length]}>
                        <title>{`${period.label} · ${group}: ${formatValue(value)}`}</title>
                      </rect>
                    );
                  })}
                </g>
              );
            })}
            {periods.map((period, p) =>
              p % every === 0 ? (
                <text key={period.start} class="axis-label" x={p * slot + slot / 2} y={plotHeight + 16} text-anchor="middle">
                  {period.label}
                </text>
              ) : null,
            )}
            <line x1={0} x2={plotWidth} y1={plotHeight} y2={plotHeight} stroke="currentColor" />
          </g>
        </svg>
      </div>
      <details class="chart-table">
        <summary>Show the numbers as a table</summary>
        <table>
          <caption class="visually-hidden">{title}</caption>
          <thead>
            <tr>
              <th scope="col">Period</th>
              {groups.map((group) => (
                <th key={group} scope="col" class="num">
                  {group}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {periods.map((period) => (
              <tr key={period.start}>
                <th scope="row">{period.label}</th>
                {groups.map((group) => (
                  <td key={group} class="num">
                    {formatValue(period.values.get(group) ?? 0)}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}

