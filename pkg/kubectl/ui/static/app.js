// The gitgate pipeline page. Every request goes to this page's own server
// (relative URLs under k8s/), which forwards it to the cluster with the
// user's credentials. Updates arrive through Kubernetes watches, streamed.
'use strict';

const GROUP = '/apis/gitgate.dev/v1alpha1';
const PAGE = 50; // promotions per page
const state = {
  ns: '', user: '',
  envs: new Map(),
  promos: new Map(), promoOrder: [], cont: '',
  access: new Map(), // environment name -> {allowed, reason} for promote
  canCreate: null,   // {allowed, reason} for creating promotions
  live: {environments: false, promotions: false},
};

// --- small helpers ---------------------------------------------------------

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

const short = (sha) => (sha || '').replace(/^.*sha1:/, '').slice(0, 7);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function ago(ts) {
  if (!ts) return '';
  const s = Math.max(0, (Date.now() - Date.parse(ts)) / 1000);
  if (s < 60) return Math.floor(s) + 's ago';
  if (s < 3600) return Math.floor(s / 60) + 'm ago';
  if (s < 86400) return Math.floor(s / 3600) + 'h ago';
  return Math.floor(s / 86400) + 'd ago';
}

function timeEl(ts) {
  return ts ? el('time', {datetime: ts, title: ts}, ago(ts)) : '';
}

function condition(obj, type) {
  return ((obj.status && obj.status.conditions) || []).find((c) => c.type === type);
}

// kubectl's own rendering of an error from the server.
function errorText(e) {
  return e.reason ? `Error from server (${e.reason}): ${e.message}` : e.message;
}

async function api(method, path, body) {
  const init = {method, credentials: 'same-origin', headers: {}};
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch('k8s' + path, init);
  const text = await res.text();
  let obj = null;
  try { obj = JSON.parse(text); } catch (_) { /* not JSON */ }
  if (!res.ok) {
    const e = new Error(obj && obj.message ? obj.message : `${res.status} ${res.statusText}: ${text}`);
    e.status = res.status;
    e.reason = obj && obj.reason;
    throw e;
  }
  return obj;
}

function showError(message) {
  const box = document.getElementById('error');
  box.textContent = message;
  box.hidden = !message;
}

function showNotice(message) {
  const box = document.getElementById('notice');
  box.textContent = message;
  box.hidden = !message;
}

// --- watches ---------------------------------------------------------------

// follow lists with relist(), then watches resource from the list's
// resourceVersion, handing every event to onEvent; it lists again when the
// server says the version is gone (410) and reconnects after errors.
async function follow(resource, relist, onEvent) {
  let rv = '';
  for (;;) {
    try {
      if (!rv) rv = await relist();
      const res = await fetch(`k8s${GROUP}/namespaces/${state.ns}/${resource}?watch=1&allowWatchBookmarks=true&resourceVersion=${encodeURIComponent(rv)}`,
        {credentials: 'same-origin'});
      if (!res.ok) {
        const text = await res.text();
        let msg = text;
        try { msg = JSON.parse(text).message; } catch (_) { /* keep the text */ }
        throw new Error(`watching ${resource}: ${res.status}: ${msg}`);
      }
      setLive(resource, true);
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buf = '';
      for (;;) {
        const {value, done} = await reader.read();
        if (done) break;
        buf += decoder.decode(value, {stream: true});
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i).trim();
          buf = buf.slice(i + 1);
          if (!line) continue;
          const ev = JSON.parse(line);
          if (ev.type === 'ERROR') {
            rv = ''; // 410 Gone or another error: list again
            throw new Error(`watching ${resource}: ${ev.object && ev.object.message}`);
          }
          if (ev.object && ev.object.metadata && ev.object.metadata.resourceVersion) rv = ev.object.metadata.resourceVersion;
          if (ev.type !== 'BOOKMARK') onEvent(ev);
        }
      }
    } catch (e) {
      setLive(resource, false, e.message);
      await sleep(1000);
    }
  }
}

function setLive(resource, ok, why) {
  state.live[resource] = ok;
  const live = document.getElementById('live');
  const all = Object.values(state.live).every(Boolean);
  live.textContent = all ? 'Live: following changes as they happen.' : `Reconnecting… ${why || ''}`;
  live.className = all ? 'live ok' : 'live';
}

// --- environments ----------------------------------------------------------

async function listEnvironments() {
  const list = await api('GET', `${GROUP}/namespaces/${state.ns}/environments`);
  state.envs = new Map(list.items.map((e) => [e.metadata.name, e]));
  scheduleRender('pipeline');
  checkAccess();
  return list.metadata.resourceVersion;
}

function onEnvironment(ev) {
  const name = ev.object.metadata.name;
  if (ev.type === 'DELETED') state.envs.delete(name);
  else state.envs.set(name, ev.object);
  scheduleRender('pipeline');
  if (!state.access.has(name)) checkAccess();
}

// stages puts each environment in the column of its distance from the
// start of its pipeline (an environment that promotes from nothing known).
function stages() {
  const depth = new Map();
  const of = (name, seen) => {
    if (depth.has(name)) return depth.get(name);
    const env = state.envs.get(name);
    const from = env && env.spec.promotesFrom;
    const d = from && state.envs.has(from) && !seen.has(from) ? of(from, seen.add(name)) + 1 : 0;
    depth.set(name, d);
    return d;
  };
  const columns = [];
  for (const name of [...state.envs.keys()].sort()) {
    const d = of(name, new Set());
    (columns[d] = columns[d] || []).push(state.envs.get(name));
  }
  return columns.filter(Boolean);
}

// scheduleRender draws what changed (the pipeline, the promotions or both)
// once per frame, however many events arrived in between.
const dirty = {pipeline: false, promotions: false};
let renderQueued = false;
function scheduleRender(what) {
  if (what) dirty[what] = true;
  else dirty.pipeline = dirty.promotions = true;
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    if (dirty.pipeline) renderPipeline();
    if (dirty.promotions) renderPromotions();
    dirty.pipeline = dirty.promotions = false;
  });
}

let layout = ''; // the pipeline's shape when last drawn: stages and names
function renderPipeline() {
  const root = document.getElementById('pipeline');
  document.getElementById('pipeline-empty').hidden = state.envs.size > 0;
  for (const name of cards.keys()) if (!state.envs.has(name)) cards.delete(name);
  const columns = stages();
  const shape = columns.map((c) => c.map((e) => e.metadata.name).join(',')).join('|');
  if (shape === layout) { // same shape: swap only the cards that changed
    for (const column of columns) {
      for (const env of column) {
        const before = cards.get(env.metadata.name).node;
        const after = cachedCard(env);
        if (after !== before) before.replaceWith(after);
      }
    }
    return;
  }
  layout = shape;
  const focused = document.activeElement && document.activeElement.id;
  root.replaceChildren(...columns.map((column, i) =>
    el('ol', {class: 'stage', 'aria-label': `Stage ${i + 1}`}, column.map((env) => el('li', {}, cachedCard(env))))));
  if (focused) {
    const again = document.getElementById(focused);
    if (again) again.focus();
  }
}

// cachedCard draws an environment's card again only when the environment
// or what the user may do with it changed.
const cards = new Map();
function cachedCard(env) {
  const name = env.metadata.name;
  const key = [env, state.access.get(name), state.canCreate];
  const c = cards.get(name);
  if (c && c.key.every((k, i) => k === key[i])) return c.node;
  const node = envCard(env);
  cards.set(name, {key, node});
  return node;
}

function envCard(env) {
  const name = env.metadata.name;
  const spec = env.spec || {};
  const st = env.status || {};
  const ready = condition(env, 'Ready');
  const drift = condition(env, 'Drift');
  const frozen = (spec.freeze && spec.freeze.frozen) || (condition(env, 'Frozen') || {}).status === 'True';
  const badges = [
    el('span', {class: 'badge'}, spec.strategy || 'Images'),
    spec.review && el('span', {class: 'badge gate', title: 'Promotions land on a review branch and wait for a merge'}, 'review gate'),
    spec.approvals && spec.approvals.required && el('span', {class: 'badge gate'}, `needs ${spec.approvals.required} approval${spec.approvals.required > 1 ? 's' : ''}`),
    frozen && el('span', {class: 'badge frozen'}, 'frozen'),
    drift && drift.status === 'True' && el('span', {class: 'badge drift'}, 'drift'),
  ];
  const pending = (st.upstream && st.upstream.pending) || [];
  const sync = st.sync;
  const access = state.access.get(name);
  const promote = actionButton(`promote-${name}`, spec.promotesFrom ? `Promote from ${spec.promotesFrom}…` : 'Promote…',
    spec.promotesFrom ? access : {allowed: false, reason: `${name} has no upstream (spec.promotesFrom)`},
    () => openPromote({environment: name, from: spec.promotesFrom}));
  const history = el('button', {type: 'button', id: `history-${name}`, onclick: () => openHistory(name)}, 'History and rollback…');
  return el('article', {class: 'env' + (frozen ? ' is-frozen' : '') + (drift && drift.status === 'True' ? ' has-drift' : ''), id: `env-${name}`, 'aria-labelledby': `env-${name}-title`},
    el('h3', {id: `env-${name}-title`}, name),
    spec.promotesFrom && el('p', {class: 'from'}, el('span', {'aria-hidden': 'true'}, '← '), `from ${spec.promotesFrom}`),
    el('p', {class: 'badges'}, badges),
    el('dl', {},
      el('dt', {}, 'Path'), el('dd', {}, el('code', {}, spec.path), spec.branch ? ` on ${spec.branch}` : ''),
      el('dt', {}, 'Revision'), el('dd', {}, el('code', {title: st.revision || ''}, short(st.revision) || '—')),
      el('dt', {}, 'Images'), el('dd', {}, (st.images || []).length
        ? el('ul', {class: 'images'}, st.images.map((i) => el('li', {}, el('span', {class: 'image-name'}, i.name), ' ', el('code', {title: i.image}, i.tag || i.digest || i.image))))
        : 'none'),
      el('dt', {}, 'Flux'), el('dd', {id: `sync-${name}`}, syncText(sync)),
      el('dt', {}, 'Drift'), el('dd', {id: `drift-${name}`, class: drift && drift.status === 'True' ? 'warn' : ''},
        drift ? (drift.status === 'True' ? drift.message : 'none') : 'none reported'),
      el('dt', {}, 'Pending'), el('dd', {id: `pending-${name}`}, spec.promotesFrom
        ? (pending.length ? el('ul', {}, pending.map((c) => el('li', {}, `${c.name}: ${c.from || '∅'} → ${c.to}`))) : `in step with ${spec.promotesFrom}`)
        : '—'),
      st.lastPromotion && el('dt', {}, 'Last promotion'),
      st.lastPromotion && el('dd', {}, `${st.lastPromotion.name} by ${st.lastPromotion.promotedBy || '?'} `, timeEl(st.lastPromotion.time)),
      ready && ready.status !== 'True' && el('dt', {}, 'Not ready'),
      ready && ready.status !== 'True' && el('dd', {class: 'warn'}, ready.message),
    ),
    el('div', {class: 'actions'}, promote, history),
  );
}

function syncText(sync) {
  if (!sync) return 'no Flux Kustomization';
  const parts = [sync.ready ? 'applied' : 'not ready'];
  if (sync.appliedRevision) parts.push(short(sync.appliedRevision));
  parts.push(sync.upToDate ? 'up to date' : 'behind Git');
  const text = parts.join(', ');
  return sync.message && !sync.ready ? `${text}: ${sync.message}` : text;
}

// actionButton is a button enabled only when access allows it; otherwise it
// is disabled and described by the reason.
function actionButton(id, label, access, onclick) {
  const reasonId = `${id}-reason`;
  let reason = '';
  if (!access) reason = 'Checking your permissions…';
  else if (!access.allowed) reason = access.reason;
  else if (state.canCreate && !state.canCreate.allowed) reason = state.canCreate.reason;
  const button = el('button', {type: 'button', id, disabled: !!reason, 'aria-describedby': reason ? reasonId : undefined, onclick}, label);
  return el('span', {class: 'action'}, button, reason && el('span', {class: 'reason', id: reasonId}, reason));
}

// --- permissions -----------------------------------------------------------

// checkAccess asks the local server what the user may do with every
// environment not asked about yet: it makes the SelfSubjectAccessReviews
// (verb promote on each environment by name, create on promotions) with
// the user's credentials, concurrently, in one request from the page.
let checking = false;
async function checkAccess() {
  if (checking) return;
  checking = true;
  const who = state.user ? `${state.user} may not` : 'You may not';
  const why = (d) => (d.reason ? ` (${d.reason})` : '');
  const names = [...state.envs.keys()].filter((n) => !state.access.has(n));
  try {
    const res = await fetch('access', {method: 'POST', credentials: 'same-origin',
      headers: {'Content-Type': 'application/json'}, body: JSON.stringify({environments: names})});
    const a = await res.json();
    if (!res.ok) throw Object.assign(new Error(a.message), {reason: a.reason});
    state.canCreate = {allowed: a.create.allowed, reason: a.create.failed
      ? `Your permissions could not be checked: ${a.create.reason}`
      : `${who} create promotions: it needs the verb "create" on promotions.gitgate.dev in namespace ${state.ns}${why(a.create)}`};
    for (const name of names) {
      const d = a.promote[name];
      state.access.set(name, {allowed: d.allowed, reason: d.failed
        ? `Your permissions could not be checked: ${d.reason}`
        : `${who} promote into ${name}: it needs the verb "promote" on environments.gitgate.dev named "${name}" in namespace ${state.ns}${why(d)}`});
    }
  } catch (e) {
    showError(`Checking your permissions failed: ${errorText(e)}`);
    for (const name of names) state.access.set(name, {allowed: false, reason: 'Your permissions could not be checked'});
  } finally {
    checking = false;
    scheduleRender('pipeline');
  }
  // Environments that arrived while this check ran.
  if ([...state.envs.keys()].some((n) => !state.access.has(n))) checkAccess();
}

// --- promotions ------------------------------------------------------------

async function listPromotions() {
  const list = await api('GET', `${GROUP}/namespaces/${state.ns}/promotions?limit=${PAGE}`);
  state.promos = new Map(list.items.map((p) => [p.metadata.name, p]));
  state.promoOrder = list.items.map((p) => p.metadata.name);
  state.cont = list.metadata.continue || '';
  scheduleRender('promotions');
  return list.metadata.resourceVersion;
}

async function loadOlder() {
  const more = document.getElementById('more');
  more.disabled = true;
  try {
    const list = await api('GET', `${GROUP}/namespaces/${state.ns}/promotions?limit=${PAGE}&continue=${encodeURIComponent(state.cont)}`);
    for (const p of list.items) {
      if (!state.promos.has(p.metadata.name)) state.promoOrder.push(p.metadata.name);
      state.promos.set(p.metadata.name, p);
    }
    state.cont = list.metadata.continue || '';
    scheduleRender('promotions');
  } catch (e) {
    showError(`Loading older promotions failed: ${errorText(e)}`);
  } finally {
    more.disabled = false;
  }
}

function onPromotion(ev) {
  const name = ev.object.metadata.name;
  if (!state.promos.has(name)) state.promoOrder.unshift(name); // new ones are the newest
  state.promos.set(name, ev.object);
  scheduleRender('promotions');
}

function conditionCell(p, type) {
  const c = condition(p, type);
  if (!c) return el('td', {}, '—');
  const mark = c.status === 'True' ? '✓ ' : c.status === 'False' ? '✗ ' : '… ';
  return el('td', {class: c.status === 'False' ? 'warn' : '', title: c.message || ''}, mark + (c.reason || c.status));
}

function renderPromotions() {
  const body = document.querySelector('#promotions tbody');
  body.replaceChildren(...state.promoOrder.map((name) => {
    const p = state.promos.get(name);
    const c = rows.get(name);
    if (c && c.p === p) return c.node;
    const node = promotionRow(name, p);
    rows.set(name, {p, node});
    return node;
  }));
  if (!state.promoOrder.length) body.append(el('tr', {}, el('td', {colspan: 10}, 'No promotions yet.')));
  const more = document.getElementById('more');
  more.hidden = !state.cont;
}

// rows holds each promotion's drawn row, drawn again only when it changed.
const rows = new Map();
function promotionRow(name, p) {
  const st = p.status || {};
  const changes = (st.changes || []).map((c) => `${c.name}: ${c.from || '∅'} → ${c.to}`).join(', ');
  const approvals = st.approvals && st.approvals.length ? ` (${st.approvals.length} approval${st.approvals.length > 1 ? 's' : ''})` : '';
  return el('tr', {id: `promo-${name}`},
    el('th', {scope: 'row'}, name),
    el('td', {}, p.spec.environment),
    el('td', {}, p.spec.from === p.spec.environment ? `${p.spec.from} (rollback)` : (p.spec.from || '')),
    el('td', {class: 'phase'}, (st.phase || '') + approvals),
    el('td', {}, changes),
    el('td', {}, st.promotedBy || ''),
    el('td', {}, timeEl(st.time)),
    conditionCell(p, 'Applied'),
    conditionCell(p, 'Healthy'),
    el('td', {}, el('code', {title: st.commit || ''}, short(st.commit))));
}

// --- promote and roll back -------------------------------------------------

let pending = null; // the spec the preview dialog would create

function promotionBody(spec, dryRun) {
  const generateName = spec.from === spec.environment ? `${spec.environment}-rollback-` : `${spec.environment}-`;
  return {apiVersion: 'gitgate.dev/v1alpha1', kind: 'Promotion', metadata: {generateName}, spec};
}

async function openPromote(spec) {
  pending = spec;
  const dialog = document.getElementById('preview');
  const title = spec.from === spec.environment
    ? `Roll ${spec.environment} back to ${short(spec.revision)}`
    : `Promote ${spec.from || 'upstream'} → ${spec.environment}`;
  document.getElementById('preview-title').textContent = title;
  document.getElementById('preview-summary').textContent = 'Planning the promotion (dry run)…';
  document.getElementById('preview-changes').hidden = true;
  document.querySelector('#preview-changes tbody').replaceChildren();
  document.getElementById('preview-error').hidden = true;
  document.getElementById('preview-message').value = '';
  const confirm = document.getElementById('preview-confirm');
  confirm.disabled = true;
  confirm.textContent = spec.from === spec.environment ? 'Roll back' : 'Promote';
  if (!dialog.open) dialog.showModal();
  try {
    const planned = await api('POST', `${GROUP}/namespaces/${state.ns}/promotions?dryRun=All`, promotionBody(spec));
    if (pending !== spec) return;
    const changes = (planned.status && planned.status.changes) || [];
    document.getElementById('preview-summary').textContent = changes.length
      ? `Dry run: this commits ${changes.length} change${changes.length > 1 ? 's' : ''} into ${spec.environment}${planned.status.branch ? ' on branch ' + planned.status.branch : ''}.`
      : 'Dry run: nothing to change.';
    document.querySelector('#preview-changes tbody').replaceChildren(...changes.map((c) =>
      el('tr', {}, el('th', {scope: 'row'}, c.name), el('td', {}, el('code', {}, c.from || '∅')), el('td', {}, el('code', {}, c.to)))));
    document.getElementById('preview-changes').hidden = !changes.length;
    confirm.disabled = false;
    confirm.focus();
  } catch (e) {
    if (pending !== spec) return;
    document.getElementById('preview-summary').textContent = 'The dry run was refused:';
    previewError(errorText(e));
  }
}

function previewError(text) {
  const box = document.getElementById('preview-error');
  box.textContent = text;
  box.hidden = false;
}

async function confirmPromote() {
  const spec = {...pending};
  const message = document.getElementById('preview-message').value.trim();
  if (message) spec.message = message;
  const confirm = document.getElementById('preview-confirm');
  confirm.disabled = true;
  try {
    const created = await api('POST', `${GROUP}/namespaces/${state.ns}/promotions`, promotionBody(spec));
    pending = null;
    document.getElementById('preview').close();
    showNotice(`promotion.gitgate.dev/${created.metadata.name} created (${created.status.phase}, commit ${short(created.status.commit)})`);
    onPromotion({type: 'ADDED', object: created});
  } catch (e) {
    previewError(errorText(e));
  }
}

async function openHistory(name) {
  const dialog = document.getElementById('history');
  document.getElementById('history-title').textContent = `History of ${name}`;
  const status = document.getElementById('history-status');
  status.textContent = 'Loading…';
  const body = document.querySelector('#history-entries tbody');
  body.replaceChildren();
  dialog.showModal();
  try {
    const h = await api('GET', `${GROUP}/namespaces/${state.ns}/environments/${name}/history`);
    const entries = h.entries || [];
    status.textContent = `${entries.length} commit${entries.length === 1 ? '' : 's'} changed ${name}, newest first.`;
    body.replaceChildren(...entries.map((e, i) => el('tr', {},
      el('th', {scope: 'row'}, el('code', {title: e.commit}, short(e.commit))),
      el('td', {}, timeEl(e.time)),
      el('td', {}, e.promotedBy || e.author || ''),
      el('td', {}, e.subject || ''),
      el('td', {}, i === 0 ? 'current' : actionButton(`rollback-${name}-${short(e.commit)}`, 'Roll back to this', state.access.get(name), () => {
        dialog.close();
        openPromote({environment: name, from: name, revision: e.commit});
      })))));
  } catch (e) {
    status.textContent = errorText(e);
  }
}

// --- start -----------------------------------------------------------------

async function start() {
  document.getElementById('more').addEventListener('click', loadOlder);
  document.getElementById('preview-confirm').addEventListener('click', confirmPromote);
  document.getElementById('preview-cancel').addEventListener('click', () => { pending = null; document.getElementById('preview').close(); });
  document.getElementById('history-close').addEventListener('click', () => document.getElementById('history').close());
  const config = await (await fetch('config', {credentials: 'same-origin'})).json();
  state.ns = config.namespace;
  document.getElementById('namespace').textContent = `— namespace ${state.ns}`;
  document.title = `gitgate pipeline — ${state.ns}`;
  try {
    const r = await api('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', {apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview'});
    state.user = r.status.userInfo.username;
    document.getElementById('whoami').textContent = `Acting as ${state.user}`;
  } catch (e) {
    document.getElementById('whoami').textContent = 'Acting with your kubeconfig credentials';
  }
  follow('environments', listEnvironments, onEnvironment);
  follow('promotions', listPromotions, onPromotion);
  setInterval(() => document.querySelectorAll('time[datetime]').forEach((t) => { t.textContent = ago(t.getAttribute('datetime')); }), 30000);
}

start().catch((e) => showError(`The page could not start: ${errorText(e)}`));
