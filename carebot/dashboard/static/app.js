// carebot staff dashboard: polls /api/state, renders alerts, map, chat, transcript.
// Every text comes from the message catalogue (carebot/i18n/catalogue.yaml, served by
// /api/strings) in the language chosen for this login; times in the site's time zone, 24-hour.
"use strict";

const POLL_MS = 1000;
const CAMERA_MS = 500;
const $ = (id) => document.getElementById(id);
let pollTimer = null;
let cameraTimer = null;
let lastState = null;
let knownOpen = null;      // ids of alerts needing staff, to chime on new ones
let currentUser = "";
let allowed = null;        // what this login may do (/api/me and /api/state "may"); null: the server does not say

// ------------------------------------------------------------------ language
// lang: shown now; site: the site's own (dashboard `language` parameter); zone: the site's
// IANA time zone ("" = this device's); strings: the catalogue in `lang`.
const I18N = { lang: "en", site: "en", zone: "", languages: [], names: {}, strings: {} };
// The language is chosen per login: an account's own choice (kept in this browser), else the
// site's. The login form shows this device's last choice; picking one there is the choice of
// whoever logs in next.
const LANGUAGE_KEY = "carebot.language";   // + ".user:<name>" per login; + ".device" for the login form
let loginChoice = "";

function t(key, vars) {
  const template = I18N.strings[key];
  if (template === undefined) {
    console.warn("no catalogue text for", key);   // tests fail on this: every key is in the catalogue
    return key;
  }
  return template.replace(/\{(\w+)\}/g, (whole, name) => (vars && name in vars ? String(vars[name]) : whole));
}

// A value from the robot or from people, shown as it came (never looked up in the catalogue).
class Raw { constructor(text, lang) { this.text = String(text); this.lang = lang || ""; } }
const raw = (text, lang) => new Raw(text, lang);

function rawNode(value) {
  const span = document.createElement("span");
  span.setAttribute("translate", "no");
  if (value.lang) span.lang = value.lang;
  span.textContent = value.text;
  return span;
}

// Fill `node` with the text of `key`: literal parts as text, Raw values as untranslated spans.
function fill(node, key, vars) {
  node.dataset.i18n = key;
  if (vars) node.dataset.i18nVars = JSON.stringify(vars, (k, v) => (v instanceof Raw ? { raw: v.text } : v));
  else delete node.dataset.i18nVars;
  const template = I18N.strings[key];
  if (template === undefined) { node.textContent = t(key); return node; }
  node.replaceChildren();
  let last = 0;
  template.replace(/\{(\w+)\}/g, (whole, name, offset) => {
    if (offset > last) node.append(template.slice(last, offset));
    const value = vars && name in vars ? vars[name] : whole;
    node.append(value instanceof Raw ? rawNode(value) : value instanceof Node ? value : String(value));
    last = offset + whole.length;
    return whole;
  });
  if (last < template.length) node.append(template.slice(last));
  return node;
}

function applyStatic() {
  for (const node of document.querySelectorAll("[data-i18n]")) {
    if (node.dataset.i18n.startsWith("map:")) {     // a name from the site's world file, not the catalogue
      node.textContent = siteLabel(node.dataset.i18n.slice(4));
      continue;
    }
    const vars = node.dataset.i18nVars ? JSON.parse(node.dataset.i18nVars, (k, v) => (v && v.raw !== undefined ? raw(v.raw) : v)) : undefined;
    fill(node, node.dataset.i18n, vars);
  }
  for (const node of document.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of node.dataset.i18nAttr.split(";")) {
      const [attr, key] = pair.split(":");
      node.setAttribute(attr, t(key));
    }
  }
  document.documentElement.lang = I18N.lang;
}

function savedLanguage(user) {
  try {
    return localStorage.getItem(user ? `${LANGUAGE_KEY}.user:${user}` : `${LANGUAGE_KEY}.device`) || "";
  } catch (e) { return ""; }
}

function saveLanguage(lang, user) {
  try {
    localStorage.setItem(`${LANGUAGE_KEY}.device`, lang);
    if (user) localStorage.setItem(`${LANGUAGE_KEY}.user:${user}`, lang);
  } catch (e) { /* private mode: the choice lasts this page */ }
}

async function loadLanguage(lang) {
  const query = lang ? "?lang=" + encodeURIComponent(lang) : "";
  const response = await fetch("/api/strings" + query, { credentials: "same-origin" });
  if (!response.ok) throw new Error("strings " + response.status);
  const data = await response.json();
  Object.assign(I18N, { lang: data.language, site: data.site_language, zone: data.time_zone || "",
                        languages: data.languages, names: data.language_names, strings: data.strings });
  applyStatic();
  for (const select of [$("login-language"), $("language-select")]) {
    select.replaceChildren(...I18N.languages.map((code) => {
      const option = el("option", { value: code, textContent: I18N.names[code] || code });
      option.setAttribute("translate", "no");
      option.lang = code;
      return option;
    }));
    select.value = I18N.lang;
  }
  for (const part of Object.keys(drawn)) delete drawn[part];   // redraw everything in the new language
  if (lastState && !$("main-view").hidden) render(lastState);
}

async function chooseLanguage(event) {
  const lang = event.target.value;
  if (currentUser) saveLanguage(lang, currentUser);
  else { loginChoice = lang; saveLanguage(lang, ""); }
  try { await loadLanguage(lang); } catch (e) { event.target.value = I18N.lang; }
}

// ------------------------------------------------------------------ helpers
class ApiError extends Error {
  constructor(status, key, vars) { super(key); this.status = status; this.key = key; this.vars = vars; }
}

// Server errors are shown by their meaning (the HTTP status and the route), in the page's
// language; the server's own English words stay in the console.
function errorOf(path, status, data, response) {
  if (status === 401) return new ApiError(status, path === "/api/login" ? "error.login_failed" : "error.login_required");
  if (status === 429) {
    const wait = Number(response.headers.get("Retry-After")) || Number((/(\d+)\s*s\b/.exec(data.error || "") || [])[1]) || 60;
    return new ApiError(status, "error.too_many_logins", { s: wait });
  }
  const keys = { 400: "error.bad_request", 403: "error.forbidden", 404: "error.not_found", 409: "error.conflict",
                 413: "error.bad_request", 415: "error.bad_request", 500: "error.server", 503: "error.robot_unavailable" };
  return new ApiError(status, keys[status] || "error.unknown", { status });
}

async function api(method, path, body) {
  const options = { method, credentials: "same-origin", headers: {} };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, options);
  } catch (e) {
    throw new ApiError(0, "error.network");
  }
  let data = {};
  try { data = await response.json(); } catch (e) { data = {}; }
  if (response.status === 401 && path !== "/api/login") { showLogin(); }
  if (!response.ok) {
    if (data.error) console.info(`${method} ${path}: ${response.status} ${data.error}`);
    throw errorOf(path, response.status, data, response);
  }
  return data;
}

const errorText = (error) => (error instanceof ApiError ? t(error.key, error.vars) : t("error.unknown", { status: "?" }));

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else if (key === "i18n") { if (value) fill(node, value[0], value[1]); }
    else if (key.startsWith("data-") || key === "translate" || key === "lang") node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) {
    if (child === null || child === undefined || child === "") continue;
    node.append(child instanceof Raw ? rawNode(child) : child);
  }
  return node;
}

function svg(tag, attrs) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  return node;
}

function dateParts(unix, options) {
  const base = { hourCycle: "h23", ...options };
  if (I18N.zone) base.timeZone = I18N.zone;
  try {
    return new Intl.DateTimeFormat(I18N.lang, base).format(new Date(unix * 1000));
  } catch (e) {      // an unknown zone name: this device's zone rather than no time at all
    delete base.timeZone;
    return new Intl.DateTimeFormat(I18N.lang, base).format(new Date(unix * 1000));
  }
}

// 24-hour time in the site's zone; the date too when it is not today there.
function timeText(unix) {
  if (!unix) return "";
  const time = dateParts(unix, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  const day = (u) => dateParts(u, { year: "numeric", month: "2-digit", day: "2-digit" });
  if (day(unix) === day(Date.now() / 1000)) return time;
  return dateParts(unix, { month: "2-digit", day: "2-digit" }) + " " + time;
}

const fixed = (value, digits) => Number(value).toFixed(digits);
const hasChinese = (text) => /[\u3400-\u9fff]/.test(text || "");

// A name of the site map (room, place, furniture) in the page's language: the world file's labels.
function siteLabel(name) {
  const labels = ((lastState && lastState.map && lastState.map.labels) || {})[name] || {};
  return labels[I18N.lang] || labels.en || String(name).replace(/_/g, " ");
}

// ------------------------------------------------------------------ views
function showLogin(messageKey) {
  stopPolling();
  currentUser = "";
  $("main-view").hidden = true;
  $("login-view").hidden = false;
  if (messageKey) fill($("login-error"), messageKey.key || messageKey, messageKey.vars);
  else $("login-error").replaceChildren();
  $("login-user").focus();
}

async function showMain(user, me) {
  currentUser = user;
  allowed = me && Array.isArray(me.may) ? me.may : null;
  if (me && me.role) showRole(me.role); else $("user-role").hidden = true;
  if (loginChoice) saveLanguage(loginChoice, user);        // picked on the login form: this login's choice
  const preferred = loginChoice || savedLanguage(user) || I18N.site;
  loginChoice = "";
  if (preferred !== I18N.lang) {
    try { await loadLanguage(preferred); } catch (e) { /* keep the current language */ }
  }
  $("login-view").hidden = true;
  $("main-view").hidden = false;
  $("user-name").textContent = user;
  startPolling();
}

function startPolling() {
  stopPolling();
  poll();
  pollTimer = setInterval(poll, POLL_MS);
}

function stopPolling() {
  if (pollTimer) clearInterval(pollTimer);
  if (cameraTimer) clearInterval(cameraTimer);
  pollTimer = cameraTimer = null;
}

async function poll() {
  try {
    const state = await api("GET", "/api/state");
    fill($("connection"), "page.connection.live");
    $("connection").className = "pill ok";
    render(state);
  } catch (error) {
    fill($("connection"), "page.connection.offline");
    $("connection").className = "pill bad";
  }
}

// Redraw a part only when its data changed: buttons under a finger stay put.
const drawn = {};
function changed(part, ...data) {
  const key = JSON.stringify(data);
  if (drawn[part] === key) return false;
  drawn[part] = key;
  return true;
}

const may = (action) => allowed === null || allowed.includes(action);

function render(state) {
  lastState = state;
  if (Array.isArray(state.may)) allowed = state.may;
  if (state.role) showRole(state.role);
  $("site-title").textContent = state.title;
  if (changed("alerts", state.alerts, state.map && state.map.labels)) renderAlerts(state.alerts);
  renderStatus(state.status, state.time);
  if (changed("map", state.map, state.status, state.alerts)) renderMap(state.map, state.status, state.alerts);
  if (changed("transcripts", state.transcripts)) renderTranscripts(state.transcripts);
  if (changed("health", state.diagnostics.map((d) => [d.name, d.level, d.message]))) renderHealth(state.diagnostics);
  $("camera-card").hidden = !state.camera;
  if (state.camera && !cameraTimer) {
    cameraTimer = setInterval(() => { $("camera-image").src = "/api/camera.jpg?t=" + Date.now(); }, CAMERA_MS);
  }
}

function chime() {
  // A short two-tone signal from the Web Audio API (no sound file to load).
  try {
    const audio = new (window.AudioContext || window.webkitAudioContext)();
    [880, 660].forEach((freq, i) => {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = freq;
      gain.gain.value = 0.2;
      osc.connect(gain).connect(audio.destination);
      osc.start(audio.currentTime + i * 0.25);
      osc.stop(audio.currentTime + i * 0.25 + 0.2);
    });
  } catch (e) { /* no audio on this device */ }
}

const KINDS = ["FALL", "HELP_REQUEST", "REMINDER_MISSED", "SAFETY", "SYSTEM", "MEDICAL", "FIRE"];
const STATES = ["RAISED", "ACKNOWLEDGED", "ESCALATED", "RESOLVED"];
const kindText = (kind) => (KINDS.includes(kind) ? t("kind." + kind) : kind);

// "Fall: lounge, by the sofa" in the page's language, from the alert's structured fields.
function whereText(alert) {
  const parts = [];
  if (alert.room) parts.push(siteLabel(alert.room));
  if (alert.place && alert.place !== alert.room) parts.push(t("alert.near", { place: siteLabel(alert.place) }));
  return parts.join(t("alert.where_sep"));
}

// A node's message: the first line is its headline, the lines after it the details (carebot.i18n.alert_text).
function splitMessage(message) {
  const lines = String(message || "").split("\n").map((l) => l.trim()).filter(Boolean);
  return { headline: lines[0] || "", details: lines.slice(1) };
}

function renderAlerts(alerts) {
  const list = $("alert-list");
  list.replaceChildren();
  const open = alerts.filter((a) => a.state !== "RESOLVED");
  const waiting = alerts.filter((a) => a.state === "RAISED" || a.state === "ESCALATED").map((a) => a.id);
  if (knownOpen !== null && waiting.some((id) => !knownOpen.has(id))) chime();
  knownOpen = new Set(waiting);
  document.title = (waiting.length ? `(${waiting.length}) ` : "") + t("page.title");
  if (open.length) fill($("open-count"), "page.alerts.open", { n: open.length });
  else { $("open-count").replaceChildren(); delete $("open-count").dataset.i18n; }
  $("alerts-empty").hidden = alerts.length > 0;
  for (const alert of alerts) {
    const actions = el("div", { class: "actions" });
    if ((alert.state === "RAISED" || alert.state === "ESCALATED") && may("acknowledge")) {
      actions.append(el("button", { class: "primary ack-btn", type: "button", i18n: ["page.alerts.acknowledge"],
                                     onclick: () => act(alert.id, "acknowledge") }));
    }
    if (alert.state !== "RESOLVED" && may("resolve")) {
      actions.append(el("button", { class: "secondary resolve-btn", type: "button", i18n: ["page.alerts.resolve"],
                                     onclick: () => act(alert.id, "resolve") }));
    }
    // The headline says kind and place. The node wrote its message in the site's language: when
    // that is the page's language its headline is shown as written; otherwise the page says kind
    // and place in its own words, from the alert's fields, and shows the node's words below.
    const message = splitMessage(alert.message);
    const messageLang = hasChinese(alert.message) ? "zh-CN" : "en";
    const where = whereText(alert);
    let headline;
    if (message.headline && messageLang === I18N.lang) headline = el("div", { class: "alert-headline" }, raw(message.headline, messageLang));
    else if (where) headline = el("div", { class: "alert-headline", i18n: ["alert.headline", { kind: kindText(alert.kind), where }] });
    else headline = el("div", { class: "alert-headline", i18n: [message.headline ? "page.alerts.kind_only" : "page.alerts.no_message", { kind: kindText(alert.kind) }] });
    const body = [];
    if (message.headline && messageLang !== I18N.lang) body.push(el("div", { class: "alert-message" }, raw(message.headline, messageLang)));
    const facts = [];
    if (alert.person) facts.push(el("span", { i18n: ["page.alerts.person", { person: raw(alert.person) }] }));
    const relative = relativePosition(alert);
    if (relative) facts.push(relative);
    for (const line of message.details) facts.push(el("span", {}, raw(line, messageLang)));
    if (alert.handled_by) facts.push(el("span", { i18n: ["page.alerts.handled_by", { user: raw(alert.handled_by) }] }));
    const details = el("div", { class: "alert-where muted" });
    facts.forEach((fact, i) => { if (i) details.append(" · "); details.append(fact); });
    list.append(el("li", { class: `alert sev-${alert.severity.toLowerCase()} state-${alert.state.toLowerCase()}`,
                           "data-alert-id": alert.id, "data-state": alert.state },
      el("div", { class: "alert-head" }, headline,
        el("span", { class: "alert-state", i18n: STATES.includes(alert.state) ? ["state." + alert.state] : undefined },
           STATES.includes(alert.state) ? null : raw(alert.state)),
        el("span", { class: "alert-time" }, timeText(alert.raised_at))),
      ...body, facts.length ? details : null, actions));
  }
}

// An alert says whether it has a position (position_known). It is on the map when the robot
// knew its pose at the time; otherwise the position is relative to the robot (perception's
// base frame) and cannot go on the map.
const MAP_FRAMES = ["", "map"];

function onMap(alert) {
  return alert.position_known && MAP_FRAMES.includes(alert.frame_id || "");
}

function relativePosition(alert) {
  if (!alert.position_known || onMap(alert)) return null;
  const key = alert.y >= 0 ? "page.alerts.relative_left" : "page.alerts.relative_right";
  return el("span", { i18n: [key, { ahead: fixed(alert.x, 1), side: fixed(Math.abs(alert.y), 1) }] });
}

async function act(id, verb) {
  try {
    await api("POST", `/api/alerts/${encodeURIComponent(id)}/${verb}`, { note: "" });
  } catch (error) {
    alert(errorText(error));
  }
  poll();
}

const MODES = ["IDLE", "NAVIGATING", "GESTURING", "TELEOP", "EMERGENCY_STOP", "FAULT"];
const GESTURES = ["wave", "point", "nod", "handover", "rest"];
const STATUS_STALE_S = 5;

function modeText(mode) {
  return MODES[mode] ? t("mode." + MODES[mode]) : t("mode.unknown", { mode });
}

const modeNode = (mode) => el("span", { i18n: MODES[mode] ? ["mode." + MODES[mode]] : ["mode.unknown", { mode }] });

// The robot's task as motion reports it ("navigate:kitchen", "gesture:wave", "look_at:track 3").
function taskNode(task) {
  const [verb, ...rest] = String(task || "").split(":");
  const arg = rest.join(":");
  if (!task) return el("span", { i18n: ["page.robot.no_task"] });
  if (verb === "navigate" && arg) {
    const target = arg.startsWith("(") ? raw(arg) : siteLabel(arg);
    return el("span", { i18n: ["task.navigate", { target }] });
  }
  if (verb === "gesture" && GESTURES.includes(arg)) return el("span", { i18n: ["task.gesture", { name: t("gesture." + arg) }] });
  if (verb === "look_at") return el("span", { i18n: ["task.look_at", { what: raw(arg) }] });
  return el("span", {}, raw(task));
}

function renderStatus(status, now) {
  const details = $("robot-details");
  details.replaceChildren();
  const summary = $("robot-summary");
  if (!status) {
    fill(summary, "page.robot.no_status");
    summary.className = "robot-summary";
    $("estop-reset").hidden = true;
    return;
  }
  const mode = modeText(status.mode);
  const age = now - status.received_at;
  const stale = age > STATUS_STALE_S;
  fill(summary, "page.robot.summary", { mode });
  if (status.current_task) summary.append(" · ", taskNode(status.current_task));
  if (stale) summary.append(" ", el("span", { i18n: ["page.robot.stale", { s: Math.round(age) }] }));
  summary.className = "robot-summary" + (status.emergency_stop || stale ? " stopped" : "");
  const estop = status.emergency_stop
    ? el("dd", { i18n: ["page.robot.estop_on", { reason: status.stop_reason ? raw(status.stop_reason) : t("page.robot.estop_latched") }] })
    : el("dd", { i18n: ["page.robot.estop_off"] });
  const rows = [["page.robot.mode", el("dd", {}, modeNode(status.mode))],
                ["page.robot.task", el("dd", {}, taskNode(status.current_task))],
                ["page.robot.speed_limit", el("dd", { i18n: ["page.robot.speed_value", { v: fixed(status.speed_limit, 2) }] })],
                ["page.robot.position", el("dd", { i18n: ["page.robot.position_value", { x: fixed(status.x, 2), y: fixed(status.y, 2) }] })],
                ["page.robot.estop", estop]];
  for (const [key, value] of rows) details.append(el("dt", { i18n: [key] }), value);
  // Releasing the stop is a supervisor's decision (the server says who may); others see who can.
  $("estop-reset").hidden = !status.emergency_stop || !may("reset_estop");
  $("estop-reset-note").hidden = !status.emergency_stop || may("reset_estop");
}

const ROLES = ["staff", "supervisor"];

function showRole(role) {
  const badge = $("user-role");
  if (ROLES.includes(role)) fill(badge, "page.role." + role);
  else badge.replaceChildren(rawNode(raw(role)));
  badge.hidden = false;
}

function renderMap(map, status, alerts) {
  const root = $("site-map");
  root.replaceChildren();
  if (!map || !map.width) {
    const text = svg("text", { x: 10, y: 20 });
    fill(text, "page.map.none");
    root.append(text);
    return;
  }
  const pad = 0.5;
  root.setAttribute("viewBox", `${-pad} ${-pad} ${map.width + 2 * pad} ${map.height + 2 * pad}`);
  // Map y points north; SVG y points down: flip once for everything.
  const world = svg("g", { transform: `translate(0 ${map.height}) scale(1 -1)` });
  root.append(world);
  for (const [name, r] of Object.entries(map.rooms || {})) {
    world.append(svg("rect", { x: r[0], y: r[1], width: r[2] - r[0], height: r[3] - r[1], class: "room", "data-room": name }));
  }
  for (const w of map.walls || []) world.append(svg("line", { x1: w[0], y1: w[1], x2: w[2], y2: w[3], class: "wall" }));
  for (const [name, r] of Object.entries(map.rooms || {})) {
    const label = svg("text", { x: (r[0] + r[2]) / 2, y: map.height - (r[1] + r[3]) / 2, class: "room-label", "data-room": name,
                                "data-i18n": "map:" + name });
    label.textContent = siteLabel(name);
    root.append(label);
  }
  for (const p of map.places || []) {
    world.append(svg("circle", { cx: p.x, cy: p.y, r: 0.15, class: "place" }));
  }
  for (const a of alerts || []) {
    if (a.state === "RESOLVED" || !onMap(a)) continue;
    world.append(svg("circle", { cx: a.x, cy: a.y, r: 0.4, class: "alert-marker" }));
  }
  if (status) {
    const deg = (status.theta * 180) / Math.PI;
    const robot = svg("g", { transform: `translate(${status.x} ${status.y}) rotate(${deg})`, class: "robot", id: "robot-marker" });
    robot.append(svg("circle", { r: 0.3 }), svg("path", { d: "M 0.05 -0.15 L 0.45 0 L 0.05 0.15 Z", class: "heading" }));
    world.append(robot);
  }
}

function renderTranscripts(entries) {
  const list = $("transcript-list");
  const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 4;
  list.replaceChildren();
  for (const e of entries) {
    const robot = e.speaker === "robot" || (!e.speaker && e.source.startsWith("robot"));
    const who = robot ? el("strong", { i18n: ["page.transcript.robot"] })
      : e.speaker ? el("strong", { i18n: ["page.transcript.speaker", { who: raw(e.speaker) }] })
        : el("strong", { i18n: ["page.transcript.resident"] });
    const lang = e.language ? (e.language.startsWith("zh") ? "zh-CN" : e.language) : "";
    list.append(el("li", { class: e.low_confidence ? "low" : "" },
      el("span", { class: "muted" }, timeText(e.at) + " "), who, " ",
      raw(e.text, lang),
      e.low_confidence ? el("span", { class: "muted", i18n: ["page.transcript.unsure"] }) : null));
  }
  if (atBottom) list.scrollTop = list.scrollHeight;
}

const LEVELS = ["OK", "WARN", "ERROR", "STALE"];

function renderHealth(diagnostics) {
  const body = $("health-table").tBodies[0];
  body.replaceChildren();
  if (!diagnostics.length) body.append(el("tr", {}, el("td", { class: "muted", i18n: ["page.health.none"] })));
  for (const d of diagnostics) {
    const known = LEVELS[d.level];
    const level = known ? el("td", { i18n: ["level." + known] }) : el("td", {}, raw(d.level));
    // Node names and their reports are the nodes' own words (for technicians): shown as sent.
    body.append(el("tr", { class: "level-" + (known || "unknown").toLowerCase() },
      el("td", {}, raw(d.name)), level, el("td", {}, raw(d.message))));
  }
}

// ------------------------------------------------------------------ actions
async function login(event) {
  event.preventDefault();
  try {
    const data = await api("POST", "/api/login", { user: $("login-user").value, password: $("login-password").value });
    $("login-password").value = "";
    $("login-error").replaceChildren();
    await showMain(data.user, data);
  } catch (error) {
    fill($("login-error"), error instanceof ApiError ? error.key : "error.unknown", error.vars || { status: "?" });
  }
}

async function logout() {
  // No body: the server does not read one on this route, and an unread body left on a kept-alive
  // connection spoils the next request (seen: "501 Unsupported method ('{}GET')").
  try { await api("POST", "/api/logout"); } catch (e) { /* already logged out */ }
  showLogin();
}

async function estop() {
  // No confirmation: an emergency stop must act at the first touch.
  const button = $("estop-button");
  button.disabled = true;
  try {
    const result = await api("POST", "/api/estop", {});
    fill(button, result.service_ok ? "page.estop.stopped" : "page.estop.sent");
  } catch (error) {
    alert(t("page.estop.failed", { error: errorText(error) }));
  } finally {
    button.disabled = false;
    setTimeout(() => { fill(button, "page.estop.button"); }, 3000);
  }
}

async function resetEstop() {
  if (!confirm(t("page.estop.confirm_reset"))) return;
  const reason = (prompt(t("page.estop.reason_prompt")) || "").trim();   // kept in the audit log
  if (!reason) return;
  try {
    await api("POST", "/api/estop/reset", { reason });
  } catch (error) {
    alert(error.status === 400 ? t("page.estop.reason_needed") : errorText(error));
  }
  poll();
}

const TOOLS = ["speak", "navigate_to", "gesture", "look_at", "call_staff", "set_reminder", "answer", "stop", "fetch"];

async function ask(event) {
  event.preventDefault();
  const input = $("chat-input");
  const text = input.value.trim();
  if (!text) return;
  input.value = "";
  const log = $("chat-log");
  log.append(el("p", { class: "chat-me" }, raw(text)));
  const pending = el("p", { class: "chat-robot muted" }, "…");
  log.append(pending);
  log.scrollTop = log.scrollHeight;
  try {
    const answer = await api("POST", "/api/ask", { text });
    pending.className = "chat-robot";
    if (answer.reply) pending.replaceChildren(rawNode(raw(answer.reply, hasChinese(answer.reply) ? "zh-CN" : "en")));
    else fill(pending, "page.chat.no_reply");
    if (answer.actions && answer.actions.length) {
      const tools = answer.actions.map((a) => (TOOLS.includes(a.tool) ? t("tool." + a.tool) : a.tool)).join(t("page.list_sep"));
      pending.append(" ", el("span", { class: "muted", i18n: ["page.chat.actions", { tools }] }));
    }
  } catch (error) {
    pending.className = "chat-robot error";
    fill(pending, error instanceof ApiError ? error.key : "error.unknown", error.vars || { status: "?" });
  }
  log.scrollTop = log.scrollHeight;
}

document.addEventListener("DOMContentLoaded", async () => {
  $("login-form").addEventListener("submit", login);
  $("logout-button").addEventListener("click", logout);
  $("estop-button").addEventListener("click", estop);
  $("estop-reset").addEventListener("click", resetEstop);
  $("chat-form").addEventListener("submit", ask);
  $("login-language").addEventListener("change", chooseLanguage);
  $("language-select").addEventListener("change", chooseLanguage);
  try {
    await loadLanguage(savedLanguage(""));
  } catch (error) {
    try { await loadLanguage(""); } catch (e) { /* the English words of the HTML stay */ }
  }
  try {
    const me = await api("GET", "/api/me");
    await showMain(me.user, me);
  } catch (error) {
    showLogin();
  }
});
