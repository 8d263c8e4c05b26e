/** The log levels, least severe first, as pino names them (a module of its own: no pino to load). */
export const LOG_LEVEL_NAMES = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
