// The form of a user task, read from its definition. In order:
//  1. the form service, GET /api/v1/forms/{formKey} ({fields:[...]}), where the server has it;
//  2. fields declared on the task in the BPMN: camunda:formData/formField
//     (id, label, type, defaultValue, validation constraints) or a
//     zeebe:userTaskForm holding a form JSON ({components:[{key,label,type,validate}]});
//  3. the decisions the next gateway takes: a condition `=x = true` makes a
//     yes/no field x labelled with the gateway's name, `=x = "a"` a choice.
// A field is {key, label, type: text|number|boolean|select|date|textarea, required, options, min, max, pattern, minLength, maxLength}.
import { api } from './api.js'

function local(el) {
  return (el.localName || el.nodeName || '').replace(/^.*:/, '')
}

function children(el, name) {
  return [...el.getElementsByTagName('*')].filter((c) => local(c) === name)
}

function findById(doc, id) {
  return [...doc.getElementsByTagName('*')].find((e) => e.getAttribute('id') === id) || null
}

function camundaFields(task) {
  const out = []
  for (const f of children(task, 'formField')) {
    const type = (f.getAttribute('type') || 'string').toLowerCase()
    const field = {
      key: f.getAttribute('id'),
      label: f.getAttribute('label') || f.getAttribute('id'),
      type: type === 'boolean' ? 'boolean' : type === 'long' ? 'number' : type === 'date' ? 'date' : type === 'enum' ? 'select' : 'text',
      defaultValue: f.getAttribute('defaultValue') ?? undefined,
      options: children(f, 'value').map((v) => ({ value: v.getAttribute('id'), label: v.getAttribute('name') || v.getAttribute('id') })),
    }
    for (const c of children(f, 'constraint')) {
      const n = c.getAttribute('name')
      const cfg = c.getAttribute('config')
      if (n === 'required') field.required = true
      if (n === 'minlength') field.minLength = Number(cfg)
      if (n === 'maxlength') field.maxLength = Number(cfg)
      if (n === 'min') field.min = Number(cfg)
      if (n === 'max') field.max = Number(cfg)
    }
    if (field.key) out.push(field)
  }
  return out
}

export function fromFormJson(form) {
  const comps = (form && (form.components || form.fields)) || []
  const out = []
  for (const c of comps) {
    const key = c.key || c.id
    if (!key) continue
    const v = c.validate || {}
    const type = { textfield: 'text', textarea: 'textarea', number: 'number', checkbox: 'boolean', select: 'select', radio: 'select', datetime: 'date', boolean: 'boolean', text: 'text', date: 'date' }[c.type] || 'text'
    out.push({
      key,
      label: c.label || key,
      type,
      required: !!(v.required || c.required),
      options: (c.values || c.options || []).map((o) => (typeof o === 'object' ? { value: o.value, label: o.label || o.value } : { value: o, label: o })),
      min: v.min ?? c.min,
      max: v.max ?? c.max,
      minLength: v.minLength ?? c.minLength,
      maxLength: v.maxLength ?? c.maxLength,
      pattern: v.pattern ?? c.pattern,
      defaultValue: c.defaultValue,
    })
  }
  return out
}

function zeebeFields(task, doc) {
  for (const f of children(task, 'userTaskForm')) {
    try {
      return fromFormJson(JSON.parse(f.textContent))
    } catch {
      /* not JSON */
    }
  }
  const def = children(task, 'formDefinition')[0]
  const formKey = def && def.getAttribute('formKey')
  if (formKey) {
    const id = formKey.replace(/^camunda-forms:bpmn:/, '')
    const holder = children(doc.documentElement, 'userTaskForm').find((x) => x.getAttribute('id') === id)
    if (holder) {
      try {
        return fromFormJson(JSON.parse(holder.textContent))
      } catch {
        /* not JSON */
      }
    }
  }
  return []
}

function gatewayFields(doc, task) {
  const out = []
  const seen = new Set()
  const flows = children(doc.documentElement, 'sequenceFlow')
  for (const f of flows.filter((x) => x.getAttribute('sourceRef') === task.getAttribute('id'))) {
    const target = findById(doc, f.getAttribute('targetRef'))
    if (!target || !/Gateway$/.test(local(target))) continue
    for (const g of flows.filter((x) => x.getAttribute('sourceRef') === target.getAttribute('id'))) {
      const cond = children(g, 'conditionExpression')[0]
      if (!cond) continue
      const text = cond.textContent.trim().replace(/^=/, '')
      let m = /^([A-Za-z_][\w]*)\s*=\s*(true|false)$/.exec(text)
      if (m && !seen.has(m[1])) {
        seen.add(m[1])
        out.push({ key: m[1], label: target.getAttribute('name') || m[1], type: 'boolean', required: true, derived: true,
          trueLabel: m[2] === 'true' ? g.getAttribute('name') : '', })
        continue
      }
      m = /^([A-Za-z_][\w]*)\s*=\s*"([^"]*)"$/.exec(text)
      if (m) {
        let field = out.find((x) => x.key === m[1])
        if (!field) {
          field = { key: m[1], label: target.getAttribute('name') || m[1], type: 'select', required: true, options: [], derived: true }
          out.push(field)
          seen.add(m[1])
        }
        field.options.push({ value: m[2], label: g.getAttribute('name') || m[2] })
      }
    }
  }
  return out
}

export async function formFor(task, xml) {
  if (task.formKey) {
    try {
      const form = await api.get(`/forms/${encodeURIComponent(task.formKey)}`, undefined, { quietAuth: true })
      const fields = fromFormJson(form)
      if (fields.length) return { source: 'server', fields }
    } catch {
      /* no form service on this server, or no such form: read the model */
    }
  }
  if (!xml) return { source: 'none', fields: [] }
  const doc = new DOMParser().parseFromString(xml, 'application/xml')
  const el = findById(doc, task.elementId)
  if (!el) return { source: 'none', fields: [] }
  let fields = camundaFields(el)
  if (fields.length) return { source: 'model', fields }
  fields = zeebeFields(el, doc)
  if (fields.length) return { source: 'model', fields }
  fields = gatewayFields(doc, el)
  return { source: fields.length ? 'gateway' : 'none', fields }
}

// Checks values against the fields; returns {key: message-key} for each problem.
export function validate(fields, values) {
  const errors = {}
  for (const f of fields) {
    const v = values[f.key]
    const empty = v === undefined || v === null || v === ''
    if (f.required && empty) errors[f.key] = 'form.required'
    else if (!empty && f.type === 'number' && Number.isNaN(Number(v))) errors[f.key] = 'form.number'
    else if (!empty && f.min !== undefined && Number(v) < f.min) errors[f.key] = 'form.min'
    else if (!empty && f.max !== undefined && Number(v) > f.max) errors[f.key] = 'form.max'
    else if (!empty && f.minLength && String(v).length < f.minLength) errors[f.key] = 'form.minLength'
    else if (!empty && f.maxLength && String(v).length > f.maxLength) errors[f.key] = 'form.maxLength'
    else if (!empty && f.pattern && !new RegExp(`^(?:${f.pattern})$`).test(String(v))) errors[f.key] = 'form.pattern'
  }
  return errors
}
