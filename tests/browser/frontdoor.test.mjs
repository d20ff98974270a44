// The front door's browser tests (docs/frontdoor.md), on a server of their own:
// `banshi simulate` stands in for the departments and the SMS gateway, and a
// `banshi serve` with the connectors on reaches it, so the pre-fill, the
// workflows' service tasks and the sign-in codes all go the real way. The
// console's other tests run on a server without connectors (run.sh).
//
// Here: the window files a case with the pre-fill, is told what is missing,
// uploads a document and prints the receipt. applicant.test.mjs (loaded
// below, same server): the online channel, through to an accepted subsidy,
// and axe-core on every applicant page.
//
// Usage (run.sh does this): BANSHI_BINARY=... BANSHI_WORKFLOWS=... node tests/browser/frontdoor.test.mjs
import { execFileSync, spawn } from 'node:child_process'
import { appendFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.join(here, '../..')
const banshi = process.env.BANSHI_BINARY
const workflows = process.env.BANSHI_WORKFLOWS || path.join(root, 'workflows')
const data = mkdtempSync(path.join(os.tmpdir(), 'banshi-frontdoor-'))
const children = []

function started(child, pattern, what) {
  return new Promise((resolve, reject) => {
    let seen = ''
    const timer = setTimeout(() => reject(new Error(`${what} did not start: ${seen}`)), 30000)
    const look = (chunk) => {
      seen += chunk.toString()
      const m = seen.match(pattern)
      if (m) {
        clearTimeout(timer)
        resolve(m[1])
      }
    }
    // Each child's output is kept beside the screenshots.
    const log = path.join(process.env.BANSHI_BROWSER_OUT || data, `frontdoor-${what.replace(/\W+/g, '-')}.log`)
    const keep = (chunk) => appendFileSync(log, chunk)
    child.stdout.on('data', (c) => { keep(c); look(c) })
    child.stderr.on('data', (c) => { keep(c); look(c) })
    child.on('exit', (code) => reject(new Error(`${what} exited with ${code}: ${seen}`)))
  })
}
const password = (out) => (out.match(/^password: *(.+)$/m) || [])[1]
function stop() {
  for (const c of children) c.kill('SIGTERM')
}
process.on('exit', () => {
  stop()
  rmSync(data, { recursive: true, force: true })
})

// The department systems and the SMS gateway.
const sim = spawn(banshi, ['simulate', '--port', '0', '--today', '2026-03-02'], { stdio: ['ignore', 'pipe', 'pipe'] })
children.push(sim)
const simUrl = `http://127.0.0.1:${await started(sim, /listening on http:\/\/127\.0\.0\.1:(\d+)/, 'banshi simulate')}`

// The users: an admin, a designer to deploy, the window of 南关区.
const users = { admin: { password: password(execFileSync(banshi, ['init', '--data', data], { encoding: 'utf8' })) } }
const addUser = (name, ...opts) => {
  users[name] = { password: password(execFileSync(banshi, ['user', 'add', name, ...opts, '--data', data], { encoding: 'utf8' })) }
}
addUser('sheji', '--role', 'designer')
addUser('chuangkou', '--role', 'staff', '--department', 'dpf', '--region', '220102')
addUser('pingding', '--role', 'staff', '--department', 'assessment', '--region', '220102')
const usersFile = path.join(data, 'users.json')
writeFileSync(usersFile, JSON.stringify(users))

const serve = spawn(banshi, ['serve', '--data', data, '--listen', '127.0.0.1:0', '--console', path.join(root, 'console/dist')], {
  stdio: ['ignore', 'pipe', 'pipe'],
  env: {
    ...process.env,
    BANSHI_CONNECTORS_ENABLED: 'true',
    BANSHI_CONNECTORS_BASE_URL: simUrl,
    BANSHI_CONNECTORS_RETRY_BACKOFF_MS: '200',
    BANSHI_CALENDAR_DIR: path.join(workflows, 'calendars'),
    // A controlled clock: it stands at Monday 2026-03-02 09:00 until the tests
    // move it (POST /api/v1/admin/clock), so nothing depends on the machine's speed.
    BANSHI_CLOCK_MODE: 'controlled',
    BANSHI_CLOCK_START: '2026-03-02T09:00:00+08:00',
  },
})
children.push(serve)
const port = await started(serve, /listening on http:\/\/127\.0\.0\.1:(\d+)/, 'banshi serve')
process.env.BANSHI_URL = `http://127.0.0.1:${port}`
process.env.BANSHI_USERS_FILE = usersFile

const { Client, axe, newPage, loginUi, shot, test, run, waitFor } = await import('./lib.mjs')

// The shipped workflows, decisions first.
const designer = await Client.login('sheji')
const files = readdirSync(workflows).filter((f) => f.endsWith('.dmn') || f.endsWith('.bpmn'))
files.sort((a, b) => (a.endsWith('.dmn') === b.endsWith('.dmn') ? a.localeCompare(b) : a.endsWith('.dmn') ? -1 : 1))
for (const f of files) {
  const r = await designer.call('POST', `/definitions?resource=${f}`, readFileSync(path.join(workflows, f), 'utf8'), { raw: true })
  if (r.status >= 300) throw new Error(`deploy ${f}: ${r.status} ${JSON.stringify(r.body)}`)
}

// A synthetic resident of 南关区 (the simulators' population: any valid number
// with a demo region and a real birth date is a person).
function idNumber(seq, birth = '19800101') {
  const first = `220102${birth}${String(seq).padStart(3, '0')}`
  const w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
  let sum = 0
  for (let i = 0; i < 17; i += 1) sum += Number(first[i]) * w[i]
  return first + '10X98765432'[sum % 11]
}
async function person(want) {
  for (let seq = 1; seq < 999; seq += 1) {
    const id = idNumber(seq)
    const res = await fetch(`${simUrl}/data-sharing/assistance/${id}`)
    if (!res.ok) continue
    const a = await res.json()
    const d = await (await fetch(`${simUrl}/data-sharing/deaths/${id}`)).json()
    if (a.dibao === want.dibao && !a.tekun && !d.deceased && !(want.skip || []).includes(id)) return id
  }
  throw new Error('no such person in the simulated population')
}
async function outbox(phone) {
  return (await (await fetch(`${simUrl}/notification/sms/outbox?to=${phone}`)).json()).items
}
const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108020000009077' +
  '53de0000000c4944415408d763f8ffff3f0005fe02fea7356c6b0000000049454e44ae426082', 'hex')
// The engine's clock, moved by an admin (docs/operations.md, "The clock").
const admin = await Client.login('admin')
async function advanceClock(duration) {
  return admin.ok('POST', '/admin/clock', { advance: duration })
}
const clockAtStart = await admin.ok('GET', '/admin/clock')
if (clockAtStart.nowText !== '2026-03-02T01:00:00.000Z') throw new Error(`the clock does not stand at its start: ${JSON.stringify(clockAtStart)}`)
// What applicant.test.mjs shares (a global, not an import: this module is still running).
globalThis.banshiFrontDoor = { simUrl, person, outbox, PNG, admin, advanceClock }

// Hovers over an Element Plus primary button and checks, in the hovered
// state, the contrast of its text on its background (computed by the
// browser), then runs axe-core on the page as it is while hovered.
async function primaryHoverContrast(page, button, name) {
  const before = await button.evaluate((el) => getComputedStyle(el).backgroundColor)
  await button.hover()
  await page.waitForTimeout(400) // Element Plus fades the colour in
  const { fg, bg } = await button.evaluate((el) => ({ fg: getComputedStyle(el).color, bg: getComputedStyle(el).backgroundColor }))
  if (bg === before) throw new Error(`${name}: hovering did not change the button (${bg})`)
  const rgb = (c) => c.match(/\d+(\.\d+)?/g).slice(0, 3).map(Number)
  const lum = (c) => {
    const [r, g, b] = rgb(c).map((v) => v / 255).map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b
  }
  const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a)
  const ratio = (hi + 0.05) / (lo + 0.05)
  if (ratio < 4.5) throw new Error(`${name}: the hovered primary button is ${ratio.toFixed(2)}:1 (${fg} on ${bg}), under 4.5:1`)
  await axe(page, `${name}-hover`)
  await page.mouse.move(0, 0)
}

test('the window files a case with the pre-fill, is told what is missing, uploads it and prints the receipt', async () => {
  const id = await person({ dibao: false })
  const page = await newPage()
  await loginUi(page, 'chuangkou')
  await page.goto('/intake')
  await page.getByLabel('身份证号').fill(id.slice(0, 17) + (id[17] === '1' ? '2' : '1'))
  await page.getByText('身份证号校验码不正确').waitFor()
  await page.getByLabel('身份证号').fill(id)
  await page.getByRole('button', { name: '预填共享数据' }).click()
  await page.getByTestId('shared').waitFor()
  // The name comes from the household registration; nothing held is asked again.
  await waitFor('the name pre-filled', async () => (await page.getByLabel('姓名').inputValue()) !== '')
  await waitFor('the household book shared', async () =>
    (await page.locator('[data-material="household-book"]').getAttribute('data-status')) === 'shared')
  await page.getByLabel('重度残疾人护理补贴').check()
  await waitFor('the care statement asked for', async () =>
    (await page.locator('[data-material="care-need"]').getAttribute('data-status')) === 'needed')
  await page.getByLabel('手机号（接收受理通知和验证码）').fill('13800138011')
  await page.getByTestId('on-behalf').check()
  await page.getByLabel('代办人姓名').fill('李四')
  await page.getByLabel('与申请人关系').fill('子女')
  await axe(page, 'intake-form')
  // The primary button's hover colour must keep white text at 4.5:1 too (WCAG AA).
  await primaryHoverContrast(page, page.getByTestId('submit'), 'intake-form')
  await shot(page, 'intake-form')
  await page.getByTestId('submit').click()
  await page.getByTestId('filed').waitFor()
  const heading = await page.getByTestId('filed').locator('h2').textContent()
  const key = heading.match(/(\d{6}-\d{8}-\d{6})/)[1]
  // The photo, checked by its bytes on the server.
  await page.getByLabel('近期2寸免冠彩色照片').setInputFiles({ name: 'photo.png', mimeType: 'image/png', buffer: PNG })
  await page.getByTestId('filed').getByText('已上传').waitFor()
  const staff = await Client.login('chuangkou')
  const docs = await staff.ok('GET', `/cases/${key}/documents`)
  if (docs.items.length !== 1 || docs.items[0].mediaType !== 'image/png') throw new Error(`documents: ${JSON.stringify(docs)}`)
  // A text file called .png is refused.
  const fake = await staff.call('POST', `/cases/${key}/documents?material=photos`, 'not a picture', { raw: true, contentType: 'image/png' })
  if (fake.status !== 415) throw new Error(`a fake PNG was answered ${fake.status}`)

  // The receipt: case number, steps, promised dates, printable.
  await page.getByTestId('receipt-link').click()
  await page.getByTestId('receipt').waitFor()
  if ((await page.getByTestId('business-key').textContent()).trim() !== key) throw new Error('the receipt shows another case')
  const rows = await page.getByTestId('steps').locator('tbody tr').allTextContents()
  // The clock stands at Monday 2026-03-02, so the promised dates are exact:
  // accept 1 working day, assess 10, public notice 5, review 10 (清明 04-04..04-06 is off).
  if (!key.includes('-20260302-')) throw new Error(`the case was not filed on the clock's day: ${key}`)
  const dates = rows.map((r) => (r.match(/\d{4}-\d{2}-\d{2}/) || [''])[0])
  const want = ['2026-03-03', '2026-03-17', '2026-03-24', '2026-04-08']
  if (rows.length !== 5 || want.some((d, i) => dates[i] !== d) || !(dates[4] >= dates[3])) {
    throw new Error(`steps: ${rows.join(' | ')}`)
  }
  await page.getByTestId('on-behalf').waitFor()
  if ((await page.getByTestId('receipt').textContent()).includes(id)) throw new Error('the receipt shows the full ID number')
  await page.emulateMedia({ media: 'print' })
  if (await page.getByTestId('print').isVisible()) throw new Error('the print button is printed')
  if (await page.locator('.topbar').isVisible()) throw new Error('the menu is printed')
  await shot(page, 'receipt-print')
  await page.emulateMedia({ media: 'screen' })
  await axe(page, 'receipt')
  // The applicant was told by SMS, without personal data.
  const sms = await waitFor('the receipt notice', async () => (await outbox('13800138011')).find((m) => m.purpose === 'milestone:received'))
  if (!sms.text.includes(key) || sms.text.includes(id)) throw new Error(`notice: ${sms.text}`)
})

await import('./applicant.test.mjs')

const ok = await run()
stop()
process.exit(ok ? 0 : 1)
