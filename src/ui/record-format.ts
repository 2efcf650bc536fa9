/**
 * How records are printed, shared by offline and online consume and by tail:
 *
 *  - JSON lines: {"topic","partition","offset","timestamp","key","value","headers":[{"key","value"}]}.
 *    Keys, values and header values are UTF-8 strings when they are valid UTF-8; otherwise base64,
 *    and the record says so with "keyEncoding":"base64" / "valueEncoding":"base64" (a header
 *    carries its own "valueEncoding"). null stays null.
 *  - Templates in kcat's spirit: %s value, %k key, %o offset, %p partition, %t topic,
 *    %T timestamp (ms), %h headers (k=v,k=v), %K / %S key / value length in bytes (-1 for
 *    null), %% a percent sign; escapes \n \t \r \\. Keys and values are written as raw bytes.
 *
 * A template is compiled once; rendering a record builds one Buffer and no intermediate strings
 * for the payload bytes.
 */
import {isUtf8} from 'node:buffer'
import {LignumError} from '../errors.js'
import type {LogRecord, RecordHeader} from '../format/record-batch.js'

export interface RecordLocation {
  topic: string
  partition: number
}

export interface JsonRecord {
  topic: string
  partition: number
  offset: number
  timestamp: number
  key: string | null
  keyEncoding?: 'base64'
  value: string | null
  valueEncoding?: 'base64'
  headers: {key: string; value: string | null; valueEncoding?: 'base64'}[]
}

function encodeBytes(bytes: Buffer | null): {text: string | null; base64: boolean} {
  if (bytes === null) return {text: null, base64: false}
  if (isUtf8(bytes)) return {text: bytes.toString('utf8'), base64: false}
  return {text: bytes.toString('base64'), base64: true}
}

export function recordToJson(record: LogRecord, location: RecordLocation): JsonRecord {
  const key = encodeBytes(record.key)
  const value = encodeBytes(record.value)
  const json: JsonRecord = {topic: location.topic, partition: location.partition, offset: record.offset, timestamp: record.timestamp, key: key.text} as JsonRecord
  if (key.base64) json.keyEncoding = 'base64'
  json.value = value.text
  if (value.base64) json.valueEncoding = 'base64'
  json.headers = record.headers.map((header) => {
    const encoded = encodeBytes(header.value)
    return encoded.base64 ? {key: header.key, value: encoded.text, valueEncoding: 'base64' as const} : {key: header.key, value: encoded.text}
  })
  return json
}

export function formatJsonLine(record: LogRecord, location: RecordLocation): string {
  return JSON.stringify(recordToJson(record, location)) + '\n'
}

type TemplatePart = Buffer | ((record: LogRecord, location: RecordLocation) => Buffer | string)

const EMPTY = Buffer.alloc(0)
const FIELD_CODES = '%s %k %o %p %t %T %h %K %S %%'

const fields: Record<string, (record: LogRecord, location: RecordLocation) => Buffer | string> = {
  s: (record) => record.value ?? EMPTY,
  k: (record) => record.key ?? EMPTY,
  o: (record) => String(record.offset),
  p: (_record, location) => String(location.partition),
  t: (_record, location) => location.topic,
  T: (record) => String(record.timestamp),
  h: (record) => formatHeaders(record.headers),
  K: (record) => String(record.key === null ? -1 : record.key.length),
  S: (record) => String(record.value === null ? -1 : record.value.length),
}

const escapes: Record<string, string> = {n: '\n', t: '\t', r: '\r', '\\': '\\'}

function formatHeaders(headers: RecordHeader[]): Buffer {
  const parts: Buffer[] = []
  headers.forEach((header, index) => {
    if (index > 0) parts.push(Buffer.from(','))
    parts.push(Buffer.from(`${header.key}=`), header.value ?? EMPTY)
  })
  return Buffer.concat(parts)
}

export type RecordTemplate = (record: LogRecord, location: RecordLocation) => Buffer

/** Compiles a --format template; INVALID_ARGUMENT names an unknown %-code. */
export function compileTemplate(format: string): RecordTemplate {
  const parts: TemplatePart[] = []
  let literal = ''
  const flushLiteral = () => {
    if (literal !== '') parts.push(Buffer.from(literal, 'utf8'))
    literal = ''
  }
  for (let index = 0; index < format.length; index++) {
    const char = format[index]
    const next = format[index + 1]
    if (char === '\\' && next !== undefined && escapes[next] !== undefined) {
      literal += escapes[next]
      index++
    } else if (char === '%') {
      if (next === '%') literal += '%'
      else if (next !== undefined && fields[next] !== undefined) {
        flushLiteral()
        parts.push(fields[next])
      } else {
        throw new LignumError('INVALID_ARGUMENT', `--format has an unknown field "%${next ?? ''}"; use ${FIELD_CODES}`)
      }
      index++
    } else {
      literal += char
    }
  }
  flushLiteral()
  return (record, location) => Buffer.concat(parts.map((part) => (Buffer.isBuffer(part) ? part : toBuffer(part(record, location)))))
}

function toBuffer(value: Buffer | string): Buffer {
  return typeof value === 'string' ? Buffer.from(value, 'utf8') : value
}

/**
 * kcat's -K and -D: the key, the key delimiter and the value (with a key delimiter), then the
 * record delimiter; a null key or value prints as nothing.
 */
export function compileDelimited(keyDelimiter: Buffer | undefined, recordDelimiter: Buffer): RecordTemplate {
  if (keyDelimiter === undefined) return (record) => Buffer.concat([record.value ?? EMPTY, recordDelimiter])
  return (record) => Buffer.concat([record.key ?? EMPTY, keyDelimiter, record.value ?? EMPTY, recordDelimiter])
}

/** The default output: each value on its own line. */
export const DEFAULT_TEMPLATE = '%s\\n'
