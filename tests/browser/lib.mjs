// Helpers for the console's browser tests: an API client for setting up data,
// a tiny sequential test runner, the axe-core check and screenshots.
import { createRequire } from 'node:module'
import { mkdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
// playwright-core and axe-core are the console's dev dependencies.
const requireFromConsole = createRequire(path.join(here, '../../console/package.json'))
export const { chromium } = requireFromConsole('playwright-core')
const axeSource = readFileSync(requireFromConsole.resolve('axe-core/axe.min.js'), 'utf8')

export const BASE = process.env.BANSHI_URL
export const OUT = process.env.BANSHI_BROWSER_OUT || path.join(here, '../../build/browser-tests')
export const USERS = JSON.parse(readFileSync(process.env.BANSHI_USERS_FILE, 'utf8'))
mkdirSync(OUT, { recursive: true })

// --- API client (cookie session + CSRF) -------------------------------------
export class Client {
  constructor(name) {
    this.name = name
    this.cookie = ''
    this.csrf = ''
    this.bearer = ''
  }

  static async login(name) {
    const c = new Client(name)
    const res = await fetch(`${BASE}/api/v1/auth/login`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: name, password: USERS[name].password }),
    })
    if (!res.ok) throw new Error(`login ${name}: ${res.status} ${await res.text()}`)
    const setCookie = res.headers.get('set-cookie') || ''
    c.cookie = setCookie.split(';')[0]
    c.csrf = (await res.json()).csrfToken
    return c
  }

  static token(token) {
    const c = new Client('token')
    c.bearer = token
    return c
  }

  async call(method, p, body, { raw, contentType } = {}) {
    const headers = {}
    if (this.cookie) headers.Cookie = this.cookie
    if (this.csrf && method !== 'GET') headers['X-CSRF-Token'] = this.csrf
    if (this.bearer) headers.Authorization = `Bearer ${this.bearer}`
    let payload
    if (body !== undefined) {
      payload = raw ? body : JSON.stringify(body)
      headers['Content-Type'] = raw ? contentType || 'application/xml' : 'application/json'
    }
    const res = await fetch(`${BASE}/api/v1${p}`, { method, headers, body: payload })
    const text = await res.text()
    let json = null
    try {
      json = text ? JSON.parse(text) : null
    } catch {
      json = text
    }
    return { status: res.status, body: json }
  }

  async ok(method, p, body, opts) {
    const r = await this.call(method, p, body, opts)
    if (r.status >= 300) throw new Error(`${method} ${p} as ${this.name}: ${r.status} ${JSON.stringify(r.body)}`)
    return r.body
  }
}

// Whether the server has a route: an unmatched path is a 404 "no resource at
// this path"; a path with other methods is a 405.
export async function hasRoute(method, p) {
  // Probed with GET: a POST-only route answers 405.
  void method
  const res = await fetch(`${BASE}/api/v1${p}`)
  if (res.status === 405) return true
  if (res.status !== 404) return true
  const body = await res.text()
  return !/no resource at this path/i.test(body)
}

// A wait that takes more than 5 s says so (with BANSHI_BROWSER_SLOW=ms, from
// that many): the log then shows where a slow test spent its time.
const slowWaitMs = Number(process.env.BANSHI_BROWSER_SLOW || 5000)
export async function waitFor(what, fn, timeoutMs = 20000, everyMs = 250) {
  const start = Date.now()
  const end = start + timeoutMs
  let last
  for (;;) {
    try {
      const v = await fn()
      if (v) {
        if (Date.now() - start >= slowWaitMs) console.log(`  (waited ${((Date.now() - start) / 1000).toFixed(1)} s for ${what})`)
        return v
      }
    } catch (e) {
      last = e
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`)
    await new Promise((r) => setTimeout(r, everyMs))
  }
}

// --- browser ----------------------------------------------------------------
let browser = null
const openPages = new Set()
const pageErrors = [] // uncaught errors in the console's pages fail the test
export async function launch() {
  browser = await chromium.launch({
    executablePath: process.env.BANSHI_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  })
  return browser
}
export async function closeBrowser() {
  if (browser) await browser.close()
}

export async function newPage(locale = 'zh-CN') {
  const context = await browser.newContext({ baseURL: BASE, viewport: { width: 1366, height: 900 }, locale })
  const page = await context.newPage()
  openPages.add(page)
  page.on('close', () => openPages.delete(page))
  page.setDefaultTimeout(15000)
  page.on('pageerror', (e) => pageErrors.push(e.message))
  return page
}

export async function loginUi(page, name) {
  await page.goto('/login')
  await page.getByLabel('用户名').fill(name)
  await page.getByLabel('密码', { exact: true }).fill(USERS[name].password)
  await page.getByRole('button', { name: '登录' }).click()
  await page.waitForURL((u) => !u.pathname.startsWith('/login'))
}

export async function shot(page, name) {
  await page.screenshot({ path: path.join(OUT, `${name}.png`), fullPage: true })
}

// Runs axe-core in the page; throws when a serious or critical violation is found.
export async function axe(page, name) {
  await page.addScriptTag({ content: axeSource })
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ['violations'], runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } })
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }))
  })
  const bad = result.filter((v) => v.impact === 'serious' || v.impact === 'critical')
  if (bad.length) {
    throw new Error(`axe on ${name}: ${bad.map((v) => `${v.impact} ${v.id} (${v.help}) at ${v.nodes.join(' | ')}`).join('; ')}`)
  }
  return result
}

// --- runner -----------------------------------------------------------------
const tests = []
export function test(name, fn, { needs = [] } = {}) {
  tests.push({ name, fn, needs })
}

export async function run() {
  const filter = process.env.BANSHI_BROWSER_ONLY
  let failed = 0
  let skipped = 0
  let passed = 0
  await launch()
  try {
    for (const tst of tests) {
      if (filter && !tst.name.includes(filter)) continue
      const missing = []
      for (const [m, p] of tst.needs) if (!(await hasRoute(m, p))) missing.push(`${m} ${p}`)
      if (missing.length) {
        skipped += 1
        console.log(`SKIP ${tst.name} (the server lacks ${missing.join(', ')})`)
        continue
      }
      const t0 = Date.now()
      pageErrors.length = 0
      try {
        await tst.fn()
        if (pageErrors.length) throw new Error(`uncaught errors in the page: ${pageErrors.join('; ')}`)
        passed += 1
        console.log(`PASS ${tst.name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`)
      } catch (e) {
        failed += 1
        console.log(`FAIL ${tst.name}: ${e && e.stack ? e.stack : e}`)
        // What the pages showed when it failed, for the test's artefacts.
        let n = 0
        for (const pg of openPages) {
          n += 1
          await pg.screenshot({ path: path.join(OUT, `FAILED-${tst.name.replace(/[^\w\u4e00-\u9fff-]+/g, '_').slice(0, 60)}-${n}.png`), fullPage: true }).catch(() => {})
        }
      }
      for (const pg of [...openPages]) await pg.context().close().catch(() => {})
    }
  } finally {
    await closeBrowser()
  }
  console.log(`browser tests: ${passed} passed, ${failed} failed, ${skipped} skipped; screenshots in ${OUT}`)
  if (skipped && process.env.BANSHI_BROWSER_STRICT === '1') return false
  return failed === 0
}
