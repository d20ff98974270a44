// Live events from the server's WebSocket /api/v1/events (one JSON object per
// frame). Pages subscribe with on(); when the socket cannot be opened the state
// says so and pages fall back to refreshing on a timer.
import { defineStore } from 'pinia'

export const useEvents = defineStore('events', {
  state: () => ({ status: 'idle', lastAt: null, retries: 0 }),
  actions: {
    connect() {
      if (this.socket || typeof WebSocket === 'undefined') return
      const proto = location.protocol === 'https:' ? 'wss:' : 'ws:'
      this.status = 'connecting'
      let opened = false
      const ws = new WebSocket(`${proto}//${location.host}/api/v1/events`)
      this.socket = ws
      ws.onopen = () => {
        opened = true
        this.status = 'live'
        this.retries = 0
      }
      ws.onmessage = (m) => {
        let ev
        try {
          ev = JSON.parse(m.data)
        } catch {
          return
        }
        this.lastAt = Date.now()
        for (const fn of listeners) fn(ev)
      }
      ws.onclose = () => {
        this.socket = null
        if (this.stopped) return
        this.status = opened ? 'reconnecting' : 'unavailable'
        this.retries += 1
        const delay = Math.min(30000, 1000 * 2 ** Math.min(this.retries, 5))
        this.timer = setTimeout(() => this.connect(), delay)
      }
    },
    disconnect() {
      this.stopped = true
      clearTimeout(this.timer)
      if (this.socket) this.socket.close()
      this.socket = null
      this.status = 'idle'
      this.stopped = false
    },
  },
})

const listeners = new Set()

// Subscribes fn to every event; returns the function that unsubscribes.
export function onEvent(fn) {
  listeners.add(fn)
  return () => listeners.delete(fn)
}
