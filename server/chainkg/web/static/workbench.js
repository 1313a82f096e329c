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
    var q = "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\nSELECT ?s ?l WHERE { VALUES ?s { " +
      iris.map(function (i) { return "<" + i + ">"; }).join(" ") + " } ?s rdfs:label ?l }";
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

    function showTab(name) {
      document.querySelectorAll(".tabs button").forEach(function (b) {
        b.classList.toggle("active", b.getAttribute("data-tab") === name);
      });
      tableView.hidden = name !== "table";
      rawView.hidden = name !== "raw";
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
      var t0 = performance.now();
      last = current;
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
            return;
          }
        }
        tableView.innerHTML = "";
        status.textContent = ms + " ms";
        showTab("raw");
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
