// Ferrite console: polls /stats once a second for the cards and charts, tails a topic over SSE
// and publishes through the admin API. Plain browser JavaScript, no dependencies, no build step.
'use strict';

const POLL_MS = 1000;
const HISTORY = 120;          // points kept per chart (2 minutes at one poll per second)
const MAX_TAIL_ITEMS = 500;   // messages kept in the tail list (older ones are removed)

const $ = (id) => document.getElementById(id);

function fmtBytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(1)) + ' ' + units[i];
}
function fmtNum(n) {
  if (!isFinite(n)) return '–';
  if (Math.abs(n) >= 1e6) return (n / 1e6).toFixed(2) + 'M';
  if (Math.abs(n) >= 1e4) return (n / 1e3).toFixed(1) + 'k';
  return Math.abs(n) < 10 && n % 1 !== 0 ? n.toFixed(2) : String(Math.round(n));
}

// A line chart drawn by hand on a canvas: the last HISTORY values, y axis from 0 to the max.
class Chart {
  constructor(canvas, color, fmt) {
    this.canvas = canvas;
    this.color = color;
    this.fmt = fmt;
    this.values = [];
  }
  push(v) {
    this.values.push(v);
    if (this.values.length > HISTORY) this.values.shift();
    this.draw();
  }
  draw() {
    const c = this.canvas, ctx = c.getContext('2d');
    const w = c.width, h = c.height, pad = 4, left = 54;
    ctx.clearRect(0, 0, w, h);
    const max = Math.max(1e-9, ...this.values);
    ctx.strokeStyle = '#e6e8ec';
    ctx.lineWidth = 1;
    ctx.fillStyle = '#5c6475';
    ctx.font = '11px sans-serif';
    for (let i = 0; i <= 2; i++) {
      const y = pad + (h - 2 * pad) * i / 2;
      ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(w, y); ctx.stroke();
      ctx.fillText(this.fmt(max * (2 - i) / 2), 2, y + 4);
    }
    if (this.values.length < 2) return;
    const step = (w - left) / (HISTORY - 1);
    const x0 = w - step * (this.values.length - 1);
    ctx.strokeStyle = this.color;
    ctx.lineWidth = 2;
    ctx.beginPath();
    this.values.forEach((v, i) => {
      const x = x0 + i * step, y = h - pad - (h - 2 * pad) * (v / max);
      if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
    });
    ctx.stroke();
  }
}

const charts = {
  ops: new Chart($('chart-ops'), '#3d5afe', fmtNum),
  latency: new Chart($('chart-latency'), '#ef6c00', fmtNum),
  memory: new Chart($('chart-memory'), '#2e7d32', fmtBytes),
  messages: new Chart($('chart-messages'), '#8e24aa', fmtNum),
};

let prev = null;   // previous /stats sample and its time

function renderCaches(caches) {
  const body = $('caches');
  body.replaceChildren(...caches.map((c) => {
    const tr = document.createElement('tr');
    tr.dataset.cache = c.name;
    for (const v of [c.name, String(c.keys), fmtBytes(c.used_bytes)]) {
      const td = document.createElement('td');
      td.textContent = v;
      tr.appendChild(td);
    }
    return tr;
  }));
}

// ---- admin token (auth mode token) ----
// In auth mode `token` every admin API route needs a super-user token. The operator pastes it
// once; it lives in sessionStorage (this tab only, gone when the tab closes) and goes out as
// `Authorization: Bearer` on fetches and as `?token=` on the EventSource (which cannot send
// headers). In auth mode `none` it is simply not needed.
const TOKEN_KEY = 'ferrite-admin-token';

function adminToken() {
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

function authHeaders(extra) {
  const h = Object.assign({}, extra || {});
  const t = adminToken();
  if (t) h['authorization'] = 'Bearer ' + t;
  return h;
}

function withToken(url) {
  const t = adminToken();
  return t ? url + (url.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(t) : url;
}

$('admin-token').value = adminToken();
$('token-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const t = $('admin-token').value.trim();
  if (t) sessionStorage.setItem(TOKEN_KEY, t); else sessionStorage.removeItem(TOKEN_KEY);
  poll();
});

async function poll() {
  try {
    const r = await fetch('/stats', { cache: 'no-store', headers: authHeaders() });
    if (r.status === 401 || r.status === 403) {
      throw new Error((await r.json()).message + ': paste a super-user token above');
    }
    if (!r.ok) throw new Error('HTTP ' + r.status);
    const s = await r.json();
    const now = performance.now();
    $('status').textContent = 'up';
    $('status').className = 'status ok';
    $('total-requests').textContent = String(s.requests.count);
    $('memory').textContent = fmtBytes(s.memory.used_bytes) + ' / ' + fmtBytes(s.memory.max_bytes);
    $('keys').textContent = String(s.keys);
    $('clients').textContent = String(s.connections.connected);
    $('uptime').textContent = s.uptime_seconds + ' s';
    renderCaches(s.caches);
    if (prev) {
      const dt = Math.max(0.001, (now - prev.at) / 1000);
      const dReq = s.requests.count - prev.s.requests.count;
      const dLat = s.requests.latency_sum_seconds - prev.s.requests.latency_sum_seconds;
      const ops = dReq / dt;
      const latUs = dReq > 0 ? (dLat / dReq) * 1e6 : 0;
      const msgs = (s.topics.published - prev.s.topics.published) / dt;
      $('ops-rate').textContent = fmtNum(ops);
      $('latency').textContent = dReq > 0 ? fmtNum(latUs) + ' µs' : '–';
      $('msg-rate').textContent = fmtNum(msgs);
      charts.ops.push(ops);
      charts.latency.push(latUs);
      charts.messages.push(msgs);
    }
    charts.memory.push(s.memory.used_bytes);
    prev = { s, at: now };
  } catch (e) {
    $('status').textContent = 'unreachable (' + e.message + ')';
    $('status').className = 'status err';
  }
}

// ---- topic tail (SSE) ----
let source = null;

function path(cache, topic) {
  return '/console/api/topics/' + encodeURIComponent(cache) + '/' + encodeURIComponent(topic);
}

function addTailItem(cls, seqText, text) {
  const list = $('tail-messages');
  const li = document.createElement('li');
  if (cls) li.className = cls;
  const seq = document.createElement('span');
  seq.className = 'seq';
  seq.textContent = seqText;
  li.appendChild(seq);
  li.appendChild(document.createTextNode(text));
  list.appendChild(li);
  while (list.children.length > MAX_TAIL_ITEMS) list.removeChild(list.firstChild);
  list.scrollTop = list.scrollHeight;
  return li;
}

function stopTail() {
  if (source) source.close();
  source = null;
  $('tail-stop').disabled = true;
  $('tail-status').textContent = 'not subscribed';
}

$('tail-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  stopTail();
  const cache = $('tail-cache').value, topic = $('tail-topic').value;
  $('tail-messages').replaceChildren();
  $('tail-status').textContent = 'connecting to ' + cache + '/' + topic + '…';
  // EventSource resumes by itself with Last-Event-ID (the last sequence number) after a drop.
  source = new EventSource(withToken(path(cache, topic) + '/events'));
  source.onopen = () => { $('tail-status').textContent = 'subscribed to ' + cache + '/' + topic; };
  source.addEventListener('message', (e) => {
    const m = JSON.parse(e.data);
    const li = addTailItem('', '#' + m.sequence_number, m.text);
    li.dataset.seq = String(m.sequence_number);
  });
  source.addEventListener('discontinuity', (e) => {
    const d = JSON.parse(e.data);
    addTailItem('gap', '…', 'missed messages: next is #' + d.new_sequence_number);
  });
  source.addEventListener('cache_gone', () => {
    $('tail-status').textContent = 'cache deleted or flushed: tail ended';
    if (source) source.close();
    source = null;
  });
  source.onerror = () => {
    if (source && source.readyState === EventSource.CONNECTING) {
      $('tail-status').textContent = 'reconnecting…';
    } else if (source && source.readyState === EventSource.CLOSED) {
      $('tail-status').textContent = 'tail closed (cache missing or too many tails?)';
    }
  };
  $('tail-stop').disabled = false;
});
$('tail-stop').addEventListener('click', stopTail);

// ---- publish ----
$('pub-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const cache = $('pub-cache').value, topic = $('pub-topic').value;
  try {
    const r = await fetch(path(cache, topic), {
      method: 'POST',
      headers: authHeaders({ 'content-type': 'text/plain; charset=utf-8' }),
      body: $('pub-message').value,
    });
    const j = await r.json();
    $('pub-result').textContent = r.ok
      ? 'published as #' + j.sequence_number + ' (' + j.receivers + ' receivers)'
      : 'error: ' + (j.message || j.error);
  } catch (e) {
    $('pub-result').textContent = 'error: ' + e.message;
  }
});

poll();
setInterval(poll, POLL_MS);
