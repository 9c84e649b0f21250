// pxehook web page: a thin client of /api/v1. Every value from the server is shown with
// textContent (never parsed as HTML): hostnames and vendor classes come from DHCP clients.
// The life-cycle states come from the server too (GET /api/v1/states): none is spelled here.
"use strict";

const API = new URL("../api/v1/", document.baseURI);
const stateInfo = new Map(); // state name -> description, from the server's state table
let statesLoaded = null; // the promise of loading them
let selected = null;
let hosts = [];

const $ = (id) => document.getElementById(id);

function token() { return sessionStorage.getItem("pxehook-token") || ""; }

function status(text, isError) {
  const el = $("status");
  el.textContent = text;
  el.className = isError ? "error" : "";
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

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function when(ts) { return ts ? new Date(ts * 1000).toLocaleString() : "—"; }

// The arch pxehook boots the host as (a MAC rule may correct the recorded code).
function archLabel(h) {
  const code = h.arch_effective ?? h.arch;
  return code === null || code === undefined ? "—" : String(code);
}

function renderHosts() {
  const filter = $("search").value.trim().toLowerCase();
  const tbody = $("hosts").querySelector("tbody");
  tbody.replaceChildren();
  for (const h of hosts) {
    const hay = [h.mac, h.name, h.ip, h.profile].join(" ").toLowerCase();
    if (filter && !hay.includes(filter)) continue;
    const tr = document.createElement("tr");
    if (h.mac === selected) tr.className = "selected";
    tr.append(el("td", h.mac, "mac"), el("td", h.name || "—"), el("td", archLabel(h)),
              el("td", h.ip || "—"), el("td", h.profile || "—"));
    const state = el("td");
    const badge = el("span", h.state, "state state-" + h.state);
    badge.title = stateInfo.get(h.state) || "";
    state.append(badge);
    tr.append(state, el("td", when(h.last_seen)));
    tr.addEventListener("click", () => { selected = h.mac; renderHosts(); loadDetail(); });
    tbody.append(tr);
  }
}

function loadStates() {
  // Once per page (the table changes only with a new pxehook); again after a failure.
  statesLoaded = statesLoaded || api("states").then((states) => {
    for (const s of states) {
      stateInfo.set(s.state, s.description);
      const option = el("option", s.state);
      option.value = s.state;
      option.title = s.description;
      $("state-filter").append(option);
    }
  }).catch((err) => { statesLoaded = null; status(err.message, true); });
  return statesLoaded;
}

async function loadHosts() {
  if (!token()) { status("Enter an API token (pxehook token create NAME --scope read)."); return; }
  await loadStates(); // before the hosts: their state badges show its descriptions
  const state = $("state-filter").value;
  try {
    hosts = await api("hosts" + (state ? "?state=" + encodeURIComponent(state) : ""));
    status(`${hosts.length} host(s), updated ${new Date().toLocaleTimeString()}`);
    renderHosts();
  } catch (err) { status(err.message, true); }
}

async function loadDetail() {
  if (!selected) return;
  const mac = encodeURIComponent(selected);
  try {
    const [host, view, events] = await Promise.all([
      api(`hosts/${mac}`), api(`hosts/${mac}/state`), api(`hosts/${mac}/events`)]);
    $("detail").hidden = false;
    $("detail-title").textContent = `${host.name || host.mac}`;
    const fields = $("detail-fields");
    fields.replaceChildren();
    const rows = [["MACs", host.macs.join(", ")], ["UUID", host.uuid], ["Arch",
      `${archLabel(host)} (${host.arch_effective_source || "unknown source"})`],
      ["Recorded arch", host.arch === null ? "" : `${host.arch} (${host.arch_source})`], ["IP", host.ip],
      ["Vendor class", host.vendor_class], ["User class", host.user_class],
      ["Profile", host.profile], ["State", view.state + (view.failure ? ` (${view.failure})` : "")],
      ["First seen", when(host.first_seen)], ["Last seen", when(host.last_seen)],
      ["Labels", JSON.stringify(host.labels)], ["Vars", JSON.stringify(host.vars)]];
    for (const [k, v] of rows) fields.append(el("dt", k), el("dd", v || "—", "mono"));
    const actions = $("actions");
    actions.replaceChildren();
    for (const action of view.allowed) {
      const button = el("button", action);
      button.addEventListener("click", () => perform(action));
      actions.append(button);
    }
    const list = $("timeline");
    list.replaceChildren();
    for (const e of events.slice().reverse()) {
      const li = el("li");
      li.append(el("strong", e.kind), document.createTextNode(` ${when(e.at)} · ${e.source} `),
                el("span", e.message || ""));
      if (e.data && Object.keys(e.data).length) li.append(el("div", JSON.stringify(e.data),
                                                              "timeline-data"));
      list.append(li);
    }
  } catch (err) { status(err.message, true); }
}

async function perform(action) {
  if (!confirm(`${action} ${selected}?`)) return;
  try {
    await api(`hosts/${encodeURIComponent(selected)}/actions/${encodeURIComponent(action)}`,
              { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
    status(`${action}: done`);
    await loadHosts();
    await loadDetail();
  } catch (err) { status(err.message, true); }
}

function init() {
  $("login").addEventListener("submit", (ev) => {
    ev.preventDefault();
    sessionStorage.setItem("pxehook-token", $("token").value.trim());
    $("token").value = "";
    loadHosts();
  });
  $("forget").addEventListener("click", () => {
    sessionStorage.removeItem("pxehook-token");
    hosts = []; selected = null; renderHosts(); $("detail").hidden = true;
    status("Token forgotten.");
  });
  $("state-filter").addEventListener("change", loadHosts);
  $("search").addEventListener("input", renderHosts);
  loadHosts();
  setInterval(() => { if (token()) { loadHosts(); loadDetail(); } }, 5000);
}

document.addEventListener("DOMContentLoaded", init);
