"use strict";
// The fleet staff view: polls /api/fleet every second and redraws what changed. Login and
// alert actions use the dashboard's API; no inline script (the page's CSP forbids it).
const $ = (id) => document.getElementById(id);
let timer = null;
let last = {};

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "onclick") node.addEventListener("click", value);
    else if (key === "className") node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

function svg(tag, attrs) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  return node;
}

async function api(method, path, body) {
  const options = { method, credentials: "same-origin", headers: {} };
  if (method === "POST") {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body || {});
  }
  const response = await fetch(path, options);
  let data = {};
  try { data = await response.json(); } catch (e) { data = {}; }
  if (response.status === 401 && path !== "/api/login") { showLogin(); throw new Error("login required"); }
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

function timeText(unix) { return new Date(unix * 1000).toLocaleTimeString(); }

function showLogin(message) {
  clearInterval(timer); timer = null;
  $("main-view").hidden = true; $("login-view").hidden = false;
  $("login-error").textContent = message || "";
}

function showMain(user) {
  $("login-view").hidden = true; $("main-view").hidden = false;
  $("user").textContent = user;
  last = {};
  poll();
  if (!timer) timer = setInterval(poll, 1000);
}

async function poll() {
  try {
    const state = await api("GET", "/api/fleet");
    $("message").textContent = "";
    render(state);
  } catch (e) {
    if (e.message !== "login required") $("message").textContent = "fleet view unreachable: " + e.message;
  }
}

function changed(part, data) {
  const text = JSON.stringify(data);
  if (last[part] === text) return false;
  last[part] = text;
  return true;
}

function render(state) {
  $("title").textContent = state.title;
  const online = state.robots.filter((r) => r.online).length;
  const open = state.alerts.filter((a) => a.state !== "RESOLVED").length;
  $("summary").textContent = `${online}/${state.robots.length} robots online, ${open} open alert(s)`;
  document.title = (open ? `(${open}) ` : "") + state.title;
  if (changed("alerts", state.alerts)) renderAlerts(state.alerts);
  if (changed("robots", state.robots)) renderRobots(state.robots, state.maps);
  if (changed("maps", [state.maps, state.robots.map((r) => [r.robot, r.pose, r.online]), state.alerts])) {
    renderMaps(state.maps, state.robots, state.alerts);
  }
  if (changed("decisions", state.decisions)) renderDecisions(state.decisions);
}

function renderAlerts(alerts) {
  const list = $("alerts");
  list.replaceChildren();
  if (!alerts.length) list.append(el("li", {}, "No alerts."));
  for (const a of alerts) {
    const buttons = [];
    if (a.state !== "RESOLVED" && a.state !== "ACKNOWLEDGED") {
      buttons.push(el("button", { onclick: () => act(a.id, "acknowledge"), "data-alert": a.id }, "Acknowledge"));
    }
    if (a.state !== "RESOLVED") {
      buttons.push(el("button", { onclick: () => act(a.id, "resolve"), "data-alert": a.id }, "Resolve"));
    }
    const where = [a.room, a.place].filter(Boolean).join(", ");
    list.append(el("li", { className: `${a.severity} ${a.state}`, "data-alert": a.id },
      el("strong", {}, `${a.kind} ${a.state}`), " ",
      el("span", { className: "meta" }, `${a.site}/${a.robot} · ${timeText(a.raised_at)}${where ? " · " + where : ""}`),
      el("div", { translate: "no" }, a.message),
      a.handled_by ? el("div", { className: "meta" }, `by ${a.handled_by}`) : "",
      el("div", {}, ...buttons)));
  }
}

async function act(id, verb) {
  try { await api("POST", `/api/alerts/${encodeURIComponent(id)}/${verb}`, { note: "" }); poll(); }
  catch (e) { $("message").textContent = e.message; }
}

function renderRobots(robots, maps) {
  const body = $("robots").querySelector("tbody");
  body.replaceChildren();
  for (const r of robots) {
    const name = `${r.site}/${r.robot}`;
    const doing = r.estop ? `EMERGENCY STOP ${r.stop_reason}` : (r.task || (r.busy ? "busy" : r.mode));
    const task = r.fleet_task ? `${r.fleet_task.kind} ${r.fleet_task.alert_id || ""} ${r.fleet_task.status}` : "";
    const places = (maps[r.world] || { places: [] }).places.map((p) => p.name);
    const select = el("select", { "aria-label": `place for ${name}` }, ...places.map((p) => el("option", { value: p }, p)));
    const go = el("button", { onclick: () => send(r, "goto", { place: select.value }) }, "Send");
    const stop = el("button", { className: "stop", onclick: () => send(r, "estop", {}), "data-robot": name }, "STOP");
    body.append(el("tr", { "data-robot": name },
      el("td", {}, name), el("td", { className: r.online ? "online" : "offline" }, r.online ? "online" : "offline"),
      el("td", {}, doing), el("td", { title: r.health_message }, r.health), el("td", {}, task),
      el("td", {}, stop, " ", select, go)));
  }
}

async function send(robot, verb, body) {
  try { await api("POST", `/api/fleet/robots/${encodeURIComponent(robot.site)}/${encodeURIComponent(robot.robot)}/${verb}`, body); }
  catch (e) { $("message").textContent = e.message; }
}

function renderMaps(maps, robots, alerts) {
  const box = $("maps");
  box.replaceChildren();
  for (const [name, map] of Object.entries(maps)) {
    const scale = 28;
    const drawing = svg("svg", { width: map.width * scale, height: map.height * scale,
      viewBox: `0 0 ${map.width} ${map.height}`, role: "img", "aria-label": `map of ${name}` });
    const flip = svg("g", { transform: `matrix(1 0 0 -1 0 ${map.height})` });
    for (const w of map.walls) flip.append(svg("line", { x1: w[0], y1: w[1], x2: w[2], y2: w[3], stroke: "#374151", "stroke-width": 0.12 }));
    for (const a of alerts) {
      if (a.state === "RESOLVED" || !a.position_known || (a.frame_id && a.frame_id !== "map")) continue;
      flip.append(svg("circle", { cx: a.x, cy: a.y, r: 0.45, fill: a.severity === "CRITICAL" ? "#dc2626" : "#f59e0b",
        "data-alert": a.id }));
    }
    for (const r of robots) {
      if (r.world !== name || !r.pose) continue;
      const g = svg("g", { transform: `translate(${r.pose[0]} ${r.pose[1]}) rotate(${r.pose[2] * 180 / Math.PI})`,
        "data-robot": `${r.site}/${r.robot}` });
      g.append(svg("circle", { r: 0.3, fill: r.online ? "#2563eb" : "#9ca3af" }));
      g.append(svg("line", { x1: 0, y1: 0, x2: 0.45, y2: 0, stroke: "#111", "stroke-width": 0.08 }));
      flip.append(g);
    }
    drawing.append(flip);
    for (const r of robots) {
      if (r.world !== name || !r.pose) continue;
      const label = svg("text", { x: r.pose[0] + 0.4, y: map.height - r.pose[1] - 0.4, "font-size": 0.5 });
      label.textContent = r.robot;
      drawing.append(label);
    }
    box.append(el("figure", {}, drawing, el("figcaption", {}, name)));
  }
}

function renderDecisions(decisions) {
  const list = $("decisions");
  list.replaceChildren(...decisions.slice().reverse().map((d) => el("li", {}, `${timeText(d.at)} ${d.alert_id}: ${d.text}`)));
}

async function login(event) {
  event.preventDefault();
  try {
    const data = await api("POST", "/api/login", { user: $("login-user").value, password: $("login-password").value });
    $("login-password").value = "";
    showMain(data.user);
  } catch (e) { $("login-error").textContent = e.message; }
}

async function logout() {
  try { await api("POST", "/api/logout", {}); } catch (e) { /* already out */ }
  showLogin();
}

async function estopAll() {
  try { const r = await api("POST", "/api/estop", {}); $("message").textContent = `STOP sent to ${r.sent_to.length} robot(s)`; }
  catch (e) { $("message").textContent = e.message; }
}

document.addEventListener("DOMContentLoaded", async () => {
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", logout);
  $("estop-all").addEventListener("click", estopAll);
  try { const me = await api("GET", "/api/me"); showMain(me.user); } catch (e) { showLogin(); }
});
