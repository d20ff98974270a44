// Ratings and reports in the console against a real `banshi serve` (run.sh
// starts it): window staff record a very dissatisfied rating, which opens a
// follow-up for the supervisors; a monitor reads the reports and exports the
// workbook, which is unzipped here and its cells checked.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { inflateRawSync } from 'node:zlib'
import { Client, axe, newPage, loginUi, shot, test, run, waitFor } from './lib.mjs'

const WORKFLOWS = process.env.BANSHI_WORKFLOWS
const NEEDS = [['GET', '/reports'], ['GET', '/comparison-runs']]
const PROCESS = 'browser-report-case'
// One step for 南关区's DPF window, due in 5 hours.
const MODEL = `<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bs="urn:banshi:bpmn:1" id="brc">
  <process id="${PROCESS}" name="报表测试办件" isExecutable="true">
    <startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="accept"/>
    <userTask id="accept" name="报表测试受理" bs:candidateGroups="dpf-county" bs:region="=applicant.region"
              bs:dueDate="=now() + duration(&quot;PT5H&quot;)"/>
    <sequenceFlow id="f2" sourceRef="accept" targetRef="e"/><endEvent id="e"/>
  </process>
</definitions>`

const clients = {}
async function as(name) {
  if (!clients[name]) clients[name] = await Client.login(name)
  return clients[name]
}

let deployed = false
async function deploy() {
  if (deployed) return
  const designer = await as('sheji')
  await designer.ok('POST', `/definitions?resource=${PROCESS}.bpmn`, MODEL, { raw: true })
  const followUp = readFileSync(path.join(WORKFLOWS, 'rating-follow-up.bpmn'), 'utf8')
  const r = await designer.call('POST', '/definitions?resource=rating-follow-up.bpmn', followUp, { raw: true })
  if (r.status >= 300) throw new Error(`deploy rating-follow-up: ${r.status} ${JSON.stringify(r.body)}`)
  deployed = true
}

// Starts a case in 南关区 and has the window complete its step: the case ends.
async function finishedCase() {
  await deploy()
  const staff = await as('nanguan')
  const started = await staff.ok('POST', '/instances', {
    processId: PROCESS, businessKey: `RPT-${Date.now().toString(36)}`, variables: { applicant: { region: '220102' } },
  })
  const task = await waitFor('the case step', async () => {
    const list = await staff.ok('GET', `/tasks?processId=${PROCESS}&limit=100`)
    return (list.items || []).find((t) => t.instanceId === started.id)
  })
  await staff.ok('POST', `/tasks/${task.id}/claim`, {})
  await staff.ok('POST', `/tasks/${task.id}/complete`, { variables: {} })
  return started.id
}

// The entries of a zip file by name, inflated (through the central directory).
function unzip(buf) {
  const eocd = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]))
  if (eocd < 0) throw new Error('not a zip file')
  const count = buf.readUInt16LE(eocd + 10)
  let at = buf.readUInt32LE(eocd + 16)
  const files = {}
  for (let i = 0; i < count; i += 1) {
    const method = buf.readUInt16LE(at + 10)
    const size = buf.readUInt32LE(at + 20)
    const nameLen = buf.readUInt16LE(at + 28)
    const extra = buf.readUInt16LE(at + 30)
    const comment = buf.readUInt16LE(at + 32)
    const local = buf.readUInt32LE(at + 42)
    const name = buf.toString('utf8', at + 46, at + 46 + nameLen)
    const data = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28)
    const raw = buf.subarray(data, data + size)
    files[name] = (method === 8 ? inflateRawSync(raw) : raw).toString('utf8')
    at += 46 + nameLen + extra + comment
  }
  return files
}

// axe looks at the page at rest: no pointer over a button, nothing focused
// by the last click (the theme's hover colour is not what is checked here).
async function atRest(page) {
  await page.mouse.move(0, 0)
  await page.evaluate(() => document.activeElement && document.activeElement.blur())
}

const unescapeXml = (s) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&amp;/g, '&')

// A sheet's rows as arrays of cell values (shared strings resolved, numbers as numbers).
function sheetRows(files, sheetFile) {
  const shared = [...(files['xl/sharedStrings.xml'] || '').matchAll(/<si>(.*?)<\/si>/gs)].map((m) =>
    unescapeXml([...m[1].matchAll(/<t[^>]*>(.*?)<\/t>/gs)].map((t) => t[1]).join('')))
  const rows = []
  for (const row of files[sheetFile].matchAll(/<row [^>]*>(.*?)<\/row>/gs)) {
    const cells = []
    for (const c of row[1].matchAll(/<c r="([A-Z]+)\d+"([^>]*?)(?:\/>|>(.*?)<\/c>)/gs)) {
      const col = c[1].charCodeAt(0) - 65
      const v = /<v>(.*?)<\/v>/s.exec(c[3] || '')
      cells[col] = v ? (/t="s"/.test(c[2]) ? shared[Number(v[1])] : Number(v[1])) : null
    }
    rows.push(cells)
  }
  return rows
}

test('reports: window staff record a very dissatisfied rating, which opens a follow-up for the supervisors', async () => {
  const id = await finishedCase()
  const page = await newPage()
  await loginUi(page, 'nanguan')
  await page.goto(`/rating/${id}`)
  await page.getByTestId('level-very_dissatisfied').check()
  await page.getByTestId('rating-comment').fill('补正材料没有一次告知，跑了两次')
  await page.getByRole('button', { name: '提交评价' }).click()
  const result = page.getByTestId('rating-result')
  await result.waitFor()
  await waitFor('the saved rating', async () => (await result.textContent()).includes('非常不满意'))
  const followUp = Number((await page.getByTestId('rating-follow-up').textContent()).trim())
  if (!(followUp > 0)) throw new Error('no follow-up instance shown')
  await atRest(page)
  await axe(page, 'rating')
  await shot(page, 'rating-recorded')

  // A second rating of the same case is refused and says why.
  await page.goto(`/rating/${id}`)
  await page.getByTestId('level-satisfied').check()
  await page.getByRole('button', { name: '提交评价' }).click()
  await page.getByTestId('rating-error').waitFor()

  // The city DPF supervisor has the follow-up task.
  const supervisor = await as('zhuguan')
  await waitFor('the follow-up task', async () => {
    const list = await supervisor.ok('GET', '/tasks?processId=rating-follow-up&limit=100')
    return (list.items || []).find((t) => t.instanceId === followUp && t.elementId === 'followUp')
  })
}, { needs: NEEDS })

test('reports: a monitor reads the reports and exports the workbook, whose cells are checked', async () => {
  const id = await finishedCase()
  await (await as('nanguan')).ok('POST', `/instances/${id}/rating`, { level: 'satisfied' })
  const page = await newPage()
  await loginUi(page, 'jiankong')
  await page.goto('/reports')
  // The engine's clock runs from March 2026; the browser's date may not.
  await page.getByTestId('report-from').fill('2026-01-01')
  await page.getByTestId('report-to').fill('2027-01-01')
  await page.getByRole('button', { name: '查询' }).click()
  const cases = page.getByTestId('report-cases')
  await waitFor('the case in the cases report', async () => (await cases.textContent()).includes('报表测试办件'))
  await waitFor('the step in the steps report', async () => (await page.getByTestId('report-steps').textContent()).includes('报表测试受理'))
  await atRest(page)
  await axe(page, 'reports')
  await shot(page, 'reports')

  // CSV of one report: UTF-8 with a byte order mark, Chinese headers.
  const [csvDownload] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-csv-steps').click()])
  const csv = readFileSync(await csvDownload.path())
  if (!(csv[0] === 0xef && csv[1] === 0xbb && csv[2] === 0xbf)) throw new Error('the CSV has no byte order mark')
  const csvText = csv.toString('utf8', 3)
  if (!csvText.startsWith('业务编码,环节编码,环节名称')) throw new Error(`CSV header: ${csvText.slice(0, 80)}`)
  if (!csvText.includes(`${PROCESS},accept,报表测试受理,`)) throw new Error(`CSV rows: ${csvText}`)

  // The workbook: one sheet per report, headers and values read back.
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-xlsx').click()])
  if (!download.suggestedFilename().endsWith('.xlsx')) throw new Error(`file name ${download.suggestedFilename()}`)
  const files = unzip(readFileSync(await download.path()))
  const sheets = [...files['xl/workbook.xml'].matchAll(/<sheet name="([^"]+)"/g)].map((m) => m[1])
  if (sheets.join(',') !== 'cases,on-time,steps,sla,ratings') throw new Error(`sheets: ${sheets}`)
  const casesRows = sheetRows(files, 'xl/worksheets/sheet1.xml')
  if (casesRows[0][0] !== '业务编码' || casesRows[0][4] !== '受理') throw new Error(`cases header: ${casesRows[0]}`)
  const mine = casesRows.filter((r) => r[0] === PROCESS && r[2] === '220102')
  const started = mine.reduce((a, r) => a + r[4], 0)
  const completed = mine.reduce((a, r) => a + r[5], 0)
  if (!(started >= 1 && completed >= 1 && typeof started === 'number')) throw new Error(`cases rows: ${JSON.stringify(mine)}`)
  const ratingRows = sheetRows(files, 'xl/worksheets/sheet5.xml')
  const rated = ratingRows.find((r) => r[0] === PROCESS && r[2] === '220102')
  if (!rated || !(rated[3] >= 1) || !(rated[9] > 0 && rated[9] <= 1)) throw new Error(`ratings row: ${JSON.stringify(rated)}`)
  const stepRows = sheetRows(files, 'xl/worksheets/sheet3.xml')
  const step = stepRows.find((r) => r[0] === PROCESS && r[1] === 'accept')
  if (!step || typeof step[5] !== 'number' || step[6] < step[5]) throw new Error(`steps row: ${JSON.stringify(step)}`)
}, { needs: NEEDS })

if (!(await run())) process.exitCode = 1
