/**
 * `produce -f '%k %v'`: a template that says how each input record is laid out, kcat's
 * output fields read the other way: %k key, %v (or %s) value, %p partition, %T timestamp (ms),
 * %% a percent sign; escapes as in delimiters (\t, \n, \xNN ...). Records are cut by the record
 * delimiter first (a newline, or -D), so a template that ends with it ('%k %v\n') matches the
 * same records as one without.
 *
 * A field runs up to the first occurrence of the literal after it, the last one to the end of
 * the record; so two fields need a literal between them, and each field appears once.
 * A record that does not match is refused with its number, never guessed at.
 */
import {LignumError} from '../errors.js'
import {escapeAt} from './delimiter.js'
import type {InputRecord} from './input-records.js'

type Field = 'key' | 'value' | 'partition' | 'timestamp'

const FIELDS: Record<string, Field> = {k: 'key', v: 'value', s: 'value', p: 'partition', T: 'timestamp'}
const FIELD_CODES = '%k %v %p %T %%'

type Part = {literal: Buffer} | {field: Field}

export type RecordParser = (bytes: Buffer, recordNumber: number) => InputRecord

export function compileInputTemplate(format: string, recordDelimiter: Buffer): RecordParser {
  const parts = withoutTrailingDelimiter(templateParts(format), recordDelimiter)
  checkParts(parts, format)
  return (bytes, recordNumber) => parseRecord(parts, bytes, recordNumber, format)
}

function templateParts(format: string): Part[] {
  const parts: Part[] = []
  let literal: number[] = []
  const flush = () => {
    if (literal.length > 0) parts.push({literal: Buffer.from(literal)})
    literal = []
  }
  for (let index = 0; index < format.length; index++) {
    const escaped = escapeAt(format, index)
    if (escaped) {
      literal.push(escaped.byte)
      index += escaped.length - 1
    } else if (format[index] === '%') {
      const code = format[++index]
      if (code === '%') literal.push(0x25)
      else if (code !== undefined && FIELDS[code] !== undefined) {
        flush()
        parts.push({field: FIELDS[code]})
      } else {
        throw new LignumError('INVALID_ARGUMENT', `--format has "%${code ?? ''}", which produce cannot read; input templates take ${FIELD_CODES}, or --format json`)
      }
    } else {
      literal.push(...Buffer.from(format[index], 'utf8'))
    }
  }
  flush()
  return parts
}

function withoutTrailingDelimiter(parts: Part[], recordDelimiter: Buffer): Part[] {
  const last = parts.at(-1)
  if (!last || !('literal' in last)) return parts
  const {literal} = last
  if (literal.length < recordDelimiter.length || !literal.subarray(literal.length - recordDelimiter.length).equals(recordDelimiter)) return parts
  const rest = literal.subarray(0, literal.length - recordDelimiter.length)
  return rest.length === 0 ? parts.slice(0, -1) : [...parts.slice(0, -1), {literal: rest}]
}

function checkParts(parts: Part[], format: string): void {
  const fields = parts.flatMap((part) => ('field' in part ? [part.field] : []))
  if (!fields.includes('key') && !fields.includes('value')) throw new LignumError('INVALID_ARGUMENT', `--format "${format}" reads neither a key nor a value; give %k, %v or both, e.g. '%k %v'`)
  for (const field of new Set(fields)) {
    if (fields.filter((other) => other === field).length > 1) throw new LignumError('INVALID_ARGUMENT', `--format "${format}" reads the ${field} twice; give each field once`)
  }
  parts.forEach((part, index) => {
    if ('field' in part && index > 0 && 'field' in parts[index - 1]) {
      throw new LignumError('INVALID_ARGUMENT', `--format "${format}" has two fields with nothing between them, so neither has an end; put a delimiter between them, e.g. '%k %v'`)
    }
  })
}

function parseRecord(parts: Part[], bytes: Buffer, recordNumber: number, format: string): InputRecord {
  const record: InputRecord = {key: null, value: null}
  let position = 0
  const mismatch = (what: string) => new LignumError('INVALID_ARGUMENT', `record ${recordNumber} of the input does not match --format "${format}": ${what}`)
  for (let index = 0; index < parts.length; index++) {
    const part = parts[index]
    if ('literal' in part) {
      if (!bytes.subarray(position, position + part.literal.length).equals(part.literal)) throw mismatch(`expected "${part.literal.toString('utf8')}" at byte ${position}`)
      position += part.literal.length
      continue
    }
    const next = parts[index + 1] as {literal: Buffer} | undefined
    const end = next ? bytes.indexOf(next.literal, position) : bytes.length
    if (end < 0) throw mismatch(`no "${next?.literal.toString('utf8')}" after the ${part.field}`)
    setField(record, part.field, bytes.subarray(position, end), mismatch)
    position = end
  }
  if (position !== bytes.length) throw mismatch(`${bytes.length - position} byte(s) left after the last field`)
  return record
}

function setField(record: InputRecord, field: Field, bytes: Buffer, mismatch: (what: string) => LignumError): void {
  if (field === 'key') record.key = bytes
  else if (field === 'value') record.value = bytes
  else {
    const text = bytes.toString('latin1')
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) throw mismatch(`the ${field} "${text}" is not a whole number`)
    record[field] = Number(text)
  }
}
