/** wsjournal: the client library. */
export { Backoff, backoffDelay } from './backoff.js';
export { JournalConnection } from './connection.js';
export { defineEvent } from './define-event.js';
export { EventLogConsumer } from './event-log-consumer.js';
export { ConnectionError, ErrorCode, JournalError, NotStartedError, TimeoutError } from './errors.js';
export { FileHandler } from './forward/file-handler.js';
export { Forwarder } from './forward/forwarder.js';
export { JournalHandler } from './forward/journal-handler.js';
export {
  createHandler,
  handlerConfigAsEnv,
  handlerNames,
  HANDLERS_VARIABLE,
  loadHandlersFromEnv,
  parseHandlers,
  registerHandler,
} from './forward/registry.js';
export { StdoutHandler } from './forward/stdout-handler.js';
export { WebhookHandler } from './forward/webhook-handler.js';
export { JournalClient } from './journal-client.js';
export { JournalConsumer } from './journal-consumer.js';
export { JournalEvent } from './journal-event.js';
export { JournalProducer } from './journal-producer.js';
export { JournalLogger } from './logger/journal-logger.js';
export { LOG_LEVELS } from './logger/levels.js';
export { ClientFrame, EventEntry, JOURNAL_NAME, SCHEMA_ID, SchemaRef, ServerFrame } from './protocol.js';
export { EventRouter } from './routing/event-router.js';
export { MAX_RUN_ATTACHMENTS, Run } from './routing/run.js';
export { RunRouter } from './routing/run-router.js';

export type { BackoffPolicy } from './backoff.js';
export type { Channel, JournalConnectionOptions, WebSocketInstance, WebSocketLike } from './connection.js';
export type { DefinedEvent, EventDefinition, TypedEvent } from './define-event.js';
export type { ErrorDetail } from './errors.js';
export type { CheckpointPosition } from './forward/checkpoint.js';
export type { ForwarderEvents, ForwarderOptions } from './forward/forwarder.js';
export type { Delivery, EventHandler } from './forward/handler.js';
export type { JournalHandlerOptions } from './forward/journal-handler.js';
export type { HandlerFactory } from './forward/registry.js';
export type { WebhookHandlerOptions } from './forward/webhook-handler.js';
export type { AppendEvent, EventsQuery, JournalClientOptions, JournalInfo, LogLevelName } from './journal-client.js';
export type { JournalConsumerEvents, JournalConsumerOptions, JournalResponse } from './journal-consumer.js';
export type { EventEntryInit } from './journal-event.js';
export type { AppendManyOptions, AppendOptions, AppendResult, JournalProducerEvents, JournalProducerOptions, NewEvent } from './journal-producer.js';
export type { PagesOptions } from './pages.js';
export type { ReportInstant, ReportOptions, ReportPeriod, ReportRangeOptions, ReportRow, SpanRow, SpansOptions } from './report-query.js';
export type { SchemaList, SchemaRegistration } from './schema-requests.js';
export type { ConsoleFormat } from './logger/console-output.js';
export type { JournalLoggerEvents, JournalLoggerOptions } from './logger/journal-logger.js';
export type { LogLevel } from './logger/levels.js';
export type { Head, HelloFrame, ServerLimits } from './protocol.js';
export type { EventRouterOptions, RouteHandler } from './routing/event-router.js';
export type { RunAttachment, RunExitStatus, RunStopOptions } from './routing/run.js';
export type { DescriptorFactory, RunCallback, RunFactory, RunRouterOptions } from './routing/run-router.js';
