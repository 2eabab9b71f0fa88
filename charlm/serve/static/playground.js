// charlm playground: plain JavaScript against the service's own endpoints (no CDN, no build step).
// Everything the model writes reaches the page through textContent or text nodes, never as markup.
"use strict";

const $ = (id) => document.getElementById(id);
const LN2 = Math.log(2);
const WORDS_AFTER_MS = 250;
const state = { kind: "char", limits: {}, predicting: null, words: null, selected: 0, proposals: [] };
window.charlmLatencies = []; // keystroke-to-list times in ms (bench/playground_latency.py reads them)

async function api(path, body, signal) {
  const init = body === undefined ? { signal } : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body), signal };
  const response = await fetch(path, init);
  if (!response.ok) {
    let message = `${response.status}`;
    try { message = (await response.json()).error || message; } catch (e) { /* not JSON */ }
    throw new Error(message);
  }
  return response;
}

function say(id, text, error = false) {
  const el = $(id);
  el.textContent = text;
  el.classList.toggle("error", error);
}

function percent(p) {
  return p >= 0.995 ? "100%" : p >= 0.1 ? `${(p * 100).toFixed(0)}%` : `${(p * 100).toFixed(1)}%`;
}

function shown(token) {
  // a token as the page shows it: <eos> as a return mark, sentencepiece's ▁ as a space
  if (token === "<eos>" || token === "\n") return "⏎";
  return state.kind === "word" ? token : token.replace(/\u2581/g, " ");
}

// -- type-ahead ----------------------------------------------------------------------------------

function splitWord(text) {
  // word models: the words before the one being typed, and its start ("" after a space)
  const at = Math.max(text.lastIndexOf(" "), text.lastIndexOf("\n")) + 1;
  return [text.slice(0, at), text.slice(at)];
}

async function predict() {
  for (const ctl of [state.predicting, state.words]) if (ctl) ctl.abort(); // stale: the server skips them
  const text = $("prefix").value;
  const typed = performance.now();
  const ctl = (state.predicting = new AbortController());
  try {
    if (state.kind === "word") {
      const [context, partial] = splitWord(text);
      const k = partial ? 100 : 10;
      const found = await (await api("/predict", { prefix: context.trimEnd(), k }, ctl.signal)).json();
      const items = found.predictions.filter((p) => p.text.startsWith(partial) && p.text !== partial).slice(0, 10)
        .map((p) => ({ ...p, kind: "word", insert: p.text.slice(partial.length) + " " }));
      show(text, items, typed);
      return;
    }
    const found = await (await api("/predict", { prefix: text, k: 8 }, ctl.signal)).json();
    const chars = found.predictions.map((p) => ({ ...p, kind: "char", insert: p.text }));
    show(text, chars, typed);
    // whole words are a beam search: asked for only once typing pauses, so they never hold up the next key
    await new Promise((resolve) => setTimeout(resolve, WORDS_AFTER_MS));
    if (ctl.signal.aborted || $("prefix").value !== text) return;
    const wordCtl = (state.words = new AbortController());
    const words = await (await api("/predict", { prefix: text, k: 5, words: true }, wordCtl.signal)).json();
    const partial = splitWord(text)[1]; // the words come whole: take only what is not typed yet
    const whole = words.predictions.filter((p) => p.text.trim() && p.text.startsWith(partial) && p.text !== partial)
      .map((p) => ({ ...p, kind: "word", insert: `${p.text.slice(partial.length)} ` }));
    show(text, [...whole, ...chars], null);
  } catch (err) {
    if (err.name !== "AbortError") say("predict-status", err.message, true);
  }
}

function show(text, items, typed) {
  if ($("prefix").value !== text) return; // typed on since: a newer request is on its way
  state.proposals = items;
  state.selected = 0;
  const list = $("predictions");
  list.replaceChildren(...items.map((item, i) => {
    const li = document.createElement("li");
    li.id = `proposal-${i}`;
    li.setAttribute("role", "option");
    li.dataset.prob = String(item.prob);
    li.dataset.kind = item.kind;
    li.className = item.kind;
    li.textContent = item.kind === "word" ? item.text.replace(/\n/g, "⏎") : shown(item.text).replace(/^ $/, "␣");
    const p = document.createElement("span");
    p.className = "p";
    p.textContent = percent(item.prob);
    li.append(p);
    li.addEventListener("mousedown", (e) => { e.preventDefault(); take(i); });
    return li;
  }));
  mark();
  if (typed !== null) {
    const ms = performance.now() - typed;
    window.charlmLatencies.push(ms);
    list.dataset.latencyMs = ms.toFixed(1);
    say("predict-status", `${items.length} proposals in ${ms.toFixed(0)} ms`);
  }
  list.dataset.forText = text;
}

function mark() {
  const items = $("predictions").children;
  for (let i = 0; i < items.length; i++) items[i].setAttribute("aria-selected", String(i === state.selected));
  if (items.length) $("prefix").setAttribute("aria-activedescendant", `proposal-${state.selected}`);
  else $("prefix").removeAttribute("aria-activedescendant");
}

function take(i) {
  const item = state.proposals[i];
  if (!item) return;
  const box = $("prefix");
  box.value += item.insert;
  box.focus();
  box.setSelectionRange(box.value.length, box.value.length);
  predict();
}

function onPrefixKey(e) {
  const n = state.proposals.length;
  if (!n || e.altKey || e.ctrlKey || e.metaKey) return;
  if (e.key === "Tab" && !e.shiftKey) { e.preventDefault(); take(state.selected); }
  else if (e.key === "ArrowDown") { e.preventDefault(); state.selected = (state.selected + 1) % n; mark(); }
  else if (e.key === "ArrowUp") { e.preventDefault(); state.selected = (state.selected + n - 1) % n; mark(); }
  else if (e.key === "Escape") { state.proposals = []; $("predictions").replaceChildren(); mark(); }
}

// -- fill the blank ------------------------------------------------------------------------------

async function fillBlank(e) {
  e.preventDefault();
  const candidates = $("blank-candidates").value.split(",").map((w) => w.trim()).filter(Boolean);
  say("blank-status", "ranking…");
  try {
    const found = await (await api("/predict", { prefix: $("blank-text").value, blank: true, candidates, k: 10 })).json();
    $("blank-results").replaceChildren(...found.predictions.map((p) => {
      const li = document.createElement("li");
      li.dataset.prob = String(p.prob);
      li.textContent = p.text;
      const extra = document.createElement("span");
      extra.className = "p";
      extra.textContent = p.sentence_logprob == null ? percent(p.prob)
        : `${percent(p.prob)}, sentence ${(-p.sentence_logprob / LN2).toFixed(1)} bits`;
      li.append(extra);
      return li;
    }));
    say("blank-status", `${found.predictions.length} words`);
  } catch (err) { say("blank-status", err.message, true); }
}

// -- surprisal -----------------------------------------------------------------------------------

async function shade(e) {
  if (e) e.preventDefault();
  const texts = [$("heatmap-input").value, $("heatmap-other").value].filter((t) => t.trim());
  if (!texts.length) return;
  say("heatmap-status", "scoring…");
  try {
    const body = { sentences: texts, per_token: true, alternatives: 5 };
    const found = await (await api("/score", body)).json();
    paint($("heatmap"), $("heatmap-totals"), found.scores[0]);
    paint($("heatmap-b"), $("heatmap-b-totals"), found.scores[1]);
    const [a, b] = found.scores;
    say("heatmap-status", b ? `the ${a.logprob >= b.logprob ? "left" : "right"} text is ${
      Math.abs(a.bits - b.bits).toFixed(1)} bits more probable` : "");
  } catch (err) { say("heatmap-status", err.message, true); }
}

function paint(box, caption, score) {
  box.replaceChildren();
  caption.textContent = "";
  if (!score) return;
  score.per_token.forEach((t, i) => {
    if (i && state.kind === "word") box.append(document.createTextNode(" "));
    const span = document.createElement("span");
    const bits = -t.logprob / LN2;
    span.textContent = shown(t.token);
    span.dataset.bits = String(bits);
    span.dataset.token = t.token;
    span.tabIndex = 0;
    span.setAttribute("aria-label", `${t.token}: ${bits.toFixed(2)} bits`);
    const level = Math.min(bits / 12, 1);
    span.style.backgroundColor = `rgba(214, 60, 32, ${level.toFixed(3)})`;
    if (level > 0.6) span.style.color = "#fff";
    if (t.token === "<unk>") span.classList.add("unk");
    if (t.token === "<eos>") span.classList.add("eos");
    span.alternatives = t.alternatives || [];
    for (const on of ["mouseenter", "focus"]) span.addEventListener(on, () => tip(span));
    for (const off of ["mouseleave", "blur"]) span.addEventListener(off, () => { $("tooltip").hidden = true; });
    box.append(span);
  });
  caption.textContent = `${score.bits.toFixed(1)} bits, perplexity ${score.ppl.toFixed(2)}, ` +
    `${score.bpc.toFixed(3)} bits/char, ${score.tokens} tokens, ${score.oov} unknown`;
}

function tip(span) {
  const tooltip = $("tooltip");
  const lines = [`${JSON.stringify(span.dataset.token)}  ${Number(span.dataset.bits).toFixed(2)} bits`];
  for (const alt of span.alternatives) lines.push(`  ${JSON.stringify(alt.token).padEnd(14)} ${percent(Math.exp(alt.logprob))}`);
  tooltip.textContent = lines.join("\n");
  const r = span.getBoundingClientRect();
  tooltip.style.left = `${Math.max(4, Math.min(r.left + window.scrollX, document.documentElement.clientWidth - 240))}px`;
  tooltip.style.top = `${r.bottom + window.scrollY + 4}px`;
  tooltip.hidden = false;
}

// -- samples -------------------------------------------------------------------------------------

async function startSample(e) {
  e.preventDefault();
  if (state.sampling) state.sampling.abort();
  const ctl = (state.sampling = new AbortController());
  const out = $("sample-output");
  const prime = $("sample-prime").value;
  out.replaceChildren(document.createTextNode(prime));
  const body = { prime, length: Number($("sample-length").value), temperature: Number($("sample-temp").value) };
  const topP = Number($("sample-top-p").value);
  if (topP > 0 && topP < 1) body.top_p = topP;
  if ($("sample-seed").value !== "") body.seed = Number($("sample-seed").value);
  $("sample-stop").disabled = false;
  out.dataset.state = "running";
  say("sample-status", "sampling…");
  try {
    const reader = (await api("/sample", body, ctl.signal)).body.getReader();
    const decoder = new TextDecoder();
    let pending = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      pending += decoder.decode(value, { stream: true });
      const lines = pending.split("\n");
      pending = lines.pop();
      for (const line of lines.filter(Boolean)) {
        const event = JSON.parse(line);
        if (event.error) throw new Error(event.error);
        if (event.text !== undefined) out.append(document.createTextNode(event.text));
        if (event.done) say("sample-status", `done: ${event.samples[0].tokens} tokens, perplexity ${Number(event.samples[0].ppl).toFixed(2)}`);
      }
    }
    out.dataset.state = "done";
  } catch (err) {
    out.dataset.state = err.name === "AbortError" ? "stopped" : "error";
    say("sample-status", err.name === "AbortError" ? "stopped" : err.message, err.name !== "AbortError");
  } finally {
    if (state.sampling === ctl) $("sample-stop").disabled = true;
  }
}

function stopSample() {
  if (state.sampling) state.sampling.abort();
}

// -- the model -----------------------------------------------------------------------------------

function describe(info) {
  const model = info.model || {};
  const summary = info.summary || {};
  const data = info.data || {};
  const rows = [
    ["path", info.path],
    ["architecture", `${model.arch} ${model.layers} x ${model.hidden}, embed ${model.embed}`],
    ["parameters", Number(info.parameters).toLocaleString("en")],
    ["tokenizer", `${(info.tokenizer || {}).kind} (${model.vocab_size} tokens)`],
    ["training data", `${data.corpus ?? "?"} (${Number(data.chars || 0).toLocaleString("en")} chars)`],
    ["trained", `${summary.step ?? "?"} steps on ${summary.device ?? "?"}`],
    ["best validation loss", typeof summary.best_val_loss === "number"
      ? `${summary.best_val_loss.toFixed(4)} nats/token at step ${summary.best_step}` : "?"],
  ];
  $("model-info").replaceChildren(...rows.flatMap(([k, v]) => {
    const dt = document.createElement("dt");
    dt.textContent = k;
    const dd = document.createElement("dd");
    dd.textContent = String(v);
    return [dt, dd];
  }));
}

function svg(name, attrs, text) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

function drawCurve(curve) {
  const box = $("curve");
  const points = [...curve.train, ...curve.val];
  if (!points.length) { box.replaceChildren(svg("text", { x: 20, y: 130 }, "no metrics.jsonl in this model directory")); return; }
  const [W, H, L, B] = [600, 260, 50, 30];
  const steps = points.map((p) => p[0]), losses = points.map((p) => p[1]);
  const [x0, x1] = [Math.min(...steps), Math.max(...steps) || 1];
  const [y0, y1] = [Math.min(...losses), Math.max(...losses)];
  const x = (s) => L + ((s - x0) / (x1 - x0 || 1)) * (W - L - 10);
  const y = (v) => 10 + (1 - (v - y0) / (y1 - y0 || 1)) * (H - B - 10);
  const line = (pts, cls) => svg("polyline", { class: cls, points: pts.map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(" ") });
  box.replaceChildren(
    svg("line", { class: "axis", x1: L, y1: H - B, x2: W - 10, y2: H - B }),
    svg("line", { class: "axis", x1: L, y1: 10, x2: L, y2: H - B }),
    svg("text", { x: 4, y: 16 }, y1.toFixed(2)), svg("text", { x: 4, y: H - B }, y0.toFixed(2)),
    svg("text", { x: L, y: H - 8 }, `step ${x0}`), svg("text", { x: W - 90, y: H - 8 }, `step ${x1}`),
    line(curve.train, "train"), line(curve.val, "val"));
}

async function loadModel() {
  try {
    const info = await (await api("/info")).json();
    state.kind = ((info.model || {}).tokenizer || {}).kind || "char";
    state.limits = info.limits || {};
    $("model-line").textContent = `${state.kind} model ${info.model.path}`;
    $("sample-length").max = String(state.limits.max_sample_length || 2000);
    describe(info.model);
    drawCurve(await (await api("/metrics?points=200")).json());
  } catch (err) { say("model-line", `could not read the model: ${err.message}`, true); }
}

document.addEventListener("DOMContentLoaded", () => {
  $("prefix").addEventListener("input", predict);
  $("prefix").addEventListener("keydown", onPrefixKey);
  $("blank-form").addEventListener("submit", fillBlank);
  $("heatmap-form").addEventListener("submit", shade);
  $("heatmap-form").addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) shade(e); });
  $("sample-form").addEventListener("submit", startSample);
  $("sample-stop").addEventListener("click", stopSample);
  loadModel().then(() => { document.body.dataset.ready = "true"; });
});
