/* chainkg workbench: a small SPARQL editor with highlighting, saved queries as examples,
   results as a table with labelled links, the raw response, downloads. No dependencies, no CDN.
   Without this file the page still works: the textarea posts to /sparql. */
(function () {
  "use strict";

  // -- highlighting ---------------------------------------------------------------------
  var KEYWORDS = ("SELECT CONSTRUCT DESCRIBE ASK WHERE FROM NAMED PREFIX BASE DISTINCT REDUCED AS " +
    "OPTIONAL UNION MINUS GRAPH SERVICE SILENT FILTER BIND VALUES UNDEF EXISTS NOT IN " +
    "ORDER BY ASC DESC LIMIT OFFSET GROUP HAVING COUNT SUM MIN MAX AVG SAMPLE GROUP_CONCAT SEPARATOR " +
    "STR LANG LANGMATCHES DATATYPE BOUND IRI URI BNODE RAND ABS CEIL FLOOR ROUND CONCAT STRLEN UCASE LCASE " +
    "ENCODE_FOR_URI CONTAINS STRSTARTS STRENDS STRBEFORE STRAFTER YEAR MONTH DAY HOURS MINUTES SECONDS " +
    "TIMEZONE TZ NOW UUID STRUUID MD5 SHA1 SHA256 SHA384 SHA512 COALESCE IF STRLANG STRDT SAMETERM " +
    "ISIRI ISURI ISBLANK ISLITERAL ISNUMERIC REGEX SUBSTR REPLACE TRUE FALSE A").split(" ");
  var KW = {};
  KEYWORDS.forEach(function (k) { KW[k] = true; });
  var TOKEN = new RegExp([
    "(#[^\\n]*)",                                   // 1 comment
    "(\"\"\"[\\s\\S]*?(?:\"\"\"|$)|'''[\\s\\S]*?(?:'''|$)|\"(?:[^\"\\\\\\n]|\\\\.)*\"?|'(?:[^'\\\\\\n]|\\\\.)*'?)", // 2 string
    "(<[^<>\"{}|^`\\\\\\s]*>)",                     // 3 IRI
    "([?$][A-Za-z0-9_\\u00C0-\\uFFFF]+)",          // 4 variable
    "([A-Za-z][\\w.-]*:[\\w.%-]*|:[\\w.%-]+)",      // 5 prefixed name
    "([+-]?\\d+(?:\\.\\d+)?(?:[eE][+-]?\\d+)?)",    // 6 number
    "([A-Za-z_]+)",                                 // 7 word
    "([{}()\\[\\].;,*=<>!|&^/+-])"                  // 8 punctuation
  ].join("|"), "g");

  function esc(s) {
    return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  function highlight(text) {
    var out = "", last = 0, m;
    TOKEN.lastIndex = 0;
    while ((m = TOKEN.exec(text)) !== null) {
      if (m[0] === "") { TOKEN.lastIndex++; continue; }
      out += esc(text.slice(last, m.index));
      var cls = m[1] ? "comment" : m[2] ? "str" : m[3] ? "iri" : m[4] ? "var" : m[5] ? "pname" :
        m[6] ? "num" : m[7] ? (KW[m[7].toUpperCase()] ? "kw" : "") : "punct";
      out += cls ? '<span class="tok-' + cls + '">' + esc(m[0]) + "</span>" : esc(m[0]);
      last = TOKEN.lastIndex;
    }
    return out + esc(text.slice(last)) + "\n";
  }
  window.chainkgHighlight = highlight;

  function enhanceEditor(wrapper) {
    var ta = wrapper.querySelector("textarea"), code = wrapper.querySelector("code"), pre = wrapper.querySelector("pre");
    function sync() { code.innerHTML = highlight(ta.value); pre.scrollTop = ta.scrollTop; pre.scrollLeft = ta.scrollLeft; }
    ta.addEventListener("input", sync);
    ta.addEventListener("scroll", function () { pre.scrollTop = ta.scrollTop; pre.scrollLeft = ta.scrollLeft; });
    ta.addEventListener("keydown", function (e) {
      if (e.key === "Tab" && !e.shiftKey && !e.ctrlKey) {
        e.preventDefault();
        var s = ta.selectionStart;
        ta.value = ta.value.slice(0, s) + "  " + ta.value.slice(ta.selectionEnd);
        ta.selectionStart = ta.selectionEnd = s + 2;
        sync();
      }
    });
    wrapper.classList.add("enhanced");
    sync();
    return sync;
  }

  // -- results ----------------------------------------------------------------------------
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function localUrl(iri, base) {
    return iri.indexOf(base) === 0 ? "/" + iri.slice(base.length) : iri;
  }

  function renderTable(container, data, base) {
    container.innerHTML = "";
    if (typeof data.boolean === "boolean") {
      container.appendChild(el("p", { "class": "boolean" }, String(data.boolean)));
      return [];
    }
    var vars = data.head.vars, rows = data.results.bindings;
    var labelOf = {};
    vars.forEach(function (v) {
      if (/Label$/.test(v) && vars.indexOf(v.slice(0, -5)) >= 0) labelOf[v.slice(0, -5)] = v;
    });
    var hidden = {};
    Object.keys(labelOf).forEach(function (k) { hidden[labelOf[k]] = true; });
    var shown = vars.filter(function (v) { return !hidden[v]; });
    var table = el("table", { "class": "results", id: "results" });
    var thead = el("thead"), tr = el("tr");
    shown.forEach(function (v) { tr.appendChild(el("th", {}, v)); });
    thead.appendChild(tr);
    table.appendChild(thead);
    var tbody = el("tbody"), needLabels = [];
    rows.forEach(function (b) {
      var r = el("tr");
      shown.forEach(function (v) {
        var td = el("td"), t = b[v];
        if (t && t.type === "uri") {
          var given = labelOf[v] && b[labelOf[v]];
          var a = el("a", { href: localUrl(t.value, base), title: t.value, "data-iri": t.value },
            given ? given.value : t.value);
          if (!given && t.value.indexOf(base) === 0) needLabels.push(a);
          td.appendChild(a);
        } else if (t && t.type === "bnode") {
          td.appendChild(el("span", { "class": "bnode" }, "_:" + t.value));
        } else if (t) {
          var s = el("span", t["xml:lang"] ? { lang: t["xml:lang"] } : {}, t.value);
          td.appendChild(s);
        }
        r.appendChild(td);
      });
      tbody.appendChild(r);
    });
    table.appendChild(tbody);
    container.appendChild(el("p", { "class": "muted", id: "row-count" }, rows.length + " rows"));
    container.appendChild(table);
    return needLabels;
  }

  function fillLabels(anchors, lang) {
    var iris = [];
    anchors.forEach(function (a) {
      var i = a.getAttribute("data-iri");
      if (iris.indexOf(i) < 0 && /^[^<>"\s{}|\\^`]+$/.test(i)) iris.push(i);
    });
    if (!iris.length) return;
    iris = iris.slice(0, 300);
    var q = "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\nPREFIX skos: <http://www.w3.org/2004/02/skos/core#>\n" +
      "SELECT ?s ?l WHERE { VALUES ?s { " + iris.map(function (i) { return "<" + i + ">"; }).join(" ") +
      " } ?s skos:prefLabel|rdfs:label ?l }";
    fetch("/sparql", {
      method: "POST", body: new URLSearchParams({ query: q }),
      headers: { Accept: "application/sparql-results+json" }
    }).then(function (r) { return r.ok ? r.json() : null; }).then(function (data) {
      if (!data) return;
      var best = {};
      data.results.bindings.forEach(function (b) {
        var s = b.s.value, l = b.l;
        if (!best[s] || l["xml:lang"] === lang) best[s] = l.value;
      });
      anchors.forEach(function (a) {
        var l = best[a.getAttribute("data-iri")];
        if (l) a.textContent = l;
      });
    }).catch(function () { /* labels are a nicety */ });
  }

  // -- a chart of a result: one label column and numeric columns ----------------------------
  var SVG_NS = "http://www.w3.org/2000/svg";
  var NUMERIC = /#(integer|decimal|double|float|long|int|short|byte|nonNegativeInteger|positiveInteger|negativeInteger|nonPositiveInteger|unsignedLong|unsignedInt|unsignedShort|unsignedByte)$/;
  var COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"];

  function svgEl(tag, attrs, text) {
    var e = document.createElementNS(SVG_NS, tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function isNumber(t) {
    return t && t.type !== "uri" && t.type !== "bnode" && !t["xml:lang"] &&
      (NUMERIC.test(t.datatype || "") || (!t.datatype && /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(t.value)));
  }

  // {label, columns, rows: [{label, values}]} when the result has numeric columns, else null
  function chartData(data, base) {
    if (!data.head || !data.results) return null;
    var vars = data.head.vars, rows = data.results.bindings;
    if (!rows.length) return null;
    var numeric = vars.filter(function (v) {
      var bound = rows.filter(function (b) { return b[v]; });
      return bound.length > 0 && bound.every(function (b) { return isNumber(b[v]); });
    });
    if (!numeric.length) return null;
    var labelVar = vars.filter(function (v) { return numeric.indexOf(v) < 0 && !/Label$/.test(v); })[0] ||
      vars.filter(function (v) { return numeric.indexOf(v) < 0; })[0];
    return {
      label: labelVar || "#", columns: numeric,
      rows: rows.slice(0, 60).map(function (b, i) {
        var t = labelVar && b[labelVar], given = labelVar && b[labelVar + "Label"];
        var text = given ? given.value : t ? (t.type === "uri" ? t.value.replace(/^.*[\/#]/, "") : t.value) : String(i + 1);
        return { label: text, values: numeric.map(function (v) { return b[v] ? Number(b[v].value) : null; }) };
      })
    };
  }

  function renderChart(container, chart) {
    container.innerHTML = "";
    var W = 760, left = 210, right = 20, top = 28, barH = 12, gap = 8;
    var groupH = chart.columns.length * barH + gap, H = top + chart.rows.length * groupH + 30;
    var all = [];
    chart.rows.forEach(function (r) { r.values.forEach(function (v) { if (v !== null && isFinite(v)) all.push(v); }); });
    var lo = Math.min(0, Math.min.apply(null, all)), hi = Math.max(0, Math.max.apply(null, all));
    if (hi === lo) hi = lo + 1;
    var x = function (v) { return left + (v - lo) / (hi - lo) * (W - left - right); };
    var svg = svgEl("svg", { viewBox: "0 0 " + W + " " + H, width: W, height: H, role: "img", id: "result-chart",
      "class": "result-chart", "aria-labelledby": "result-chart-title" });
    svg.appendChild(svgEl("title", { id: "result-chart-title" }, chart.columns.join(", ") + " / " + chart.label));
    for (var k = 0; k <= 4; k++) {
      var v = lo + (hi - lo) * k / 4, px = x(v);
      svg.appendChild(svgEl("line", { x1: px, y1: top - 6, x2: px, y2: H - 24, stroke: "#e2e8f0" }));
      svg.appendChild(svgEl("text", { x: px, y: top - 10, "text-anchor": "middle", "class": "tick" },
        Math.abs(v) >= 1e6 ? v.toExponential(2) : String(Math.round(v * 100) / 100)));
    }
    chart.rows.forEach(function (r, i) {
      var y0 = top + i * groupH;
      svg.appendChild(svgEl("text", { x: left - 6, y: y0 + chart.columns.length * barH / 2 + 4, "text-anchor": "end",
        "class": "bar-label" }, r.label.length > 32 ? r.label.slice(0, 31) + "…" : r.label));
      r.values.forEach(function (v, j) {
        if (v === null || !isFinite(v)) return;
        var a = x(Math.min(0, v)), b = x(Math.max(0, v));
        var rect = svgEl("rect", { x: a, y: y0 + j * barH, width: Math.max(1, b - a), height: barH - 2,
          fill: COLOURS[j % COLOURS.length], "class": "bar", "data-column": chart.columns[j], "data-value": v });
        rect.appendChild(svgEl("title", {}, r.label + " · " + chart.columns[j] + ": " + v));
        svg.appendChild(rect);
      });
    });
    chart.columns.forEach(function (c, j) {
      var lx = left + j * 150;
      svg.appendChild(svgEl("rect", { x: lx, y: H - 16, width: 10, height: 10, fill: COLOURS[j % COLOURS.length] }));
      svg.appendChild(svgEl("text", { x: lx + 14, y: H - 7, "class": "legend" }, c));
    });
    container.appendChild(svg);
  }

  // -- autocompletion: prefixes, the ontology's classes and properties, things by name ------------
  var WORD = /[^\s{}()<>;,|\/^!=*+"'#\[\]]*$/;

  function completer(ta, sync, prefixes, vocab, base) {
    var list = document.getElementById("completions"), wrapper = ta.parentNode;
    var items = [], active = -1, timer = null, seq = 0, blurTimer = null;

    function close() { list.hidden = true; list.innerHTML = ""; items = []; active = -1; }

    function caretXY() {
      var code = wrapper.querySelector("code"), pre = wrapper.querySelector("pre");
      code.innerHTML = highlight(ta.value.slice(0, ta.selectionStart)).replace(/\n$/, "") + '<span id="caret-mark">\u200b</span>';
      var mark = document.getElementById("caret-mark");
      var xy = { x: pre.offsetLeft + mark.offsetLeft, y: pre.offsetTop + mark.offsetTop + mark.offsetHeight - ta.scrollTop };
      sync();
      return xy;
    }

    function show(word, found) {
      items = found.slice(0, 12);
      list.innerHTML = "";
      active = items.length ? 0 : -1;
      if (!items.length) { close(); return; }
      items.forEach(function (it, i) {
        var li = el("li", { role: "option", id: "completion-" + i, "data-insert": it.insert, "class": it.kind || "" });
        li.appendChild(el("code", {}, it.text));
        if (it.label) li.appendChild(el("span", { "class": "muted" }, " " + it.label));
        if (it.kind) li.appendChild(el("span", { "class": "tag" }, it.kind));
        li.addEventListener("mousedown", function (e) { e.preventDefault(); accept(i, word); });
        list.appendChild(li);
      });
      highlightActive();
      var xy = caretXY();
      list.style.left = Math.min(xy.x, wrapper.clientWidth - 260) + "px";
      list.style.top = (xy.y + 2) + "px";
      list.hidden = false;
      list.setAttribute("data-word", word);
    }

    function highlightActive() {
      Array.prototype.forEach.call(list.children, function (li, i) {
        li.classList.toggle("active", i === active);
        li.setAttribute("aria-selected", i === active ? "true" : "false");
      });
    }

    function accept(i, word) {
      var it = items[i];
      if (!it) return;
      var pos = ta.selectionStart, start = pos - word.length;
      ta.value = ta.value.slice(0, start) + it.insert + ta.value.slice(pos);
      ta.selectionStart = ta.selectionEnd = start + it.insert.length;
      close();
      sync();
      ta.dispatchEvent(new Event("input"));
      ta.focus();
    }

    function entityText(iri) {
      var ns = base + "id/", slug = iri.slice(ns.length);
      return iri.indexOf(ns) === 0 && /^[A-Za-z0-9_][A-Za-z0-9_-]*$/.test(slug) ? "id:" + slug : "<" + iri + ">";
    }

    function suggest(explicit) {
      var pos = ta.selectionStart;
      if (pos !== ta.selectionEnd) { close(); return; }
      var before = ta.value.slice(0, pos), word = WORD.exec(before)[0];
      var line = before.slice(before.lastIndexOf("\n") + 1, pos - word.length);
      var colon = word.indexOf(":"), found = [];
      if (/^\s*PREFIX\s+$/i.test(line) && colon < 0) {  // a PREFIX declaration: the known namespaces
        Object.keys(prefixes).forEach(function (p) {
          if (p.indexOf(word) === 0) found.push({ text: p + ": <" + prefixes[p] + ">", insert: p + ": <" + prefixes[p] + ">", kind: "prefix" });
        });
        return show(word, found);
      }
      if (colon >= 0) {
        var prefix = word.slice(0, colon), local = word.slice(colon + 1).toLowerCase();
        if (prefix === "id" && prefixes.id) {  // things by name, from the search index
          if (!local.length) { close(); return; }
          var mine = ++seq;
          clearTimeout(timer);
          timer = setTimeout(function () {
            fetch("/api/search?kind=entity&limit=10&q=" + encodeURIComponent(word.slice(3)), { headers: { Accept: "application/json" } })
              .then(function (r) { return r.ok ? r.json() : null; })
              .then(function (data) {
                if (mine !== seq || !data) return;
                var now = WORD.exec(ta.value.slice(0, ta.selectionStart))[0];
                if (now !== word) return;
                show(word, (data.results || []).map(function (h) {
                  return { text: entityText(h.iri), insert: entityText(h.iri), label: h.label + (h.type ? " · " + h.type : ""), kind: "thing" };
                }));
              }).catch(function () { /* completion is a nicety */ });
          }, 150);
          return;
        }
        vocab.forEach(function (t) {
          if (t.curie.indexOf(prefix + ":") !== 0) return;
          var name = t.curie.slice(colon + 1).toLowerCase(), label = (t.label || "").toLowerCase();
          var rank = name.indexOf(local) === 0 ? 0 : name.indexOf(local) > 0 ? 1 : label.indexOf(local) >= 0 ? 2 : -1;
          if (rank >= 0) found.push({ text: t.curie, insert: t.curie, label: t.label, kind: t.kind, rank: rank });
        });
        found.sort(function (a, b) { return a.rank - b.rank || a.text.localeCompare(b.text); });
        return show(word, found);
      }
      if (word.length < 2 && !explicit) { close(); return; }
      var w = word.toLowerCase();
      Object.keys(prefixes).forEach(function (p) {
        if (p.indexOf(w) === 0) found.push({ text: p + ":", insert: p + ":", label: prefixes[p], kind: "prefix", rank: 0 });
      });
      vocab.forEach(function (t) {
        var name = t.curie.slice(t.curie.indexOf(":") + 1).toLowerCase(), label = (t.label || "").toLowerCase();
        if (w && (name.indexOf(w) === 0 || label.indexOf(w) === 0)) found.push({ text: t.curie, insert: t.curie, label: t.label, kind: t.kind, rank: 1 });
      });
      if (/^[a-z]+$/i.test(word) && found.length === 0) { close(); return; }
      found.sort(function (a, b) { return a.rank - b.rank || a.text.length - b.text.length; });
      show(word, found);
    }

    ta.addEventListener("input", function (e) { if (e.isTrusted !== false) suggest(false); });
    // the list closes a moment after the editor loses the focus, unless the focus has come back: a
    // blur's late timer (timers wait behind a burst of keys) closed the list the next keys opened
    ta.addEventListener("blur", function () {
      clearTimeout(blurTimer);
      blurTimer = setTimeout(function () { if (document.activeElement !== ta) close(); }, 150);
    });
    ta.addEventListener("focus", function () { clearTimeout(blurTimer); });
    wrapper.addEventListener("keydown", function (e) {  // capture: before the editor's own Tab and Ctrl+Enter
      if (e.key === " " && e.ctrlKey) { e.preventDefault(); e.stopPropagation(); suggest(true); return; }
      if (list.hidden) return;
      var word = list.getAttribute("data-word") || "";
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        active = (active + (e.key === "ArrowDown" ? 1 : items.length - 1)) % items.length;
        highlightActive();
      } else if ((e.key === "Enter" && !e.ctrlKey && !e.metaKey) || e.key === "Tab") {
        accept(active, word);
      } else if (e.key === "Escape") {
        close();
      } else {
        return;
      }
      e.preventDefault();
      e.stopPropagation();
    }, true);
    return { close: close, suggest: suggest };
  }

  // -- the last queries, kept in this browser --------------------------------------------------
  var HISTORY_KEY = "chainkg.workbench.history", HISTORY_MAX = 25;

  function loadHistory() {
    try { return JSON.parse(localStorage.getItem(HISTORY_KEY) || "[]"); } catch (e) { return []; }
  }

  function remember(entry) {
    var items = loadHistory().filter(function (h) { return h.query !== entry.query; });
    items.unshift(entry);
    try { localStorage.setItem(HISTORY_KEY, JSON.stringify(items.slice(0, HISTORY_MAX))); } catch (e) { /* full or disabled */ }
  }

  function historyTitle(h) {
    var body = h.query.split("\n").filter(function (l) { return l.trim() && !/^\s*(PREFIX|BASE)\b/i.test(l); }).join(" ");
    return (h.saved ? "[" + h.saved + "] " : "") + body.replace(/\s+/g, " ").slice(0, 70) +
      (typeof h.rows === "number" ? " (" + h.rows + ")" : "");
  }

  // -- the workbench ----------------------------------------------------------------------
  function addPrefixes(text, prefixes) {
    var add = "";
    Object.keys(prefixes).forEach(function (p) {
      var declared = new RegExp("PREFIX\\s+" + p + ":", "i").test(text);
      var used = new RegExp("(^|[\\s(,;/^|{}\\[\\]!])" + p + ":", "m").test(text.replace(/<[^>\s]*>/g, ""));
      if (used && !declared) add += "PREFIX " + p + ": <" + prefixes[p] + ">\n";
    });
    return add + text;
  }

  function download(blob, name) {
    var a = el("a", { href: URL.createObjectURL(blob), download: name });
    document.body.appendChild(a);
    a.click();
    setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
  }

  var MEDIA = {
    json: "application/sparql-results+json", csv: "text/csv", tsv: "text/tab-separated-values",
    xml: "application/sparql-results+xml"
  };

  function workbench(root) {
    var base = root.getAttribute("data-base-iri"), lang = root.getAttribute("data-lang") || "en";
    var examples = JSON.parse(document.getElementById("examples-data").textContent);
    var prefixes = JSON.parse(document.getElementById("prefixes-data").textContent);
    var ta = document.getElementById("query"), form = document.getElementById("sparql-form");
    var sync = enhanceEditor(document.getElementById("editor"));
    var picker = document.getElementById("example-picker"), status = document.getElementById("status");
    var pane = document.getElementById("results-pane"), tableView = document.getElementById("table-view");
    var rawView = document.getElementById("raw-view"), paramBox = document.getElementById("example-params");
    var current = null; // the saved query whose text is in the editor, if unchanged
    var vocab = JSON.parse((document.getElementById("vocabulary-data") || { textContent: "[]" }).textContent);
    var complete = completer(ta, sync, prefixes, vocab, base);
    var chartView = document.getElementById("chart-view"), chartTab = document.getElementById("tab-chart");
    var hint = document.getElementById("result-hint"), historyPicker = document.getElementById("history-picker");

    function fillHistory() {
      historyPicker.innerHTML = "";
      historyPicker.appendChild(el("option", { value: "" }, "—"));
      loadHistory().forEach(function (h, i) { historyPicker.appendChild(el("option", { value: String(i) }, historyTitle(h))); });
    }
    fillHistory();

    function share() {  // the query in the address bar, so that the page can be bookmarked or sent
      if (ta.value.length > 6000) return;
      var p = new URLSearchParams();
      p.set("query", ta.value);
      if (current) p.set("saved", current);
      if (lang !== "en") p.set("lang", lang);
      history.replaceState(null, "", location.pathname + "?" + p.toString());
    }

    function showTab(name) {
      document.querySelectorAll(".tabs button").forEach(function (b) {
        b.classList.toggle("active", b.getAttribute("data-tab") === name);
      });
      tableView.hidden = name !== "table";
      rawView.hidden = name !== "raw";
      chartView.hidden = name !== "chart";
    }
    document.querySelectorAll(".tabs button").forEach(function (b) {
      b.addEventListener("click", function () { showTab(b.getAttribute("data-tab")); });
    });

    function paramValues() {
      var values = new URLSearchParams();
      paramBox.querySelectorAll("[data-param]").forEach(function (input) {
        var name = input.getAttribute("data-param");
        if (input.value.trim() === "") return;
        if (input.getAttribute("data-list")) {
          input.value.split(",").forEach(function (v) { if (v.trim()) values.append(name, v.trim()); });
        } else {
          values.append(name, input.value.trim());
        }
      });
      return values;
    }

    function pick(name, keepText) {
      var ex = examples[name];
      paramBox.innerHTML = "";
      document.getElementById("example-links").innerHTML = "";
      document.getElementById("example-description").textContent = ex ? ex.description : "";
      if (!ex) { current = null; return; }
      if (!keepText) { ta.value = ex.sparql; sync(); }
      current = name;
      ex.parameters.forEach(function (p) {
        var label = el("label", {}, p.name + (p.description ? ": " + p.description : ""));
        var input;
        if (p.type === "enum") {
          input = el("select");
          if (p.default === undefined) input.appendChild(el("option", { value: "" }, "—"));
          p.enum.forEach(function (v) {
            var o = el("option", { value: v }, v);
            if (String(v) === String(p.default === undefined ? "" : (p.name === "lang" ? lang : p.default))) o.selected = true;
            input.appendChild(o);
          });
        } else {
          input = el("input", { type: "text", placeholder: p.type === "list" ? (p.items + ", …") : p.type });
          if (p.default !== undefined) input.value = p.default;
          if (p.type === "list") input.setAttribute("data-list", "1");
        }
        input.setAttribute("data-param", p.name);
        input.id = "param-" + p.name;
        label.appendChild(input);
        paramBox.appendChild(label);
      });
      var links = document.getElementById("example-links");
      links.appendChild(el("a", { href: ex.page + "?lang=" + lang, id: "example-page" }, "→ " + ex.title));
    }
    picker.addEventListener("change", function () { pick(picker.value, false); });
    historyPicker.addEventListener("change", function () {
      var h = loadHistory()[Number(historyPicker.value)];
      if (!h) return;
      ta.value = h.query;
      sync();
      if (h.saved && examples[h.saved]) { picker.value = h.saved; pick(h.saved, true); current = ta.value === examples[h.saved].sparql ? h.saved : null; }
      else { current = null; }
      share();
    });
    ta.addEventListener("input", function () {
      if (current && ta.value !== examples[current].sparql) current = null;
    });
    var saved = root.getAttribute("data-saved");
    if (saved && examples[saved]) pick(saved, ta.value !== examples[saved].sparql && ta.value.trim() !== "");
    if (saved && examples[saved] && ta.value.trim() === examples[saved].sparql.trim()) current = saved;

    var last = null; // how to fetch the last run again, in another format

    function request(fmt) {
      var accept = fmt ? MEDIA[fmt] : "application/sparql-results+json, text/turtle;q=0.9, */*;q=0.1";
      if (current) {
        var params = paramValues();
        if (fmt) params.set("format", fmt);
        params.set("limit", fmt ? "10000" : "1000");
        return fetch(examples[current].api + "?" + params.toString(), { headers: { Accept: accept } });
      }
      return fetch("/sparql", {
        method: "POST", body: new URLSearchParams({ query: addPrefixes(ta.value, prefixes) }),
        headers: { Accept: accept }
      });
    }

    function run() {
      status.textContent = "…";
      status.classList.remove("error");
      complete.close();
      var t0 = performance.now();
      last = current;
      share();
      var entry = { query: ta.value, saved: current, at: new Date().toISOString() };
      chartTab.hidden = true;
      hint.hidden = true;
      request(null).then(function (resp) {
        return resp.text().then(function (body) { return { resp: resp, body: body }; });
      }).then(function (r) {
        pane.hidden = false;
        rawView.textContent = r.body;
        var ms = Math.round(performance.now() - t0);
        if (!r.resp.ok) {
          status.textContent = r.resp.status + " " + r.resp.statusText;
          status.classList.add("error");
          tableView.innerHTML = "";
          tableView.appendChild(el("pre", { "class": "error", role: "alert" }, r.body.slice(0, 2000)));
          showTab("table");
          entry.error = r.resp.status;
          remember(entry);
          fillHistory();
          return;
        }
        var type = r.resp.headers.get("Content-Type") || "";
        if (type.indexOf("json") >= 0) {
          var data = JSON.parse(r.body);
          if (data.head) {
            var need = renderTable(tableView, data, base);
            fillLabels(need, lang);
            status.textContent = (data.results ? data.results.bindings.length + " rows, " : "") + ms + " ms";
            showTab("table");
            var chart = chartData(data, base);
            if (chart) { renderChart(chartView, chart); chartTab.hidden = false; }
            var rows = data.results ? data.results.bindings : [];
            var empty = (data.head.vars || []).filter(function (v) { return rows.length && rows.every(function (b) { return !b[v]; }); });
            if (empty.length && /GROUP_CONCAT\s*\(\s*(DISTINCT\s+)?[?$]\w+\s*[;)]/i.test(ta.value)) {
              hint.textContent = "?" + empty.join(", ?") + " is empty in every row: GROUP_CONCAT joins strings; over IRIs write GROUP_CONCAT(STR(?x); SEPARATOR=\", \").";
              hint.hidden = false;
            }
            entry.rows = rows.length;
            remember(entry);
            fillHistory();
            return;
          }
        }
        tableView.innerHTML = "";
        status.textContent = ms + " ms";
        showTab("raw");
        remember(entry);
        fillHistory();
      }).catch(function (e) {
        status.textContent = String(e);
        status.classList.add("error");
      });
    }
    form.addEventListener("submit", function (e) { e.preventDefault(); run(); });
    ta.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); run(); }
    });
    document.querySelectorAll("#results-pane a.download").forEach(function (a) {
      a.addEventListener("click", function (e) {
        e.preventDefault();
        var fmt = a.getAttribute("data-format");
        var saveCurrent = current;
        current = last;
        var p = request(fmt);
        current = saveCurrent;
        p.then(function (resp) { return resp.blob(); }).then(function (blob) {
          download(blob, (last || "results") + "." + fmt);
        });
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("pre[data-highlight]").forEach(function (pre) {
      pre.innerHTML = highlight(pre.textContent);
    });
    var root = document.getElementById("workbench");
    if (root) workbench(root);
  });
})();
