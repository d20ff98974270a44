// The deployed definitions (every user may read them), cached per page load.
import { api } from './api.js'

let cache = null
const xmlCache = new Map()

export async function definitions(force = false) {
  if (!cache || force) cache = api.get('/definitions').then((r) => r.items || [])
  try {
    return await cache
  } catch (e) {
    cache = null
    throw e
  }
}

// Latest version per process id: [{processId, name, version}].
export async function processes() {
  const list = await definitions()
  const seen = new Map()
  for (const d of list) if (!seen.has(d.processId) || seen.get(d.processId).version < d.version) seen.set(d.processId, d)
  return [...seen.values()].sort((a, b) => a.processId.localeCompare(b.processId))
}

export async function definitionXml(processId, version) {
  const key = `${processId}@${version}`
  if (!xmlCache.has(key)) {
    xmlCache.set(key, api.get(`/definitions/${encodeURIComponent(processId)}/${version}/xml`))
  }
  try {
    return await xmlCache.get(key)
  } catch (e) {
    xmlCache.delete(key)
    throw e
  }
}

export async function latestVersion(processId) {
  const list = await definitions()
  let best = 0
  for (const d of list) if (d.processId === processId && d.version > best) best = d.version
  return best
}

// The names of a model's flow elements by id, read from its XML.
export function elementNames(xml) {
  const names = {}
  const doc = new DOMParser().parseFromString(xml, 'application/xml')
  for (const el of doc.getElementsByTagName('*')) {
    const id = el.getAttribute('id')
    if (id && el.getAttribute('name')) names[id] = el.getAttribute('name')
  }
  return names
}
