// The applicant pages' own client: the applicant's session is a different
// cookie (banshi_applicant) with its own CSRF token, never the staff one.
let csrf = ''

export class ApplicantError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`)
    this.status = status
    this.field = (problem && problem.field) || ''
  }
}

async function call(method, path, { body, raw, contentType, params } = {}) {
  const headers = { Accept: 'application/json, application/problem+json' }
  let payload
  if (body !== undefined) {
    if (body instanceof FormData) {
      payload = body // multipart/form-data: the browser writes the Content-Type with its boundary
    } else if (raw) {
      payload = body
      headers['Content-Type'] = contentType
    } else {
      payload = JSON.stringify(body)
      headers['Content-Type'] = 'application/json'
    }
  }
  if (method !== 'GET' && csrf) headers['X-CSRF-Token'] = csrf
  const q = params ? `?${new URLSearchParams(params).toString()}` : ''
  let res
  try {
    res = await fetch(`/api/v1${path}${q}`, { method, headers, body: payload, credentials: 'same-origin' })
  } catch (e) {
    throw new ApplicantError(0, { detail: String(e && e.message ? e.message : e) })
  }
  const type = res.headers.get('Content-Type') || ''
  if (!res.ok) {
    let problem = {}
    try {
      problem = type.includes('json') ? await res.json() : {}
    } catch {
      problem = {}
    }
    throw new ApplicantError(res.status, problem)
  }
  if (res.status === 204) return null
  return type.includes('json') ? res.json() : res.text()
}

export const applicant = {
  async restore() {
    try {
      const me = await call('GET', '/applicant/me')
      csrf = me.csrfToken
      return true
    } catch {
      csrf = ''
      return false
    }
  },
  askCode: (phone) => call('POST', '/applicant/codes', { body: { phone } }),
  async signIn(phone, code) {
    const out = await call('POST', '/applicant/session', { body: { phone, code } })
    csrf = out.csrfToken
    return out
  },
  async signOut() {
    try {
      await call('POST', '/applicant/logout', { body: {} })
    } finally {
      csrf = ''
    }
  },
  cases: () => call('GET', '/applicant/cases'),
  case: (key) => call('GET', `/applicant/cases/${encodeURIComponent(key)}`),
  apply: (form) => call('POST', '/applicant/applications', { body: form }),
  // A multipart/form-data form, as a browser sends a file (docs/frontdoor.md).
  upload(key, material, file) {
    const form = new FormData()
    form.append('material', material)
    form.append('file', file, file.name)
    return call('POST', `/applicant/cases/${encodeURIComponent(key)}/documents`, { body: form })
  },
  rate: (key, level, comment) =>
    call('POST', `/applicant/cases/${encodeURIComponent(key)}/rating`, { body: comment ? { level, comment } : { level } }),
  supplement: (key) => call('POST', `/applicant/cases/${encodeURIComponent(key)}/supplement`, { body: {} }),
  subsidies: (key, living, nursing) =>
    call('POST', `/applicant/cases/${encodeURIComponent(key)}/subsidies`, { body: { living, nursing } }),
}
