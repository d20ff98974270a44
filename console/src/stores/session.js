// Who is logged in: name, roles, department, regions and the CSRF token.
import { defineStore } from 'pinia'
import { api, setCsrfToken } from '../lib/api.js'

export const useSession = defineStore('session', {
  state: () => ({ me: null, checked: false, expired: false }),
  getters: {
    loggedIn: (s) => !!s.me,
    roles: (s) => (s.me && s.me.roles) || [],
  },
  actions: {
    has(...roles) {
      return roles.some((r) => this.roles.includes(r))
    },
    async load() {
      try {
        this.me = await api.get('/me', undefined, { quietAuth: true })
        setCsrfToken(this.me.csrfToken)
      } catch {
        this.me = null
      }
      this.checked = true
      return this.me
    },
    async login(username, password) {
      this.me = await api.post('/auth/login', { username, password }, { quietAuth: true })
      setCsrfToken(this.me.csrfToken)
      this.expired = false
      this.checked = true
    },
    async logout() {
      try {
        await api.post('/auth/logout', undefined, { quietAuth: true })
      } finally {
        this.clear()
      }
    },
    clear() {
      this.me = null
      setCsrfToken('')
    },
    ended() {
      if (this.me) this.expired = true
      this.clear()
    },
  },
})
