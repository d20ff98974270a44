// The resident ID number check the server makes too (ISO 7064 MOD 11-2 and a
// real birth date), so the form can say what is wrong before sending.
const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
const CHECKS = '10X98765432'

export function checkChar(first17) {
  if (!/^[0-9]{17}$/.test(first17)) return ''
  let sum = 0
  for (let i = 0; i < 17; i += 1) sum += Number(first17[i]) * WEIGHTS[i]
  return CHECKS[sum % 11]
}

// An empty string when valid, else the sentence to show.
export function idNumberProblem(id, t) {
  if (id.length !== 18) return t('id.length')
  if (!/^[0-9]{17}/.test(id)) return t('id.digits')
  if (id[17].toUpperCase() !== checkChar(id.slice(0, 17))) return t('id.check')
  const y = Number(id.slice(6, 10))
  const m = Number(id.slice(10, 12))
  const d = Number(id.slice(12, 14))
  const date = new Date(Date.UTC(y, m - 1, d))
  if (y < 1900 || date.getUTCFullYear() !== y || date.getUTCMonth() !== m - 1 || date.getUTCDate() !== d) return t('id.date')
  return ''
}
