// Chinese first; the choice is kept in localStorage. Every string the console
// shows lives in locales/*.json.
import { createI18n } from 'vue-i18n'
import zhCN from './locales/zh-CN.json'
import en from './locales/en.json'

const saved = typeof localStorage !== 'undefined' ? localStorage.getItem('banshi.locale') : null
export const i18n = createI18n({
  legacy: false,
  locale: saved === 'en' ? 'en' : 'zh-CN',
  fallbackLocale: 'zh-CN',
  messages: { 'zh-CN': zhCN, en },
})

export function setLocale(l) {
  i18n.global.locale.value = l
  localStorage.setItem('banshi.locale', l)
  document.documentElement.lang = l === 'en' ? 'en' : 'zh-CN'
}
document.documentElement.lang = i18n.global.locale.value === 'en' ? 'en' : 'zh-CN'
