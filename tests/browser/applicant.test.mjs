// The applicant's channel in the browser (docs/frontdoor.md), on a phone-sized
// screen: sign in with a code from the SMS gateway, apply online, supply a
// missing document when the window asks, and accept the subsidies offered once
// the card is issued. axe-core must find no serious or critical violation on
// any applicant page. Loaded by frontdoor.test.mjs, which starts the server.
import { Client, axe, newPage, shot, test, waitFor } from './lib.mjs'

const { simUrl, person, outbox, PNG } = globalThis.banshiFrontDoor

async function phonePage() {
  const page = await newPage()
  await page.setViewportSize({ width: 390, height: 844 })
  return page
}

async function signIn(page, phone) {
  await page.goto('/apply')
  await page.getByRole('heading', { name: '登录' }).waitFor()
  await axe(page, 'applicant-sign-in')
  await page.getByLabel('手机号').fill(phone)
  await page.getByRole('button', { name: '获取验证码' }).click()
  await page.getByText('验证码已发送').waitFor()
  const sms = await waitFor('the code', async () => (await outbox(phone)).reverse().find((m) => m.purpose === 'otp'))
  await page.getByLabel('验证码（6位数字）').fill(sms.text.match(/(\d{6})/)[1])
  await page.getByTestId('ap-submit').click()
  await page.getByRole('heading', { name: '我的办件' }).waitFor()
}

// Completes the open task of a step as a member of staff.
async function completeStep(staff, element, variables) {
  const task = await waitFor(`the ${element} task`, async () => {
    const list = await staff.ok('GET', '/tasks?processId=certificate-new-issue')
    return list.items.find((t) => t.elementId === element)
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

  // The same form as the window, in large type.
  await page.getByTestId('ap-apply').click()
  await page.getByRole('heading', { name: '我要申请' }).waitFor()
  await axe(page, 'applicant-apply')
  await page.getByLabel('姓名').fill(household.name)
  await page.getByLabel('身份证号').fill(id.slice(0, 17) + (id[17] === '1' ? '2' : '1'))
  await page.getByText('身份证号校验码不正确').waitFor()
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

  // The window asks for a photo: the applicant is told on the page and by SMS.
  const window = await Client.login('chuangkou')
  await completeStep(window, 'accept', { accepted: false, supplementRequested: true, missingMaterials: ['照片'] })
  await waitFor('the ask for a document', async () => {
    await page.reload()
    return page.getByTestId('ap-supplement').isVisible()
  })
  await axe(page, 'applicant-supplement')
  await shot(page, 'applicant-supplement')
  await waitFor('the notice', async () => (await outbox(phone)).some((m) => m.purpose === 'milestone:supplement'))
  await page.getByLabel('选择文件（照片或PDF）').setInputFiles({ name: 'photo.png', mimeType: 'image/png', buffer: PNG })
  await page.getByRole('button', { name: '上传', exact: true }).click()
  await page.getByText('已上传。').waitFor()
  await page.getByTestId('ap-supplied').click()
  await page.getByTestId('ap-done').waitFor()
  await waitFor('the case back at the window', async () => {
    await page.reload()
    return !(await page.getByTestId('ap-supplement').isVisible()) && (await page.getByText('残联窗口正在受理您的申请').isVisible())
  })

  // Accepted, assessed, public notice (the server's clock runs fast), reviewed, issued.
  await completeStep(window, 'accept', { accepted: true })
  await completeStep(await Client.login('pingding'), 'assess', { meetsStandard: true, disability: { category: '肢体', level: '一级' } })
  await completeStep(window, 'review', { approved: true })

  // The subsidies are offered on the applicant's page.
  await waitFor('the offer', async () => {
    await page.reload()
    return page.getByTestId('ap-offer').isVisible()
  }, 90000, 1000)
  await axe(page, 'applicant-offer')
  await shot(page, 'applicant-offer')
  await page.getByTestId('ap-accept').click()
  await page.getByText('已提交补贴申请。').waitFor()
  // Both subsidy processes run for the person now.
  await waitFor('both subsidies started', async () => {
    await page.reload()
    return (await page.locator('[data-process="living-subsidy"]').count()) === 1 &&
      (await page.locator('[data-process="nursing-subsidy"]').count()) === 1
  }, 30000, 1000)
  await axe(page, 'applicant-subsidies')

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
})
