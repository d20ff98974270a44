// The console's browser tests against a real `banshi serve` whose connectors
// call the department simulators (`banshi simulate`) over HTTP (see run.sh):
// every application's identity is verified by the data-sharing simulator
// through the real connector before it reaches 受理. Each test names the
// server routes it needs beyond the base API; when the server lacks one the
// test is reported as skipped (BANSHI_BROWSER_STRICT=1 makes that a failure).
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { Client, USERS, axe, hasRoute, newPage, loginUi, shot, test, run, waitFor } from './lib.mjs'

const WORKFLOWS = process.env.BANSHI_WORKFLOWS
const MODEL = readFileSync(path.join(WORKFLOWS, 'certificate-new-issue.bpmn'), 'utf8')
const PROCESS = 'certificate-new-issue'
const SIM = process.env.BANSHI_SIMULATORS_URL
if (!SIM) throw new Error('BANSHI_SIMULATORS_URL is not set: run the tests through tests/browser/run.sh')
const NEEDS_MONITOR = [['GET', '/monitor/summary'], ['GET', '/monitor/overdue']]

let seq = 0
const uniqueKey = () => `BT-${Date.now().toString(36)}-${(seq += 1)}`

// Applicants are synthetic residents of 南关区 from the simulators' made-up
// population (a valid check digit, a real birth date): each key gets its own
// ID number, and the name the simulated household register holds for it.
function idNumber(n) {
  const first = `22010219750315${String(n).padStart(3, '0')}`
  const w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
  let sum = 0
  for (let i = 0; i < 17; i += 1) sum += Number(first[i]) * w[i]
  return first + '10X98765432'[sum % 11]
}
const applicants = {}
async function applicantFor(key) {
  if (applicants[key]) return applicants[key]
  const id = idNumber(Object.keys(applicants).length + 1)
  const res = await fetch(`${SIM}/data-sharing/household/${id}`)
  if (!res.ok) throw new Error(`the simulated household register does not know ${id}: ${res.status}`)
  const registered = await res.json()
  applicants[key] = { name: registered.name, idNumber: id, region: '220102', phone: '13800000000', applicationId: key }
  return applicants[key]
}
const applicant = (key) => applicants[key]

// Switches a simulated department system off or on.
async function departmentDown(department, down) {
  const res = await fetch(`${SIM}/_sim/faults`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ department, down }) })
  if (!res.ok) throw new Error(`the simulators refused the fault: ${res.status} ${await res.text()}`)
}

const clients = {}
async function as(name) {
  if (!clients[name]) clients[name] = await Client.login(name)
  return clients[name]
}

let deployed = false
async function deployShipped() {
  if (deployed) return
  await (await as('sheji')).ok('POST', `/definitions?resource=certificate-new-issue.bpmn`, MODEL, { raw: true })
  deployed = true
}

// acceptDays: the working days the window has to accept; the server's clock
// runs 14400 times faster (4 hours a second), so the default of 100 keeps the
// task on time for the whole run and 1 makes it overdue within seconds.
async function startApplication(key, { acceptDays = 100, starter = 'nanguan' } = {}) {
  await deployShipped()
  const r = await (await as(starter)).ok('POST', '/instances', {
    processId: PROCESS,
    businessKey: key,
    variables: { applicationId: key, applicant: await applicantFor(key), limits: { acceptDays } },
  })
  return r.id
}

// What the connectors set on an instance (the last value of each variable).
async function variablesOf(instanceId) {
  const h = await (await as('sheji')).ok('GET', `/instances/${instanceId}/history`)
  const out = {}
  for (const r of h.items.flatMap((e) => e.records)) if (r.n !== undefined && 'p' in r) out[r.n] = r.p
  return out
}

async function findTask(viewer, key, elementId) {
  const r = await (await as(viewer)).ok('GET', `/tasks?processId=${PROCESS}&limit=1000`)
  return (r.items || []).find((t) => t.businessKey === key && t.elementId === elementId) || null
}

// A new application waiting at 受理 (accept), with its task: the data-sharing
// simulator has verified the identity through the connector on the way.
async function applicationAtAccept(opts) {
  const key = uniqueKey()
  const instanceId = await startApplication(key, opts)
  const task = await waitFor(`the accept task of ${key}`, () => findTask('zhuguan', key, 'accept'), 30000, 300)
  return { key, instanceId, task }
}

function row(page, text) {
  return page.locator('.el-table__body tr', { hasText: text })
}

// --- tests ------------------------------------------------------------------

test('login, language switch, wrong password, logout', async () => {
  const page = await newPage()
  await page.goto('/inbox')
  await page.waitForURL(/\/login/)
  await page.getByLabel('用户名').fill('nanguan')
  await page.getByLabel('密码', { exact: true }).fill('not-the-password')
  await page.getByRole('button', { name: '登录' }).click()
  await page.getByRole('alert').filter({ hasText: '用户名或密码错误' }).waitFor()
  await shot(page, 'login')
  await loginUi(page, 'nanguan')
  await page.getByRole('heading', { name: '待办任务' }).waitFor()
  await page.getByLabel('语言').selectOption('en')
  await page.getByRole('heading', { name: 'Task inbox' }).waitFor()
  await page.getByLabel('Language').selectOption('zh-CN')
  await page.getByRole('button', { name: '退出登录' }).click()
  await page.waitForURL(/\/login/)
  // The session is really gone: the inbox sends us back to the login page.
  await page.goto('/inbox')
  await page.waitForURL(/\/login/)
  await page.context().close()
})

test('an ended session sends the user to the login page with a notice', async () => {
  const page = await newPage()
  await loginUi(page, 'nanguan')
  await page.getByRole('heading', { name: '待办任务' }).waitFor()
  // End the session on the server, as its idle limit would.
  const cookie = (await page.context().cookies()).find((c) => c.name === 'banshi_session')
  const c = new Client('nanguan')
  c.cookie = `banshi_session=${cookie.value}`
  c.csrf = (await c.ok('GET', '/me')).csrfToken
  await c.ok('POST', '/auth/logout')
  await page.getByRole('link', { name: '修改密码' }).click()
  await page.getByRole('link', { name: '待办' }).click()
  await page.waitForURL(/\/login\?.*expired=1/)
  await page.getByText('会话已过期，请重新登录。').waitFor()
  await page.context().close()
})

test('a user changes their password and logs in with the new one', async () => {
  const page = await newPage()
  await loginUi(page, 'gaimi')
  await page.getByRole('link', { name: '修改密码' }).click()
  const fresh = `Browser-${Date.now()}-pw`
  await page.getByLabel('原密码').fill(USERS.gaimi.password)
  await page.getByLabel('新密码', { exact: true }).fill('short')
  await page.getByLabel('再次输入新密码').fill('short')
  await page.getByRole('button', { name: '修改', exact: true }).click()
  await page.getByRole('alert').filter({ hasText: '至少 12 个字符' }).waitFor()
  await page.getByLabel('新密码', { exact: true }).fill(fresh)
  await page.getByLabel('再次输入新密码').fill(fresh)
  await page.getByRole('button', { name: '修改', exact: true }).click()
  await page.waitForURL(/\/login/)
  USERS.gaimi.password = fresh
  await loginUi(page, 'gaimi')
  await page.getByRole('heading', { name: '待办任务' }).waitFor()
  await page.context().close()
})

test('南关区 DPF staff claims and completes the acceptance of a new application', async () => {
  const { key, task, instanceId } = await applicationAtAccept()
  // The identity was checked by the data-sharing simulator over HTTP: the
  // connector compared the registered name and set the household region.
  const verified = await variablesOf(instanceId)
  if (verified.identityVerified !== true || verified.householdRegion !== '220102') {
    throw new Error(`the identity check did not come from the department system: ${JSON.stringify(verified)}`)
  }
  const page = await newPage()
  await loginUi(page, 'nanguan')
  const r = row(page, key)
  await r.waitFor()
  await r.getByText('受理').waitFor()
  await r.locator('.sla').waitFor()
  await shot(page, 'inbox')
  await r.getByRole('button', { name: '领取' }).click()
  await waitFor('the claim', async () => (await (await as('nanguan')).ok('GET', `/tasks/${task.id}`)).assignee === 'nanguan')
  await page.getByRole('tab', { name: '我的任务' }).click()
  await row(page, key).getByRole('link', { name: '受理' }).click()
  await page.waitForURL(new RegExp(`/tasks/${task.id}$`))
  await page.getByRole('heading', { name: '办理表单' }).waitFor()
  // The diagram shows the current step highlighted.
  await page.locator('.djs-element.highlight-active[data-element-id="accept"]').waitFor()
  // Personal data is masked (and staff get none from the server): the full ID number is never on the page.
  await page.getByRole('heading', { name: '申请人信息' }).waitFor()
  if ((await page.content()).includes(applicant(key).idNumber)) throw new Error('the full ID number is shown unmasked')
  await shot(page, 'task')
  // Validation: the decision is required.
  await page.getByRole('button', { name: '办结提交' }).click()
  await page.getByRole('alert').filter({ hasText: '受理为必填项' }).first().waitFor()
  // Not accepted yet: the form offers asking for missing documents; accepting hides it.
  await page.getByRole('radiogroup', { name: '一次性告知补正材料' }).waitFor()
  await page.getByRole('radiogroup', { name: '受理' }).getByRole('radio', { name: '是' }).check({ force: true })
  await page.getByRole('radiogroup', { name: '一次性告知补正材料' }).waitFor({ state: 'detached' })
  await page.getByRole('button', { name: '办结提交' }).click()
  await page.locator('.el-message-box').getByRole('button', { name: '办结提交' }).click()
  await page.waitForURL(/\/inbox/)
  // The engine moved on: accept is done with accepted = true, the assessment waits.
  await waitFor('the assessment task', () => findTask('jiankong', key, 'assess'))
  const h = await (await as('sheji')).ok('GET', `/instances/${instanceId}/history`)
  const vars = h.items.flatMap((e) => e.records).filter((x) => x.n === 'accepted')
  if (!vars.length || vars[vars.length - 1].p !== true) throw new Error(`accepted was not set to true: ${JSON.stringify(vars)}`)
  await page.context().close()
})

test('a task claimed by a colleague disappears from the inbox without a reload', async () => {
  const { key, task } = await applicationAtAccept()
  const page = await newPage()
  await loginUi(page, 'nanguan')
  await row(page, key).waitFor()
  await (await as('nanguan2')).ok('POST', `/tasks/${task.id}/claim`, {})
  await row(page, key).waitFor({ state: 'detached', timeout: 25000 })
  await page.context().close()
})

test('keyboard only: skip to the content and claim a task', async () => {
  const { key, task } = await applicationAtAccept()
  const page = await newPage()
  await loginUi(page, 'nanguan2')
  await row(page, key).waitFor()
  await page.goto('/inbox')
  await row(page, key).waitFor()
  await page.keyboard.press('Tab')
  await page.keyboard.press('Enter') // the skip link
  const claim = row(page, key).getByRole('button', { name: '领取' })
  for (let i = 0; i < 60; i += 1) {
    await page.keyboard.press('Tab')
    if (await claim.evaluate((el) => el === document.activeElement)) break
  }
  if (!(await claim.evaluate((el) => el === document.activeElement))) throw new Error('Tab never reached the claim button')
  await page.keyboard.press('Enter')
  await waitFor('the claim', async () => (await (await as('nanguan2')).ok('GET', `/tasks/${task.id}`)).assignee === 'nanguan2')
  await page.context().close()
})

test('a civil-affairs user cannot see DPF tasks', async () => {
  const { key, task } = await applicationAtAccept()
  const page = await newPage()
  await loginUi(page, 'minzheng')
  await page.getByRole('tab', { name: '全部可见' }).click()
  await page.getByRole('heading', { name: '待办任务' }).waitFor()
  await page.locator('.el-table__body-wrapper').waitFor()
  await page.waitForTimeout(500)
  if (await row(page, key).count()) throw new Error('the civil-affairs user sees the DPF task in the inbox')
  const mine = await (await as('minzheng')).ok('GET', '/tasks?limit=1000')
  if (mine.items.some((t) => t.id === task.id)) throw new Error('the API lists the DPF task to civil affairs')
  await page.goto(`/tasks/${task.id}`)
  await page.getByText('该任务不属于您的部门或区划。').waitFor()
  await shot(page, 'task-forbidden')
  await page.context().close()
})

test('a monitor sees a task turn overdue and escalate after the clock advances', async () => {
  // One working day to accept: overdue a day later, escalated to the DPF
  // supervisors 2 working days after that (seconds on the server's fast clock).
  const { key, task } = await applicationAtAccept({ acceptDays: 1 })
  const page = await newPage()
  await loginUi(page, 'jiankong')
  await page.getByRole('link', { name: '监控' }).click()
  await page.getByRole('heading', { name: '时限监控' }).waitFor()
  const overdueRow = page.getByTestId('overdue-table').locator('.el-table__body tr', { hasText: '受理' })
  await overdueRow.first().waitFor({ timeout: 40000 })
  const listed = await (await as('jiankong')).ok('GET', '/monitor/overdue?limit=1000')
  if (!listed.items.some((i) => i.taskId === task.id)) throw new Error(`task ${task.id} (${key}) is not in the overdue list`)
  await page.getByTestId('overdue-table').getByText('已上报').first().waitFor({ timeout: 60000 })
  await shot(page, 'monitor')
  await page.context().close()
}, { needs: NEEDS_MONITOR })

test('a designer uploads a model with an error, sees it on the element, fixes it and deploys', async () => {
  // The shipped model under another process id, with a broken expression on 受理 (accept).
  const good = MODEL.replaceAll('"certificate-new-issue"', '"bt-designer"')
  const broken = good.replace(/(<bpmn:userTask id="accept"[^>]*?bs:region=")=applicant\.region"/, '$1=applicant.region +"')
  if (good === MODEL || broken === good) throw new Error('the test model was not changed')
  const page = await newPage()
  await loginUi(page, 'sheji')
  await page.getByRole('link', { name: '流程设计' }).click()
  await page.getByRole('heading', { name: '流程设计' }).waitFor()
  await page.getByTestId('upload').setInputFiles({ name: 'bt-designer.bpmn', mimeType: 'application/xml', buffer: Buffer.from(broken) })
  await page.waitForURL(/\/designer\/edit/)
  await page.locator('.djs-element[data-element-id="accept"]').waitFor()
  await page.getByTestId('deploy').click()
  // The server's problem is marked on the element it concerns.
  await page.getByTestId('problems').waitFor()
  await page.locator('.djs-element.highlight-error[data-element-id="accept"]').waitFor()
  await page.locator('.diagram-error-marker[data-element="accept"]').waitFor()
  await shot(page, 'designer-error')
  const defs = await (await as('sheji')).ok('GET', '/definitions?processId=bt-designer')
  if (defs.items.length) throw new Error('the broken model was deployed')
  // Fix it in the XML source and deploy.
  await page.getByTestId('toggle-source').click()
  const src = page.getByTestId('xml-source')
  const text = await src.inputValue()
  await src.fill(text.replace('=applicant.region +"', '=applicant.region"'))
  await page.getByTestId('toggle-source').click()
  await page.locator('.djs-element[data-element-id="accept"]').waitFor()
  await page.getByTestId('deploy').click()
  await page.getByTestId('designer-status').filter({ hasText: '已部署' }).waitFor()
  if (await page.locator('.diagram-error-marker').count()) throw new Error('the error markers stayed after the fix')
  const after = await (await as('sheji')).ok('GET', '/definitions?processId=bt-designer')
  if (after.items.length !== 1) throw new Error(`expected one deployed version, got ${after.items.length}`)
  await shot(page, 'designer-deployed')
  await page.context().close()
})

test('a designer runs scenario tests on the model being edited: passed, failed by line, unreached elements found on the diagram', async () => {
  await deployShipped()
  const before = (await (await as('sheji')).ok('GET', `/definitions?processId=${PROCESS}`)).items.length
  // The shipped scenario of a new application up to its line that checks who
  // gets 受理 (accept): it passes on the shipped model.
  const shipped = readFileSync(path.join(WORKFLOWS, 'certificate-new-issue.scenario'), 'utf8').split('\n')
  const acceptIndex = shipped.findIndex((l) => l.startsWith('expect task accept:') && l.includes('"dpf-county"'))
  if (acceptIndex < 0) throw new Error('certificate-new-issue.scenario no longer checks the accept task of dpf-county')
  const scenario = shipped.slice(0, acceptIndex + 1).join('\n')
  const acceptLine = acceptIndex + 1
  const page = await newPage()
  await loginUi(page, 'sheji')
  await page.goto(`/designer/edit/${PROCESS}/1`)
  await page.locator('.djs-element[data-element-id="accept"]').waitFor()
  await page.getByRole('button', { name: '场景测试' }).click()
  const dialog = page.getByRole('dialog', { name: '场景测试' })
  await dialog.getByLabel('场景文件内容').fill(scenario)
  await dialog.getByRole('button', { name: '运行', exact: true }).click()
  const report = dialog.getByTestId('test-report')
  await report.getByText(/^\s*通过：\d+ 条命令，\d+ 条断言。/).waitFor()
  // The coverage names what the scenario never reached; one click finds it on the diagram.
  const missed = dialog.getByTestId('test-coverage').locator('tr', { hasText: PROCESS })
  await missed.getByRole('button', { name: 'review', exact: true }).waitFor()
  if (await missed.getByRole('button', { name: 'accept', exact: true }).count()) throw new Error('accept is listed as not reached')
  await shot(page, 'designer-scenario-passed')
  await axe(page, 'designer-scenario-dialog')
  await missed.getByRole('button', { name: 'review', exact: true }).click()
  await page.locator('.djs-element.selected[data-element-id="review"]').waitFor()
  await dialog.getByRole('button', { name: '关闭', exact: true }).click()

  // The test runs the model as edited, not as deployed: hand 受理 to another
  // group in the XML source, and the same scenario fails on its accept line.
  await page.getByTestId('toggle-source').click()
  const src = page.getByTestId('xml-source')
  const xml = await src.inputValue()
  const edited = xml.replace(/(<bpmn:userTask id="accept"[^>]*?bs:candidateGroups=")dpf-county"/, '$1dpf-window"')
  if (edited === xml) throw new Error('the candidate group of accept was not found in the source')
  await src.fill(edited)
  await page.getByTestId('toggle-source').click()
  await page.locator('.djs-element[data-element-id="accept"]').waitFor()
  await page.getByRole('button', { name: '场景测试' }).click()
  await dialog.getByRole('button', { name: '运行', exact: true }).click()
  await report.getByText('未通过：1 个问题。').waitFor()
  const failure = dialog.getByTestId('test-failures').locator('li')
  await failure.filter({ hasText: `第 ${acceptLine} 行：` }).waitFor()
  if (!/dpf-window|dpf-county|candidateGroups/.test(await failure.first().textContent())) {
    throw new Error(`the failure does not say what differed: ${await failure.first().textContent()}`)
  }
  await shot(page, 'designer-scenario-failed')
  await missed.getByRole('button', { name: 'assess', exact: true }).click()
  await page.locator('.djs-element.selected[data-element-id="assess"]').waitFor()
  if (await page.locator('.djs-element.selected[data-element-id="review"]').count()) throw new Error('the earlier selection stayed')
  // A test deploys nothing.
  const after = (await (await as('sheji')).ok('GET', `/definitions?processId=${PROCESS}`)).items.length
  if (after !== before) throw new Error(`the scenario test deployed a version (${before} -> ${after})`)
  await page.context().close()
})

test('the case page shows the diagram with the active step highlighted and the path taken', async () => {
  const key = uniqueKey()
  const id = await startApplication(key, { starter: 'sheji' })
  const page = await newPage()
  await loginUi(page, 'zhuguan')
  await page.getByRole('link', { name: '办件查询' }).click()
  await page.getByTestId('search-business-key').fill(key)
  await page.getByRole('button', { name: '查询' }).click()
  await page.getByTestId('case-table').getByRole('link', { name: `#${id}` }).click()
  await page.waitForURL(new RegExp(`/cases/${id}$`))
  const card = page.getByTestId(`instance-${id}`)
  // Waiting at 核验身份与户籍 (verify) or the registry check (checkRecord) unless
  // the department systems answered already.
  const active = card.locator('.djs-element.highlight-active')
  await active.first().waitFor()
  const ids = await active.evaluateAll((els) => els.map((e) => e.getAttribute('data-element-id')))
  if (!ids.some((x) => ['verify', 'checkRecord', 'accept'].includes(x))) throw new Error(`unexpected active elements ${ids}`)
  await card.locator('.djs-element.highlight-done[data-element-id="start"]').waitFor()
  await card.locator('.djs-connection.highlight-done[data-element-id="f1"]').waitFor()
  // Personal data is masked; showing it in full is allowed to a supervisor and audited.
  const full = applicant(key).idNumber
  await card.getByText(`${full.slice(0, 6)}********${full.slice(-4)}`).waitFor()
  if ((await card.textContent()).includes(full)) throw new Error('the case page shows the ID number unmasked')
  await shot(page, 'case')
  if (await hasRoute('GET', `/instances/${id}/variables`)) {
    await card.getByRole('button', { name: '查看完整信息' }).click()
    await card.getByText(full).waitFor()
    const audit = await (await as('admin')).ok('GET', '/audit?action=view-variables&actor=zhuguan')
    if (!audit.items.some((a) => a.target === `instance ${id}`)) throw new Error(`the full view is not in the audit trail: ${JSON.stringify(audit.items)}`)
  } else {
    console.log('    (not checked: showing in full, the server lacks GET /instances/{id}/variables)')
  }
  await page.context().close()
})

test('incidents of an unreachable department are one line, the monitor shows it down, and retrying them all sends the work out again', async () => {
  // The data-sharing system goes down: the verify jobs of two new applications
  // spend their retries against its 503s (the circuit breaker opens on the
  // way and lets a probe through now and then) and become incidents.
  const keys = [uniqueKey(), uniqueKey()]
  for (const k of keys) await applicantFor(k) // read from the register while it still answers
  await departmentDown('data-sharing', true)
  const ids = []
  try {
    for (const k of keys) ids.push(await startApplication(k))
    const designer = await as('sheji')
    const incidents = await waitFor('the two verify incidents', async () => {
      const open = (await designer.ok('GET', '/incidents')).items.filter((i) => ids.includes(i.instanceId))
      return open.length === 2 ? open : null
    }, 60000, 500)
    for (const i of incidents) {
      if (i.elementId !== 'verify' || !/data-sharing/.test(i.message)) throw new Error(`unexpected incident ${JSON.stringify(i)}`)
    }
  } catch (e) {
    await departmentDown('data-sharing', false)
    throw e
  }
  // The monitor sees the department down: one line, however many jobs wait.
  const monitor = await newPage()
  await loginUi(monitor, 'jiankong')
  await monitor.goto('/monitor')
  const down = monitor.getByTestId('department-down')
  await down.filter({ hasText: '数据共享平台' }).waitFor()
  if ((await down.count()) !== 1) throw new Error(`${await down.count()} department-down lines: ${await down.allTextContents()}`)
  await shot(monitor, 'monitor-department-down')
  await monitor.context().close()
  const all = (await (await as('sheji')).ok('GET', '/incidents')).items
  const page = await newPage()
  await loginUi(page, 'sheji')
  await page.getByRole('link', { name: '故障' }).click()
  const n = all.filter((i) => i.elementId === 'verify').length
  const group = page.locator('section.panel', { has: page.getByRole('heading', { name: /部门系统不可达：data-sharing/ }) })
  await group.getByRole('heading', { name: `部门系统不可达：data-sharing (${n})` }).waitFor()
  await shot(page, 'incidents')
  // The department answers again; retrying them all sends the jobs to it.
  await departmentDown('data-sharing', false)
  await group.getByRole('button', { name: `全部重试（${n}）` }).click()
  await page.getByTestId('no-incidents').waitFor()
  const left = await (await as('sheji')).ok('GET', '/incidents')
  if (left.items.some((i) => ids.includes(i.instanceId))) throw new Error('incidents are left after retrying all')
  await waitFor('the retried applications at 受理', async () =>
    (await findTask('zhuguan', keys[0], 'accept')) && (await findTask('zhuguan', keys[1], 'accept')), 30000, 500)
  for (const id of ids) {
    const v = await variablesOf(id)
    if (v.identityVerified !== true) throw new Error(`instance ${id} went on without the department's answer: ${JSON.stringify(v)}`)
  }
  await page.context().close()
})

test('an admin adds a user, who can then log in, and creates an API token shown once', async () => {
  const page = await newPage()
  await loginUi(page, 'admin')
  await page.getByRole('link', { name: '系统管理' }).click()
  await page.getByTestId('add-user').click()
  const name = `bt${Date.now().toString(36)}`
  const dialog = page.getByRole('dialog')
  await dialog.getByLabel('用户名').fill(name)
  await dialog.getByLabel('部门').fill('dpf')
  await dialog.getByLabel('区划').fill('220102')
  await dialog.getByRole('button', { name: '保存' }).click()
  const generated = (await dialog.locator('code').textContent()).trim()
  if (generated.length < 12) throw new Error(`no generated password shown: ${generated}`)
  await dialog.getByRole('button', { name: '关闭', exact: true }).click()
  await page.getByTestId('user-table').getByText(name).waitFor()
  await shot(page, 'admin')
  const c = await (async () => {
    USERS[name] = { password: generated }
    return Client.login(name)
  })()
  const me = await c.ok('GET', '/me')
  if (me.department !== 'dpf' || me.regions[0] !== '220102' || !me.roles.includes('staff')) throw new Error(`the new user is ${JSON.stringify(me)}`)
  await page.getByRole('tab', { name: '接口令牌' }).click()
  await page.getByLabel('令牌名称').fill(`bt-token-${Date.now()}`)
  await page.getByLabel('可服务的主题').fill('dpf.issue-certificate')
  await page.getByRole('button', { name: '创建令牌' }).click()
  const token = (await page.getByTestId('new-token').textContent()).trim()
  const r = await Client.token(token).ok('GET', '/me')
  if (r.kind !== 'token' || !r.topics.includes('dpf.issue-certificate')) throw new Error(`the token is ${JSON.stringify(r)}`)
  await page.context().close()
})

test('axe-core finds no serious or critical violation on any page', async () => {
  const key = uniqueKey()
  const caseId = await startApplication(key, { starter: 'sheji' })
  const taskId = (await applicationAtAccept()).task.id
  // Every page of the staff console (router.js); the front door's and the
  // applicant's pages are checked by frontdoor.test.mjs and applicant.test.mjs.
  const visits = [
    [null, '/login', 'a11y-login'],
    ['nanguan', '/inbox', 'a11y-inbox'],
    ['nanguan', taskId ? `/tasks/${taskId}` : null, 'a11y-task'],
    ['nanguan', '/password', 'a11y-password'],
    ['zhuguan', '/cases', 'a11y-cases'],
    ['zhuguan', `/cases/${caseId}`, 'a11y-case'],
    ['jiankong', '/monitor', 'a11y-monitor'],
    ['jiankong', '/reports', 'a11y-reports'],
    ['nanguan', '/rating', 'a11y-rating'],
    ['sheji', '/incidents', 'a11y-incidents'],
    ['sheji', '/designer', 'a11y-designer'],
    ['sheji', `/designer/edit/${PROCESS}/1`, 'a11y-modeler'],
    ['admin', '/admin', 'a11y-admin'],
    ['nanguan', '/no-such-page', 'a11y-not-found'],
  ]
  const problems = []
  const pages = {}
  for (const [user, url, name] of visits) {
    if (!url) continue
    const key2 = user || 'anonymous'
    if (!pages[key2]) {
      pages[key2] = await newPage()
      if (user) await loginUi(pages[key2], user)
    }
    const page = pages[key2]
    const t0 = Date.now()
    await page.goto(url)
    await page.locator('#main').waitFor()
    await page.waitForLoadState('networkidle', { timeout: 5000 }).catch(() => {})
    await page.waitForTimeout(300)
    await shot(page, name)
    try {
      const minor = await axe(page, name)
      console.log(`    ${name}: ${minor.length} minor or moderate findings (${Date.now() - t0} ms)`)
    } catch (e) {
      problems.push(e.message)
    }
  }
  // The English pages too (lang="en" on the document).
  const english = pages.zhuguan
  await english.getByLabel('语言').selectOption('en')
  await english.goto(`/cases/${caseId}`)
  await english.getByRole('heading', { level: 1, name: /^Case / }).waitFor()
  if ((await english.getAttribute('html', 'lang')) !== 'en') throw new Error('the document language did not follow the switch')
  await shot(english, 'a11y-case-en')
  try {
    await axe(english, 'a11y-case-en')
  } catch (e) {
    problems.push(e.message)
  }
  await english.getByLabel('Language').selectOption('zh-CN')
  // Keyboard: the skip link is the first stop and moves focus to the main content.
  const page = pages.nanguan
  await page.goto('/inbox')
  await page.keyboard.press('Tab')
  const first = await page.evaluate(() => document.activeElement && document.activeElement.textContent)
  if (!first || !first.includes('跳到主要内容')) throw new Error(`the first Tab stop is not the skip link: ${first}`)
  for (const p of Object.values(pages)) await p.context().close()
  if (problems.length) throw new Error(problems.join('\n'))
})

const ok = await run()
process.exit(ok ? 0 : 1)
