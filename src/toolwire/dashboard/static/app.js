// toolwire dashboard: plain JS + SVG, no build step, nothing loaded from outside.
"use strict";

const SVGNS = "http://www.w3.org/2000/svg";
const token = new URLSearchParams(location.search).get("token");
const $ = (sel) => document.querySelector(sel);

async function api(path) {
  const headers = token ? { Authorization: "Bearer " + token } : {};
  const response = await fetch(path, { headers, credentials: "same-origin" });
  if (!response.ok) throw new Error(path + ": HTTP " + response.status);
  return response.json();
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const child of children) node.append(child);
  return node;
}

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

const fmtTime = (epoch) => new Date(epoch * 1000).toLocaleString();
const fmtMs = (ms) => (ms >= 1000 ? (ms / 1000).toFixed(2) + " s" : Math.round(ms) + " ms");

function filters() {
  const form = new FormData($("#filters"));
  const params = new URLSearchParams();
  for (const [k, v] of form.entries()) if (v) params.set(k, v);
  return params;
}

function fillSelect(select, values) {
  const current = select.value;
  select.replaceChildren(el("option", { value: "", text: "all" }));
  for (const v of values) select.append(el("option", { value: v, text: v }));
  select.value = values.includes(current) ? current : "";
}

// ---------------------------------------------------------------- list view
async function showList() {
  $("#list-view").hidden = false;
  $("#detail-view").hidden = true;
  const params = filters();
  const data = await api("api/conversations?" + params);
  fillSelect($("#filters [name=provider]"), data.facets.providers);
  fillSelect($("#filters [name=model]"), data.facets.models);
  $("#db-path").textContent = data.db;
  const body = $("#conversations tbody");
  body.replaceChildren();
  for (const c of data.conversations) {
    const row = el(
      "tr",
      {
        class: c.errors ? "conversation has-error" : "conversation",
        "data-conversation": c.conversation_id,
        onclick: () => (location.hash = "#/c/" + encodeURIComponent(c.conversation_id)),
      },
      el("td", { text: fmtTime(c.started) }),
      el("td", { text: c.conversation_id }),
      el("td", { text: c.providers.join(", ") }),
      el("td", { text: c.models.join(", ") }),
      el("td", { class: "n", text: c.model_calls }),
      el("td", { class: "n", text: c.tool_calls }),
      el("td", { class: "n errors", text: c.errors }),
      el("td", { class: "n", text: c.input_tokens + " + " + c.output_tokens }),
      el("td", { class: "n", text: fmtMs(c.duration_ms) }),
    );
    body.append(row);
  }
  $("#empty").hidden = data.conversations.length > 0;
  const stats = await api("api/stats?" + params);
  drawChart($("#chart"), stats.points);
}

function drawChart(root, points) {
  root.replaceChildren();
  const width = root.clientWidth || 800;
  const height = 140;
  const pad = { l: 48, r: 48, t: 8, b: 20 };
  root.setAttribute("viewBox", `0 0 ${width} ${height}`);
  if (!points.length) {
    root.append(svg("text", { x: pad.l, y: 60, fill: "#6b7385" }, "no model calls recorded"));
    return;
  }
  const t0 = points[0].started;
  const t1 = Math.max(points[points.length - 1].started, t0 + 1e-3);
  const maxMs = Math.max(...points.map((p) => p.duration_ms), 1);
  const tokens = (p) => (p.input_tokens || 0) + (p.output_tokens || 0);
  const maxTok = Math.max(...points.map(tokens), 1);
  const x = (t) => pad.l + ((t - t0) / (t1 - t0)) * (width - pad.l - pad.r);
  const yMs = (ms) => height - pad.b - (ms / maxMs) * (height - pad.t - pad.b);
  const yTok = (n) => height - pad.b - (n / maxTok) * (height - pad.t - pad.b);
  root.append(svg("line", { x1: pad.l, x2: width - pad.r, y1: height - pad.b, y2: height - pad.b, stroke: "#e3e6ec" }));
  const barW = Math.max(2, Math.min(10, (width - pad.l - pad.r) / points.length / 2));
  for (const p of points) {
    root.append(svg("rect", { x: x(p.started) - barW / 2, y: yTok(tokens(p)), width: barW, height: height - pad.b - yTok(tokens(p)), fill: "#c7b6ef", class: "tokens-bar" }));
  }
  const line = points.map((p, i) => (i ? "L" : "M") + x(p.started).toFixed(1) + " " + yMs(p.duration_ms).toFixed(1)).join(" ");
  root.append(svg("path", { d: line, fill: "none", stroke: "#3b6fd8", "stroke-width": 1.5 }));
  for (const p of points) {
    const dot = svg("circle", { cx: x(p.started), cy: yMs(p.duration_ms), r: 3, fill: p.status === "error" ? "#d64545" : "#3b6fd8", class: "latency-point" });
    dot.append(svg("title", {}, `${fmtTime(p.started)} ${p.model}: ${fmtMs(p.duration_ms)}, ${tokens(p)} tokens`));
    root.append(dot);
  }
  root.append(svg("text", { x: 4, y: pad.t + 10, "font-size": 11, fill: "#3b6fd8" }, fmtMs(maxMs)));
  root.append(svg("text", { x: width - pad.r + 4, y: pad.t + 10, "font-size": 11, fill: "#7a4fd6" }, maxTok + " tok"));
  root.append(svg("text", { x: pad.l, y: height - 4, "font-size": 11, fill: "#6b7385" }, fmtTime(t0)));
  root.append(svg("text", { x: width - pad.r, y: height - 4, "font-size": 11, fill: "#6b7385", "text-anchor": "end" }, fmtTime(t1)));
}

// ---------------------------------------------------------------- conversation view
async function showConversation(id) {
  $("#list-view").hidden = true;
  $("#detail-view").hidden = false;
  $("#conv-title").textContent = id;
  $("#event-title").textContent = "Click a bar to see its arguments, result, tokens and errors";
  $("#event-detail").replaceChildren();
  const data = await api("api/conversations/" + encodeURIComponent(id));
  const events = data.events;
  const chats = events.filter((e) => e.kind === "chat");
  const tools = events.filter((e) => e.kind === "tool");
  const errors = events.filter((e) => e.status === "error");
  const tin = chats.reduce((s, e) => s + (e.input_tokens || 0), 0);
  const tout = chats.reduce((s, e) => s + (e.output_tokens || 0), 0);
  const providers = [...new Set(chats.map((e) => e.provider + " / " + e.model))].join(", ");
  const summary = $("#conv-summary");
  summary.replaceChildren(
    `${providers || "no model call"} · ${chats.length} model turn(s) · ${tools.length} tool execution(s) · `,
    el("span", { class: errors.length ? "err-count has-errors" : "err-count", text: `${errors.length} error(s)` }),
    ` · tokens ${tin} in + ${tout} out · `,
    el("span", { class: "key chat" }), "model turn",
    el("span", { class: "key tool" }), "tool",
    el("span", { class: "key err" }), "error",
  );
  drawTimeline($("#timeline"), events);
}

function drawTimeline(container, events) {
  container.replaceChildren();
  const width = Math.max(container.clientWidth || 900, 600);
  const labelW = 210;
  const rowH = 26;
  const top = 24;
  const right = 160;
  const height = top + rowH * events.length + 8;
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, height, class: "timeline" });
  const t0 = Math.min(...events.map((e) => e.started));
  const t1 = Math.max(...events.map((e) => e.started + (e.duration_ms || 0) / 1000), t0 + 1e-3);
  const span = t1 - t0;
  const x = (t) => labelW + ((t - t0) / span) * (width - labelW - right);
  // axis: 5 ticks in ms from the first event
  const axis = svg("g", { class: "axis" });
  for (let i = 0; i <= 5; i++) {
    const t = t0 + (span * i) / 5;
    axis.append(svg("line", { x1: x(t), x2: x(t), y1: top - 6, y2: height }));
    axis.append(svg("text", { x: x(t), y: 12, "text-anchor": "middle" }, "+" + fmtMs((t - t0) * 1000)));
  }
  root.append(axis);
  events.forEach((e, i) => {
    const y = top + i * rowH;
    if (i % 2 === 0) root.append(svg("rect", { x: 0, y, width, height: rowH, class: "stripe" }));
    const label = e.kind === "chat" ? "model · " + (e.model || e.provider) : "tool · " + e.name;
    root.append(svg("text", { x: 8, y: y + 17, class: "row-label" + (e.status === "error" ? " error" : "") }, label));
    const bx = x(e.started);
    const bw = Math.max(3, x(e.started + (e.duration_ms || 0) / 1000) - bx);
    const bar = svg("rect", {
      x: bx, y: y + 5, width: bw, height: rowH - 10,
      class: `bar ${e.kind}${e.status === "error" ? " error" : ""}`,
      "data-kind": e.kind, "data-status": e.status, "data-name": e.name || e.model || "", "data-event": e.id,
    });
    bar.append(svg("title", {}, `${label}: ${fmtMs(e.duration_ms || 0)}${e.error ? " — " + e.error : ""}`));
    bar.addEventListener("click", () => selectEvent(e, bar));
    root.append(bar);
    let note = fmtMs(e.duration_ms || 0);
    if (e.kind === "chat" && e.input_tokens != null) note += ` · ${e.input_tokens}+${e.output_tokens} tok`;
    if (e.status === "error") note += " · " + (e.error_type || "error");
    if (e.images && e.images.length) note += ` · ${e.images.length} image(s)`;
    root.append(svg("text", { x: bx + bw + 6, y: y + 17, class: "bar-text" }, note));
  });
  container.append(root);
}

function selectEvent(e, bar) {
  document.querySelectorAll("#timeline .bar.selected").forEach((b) => b.classList.remove("selected"));
  bar.classList.add("selected");
  const title = e.kind === "chat" ? `Model turn · ${e.provider} / ${e.model}` : `Tool · ${e.name}`;
  $("#event-title").textContent = title;
  const meta = el("dl", { class: "meta" });
  const add = (k, v) => meta.append(el("dt", { text: k }), el("dd", { text: String(v) }));
  add("event", e.id);
  add("started", fmtTime(e.started));
  add("duration", fmtMs(e.duration_ms || 0));
  add("status", e.status);
  if (e.kind === "chat") {
    add("tokens", `${e.input_tokens ?? "?"} in, ${e.output_tokens ?? "?"} out`);
    add("finish reason", e.finish_reason ?? "");
    add("streamed", e.stream ? "yes" : "no");
  } else {
    add("call id", e.tool_call_id);
  }
  const parts = [meta];
  if (e.status === "error") parts.push(el("div", { class: "err", text: `${e.error_type || "error"}: ${e.error || ""}` }));
  if (e.kind === "tool") {
    parts.push(el("h3", { text: "arguments" }), el("pre", { class: "arguments", text: JSON.stringify(e.request && e.request.arguments, null, 2) }));
    const result = e.response || {};
    parts.push(el("h3", { text: result.error ? "error" : "result" }), el("pre", { class: "result", text: result.error || result.output || "" }));
  } else {
    const response = e.response || {};
    if (response.content) parts.push(el("h3", { text: "answer" }), el("pre", { text: response.content }));
    if (response.tool_calls && response.tool_calls.length) {
      parts.push(el("h3", { text: "tool calls" }), el("pre", { text: JSON.stringify(response.tool_calls.map((c) => ({ id: c.id, name: c.name, arguments: c.arguments })), null, 2) }));
    }
    parts.push(el("h3", { text: "request" }), el("pre", { class: "request", text: JSON.stringify(e.request, null, 2) }));
  }
  const images = thumbnails(e.images || []);
  if (images) parts.splice(1, 0, el("h3", { text: "images" }), images);
  $("#event-detail").replaceChildren(...parts);
}

// Stored images by hash (same origin, so the CSP's img-src 'self' allows them; the token cookie
// authorizes them); a URL image is shown as its address, never loaded from its host.
function thumbnails(images) {
  if (!images.length) return null;
  const box = el("div", { class: "thumbs" });
  for (const image of images) {
    const label = `${image.media_type || "image"}${image.size != null ? " · " + (image.size / 1000).toFixed(1) + " KB" : ""}`;
    if (image.src) {
      box.append(el("a", { href: image.src, target: "_blank", rel: "noopener", title: `sha256:${image.sha256}` },
        el("img", { class: "thumb", src: image.src, alt: label, loading: "lazy" }),
        el("span", { text: label })));
    } else {
      box.append(el("span", { class: "thumb-url", text: `image at ${image.url}` }));
    }
  }
  return box;
}

// ---------------------------------------------------------------- routing
function route() {
  const match = location.hash.match(/^#\/c\/(.+)$/);
  const view = match ? showConversation(decodeURIComponent(match[1])) : showList();
  view
    .then(() => document.body.setAttribute("data-ready", match ? "conversation" : "list"))
    .catch((err) => {
      document.body.setAttribute("data-ready", "error");
      $("main").prepend(el("p", { class: "err", text: String(err) }));
    });
}

document.addEventListener("DOMContentLoaded", () => {
  $("#filters").addEventListener("change", () => (location.hash ? (location.hash = "") : route()));
  $("#refresh").addEventListener("click", route);
  window.addEventListener("hashchange", () => {
    document.body.removeAttribute("data-ready");
    route();
  });
  route();
});
