import {expect} from 'chai'
import {startServer, type RunningServer} from '../helpers/server.js'

async function request(server: RunningServer, method: string, pathAndQuery: string, body?: string): Promise<{status: number; json: any; text: string}> {
  // fetch() refuses a body on GET, and Lignum's clients send one; use node:http for those.
  const {request: httpRequest} = await import('node:http')
  return new Promise((resolve, reject) => {
    const call = httpRequest(`${server.httpUrl}${pathAndQuery}`, {method, headers: {'content-type': 'application/json', ...(body === undefined ? {} : {'content-length': Buffer.byteLength(body)})}}, (response) => {
      let text = ''
      response.on('data', (chunk) => (text += chunk))
      response.on('end', () => {
        let json: unknown
        try {
          json = JSON.parse(text)
        } catch {
          json = undefined
        }
        resolve({status: response.statusCode ?? 0, json, text})
      })
    })
    call.on('error', reject)
    call.end(body)
  })
}

describe('HTTP API (lignum serve)', () => {
  let server: RunningServer
  before(async () => {
    server = await startServer()
  })
  after(async () => {
    expect(await server.stop()).to.equal(0)
  })

  it('commits a message with POST /api/message', async () => {
    for (const message of ['first', 'second', 'third']) {
      const response = await request(server, 'POST', '/api/message', JSON.stringify({topic: 'http-topic', message}))
      expect(response.status).to.equal(200)
      expect(response.json).to.deep.equal({status: 'message commited', data: message})
    }
  })

  it('reads messages with GET /api/message and a JSON body, "to" exclusive', async () => {
    const response = await request(server, 'GET', '/api/message', JSON.stringify({topic: 'http-topic', from: 0, to: 2}))
    expect(response.status).to.equal(200)
    expect(response.json).to.deep.equal({messages: [{Id: 0, Data: 'first'}, {Id: 1, Data: 'second'}], count: 2})
  })

  it('reads messages with GET /api/message and query parameters', async () => {
    const response = await request(server, 'GET', '/api/message?topic=http-topic&from=1&to=3')
    expect(response.json).to.deep.equal({messages: [{Id: 1, Data: 'second'}, {Id: 2, Data: 'third'}], count: 2})
  })

  it('refuses malformed JSON, bad topics and missing fields, and keeps serving', async () => {
    const malformed = await request(server, 'POST', '/api/message', '{"topic":')
    expect(malformed.status).to.equal(400)
    expect(malformed.json.error.code).to.equal('INVALID_ARGUMENT')
    expect(malformed.json.error.message).to.match(/not valid JSON/)
    const badTopic = await request(server, 'POST', '/api/message', JSON.stringify({topic: '../x', message: 'm'}))
    expect(badTopic.status).to.equal(400)
    expect(badTopic.json.error.code).to.equal('INVALID_TOPIC')
    const noMessage = await request(server, 'POST', '/api/message', JSON.stringify({topic: 'http-topic'}))
    expect(noMessage.status).to.equal(400)
    const unknown = await request(server, 'GET', '/api/message?topic=never-made&from=0&to=1')
    expect(unknown.status).to.equal(404)
    const after = await request(server, 'GET', '/api/message?topic=http-topic&from=0&to=10')
    expect(after.json.count).to.equal(3)
  })

  it('answers /healthz, /readyz and /metrics', async () => {
    expect((await request(server, 'GET', '/healthz')).json).to.deep.equal({status: 'ok'})
    expect((await request(server, 'GET', '/readyz')).status).to.equal(200)
    const metrics = await request(server, 'GET', '/metrics')
    expect(metrics.status).to.equal(200)
    expect(metrics.text).to.match(/^lignum_log_end_offset\{topic="http-topic",partition="0"\} 3$/m)
    expect(metrics.text).to.match(/^lignum_process_resident_memory_bytes \d+/m)
    expect(metrics.text).to.match(/^# TYPE lignum_produce_latency_seconds histogram$/m)
  })
})
