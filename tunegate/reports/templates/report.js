/* tunegate report: paginated item browser and flip tables.
   Data comes from the JSON block #tg-data. Untrusted text is only ever inserted with
   textContent / createTextNode; this script never parses data as HTML. */
(function () {
  "use strict";
  var t0 = performance.now();
  var root = document.documentElement;
  var DATA;
  try {
    DATA = JSON.parse(document.getElementById("tg-data").textContent);
  } catch (err) {
    fail(err);
    return;
  }
  var PAGE = DATA.pageSize || 50;
  var FLIP_PAGE = DATA.flipPageSize || 10;
  var LABELS = DATA.labels || [];

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }
  function button(text, onClick, disabled) {
    var b = el("button", "btn", text);
    b.type = "button";
    b.disabled = !!disabled;
    b.addEventListener("click", onClick);
    return b;
  }
  function fmtScore(x) {
    if (x === null || x === undefined || typeof x !== "number") return "\u2014";
    return String(Number(x.toFixed(3)));
  }
  function count(n) {
    return n.toLocaleString("en-US");
  }
  function textCell(text, cls) {
    var td = el("td", cls);
    td.appendChild(el("div", "cell-text", text || ""));
    return td;
  }

  function pager(total, page, onGo, noun, size) {
    size = size || PAGE;
    var pages = Math.max(1, Math.ceil(total / size));
    var bar = el("div", "pager");
    bar.appendChild(button("\u2039 Prev", function () { onGo(page - 1); }, page <= 0));
    var first = total ? page * size + 1 : 0;
    var last = Math.min(total, (page + 1) * size);
    bar.appendChild(el("span", "pager-info",
      count(first) + "\u2013" + count(last) + " of " + count(total) + " " + noun +
      " \u00b7 page " + count(page + 1) + " of " + count(pages)));
    bar.appendChild(button("Next \u203a", function () { onGo(page + 1); }, page >= pages - 1));
    return bar;
  }

  /* ---------- item browser ---------- */
  var itemsRoot = document.getElementById("tg-items");
  var state = { suite: 0, q: "", worse: false, page: 0 };
  var hay = {};
  var tbody, pagerTop, pagerBottom, input, suiteSel, worseBox;

  function readHash() {
    var h = location.hash || "";
    if (h.indexOf("#items?") !== 0) return;
    var params = new URLSearchParams(h.slice(7));
    var s = parseInt(params.get("suite") || "0", 10);
    var p = parseInt(params.get("page") || "1", 10);
    state.suite = isFinite(s) && s >= 0 && s < DATA.suites.length ? s : 0;
    state.q = params.get("q") || "";
    state.worse = params.get("worse") === "1";
    state.page = isFinite(p) && p > 0 ? p - 1 : 0;
  }
  function writeHash() {
    var params = new URLSearchParams();
    params.set("suite", String(state.suite));
    if (state.q) params.set("q", state.q);
    if (state.worse) params.set("worse", "1");
    params.set("page", String(state.page + 1));
    try { history.replaceState(null, "", "#items?" + params.toString()); } catch (e) { /* file:// quirks */ }
  }
  function haystack(si) {
    if (!hay[si]) {
      hay[si] = DATA.suites[si].items.map(function (it) {
        var prompt = it.p.map(function (k) { return (DATA.messages[k] || ["", ""])[1]; });
        return [it.i, it.t, it.r].concat(prompt, it.o).join("\u0001").toLowerCase();
      });
    }
    return hay[si];
  }
  function filtered() {
    var suite = DATA.suites[state.suite];
    var q = state.q.trim().toLowerCase();
    var h = q ? haystack(state.suite) : null;
    var out = [];
    for (var k = 0; k < suite.items.length; k++) {
      if (state.worse && !suite.items[k].w) continue;
      if (h && h[k].indexOf(q) < 0) continue;
      out.push(suite.items[k]);
    }
    return out;
  }
  function scoreList(it, metrics) {
    var box = el("div", "scores");
    metrics.forEach(function (m, k) {
      var v = it.s[k];
      if (!v || !v.length) return;
      var line = el("div", "score-line");
      var base = v[0];
      var worse = false, better = false;
      for (var j = 1; j < v.length; j++) {
        if (typeof v[j] === "number" && typeof base === "number") {
          if (v[j] < base) worse = true;
          if (v[j] > base) better = true;
        }
      }
      if (worse) line.className += " worse";
      else if (better) line.className += " better";
      line.appendChild(el("span", "score-metric", m));
      line.appendChild(el("span", "score-vals", v.map(fmtScore).join(" \u2192 ")));
      box.appendChild(line);
      var why = it.j && it.j[k];
      if (why && why.some(function (t) { return !!t; })) {
        var det = el("details", "rationale");
        det.appendChild(el("summary", null, "judge rationale"));
        why.forEach(function (text, j) {
          if (!text) return;
          var p = el("div", "cell-text");
          p.appendChild(el("b", null, (LABELS[j] || "?") + ": "));
          p.appendChild(document.createTextNode(text));
          det.appendChild(p);
        });
        box.appendChild(det);
      }
    });
    return box;
  }
  function promptCell(indexes) {
    var messages = indexes.map(function (k) { return DATA.messages[k] || ["?", ""]; });
    var td = el("td", "col-prompt");
    var last = "";
    messages.forEach(function (m) { if (m[0] === "user") last = m[1]; });
    if (!last && messages.length) last = messages[messages.length - 1][1];
    var det = el("details");
    det.appendChild(el("summary", null, last.length > 120 ? last.slice(0, 120) + "\u2026" : last));
    var full = el("div", "cell-text");
    messages.forEach(function (m) {
      full.appendChild(el("b", null, m[0] + ": "));
      full.appendChild(document.createTextNode(m[1] + "\n"));
    });
    det.appendChild(full);
    td.appendChild(det);
    return td;
  }
  function renderItems() {
    var suite = DATA.suites[state.suite];
    var rows = filtered();
    var pages = Math.max(1, Math.ceil(rows.length / PAGE));
    if (state.page >= pages) state.page = pages - 1;
    if (state.page < 0) state.page = 0;
    var start = state.page * PAGE;
    var frag = document.createDocumentFragment();
    rows.slice(start, start + PAGE).forEach(function (it) {
      var tr = el("tr", "item-row");
      tr.appendChild(textCell(it.i, "mono col-id"));
      tr.appendChild(textCell(it.t, "col-tags"));
      tr.appendChild(promptCell(it.p));
      tr.appendChild(textCell(it.r, "col-text"));
      it.o.forEach(function (out) { tr.appendChild(textCell(out, "col-text")); });
      var sc = el("td", "col-scores");
      sc.appendChild(scoreList(it, suite.metrics));
      tr.appendChild(sc);
      frag.appendChild(tr);
    });
    clear(tbody);
    if (!rows.length) {
      var tr = el("tr");
      var td = el("td", "empty", "No item matches.");
      td.colSpan = 5 + LABELS.length;
      tr.appendChild(td);
      frag.appendChild(tr);
    }
    tbody.appendChild(frag);
    var go = function (p) { state.page = p; renderItems(); writeHash(); };
    var noun = "items";
    var top = pager(rows.length, state.page, go, noun);
    var bottom = pager(rows.length, state.page, go, noun);
    pagerTop.parentNode.replaceChild(top, pagerTop);
    pagerBottom.parentNode.replaceChild(bottom, pagerBottom);
    pagerTop = top;
    pagerBottom = bottom;
  }
  function buildItems() {
    if (!itemsRoot) return;
    clear(itemsRoot);
    if (!DATA.suites.length) {
      itemsRoot.appendChild(el("p", "muted", "results.json holds no items."));
      return;
    }
    readHash();
    var controls = el("div", "controls");
    suiteSel = el("select");
    suiteSel.setAttribute("aria-label", "Suite");
    DATA.suites.forEach(function (s, k) {
      var opt = el("option", null, s.name + " (" + count(s.items.length) + ")");
      opt.value = String(k);
      suiteSel.appendChild(opt);
    });
    suiteSel.value = String(state.suite);
    suiteSel.addEventListener("change", function () {
      state.suite = parseInt(suiteSel.value, 10) || 0;
      state.page = 0;
      buildTable();
      renderItems();
      writeHash();
    });
    input = el("input");
    input.type = "search";
    input.placeholder = "Search ids, tags, references, outputs\u2026";
    input.setAttribute("aria-label", "Search items");
    input.value = state.q;
    var timer = null;
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () { state.q = input.value; state.page = 0; renderItems(); writeHash(); }, 150);
    });
    var lab = el("label", "check");
    worseBox = el("input");
    worseBox.type = "checkbox";
    worseBox.checked = state.worse;
    worseBox.addEventListener("change", function () {
      state.worse = worseBox.checked; state.page = 0; renderItems(); writeHash();
    });
    lab.appendChild(worseBox);
    lab.appendChild(document.createTextNode(" only items where a candidate scored lower"));
    controls.appendChild(suiteSel);
    controls.appendChild(input);
    controls.appendChild(lab);
    itemsRoot.appendChild(controls);
    pagerTop = el("div");
    itemsRoot.appendChild(pagerTop);
    var wrap = el("div", "table-wrap");
    wrap.appendChild(el("table", "data items"));
    itemsRoot.appendChild(wrap);
    pagerBottom = el("div");
    itemsRoot.appendChild(pagerBottom);
    buildTable();
    renderItems();
  }
  function buildTable() {
    var table = itemsRoot.querySelector("table.items");
    clear(table);
    var thead = el("thead");
    var hr = el("tr");
    ["id", "tags", "prompt", "reference"].concat(LABELS.map(function (l) { return "output: " + l; }))
      .concat(["scores (" + LABELS.join(" \u2192 ") + ")"])
      .forEach(function (h) { hr.appendChild(el("th", null, h)); });
    thead.appendChild(hr);
    table.appendChild(thead);
    tbody = el("tbody");
    table.appendChild(tbody);
  }

  /* ---------- flip tables ---------- */
  var itemIndex = {};
  function findItem(si, id) {
    if (si < 0 || !DATA.suites[si]) return null;
    if (!itemIndex[si]) {
      var map = new Map();
      DATA.suites[si].items.forEach(function (it) { map.set(it.i, it); });
      itemIndex[si] = map;
    }
    return itemIndex[si].get(id) || null;
  }
  function push(out, op, text) {
    if (!text) return;
    if (out.length && out[out.length - 1][0] === op) out[out.length - 1][1] += text;
    else out.push([op, text]);
  }
  /* Word-level diff: [[op, text]...], "=" shared, "-" only in a, "+" only in b. Whitespace runs are
     tokens, so the "=" and "-" parts join back to a exactly. LCS after trimming the common prefix
     and suffix; a pair too large for the table is shown as one replacement. */
  function wordDiff(a, b) {
    var A = a.match(/\s+|\S+/g) || [], B = b.match(/\s+|\S+/g) || [];
    var pre = 0;
    while (pre < A.length && pre < B.length && A[pre] === B[pre]) pre++;
    var suf = 0;
    while (suf < A.length - pre && suf < B.length - pre && A[A.length - 1 - suf] === B[B.length - 1 - suf]) suf++;
    var x = A.slice(pre, A.length - suf), y = B.slice(pre, B.length - suf);
    var out = [];
    push(out, "=", A.slice(0, pre).join(""));
    var n = x.length, m = y.length, w = m + 1;
    if (n * m > 1000000) {
      push(out, "-", x.join(""));
      push(out, "+", y.join(""));
    } else {
      var L = new Uint32Array((n + 1) * w);
      for (var i = n - 1; i >= 0; i--) {
        for (var j = m - 1; j >= 0; j--) {
          L[i * w + j] = x[i] === y[j] ? L[(i + 1) * w + j + 1] + 1 : Math.max(L[(i + 1) * w + j], L[i * w + j + 1]);
        }
      }
      var p = 0, q = 0;
      while (p < n && q < m) {
        if (x[p] === y[q]) { push(out, "=", x[p]); p++; q++; }
        else if (L[(p + 1) * w + q] >= L[p * w + q + 1]) { push(out, "-", x[p]); p++; }
        else { push(out, "+", y[q]); q++; }
      }
      while (p < n) push(out, "-", x[p++]);
      while (q < m) push(out, "+", y[q++]);
    }
    push(out, "=", A.slice(A.length - suf).join(""));
    return out;
  }
  function diffCell(segments, keep) {
    var td = el("td", "col-text");
    var div = el("div", "cell-text");
    if (!segments) {
      div.appendChild(el("span", "muted", "(item not in results.json)"));
    } else {
      segments.forEach(function (seg) {
        if (seg[0] === "=") div.appendChild(document.createTextNode(seg[1]));
        else if (seg[0] === keep) div.appendChild(el(keep === "-" ? "del" : "ins", null, seg[1]));
      });
    }
    td.appendChild(div);
    return td;
  }
  function buildFlips(block, host) {
    var fstate = { dir: block.base_only.length ? "base_only" : "candidate_only", page: 0 };
    var body = el("div");
    function render() {
      clear(body);
      var rows = block[fstate.dir];
      var tabs = el("div", "controls");
      [["base_only", block.names[0] + " right \u2192 " + block.names[1] + " wrong"],
       ["candidate_only", block.names[1] + " right \u2192 " + block.names[0] + " wrong"]].forEach(function (d) {
        var b = button(d[1] + " (" + count(block[d[0]].length) + ")", function () {
          fstate.dir = d[0]; fstate.page = 0; render();
        }, false);
        if (fstate.dir === d[0]) b.className += " active";
        tabs.appendChild(b);
      });
      body.appendChild(tabs);
      var go = function (p) { fstate.page = p; render(); };
      body.appendChild(pager(rows.length, fstate.page, go, "flips", FLIP_PAGE));
      var wrap = el("div", "table-wrap");
      var table = el("table", "data flips");
      var thead = el("thead");
      var hr = el("tr");
      ["id", "reference", "output: " + block.names[0], "output: " + block.names[1]].forEach(function (h) {
        hr.appendChild(el("th", null, h));
      });
      thead.appendChild(hr);
      table.appendChild(thead);
      var tb = el("tbody");
      rows.slice(fstate.page * FLIP_PAGE, (fstate.page + 1) * FLIP_PAGE).forEach(function (id) {
        var it = findItem(block.suite, id);
        var segments = null;
        if (it) {
          var li = block.labels;
          segments = wordDiff(li[0] >= 0 ? it.o[li[0]] : "", li[1] >= 0 ? it.o[li[1]] : "");
        }
        var tr = el("tr", "flip-row");
        tr.appendChild(textCell(id, "mono col-id"));
        tr.appendChild(textCell(it ? it.r : "", "col-text"));
        tr.appendChild(diffCell(segments, "-"));
        tr.appendChild(diffCell(segments, "+"));
        tb.appendChild(tr);
      });
      table.appendChild(tb);
      wrap.appendChild(table);
      body.appendChild(wrap);
    }
    clear(host);
    host.appendChild(body);
    render();
  }
  function buildAllFlips() {
    var hosts = document.querySelectorAll("[data-flip]");
    for (var k = 0; k < hosts.length; k++) {
      var idx = parseInt(hosts[k].getAttribute("data-flip"), 10);
      if (DATA.flips[idx]) buildFlips(DATA.flips[idx], hosts[k]);
    }
  }

  function fail(err) {
    root.setAttribute("data-render-error", String(err && err.message ? err.message : err));
    var box = document.getElementById("tg-script-error");
    if (box) {
      box.hidden = false;
      box.textContent = "The interactive tables could not be built: " + String(err && err.message ? err.message : err);
    }
  }

  try {
    buildItems();
    buildAllFlips();
    root.setAttribute("data-rendered", "1");
  } catch (err) {
    fail(err);
  }
  var t1 = performance.now();
  root.setAttribute("data-render-ms", (t1 - t0).toFixed(1)); /* this script: parse JSON + build tables */
  root.setAttribute("data-ready-ms", t1.toFixed(1)); /* since navigation start: load + parse + script */
})();
