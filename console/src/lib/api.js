// The one way the console talks to the server: JSON over fetch with the session
// cookie, the CSRF header on every change, problem+json turned into ApiError.
// A 401 on a call made while logged in means the session ended: the session store
// is told so the app can send the user to the login page with a notice.

let csrfToken = ''
let onSessionEnded = () => {}

export function setCsrfToken(token) {
  csrfToken = token || ''
}

export function setSessionEndedHandler(fn) {
  onSessionEnded = fn
}

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`)
    this.status = status
    this.problem = problem || {}
    this.field = this.problem.field || ''
    this.diagnostics = this.problem.diagnostics || []
  }

  // The route does not exist on this server (yet): the router answers 404 for an
  // unmatched path, 405 when the path exists with other methods.
  get notAvailable() {
    return (this.status === 404 && /no resource at this path/i.test(this.message)) || this.status === 405
  }
}

function query(params) {
  if (!params) return ''
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue
    if (Array.isArray(v)) v.forEach((x) => q.append(k, x))
    else q.append(k, String(v))
  }
  const s = q.toString()
  return s ? `?${s}` : ''
}

export async function request(method, path, { params, body, raw, contentType, headers, quietAuth } = {}) {
  const h = { Accept: 'application/json, application/problem+json, */*', ...(headers || {}) }
  let payload
  if (body !== undefined) {
    if (typeof FormData !== 'undefined' && body instanceof FormData) {
      payload = body // multipart/form-data: the browser writes the Content-Type with its boundary
    } else if (raw) {
      payload = body
      h['Content-Type'] = contentType || 'application/xml'
    } else {
      payload = JSON.stringify(body)
      h['Content-Type'] = 'application/json'
    }
  }
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) h['X-CSRF-Token'] = csrfToken
  let res
  try {
    res = await fetch(`/api/v1${path}${query(params)}`, { method, headers: h, body: payload, credentials: 'same-origin' })
  } catch (e) {
    throw new ApiError(0, { detail: String(e && e.message ? e.message : e) })
  }
  const type = res.headers.get('Content-Type') || ''
  if (!res.ok) {
    let problem = {}
    try {
      problem = type.includes('json') ? await res.json() : { detail: await res.text() }
    } catch {
      problem = {}
    }
    if (res.status === 401 && !quietAuth) onSessionEnded()
    throw new ApiError(res.status, problem)
  }
  if (res.status === 204) return null
  if (type.includes('json')) return res.json()
  return res.text()
}

export const api = {
  get: (path, params, opts) => request('GET', path, { ...(opts || {}), params }),
  post: (path, body, opts) => request('POST', path, { ...(opts || {}), body: body === undefined ? {} : body }),
  patch: (path, body) => request('PATCH', path, { body }),
}

// GETs with query parameters some servers may not know yet: a 400 that names
// one of `optional` is retried without it, and the names dropped are reported
// in `unsupported` so the page can say that filter is not available.
export async function getWithOptional(path, params, optional, unsupported) {
  const p = { ...params }
  for (let i = 0; i <= optional.length; i += 1) {
    try {
      return await api.get(path, p)
    } catch (e) {
      const f = e.status === 400 && e.field
      if (f && optional.includes(f) && p[f] !== undefined) {
        delete p[f]
        if (!unsupported.includes(f)) unsupported.push(f)
        continue
      }
      throw e
    }
  }
  return api.get(path, p)
}
