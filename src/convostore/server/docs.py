"""The interactive API docs page, served whole from the app: no CDN, no network.

FastAPI's stock Swagger UI and ReDoc pages load their JavaScript and CSS from
a CDN, so they are blank on an air-gapped host, and vendoring Swagger UI would
add a megabyte of third-party code to the package. This page is one small
HTML document with inline script and style: it reads ``/openapi.json``, lists
every operation with its parameters, body schema and responses, and has a
"try it" form that sends requests with the API key typed into the page (kept in
``sessionStorage`` only). Everything is inserted as text, never as HTML.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>convostore API</title>
<style>
body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1d232a;background:#f6f7f9}
header{background:#1d232a;color:#fff;padding:14px 24px;display:flex;gap:16px;align-items:center;
flex-wrap:wrap}
header h1{font-size:18px;margin:0}header input{width:420px;max-width:90vw;padding:5px}
main{max-width:1100px;margin:0 auto;padding:16px 24px}
h2{margin:24px 0 8px;font-size:17px;text-transform:capitalize}
details{background:#fff;border:1px solid #d8dde3;border-radius:6px;margin:6px 0}
summary{cursor:pointer;padding:8px 12px;display:flex;gap:12px;align-items:baseline}
.m{font:bold 12px monospace;padding:2px 6px;border-radius:4px;color:#fff;min-width:52px;
text-align:center}.GET{background:#2f7bd9}.POST{background:#2b9a5a}.PUT{background:#b07b1a}
.PATCH{background:#8a5ad1}.DELETE{background:#c9413b}
.p{font-family:monospace}.s{color:#59636e}.body{padding:4px 16px 14px}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:4px 8px;
border-bottom:1px solid #eceff2;vertical-align:top}
pre{background:#f1f3f5;padding:8px;overflow:auto;max-height:360px;font-size:12.5px}
textarea{width:100%;min-height:110px;font-family:monospace}input.v{width:100%}
button{padding:5px 14px;margin-top:8px}
</style></head><body>
<header><h1 id="title">convostore API</h1>
<label>API key <input id="key" type="password" placeholder="cs_..." autocomplete="off">
</label><a href="/openapi.json" style="color:#9cc4ff">openapi.json</a></header>
<main id="main">Loading…</main>
<script>
"use strict";
const el = (tag, attrs, ...kids) => {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) n.setAttribute(k, v);
  for (const k of kids) n.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return n;
};
const keyInput = document.getElementById("key");
keyInput.value = sessionStorage.getItem("convostore-key") || "";
keyInput.addEventListener("input", () => sessionStorage.setItem("convostore-key", keyInput.value));
let spec;
const resolve = (s) => {
  if (s && s.$ref) return resolve(spec.components.schemas[s.$ref.split("/").pop()]);
  return s || {};
};
const refName = (s) => (s && s.$ref ? s.$ref.split("/").pop() : "");
function operation(path, method, op) {
  const params = op.parameters || [];
  const inputs = {};
  const rows = params.map((p) => {
    const inp = el("input", {class: "v", placeholder: p.schema ? (p.schema.type || "") : ""});
    inputs[p.in + ":" + p.name] = inp;
    return el("tr", {}, el("td", {class: "p"}, p.name + (p.required ? " *" : "")),
      el("td", {}, p.in), el("td", {}, p.description || ""), el("td", {}, inp));
  });
  const body = el("div", {class: "body"});
  if (op.description) body.append(el("p", {}, op.description));
  if (rows.length) body.append(el("table", {}, el("tr", {}, el("th", {}, "parameter"),
    el("th", {}, "in"), el("th", {}, "description"), el("th", {}, "value")), ...rows));
  let textarea = null;
  const rb = op.requestBody && op.requestBody.content && op.requestBody.content["application/json"];
  if (rb) {
    const name = refName(rb.schema) || "body";
    body.append(el("p", {}, "Request body: " + name));
    body.append(el("pre", {}, JSON.stringify(resolve(rb.schema), null, 1)));
    textarea = el("textarea", {placeholder: "{}"});
    body.append(textarea);
  }
  const codes = Object.entries(op.responses || {}).map(([c, r]) => c + " " + (r.description || ""));
  body.append(el("p", {class: "s"}, "Responses: " + codes.join(" · ")));
  const out = el("pre", {}, "");
  const send = el("button", {}, "Send");
  send.addEventListener("click", async () => {
    let url = path;
    const query = new URLSearchParams();
    const headers = {};
    for (const p of params) {
      const v = inputs[p.in + ":" + p.name].value;
      if (v === "") continue;
      if (p.in === "path") url = url.replace("{" + p.name + "}", encodeURIComponent(v));
      else if (p.in === "query") query.append(p.name, v);
      else if (p.in === "header") headers[p.name] = v;
    }
    if (keyInput.value) headers["Authorization"] = "Bearer " + keyInput.value;
    const init = {method: method.toUpperCase(), headers};
    if (textarea && textarea.value.trim()) {
      headers["Content-Type"] = "application/json";
      init.body = textarea.value;
    }
    const qs = query.toString();
    out.textContent = "…";
    try {
      const r = await fetch(url + (qs ? "?" + qs : ""), init);
      const text = await r.text();
      let shown = text;
      try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch (e) {}
      out.textContent = r.status + " " + r.statusText + "\\n" + shown;
    } catch (e) { out.textContent = String(e); }
  });
  body.append(send, out);
  return el("details", {}, el("summary", {}, el("span", {class: "m " + method.toUpperCase()},
    method.toUpperCase()), el("span", {class: "p"}, path),
    el("span", {class: "s"}, (op.summary || "") + "  [" + (op.operationId || "") + "]")), body);
}
fetch("/openapi.json").then((r) => r.json()).then((s) => {
  spec = s;
  document.getElementById("title").textContent = s.info.title + " " + s.info.version;
  const groups = {};
  for (const [path, item] of Object.entries(s.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!["get", "post", "put", "patch", "delete"].includes(method)) continue;
      const tag = (op.tags && op.tags[0]) || "other";
      (groups[tag] = groups[tag] || []).push(operation(path, method, op));
    }
  }
  const main = document.getElementById("main");
  main.textContent = "";
  if (s.info.description) main.append(el("p", {}, s.info.description));
  for (const [tag, ops] of Object.entries(groups)) main.append(el("h2", {}, tag), ...ops);
}).catch((e) => { document.getElementById("main").textContent = "Cannot load: " + e; });
</script></body></html>
"""


@router.get("/docs", response_class=HTMLResponse)
async def docs_page() -> HTMLResponse:
    """The interactive API documentation."""
    return HTMLResponse(
        _PAGE,
        headers={
            "Content-Security-Policy": "default-src 'self'; script-src 'unsafe-inline'; "
            "style-src 'unsafe-inline'; connect-src 'self'",
        },
    )
