// Builds the console into dist/, which `banshi serve --console console/dist` serves.
// `npm run dev` proxies /api to a running server (BANSHI_URL, default http://127.0.0.1:8080).
import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'

const target = process.env.BANSHI_URL || 'http://127.0.0.1:8080'

export default defineConfig({
  plugins: [vue()],
  base: '/',
  build: {
    outDir: 'dist',
    sourcemap: false,
    chunkSizeWarningLimit: 1600,
    rollupOptions: {
      output: {
        // Keep the big libraries apart so the inbox loads without the modeler or charts.
        manualChunks(id) {
          if (id.includes('node_modules/element-plus') || id.includes('node_modules/@element-plus')) return 'element-plus'
          if (id.includes('node_modules/echarts') || id.includes('node_modules/zrender')) return 'echarts'
          if (id.includes('node_modules/vue') || id.includes('node_modules/@vue') || id.includes('node_modules/pinia')) return 'vue'
          return undefined
        },
      },
    },
  },
  server: {
    // The task forms are read from ../workflows/forms at build time.
    fs: { allow: ['..'] },
    proxy: {
      '/api': { target, ws: true, changeOrigin: false },
    },
  },
})
