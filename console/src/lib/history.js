// Reads an instance's history (GET /instances/{id}/history: one entry per
// applied command, each a list of records {k, key, el, scope, due, n, t, p})
// into what the pages show: active elements, the path taken, variables and a
// timeline. Record kinds are the engine's persisted codes (engine/core/records.h).

export const K = {
  activated: 2,
  completed: 4,
  terminated: 6,
  flowTaken: 7,
  varCreated: 10,
  varUpdated: 11,
  incidentCreated: 20,
  incidentResolved: 21,
  jobCreated: 30,
  jobFailed: 32,
  jobCompleted: 34,
  taskCreated: 40,
  taskCanceled: 41,
  taskCompleted: 42,
  timerScheduled: 50,
  timerFired: 52,
  messageCorrelated: 62,
  instanceCompleted: 100,
  instanceTerminated: 101,
  slaWarning: 102,
  slaOverdue: 103,
  slaEscalated: 104,
  slaBreached: 105,
}

const timelineKinds = new Set([K.activated, K.completed, K.terminated, K.incidentCreated, K.incidentResolved,
  K.taskCreated, K.taskCompleted, K.timerFired, K.messageCorrelated, K.instanceCompleted, K.instanceTerminated,
  K.slaWarning, K.slaOverdue, K.slaEscalated, K.slaBreached, K.jobFailed])

// processId: the instance's process id (its own element is left out of the active set).
export function readHistory(items, processId) {
  const active = new Map() // element-instance key -> element id
  const done = new Set()
  const variables = {}
  const timeline = []
  for (const entry of items || []) {
    const records = Array.isArray(entry.records) ? entry.records : []
    for (const r of records) {
      switch (r.k) {
        case K.activated:
          if (r.el && r.el !== processId) active.set(r.key, r.el)
          break
        case K.completed:
          active.delete(r.key)
          if (r.el) done.add(r.el)
          break
        case K.terminated:
          active.delete(r.key)
          break
        case K.flowTaken:
          if (r.el) done.add(r.el)
          break
        case K.varCreated:
        case K.varUpdated:
          if (r.n) variables[r.n] = r.p
          break
        default:
          break
      }
      const lifecycle = r.k === K.activated || r.k === K.completed || r.k === K.terminated
      if (timelineKinds.has(r.k) && !(lifecycle && (!r.el || r.el === processId))) {
        timeline.push({ seq: entry.seq, at: entry.at, kind: r.k, element: r.el || '', name: r.n || '', text: r.t || '', payload: r.p })
      }
    }
  }
  return { active: [...new Set(active.values())], done: [...done], variables, timeline }
}

export function kindName(k) {
  for (const [name, code] of Object.entries(K)) if (code === k) return name
  return 'other'
}

// Reads a whole history a page at a time (the route gives 1000 entries at
// most per request), following `next`. `get` is api.get. A history longer
// than maxPages pages is cut there: `partial` says so.
export async function fetchHistory(get, instanceId, maxPages = 50) {
  const items = []
  let after = 0
  for (let page = 0; page < maxPages; page++) {
    const h = await get(`/instances/${instanceId}/history`, { limit: 1000, after })
    items.push(...(h.items || []))
    if (h.next === undefined || h.next === null) return { items, partial: false }
    after = h.next
  }
  return { items, partial: true }
}
