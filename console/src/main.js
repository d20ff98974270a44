import { createApp } from 'vue'
import { createPinia } from 'pinia'
import ElementPlus from 'element-plus'
import 'element-plus/dist/index.css'
import './styles.css'
import App from './App.vue'
import { router } from './router.js'
import { i18n } from './i18n.js'
import { setSessionEndedHandler } from './lib/api.js'
import { useSession } from './stores/session.js'

const app = createApp(App)
const pinia = createPinia()
app.use(pinia)
app.use(i18n)
app.use(ElementPlus)
app.use(router)

const session = useSession()
setSessionEndedHandler(() => {
  session.ended()
  if (router.currentRoute.value.name !== 'login') {
    router.push({ name: 'login', query: { next: router.currentRoute.value.fullPath, expired: '1' } })
  }
})

app.mount('#app')
