/**
 * Checks the property that matters most in an election: no two nodes ever act as controller
 * at the same moment. Each node logs when it took over and when it stopped acting.
 */
import {expect} from 'chai'
import type {LogLine} from './member-process.js'

/**
 * From the members' logs: each term runs from "became controller" (sinceMs) to "stepped down"
 * (untilMs: when it stopped acting, its lease's end for a frozen node). No two may overlap.
 */
export function expectNoOverlappingTerms(from: {nodeId: string; logged(message: string): LogLine[]}[]): void {
  const terms = from.flatMap((member) => {
    const ends = new Map(member.logged('stepped down as controller').map((line) => [Number(line.epoch), Number(line.untilMs)]))
    return member.logged('became controller').map((line) => ({
      nodeId: member.nodeId,
      epoch: Number(line.epoch),
      sinceMs: Number(line.sinceMs),
      untilMs: ends.get(Number(line.epoch)) ?? Number.POSITIVE_INFINITY,
    }))
  })
  terms.sort((left, right) => left.sinceMs - right.sinceMs)
  for (let index = 1; index < terms.length; index += 1) {
    const previous = terms[index - 1]!
    const current = terms[index]!
    expect(current.epoch, `epochs in the order terms began: ${JSON.stringify(terms)}`).to.be.greaterThan(previous.epoch)
    expect(previous.untilMs, `terms overlap: ${JSON.stringify(terms)}`).to.be.at.most(current.sinceMs)
  }
}
