/**
 * What answers at an address gRPC calls a "Protocol error": something listens there but does
 * not speak HTTP/2, most often a node's HTTP API port given as the brokers. After such a failure
 * the client asks the address for `GET /` over plain HTTP/1.1 and reads the first bytes of the
 * answer: an HTTP status line names the mistake precisely, anything else still says that the
 * address is not a gRPC port. The answer is a LignumError whose one line says which port to
 * use instead, or undefined when the probe learns nothing (no answer, a closed connection).
 */
import {connect} from 'node:net'
import {LignumError} from '../errors.js'
import type {ConnectHints} from './connect-hints.js'

// A server that answers at all answers a GET within a round trip.
const PROBE_TIMEOUT_MS = 2000
// Enough of the answer to read a status line or a banner.
const ANSWER_BYTES_MAX = 256

/** grpc-js's words for a peer that answered with something other than HTTP/2. */
export function isProtocolMismatch(message: string): boolean {
  return /Protocol error/i.test(message)
}

export async function probeProtocol(address: string, hints: ConnectHints): Promise<LignumError | undefined> {
  const answer = await firstBytesOf(address)
  if (answer === undefined || answer.length === 0) return undefined
  const statusLine = /^HTTP\/1\.[01] \d{3}[^\r\n]*/.exec(answer.toString('latin1'))
  if (statusLine) return new LignumError('CONFIG', `${address} answers HTTP/1.1 ("${statusLine[0]}"), not Lignum's gRPC: it is an HTTP port, such as a node's HTTP API`, {hint: hints.notGrpc})
  return new LignumError('CONFIG', `${address} answers, but not with gRPC (it sent ${JSON.stringify(printable(answer))}): it is not a Lignum node's gRPC port`, {hint: hints.notGrpc})
}

function firstBytesOf(address: string): Promise<Buffer | undefined> {
  const {host, port} = splitAddress(address)
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let received = 0
    const socket = connect({host, port})
    const finish = () => {
      socket.destroy()
      resolve(received > 0 ? Buffer.concat(chunks).subarray(0, ANSWER_BYTES_MAX) : undefined)
    }
    socket.setTimeout(PROBE_TIMEOUT_MS, finish)
    socket.on('connect', () => socket.write(`GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`))
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk)
      received += chunk.length
      if (received >= ANSWER_BYTES_MAX || chunk.includes(0x0a)) finish()
    })
    socket.on('error', finish)
    socket.on('end', finish)
  })
}

function splitAddress(address: string): {host: string; port: number} {
  const at = address.lastIndexOf(':')
  const host = address.slice(0, at).replace(/^\[(.*)\]$/, '$1')
  return {host: host === '' ? 'localhost' : host, port: Number(address.slice(at + 1))}
}

/** The first line of an answer, control bytes escaped, short. */
function printable(answer: Buffer): string {
  const line = answer.toString('latin1').split(/\r?\n/)[0]
  return line.replace(/[^\x20-\x7e]/g, (char) => `\\x${char.charCodeAt(0).toString(16).padStart(2, '0')}`).slice(0, 80)
}
