/**
 * Leveled logging for long-running processes. Logs are diagnostics, so they go to stderr:
 * readable lines on a terminal, one JSON object per line otherwise (for log shippers).
 * The level comes from LOG_LEVEL (debug, info, warn, error); the default is info.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error'
export type LogFields = Record<string, unknown>

export interface Logger {
  debug(message: string, fields?: LogFields): void
  info(message: string, fields?: LogFields): void
  warn(message: string, fields?: LogFields): void
  error(message: string, fields?: LogFields): void
  child(fields: LogFields): Logger
}

const levelRank: Record<LogLevel, number> = {debug: 10, info: 20, warn: 30, error: 40}

export function isLogLevel(value: string): value is LogLevel {
  return Object.hasOwn(levelRank, value)
}

export interface LoggerOptions {
  level?: LogLevel
  pretty?: boolean
  stream?: NodeJS.WritableStream
  fields?: LogFields
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const envLevel = process.env.LOG_LEVEL?.toLowerCase() ?? ''
  const level = options.level ?? (isLogLevel(envLevel) ? envLevel : 'info')
  const stream = options.stream ?? process.stderr
  const pretty = options.pretty ?? Boolean((stream as NodeJS.WriteStream).isTTY)
  return makeLogger(levelRank[level], pretty, stream, options.fields ?? {})
}

function makeLogger(minimumRank: number, pretty: boolean, stream: NodeJS.WritableStream, bound: LogFields): Logger {
  const write = (level: LogLevel, message: string, fields?: LogFields) => {
    if (levelRank[level] < minimumRank) return
    const all = {...bound, ...fields}
    stream.write(pretty ? formatPretty(level, message, all) : formatJson(level, message, all))
  }
  return {
    debug: (message, fields) => write('debug', message, fields),
    info: (message, fields) => write('info', message, fields),
    warn: (message, fields) => write('warn', message, fields),
    error: (message, fields) => write('error', message, fields),
    child: (fields) => makeLogger(minimumRank, pretty, stream, {...bound, ...fields}),
  }
}

function formatJson(level: LogLevel, message: string, fields: LogFields): string {
  return JSON.stringify({time: new Date().toISOString(), level, msg: message, ...fields}, jsonSafe) + '\n'
}

function formatPretty(level: LogLevel, message: string, fields: LogFields): string {
  const time = new Date().toISOString().slice(11, 23)
  const extras = Object.entries(fields)
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value, jsonSafe)}`)
    .join(' ')
  return `${time} ${level.toUpperCase().padEnd(5)} ${message}${extras ? ' ' + extras : ''}\n`
}

function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString()
  if (value instanceof Error) return {name: value.name, message: value.message}
  return value
}

/** A logger that drops everything: for library use where the caller gave none. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silentLogger
  },
}
