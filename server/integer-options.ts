/**
 * The server options that are whole numbers: its limits (`wsjournal serve --limit NAME=N` sets
 * any of them). A module of its own, so that `serve` checks its flags before it loads the server.
 */
export const INTEGER_OPTIONS = [
  'maxFrameSize',
  'maxEventsPerAppend',
  'maxEventSize',
  'maxPendingAppends',
  'maxPendingAppendBytes',
  'maxSubscriptionsPerConnection',
  'maxConnections',
  'maxConnectionsPerAddress',
  'maxConnectionsPerToken',
  'maxServerBuffer',
  'pageSize',
  'sendHighWaterMark',
  'maxSendBuffer',
  'liveHoldSize',
  'liveHoldBytes',
  'maxSchemaSize',
  'schemaValidationThreads',
  'maxQueryLimit',
  'maxHttpRequests',
  'maxReportGroups',
] as const;
