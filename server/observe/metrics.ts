/**
 * The server's Prometheus metrics, in a registry of its own (several servers in one process
 * keep theirs apart), served by `GET /metrics`. Labels take only values the server chooses
 * from a fixed set (error codes, route patterns, statuses): never a journal name or anything
 * else a client picks.
 *
 * The process's own metrics (CPU, memory, event-loop lag, handles) are collected once per
 * process into a registry shared by every server of it, and merged into each scrape.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { LatencyHistogram } from './latency-histogram.js';

/** What the gauges read at each scrape, so that nothing is counted on the hot path. */
export interface MetricSources {
  /** Open WebSocket connections. */
  connections(): number;
  /** Open subscriptions over every connection. */
  subscriptions(): number;
  /** HTTP requests being handled. */
  httpRequests(): number;
}

/** Append→ack latency buckets, seconds: from a fraction of a millisecond (a batched fsync) to seconds (a stalled disk). */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

let processRegistry: Registry | undefined;

/** The registry of the process's default metrics, made at the first scrape of any server. */
function processMetrics(): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/** What the append path counts, in plain fields: the counters read them at each scrape. */
export interface AppendCounts {
  wsAppends: number;
  wsEvents: number;
  httpAppends: number;
  httpEvents: number;
}

export class ServerMetrics {
  readonly registry = new Registry();
  /**
   * Appends and their events acknowledged, by transport: plain additions on the append path,
   * exposed as `wsjournal_appends_total` and `wsjournal_events_appended_total`.
   */
  readonly appendCounts: AppendCounts = { wsAppends: 0, wsEvents: 0, httpAppends: 0, httpEvents: 0 };
  /** From an append's frame or request read to its acknowledgement sent. */
  readonly appendSeconds: LatencyHistogram;
  /** Subscriptions ended, by reason: an error code, `cancelled` (by the client) or `disconnected`. */
  readonly subscriptionsEnded: Counter<'reason'>;
  /** Frames answered with an error frame, by code. */
  readonly framesRefused: Counter<'code'>;
  /** WebSocket handshakes refused, by HTTP status. */
  readonly handshakesRefused: Counter<'status'>;
  /** Store calls that failed, by operation. */
  readonly storeErrors: Counter<'operation'>;
  /** Connections closed by the server for their output: `overloaded` (1013, the memory budget shed them), `slow_consumer` (1008, past twice `maxSendBuffer` unread). */
  readonly connectionsClosed: Counter<'reason'>;
  /** The write-ahead log's fdatasync rounds (LmdbStore). */
  readonly fsyncSeconds: LatencyHistogram;
  /** HTTP requests answered, by route pattern, method and status. */
  readonly httpRequests: Counter<'route' | 'method' | 'status'>;

  constructor(sources: MetricSources) {
    const registers = [this.registry];
    new Gauge({ name: 'wsjournal_connections', help: 'Open WebSocket connections.', registers, collect() { this.set(sources.connections()); } });
    new Gauge({ name: 'wsjournal_subscriptions', help: 'Open subscriptions.', registers, collect() { this.set(sources.subscriptions()); } });
    new Gauge({ name: 'wsjournal_http_requests_in_flight', help: 'HTTP requests being handled.', registers, collect() { this.set(sources.httpRequests()); } });
    const counts = this.appendCounts;
    new Counter({
      name: 'wsjournal_appends_total',
      help: 'Appends acknowledged, by transport.',
      labelNames: ['transport'],
      registers,
      collect() {
        this.reset();
        this.inc({ transport: 'ws' }, counts.wsAppends);
        this.inc({ transport: 'http' }, counts.httpAppends);
      },
    });
    new Counter({
      name: 'wsjournal_events_appended_total',
      help: 'Events in the appends acknowledged, by transport.',
      labelNames: ['transport'],
      registers,
      collect() {
        this.reset();
        this.inc({ transport: 'ws' }, counts.wsEvents);
        this.inc({ transport: 'http' }, counts.httpEvents);
      },
    });
    this.appendSeconds = new LatencyHistogram({
      name: 'wsjournal_append_duration_seconds',
      help: 'Seconds from an append read to its acknowledgement sent.',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.subscriptionsEnded = new Counter({
      name: 'wsjournal_subscriptions_ended_total',
      help: 'Subscriptions ended, by reason: an error code, cancelled or disconnected.',
      labelNames: ['reason'],
      registers,
    });
    this.framesRefused = new Counter({ name: 'wsjournal_frames_refused_total', help: 'Frames answered with an error, by code.', labelNames: ['code'], registers });
    this.handshakesRefused = new Counter({
      name: 'wsjournal_handshakes_refused_total',
      help: 'WebSocket handshakes refused, by HTTP status.',
      labelNames: ['status'],
      registers,
    });
    this.storeErrors = new Counter({ name: 'wsjournal_store_errors_total', help: 'Store calls that failed, by operation.', labelNames: ['operation'], registers });
    this.connectionsClosed = new Counter({
      name: 'wsjournal_connections_closed_for_output_total',
      help: 'Connections the server closed for their unread output: overloaded (1013, shed by the memory budget), slow_consumer (1008, past twice maxSendBuffer unread).',
      labelNames: ['reason'],
      registers,
    });
    this.fsyncSeconds = new LatencyHistogram({
      name: 'wsjournal_wal_fsync_duration_seconds',
      help: "Seconds of each fdatasync round of the store's write-ahead log.",
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.httpRequests = new Counter({
      name: 'wsjournal_http_requests_total',
      help: 'HTTP requests answered, by route pattern, method and status.',
      labelNames: ['route', 'method', 'status'],
      registers,
    });
  }

  /** The Prometheus text exposition of this server's metrics and the process's. */
  async exposition(): Promise<{ contentType: string; text: string }> {
    const merged = Registry.merge([this.registry, processMetrics()]);
    return { contentType: merged.contentType, text: await merged.metrics() };
  }
}
