/**
 * One error hierarchy for every layer. Each condition a user or an operator can cause has a
 * code; the table below maps that code to whether a retry can help, the gRPC status a server
 * answers with, and the exit code the CLI ends with. Retry logic reads `retriable`, never the
 * message. Broken invariants are not LignumErrors: they are assertion failures and crash.
 */

export const errorTable = {
  INVALID_ARGUMENT: {retriable: false, grpcStatus: 3, exitCode: 2},
  INVALID_TOPIC: {retriable: false, grpcStatus: 3, exitCode: 2},
  RECORD_TOO_LARGE: {retriable: false, grpcStatus: 8, exitCode: 2},
  REQUEST_TOO_LARGE: {retriable: false, grpcStatus: 8, exitCode: 2},
  CONFIG: {retriable: false, grpcStatus: 3, exitCode: 2},
  UNKNOWN_TOPIC: {retriable: false, grpcStatus: 5, exitCode: 3},
  NOT_FOUND: {retriable: false, grpcStatus: 5, exitCode: 3},
  ALREADY_EXISTS: {retriable: false, grpcStatus: 6, exitCode: 3},
  OFFSET_OUT_OF_RANGE: {retriable: false, grpcStatus: 11, exitCode: 3},
  CORRUPT_RECORD: {retriable: false, grpcStatus: 15, exitCode: 4},
  UNSUPPORTED_CODEC: {retriable: false, grpcStatus: 12, exitCode: 4},
  DATA_DIR: {retriable: false, grpcStatus: 9, exitCode: 4},
  LOCKED: {retriable: false, grpcStatus: 9, exitCode: 4},
  UNAVAILABLE: {retriable: true, grpcStatus: 14, exitCode: 5},
  TIMEOUT: {retriable: true, grpcStatus: 4, exitCode: 5},
  NOT_LEADER: {retriable: true, grpcStatus: 9, exitCode: 5},
  FENCED_LEADER_EPOCH: {retriable: true, grpcStatus: 9, exitCode: 5},
  NOT_ENOUGH_REPLICAS: {retriable: true, grpcStatus: 14, exitCode: 5},
  STALE_CONTROLLER_EPOCH: {retriable: false, grpcStatus: 9, exitCode: 5},
  INTERNAL: {retriable: false, grpcStatus: 13, exitCode: 1},
} as const

export type ErrorCode = keyof typeof errorTable

export class LignumError extends Error {
  readonly code: ErrorCode

  constructor(code: ErrorCode, message: string, options?: {cause?: unknown}) {
    super(message, options)
    this.code = code
    this.name = 'LignumError'
  }

  get retriable(): boolean {
    return errorTable[this.code].retriable
  }

  get grpcStatus(): number {
    return errorTable[this.code].grpcStatus
  }

  get exitCode(): number {
    return errorTable[this.code].exitCode
  }
}

export function isErrorCode(value: string): value is ErrorCode {
  return Object.hasOwn(errorTable, value)
}

/** The gRPC status name a code is sent as, so a client can map the status back to a code. */
export function errorCodeOfGrpc(status: number, details: string): ErrorCode {
  // Servers put "<CODE>: message" in details; fall back on the status alone.
  const prefix = details.split(':', 1)[0]
  if (isErrorCode(prefix)) return prefix
  for (const [code, entry] of Object.entries(errorTable)) {
    if (entry.grpcStatus === status) return code as ErrorCode
  }
  return 'INTERNAL'
}
