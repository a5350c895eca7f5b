// The gitgate pipeline page. Every request goes to this page's own server
// (relative URLs under k8s/), which forwards it to the cluster with the
// user's credentials. Updates arrive through Kubernetes watches, streamed.
'use strict';

const GROUP = '/apis/gitgate.dev/v1alpha1';
const PAGE = 50; // promotions per page
const state = {
  ns: '',          // the namespace shown; '' for every namespace (with -A)
  home: '',        // the namespace the server was started for
  allNs: false,    // kubectl gitgate ui --all-namespaces
  user: '',
  envs: new Map(), // "ns/name" -> Environment
  promos: new Map(), promoOrder: [], cont: '', // "ns/name" -> Promotion, newest first
  access: new Map(), // "ns/name" -> {promote, approve}: {allowed, reason} each
  nsAccess: new Map(), // ns -> {create, approval}: creating promotions, approvals
  notes: new Map(),  // "ns/name" of a promotion -> the last decision's answer
  live: {environments: false, promotions: false},
};

// Objects are keyed by namespace and name; element ids carry the name
// alone in one namespace (as before) and ns_name with --all-namespaces
// (a name never contains "_").
const nsOf = (obj) => obj.metadata.namespace || state.home;
const keyOf = (obj) => `${nsOf(obj)}/${obj.metadata.name}`;
const idFor = (ns, name) => (state.allNs ? `${ns}_${name}` : name);
// The API path of a namespace's collection, or of every namespace's.
const collection = (resource, ns) => (ns ? `${GROUP}/namespaces/${ns}/${resource}` : `${GROUP}/${resource}`);

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
      const res = await fetch(`k8s${collection(resource, state.allNs ? '' : state.home)}?watch=1&allowWatchBookmarks=true&resourceVersion=${encodeURIComponent(rv)}`,
        {credentials: 'same-origin'});
      if (!res.ok) {
        const text = await res.text();
        let msg = text;
        try { msg = JSON.parse(text).message; } catch (_) { /* keep the text */ }
        const err = new Error(`watching ${resource}: ${res.status}: ${msg}`);
        err.status = res.status; // a 403 waits like a refused list, not a second
        throw err;
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
      if (e.status === 403) {
        // Not the user's to list (e.g. every namespace with -A): shown as
        // it came, and asked again now and then (RBAC may change).
        showError(`Listing ${resource}: ${errorText(e)}`);
        await sleep(30000);
      } else await sleep(1000);
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
  const list = await api('GET', collection('environments', state.allNs ? '' : state.home));
  state.envs = new Map(list.items.map((e) => [keyOf(e), e]));
  scheduleRender('pipeline');
  updateNamespaces();
  checkAccess();
  return list.metadata.resourceVersion;
}

function onEnvironment(ev) {
  const key = keyOf(ev.object);
  if (ev.type === 'DELETED') state.envs.delete(key);
  else state.envs.set(key, ev.object);
  scheduleRender('pipeline');
  updateNamespaces();
  if (!state.access.has(key)) checkAccess();
}

// updateNamespaces lists, with --all-namespaces, the namespaces whose
// environments the user may see in the namespace switcher.
function updateNamespaces() {
  if (!state.allNs) return;
  const select = document.getElementById('ns-filter');
  const names = [...new Set([...state.envs.values()].map(nsOf))].sort();
  if (names.join(',') === select.dataset.names) return;
  select.dataset.names = names.join(',');
  select.replaceChildren(el('option', {value: ''}, `All namespaces (${names.length})`),
    ...names.map((n) => el('option', {value: n, selected: n === state.ns}, n)));
}

// shown reports whether the namespace switcher shows namespace ns.
const shown = (ns) => !state.ns || ns === state.ns;

// stages puts each environment of namespace ns in the column of its
// distance from the start of its pipeline (an environment that promotes
// from nothing known).
function stages(ns) {
  const depth = new Map();
  const of = (name, seen) => {
    if (depth.has(name)) return depth.get(name);
    const env = state.envs.get(`${ns}/${name}`);
    const from = env && env.spec.promotesFrom;
    const d = from && state.envs.has(`${ns}/${from}`) && !seen.has(from) ? of(from, seen.add(name)) + 1 : 0;
    depth.set(name, d);
    return d;
  };
  const columns = [];
  const names = [...state.envs.values()].filter((e) => nsOf(e) === ns).map((e) => e.metadata.name).sort();
  for (const name of names) {
    const d = of(name, new Set());
    (columns[d] = columns[d] || []).push(state.envs.get(`${ns}/${name}`));
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
  for (const key of cards.keys()) if (!state.envs.has(key)) cards.delete(key);
  const namespaces = [...new Set([...state.envs.values()].map(nsOf))].filter(shown).sort();
  document.getElementById('pipeline-empty').hidden = namespaces.length > 0;
  const byNs = namespaces.map((ns) => [ns, stages(ns)]);
  const shape = state.ns + '#' + byNs.map(([ns, columns]) => ns + ':' + columns.map((c) => c.map((e) => e.metadata.name).join(',')).join('|')).join(';');
  if (shape === layout) { // same shape: swap only the cards that changed
    for (const [, columns] of byNs) {
      for (const column of columns) {
        for (const env of column) {
          const before = cards.get(keyOf(env)).node;
          const after = cachedCard(env);
          if (after !== before) before.replaceWith(after);
        }
      }
    }
    return;
  }
  layout = shape;
  if (state.envs.size && !performance.getEntriesByName('gitgate:pipeline-drawn').length) {
    requestAnimationFrame(() => performance.mark('gitgate:pipeline-drawn')); // for the benchmark: after this frame
  }
  const focused = document.activeElement && document.activeElement.id;
  const draw = (columns) => columns.map((column, i) =>
    el('ol', {class: 'stage', 'aria-label': `Stage ${i + 1}`}, column.map((env) => el('li', {}, cachedCard(env)))));
  if (!state.allNs) root.replaceChildren(...draw(byNs.length ? byNs[0][1] : []));
  else {
    root.replaceChildren(...byNs.map(([ns, columns]) => el('section', {class: 'ns', id: `ns-${ns}`, 'aria-labelledby': `ns-${ns}-title`},
      el('h3', {id: `ns-${ns}-title`}, `namespace ${ns}`),
      el('div', {class: 'pipeline'}, draw(columns)))));
  }
  if (focused) {
    const again = document.getElementById(focused);
    if (again) again.focus();
  }
}

// cachedCard draws an environment's card again only when the environment
// changed, and only its buttons when what the user may do with it changed
// (the permission answers arrive after the first draw).
const cards = new Map();
function cachedCard(env) {
  const k = keyOf(env);
  const key = [env, state.access.get(k), state.nsAccess.get(nsOf(env)), state.user];
  const c = cards.get(k);
  if (c && c.key[0] === env) {
    if (!c.key.every((x, i) => x === key[i])) {
      const actions = envActions(env);
      c.actions.replaceWith(actions);
      Object.assign(c, {key, actions});
    }
    return c.node;
  }
  const actions = envActions(env);
  const node = envCard(env, actions);
  cards.set(k, {key, node, actions});
  return node;
}

// envActions is a card's buttons: promote, and history (with rollback).
function envActions(env) {
  const ns = nsOf(env);
  const name = env.metadata.name;
  const id = idFor(ns, name);
  const spec = env.spec || {};
  const access = state.access.get(`${ns}/${name}`);
  const nsAccess = state.nsAccess.get(ns);
  const promote = actionButton(`promote-${id}`, spec.promotesFrom ? `Promote from ${spec.promotesFrom}…` : 'Promote…',
    spec.promotesFrom ? [access && access.promote, nsAccess && nsAccess.create] : [{allowed: false, reason: `${name} has no upstream (spec.promotesFrom)`}],
    () => openPromote(ns, {environment: name, from: spec.promotesFrom}));
  const history = el('button', {type: 'button', id: `history-${id}`, onclick: () => openHistory(ns, name)}, 'History and rollback…');
  return el('div', {class: 'actions'}, promote, history);
}

function envCard(env, actions) {
  const ns = nsOf(env);
  const name = env.metadata.name;
  const id = idFor(ns, name);
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
  return el('article', {class: 'env' + (frozen ? ' is-frozen' : '') + (drift && drift.status === 'True' ? ' has-drift' : ''), id: `env-${id}`, 'aria-labelledby': `env-${id}-title`},
    el(state.allNs ? 'h4' : 'h3', {id: `env-${id}-title`}, name),
    spec.promotesFrom && el('p', {class: 'from'}, el('span', {'aria-hidden': 'true'}, '← '), `from ${spec.promotesFrom}`),
    el('p', {class: 'badges'}, badges),
    el('dl', {},
      el('dt', {}, 'Path'), el('dd', {}, el('code', {}, spec.path), spec.branch ? ` on ${spec.branch}` : ''),
      el('dt', {}, 'Revision'), el('dd', {}, el('code', {title: st.revision || ''}, short(st.revision) || '—')),
      el('dt', {}, 'Images'), el('dd', {}, (st.images || []).length
        ? el('ul', {class: 'images'}, st.images.map((i) => el('li', {}, el('span', {class: 'image-name'}, i.name), ' ', el('code', {title: i.image}, i.tag || i.digest || i.image))))
        : 'none'),
      el('dt', {}, 'Flux'), el('dd', {id: `sync-${id}`}, syncText(sync)),
      el('dt', {}, 'Freeze'), el('dd', {id: `freeze-${id}`, class: frozen ? 'warn' : ''},
        frozen ? ((st.freeze && st.freeze.reason) || (condition(env, 'Frozen') || {}).message || 'frozen') : 'open'),
      el('dt', {}, 'Drift'), el('dd', {id: `drift-${id}`, class: drift && drift.status === 'True' ? 'warn' : ''},
        drift ? (drift.status === 'True' ? drift.message : 'none') : 'none reported'),
      el('dt', {}, 'Pending'), el('dd', {id: `pending-${id}`}, spec.promotesFrom
        ? (pending.length ? el('ul', {}, pending.map((c) => el('li', {}, `${c.name}: ${c.from || '∅'} → ${c.to}`))) : `in step with ${spec.promotesFrom}`)
        : '—'),
      st.lastPromotion && el('dt', {}, 'Last promotion'),
      st.lastPromotion && el('dd', {}, `${st.lastPromotion.name} by ${st.lastPromotion.promotedBy || '?'} `, timeEl(st.lastPromotion.time)),
      ready && ready.status !== 'True' && el('dt', {}, 'Not ready'),
      ready && ready.status !== 'True' && el('dd', {class: 'warn'}, ready.message),
    ),
    actions,
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

// actionButton is a button enabled only when every one of checks allows
// it; otherwise it is disabled and described by the reasons (a check not
// answered yet: "Checking your permissions…").
function actionButton(id, label, checks, onclick) {
  const reasonId = `${id}-reason`;
  let reason = '';
  if (checks.some((c) => !c)) reason = 'Checking your permissions…';
  else reason = checks.filter((c) => !c.allowed).map((c) => c.reason).join(' ');
  if (state.user) reason = reason.replaceAll('You may not', `${state.user} may not`);
  const button = el('button', {type: 'button', id, disabled: !!reason, 'aria-describedby': reason ? reasonId : undefined, onclick}, label);
  return el('span', {class: 'action'}, button, reason && el('span', {class: 'reason', id: reasonId}, reason));
}

// --- permissions -----------------------------------------------------------

// checkAccess asks the local server what the user may do with every
// environment not asked about yet, one request per namespace: the server
// reads the user's rules in the namespace once (SelfSubjectRulesReview)
// and falls back to SelfSubjectAccessReviews only where the rules are
// incomplete. It asks about the verbs promote and approve on each
// environment by name, and create on promotions and promotions/approval.
let checking = false;
async function checkAccess() {
  if (checking) return;
  checking = true;
  // "You may not" becomes the user's name when drawn (see actionButton).
  const why = (d) => (d.reason ? ` (${d.reason})` : '');
  const explain = (d, what) => ({allowed: d.allowed, reason: d.failed
    ? `Your permissions could not be checked: ${d.reason}` : `You may not ${what}${why(d)}`});
  const byNs = new Map();
  for (const env of state.envs.values()) {
    if (state.access.has(keyOf(env))) continue;
    const ns = nsOf(env);
    if (!byNs.has(ns)) byNs.set(ns, []);
    byNs.get(ns).push(env.metadata.name);
  }
  await Promise.all([...byNs].map(async ([ns, names]) => {
    try {
      const res = await fetch('access', {method: 'POST', credentials: 'same-origin',
        headers: {'Content-Type': 'application/json'}, body: JSON.stringify({namespace: ns, environments: names})});
      const a = await res.json();
      if (!res.ok) throw Object.assign(new Error(a.message), {reason: a.reason});
      state.nsAccess.set(ns, {
        create: explain(a.create, `create promotions: it needs the verb "create" on promotions.gitgate.dev in namespace ${ns}`),
        approval: explain(a.approval, `approve or reject promotions: it needs the verb "create" on promotions.gitgate.dev/approval in namespace ${ns}`),
      });
      for (const name of names) {
        state.access.set(`${ns}/${name}`, {
          promote: explain(a.promote[name], `promote into ${name}: it needs the verb "promote" on environments.gitgate.dev named "${name}" in namespace ${ns}`),
          approve: explain(a.approve[name], `approve promotions into ${name}: it needs the verb "approve" on environments.gitgate.dev named "${name}" in namespace ${ns}`),
        });
      }
    } catch (e) {
      showError(`Checking your permissions failed: ${errorText(e)}`);
      const no = {allowed: false, reason: 'Your permissions could not be checked'};
      state.nsAccess.set(ns, {create: no, approval: no});
      for (const name of names) state.access.set(`${ns}/${name}`, {promote: no, approve: no});
    }
  }));
  checking = false;
  scheduleRender();
  // Environments that arrived while this check ran.
  if ([...state.envs.values()].some((e) => !state.access.has(keyOf(e)))) checkAccess();
}

// --- promotions ------------------------------------------------------------

const promotionsPath = () => collection('promotions', state.allNs ? '' : state.home);

async function listPromotions() {
  const list = await api('GET', `${promotionsPath()}?limit=${PAGE}`);
  state.promos = new Map(list.items.map((p) => [keyOf(p), p]));
  state.promoOrder = list.items.map(keyOf);
  state.cont = list.metadata.continue || '';
  scheduleRender('promotions');
  return list.metadata.resourceVersion;
}

async function loadOlder() {
  const more = document.getElementById('more');
  more.disabled = true;
  try {
    const list = await api('GET', `${promotionsPath()}?limit=${PAGE}&continue=${encodeURIComponent(state.cont)}`);
    for (const p of list.items) {
      if (!state.promos.has(keyOf(p))) state.promoOrder.push(keyOf(p));
      state.promos.set(keyOf(p), p);
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
  const key = keyOf(ev.object);
  if (ev.type === 'DELETED') {
    state.promos.delete(key);
    state.promoOrder = state.promoOrder.filter((k) => k !== key);
  } else {
    if (!state.promos.has(key)) state.promoOrder.unshift(key); // new ones are the newest
    state.promos.set(key, ev.object);
  }
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
  const keys = state.promoOrder.filter((k) => shown(k.slice(0, k.indexOf('/'))));
  body.replaceChildren(...keys.map((key) => {
    const p = state.promos.get(key);
    const ns = nsOf(p);
    const deps = [p, state.access.get(`${ns}/${p.spec.environment}`), state.nsAccess.get(ns), state.notes.get(key), state.user];
    const c = rows.get(key);
    if (c && c.deps.every((d, i) => d === deps[i])) return c.node;
    const node = promotionRow(p);
    rows.set(key, {deps, node});
    return node;
  }));
  if (!keys.length) body.append(el('tr', {}, el('td', {colspan: 12}, 'No promotions yet.')));
  const more = document.getElementById('more');
  more.hidden = !state.cont;
}

// rows holds each promotion's drawn row, drawn again only when it, or
// what the user may do with it, changed.
const rows = new Map();
function promotionRow(p) {
  const ns = nsOf(p);
  const name = p.metadata.name;
  const id = idFor(ns, name);
  const st = p.status || {};
  const changes = (st.changes || []).map((c) => `${c.name}: ${c.from || '∅'} → ${c.to}`).join(', ');
  return el('tr', {id: `promo-${id}`},
    el('th', {scope: 'row'}, state.allNs ? `${ns}/${name}` : name),
    el('td', {}, p.spec.environment),
    el('td', {}, p.spec.from === p.spec.environment ? `${p.spec.from} (rollback)` : (p.spec.from || '')),
    el('td', {class: 'phase', id: `phase-${id}`}, st.phase || ''),
    approvalsCell(p, id),
    el('td', {}, changes),
    el('td', {}, st.promotedBy || ''),
    el('td', {}, timeEl(st.time)),
    conditionCell(p, 'Applied'),
    conditionCell(p, 'Healthy'),
    el('td', {}, el('code', {title: st.commit || ''}, short(st.commit))),
    decisionCell(p, id));
}

// approvalsCell shows "approvals n/m" and who approved (or rejected).
function approvalsCell(p, id) {
  const st = p.status || {};
  if (!st.approvalsRequired) return el('td', {id: `approvals-${id}`}, '—');
  const by = (st.approvals || []).map((a) => a.by);
  const rejected = (st.rejections || []).map((r) => r.by);
  const approved = condition(p, 'Approved');
  return el('td', {id: `approvals-${id}`, title: (approved && approved.message) || ''},
    `approvals ${by.length}/${st.approvalsRequired}`,
    by.length ? ` by ${by.join(', ')}` : '',
    rejected.length ? el('span', {class: 'warn'}, `; rejected by ${rejected.join(', ')}`) : '');
}

// decisionCell holds Approve and Reject for a Proposed promotion that
// needs approvals, each enabled only when the user may create
// promotions/approval in the namespace and has the verb approve on the
// target environment; the author may reject (withdraw) but not approve.
function decisionCell(p, id) {
  const st = p.status || {};
  const key = keyOf(p);
  const note = state.notes.get(key);
  const noteEl = note && el('p', {class: note.error ? 'error' : 'notice', id: `decision-${id}-note`, role: note.error ? 'alert' : 'status'}, note.text);
  if (st.phase !== 'Proposed' || !st.approvalsRequired) return el('td', {}, noteEl);
  const ns = nsOf(p);
  const env = p.spec.environment;
  const access = state.access.get(`${ns}/${env}`);
  const nsAccess = state.nsAccess.get(ns);
  const checks = state.envs.has(`${ns}/${env}`)
    ? [nsAccess && nsAccess.approval, access && access.approve]
    : [{allowed: false, reason: `Environment ${env} is not listed in namespace ${ns}.`}];
  const own = state.user && st.promotedBy === state.user &&
    {allowed: false, reason: `${state.user} created this promotion and cannot approve it: approvals must come from other users.`};
  return el('td', {class: 'decide'},
    el('div', {class: 'actions'},
      actionButton(`approve-${id}`, 'Approve…', own ? [...checks, own] : checks, () => openDecision(p, 'approve')),
      actionButton(`reject-${id}`, 'Reject…', checks, () => openDecision(p, 'reject'))),
    noteEl);
}

// --- approve and reject ----------------------------------------------------

let deciding = null; // {promotion, decision} the decision dialog would send

function openDecision(p, decision) {
  deciding = {p, decision};
  const name = p.metadata.name;
  const st = p.status || {};
  document.getElementById('decide-title').textContent = `${decision === 'approve' ? 'Approve' : 'Reject'} promotion ${name}`;
  document.getElementById('decide-summary').textContent =
    `${p.spec.from || 'upstream'} → ${p.spec.environment}, proposed by ${st.promotedBy || '?'}: ${(st.changes || []).map((c) => `${c.name} ${c.from || '∅'} → ${c.to}`).join(', ') || 'no changes listed'}. ` +
    `Approvals ${(st.approvals || []).length}/${st.approvalsRequired}.`;
  document.getElementById('decide-message-label').textContent = decision === 'approve' ? 'Message (optional)' : 'Why reject? (added to the commit)';
  document.getElementById('decide-message').value = '';
  document.getElementById('decide-error').hidden = true;
  const confirm = document.getElementById('decide-confirm');
  confirm.textContent = decision === 'approve' ? 'Approve' : 'Reject';
  confirm.disabled = false;
  const dialog = document.getElementById('decide');
  if (!dialog.open) dialog.showModal();
  document.getElementById('decide-message').focus();
}

// confirmDecision creates promotions/<name>/approval, as
// `kubectl gitgate approve|reject NAME -m MESSAGE` does; a refusal is shown
// as it came, and the promotion's row follows through the watch.
async function confirmDecision() {
  if (!deciding) return;
  const {p, decision} = deciding;
  const ns = nsOf(p);
  const name = p.metadata.name;
  const body = {apiVersion: 'gitgate.dev/v1alpha1', kind: 'Approval', metadata: {name}, spec: {decision}};
  const message = document.getElementById('decide-message').value.trim();
  if (message) body.spec.message = message;
  const confirm = document.getElementById('decide-confirm');
  confirm.disabled = true;
  try {
    const out = await api('POST', `${GROUP}/namespaces/${ns}/promotions/${name}/approval`, body);
    const st = out.status || {};
    deciding = null;
    document.getElementById('decide').close();
    state.notes.set(keyOf(p), {text: `promotion.gitgate.dev/${name} ${decision === 'approve' ? 'approved' : 'rejected'}: ${st.message || ''} (${st.approvals || 0}/${st.required || 0} approvals, ${st.phase || '?'})`});
  } catch (e) {
    const box = document.getElementById('decide-error');
    box.textContent = errorText(e);
    box.hidden = false;
    state.notes.set(keyOf(p), {error: true, text: errorText(e)});
    confirm.disabled = false;
  }
  scheduleRender('promotions');
}

// --- promote and roll back -------------------------------------------------

let pending = null; // {ns, spec} the preview dialog would create

function promotionBody(spec) {
  const generateName = spec.from === spec.environment ? `${spec.environment}-rollback-` : `${spec.environment}-`;
  return {apiVersion: 'gitgate.dev/v1alpha1', kind: 'Promotion', metadata: {generateName}, spec};
}

async function openPromote(ns, spec) {
  const mine = {ns, spec};
  pending = mine;
  const dialog = document.getElementById('preview');
  const title = spec.from === spec.environment
    ? `Roll ${spec.environment} back to ${short(spec.revision)}`
    : `Promote ${spec.from || 'upstream'} → ${spec.environment}`;
  document.getElementById('preview-title').textContent = state.allNs ? `${title} (namespace ${ns})` : title;
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
    const planned = await api('POST', `${GROUP}/namespaces/${ns}/promotions?dryRun=All`, promotionBody(spec));
    if (pending !== mine) return;
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
    if (pending !== mine) return;
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
  const {ns} = pending;
  const spec = {...pending.spec};
  const message = document.getElementById('preview-message').value.trim();
  if (message) spec.message = message;
  const confirm = document.getElementById('preview-confirm');
  confirm.disabled = true;
  try {
    const created = await api('POST', `${GROUP}/namespaces/${ns}/promotions`, promotionBody(spec));
    pending = null;
    document.getElementById('preview').close();
    showNotice(`promotion.gitgate.dev/${created.metadata.name} created (${created.status.phase}, commit ${short(created.status.commit)})`);
    onPromotion({type: 'ADDED', object: created});
  } catch (e) {
    previewError(errorText(e));
  }
}

async function openHistory(ns, name) {
  const dialog = document.getElementById('history');
  document.getElementById('history-title').textContent = `History of ${name}`;
  const status = document.getElementById('history-status');
  status.textContent = 'Loading…';
  const body = document.querySelector('#history-entries tbody');
  body.replaceChildren();
  dialog.showModal();
  try {
    const h = await api('GET', `${GROUP}/namespaces/${ns}/environments/${name}/history`);
    const entries = h.entries || [];
    const access = state.access.get(`${ns}/${name}`);
    const nsAccess = state.nsAccess.get(ns);
    status.textContent = `${entries.length} commit${entries.length === 1 ? '' : 's'} changed ${name}, newest first.`;
    body.replaceChildren(...entries.map((e, i) => el('tr', {},
      el('th', {scope: 'row'}, el('code', {title: e.commit}, short(e.commit))),
      el('td', {}, timeEl(e.time)),
      el('td', {}, e.promotedBy || e.author || ''),
      el('td', {}, e.subject || ''),
      el('td', {}, i === 0 ? 'current' : actionButton(`rollback-${idFor(ns, name)}-${short(e.commit)}`, 'Roll back to this',
        [access && access.promote, nsAccess && nsAccess.create], () => {
          dialog.close();
          openPromote(ns, {environment: name, from: name, revision: e.commit});
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
  document.getElementById('decide-confirm').addEventListener('click', confirmDecision);
  document.getElementById('decide-cancel').addEventListener('click', () => { deciding = null; document.getElementById('decide').close(); });
  // The server writes the configuration into the page (one round trip
  // less before the lists start); config answers the same.
  const inline = document.querySelector('meta[name="gitgate-config"]');
  const config = inline && inline.content ? JSON.parse(inline.content) : await (await fetch('config', {credentials: 'same-origin'})).json();
  state.home = config.namespace;
  state.allNs = !!config.allNamespaces;
  state.ns = state.allNs ? '' : state.home;
  document.body.classList.toggle('all-namespaces', state.allNs);
  document.getElementById('namespace').textContent = state.allNs ? '— all namespaces' : `— namespace ${state.home}`;
  document.title = state.allNs ? 'gitgate pipelines — all namespaces' : `gitgate pipeline — ${state.home}`;
  if (state.allNs) {
    document.getElementById('pipeline-empty').textContent = 'No environments in any namespace you may list.';
    document.getElementById('ns-switcher').hidden = false;
    document.getElementById('ns-filter').addEventListener('change', (e) => {
      state.ns = e.target.value;
      document.getElementById('namespace').textContent = state.ns ? `— namespace ${state.ns}` : '— all namespaces';
      scheduleRender();
    });
  }
  // The lists start at once; who the user is arrives alongside (it only
  // words the reasons, and the approve button of the user's own promotions).
  follow('environments', listEnvironments, onEnvironment);
  follow('promotions', listPromotions, onPromotion);
  api('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', {apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview'}).then((r) => {
    state.user = r.status.userInfo.username;
    document.getElementById('whoami').textContent = `Acting as ${state.user}`;
    scheduleRender(); // reasons name the user

  }, () => {
    document.getElementById('whoami').textContent = 'Acting with your kubeconfig credentials';
  });
  setInterval(() => document.querySelectorAll('time[datetime]').forEach((t) => { t.textContent = ago(t.getAttribute('datetime')); }), 30000);
}

start().catch((e) => showError(`The page could not start: ${errorText(e)}`));
