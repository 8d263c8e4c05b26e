/** wsjournal: the client library. */
export { JournalConnection } from './connection.js';
export { EventLogConsumer } from './event-log-consumer.js';
export { ConnectionError, ErrorCode, JournalError, NotStartedError, TimeoutError } from './errors.js';
export { JournalConsumer } from './journal-consumer.js';
export { JournalEvent } from './journal-event.js';
export { JournalProducer } from './journal-producer.js';
export { ClientFrame, EventEntry, JOURNAL_NAME, ServerFrame } from './protocol.js';

export type { Channel, JournalConnectionOptions, WebSocketInstance, WebSocketLike } from './connection.js';
export type { JournalConsumerEvents, JournalConsumerOptions, JournalResponse } from './journal-consumer.js';
export type { EventEntryInit } from './journal-event.js';
export type { AppendResult, JournalProducerOptions } from './journal-producer.js';
export type { Head } from './protocol.js';
