// pxehook fleet page: a thin client of /api/v1. Every value from the server is shown with
// textContent (never parsed as HTML): hostnames and vendor classes come from DHCP clients.
// States, actions and arch names come from the server (GET /states, /actions, /fleet).
// The table is virtual: only the rows in view exist; pages of BLOCK rows are fetched as the
// view reaches them, and GET /fleet/changes brings what changed since the last answer.
"use strict";

const API = new URL("../api/v1/", document.baseURI);
const ROW = 28;          // px per table row (style.css: th, td height)
const BLOCK = 100;       // rows per request
const OVERSCAN = 10;     // rows drawn above and below the view
const POLL_MS = 3000;    // how often to ask what changed

const ui = {
  name: "", scope: "", states: [], stateInfo: new Map(), actions: new Map(), profiles: [],
  state: "", total: 0, counts: {}, cursor: null, polling: false,
  blocks: new Map(),     // block number -> array of rows, or "loading"
  generation: 0,         // bumped when the list is read afresh: older answers are dropped
  selected: new Set(), open: null, openDetails: new Set(), drawn: false, focusRow: null,
};

const $ = (id) => document.getElementById(id);

function token() { return sessionStorage.getItem("pxehook-token") || ""; }
function isAdmin() { return ui.scope === "admin"; }
// deploy, reinstall, rescue: the server says which actions take a profile (GET /actions)
function takesProfile(action) { return Boolean((ui.actions.get(action) || {}).profile); }

function status(text, isError) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
}

// A result stays until the next one or until dismissed (it is not overwritten by polling).
function showResult(text, lines = [], isError = false) {
  $("result-text").textContent = text;
  $("result-list").replaceChildren(...lines.map((line) => el("li", line)));
  $("result").className = isError ? "error" : "";
  $("result").hidden = false;
}

async function api(path, options = {}) {
  const headers = { "Accept": "application/json", ...(options.headers || {}) };
  if (token()) headers["Authorization"] = "Bearer " + token();
  const response = await fetch(new URL(path, API), { ...options, headers });
  const body = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) {
    const message = body && body.error ? body.error.message : response.statusText;
    throw new Error(`${response.status}: ${message}`);
  }
  return body;
}

function post(path, body) {
  return api(path, { method: "POST", headers: { "Content-Type": "application/json" },
                     body: JSON.stringify(body) });
}

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function when(ts) { return ts ? new Date(ts * 1000).toLocaleString() : "—"; }

function ago(ts) {
  if (!ts) return "never";
  const s = Date.now() / 1000 - ts;
  if (s < 45) return "just now";
  if (s < 90) return "1 min ago";
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

function seconds(s) { return s < 1 ? `${Math.round(s * 1000)} ms` : s < 120 ? `${s.toFixed(1)} s` : `${Math.round(s / 60)} min`; }

// --- the query -----------------------------------------------------------------------------
function filters() {
  const f = { state: ui.state, q: $("search").value.trim(), arch: $("arch-filter").value,
              profile: $("profile-filter").value.trim(), label: $("label-filter").value.trim() };
  for (const key of Object.keys(f)) if (!f[key]) delete f[key];
  return f;
}

function params(extra = {}) {
  const p = new URLSearchParams({ ...filters(), sort: $("sort").value, order: $("order").value });
  for (const [k, v] of Object.entries(extra)) p.set(k, v);
  return p.toString();
}

// The hash holds the filters and the open host: /ui/#host=<mac> is a link to its panel.
function writeHash() {
  const p = new URLSearchParams(filters());
  if (ui.open) p.set("host", ui.open);
  history.replaceState(null, "", "#" + p.toString());
}

function readHash() {
  const p = new URLSearchParams(location.hash.slice(1));
  ui.state = p.get("state") || "";
  $("search").value = p.get("q") || "";
  $("profile-filter").value = p.get("profile") || "";
  $("label-filter").value = p.get("label") || "";
  const arch = p.get("arch") || "";
  if (arch && ![...$("arch-filter").options].some((o) => o.value === arch)) {
    $("arch-filter").append(new Option(arch, arch));
  }
  $("arch-filter").value = arch;
  return p.get("host");
}

// Read the list afresh (a filter or the sort changed, or the server asked for a resync).
function reload(toTop) {
  ui.generation += 1;
  ui.blocks.clear();
  if (toTop) { ui.cursor = null; $("viewport").scrollTop = 0; }
  draw();
}

function loadBlock(block) {
  if (ui.blocks.has(block)) return;
  ui.blocks.set(block, "loading");
  const generation = ui.generation;
  api("fleet?" + params({ offset: block * BLOCK, limit: BLOCK })).then((body) => {
    if (generation !== ui.generation) return;
    ui.blocks.set(block, body.hosts);
    if (ui.cursor === null) ui.cursor = body.cursor;
    counts(body);
    draw();
  }).catch((err) => {
    if (generation === ui.generation) ui.blocks.delete(block);
    status(err.message, true);
  });
}

function counts(body) {
  ui.total = body.total;
  ui.counts = body.states;
  const archSelect = $("arch-filter");
  const chosen = archSelect.value;
  const options = [new Option("any", "")];
  for (const a of body.archs) {
    if (a.code === null) continue;
    options.push(new Option(`${a.name} (${a.count})`, String(a.code)));
  }
  if (chosen && !options.some((o) => o.value === chosen)) options.push(new Option(chosen, chosen));
  archSelect.replaceChildren(...options);
  archSelect.value = chosen;
  drawBar();
  status(`${ui.total.toLocaleString()} host(s) match · updated ${new Date().toLocaleTimeString()}`);
}

// --- the state bar -------------------------------------------------------------------------
function drawBar() {
  const all = Object.values(ui.counts).reduce((a, b) => a + b, 0);
  const buttons = [["", "all", all, "Every state"]].concat(
    ui.states.map((s) => [s, s, ui.counts[s] || 0, ui.stateInfo.get(s) || ""]));
  $("state-bar").replaceChildren(...buttons.map(([value, label, n, about]) => {
    const b = el("button", null, value ? "state-" + value : "");
    b.type = "button";
    b.append(el("span", n.toLocaleString(), "count"), el("span", label, "label"));
    b.title = about;
    b.setAttribute("aria-pressed", String(ui.state === value));
    b.setAttribute("aria-label", `${label}: ${n} host(s)`);
    b.dataset.state = value;
    if (!n) b.classList.add("empty");
    b.style.flexGrow = String(value ? Math.max(n, all * 0.03) : all * 0.06);
    b.addEventListener("click", () => {
      ui.state = ui.state === value ? "" : value;
      writeHash(); reload(true);
    });
    return b;
  }));
}

// --- the table -----------------------------------------------------------------------------
function rowAt(i) {
  const block = ui.blocks.get(Math.floor(i / BLOCK));
  return Array.isArray(block) ? block[i % BLOCK] : undefined;
}

function findCached(mac) {
  for (const rows of ui.blocks.values()) {
    if (!Array.isArray(rows)) continue;
    const i = rows.findIndex((r) => r.mac === mac);
    if (i >= 0) return { rows, i };
  }
  return null;
}

function spacer(height) {
  const tr = el("tr", null, "spacer");
  tr.setAttribute("aria-hidden", "true");
  const td = el("td");
  td.colSpan = 8;
  td.style.height = height + "px";
  tr.append(td);
  return tr;
}

function hostRow(h, i) {
  const tr = el("tr", null, "host" + (h.mac === ui.open ? " open" : ""));
  tr.setAttribute("aria-rowindex", String(i + 2));
  tr.dataset.mac = h.mac;
  const pick = el("td", null, "pick");
  if (isAdmin()) {
    const box = el("input");
    box.type = "checkbox";
    box.checked = ui.selected.has(h.mac);
    box.setAttribute("aria-label", `Select ${h.name || h.mac}`);
    box.addEventListener("click", (ev) => ev.stopPropagation());
    box.addEventListener("change", () => {
      if (box.checked) ui.selected.add(h.mac); else ui.selected.delete(h.mac);
      drawBulk();
    });
    pick.append(box);
  }
  const open = el("button", h.mac, "open-host");
  open.type = "button";
  open.dataset.mac = h.mac;
  open.setAttribute("aria-label", `Open ${h.name || h.dhcp_hostname || h.mac}`);
  const name = el("td", h.name || h.dhcp_hostname || "—");
  if (!h.name && h.dhcp_hostname) name.title = "DHCP hostname (the client's claim)";
  const arch = el("td");
  arch.append(el("span", h.arch.name), el("span", h.arch_source ? ` · ${h.arch_source}` : "", "source"));
  arch.title = h.arch.code === null ? "unknown" : `option 93 code ${h.arch.code}, from ${h.arch_source}`;
  const state = el("td");
  const badge = el("span", h.state, "state state-" + h.state);
  badge.title = ui.stateInfo.get(h.state) || "";
  state.append(badge);
  const seen = el("td", ago(h.last_seen));
  seen.title = when(h.last_seen);
  const macCell = el("td", null, "mono");
  macCell.append(open);
  tr.append(pick, macCell, name, arch, el("td", h.ip || "—"), el("td", h.profile || "—"), state, seen);
  tr.addEventListener("click", () => openHost(h.mac));
  return tr;
}

function loadingRow(i) {
  const tr = el("tr", null, "host loading");
  tr.setAttribute("aria-rowindex", String(i + 2));
  const td = el("td", "…");
  td.colSpan = 8;
  tr.append(td);
  return tr;
}

function draw() {
  if (!token()) return;
  const vp = $("viewport");
  const first = Math.max(0, Math.floor(vp.scrollTop / ROW) - OVERSCAN);
  const last = Math.min(ui.total, first + Math.ceil(vp.clientHeight / ROW) + 2 * OVERSCAN);
  if (!ui.blocks.size || ui.cursor === null) loadBlock(0);
  for (let b = Math.floor(first / BLOCK); b <= Math.floor(Math.max(first, last - 1) / BLOCK); b++) {
    loadBlock(b);
  }
  const focused = document.activeElement && document.activeElement.dataset
    ? document.activeElement.dataset.mac : undefined;
  const rows = [spacer(first * ROW)];
  for (let i = first; i < last; i++) {
    const h = rowAt(i);
    rows.push(h ? hostRow(h, i) : loadingRow(i));
  }
  rows.push(spacer(Math.max(0, ui.total - last) * ROW));
  $("hosts").setAttribute("aria-rowcount", String(ui.total + 1));
  $("hosts").querySelector("tbody").replaceChildren(...rows);
  const wanted = ui.focusRow === null ? null
    : $("hosts").querySelector(`tr.host[aria-rowindex="${ui.focusRow + 2}"] button.open-host`);
  if (wanted) { wanted.focus({ preventScroll: true }); ui.focusRow = null; } else if (focused) {
    const again = $("hosts").querySelector(`button.open-host[data-mac="${CSS.escape(focused)}"]`);
    if (again) again.focus({ preventScroll: true });
  }
  ui.drawn = ui.drawn || rows.length > 2;
}

// Up/Down (and Page Up/Down, Home/End) from a row's MAC button move to another row,
// scrolling it into view: the rows out of view do not exist for Tab to reach.
function moveFocus(ev) {
  const steps = { ArrowDown: 1, ArrowUp: -1, PageDown: 20, PageUp: -20, Home: -Infinity, End: Infinity };
  const row = ev.target.closest && ev.target.closest("tr.host");
  if (!(ev.key in steps) || !row || !ev.target.classList.contains("open-host")) return;
  ev.preventDefault();
  const here = Number(row.getAttribute("aria-rowindex")) - 2;
  const i = Math.max(0, Math.min(ui.total - 1, here + steps[ev.key]));
  const vp = $("viewport"), head = $("hosts").tHead.offsetHeight;
  if (i * ROW < vp.scrollTop) vp.scrollTop = i * ROW;
  else if ((i + 1) * ROW + head > vp.scrollTop + vp.clientHeight) vp.scrollTop = (i + 1) * ROW + head - vp.clientHeight;
  ui.focusRow = i; // focused once drawn (its rows may still be on their way)
  draw();
}

// What changed since the last answer: rows in place, or the list afresh when who matches moved.
async function poll() {
  if (!token() || ui.cursor === null || ui.polling || document.hidden) return;
  ui.polling = true;
  const generation = ui.generation;
  try {
    const body = await api("fleet/changes?" + params({ since: ui.cursor }));
    if (generation !== ui.generation) return;
    ui.cursor = body.cursor;
    if (body.total !== undefined) counts(body);
    let again = body.resync;
    let panel = false;
    // sorted by anything but when added, a changed row may belong elsewhere: read the view
    const moves = $("sort").value !== "id";
    for (const h of body.hosts) {
      const cached = findCached(h.mac);
      if (cached && h.matches && !moves) cached.rows[cached.i] = h;
      else if (cached || h.matches) again = true;
      panel = panel || h.mac === ui.open;
    }
    if (again) reload(false); else if (body.hosts.length) draw();
    if (panel) loadPanel();
  } catch (err) { status(err.message, true); } finally { ui.polling = false; }
}

// --- the host panel ------------------------------------------------------------------------
async function openHost(mac) {
  ui.open = mac;
  writeHash();
  draw();
  await loadPanel();
  $("panel-title").focus();
}

function closePanel() {
  const mac = ui.open;
  ui.open = null;
  $("panel").hidden = true;
  document.querySelector("main").classList.remove("with-panel");
  writeHash();
  draw();
  const back = mac && $("hosts").querySelector(`button.open-host[data-mac="${CSS.escape(mac)}"]`);
  (back || $("viewport")).focus();
}

async function loadPanel() {
  const mac = ui.open;
  if (!mac) return;
  let p;
  try { p = await api(`hosts/${encodeURIComponent(mac)}/panel`); } catch (err) {
    showResult(`Host ${mac}: ${err.message}`, [], true);
    return;
  }
  if (ui.open !== mac) return;
  const host = p.host, row = host.row, view = p.view;
  $("panel").hidden = false;
  document.querySelector("main").classList.add("with-panel");
  $("panel-title").textContent = host.name || host.dhcp_hostname || host.mac;
  const fields = [
    ["MACs", host.macs.join(", ")], ["Name", host.name], ["DHCP hostname", host.dhcp_hostname],
    ["IP", host.ip ? `${host.ip} (${host.ip_source})` : ""],
    ["Arch", `${row.arch.name}${row.arch.code === null ? "" : ` (code ${row.arch.code})`} · source: ${row.arch_source || "none"}`],
    ["Profile", host.profile],
    ["State", view.state + (view.failure ? ` (${view.failure} failed)` : "") + ` · since ${ago(view.state_changed)}`],
    ["Vendor class", host.vendor_class], ["UUID", host.uuid],
    ["First seen", when(host.first_seen)], ["Last seen", `${ago(host.last_seen)} (${when(host.last_seen)})`],
    ["Labels", Object.entries(host.labels || {}).map(([k, v]) => `${k}=${v}`).join(", ")],
  ];
  $("panel-fields").replaceChildren(...fields.flatMap(([k, v]) => [el("dt", k), el("dd", v || "—")]));
  drawActions(host, view);
  drawStages(p.boot);
  drawTimeline(p.events, p.more_events);
  $("explain").replaceChildren();
  $("explain-load").hidden = false;
}

function drawActions(host, view) {
  const box = $("panel-actions");
  box.replaceChildren();
  if (!isAdmin()) return; // a read token: no buttons it could not use
  const wantsProfile = view.allowed.some(takesProfile);
  let choice = null;
  if (wantsProfile && ui.profiles.length) {
    const label = el("label", "Profile ");
    choice = el("select");
    choice.id = "action-profile";
    for (const name of ui.profiles) choice.append(new Option(name, name));
    choice.value = ui.profiles.includes(host.profile) ? host.profile : ui.profiles[0];
    label.append(choice);
    box.append(label);
  }
  for (const action of view.allowed) {
    const info = ui.actions.get(action) || {};
    const b = el("button", action, info.destructive ? "danger" : "");
    b.type = "button";
    b.dataset.action = action;
    b.title = info.help || "";
    b.addEventListener("click", async () => {
      const profile = takesProfile(action) && choice ? choice.value : "";
      const what = `${action} ${host.name || host.mac}` + (profile ? ` with profile ${profile}` : "");
      if (!(await confirmed(what, info.destructive))) return;
      try {
        const done = await post(`hosts/${encodeURIComponent(host.mac)}/actions/${encodeURIComponent(action)}`,
                                profile ? { profile } : {});
        showResult(`${what}: done, now ${done.state}.`);
      } catch (err) { showResult(`${what}: ${err.message}`, [], true); }
      await poll();
      await loadPanel();
    });
    box.append(b);
  }
}

function drawStages(stages) {
  let before = null;
  $("boot-stages").replaceChildren(...stages.map((s) => {
    const li = el("li", s.stage, s.at ? "reached" : "");
    li.title = s.about + (s.message ? ` — ${s.message}` : "");
    const after = s.at === null ? "not reached" : before === null ? when(s.at) : `+${seconds(s.after)}`;
    li.append(el("span", after, "after"));
    li.setAttribute("aria-label", `${s.stage}: ${after}`);
    if (s.at !== null) before = s.at;
    return li;
  }));
}

function drawTimeline(events, more) {
  const list = $("timeline");
  for (const d of list.querySelectorAll("details[open]")) ui.openDetails.add(d.dataset.event);
  list.replaceChildren(...events.slice().reverse().map((e) => {
    const li = el("li");
    const at = el("time", when(e.at));
    at.dateTime = new Date(e.at * 1000).toISOString();
    at.title = ago(e.at);
    li.append(at, document.createTextNode(" "), el("span", e.kind, "kind"),
              el("span", ` from ${e.source}`, "source"), el("div", e.message || ""));
    if (e.data && Object.keys(e.data).length) {
      const details = el("details");
      details.dataset.event = String(e.id);
      details.open = ui.openDetails.has(String(e.id));
      details.append(el("summary", "data"), el("pre", JSON.stringify(e.data, null, 2), "timeline-data"));
      li.append(details);
    }
    return li;
  }));
  $("timeline-note").textContent = more ? "(newest events; pxehook host events for all)" : "";
}

async function loadExplain() {
  const mac = ui.open;
  try {
    const data = await api(`hosts/${encodeURIComponent(mac)}/explain`);
    if (ui.open !== mac) return;
    $("explain").replaceChildren(...data.answers.flatMap((a) => {
      const head = el("h4", `${a.loader}: ${a.action} (HTTP ${a.status})`);
      const facts = el("div", `arch ${a.arch || "unknown"} (source ${a.arch_source || "—"}) · profile ${a.profile || "—"} · template ${a.template || "—"}`, "muted");
      const chain = el("ol");
      chain.append(...a.reasons.map((r) => el("li", r)));
      const parts = [head, facts, chain];
      if (a.body) {
        const bytes = el("details");
        bytes.append(el("summary", "the bytes it gets"), el("pre", a.body, "timeline-data"));
        parts.push(bytes);
      }
      return parts;
    }));
    $("explain-load").hidden = true;
  } catch (err) { showResult(`explain ${mac}: ${err.message}`, [], true); }
}

// --- confirmation and bulk actions ---------------------------------------------------------
function confirmed(what, destructive) {
  if (!destructive) return Promise.resolve(true);
  const dialog = $("confirm");
  $("confirm-text").textContent = `${what}? This changes what the machine boots.`;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.returnValue = "";
    dialog.showModal();
    $("confirm-cancel").focus();
  });
}

function drawBulk() {
  $("bulk").hidden = !isAdmin();
  $("bulk-selected").textContent = `On selected (${ui.selected.size})`;
  $("bulk-selected").disabled = ui.selected.size === 0;
  $("bulk-profile-label").hidden = !takesProfile($("bulk-action").value);
}

async function bulk(target) {
  const action = $("bulk-action").value;
  const info = ui.actions.get(action) || {};
  const n = target.macs ? target.macs.length : ui.total;
  const body = { ...target };
  if (takesProfile(action) && $("bulk-profile").value) body.profile = $("bulk-profile").value;
  const what = `${action} on ${n} host(s)` + (body.profile ? ` with profile ${body.profile}` : "");
  if (!(await confirmed(what, info.destructive))) return;
  try {
    const result = await post(`fleet/actions/${encodeURIComponent(action)}`, body);
    for (const h of result.done) ui.selected.delete(h.mac);
    showResult(`${action}: ${result.done.length} done, ${result.failed.length} refused.`,
               result.failed.map((f) => `${f.mac}: ${f.error}`), result.failed.length > 0);
  } catch (err) { showResult(`${what}: ${err.message}`, [], true); }
  drawBulk();
  await poll();
}

// --- start ---------------------------------------------------------------------------------
async function start() {
  if (!token()) { status("Enter an API token (pxehook token create NAME --scope read)."); return; }
  try {
    const [me, states, actions] = await Promise.all([api("whoami"), api("states"), api("actions")]);
    ui.name = me.name; ui.scope = me.scope;
    $("whoami").textContent = `token ${me.name} · ${me.scope}`;
    ui.states = states.map((s) => s.state);
    for (const s of states) ui.stateInfo.set(s.state, s.description);
    for (const a of actions) ui.actions.set(a.action, a);
    $("bulk-action").replaceChildren(...actions.map((a) => new Option(a.action, a.action)));
    if (isAdmin()) {
      ui.profiles = (await api("profiles")).map((p) => p.name);
      $("bulk-profile").replaceChildren(...ui.profiles.map((n) => new Option(n, n)));
    }
  } catch (err) { status(err.message, true); return; }
  $("hosts").classList.toggle("no-pick", !isAdmin());
  drawBulk();
  const host = readHash();
  reload(true);
  if (host) openHost(host);
}

function init() {
  $("login").addEventListener("submit", (ev) => {
    ev.preventDefault();
    sessionStorage.setItem("pxehook-token", $("token").value.trim());
    $("token").value = "";
    start();
  });
  $("forget").addEventListener("click", () => {
    sessionStorage.removeItem("pxehook-token");
    location.hash = "";
    location.reload();
  });
  $("filters").addEventListener("submit", (ev) => ev.preventDefault());
  let typing = null;
  const changed = () => { writeHash(); reload(true); };
  for (const id of ["search", "profile-filter", "label-filter"]) {
    $(id).addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(changed, 250); });
  }
  for (const id of ["arch-filter", "sort", "order"]) $(id).addEventListener("change", changed);
  $("clear-filters").addEventListener("click", () => {
    ui.state = "";
    for (const id of ["search", "profile-filter", "label-filter", "arch-filter"]) $(id).value = "";
    changed();
  });
  let frame = 0;
  $("viewport").addEventListener("scroll", () => {
    cancelAnimationFrame(frame);
    frame = requestAnimationFrame(draw);
  }, { passive: true });
  window.addEventListener("resize", () => requestAnimationFrame(draw));
  window.addEventListener("hashchange", () => {
    const host = readHash();
    reload(true);
    if (host && host !== ui.open) openHost(host);
  });
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape" && ui.open && !$("confirm").open) closePanel();
  });
  $("hosts").addEventListener("keydown", moveFocus);
  $("panel-close").addEventListener("click", closePanel);
  $("explain-load").addEventListener("click", loadExplain);
  $("result-close").addEventListener("click", () => { $("result").hidden = true; });
  $("bulk-action").addEventListener("change", drawBulk);
  $("bulk-selected").addEventListener("click", () => bulk({ macs: [...ui.selected] }));
  $("bulk-filtered").addEventListener("click", () => bulk({ filter: filters() }));
  $("bulk-clear").addEventListener("click", () => { ui.selected.clear(); drawBulk(); draw(); });
  start();
  setInterval(poll, POLL_MS);
  setInterval(() => { if (ui.drawn) draw(); }, 30000); // "5 min ago" moves on
}

document.addEventListener("DOMContentLoaded", init);
