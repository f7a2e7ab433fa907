"use strict";
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  for (const child of children) node.append(child);
  return node;
}
function resolve(spec, schema, depth) {
  // Inline $refs so each schema reads on its own (bounded, in case of cycles).
  if (depth > 8 || schema === null || typeof schema !== "object") return schema;
  if (Array.isArray(schema)) return schema.map((item) => resolve(spec, item, depth + 1));
  if (schema.$ref) {
    const name = schema.$ref.split("/").pop();
    return resolve(spec, (spec.components.schemas || {})[name] || {}, depth + 1);
  }
  const out = {};
  for (const [key, value] of Object.entries(schema)) if (key !== "title") out[key] = resolve(spec, value, depth + 1);
  return out;
}
function schemaBlock(spec, label, schema) {
  return [el("h4", {}, label), el("pre", {}, JSON.stringify(resolve(spec, schema, 0), null, 2))];
}
function render(spec) {
  const ops = document.getElementById("ops");
  ops.textContent = "";
  const order = ["get", "post", "put", "delete"];
  for (const path of Object.keys(spec.paths).sort()) {
    for (const verb of order) {
      const op = spec.paths[path][verb];
      if (!op) continue;
      const head = el("summary", {}, el("span", {class: "verb " + verb}, verb.toUpperCase()), " " + path);
      if (op.security && op.security.length) head.append(" ", el("span", {class: "lock"}, "\u{1F512} token"));
      const body = el("div", {class: "body"});
      if (op.description || op.summary) body.append(el("p", {}, op.description || op.summary));
      const params = (op.parameters || []).filter((p) => p.in !== "header");
      if (params.length) {
        const table = el("table", {}, el("tr", {}, el("th", {}, "parameter"), el("th", {}, "in"), el("th", {}, "type")));
        for (const p of params) table.append(el("tr", {}, el("td", {}, p.name), el("td", {}, p.in),
          el("td", {}, JSON.stringify(resolve(spec, p.schema || {}, 0)))));
        body.append(el("h4", {}, "Parameters"), table);
      }
      const request = op.requestBody && op.requestBody.content && op.requestBody.content["application/json"];
      if (request) body.append(...schemaBlock(spec, "Request body", request.schema));
      for (const [status, response] of Object.entries(op.responses || {})) {
        const json = response.content && response.content["application/json"];
        if (json) body.append(...schemaBlock(spec, "Response " + status, json.schema));
        else body.append(el("h4", {}, "Response " + status + " (no body)"));
      }
      ops.append(el("details", {}, head, body));
    }
  }
}
fetch("openapi.json")
  .then((response) => { if (!response.ok) throw new Error("openapi.json answered " + response.status); return response.json(); })
  .then(render)
  .catch((error) => { document.getElementById("error").textContent = String(error); });
