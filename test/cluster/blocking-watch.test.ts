/**
 * A blocking watch against a real Consul rebuilt from scratch (a dev agent restarted): the
 * first answer of the new Consul comes with a lower index, after an outage in which every
 * fetch failed, and must be handed over as a new history; the watch then blocks again in the
 * new history (no busy loop) and sees its changes.
 */
import {expect} from 'chai'
import {BlockingWatch} from '../../src/cluster/blocking-watch.js'
import {ConsulApi, type KvEntry} from '../../src/cluster/consul-api.js'
import {useConsul} from '../helpers/consul-suite.js'
import {plant, sleep, waitFor} from './catalog-fixtures.js'

const PREFIX = 'watch-test/'
// Writes before the rebuild, so the old Consul's index is well above a fresh one's.
const WRITES_BEFORE = 40
// Long enough for a blocking query to answer a change on loopback many times over.
const QUIET_MS = 1_000
// A blocking watch asks once per change (or per wait); a busy loop would ask hundreds of times.
const FETCHES_WHILE_QUIET_MAX = 3

interface Answer {
  index: number
  newHistory: boolean
  keys: string[]
}

describe('blocking watch (real Consul)', function () {
  this.timeout(120_000)
  const consul = useConsul({
    stopFirst: async () => {
      await watch?.stop()
      api?.close()
    },
  })
  let api: ConsulApi
  let watch: BlockingWatch<KvEntry[]> | undefined

  before(async function () {
    api = new ConsulApi(consul().url, 5_000)
  })

  it('hands over the first answer of a rebuilt Consul as a new history, even after failed fetches, and blocks again in it', async function () {
    const answers: Answer[] = []
    let fetches = 0
    let errors = 0
    watch = new BlockingWatch<KvEntry[]>({
      fetch: (index, waitMs, signal) => {
        fetches += 1
        return api.kvTree(PREFIX, index, waitMs, signal)
      },
      onData: (entries, index, newHistory) => answers.push({index, newHistory, keys: entries.map((entry) => entry.key)}),
      onError: () => {
        errors += 1
      },
    })
    watch.start()
    for (let write = 0; write < WRITES_BEFORE; write += 1) await plant(api, `${PREFIX}old-${write}`, String(write))
    await waitFor('the watch to see the last write', () => answers.at(-1)?.keys.length === WRITES_BEFORE)
    const indexBefore = answers.at(-1)!.index
    expect(answers.some((answer) => answer.newHistory)).to.equal(false)

    const answersBefore = answers.length
    await consul().restart()
    await waitFor('an answer from the rebuilt Consul', () => answers.at(-1)?.keys.length === 0, 60_000)
    expect(errors, 'fetches failed while Consul was down').to.be.greaterThan(0)
    // The old Consul may answer the blocking query in flight as it shuts down: that one is old.
    const firstNew = answers.slice(answersBefore).find((answer) => answer.index < indexBefore)!
    expect(firstNew.keys).to.deep.equal([])
    const recent = answers.slice(-4).map((answer) => ({index: answer.index, newHistory: answer.newHistory, keys: answer.keys.length}))
    expect(firstNew.newHistory, `the latest answers: ${JSON.stringify(recent)}`).to.equal(true)

    await sleep(QUIET_MS)
    const fetchesBefore = fetches
    await sleep(QUIET_MS)
    expect(fetches - fetchesBefore, 'fetches while nothing changed').to.be.at.most(FETCHES_WHILE_QUIET_MAX)
    await plant(api, `${PREFIX}new`, 'x')
    await waitFor('the watch to see a write in the new history', () => answers.at(-1)?.keys.includes(`${PREFIX}new`) === true, 5_000)
    expect(answers.filter((answer) => answer.newHistory)).to.have.length(1)
  })
})
