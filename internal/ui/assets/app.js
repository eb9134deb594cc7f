// strata ui: one page, each view drawn from the JSON API. No framework,
// nothing from the internet; every request carries the per-start token.
"use strict";

const TOKEN = document.querySelector('meta[name="strata-token"]').content;
const READ_ONLY = document.querySelector('meta[name="strata-read-only"]').content === "true";
const main = document.getElementById("main");

// el makes an element: el("td", {class: "num"}, "text", child...).
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "style") e.style.cssText = v; // CSSOM: the CSP forbids style attributes
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? "" : v);
  }
  for (const k of kids.flat()) if (k !== undefined && k !== null) e.append(k instanceof Node ? k : String(k));
  return e;
}

async function api(path, opts) {
  const o = Object.assign({headers: {}}, opts || {});
  o.headers["X-Strata-Token"] = TOKEN;
  if (o.body && typeof o.body !== "string") { o.body = JSON.stringify(o.body); o.headers["Content-Type"] = "application/json"; }
  const r = await fetch(path, o);
  const j = await r.json().catch(() => ({error: r.status + " " + r.statusText}));
  if (!r.ok) throw new Error(j.error || r.statusText);
  return j;
}
const post = (path, body) => api(path, {method: "POST", body: body || {}});

function human(n) {
  if (n < 1000) return n + " B";
  const u = ["kB", "MB", "GB", "TB"]; let i = -1;
  do { n /= 1000; i++; } while (n >= 1000 && i < u.length - 1);
  return (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2)) + " " + u[i];
}
function since(t) {
  const s = (Date.now() - new Date(t).getTime()) / 1000;
  if (s < 60) return "less than a minute ago";
  for (const [n, w] of [[31536000, "year"], [2592000, "month"], [604800, "week"], [86400, "day"], [3600, "hour"], [60, "minute"]])
    if (s >= n) { const k = Math.floor(s / n); return k + " " + w + (k > 1 ? "s" : "") + " ago"; }
}
const esc = s => String(s).replace(/[&<>"']/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"})[c]);
const short = id => id.replace(/^sha256:/, "").slice(0, 12);
function message(text, kind) {
  const m = document.getElementById("message");
  if (!m) return;
  m.className = "msg " + (kind || ""); m.textContent = text; m.hidden = !text;
}

// ---- images page ----
let sortKey = "created", sortDesc = true;

async function imagesPage() {
  main.replaceChildren(el("h1", {}, "Images"),
    el("div", {class: "bar"},
      el("input", {type: "search", id: "filter", placeholder: "Filter by name or ID", oninput: drawRows}),
      el("button", {id: "delete", class: "danger", disabled: true, onclick: deleteSelected}, "Delete selected"),
      el("button", {id: "compare", disabled: true, onclick: compareSelected}, "Compare two"),
      el("label", {}, el("input", {type: "checkbox", id: "prune-all"}), " unused too (-a)"),
      el("button", {id: "prune-preview", onclick: prunePreview}, "Prune…")),
    el("div", {class: "bar"},
      el("input", {type: "text", id: "pull-ref", placeholder: "Pull NAME[:TAG]"}),
      el("button", {id: "pull-go", class: "primary", onclick: pull}, "Pull")),
    el("div", {id: "pull-progress"}),
    el("div", {id: "message", class: "msg", hidden: true}),
    el("div", {id: "prune-box"}),
    el("table", {id: "images"}, el("thead", {}, el("tr", {},
      el("th", {}, el("input", {type: "checkbox", id: "select-all", onchange: e => {
        document.querySelectorAll("#images tbody input.select").forEach(c => c.checked = e.target.checked); selectionChanged(); }})),
      ...[["repository", "Repository"], ["tag", "Tag"], ["id", "Image ID"], ["created", "Created"], ["size", "Size", "num"],
          ["shared", "Shared", "num"], ["unique", "Unique", "num"], ["containers", "Used by"]].map(([k, t, c]) =>
        el("th", {"data-sort": k, class: c, onclick: () => { sortDesc = sortKey === k ? !sortDesc : false; sortKey = k; drawRows(); }}, t)))),
      el("tbody", {onchange: selectionChanged})));
  if (READ_ONLY) for (const id of ["delete", "prune-preview", "pull-go"]) document.getElementById(id).hidden = true;
  await loadImages();
}

let imageRows = [];
async function loadImages() {
  imageRows = await api("/api/images");
  drawRows();
}

function drawRows() {
  const f = (document.getElementById("filter") || {}).value || "";
  const key = r => sortKey === "containers" ? r.containers.length : sortKey === "created" ? new Date(r.created).getTime() : r[sortKey];
  const rows = imageRows.filter(r => !f || (r.repository + ":" + r.tag).includes(f) || r.id.includes(f))
    .sort((a, b) => { const x = key(a), y = key(b); return (x < y ? -1 : x > y ? 1 : 0) * (sortDesc ? -1 : 1); });
  // One string for the whole body: hundreds of rows drawn element by
  // element take the browser ten times longer.
  const tb = document.querySelector("#images tbody");
  tb.innerHTML = rows.map(r => `<tr class="image-row" data-id="${esc(r.id)}" data-ref="${esc(r.ref)}">` +
    `<td><input type="checkbox" class="select"></td>` +
    `<td><a class="open" href="#/image/${esc(encodeURIComponent(r.id))}">${esc(r.repository)}</a></td>` +
    `<td>${esc(r.tag)}</td><td class="mono">${esc(short(r.id))}</td><td title="${esc(r.created)}">${esc(since(r.created))}</td>` +
    `<td class="num">${human(r.size)}</td><td class="num">${human(r.shared)}</td><td class="num">${human(r.unique)}</td>` +
    `<td>${esc(r.containers.join(", "))}</td></tr>`).join("");
  document.querySelectorAll("#images th[data-sort]").forEach(th => th.classList.toggle("sorted", th.dataset.sort === sortKey));
  selectionChanged();
}

function selected() {
  return [...document.querySelectorAll("#images tbody tr")].filter(tr => tr.querySelector("input.select").checked);
}
function selectionChanged() {
  const n = selected().length;
  document.getElementById("delete").disabled = n === 0;
  document.getElementById("compare").disabled = n !== 2;
}

async function deleteSelected() {
  const refs = selected().map(tr => tr.dataset.ref);
  try {
    const res = await post("/api/images/delete", {refs});
    const lines = [];
    for (const r of res) {
      if (r.error) lines.push("Error response from daemon: " + r.error);
      for (const u of r.untagged) lines.push("Untagged: " + u);
      for (const d of r.deleted) lines.push("Deleted: " + d);
    }
    message(lines.join("\n"), res.some(r => r.error) ? "err" : "ok");
  } catch (e) { message(e.message, "err"); }
  await loadImages();
}

function compareSelected() {
  const [a, b] = selected().map(tr => tr.dataset.ref);
  location.hash = "#/compare/" + encodeURIComponent(a) + "/" + encodeURIComponent(b);
}

async function prunePreview() {
  const all = document.getElementById("prune-all").checked;
  const box = document.getElementById("prune-box");
  const pv = await api("/api/prune" + (all ? "?all=1" : ""));
  box.replaceChildren(el("div", {class: "msg", id: "prune-summary", "data-bytes": pv.bytes, "data-count": pv.images.length},
    pv.images.length === 0 ? "Nothing to prune." :
      `${pv.images.length} image(s) would be removed, reclaiming ${human(pv.bytes)}:`,
    el("ul", {id: "prune-list"}, pv.images.map(i => el("li", {"data-id": i.id}, (i.names && i.names.length ? i.names.join(", ") + " " : "") + short(i.id)))),
    pv.images.length ? el("button", {id: "prune-go", class: "danger", onclick: async () => {
      try {
        const res = await post("/api/prune" + (all ? "?all=1" : ""));
        box.replaceChildren();
        message(`Deleted ${res.images.length} image(s). Total reclaimed space: ${human(res.bytes)}`, "ok");
      } catch (e) { message(e.message, "err"); }
      await loadImages();
    }}, "Prune now") : null));
}

async function pull() {
  const ref = document.getElementById("pull-ref").value.trim();
  if (!ref) return;
  const box = document.getElementById("pull-progress");
  box.replaceChildren(el("div", {id: "pull-status"}, "Pulling " + ref + "…"));
  let job;
  try { job = await post("/api/pulls", {ref}); } catch (e) { message(e.message, "err"); box.replaceChildren(); return; }
  const layers = {};
  const es = new EventSource("/api/pulls/" + job.id + "/events");
  es.onmessage = ev => {
    const e = JSON.parse(ev.data);
    if (e.layer) {
      let l = layers[e.layer];
      if (!l) {
        l = layers[e.layer] = {bar: el("progress", {max: 1, value: 0}), st: el("span", {class: "muted"})};
        box.append(el("div", {class: "pl pull-layer", "data-layer": e.layer}, el("span", {class: "mono"}, e.layer.slice(0, 12)), l.bar, l.st));
      }
      if (e.type === "bytes") { l.bar.max = e.total || 1; l.bar.value = e.current; l.st.textContent = `${e.status} ${human(e.current)} / ${human(e.total)}`; }
      else { l.st.textContent = e.status; if (/complete|exists/i.test(e.status)) l.bar.value = l.bar.max; }
    }
    if (e.type === "done") {
      es.close();
      document.getElementById("pull-status").textContent = "Pulled " + e.ref + " (" + short(e.image) + ")";
      document.getElementById("pull-status").className = "done";
      loadImages();
    }
    if (e.type === "error") { es.close(); document.getElementById("pull-status").textContent = "Error: " + e.error; }
  };
}

// ---- image page ----
function wasteColour(l) {
  // green when the layer wastes nothing, to red when all it holds is waste
  const r = l.size > 0 ? Math.min(1, l.wastedBytes / l.size) : 0;
  return `hsl(${Math.round(140 - 140 * r)}, 60%, 40%)`;
}

async function imagePage(id) {
  main.replaceChildren(el("p", {class: "muted"}, "Analysing…"));
  const d = await api("/api/images/" + encodeURIComponent(id));
  const a = d.analysis;
  const total = a.layers.reduce((s, l) => s + l.size, 0) || 1;
  const title = d.names.length ? d.names.join(", ") : short(d.id);
  const cfg = d.config || {};
  main.replaceChildren(
    el("h1", {id: "image-title"}, title), el("p", {class: "mono muted"}, d.id + " · " + d.platform + " · created " + since(d.created)),
    el("div", {class: "figs"},
      el("div", {class: "fig"}, "Efficiency", el("b", {id: "efficiency"}, (a.efficiency * 100).toFixed(2) + " %")),
      el("div", {class: "fig"}, "Wasted bytes", el("b", {id: "wasted"}, human(a.wastedBytes))),
      el("div", {class: "fig"}, "Image size", el("b", {}, human(a.sizeBytes))),
      el("div", {class: "fig"}, "Layers", el("b", {}, a.layers.length))),
    el("div", {class: "cols"},
      el("div", {}, el("h2", {}, "Layers (to scale, coloured by waste)"),
        el("div", {id: "bands"}, a.layers.map(l => el("div", {
          class: "band" + (l.onlyMetadata ? " meta" : ""), "data-layer": l.index, "data-size": l.size,
          style: `height:${Math.max(18, Math.round(480 * l.size / total))}px;background:${wasteColour(l)}`,
          title: l.instruction, onclick: () => location.hash = `#/layer/${encodeURIComponent(d.id)}/${l.index}`},
          el("span", {}, l.index + (l.onlyMetadata ? " (metadata only)" : "")),
          el("span", {class: "instr"}, l.instruction.length > 48 ? l.instruction.slice(0, 47) + "…" : l.instruction),
          el("span", {}, human(l.size)))).reverse())),
      el("div", {}, el("h2", {}, "Layers"),
        el("table", {id: "layers"}, el("thead", {}, el("tr", {}, ["#", "Size", "Wasted", "Instruction", "Shared with"].map(t => el("th", {}, t)))),
          el("tbody", {}, a.layers.map(l => el("tr", {},
            el("td", {}, el("a", {href: `#/layer/${encodeURIComponent(d.id)}/${l.index}`}, l.index)),
            el("td", {class: "num"}, human(l.size)), el("td", {class: "num"}, human(l.wastedBytes)),
            el("td", {class: "mono", style: "white-space:normal"}, l.instruction + (l.onlyMetadata ? " [metadata only]" : "")),
            el("td", {style: "white-space:normal"}, (d.sharedWith[l.index] || []).join(", ")))))),
        el("h2", {}, "Packages and findings per layer"),
        el("div", {id: "packages"}, el("p", {class: "muted"}, "Reading packages…")),
        el("h2", {}, "Wasted space (files replaced or removed by a later layer)"),
        a.inefficientFiles && a.inefficientFiles.length ? el("table", {id: "waste"},
          el("thead", {}, el("tr", {}, ["Count", "Wasted", "Path"].map(t => el("th", {}, t)))),
          el("tbody", {}, a.inefficientFiles.slice(0, 100).map(f => el("tr", {}, el("td", {class: "num"}, f.count), el("td", {class: "num"}, human(f.bytes)), el("td", {class: "mono"}, f.path))))) :
          el("p", {class: "muted"}, "None."),
        a.wastedCopies && a.wastedCopies.length ? el("table", {}, el("thead", {}, el("tr", {}, ["Path", "Size", "Written by", "Hidden by"].map(t => el("th", {}, t)))),
          el("tbody", {}, a.wastedCopies.slice(0, 100).map(c => el("tr", {}, el("td", {class: "mono"}, c.path), el("td", {class: "num"}, human(c.size)),
            el("td", {}, "layer " + c.writtenBy), el("td", {}, "layer " + c.replacedBy + " (" + c.how + ")"))))) : null,
        d.platforms.length ? el("div", {}, el("h2", {}, "Multi-platform image"),
          d.platforms.map(p => el("p", {}, (p.names && p.names.length ? p.names.join(", ") : short(p.digest)) + ": " + p.platforms.join(", ")))) : null,
        el("h2", {}, "Config"),
        el("table", {id: "config"}, el("tbody", {}, [["Entrypoint", cfg.Entrypoint], ["Cmd", cfg.Cmd], ["Env", cfg.Env], ["WorkingDir", cfg.WorkingDir],
          ["User", cfg.User], ["ExposedPorts", cfg.ExposedPorts && Object.keys(cfg.ExposedPorts)], ["Labels", cfg.Labels]].map(([k, v]) =>
          el("tr", {}, el("th", {}, k), el("td", {class: "mono", style: "white-space:pre-wrap"}, v === undefined || v === null ? "" :
            Array.isArray(v) ? v.join("\n") : typeof v === "object" ? Object.entries(v).map(([x, y]) => x + "=" + y).join("\n") : v))))))));
  await drawPackages(d.id, a.layers);
}

// drawPackages fills the image page's packages section: per layer, the
// packages it adds and the advisories of the packages it ships (a package
// a later layer removed still ships in this layer's blob).
async function drawPackages(id, layers) {
  const box = document.getElementById("packages");
  const p = await api("/api/images/" + encodeURIComponent(id) + "/packages");
  const status = x => x.removedIn < 0 ? "present" : "removed in layer " + x.removedIn + (x.replacedBy ? " by " + x.replacedBy : "");
  box.replaceChildren(
    p.db ? el("p", {class: "muted"}, "Advisories: " + p.db) : el("p", {class: "muted", id: "no-db"}, "No advisory database: load one with strata scan --db-import."),
    p.warnings.length ? el("div", {class: "msg err"}, p.warnings.join("\n")) : null,
    ...p.layers.filter(l => l.packages.length || l.findings.length).map(l => el("div", {class: "layer-packages", "data-layer": l.index},
      el("h3", {}, "Layer " + l.index + ": " + l.packages.length + " package(s), " + l.findings.length + " finding(s)"),
      el("p", {class: "mono muted"}, layers[l.index] ? layers[l.index].instruction : ""),
      l.findings.length ? el("table", {class: "findings"}, el("thead", {}, el("tr", {}, ["Advisory", "Severity", "Package", "Installed", "Fixed", "Status"].map(t => el("th", {}, t)))),
        el("tbody", {}, l.findings.map(f => el("tr", {class: "finding sev-" + f.severity, "data-id": f.id, "data-package": f.package},
          el("td", {}, f.id), el("td", {}, f.severity), el("td", {}, f.package), el("td", {class: "mono"}, f.installed), el("td", {class: "mono"}, f.fixed || ""),
          el("td", {}, f.removedIn < 0 ? "present" : "removed in layer " + f.removedIn + ", still shipped"))))) : null,
      el("table", {class: "packages"}, el("thead", {}, el("tr", {}, ["Package", "Version", "Type", "Status", "Path"].map(t => el("th", {}, t)))),
        el("tbody", {}, l.packages.slice(0, 500).map(x => el("tr", {class: "pkg", "data-name": x.name, "data-version": x.version},
          el("td", {}, x.name), el("td", {class: "mono"}, x.version), el("td", {}, x.ecosystem), el("td", {}, status(x)), el("td", {class: "mono"}, x.path))))))));
}

// ---- layer page ----
async function layerPage(id, n) {
  const view = sessionStorage.getItem("view") || "layer";
  main.replaceChildren(
    el("h1", {}, "Layer " + n), el("p", {}, el("a", {href: "#/image/" + encodeURIComponent(id)}, "← image")),
    el("div", {class: "bar"},
      el("label", {}, el("input", {type: "radio", name: "view", id: "view-layer", checked: view === "layer", onchange: () => { sessionStorage.setItem("view", "layer"); layerPage(id, n); }}), " what this layer changed"),
      el("label", {}, el("input", {type: "radio", name: "view", id: "view-image", checked: view === "image", onchange: () => { sessionStorage.setItem("view", "image"); layerPage(id, n); }}), " the image up to this layer"),
      el("input", {type: "search", id: "search", placeholder: "Search a path in every layer", onchange: e => search(id, e.target.value)})),
    el("div", {id: "search-hits"}),
    el("ul", {class: "tree root", id: "tree"}));
  await openDir(id, n, view, "/", document.getElementById("tree"));
}

async function openDir(id, n, view, dir, ul) {
  const t = await api(`/api/images/${encodeURIComponent(id)}/layers/${n}/tree?view=${view}&dir=${encodeURIComponent(dir)}`);
  ul.replaceChildren(...t.entries.map(e => {
    const li = el("li", {class: "node" + (e.dir ? " dir" : ""), "data-path": e.path, "data-status": e.status},
      el("span", {class: "name st-" + e.status}, e.name + (e.dir ? "/" : "")),
      el("span", {class: "size"}, human(e.size) + (e.status !== "unchanged" ? " · " + e.status : "")));
    if (e.dir) li.firstChild.addEventListener("click", async () => {
      const open = li.querySelector(":scope > ul");
      if (open) { open.remove(); return; }
      const sub = el("ul", {class: "tree"}); li.append(sub);
      await openDir(id, n, view, e.path, sub);
    });
    return li;
  }));
  if (t.entries.length === 0) ul.append(el("li", {class: "muted"}, "(empty)"));
}

async function search(id, q) {
  const box = document.getElementById("search-hits");
  if (!q) { box.replaceChildren(); return; }
  const hits = await api(`/api/images/${encodeURIComponent(id)}/search?q=${encodeURIComponent(q)}`);
  box.replaceChildren(el("table", {id: "hits"}, el("tbody", {}, hits.map(h => el("tr", {},
    el("td", {}, el("a", {href: `#/layer/${encodeURIComponent(id)}/${h.layer}`}, "layer " + h.layer)),
    el("td", {class: "st-" + h.status}, h.status), el("td", {class: "mono"}, h.path), el("td", {class: "num"}, human(h.size)))))));
}

// ---- compare ----
async function comparePage(a, b) {
  main.replaceChildren(el("p", {class: "muted"}, "Comparing…"));
  const r = await api(`/api/compare?a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}`);
  const kind = {A: "added", D: "removed", C: "modified"};
  main.replaceChildren(el("h1", {}, `${r.a} ↔ ${r.b}`),
    el("h2", {}, "Layers"), el("table", {id: "compare-layers"}, el("thead", {}, el("tr", {}, ["Where", "A #", "B #", "DiffID", "Size"].map(t => el("th", {}, t)))),
      el("tbody", {}, r.layers.map(l => el("tr", {class: "where-" + l.where}, el("td", {}, l.where), el("td", {}, l.indexA < 0 ? "" : l.indexA),
        el("td", {}, l.indexB < 0 ? "" : l.indexB), el("td", {class: "mono"}, short(l.diffID)), el("td", {class: "num"}, human(l.size)))))),
    el("h2", {}, "Files"), (r.files || []).length ? el("table", {id: "compare-files"}, el("tbody", {}, r.files.slice(0, 2000).map(f => el("tr", {},
      el("td", {class: "st-" + kind[f.kind]}, f.kind), el("td", {class: "mono"}, f.path), el("td", {class: "num"}, human(f.sizeA)), el("td", {class: "num"}, human(f.sizeB)),
      el("td", {}, (f.what || []).join(", ")))))) : el("p", {class: "muted"}, "No file differs."),
    el("h2", {}, "Config"), (r.config || []).length ? el("table", {id: "compare-config"}, el("tbody", {}, r.config.map(c => el("tr", {},
      el("th", {}, c.field), el("td", {class: "mono"}, JSON.stringify(c.a)), el("td", {class: "mono"}, JSON.stringify(c.b)))))) :
      el("p", {class: "muted"}, "Same config."));
}

// ---- containers ----
async function containersPage() {
  main.replaceChildren(el("h1", {}, "Containers"), el("div", {id: "message", class: "msg", hidden: true}));
  let cs;
  try { cs = await api("/api/containers"); } catch (e) { message(e.message, "err"); return; }
  main.append(el("table", {id: "containers"}, el("thead", {}, el("tr", {}, ["Name", "ID", "Image", "State", "Created", ""].map(t => el("th", {}, t)))),
    el("tbody", {}, cs.map(c => el("tr", {class: "container-row", "data-id": c.id},
      el("td", {}, c.name), el("td", {class: "mono"}, short(c.id)), el("td", {}, c.imageRef || short(c.image)),
      el("td", {}, c.state + (c.state === "exited" ? ` (${c.exitCode})` : "")), el("td", {}, since(c.created)),
      el("td", {}, el("a", {href: "#/container/" + c.id}, "diff")))))));
}

async function containerDiffPage(id) {
  const cs = await api("/api/containers/" + encodeURIComponent(id) + "/diff");
  main.replaceChildren(el("h1", {}, "Changes in container " + short(id)), el("p", {}, el("a", {href: "#/containers"}, "← containers")),
    cs.length ? el("pre", {id: "diff"}, cs.map(c => c.kind + " " + c.path).join("\n")) : el("p", {class: "muted"}, "No change."));
}

// ---- routing ----
async function route() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  document.querySelectorAll("header nav a").forEach(a => a.classList.toggle("on", location.hash.startsWith(a.getAttribute("href"))));
  try {
    switch (parts[0]) {
      case "image": await imagePage(parts[1]); break;
      case "layer": await layerPage(parts[1], parts[2]); break;
      case "compare": await comparePage(parts[1], parts[2]); break;
      case "containers": await containersPage(); break;
      case "container": await containerDiffPage(parts[1]); break;
      default: await imagesPage();
    }
    document.body.dataset.readyAt = performance.now(); // for bench/ui_bench.sh
    document.body.dataset.ready = decodeURIComponent(location.hash || "#/images");
  } catch (e) {
    main.replaceChildren(el("div", {class: "msg err", id: "error"}, e.message));
    document.body.dataset.ready = "error";
  }
}
window.addEventListener("hashchange", () => { delete document.body.dataset.ready; route(); });
route();
