/**
 * One error hierarchy for every layer. Each condition a user or an operator can cause has a
 * code; the table below maps that code to whether a retry can help, the gRPC status a server
 * answers with, the exit code the CLI ends with, and the error Kafka's protocol calls it (the
 * Kafka listener answers with that, so Kafka's clients retry what is retriable). Retry logic reads `retriable`, never the
 * message. Broken invariants are not LignumErrors: they are assertion failures and crash.
 */

export const errorTable = {
  INVALID_ARGUMENT: {retriable: false, grpcStatus: 3, exitCode: 2, kafka: 'INVALID_REQUEST'},
  INVALID_TOPIC: {retriable: false, grpcStatus: 3, exitCode: 2, kafka: 'INVALID_TOPIC_EXCEPTION'},
  RECORD_TOO_LARGE: {retriable: false, grpcStatus: 8, exitCode: 2, kafka: 'MESSAGE_TOO_LARGE'},
  REQUEST_TOO_LARGE: {retriable: false, grpcStatus: 8, exitCode: 2, kafka: 'MESSAGE_TOO_LARGE'},
  CONFIG: {retriable: false, grpcStatus: 3, exitCode: 2, kafka: 'INVALID_CONFIG'},
  // Authenticated but not allowed (no rule allows it, or a deny rule matches: src/acl), and
  // internal topics (`__*`), which belong to the node whatever the rules say. Its own exit code:
  // a script tells "not allowed" from a usage error (2) and a refused certificate (9).
  PERMISSION_DENIED: {retriable: false, grpcStatus: 7, exitCode: 10, kafka: 'TOPIC_AUTHORIZATION_FAILED'},
  // Consul's ACLs refused a call of this node's: retrying with the same token cannot help.
  CONSUL_PERMISSION_DENIED: {retriable: false, grpcStatus: 7, exitCode: 2, kafka: 'UNKNOWN_SERVER_ERROR'},
  // The node refused the client's certificate (none, another CA's, expired) in the TLS handshake.
  UNAUTHENTICATED: {retriable: false, grpcStatus: 16, exitCode: 9, kafka: 'SASL_AUTHENTICATION_FAILED'},
  UNKNOWN_TOPIC: {retriable: false, grpcStatus: 5, exitCode: 3, kafka: 'UNKNOWN_TOPIC_OR_PARTITION'},
  NOT_FOUND: {retriable: false, grpcStatus: 5, exitCode: 3, kafka: 'UNKNOWN_TOPIC_OR_PARTITION'},
  ALREADY_EXISTS: {retriable: false, grpcStatus: 6, exitCode: 3, kafka: 'TOPIC_ALREADY_EXISTS'},
  OFFSET_OUT_OF_RANGE: {retriable: false, grpcStatus: 11, exitCode: 3, kafka: 'OFFSET_OUT_OF_RANGE'},
  // Kafka's NON_EMPTY_GROUP: a group with live members keeps its offsets; they would commit over a
  // seek, and a delete would leave them reading nowhere. Stop its consumers (or seek --force).
  NON_EMPTY_GROUP: {retriable: false, grpcStatus: 9, exitCode: 3, kafka: 'NON_EMPTY_GROUP'},
  CORRUPT_RECORD: {retriable: false, grpcStatus: 15, exitCode: 4, kafka: 'CORRUPT_MESSAGE'},
  // A batch whose bytes parse but break a rule (offset deltas, counts, timestamps, control
  // batches from a client): the sender's bug, so the status says bad argument, not data loss.
  INVALID_RECORD: {retriable: false, grpcStatus: 3, exitCode: 2, kafka: 'INVALID_RECORD'},
  // A partition whose files are damaged is offline until `lignum segments repair`: retrying cannot help.
  PARTITION_DAMAGED: {retriable: false, grpcStatus: 15, exitCode: 4, kafka: 'KAFKA_STORAGE_ERROR'},
  UNSUPPORTED_CODEC: {retriable: false, grpcStatus: 12, exitCode: 4, kafka: 'UNSUPPORTED_COMPRESSION_TYPE'},
  DATA_DIR: {retriable: false, grpcStatus: 9, exitCode: 4, kafka: 'KAFKA_STORAGE_ERROR'},
  LOCKED: {retriable: false, grpcStatus: 9, exitCode: 4, kafka: 'KAFKA_STORAGE_ERROR'},
  UNAVAILABLE: {retriable: true, grpcStatus: 14, exitCode: 5, kafka: 'LEADER_NOT_AVAILABLE'},
  TIMEOUT: {retriable: true, grpcStatus: 4, exitCode: 5, kafka: 'REQUEST_TIMED_OUT'},
  // acks=all: the high watermark did not cover the batch within the request's timeout. The
  // batch is in the leader's log; an idempotent retry is answered with its offsets.
  REQUEST_TIMED_OUT: {retriable: true, grpcStatus: 4, exitCode: 5, kafka: 'REQUEST_TIMED_OUT'},
  // A gap or an older sequence from an idempotent producer. Not retriable: resending the same
  // batch cannot fill the gap (the missing batch failed and this producer will not send it
  // again), so the producer must start a new epoch, as Kafka's idempotent producer does.
  OUT_OF_ORDER_SEQUENCE: {retriable: false, grpcStatus: 9, exitCode: 4, kafka: 'OUT_OF_ORDER_SEQUENCE_NUMBER'},
  // A producer epoch older than the partition has seen: an older instance, fenced.
  INVALID_PRODUCER_EPOCH: {retriable: false, grpcStatus: 9, exitCode: 4, kafka: 'INVALID_PRODUCER_EPOCH'},
  NOT_LEADER: {retriable: true, grpcStatus: 9, exitCode: 5, kafka: 'NOT_LEADER_OR_FOLLOWER'},
  FENCED_LEADER_EPOCH: {retriable: true, grpcStatus: 9, exitCode: 5, kafka: 'FENCED_LEADER_EPOCH'},
  // A replica names a leader epoch newer than this node has learned: it will shortly (Kafka's UNKNOWN_LEADER_EPOCH).
  UNKNOWN_LEADER_EPOCH: {retriable: true, grpcStatus: 14, exitCode: 5, kafka: 'UNKNOWN_LEADER_EPOCH'},
  NOT_ENOUGH_REPLICAS: {retriable: true, grpcStatus: 14, exitCode: 5, kafka: 'NOT_ENOUGH_REPLICAS'},
  // acks=all: appended, but committed while the ISR was below its minimum; not acknowledged.
  NOT_ENOUGH_REPLICAS_AFTER_APPEND: {retriable: true, grpcStatus: 14, exitCode: 5, kafka: 'NOT_ENOUGH_REPLICAS_AFTER_APPEND'},
  STALE_CONTROLLER_EPOCH: {retriable: false, grpcStatus: 9, exitCode: 5, kafka: 'STALE_CONTROLLER_EPOCH'},
  // A controller write Consul refused because the writer no longer holds the controller lock:
  // retriable, the request goes to whoever holds it now.
  NOT_CONTROLLER: {retriable: true, grpcStatus: 9, exitCode: 5, kafka: 'NOT_CONTROLLER'},
  // Retriable: space may come back (retention, an operator); grpc RESOURCE_EXHAUSTED.
  STORAGE_FULL: {retriable: true, grpcStatus: 8, exitCode: 6, kafka: 'KAFKA_STORAGE_ERROR'},
  // A failed fdatasync stopped the partition until its node restarts (Kafka's
  // KAFKA_STORAGE_ERROR): retriable, as the node or, in a cluster, another leader will serve it.
  STORAGE_FAILED: {retriable: true, grpcStatus: 14, exitCode: 6, kafka: 'KAFKA_STORAGE_ERROR'},
  // `lignum cluster status` on an unhealthy cluster (as `rpk cluster health`), worst first:
  // a partition no live leader serves (or whose leader did not report), then one whose ISR
  // is smaller than its replicas. Waiting may help (--wait-healthy); never sent by a node.
  PARTITIONS_OFFLINE: {retriable: true, grpcStatus: 14, exitCode: 8, kafka: 'UNKNOWN_SERVER_ERROR'},
  UNDER_REPLICATED: {retriable: true, grpcStatus: 14, exitCode: 7, kafka: 'UNKNOWN_SERVER_ERROR'},
  // Consumer groups (Kafka's classic protocol): a member told to rejoin (a rebalance runs), a
  // member of an older generation or one the coordinator no longer knows (fenced: its commits
  // are refused), and a node that does not (any more) coordinate the group: retry there.
  REBALANCE_IN_PROGRESS: {retriable: false, grpcStatus: 10, exitCode: 5, kafka: 'REBALANCE_IN_PROGRESS'},
  ILLEGAL_GENERATION: {retriable: false, grpcStatus: 10, exitCode: 5, kafka: 'ILLEGAL_GENERATION'},
  UNKNOWN_MEMBER_ID: {retriable: false, grpcStatus: 10, exitCode: 5, kafka: 'UNKNOWN_MEMBER_ID'},
  NOT_COORDINATOR: {retriable: true, grpcStatus: 14, exitCode: 5, kafka: 'NOT_COORDINATOR'},
  INCONSISTENT_GROUP_PROTOCOL: {retriable: false, grpcStatus: 3, exitCode: 2, kafka: 'INCONSISTENT_GROUP_PROTOCOL'},
  INTERNAL: {retriable: false, grpcStatus: 13, exitCode: 1, kafka: 'UNKNOWN_SERVER_ERROR'},
} as const

export type ErrorCode = keyof typeof errorTable

export class LignumError extends Error {
  readonly code: ErrorCode
  /**
   * How to fix it, in the words of whoever can: the library says what went wrong in `message`,
   * and the caller that knows its own vocabulary (the CLI's flags) supplies or replaces the hint.
   * The CLI prints `message; hint` as its one line.
   */
  readonly hint: string | undefined

  constructor(code: ErrorCode, message: string, options?: {cause?: unknown; hint?: string}) {
    super(message, options)
    this.code = code
    this.name = 'LignumError'
    this.hint = options?.hint
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

/** The error's one line for a person or a log: what went wrong, then how to fix it. */
export function errorLine(error: {message: string; hint?: string | undefined}): string {
  return error.hint === undefined ? error.message : `${error.message}; ${error.hint}`
}

export function isErrorCode(value: string): value is ErrorCode {
  return Object.hasOwn(errorTable, value)
}

/**
 * The trailing-metadata key a server sends a LignumError's code under, so that a client rebuilds
 * the same error without parsing the message, and the message stays the user's words alone.
 */
export const ERROR_CODE_METADATA_KEY = 'lignum-error-code'

/**
 * The trailing-metadata key a LignumError's hint travels under, beside its code, so a client
 * keeps the message (what went wrong) apart from how to fix it. Binary (`-bin`), since a hint
 * may quote a principal or a topic name that is not printable ASCII.
 */
export const ERROR_HINT_METADATA_KEY = 'lignum-error-hint-bin'

/** The code a failed call carries (its trailing metadata), else the first code sent as its gRPC status. */
export function errorCodeOfGrpc(status: number, sentCode: string | undefined): ErrorCode {
  if (sentCode !== undefined && isErrorCode(sentCode)) return sentCode
  for (const [code, entry] of Object.entries(errorTable)) {
    if (entry.grpcStatus === status) return code as ErrorCode
  }
  return 'INTERNAL'
}
