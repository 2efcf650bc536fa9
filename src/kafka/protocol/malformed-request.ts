/**
 * A request whose bytes do not follow the grammar of its API and version. The listener closes
 * that connection with one log line (a Kafka broker does the same): the request's framing can no
 * longer be trusted, so no answer can be matched to it. It is never a LignumError: nothing a
 * well-behaved client sends produces it, and it never reaches the broker.
 */
export class MalformedRequest extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'MalformedRequest'
  }
}
