#!/usr/bin/env node
// Headless-browser check of the built cpkit book (Jupyter Book 1.x / Sphinx HTML).
//
// Usage:  node check_book.mjs [HTML_DIR] [--screenshots DIR] [--only SUBSTR]
//   HTML_DIR     built HTML folder (default: ../../_build/html relative to this script)
//   --screenshots  where full-page PNGs go (default: HTML_DIR/../screenshots)
//   --only       check only pages whose relative path contains SUBSTR (debugging)
//   --verbose    also print every request URL of every page
//
// Serves HTML_DIR itself on 127.0.0.1 (free port), drives /usr/bin/chromium through
// playwright-core, and exits 1 with a list of failures, 0 when every check passes.

import http from 'node:http';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));

// ---------------------------------------------------------------- arguments
const argv = process.argv.slice(2);
let htmlDir = null;
let shotDir = null;
let only = null;
let verbose = false;
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--screenshots') shotDir = argv[++i];
  else if (a === '--only') only = argv[++i];
  else if (a === '--verbose' || a === '-v') verbose = true;
  else if (a === '-h' || a === '--help') {
    console.log('usage: node check_book.mjs [HTML_DIR] [--screenshots DIR] [--only SUBSTR] [--verbose]');
    process.exit(0);
  } else if (!htmlDir) htmlDir = a;
  else { console.error(`unexpected argument: ${a}`); process.exit(2); }
}
htmlDir = path.resolve(htmlDir ?? path.join(HERE, '..', '..', '_build', 'html'));
shotDir = path.resolve(shotDir ?? path.join(htmlDir, '..', 'screenshots'));
if (!fs.existsSync(path.join(htmlDir, 'index.html'))) {
  console.error(`no index.html under ${htmlDir}: build the book first (make html)`);
  process.exit(2);
}

// ---------------------------------------------------------------- settings
const CHROMIUM = '/usr/bin/chromium';
const LAUNCH_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  // Belt and braces: nothing but the loopback address can even be resolved.
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
];
const FIGURE_TIMEOUT_MS = 15000;
const WIDGET_TIMEOUT_MS = 20000;
const MATH_TIMEOUT_MS = 20000;
const SETTLE_MS = 500;
const QUIET_MS = 500;

// Known third-party errors: allowed, but always listed in the output.
const ALLOWED_ERRORS = [
  { re: /Identifier 'THEBE_JS_URL' has already been declared/, why: 'sphinx-thebe' },
  { re: /Got invalid theme mode/, why: 'pydata-sphinx-theme' },
  { re: /Cannot read properties of undefined \(reading 'Queue'\)/, why: 'html-manager calls MathJax 2 API' },
];
const allowedWhy = (text) => ALLOWED_ERRORS.find((a) => a.re.test(text))?.why ?? null;
const isFavicon = (url) => { try { return new URL(url).pathname.endsWith('/favicon.ico'); } catch { return false; } };

// ---------------------------------------------------------------- static server
const MIME = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.json': 'application/json', '.map': 'application/json', '.svg': 'image/svg+xml',
  '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.gif': 'image/gif',
  '.ico': 'image/x-icon', '.woff': 'font/woff', '.woff2': 'font/woff2', '.ttf': 'font/ttf',
  '.otf': 'font/otf', '.eot': 'application/vnd.ms-fontobject', '.txt': 'text/plain; charset=utf-8',
  '.inv': 'application/octet-stream', '.ipynb': 'application/json', '.md': 'text/markdown; charset=utf-8',
};
const served404 = []; // every 404 the server answered (catches browser-initiated requests too)

function startServer(root) {
  const server = http.createServer(async (req, res) => {
    try {
      const u = new URL(req.url, 'http://127.0.0.1');
      let rel = decodeURIComponent(u.pathname);
      let file = path.normalize(path.join(root, rel));
      if (!file.startsWith(root)) { res.writeHead(403).end('forbidden'); return; }
      let st = await fsp.stat(file).catch(() => null);
      if (st?.isDirectory()) { file = path.join(file, 'index.html'); st = await fsp.stat(file).catch(() => null); }
      if (!st?.isFile()) { served404.push(u.pathname); res.writeHead(404, { 'content-type': 'text/plain' }).end('not found'); return; }
      res.writeHead(200, {
        'content-type': MIME[path.extname(file).toLowerCase()] ?? 'application/octet-stream',
        'content-length': st.size, 'cache-control': 'no-cache',
      });
      if (req.method === 'HEAD') { res.end(); return; }
      fs.createReadStream(file).pipe(res);
    } catch (e) {
      res.writeHead(500).end(String(e));
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

// ---------------------------------------------------------------- page list
function listPages(root) {
  const out = [];
  const walk = (dir) => {
    for (const ent of fs.readdirSync(dir, { withFileTypes: true })) {
      if (ent.name.startsWith('_')) continue; // _static, _sources, _images: not book pages
      const p = path.join(dir, ent.name);
      if (ent.isDirectory()) walk(p);
      else if (ent.name.endsWith('.html')) out.push(path.relative(root, p).split(path.sep).join('/'));
    }
  };
  walk(root);
  // index first (redirect), then the rest alphabetically
  return out.sort((a, b) => (a === 'index.html' ? -1 : b === 'index.html' ? 1 : a.localeCompare(b)));
}

// ---------------------------------------------------------------- in-page helpers
// Fingerprint of the plotted data of a figure: x/y/z/visible of every trace, from
// both the user data and plotly's full data; typed arrays and base64 specs handled.
const FINGERPRINT_FN = `(gd) => {
  const norm = (v) => {
    if (v == null) return null;
    if (ArrayBuffer.isView(v)) return Array.from(v);
    if (Array.isArray(v)) return v.map(norm);
    if (typeof v === 'object' && 'bdata' in v) return ['b64', v.dtype, v.bdata];
    return v;
  };
  const pick = (t) => ({ x: norm(t.x), y: norm(t.y), z: norm(t.z), v: t.visible });
  return JSON.stringify({ d: (gd.data || []).map(pick), f: (gd._fullData || []).map(pick) });
}`;

// Hash of what is drawn in the plot area (trace paths/points), to see the drawing change too.
const DRAWING_FN = `(gd) => {
  const parts = [...gd.querySelectorAll('.cartesianlayer g.trace, .polarlayer g.trace, .ternarylayer g.trace')]
    .map((t) => (t.getAttribute('style') || '') + '#' + [...t.querySelectorAll('path')].map((e) => e.getAttribute('d') || '').join(';'));
  if (gd.querySelector('.gl-container canvas')) parts.push('gl');
  let h = 2166136261;
  for (const ch of parts.join('|')) { h ^= ch.codePointAt(0); h = Math.imul(h, 16777619) >>> 0; }
  return parts.length + ':' + h.toString(16);
}`;

async function waitForMath(page) {
  // MathJax 3: wait for startup and the initial typeset to finish.
  return page.evaluate(async (ms) => {
    const t0 = Date.now();
    while (!(window.MathJax && window.MathJax.startup && window.MathJax.startup.promise)) {
      if (Date.now() - t0 > ms) return 'MathJax never started';
      await new Promise((r) => setTimeout(r, 100));
    }
    try {
      await Promise.race([window.MathJax.startup.promise, new Promise((_, rej) => setTimeout(() => rej(new Error('timeout')), ms))]);
      return null;
    } catch (e) { return 'MathJax startup failed: ' + e.message; }
  }, MATH_TIMEOUT_MS);
}

// ---------------------------------------------------------------- checks per page
async function checkPage(context, baseUrl, rel) {
  const r = {
    page: rel, failures: [], notes: [], warnings: [], allowedErrors: [], externalRequests: [],
    figures: 0, figuresRendered: 0, sliders: 0, slidersMoved: 0, sliderMethods: [],
    menus: 0, menusToggled: 0, widgetStates: 0, widgetsRendered: 0, mathElems: 0, mathContainers: 0,
    screenshot: null, landed: null, requests: 0, requestUrls: [], plotlyLoads: 0,
  };
  const fail = (m) => r.failures.push(m);
  const page = await context.newPage();
  const externalSeen = new Set();

  page.on('request', (req) => {
    r.requests++;
    r.requestUrls.push(req.url());
    if (/\/plotly(\.min)?\.js$/.test(new URL(req.url()).pathname)) r.plotlyLoads++;
    inflight.add(req);
    lastActivity = Date.now();
    const u = new URL(req.url());
    if (['http:', 'https:', 'ws:', 'wss:', 'ftp:'].includes(u.protocol) && u.hostname !== '127.0.0.1') {
      if (!externalSeen.has(req.url())) { externalSeen.add(req.url()); r.externalRequests.push(req.url()); }
    } else if (!['http:', 'https:', 'data:', 'blob:', 'about:'].includes(u.protocol)) {
      r.notes.push(`request with unusual scheme: ${req.url().slice(0, 120)}`);
    }
  });
  const inflight = new Set();
  let lastActivity = Date.now();
  page.on('requestfinished', (req) => { inflight.delete(req); lastActivity = Date.now(); });
  page.on('requestfailed', (req) => { inflight.delete(req); lastActivity = Date.now(); });
  // Our own "network idle": no request in flight for QUIET_MS (Playwright's networkidle
  // proved flaky here: it sometimes never fired although no request was pending).
  const waitQuiet = async (maxMs) => {
    const t = Date.now();
    while (Date.now() - t < maxMs) {
      if (inflight.size === 0 && Date.now() - lastActivity >= QUIET_MS) return true;
      await page.waitForTimeout(100);
    }
    return false;
  };
  page.on('requestfailed', (req) => {
    if (externalSeen.has(req.url())) return; // already a failure as an external request
    if (isFavicon(req.url())) return;
    fail(`request failed: ${req.url()} (${req.failure()?.errorText})`);
  });
  page.on('response', (resp) => {
    if (resp.status() >= 400 && !isFavicon(resp.url())) fail(`HTTP ${resp.status()} for ${resp.url()}`);
  });
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const text = msg.text();
    const loc = msg.location()?.url ?? '';
    if (/Failed to load resource/.test(text) && isFavicon(loc)) return;
    const why = allowedWhy(text);
    if (why) r.allowedErrors.push(`console: ${text.split('\n')[0]} [${why}]`);
    else fail(`console error: ${text.split('\n')[0]}${loc ? ` (at ${loc})` : ''}`);
  });
  page.on('pageerror', (err) => {
    const text = err?.name ? `${err.name}: ${err.message}` : `uncaught ${String(err?.message ?? err)} (exception or promise rejection without an Error)`;
    const why = allowedWhy(text);
    if (why) r.allowedErrors.push(`pageerror: ${text.split('\n')[0]} [${why}]`);
    else fail(`page error: ${text.split('\n')[0]}`);
  });

  try {
    const url = `${baseUrl}/${rel}`;
    const resp = await page.goto(url, { waitUntil: 'load', timeout: 30000 });
    if (!resp) fail('no response for page');
    if (rel === 'index.html') {
      // meta-refresh redirect to notebooks/intro.html
      await page.waitForURL(/\/notebooks\/intro\.html$/, { timeout: 10000, waitUntil: 'load' })
        .catch(() => fail(`index.html did not redirect to notebooks/intro.html (at ${page.url()})`));
    }
    r.landed = page.url().replace(baseUrl + '/', '');
    if (!await waitQuiet(15000)) r.notes.push(`network never went idle within 15 s (in flight: ${[...inflight].map((q) => q.url().replace(baseUrl, '')).join(', ') || 'none seen by the page'})`);

    // ---------- 6. math
    const hasMathJax = await page.evaluate(() => !!document.querySelector('script[src*="mathjax"]'));
    r.mathElems = await page.evaluate(() => document.querySelectorAll('.math').length);
    if (hasMathJax) {
      const err = await waitForMath(page);
      if (err && r.mathElems > 0) fail(err);
    } else if (r.mathElems > 0) fail(`${r.mathElems} .math elements but MathJax is not loaded on this page`);
    const math = await page.evaluate(() => ({
      containers: document.querySelectorAll('mjx-container').length,
      unrendered: [...document.querySelectorAll('.math')].filter((e) => !e.querySelector('mjx-container')).map((e) => e.textContent.trim().slice(0, 60)),
      errors: [...document.querySelectorAll('mjx-merror')].map((e) => (e.getAttribute('data-mjx-error') || e.textContent).slice(0, 80)),
    }));
    r.mathContainers = math.containers;
    if (r.mathElems > 0 && math.containers === 0) fail(`page has ${r.mathElems} .math elements but no mjx-container after load`);
    for (const u of math.unrendered.slice(0, 5)) fail(`math not rendered by MathJax: ${u.replace(/\s+/g, ' ')}`);
    if (math.unrendered.length > 5) fail(`... and ${math.unrendered.length - 5} more .math elements not rendered by MathJax`);
    for (const e of math.errors) fail(`MathJax error in formula: ${e}`);

    // ---------- 6b. Markdown pipe tables must render as tables, not raw text
    const rawTables = await page.evaluate(() => [...document.querySelectorAll('article p, .bd-article p, main p')]
      .map((p) => p.textContent.replace(/\s+/g, ' ').trim())
      .filter((t) => /^\|.*\|\s*\|?\s*:?[-\u2014\u2013]{1,}:?\s*\|/.test(t)));
    for (const t of [...new Set(rawTables)]) fail(`Markdown table shown as raw text: "${t.slice(0, 70)}…"`);

    // ---------- 3. plotly figures
    const figIds = await page.evaluate(() => [...document.querySelectorAll('.plotly-graph-div')].map((e, i) => {
      if (!e.id) e.id = `__fig_${i}`; return e.id;
    }));
    r.figures = figIds.length;
    const figDeadline = Date.now() + FIGURE_TIMEOUT_MS;
    for (const id of figIds) {
      const ok = await page.waitForFunction((id) => {
        const gd = document.getElementById(id);
        return !!(gd && gd.querySelector('svg.main-svg') && gd.data && gd.data.length > 0);
      }, id, { timeout: Math.max(1000, figDeadline - Date.now()) }).then(() => true).catch(() => false);
      if (ok) r.figuresRendered++;
      else fail(`plotly figure #${id} did not render within ${FIGURE_TIMEOUT_MS / 1000} s (no svg.main-svg or empty data)`);
    }

    // ---------- 5. ipywidgets
    const widgetInfo = await page.evaluate(() => {
      const s = document.querySelector('script[type="application/vnd.jupyter.widget-state+json"]');
      if (!s) return null;
      const st = JSON.parse(s.textContent).state;
      // The saved result text: an interact Output widget's stream/text output, or the
      // value of an HTML/HTMLMath widget (cpkit.explorers.text_explorer), tags stripped.
      const strip = (h) => new DOMParser().parseFromString(h, 'text/html').body.textContent;
      const outputs = Object.values(st).flatMap((m) => {
        if (m.model_name === 'OutputModel') return [(m.state.outputs || []).map((o) => o.text || (o.data && o.data['text/plain']) || '').join('').trim()];
        if (m.model_name === 'HTMLModel' || m.model_name === 'HTMLMathModel') return [strip(m.state.value || '').trim()];
        return [];
      });
      return {
        models: Object.keys(st).length, outputs,
        views: document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]').length,
      };
    });
    if (widgetInfo) {
      r.widgetStates = widgetInfo.views;
      const visible = await page.waitForFunction(() => {
        const vis = (e) => e.offsetParent !== null && e.getBoundingClientRect().width > 0;
        return [...document.querySelectorAll('.widget-slider, .widget-dropdown')].some(vis)
          && [...document.querySelectorAll('.jupyter-widgets')].some(vis);
      }, null, { timeout: WIDGET_TIMEOUT_MS }).then(() => true).catch(() => false);
      if (!visible) fail(`widget state present (${widgetInfo.views} view(s)) but no visible .jupyter-widgets with a .widget-slider/.widget-dropdown after ${WIDGET_TIMEOUT_MS / 1000} s`);
      // Result text (Output widget of interact, or HTML widget of a text explorer)
      const outText = await page.waitForFunction(() => {
        const t = [...document.querySelectorAll('.widget-output, .jupyter-widgets-output-area, .widget-html, .widget-htmlmath')].map((e) => e.innerText.trim()).join('\n').trim();
        return t || null;
      }, null, { timeout: visible ? 5000 : 1000 }).then((h) => h.jsonValue()).catch(() => '');
      const w = await page.evaluate(() => {
        const vis = (e) => e.offsetParent !== null && e.getBoundingClientRect().width > 0;
        return {
          roots: [...document.querySelectorAll('.jupyter-widgets.widget-container, .jupyter-widgets.widget-vbox, .jupyter-widgets.widget-hbox')].filter(vis).length,
          controls: [...document.querySelectorAll('.widget-slider, .widget-dropdown')].filter(vis).length,
          readouts: [...document.querySelectorAll('.widget-readout')].map((e) => e.innerText || e.value || e.textContent),
        };
      });
      r.widgetsRendered = w.controls;
      r.widgetDetail = `${w.controls} control(s), readouts [${w.readouts.join(', ')}]`;
      if (widgetInfo.outputs.length === 0) fail('widget state has no Output or HTML model: no saved result text to show');
      if (!outText) fail('widget Output/HTML result area is empty or missing (saved result text not shown)');
      else {
        const squash = (s) => s.replace(/\s+/g, ' ').trim();
        for (const saved of widgetInfo.outputs) {
          if (saved && !squash(outText).includes(squash(saved).slice(0, 60))) fail(`widget result text does not show the saved output: expected "${squash(saved).slice(0, 60)}", got "${squash(outText).slice(0, 60)}"`);
        }
        r.widgetOutput = outText.replace(/\s+/g, ' ').slice(0, 70);
      }
    }

    // ---------- 7. screenshot (state as loaded, before interaction)
    await fsp.mkdir(shotDir, { recursive: true });
    const shotName = rel.replace(/\.html$/, '').replace(/[\\/]/g, '_') + '.png';
    r.screenshot = path.join(shotDir, shotName);
    await page.screenshot({ path: r.screenshot, fullPage: true });

    // ---------- 4a. sliders
    const fp = async (id) => page.evaluate(`(${FINGERPRINT_FN})(document.getElementById(${JSON.stringify(id)}))`);
    const drawn = async (id) => page.evaluate(`(${DRAWING_FN})(document.getElementById(${JSON.stringify(id)}))`);
    for (const id of figIds) {
      const meta = await page.evaluate((id) => {
        const gd = document.getElementById(id);
        const s = gd?.layout?.sliders?.[0];
        const m = gd?.layout?.updatemenus || [];
        return {
          slider: s ? { n: s.steps.length, active: s.active ?? 0, labels: s.steps.map((x) => x.label), step: s.steps } : null,
          menus: m.map((u) => ({ type: u.type || 'dropdown', n: (u.buttons || []).length, labels: (u.buttons || []).map((b) => b.label) })),
          frames: (gd?._transitionData?._frames || []).length,
        };
      }, id);
      if (meta.slider) {
        r.sliders++;
        const { n, active } = meta.slider;
        if (n < 2) { fail(`figure #${id}: slider has ${n} step(s)`); continue; }
        // target: the step farthest from the active one
        const target = active >= n / 2 ? 0 : n - 1;
        const before = await fp(id);
        const drawnBefore = await drawn(id);
        let method = null;

        // real mouse click on the slider rail at the target step's position
        const fig = page.locator(`[id="${id}"]`);
        await fig.scrollIntoViewIfNeeded();
        const pos = await page.evaluate(({ id, target }) => {
          const gd = document.getElementById(id);
          const grp = gd.querySelector('.slider-group');
          if (!grp) return { err: 'no .slider-group in SVG' };
          const rail = grp.querySelector('.slider-rail-rect') || grp.querySelector('.slider-rail-touch-rect');
          const ticks = [...grp.querySelectorAll('.slider-tick-rect, .slider-tick')];
          const labels = [...grp.querySelectorAll('.slider-label-group .slider-label, .slider-label-group text')];
          const rb = rail.getBoundingClientRect();
          let x = null, via = null;
          const n = gd.layout.sliders[0].steps.length;
          if (ticks.length === n) {
            const tb = ticks[target].getBoundingClientRect(); x = tb.left + tb.width / 2; via = 'tick';
          } else if (labels.length === n) {
            const lb = labels[target].getBoundingClientRect(); x = lb.left + lb.width / 2; via = 'label';
          }
          if (x == null) return { err: `cannot locate step ${target} (labels ${labels.length}, ticks ${ticks.length})` };
          return { x, y: rb.top + rb.height / 2, via };
        }, { id, target });
        if (pos.err) r.notes.push(`figure #${id}: ${pos.err}`);
        else {
          await page.mouse.move(pos.x, pos.y);
          await page.mouse.down();
          await page.mouse.up();
          await page.waitForTimeout(SETTLE_MS);
          const after = await fp(id);
          const nowActive = await page.evaluate((id) => document.getElementById(id).layout.sliders[0].active, id);
          if (after !== before && nowActive === target) method = `mouse click (${pos.via} x)`;
          else r.notes.push(`figure #${id}: mouse click at step ${target} did not move the slider (active ${nowActive}, data ${after === before ? 'unchanged' : 'changed'})`);
        }
        if (!method) {
          // fallback: call the step's method directly
          const res = await page.evaluate(async ({ id, target }) => {
            const gd = document.getElementById(id);
            const step = gd.layout.sliders[0].steps[target];
            try {
              if (step.method === 'animate') await window.Plotly.animate(gd, step.args[0], step.args[1] || { mode: 'immediate', frame: { duration: 0, redraw: true }, transition: { duration: 0 } });
              else await window.Plotly[step.method](gd, ...step.args);
              return null;
            } catch (e) { return String(e); }
          }, { id, target });
          await page.waitForTimeout(SETTLE_MS);
          const after = await fp(id);
          if (res) fail(`figure #${id}: slider step ${target} (${meta.slider.labels[target]}) method failed: ${res}`);
          else if (after === before) fail(`figure #${id}: slider step ${target} (${meta.slider.labels[target]}) did not change the plotted data (frames: ${meta.frames})`);
          else { method = 'Plotly.animate fallback'; r.notes.push(`figure #${id}: slider moved only via ${method}`); }
        }
        if (method && (await drawn(id)) === drawnBefore) {
          fail(`figure #${id}: slider moved to ${meta.slider.labels[target]} and gd.data changed, but the drawn traces did not change`);
          method = null;
        }
        if (method) {
          r.slidersMoved++;
          r.sliderMethods.push(`${meta.slider.labels[active]}→${meta.slider.labels[target]} by ${method}`);
        }
      }

      // ---------- 4b. updatemenus buttons
      for (let mi = 0; mi < meta.menus.length; mi++) {
        const menu = meta.menus[mi];
        r.menus++;
        if (menu.n < 2) { fail(`figure #${id}: updatemenu ${mi} has ${menu.n} button(s)`); continue; }
        const vis = () => page.evaluate((id) => JSON.stringify(document.getElementById(id)._fullData.map((t) => t.visible)), id);
        const before = await vis();
        const drawnBefore = await drawn(id);
        const fig = page.locator(`[id="${id}"]`);
        await fig.scrollIntoViewIfNeeded();
        if (menu.type === 'dropdown') {
          // open the dropdown first
          await fig.locator('.updatemenu-header-group').nth(mi).click();
          await page.waitForTimeout(200);
        }
        const btn = fig.locator('.updatemenu-container').nth(mi).locator('.updatemenu-button').nth(1);
        const clicked = await btn.click({ timeout: 5000 }).then(() => true).catch((e) => { fail(`figure #${id}: cannot click updatemenu button 2 ("${menu.labels[1]}"): ${e.message.split('\n')[0]}`); return false; });
        if (!clicked) continue;
        await page.waitForTimeout(SETTLE_MS);
        const after = await vis();
        if (after === before) fail(`figure #${id}: clicking updatemenu button "${menu.labels[1]}" did not change trace visibility (${before})`);
        else if ((await drawn(id)) === drawnBefore) fail(`figure #${id}: updatemenu button "${menu.labels[1]}" changed visibility but the drawn traces did not change`);
        else { r.menusToggled++; r.notes.push(`figure #${id}: button "${menu.labels[1]}" visibility ${before} → ${after}`); }
      }
    }

    // ---------- 9. weight: plotly.js is one file, fetched once per page, never inlined
    if (r.plotlyLoads > 1) fail(`plotly.js requested ${r.plotlyLoads} times`);
    if (r.figures > 0 && r.plotlyLoads !== 1) fail(`${r.figures} figures but plotly.js requested ${r.plotlyLoads} times`);
    const file = path.join(htmlDir, rel);
    const html = fs.readFileSync(file, 'utf8');
    if (/plotly\.js v\d/.test(html)) fail('a copy of plotly.js is inlined in the page');
    r.bytes = fs.statSync(file).size;

    // ---------- 1. external requests (checked last so late requests count)
    await page.waitForTimeout(200);
    for (const u of r.externalRequests) fail(`request to a non-loopback host: ${u}`);
  } catch (e) {
    fail(`check crashed: ${e.message.split('\n')[0]}`);
  } finally {
    await page.close().catch(() => {});
  }
  return r;
}

// ---------------------------------------------------------------- main
const t0 = Date.now();
let pages = listPages(htmlDir);
const globalFailures = [];
for (const must of ['index.html', 'notebooks/intro.html', 'notebooks/reproducibility.html', 'notebooks/performance.html', 'book/two_sources.html', 'book/glossary.html', 'book/bibliography.html']) {
  if (!pages.includes(must)) globalFailures.push(`expected page missing from build: ${must}`);
}
if (!pages.some((p) => p.startsWith('notebooks/'))) globalFailures.push('no notebooks/*.html in build');
if (only) pages = pages.filter((p) => p.includes(only));

const server = await startServer(htmlDir);
const baseUrl = `http://127.0.0.1:${server.address().port}`;
let browser;
const results = [];
try {
  browser = await chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS, headless: true });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, serviceWorkers: 'block' });
  // Never let anything leave the machine: abort every non-loopback request (it is still recorded).
  await context.route((u) => !['127.0.0.1', ''].includes(u.hostname) && /^(https?|wss?):$/.test(u.protocol),
    (route) => route.abort('blockedbyclient'));
  console.log(`browser check: ${browser.version()} via playwright-core, serving ${htmlDir} at ${baseUrl}`);
  for (const rel of pages) {
    const t = Date.now();
    const r = await checkPage(context, baseUrl, rel);
    r.seconds = ((Date.now() - t) / 1000).toFixed(1);
    results.push(r);
    const ok = r.failures.length === 0 ? 'PASS' : 'FAIL';
    console.log(`\n[${ok}] ${rel}${r.landed && r.landed !== rel ? ` -> ${r.landed}` : ''}  (${r.seconds} s, ${r.requests} requests)`);
    console.log(`  figures ${r.figuresRendered}/${r.figures} rendered | sliders moved ${r.slidersMoved}/${r.sliders} | buttons toggled ${r.menusToggled}/${r.menus} | widgets ${r.widgetStates ? `${r.widgetsRendered} controls (${r.widgetStates} view)` : '-'} | math ${r.mathContainers} mjx-container / ${r.mathElems} .math | external requests ${r.externalRequests.length} | console errors allowed ${r.allowedErrors.length}, failed ${r.failures.filter((f) => /^(console|page) error/.test(f)).length}`);
    for (const m of r.sliderMethods) console.log(`  slider: ${m}`);
    if (r.widgetOutput) console.log(`  widget output: "${r.widgetOutput}"`);
    for (const a of [...new Set(r.allowedErrors)]) console.log(`  allowed: ${a}`);
    for (const n of r.notes) console.log(`  note: ${n}`);
    for (const w of r.warnings) console.log(`  WARN: ${w}`);
    for (const f of r.failures) console.log(`  FAIL: ${f}`);
    if (r.screenshot) console.log(`  screenshot: ${r.screenshot}`);
    if (verbose) for (const u of r.requestUrls) console.log(`  request: ${u.length > 160 ? u.slice(0, 160) + '…' : u}`);
  }
  await context.close();
} catch (e) {
  globalFailures.push(`browser run crashed: ${e.message.split('\n')[0]}`);
} finally {
  if (browser) await browser.close().catch(() => {});
  await new Promise((res) => server.close(res));
}

// ---------- weight of the built site (stated in the README)
function walkSize(dir) {
  let bytes = 0, files = 0;
  for (const ent of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, ent.name);
    if (ent.isDirectory()) { const w = walkSize(full); bytes += w.bytes; files += w.files; }
    else if (ent.isFile()) { bytes += fs.statSync(full).size; files += 1; }
  }
  return { bytes, files };
}
const site = walkSize(htmlDir);
const plotlyFile = path.join(htmlDir, '_static', 'plotly.min.js');
const plotlyBytes = fs.existsSync(plotlyFile) ? fs.statSync(plotlyFile).size : 0;
const largest = results.filter((r) => r.bytes).sort((a, b) => b.bytes - a.bytes)[0];
const mb = (n) => (n / 2 ** 20).toFixed(1);
console.log(`\nweight: site ${mb(site.bytes)} MiB in ${site.files} files; plotly.min.js ${mb(plotlyBytes)} MiB, one copy in _static, loaded once per page` +
  (largest ? `; largest page ${largest.page} ${(largest.bytes / 1024).toFixed(0)} KiB of HTML` : ''));

const strayNotFound = served404.filter((p) => !p.endsWith('/favicon.ico'));
for (const p of [...new Set(strayNotFound)]) globalFailures.push(`server answered 404 for ${p}`);

const failures = [...results.flatMap((r) => r.failures.map((f) => `${r.page}: ${f}`)), ...globalFailures];
console.log('');
if (failures.length) {
  console.log('FAILURES:');
  for (const f of failures) console.log(`  - ${f}`);
}
const nWarn = results.reduce((n, r) => n + r.warnings.length, 0);
if (nWarn) console.log(`(${nWarn} warning(s) above; warnings do not fail the check)`);
console.log(`browser check: ${results.length} pages, ${failures.length} failures (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
process.exit(failures.length ? 1 : 0);
