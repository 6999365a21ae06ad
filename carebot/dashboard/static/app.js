// carebot staff dashboard: polls /api/state, renders alerts, map, chat, transcript.
"use strict";

const POLL_MS = 1000;
const CAMERA_MS = 500;
const $ = (id) => document.getElementById(id);
let pollTimer = null;
let cameraTimer = null;
let lastState = null;
let knownOpen = null;      // ids of alerts needing staff, to chime on new ones

async function api(method, path, body) {
  const options = { method, credentials: "same-origin", headers: {} };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  let data = {};
  try { data = await response.json(); } catch (e) { data = {}; }
  if (response.status === 401 && path !== "/api/login") { showLogin(); }
  if (!response.ok) { throw new Error(data.error || response.statusText); }
  return data;
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else if (key.startsWith("data-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

function svg(tag, attrs) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  return node;
}

function timeText(unix) {
  if (!unix) return "";
  return new Date(unix * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

// ------------------------------------------------------------------ views
function showLogin(message) {
  stopPolling();
  $("main-view").hidden = true;
  $("login-view").hidden = false;
  $("login-error").textContent = message || "";
  $("login-user").focus();
}

function showMain(user) {
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
    $("connection").textContent = "live";
    $("connection").className = "pill ok";
    render(state);
  } catch (error) {
    $("connection").textContent = "offline";
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

function render(state) {
  lastState = state;
  $("site-title").textContent = state.title;
  if (changed("alerts", state.alerts)) renderAlerts(state.alerts);
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

function renderAlerts(alerts) {
  const list = $("alert-list");
  list.replaceChildren();
  const open = alerts.filter((a) => a.state !== "RESOLVED");
  const waiting = alerts.filter((a) => a.state === "RAISED" || a.state === "ESCALATED").map((a) => a.id);
  if (knownOpen !== null && waiting.some((id) => !knownOpen.has(id))) chime();
  knownOpen = new Set(waiting);
  document.title = (waiting.length ? `(${waiting.length}) ` : "") + "carebot dashboard";
  $("open-count").textContent = open.length ? open.length + " open" : "";
  $("alerts-empty").hidden = alerts.length > 0;
  for (const alert of alerts) {
    const room = alert.room && alert.room !== alert.place ? alert.room.replace(/_/g, " ") : "";
    const where = [alert.place, room, alert.person, relativePosition(alert)].filter(Boolean).join(" · ");
    const actions = el("div", { class: "actions" });
    if (alert.state === "RAISED" || alert.state === "ESCALATED") {
      actions.append(el("button", { class: "primary ack-btn", type: "button", textContent: "Acknowledge",
                                     onclick: () => act(alert.id, "acknowledge") }));
    }
    if (alert.state !== "RESOLVED") {
      actions.append(el("button", { class: "secondary resolve-btn", type: "button", textContent: "Resolve",
                                     onclick: () => act(alert.id, "resolve") }));
    }
    const handled = alert.handled_by ? `by ${alert.handled_by}` : "";
    list.append(el("li", { class: `alert sev-${alert.severity.toLowerCase()} state-${alert.state.toLowerCase()}`,
                           "data-alert-id": alert.id },
      el("div", { class: "alert-head" },
        el("span", { class: "alert-kind", textContent: alert.kind.replace(/_/g, " ") }),
        el("span", { class: "alert-state", textContent: alert.state }),
        el("span", { class: "alert-time", textContent: timeText(alert.raised_at) })),
      el("div", { class: "alert-message", textContent: alert.message || "(no message)" }),
      el("div", { class: "alert-where muted", textContent: [where, handled].filter(Boolean).join(" — ") }),
      actions));
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
  if (!alert.position_known || onMap(alert)) return "";
  const side = alert.y >= 0 ? "left" : "right";
  return `${alert.x.toFixed(1)} m ahead, ${Math.abs(alert.y).toFixed(1)} m ${side} of the robot when seen`;
}

async function act(id, verb) {
  try {
    await api("POST", `/api/alerts/${encodeURIComponent(id)}/${verb}`, { note: "" });
  } catch (error) {
    alert(error.message);
  }
  poll();
}

const MODES = ["IDLE", "NAVIGATING", "GESTURING", "TELEOP", "EMERGENCY STOP", "FAULT"];

const STATUS_STALE_S = 5;

function renderStatus(status, now) {
  const details = $("robot-details");
  details.replaceChildren();
  if (!status) {
    $("robot-summary").textContent = "robot: no status yet";
    $("estop-reset").hidden = true;
    return;
  }
  const mode = MODES[status.mode] || `mode ${status.mode}`;
  const age = now - status.received_at;
  const stale = age > STATUS_STALE_S ? ` (no update for ${Math.round(age)} s)` : "";
  $("robot-summary").textContent = `robot: ${mode}${status.current_task ? " · " + status.current_task : ""}${stale}`;
  $("robot-summary").className = "robot-summary" + (status.emergency_stop || stale ? " stopped" : "");
  const rows = [["Mode", mode], ["Task", status.current_task || "—"],
                ["Speed limit", `${status.speed_limit.toFixed(2)} m/s`],
                ["Position", `x ${status.x.toFixed(2)} m, y ${status.y.toFixed(2)} m`],
                ["Emergency stop", status.emergency_stop ? `ON (${status.stop_reason || "latched"})` : "off"]];
  for (const [key, value] of rows) details.append(el("dt", { textContent: key }), el("dd", { textContent: value }));
  $("estop-reset").hidden = !status.emergency_stop;
}

function renderMap(map, status, alerts) {
  const root = $("site-map");
  root.replaceChildren();
  if (!map || !map.width) { root.append(svg("text", { x: 10, y: 20 })); root.lastChild.textContent = "no map"; return; }
  const pad = 0.5;
  root.setAttribute("viewBox", `${-pad} ${-pad} ${map.width + 2 * pad} ${map.height + 2 * pad}`);
  // Map y points north; SVG y points down: flip once for everything.
  const world = svg("g", { transform: `translate(0 ${map.height}) scale(1 -1)` });
  root.append(world);
  for (const [name, r] of Object.entries(map.rooms || {})) {
    world.append(svg("rect", { x: r[0], y: r[1], width: r[2] - r[0], height: r[3] - r[1], class: "room" }));
  }
  for (const w of map.walls || []) world.append(svg("line", { x1: w[0], y1: w[1], x2: w[2], y2: w[3], class: "wall" }));
  const label = (x, y, text, cls) => {
    const t = svg("text", { x, y: map.height - y, class: cls });
    t.textContent = text;
    root.append(t);
  };
  for (const [name, r] of Object.entries(map.rooms || {})) label((r[0] + r[2]) / 2, (r[1] + r[3]) / 2, name.replace(/_/g, " "), "room-label");
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
    const who = e.speaker || (e.source.startsWith("robot") ? "robot" : "resident");
    list.append(el("li", { class: e.low_confidence ? "low" : "" },
      el("span", { class: "muted", textContent: timeText(e.at) + " " }),
      el("strong", { textContent: who + ": " }),
      el("span", { textContent: e.text }),
      e.low_confidence ? el("span", { class: "muted", textContent: " (unsure)" }) : null));
  }
  if (atBottom) list.scrollTop = list.scrollHeight;
}

const LEVELS = ["OK", "WARN", "ERROR", "STALE"];

function renderHealth(diagnostics) {
  const body = $("health-table").tBodies[0];
  body.replaceChildren();
  if (!diagnostics.length) body.append(el("tr", {}, el("td", { textContent: "no diagnostics yet", class: "muted" })));
  for (const d of diagnostics) {
    const level = LEVELS[d.level] || String(d.level);
    body.append(el("tr", { class: "level-" + level.toLowerCase() },
      el("td", { textContent: d.name }), el("td", { textContent: level }),
      el("td", { textContent: d.message })));
  }
}

// ------------------------------------------------------------------ actions
async function login(event) {
  event.preventDefault();
  try {
    const data = await api("POST", "/api/login", { user: $("login-user").value, password: $("login-password").value });
    $("login-password").value = "";
    showMain(data.user);
  } catch (error) {
    $("login-error").textContent = error.message;
  }
}

async function logout() {
  try { await api("POST", "/api/logout", {}); } catch (e) { /* already logged out */ }
  showLogin();
}

async function estop() {
  // No confirmation: an emergency stop must act at the first touch.
  const button = $("estop-button");
  button.disabled = true;
  try {
    const result = await api("POST", "/api/estop", {});
    button.textContent = result.service_ok ? "STOPPED" : "STOP SENT";
  } catch (error) {
    alert("Emergency stop failed: " + error.message);
  } finally {
    button.disabled = false;
    setTimeout(() => { button.textContent = "STOP"; }, 3000);
  }
}

async function resetEstop() {
  if (!confirm("Release the emergency stop? The robot may move again.")) return;
  try { await api("POST", "/api/estop/reset", {}); } catch (error) { alert(error.message); }
  poll();
}

async function ask(event) {
  event.preventDefault();
  const input = $("chat-input");
  const text = input.value.trim();
  if (!text) return;
  input.value = "";
  const log = $("chat-log");
  log.append(el("p", { class: "chat-me", textContent: text }));
  const pending = el("p", { class: "chat-robot muted", textContent: "…" });
  log.append(pending);
  log.scrollTop = log.scrollHeight;
  try {
    const answer = await api("POST", "/api/ask", { text });
    pending.className = "chat-robot";
    pending.textContent = answer.reply || "(no reply)";
    if (answer.actions && answer.actions.length) {
      pending.append(el("span", { class: "muted", textContent: " [" + answer.actions.map((a) => a.tool).join(", ") + "]" }));
    }
  } catch (error) {
    pending.className = "chat-robot error";
    pending.textContent = error.message;
  }
  log.scrollTop = log.scrollHeight;
}

document.addEventListener("DOMContentLoaded", async () => {
  $("login-form").addEventListener("submit", login);
  $("logout-button").addEventListener("click", logout);
  $("estop-button").addEventListener("click", estop);
  $("estop-reset").addEventListener("click", resetEstop);
  $("chat-form").addEventListener("submit", ask);
  try {
    const me = await api("GET", "/api/me");
    showMain(me.user);
  } catch (error) {
    showLogin();
  }
});
