import { createRouter, createWebHistory } from 'vue-router'
import { useSession } from './stores/session.js'
import LoginView from './views/LoginView.vue'
import InboxView from './views/InboxView.vue'

// Which roles see which page; the server refuses the calls anyway, this only
// keeps the menu honest.
export const pages = [
  { path: '/inbox', name: 'inbox', component: InboxView, roles: ['staff', 'supervisor', 'monitor'] },
  { path: '/tasks/:id', name: 'task', component: () => import('./views/TaskView.vue'), roles: ['staff', 'supervisor', 'monitor'], hidden: true },
  { path: '/cases', name: 'cases', component: () => import('./views/CaseSearchView.vue'), roles: ['supervisor', 'monitor', 'designer'] },
  { path: '/cases/:id', name: 'case', component: () => import('./views/CaseView.vue'), roles: ['supervisor', 'monitor', 'designer'], hidden: true },
  { path: '/monitor', name: 'monitor', component: () => import('./views/MonitorView.vue'), roles: ['monitor', 'supervisor', 'admin'] },
  { path: '/reports', name: 'reports', component: () => import('./views/ReportsView.vue'), roles: ['monitor', 'supervisor', 'admin'] },
  { path: '/rating/:id?', name: 'rating', component: () => import('./views/RatingView.vue'), roles: ['staff', 'supervisor'] },
  { path: '/incidents', name: 'incidents', component: () => import('./views/IncidentsView.vue'), roles: ['supervisor', 'monitor', 'designer'] },
  { path: '/designer', name: 'designer', component: () => import('./views/DesignerView.vue'), roles: ['designer'] },
  { path: '/designer/edit/:processId?/:version?', name: 'modeler', component: () => import('./views/ModelerView.vue'), roles: ['designer'], hidden: true },
  { path: '/admin', name: 'admin', component: () => import('./views/AdminView.vue'), roles: ['admin'] },
  { path: '/intake', name: 'intake', component: () => import('./views/IntakeView.vue'), roles: ['staff', 'supervisor'] },
  { path: '/intake/:key/receipt', name: 'receipt', component: () => import('./views/ReceiptView.vue'), roles: ['staff', 'supervisor'], hidden: true },
  { path: '/password', name: 'password', component: () => import('./views/PasswordView.vue'), roles: [], hidden: true },
]

export const router = createRouter({
  history: createWebHistory(),
  routes: [
    { path: '/login', name: 'login', component: LoginView, meta: { public: true } },
    // The applicant's channel (一网通办): public pages with their own sign-in.
    { path: '/apply', name: 'applicant', component: () => import('./views/applicant/ApplicantHomeView.vue'), meta: { public: true, applicant: true } },
    { path: '/apply/new', name: 'applicant-apply', component: () => import('./views/applicant/ApplicantApplyView.vue'), meta: { public: true, applicant: true } },
    { path: '/apply/cases/:key', name: 'applicant-case', component: () => import('./views/applicant/ApplicantCaseView.vue'), meta: { public: true, applicant: true } },
    { path: '/', name: 'home', redirect: () => ({ name: 'inbox' }) },
    ...pages.map((p) => ({ path: p.path, name: p.name, component: p.component, meta: { roles: p.roles } })),
    { path: '/:rest(.*)*', name: 'notfound', component: () => import('./views/NotFoundView.vue') },
  ],
})

export function firstPageFor(session) {
  const p = pages.find((x) => !x.hidden && x.roles.some((r) => session.has(r)))
  return p ? { name: p.name } : { name: 'password' }
}

router.beforeEach(async (to) => {
  const session = useSession()
  if (!session.checked) await session.load()
  if (to.meta.public) return true
  if (!session.loggedIn) return { name: 'login', query: { next: to.fullPath } }
  if (to.name === 'inbox' && !session.has('staff', 'supervisor', 'monitor')) return firstPageFor(session)
  const roles = to.meta.roles || []
  if (roles.length && !session.has(...roles)) return firstPageFor(session)
  return true
})
