// The applicant's channel in the browser (docs/frontdoor.md), on a phone-sized
// screen: sign in with a code from the SMS gateway, apply online, supply a
// missing document when the window asks, accept the subsidies offered once
// the card is issued, and rate the finished case. axe-core must find no
// serious or critical violation on any applicant page, and the accessibility
// tree a screen reader reads must be sound (screenReader below). Loaded by
// frontdoor.test.mjs, which starts the server with a controlled clock: the
// public notice's five working days pass when the test moves the clock, not
// with the machine's speed.
import { Client, axe, newPage, shot, test, waitFor } from './lib.mjs'

const { simUrl, person, outbox, PNG, admin, advanceClock } = globalThis.banshiFrontDoor

// What a screen reader gets, from Chromium's accessibility tree (CDP
// Accessibility.getFullAXTree): every form control has an accessible name,
// the headings form an outline (one h1 first, no level skipped on the way
// down), and each of `messages` (texts on the page) is inside a live region
// (role status or alert, or aria-live), so it is announced when it appears.
// The active instances with the elements they wait at, and the open
// incidents: what a slow step was waiting for, for its error message.
async function whereThingsStand() {
  try {
    const active = await admin.ok('GET', '/instances?status=active&limit=50')
    const parts = []
    for (const i of active.items) {
      const at = await admin.ok('GET', `/instances/${i.id}/active-elements`)
      parts.push(`${i.processId} ${i.businessKey || ''} at ${JSON.stringify(at.items || at)}`)
    }
    const incidents = await admin.ok('GET', '/incidents')
    parts.push(`incidents ${JSON.stringify(incidents.items || incidents)}`)
    return parts.join('; ')
  } catch (e) {
    return `(could not ask: ${e.message})`
  }
}

async function screenReader(page, name, messages = []) {
  const cdp = await page.context().newCDPSession(page)
  const { nodes } = await cdp.send('Accessibility.getFullAXTree')
  await cdp.detach()
  const byId = new Map(nodes.map((n) => [n.nodeId, n]))
  const parent = new Map()
  for (const n of nodes) for (const c of n.childIds || []) parent.set(c, n.nodeId)
  const role = (n) => (n.role && n.role.value) || ''
  const prop = (n, p) => ((n.properties || []).find((x) => x.name === p) || {}).value
  const visible = nodes.filter((n) => !n.ignored)
  const problems = []

  const controls = ['textbox', 'searchbox', 'combobox', 'listbox', 'checkbox', 'radio', 'button', 'spinbutton', 'slider', 'switch', 'menuitem', 'link']
  for (const n of visible) {
    if (!controls.includes(role(n))) continue
    const label = ((n.name && n.name.value) || '').trim()
    if (!label) problems.push(`a ${role(n)} without an accessible name (backend node ${n.backendDOMNodeId})`)
  }

  const headings = visible.filter((n) => role(n) === 'heading').map((n) => ({ level: Number(prop(n, 'level') && prop(n, 'level').value), text: (n.name && n.name.value) || '' }))
  if (!headings.length) problems.push('no heading')
  else {
    if (headings[0].level !== 1) problems.push(`the first heading is h${headings[0].level} (${headings[0].text})`)
    if (headings.filter((h) => h.level === 1).length !== 1) problems.push(`${headings.filter((h) => h.level === 1).length} h1 headings`)
    for (let i = 1; i < headings.length; i += 1) {
      if (headings[i].level > headings[i - 1].level + 1) {
        problems.push(`h${headings[i - 1].level} (${headings[i - 1].text}) is followed by h${headings[i].level} (${headings[i].text})`)
      }
    }
  }

  const live = (n) => ['status', 'alert', 'log'].includes(role(n)) || ['polite', 'assertive'].includes(prop(n, 'live') && prop(n, 'live').value)
  for (const text of messages) {
    const holders = visible.filter((n) => role(n) === 'StaticText' && ((n.name && n.name.value) || '').includes(text))
    if (!holders.length) {
      problems.push(`the message "${text}" is not in the accessibility tree`)
      continue
    }
    for (const h of holders) {
      let id = h.nodeId
      let found = false
      while (id !== undefined && !found) {
        const n = byId.get(id)
        found = !!n && live(n)
        id = parent.get(id)
      }
      if (!found) problems.push(`the message "${text}" is in no live region`)
    }
  }
  if (problems.length) throw new Error(`screen reader on ${name}: ${problems.join('; ')}`)
  return { controls: visible.filter((n) => controls.includes(role(n))).length, headings: headings.length }
}

async function phonePage() {
  const page = await newPage()
  await page.setViewportSize({ width: 390, height: 844 })
  return page
}

async function signIn(page, phone) {
  await page.goto('/apply')
  await page.getByRole('heading', { name: '登录' }).waitFor()
  await axe(page, 'applicant-sign-in')
  await screenReader(page, 'applicant-sign-in')
  await page.getByLabel('手机号').fill(phone)
  await page.getByRole('button', { name: '获取验证码' }).click()
  await page.getByText('验证码已发送').waitFor()
  await screenReader(page, 'applicant-code-sent', ['验证码已发送'])
  const sms = await waitFor('the code', async () => (await outbox(phone)).reverse().find((m) => m.purpose === 'otp'))
  await page.getByLabel('验证码（6位数字）').fill(sms.text.match(/(\d{6})/)[1])
  await page.getByTestId('ap-submit').click()
  await page.getByRole('heading', { name: '我的办件' }).waitFor()
}

// Reloads the page until the element with this test id shows (the server
// works on after answering, so the page does not know when to look again).
async function reloadUntilVisible(page, what, testId, timeoutMs = 30000) {
  await waitFor(what, async () => {
    await reload(page)
    return page.getByTestId(testId).isVisible()
  }, timeoutMs, 500)
}

// Loads the page again and waits until it has fetched what it shows: checked
// at once, a page still fetching looks as if the thing looked for were not
// there, and the next reload would cut it short again.
async function reload(page) {
  await page.reload({ waitUntil: 'networkidle' })
}

// Completes the open task of a step of the case `key` as a member of staff
// (the window's case of frontdoor.test.mjs waits at the same step, created at
// the same instant of the standing clock, so the case must be named).
async function completeStep(staff, key, element, variables) {
  const task = await waitFor(`the ${element} task`, async () => {
    const list = await staff.ok('GET', '/tasks?processId=certificate-new-issue')
    return list.items.find((t) => t.elementId === element && t.businessKey === key)
  }, 60000)
  await staff.ok('POST', `/tasks/${task.id}/claim`, {})
  await staff.ok('POST', `/tasks/${task.id}/complete`, { variables })
}

test('an applicant applies online, supplies a missing document and accepts the offered subsidies', async () => {
  const id = await person({ dibao: true })
  const household = await (await fetch(`${simUrl}/data-sharing/household/${id}`)).json()
  const phone = '13900139021'
  const page = await phonePage()
  await signIn(page, phone)
  await page.getByText('还没有办件').waitFor()
  await axe(page, 'applicant-cases-empty')
  await screenReader(page, 'applicant-cases-empty')

  // The same form as the window, in large type.
  await page.getByTestId('ap-apply').click()
  await page.getByRole('heading', { name: '我要申请' }).waitFor()
  await axe(page, 'applicant-apply')
  await screenReader(page, 'applicant-apply')
  await page.getByLabel('姓名').fill(household.name)
  await page.getByLabel('身份证号').fill(id.slice(0, 17) + (id[17] === '1' ? '2' : '1'))
  await page.getByText('身份证号校验码不正确').waitFor()
  await screenReader(page, 'applicant-apply-bad-id', ['身份证号校验码不正确'])
  await page.getByLabel('身份证号').fill(id)
  await page.getByLabel('手机号（须与登录手机号相同）').fill(phone)
  await page.getByLabel('残疾类别（申请评定）').selectOption('肢体')
  await page.getByLabel('困难残疾人生活补贴').check()
  await page.getByLabel('重度残疾人护理补贴').check()
  await shot(page, 'applicant-apply')
  await page.getByTestId('ap-apply-submit').click()
  await page.waitForURL(/\/apply\/cases\//)
  const key = decodeURIComponent(page.url().split('/apply/cases/')[1])
  await page.getByText(key).waitFor()
  await axe(page, 'applicant-case')
  await screenReader(page, 'applicant-case')

  // The window asks for a photo: the applicant is told on the page and by SMS.
  const window = await Client.login('chuangkou')
  await completeStep(window, key, 'accept', { accepted: false, supplementRequested: true, missingMaterials: ['照片'] })
  await reloadUntilVisible(page, 'the ask for a document', 'ap-supplement')
  await axe(page, 'applicant-supplement')
  await screenReader(page, 'applicant-supplement')
  await shot(page, 'applicant-supplement')
  await waitFor('the notice', async () => (await outbox(phone)).some((m) => m.purpose === 'milestone:supplement'))
  // The page sends the file as a multipart/form-data form; the server stores the part's bytes.
  const sent = page.waitForRequest((r) => r.url().includes('/documents') && r.method() === 'POST')
  await page.getByLabel('选择文件（照片或PDF）').setInputFiles({ name: '../../photo.png', mimeType: 'image/png', buffer: PNG })
  await page.getByRole('button', { name: '上传', exact: true }).click()
  await page.getByText('已上传。').waitFor()
  const type = (await sent).headers()['content-type'] || ''
  if (!type.startsWith('multipart/form-data; boundary=')) throw new Error(`the upload was sent as ${type}`)
  await screenReader(page, 'applicant-uploaded', ['已上传。'])
  await page.getByTestId('ap-supplied').click()
  await page.getByTestId('ap-done').waitFor()
  await waitFor('the case back at the window', async () => {
    await reload(page)
    return !(await page.getByTestId('ap-supplement').isVisible()) && (await page.getByText('残联窗口正在受理您的申请').isVisible())
  })

  // Accepted and assessed; then the public notice runs five working days on
  // the clock, which stands still until moved: the review is not there yet.
  await completeStep(window, key, 'accept', { accepted: true })
  await completeStep(await Client.login('pingding'), key, 'assess', { meetsStandard: true, disability: { category: '肢体', level: '一级' } })
  await new Promise((r) => setTimeout(r, 500))
  const early = await window.ok('GET', '/tasks?processId=certificate-new-issue')
  if (early.items.some((t) => t.elementId === 'review' && t.businessKey === key)) throw new Error('the review came before the public notice ended')
  // Eight days on (Monday 03-02 to Tuesday 03-10): the notice (ends 03-09) is over.
  const moved = await advanceClock('P8D')
  if (moved.nowText !== '2026-03-10T01:00:00.000Z') throw new Error(`the clock moved to ${moved.nowText}`)
  await completeStep(window, key, 'review', { approved: true })

  // The card is issued and the subsidies are offered on the applicant's page.
  await reloadUntilVisible(page, 'the offer', 'ap-offer')
  await axe(page, 'applicant-offer')
  await screenReader(page, 'applicant-offer')
  await shot(page, 'applicant-offer')
  await page.getByTestId('ap-accept').click()
  await page.getByText('已提交补贴申请。').waitFor()
  await screenReader(page, 'applicant-accepted', ['已提交补贴申请。'])
  // Both subsidy processes run for the person now. Getting there takes three
  // department calls through the job workers and the consent's correlation:
  // a second or two; the bound is generous for a busy machine.
  try {
    await waitFor('both subsidies started', async () => {
      await reload(page)
      return (await page.locator('[data-process="living-subsidy"]').count()) === 1 &&
        (await page.locator('[data-process="nursing-subsidy"]').count()) === 1
    }, 30000, 1000)
  } catch (e) {
    throw new Error(`${e.message}; the engine meanwhile: ${await whereThingsStand()}`)
  }
  await axe(page, 'applicant-subsidies')

  // 好差评 from the applicant's own page, once the certificate's process has ended.
  await reloadUntilVisible(page, 'the rating form', 'ap-rating')
  await axe(page, 'applicant-rating')
  await screenReader(page, 'applicant-rating')
  await page.getByLabel('不满意', { exact: true }).check()
  // A bad rating needs a comment: the field says so and is required.
  await page.getByLabel('评价意见（必填：请说明哪里不满意）').waitFor()
  await page.getByLabel('评价意见（必填：请说明哪里不满意）').fill('补贴申请的说明不够清楚')
  await shot(page, 'applicant-rating')
  await page.getByTestId('ap-rate-submit').click()
  await page.getByText('感谢您的评价。').waitFor()
  await page.getByTestId('ap-rated').waitFor()
  await screenReader(page, 'applicant-rated', ['感谢您的评价。'])
  // Rated once, as the applicant's own, and a follow-up opened for the supervisors.
  const again = await fetch(`${process.env.BANSHI_URL}/api/v1/applicant/cases/${encodeURIComponent(key)}/rating`, { method: 'POST' })
  if (again.status !== 401 && again.status !== 403) throw new Error(`rating without the session: ${again.status}`)
  const followUps = await waitFor('the follow-up', async () => {
    const list = await admin.ok('GET', '/instances?processId=rating-follow-up')
    return list.items.length > 0 && list.items
  })
  if (!followUps.some((i) => i.businessKey && i.businessKey.startsWith('rating-'))) throw new Error(`follow-ups: ${JSON.stringify(followUps)}`)

  // The milestones reached the phone, with no name or ID number in them.
  const box = await outbox(phone)
  for (const want of ['milestone:received', 'milestone:accepted', 'milestone:assessment-booked', 'milestone:certificate-issued', 'milestone:subsidy-offered']) {
    if (!box.some((m) => m.purpose === want)) throw new Error(`no ${want} notice: ${box.map((m) => m.purpose).join(', ')}`)
  }
  for (const m of box) if (m.text.includes(id) || m.text.includes(household.name)) throw new Error(`personal data in: ${m.text}`)
})

test('an applicant sees only their own cases, and English works', async () => {
  const page = await phonePage()
  await signIn(page, '13900139022')
  await page.getByText('还没有办件').waitFor()
  // Another person's case number is not there for them.
  const other = await (await fetch(`${simUrl}/notification/sms/outbox?to=13900139021`)).json()
  const key = other.items.map((m) => (m.text.match(/(\d{6}-\d{8}-\d{6})/) || [])[1]).find(Boolean)
  if (key) {
    await page.goto(`/apply/cases/${key}`)
    await page.getByText('没有这个办件').waitFor()
  }
  await page.goto('/apply')
  await page.getByLabel('语言').selectOption('en')
  await page.getByRole('heading', { name: 'My cases' }).waitFor()
  await axe(page, 'applicant-cases-en')
  await screenReader(page, 'applicant-cases-en')
})
