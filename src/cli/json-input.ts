/**
 * `produce --format json`: reads the JSON lines `consume --json` writes (ui/record-format.ts),
 * so `consume --json | produce --format json` copies a topic record for record: key, value and
 * header values as UTF-8 text or, where "keyEncoding" / "valueEncoding" say "base64", as base64;
 * null stays null; "partition" and "timestamp" are kept. "topic" and "offset" are read past:
 * the target topic is -t, and offsets are the target's to give.
 *
 * Every field is checked for its type; a line that is not such an object is refused with its
 * number. Blank lines are skipped.
 */
import {LignumError} from '../errors.js'
import type {InputRecord} from './input-records.js'

type Json = Record<string, unknown>

export function parseJsonRecord(line: Buffer, lineNumber: number): InputRecord | undefined {
  if (line.length === 0 || /^\s*$/.test(line.toString('latin1'))) return undefined
  const refuse = (what: string) => new LignumError('INVALID_ARGUMENT', `line ${lineNumber} of the input ${what}; --format json reads the lines consume --json writes, e.g. {"key":"k","value":"v","headers":[]}`)
  let parsed: unknown
  try {
    parsed = JSON.parse(line.toString('utf8'))
  } catch (error) {
    throw refuse(`is not JSON (${(error as Error).message})`)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw refuse('is not a JSON object')
  const json = parsed as Json
  const record: InputRecord = {
    key: bytesOf(json, 'key', 'keyEncoding', refuse),
    value: bytesOf(json, 'value', 'valueEncoding', refuse),
  }
  const headers = headersOf(json.headers, refuse)
  if (headers.length > 0) record.headers = headers
  const partition = wholeNumberOf(json, 'partition', refuse)
  if (partition !== undefined) record.partition = partition
  const timestamp = wholeNumberOf(json, 'timestamp', refuse)
  if (timestamp !== undefined) record.timestamp = timestamp
  return record
}

function bytesOf(json: Json, field: string, encodingField: string, refuse: (what: string) => LignumError): Buffer | null {
  const text = json[field]
  const encoding = json[encodingField]
  if (text === undefined || text === null) return null
  if (typeof text !== 'string') throw refuse(`has a "${field}" that is neither a string nor null`)
  if (encoding === undefined || encoding === 'utf8') return Buffer.from(text, 'utf8')
  if (encoding !== 'base64') throw refuse(`has "${encodingField}": ${JSON.stringify(encoding)}; it may only be "base64" (or absent, for UTF-8)`)
  return Buffer.from(text, 'base64')
}

function headersOf(headers: unknown, refuse: (what: string) => LignumError): {key: string; value: Buffer | null}[] {
  if (headers === undefined || headers === null) return []
  if (!Array.isArray(headers)) throw refuse('has "headers" that is not a list of {"key","value"}')
  return headers.map((header: unknown) => {
    if (typeof header !== 'object' || header === null || typeof (header as Json).key !== 'string') throw refuse('has a header without a string "key"')
    return {key: (header as Json).key as string, value: bytesOf(header as Json, 'value', 'valueEncoding', refuse)}
  })
}

function wholeNumberOf(json: Json, field: string, refuse: (what: string) => LignumError): number | undefined {
  const value = json[field]
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw refuse(`has a "${field}" that is not a whole number`)
  return value
}
