/** The assignors a member can ask for by name (`--assignor`). */
import type {Assignor} from './assignor.js'
import {cooperativeStickyAssignor} from './cooperative-sticky.js'
import {rangeAssignor} from './range.js'

export type {Assignor} from './assignor.js'
export const ASSIGNORS: ReadonlyMap<string, Assignor> = new Map([rangeAssignor, cooperativeStickyAssignor].map((assignor) => [assignor.name, assignor]))
export type AssignorName = 'range' | 'cooperative-sticky'
