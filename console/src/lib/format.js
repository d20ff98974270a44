// Formatting shared by the pages: times, durations, masking of personal data.

export function fmtTime(ms, locale) {
  if (!ms) return '—'
  return new Date(ms).toLocaleString(locale === 'en' ? 'en-GB' : 'zh-CN', { hour12: false })
}

export function fmtDuration(ms, t) {
  if (ms === undefined || ms === null) return '—'
  const neg = ms < 0
  let s = Math.round(Math.abs(ms) / 1000)
  const d = Math.floor(s / 86400)
  s -= d * 86400
  const h = Math.floor(s / 3600)
  s -= h * 3600
  const m = Math.floor(s / 60)
  const parts = []
  if (d) parts.push(t('unit.days', { n: d }))
  if (h) parts.push(t('unit.hours', { n: h }))
  if (!d && m) parts.push(t('unit.minutes', { n: m }))
  if (!parts.length) parts.push(t('unit.minutes', { n: 0 }))
  return (neg ? '-' : '') + parts.join(' ')
}

// Working days from now until due (Monday to Friday; the server's calendar
// decides the deadline itself, this is only the count shown on the badge).
export function workingDaysLeft(dueAt, now = Date.now()) {
  if (!dueAt) return null
  const sign = dueAt >= now ? 1 : -1
  let a = new Date(Math.min(now, dueAt))
  const b = new Date(Math.max(now, dueAt))
  a = new Date(a.getFullYear(), a.getMonth(), a.getDate())
  const end = new Date(b.getFullYear(), b.getMonth(), b.getDate())
  let n = 0
  while (a < end) {
    a.setDate(a.getDate() + 1)
    const wd = a.getDay()
    if (wd !== 0 && wd !== 6) n += 1
  }
  return sign * n
}

const sensitiveKey = /(idNumber|idCard|身份证|phone|mobile|^tel|address|住址|bank|account|name|姓名)/i

// Masks a value whose key names personal data: an 18-digit ID keeps its first 6
// and last 4, a name keeps its first character, anything else its last 4. A
// value the server masked already (it holds '*': the history is masked before
// it is sent) is shown as it came.
export function maskValue(key, value) {
  if (value === null || value === undefined || typeof value === 'object' || typeof value === 'boolean') return value
  const s = String(value)
  if (!sensitiveKey.test(key)) return value
  if (s.includes('*')) return s
  if (/^\d{17}[\dXx]$/.test(s)) return `${s.slice(0, 6)}********${s.slice(-4)}`
  if (/name|姓名/i.test(key)) return s.length <= 1 ? '*' : s[0] + '*'.repeat(Math.min(s.length - 1, 3))
  if (s.length <= 4) return '*'.repeat(s.length)
  return '*'.repeat(Math.min(s.length - 4, 8)) + s.slice(-4)
}

export function maskDeep(v, key = '') {
  if (Array.isArray(v)) return v.map((x) => maskDeep(x, key))
  if (v && typeof v === 'object') {
    const out = {}
    for (const [k, x] of Object.entries(v)) out[k] = maskDeep(x, k)
    return out
  }
  return maskValue(key, v)
}

// Flattens {a: {b: 1}} into [["a.b", 1]] for display.
export function flatten(v, prefix = '', out = []) {
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) flatten(x, prefix ? `${prefix}.${k}` : k, out)
  } else if (prefix) {
    out.push([prefix, Array.isArray(v) ? JSON.stringify(v) : v])
  }
  return out
}

// The SLA state words: the contract's (on_time, due_soon, …) and the older
// task JSON's (on-time, reminded, …) map to one set.
export function slaKey(state) {
  switch (state) {
    case 'on_time':
    case 'on-time':
      return 'on_time'
    case 'due_soon':
    case 'reminded':
      return 'due_soon'
    case 'overdue':
      return 'overdue'
    case 'escalated':
      return 'escalated'
    case 'breached':
      return 'breached'
    default:
      return 'unknown'
  }
}
